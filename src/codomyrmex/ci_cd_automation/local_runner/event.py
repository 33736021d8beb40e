"""The simulated event of a local run: what the run pretends to answer.

``SimulatedEvent`` is consistent by construction (branch, tag and base as the event allows,
names as git allows); ``simulate`` builds it from the flags and git. What triggers and ``when``
make of it is ``model.conditions``'s. See docs/patterns-and-conditions.md.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import get_args

from ..errors import UsageError
from ..model.patterns import path_matches
from ..model.pipeline import Event
from .git import git_output

__all__ = [
    "EVENTS",
    "GIT_TIMEOUT",
    "NULL_SHA",
    "PULL_REQUEST_REF",
    "Event",
    "SimulatedEvent",
    "simulate",
]

EVENTS: tuple[Event, ...] = get_args(Event)
"""The neutral events, in the order messages list them."""

NULL_SHA = "0" * 40
"""The commit of a run outside git (or in a repository without commits)."""

PULL_REQUEST_REF = "refs/pull/1/merge"
"""``ref`` of a simulated pull request: GitHub's merge ref of pull request number 1."""

GIT_TIMEOUT = 5.0
"""Seconds one git command may take before the project counts as "not a repository"."""

_SHA = re.compile(r"[0-9a-f]{40}")


# --- the event ------------------------------------------------------------------------


@dataclass(frozen=True)
class SimulatedEvent:
    """The event a local run pretends to answer (the rules are in docs/patterns-and-conditions.md).

    Attributes:
        event: the neutral event.
        branch: push: the pushed branch (``None`` for a tag push); pull_request: the source
            branch; schedule and manual: the branch the run is on.
        tag: the pushed tag, for a tag push only.
        base: pull_request: the target branch; ``None`` otherwise.
        sha: the commit, 40 hex digits (``NULL_SHA`` outside git).
        changed: changed files (repository-relative POSIX paths); ``None`` when unknown,
            and path filters then hold.
    """

    event: Event
    branch: str | None
    tag: str | None
    base: str | None
    sha: str
    changed: tuple[str, ...] | None

    def __post_init__(self) -> None:
        _check_shape(self.event, self.branch, self.tag, self.base)
        if self.event == "push" and self.branch is None and self.tag is None:
            raise UsageError("a push needs a branch or a tag")
        if self.event != "push" and self.branch is None:
            raise UsageError(f'event "{self.event}" needs a branch')
        if self.event == "pull_request" and self.base is None:
            raise UsageError('event "pull_request" needs a base branch')
        if not _SHA.fullmatch(self.sha):
            raise UsageError(f'invalid commit "{self.sha}": expected 40 lowercase hex digits')

    @property
    def ref(self) -> str:
        """The git ref, as GitHub's ``github.ref`` would read."""
        if self.tag is not None:
            return f"refs/tags/{self.tag}"
        if self.event == "pull_request":
            return PULL_REQUEST_REF
        return f"refs/heads/{self.branch}"

    @property
    def ref_name(self) -> str:
        """The tag of a tag push, else the branch (a pull request's source branch)."""
        name = self.tag if self.tag is not None else self.branch
        assert name is not None  # __post_init__: every event has a branch or a tag
        return name

    def describe(self) -> str:
        """The event in words: ``push to branch "main"``, ``push of tag "v1"``, ..."""
        if self.tag is not None:
            return f'push of tag "{self.tag}"'
        if self.event == "push":
            return f'push to branch "{self.branch}"'
        if self.event == "pull_request":
            return f'pull_request from "{self.branch}" into "{self.base}"'
        return f'{self.event} run on branch "{self.branch}"'

    @property
    def nothing_changed(self) -> bool:
        """True when the change set is known and empty."""
        return self.changed is not None and not self.changed

    def changes(self, patterns: Sequence[str]) -> bool:
        """Whether a changed file passes ``patterns`` (True when the changes are unknown)."""
        return self.changed is None or path_matches(patterns, self.changed)

    def facts(self, run_id: str) -> dict[str, str]:
        """The event's ``CICD_*`` environment variables of every job of run ``run_id``."""
        return {
            "CICD_SHA": self.sha,
            "CICD_REF": self.ref,
            "CICD_BRANCH": self.branch or "",
            "CICD_EVENT": self.event,
            "CICD_RUN_ID": run_id,
        }


def simulate(
    event: str = "push",
    *,
    branch: str | None = None,
    tag: str | None = None,
    base: str | None = None,
    project_dir: Path | None = None,
) -> SimulatedEvent:
    """The event of a local run, from the command line and the git state of ``project_dir``.

    Args:
        event: ``push``, ``pull_request``, ``schedule``, ``manual``, or ``tag`` (a push of
            ``tag``, which is then required). ``push`` with a ``tag`` is a tag push too.
        branch: the branch; default the current branch of ``project_dir`` (``main`` when
            HEAD is detached or there is no git). A tag push has none.
        tag: the pushed tag.
        base: a pull request's target branch; default ``main``.
        project_dir: where to read git from; default the current directory.

    Raises:
        UsageError: an unknown event, a combination that no event has (a tag with a pull
            request, a base with a push, a branch and a tag), an invalid name, or a
            ``project_dir`` that is not a folder. The message is one line.
    """
    kind = _event_kind(event)
    if event == "tag" and tag is None:
        raise UsageError('event "tag" needs a tag name')
    _check_shape(kind, branch, tag, base)
    where = Path.cwd() if project_dir is None else project_dir
    if not where.is_dir():
        raise UsageError(f'project folder "{where}" does not exist')
    git = _Git(where)
    sha = git.head() if git.is_work_tree() else None
    if tag is None and branch is None:
        branch = (git.current_branch() if git.is_work_tree() else None) or "main"
    if kind == "pull_request" and base is None:
        base = "main"
    changed = git.changed(sha, base if kind == "pull_request" else None)
    return SimulatedEvent(kind, branch, tag, base, sha or NULL_SHA, changed)


def _event_kind(event: str) -> Event:
    if event == "tag":
        return "push"
    for kind in EVENTS:
        if event == kind:
            return kind
    choices = (*EVENTS, "tag")
    close = difflib.get_close_matches(event, choices, n=1)
    hint = f'; did you mean "{close[0]}"?' if close else ""
    raise UsageError(
        f'unknown event "{event}": use push, pull_request, schedule, manual or tag{hint}'
    )


def _check_shape(event: str, branch: str | None, tag: str | None, base: str | None) -> None:
    """Which names an event can have, and that each name is a valid git ref name."""
    if event not in EVENTS:
        raise UsageError(f'unknown event "{event}": use {", ".join(EVENTS)}')
    for kind, name in (("branch", branch), ("tag", tag), ("base branch", base)):
        if name is not None:
            problem = _ref_name_problem(name)
            if problem:
                raise UsageError(f'invalid {kind} name "{name}": {problem}')
    if tag is not None and event != "push":
        raise UsageError(f'event "{event}" cannot have a tag: only a push (event push or tag) can')
    if tag is not None and branch is not None:
        raise UsageError(
            f'a push is of a branch or of a tag, not both (branch "{branch}", tag "{tag}")'
        )
    if base is not None and event != "pull_request":
        raise UsageError(f'event "{event}" has no base branch; only a pull_request has one')


def _ref_name_problem(name: str) -> str | None:
    """Why ``name`` is not a valid branch or tag name (``git check-ref-format``), or None."""
    if not name:
        return "it is empty"
    bad = next((c for c in name if ord(c) < 32 or ord(c) == 127 or c in " ~^:?*[\\"), None)
    if bad is not None:
        return f"{json.dumps(bad)} is not allowed"
    if name.startswith("-"):
        return 'it starts with "-"'
    if name == "@" or "@{" in name or ".." in name:
        return 'it contains "..", "@{" or is "@"'
    parts = name.split("/")
    if any(not part for part in parts):
        return 'it has an empty part between "/"'
    if any(part.startswith(".") or part.endswith(".lock") for part in parts):
        return 'a part starts with "." or ends with ".lock"'
    if name.endswith("."):
        return 'it ends with "."'
    return None


class _Git:
    """git of one folder, each answer ``None`` when git cannot give it."""

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd
        self._inside: bool | None = None

    def run(self, *args: str) -> str | None:
        return git_output(args, self.cwd, timeout=GIT_TIMEOUT)

    def is_work_tree(self) -> bool:
        if self._inside is None:
            self._inside = (self.run("rev-parse", "--is-inside-work-tree") or "").strip() == "true"
        return self._inside

    def head(self) -> str | None:
        out = (self.run("rev-parse", "--verify", "--quiet", "HEAD^{commit}") or "").strip()
        return out if _SHA.fullmatch(out) else None

    def current_branch(self) -> str | None:
        # symbolic-ref also names the branch of a repository without commits; it fails on a
        # detached HEAD.
        out = (self.run("symbolic-ref", "--quiet", "--short", "HEAD") or "").strip()
        return out if out and _ref_name_problem(out) is None else None

    def changed(self, sha: str | None, base: str | None) -> tuple[str, ...] | None:
        if not self.is_work_tree():
            return None
        files: list[str] = []
        if sha is not None:
            committed = self._since_base(sha, base) if base is not None else None
            if committed is None:
                committed = self.run(
                    "diff-tree",
                    "--no-commit-id",
                    "--name-only",
                    "-r",
                    "-z",
                    "--root",
                    "--diff-merges=first-parent",
                    sha,
                )
            if committed is None:
                return None
            files.extend(_nul_list(committed))
        status = self.run("status", "--porcelain", "-z", "--untracked-files=all")
        if status is None:
            return None
        files.extend(_status_paths(status))
        return tuple(dict.fromkeys(files))

    def _since_base(self, sha: str, base: str) -> str | None:
        """Files changed on this branch since it left ``base`` (GitHub's three-dot diff)."""
        # ``base`` is a checked ref name, so it cannot start with "-" and read as an option.
        merge_base = (self.run("merge-base", base, sha) or "").strip()
        if not _SHA.fullmatch(merge_base) or merge_base == sha:
            return None
        return self.run("diff-tree", "-r", "--name-only", "-z", merge_base, sha)


def _nul_list(text: str) -> list[str]:
    return [item for item in text.split("\0") if item]


def _status_paths(text: str) -> list[str]:
    """Paths in ``git status --porcelain -z`` output; a rename gives its new and old path."""
    items = text.split("\0")
    paths: list[str] = []
    i = 0
    while i < len(items):
        entry = items[i]
        i += 1
        if len(entry) < 4:
            continue
        code, path = entry[:2], entry[3:]
        paths.append(path)
        if "R" in code or "C" in code:
            if i < len(items) and items[i]:
                paths.append(items[i])
            i += 1
    return paths
