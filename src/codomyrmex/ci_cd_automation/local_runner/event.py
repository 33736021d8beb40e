"""The simulated event of a local run, and the trigger and ``when`` filters tested against it.

This module owns three things: what event a local run pretends to be (``SimulatedEvent``,
built from the command line and the project's git state by ``simulate``), whether the
pipeline's ``config.triggers`` start a run for it (``trigger_reason``), and which jobs their
``when`` filters leave out (``job_skip_reason``). ``when.status`` is not here: the scheduler
applies it. Answers are ``None`` for "yes" or one line saying why not, so the runner can show
them in the plan and the summary as they are.

The event
  * ``event`` is neutral: ``push``, ``pull_request``, ``schedule`` or ``manual``; ``tag`` on
    the command line is a push of a tag. A push has exactly one of ``branch`` and ``tag``; the
    other events have a ``branch`` (a pull request's is its source branch) and no tag; only a
    pull request has a ``base`` (its target branch). ``SimulatedEvent`` checks this and the
    names (git's ref-name rules) on construction, so every instance is consistent.
  * ``ref`` follows GitHub: ``refs/heads/B``, ``refs/tags/T``, and ``refs/pull/1/merge`` for a
    pull request (GitHub's ``github.ref``; no real pull request exists, so its number is 1).
    ``CICD_BRANCH`` is empty for a tag push and the source branch for a pull request, as the
    generated workflow and the GitLab prelude set it.
  * ``changed`` is what the path filters see: the files of the last commit (its first-parent
    diff; every file of a root commit) plus uncommitted and untracked files; for a pull request
    whose base resolves locally, the files changed since the merge base with it (GitHub's
    three-dot diff) instead of the last commit's. ``None`` means unknown (no git) and path
    filters then hold.
  * git runs with a short timeout, no prompt, no optional locks, and without inherited
    ``GIT_DIR``-style variables, so ``project_dir`` alone decides the repository. Any failure
    (no git binary, not a work tree, timeout) reads as "not a repository", never as an error.

Patterns (``ref_matches``, ``path_matches``)
  The neutral glob language, GitHub's filter patterns: ``*`` is any run of characters but
  ``/``, ``**`` any run of characters, ``**/`` zero or more whole folders (GitHub documents
  ``**/README.md`` as matching ``README.md`` at the root), ``?`` exactly one character but
  ``/``, ``\\`` quotes the next character, anything else is literal. (GitHub's own cheat sheet
  reads ``?`` and ``+`` as quantifiers and ``[...]`` as a class; the neutral model keeps the
  smaller language that the GitLab generator's ``glob_regex`` also writes.) A leading ``!``
  negates: patterns are applied in order and a later match overrides an earlier one; a list of
  negations only starts from "matched", so it matches everything else (GitHub asks for a
  positive pattern in such a list and matches nothing without one). Paths are repository-
  relative POSIX paths; a path list holds when at least one changed file ends up matched.

Triggers (``trigger_reason``)
  Where GitHub and GitLab differ, GitHub's documented behaviour is kept, because the GitHub
  workflow gets the filters verbatim while the GitLab rules are a translation of them.
  * ``push`` with ``branches`` only does not run for tags, with ``tags`` only not for branches,
    with neither for both ("If you define only tags or only branches, the workflow won't run
    for events affecting the undefined Git ref").
  * Path filters are not evaluated for tag pushes (GitHub: "Path filters are not evaluated for
    pushes of tags"; GitLab's ``changes`` is true in tag pipelines), and a push that changes no
    file does not pass a path filter (GitHub: "If there are no files changed, the workflow will
    not run").
  * ``pull_request.branches`` filters the target branch (``base``), as ``on.pull_request``
    and ``$CI_MERGE_REQUEST_TARGET_BRANCH_NAME`` do.
  * A pipeline whose neutral triggers are all empty but which carries native ones (GitHub
    ``on:`` or GitLab ``workflow: rules:`` in an escape hatch, the test ``model.rules`` uses for
    ``no-triggers``) has triggers this module cannot read: it runs for every event. Hatch
    triggers next to neutral ones are ignored; the neutral ones decide.

``when`` filters (``job_skip_reason``), all of which must hold:
  * ``branches`` or ``tags`` (alternatives): the pushed branch, a pull request's source branch
    or the branch a schedule or manual run is on; the pushed tag. Both generators test the
    same (``github.ref``/``github.head_ref``; ``$CI_COMMIT_BRANCH``/
    ``$CI_MERGE_REQUEST_SOURCE_BRANCH_NAME``/``$CI_COMMIT_TAG``).
  * ``events``: the neutral event name.
  * ``paths``: only branch pushes and pull requests are filtered. GitHub has no job-level path
    filter at all, and GitLab's ``rules:changes`` is true for schedules, manual runs and tag
    pipelines, so on those events both providers run the job.
  * ``variables``: each value equals the pipeline variable or manual input of that name, as
    text; a name without a value never matches (GitLab: ``$X == "v"`` is false for an unset
    variable).
"""

from __future__ import annotations

import difflib
import functools
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import get_args

from ..errors import UsageError
from ..model.pipeline import Event, Pipeline, PipelineConfig, When
from .git import git_output

__all__ = [
    "EVENTS",
    "GIT_TIMEOUT",
    "NULL_SHA",
    "PULL_REQUEST_REF",
    "Event",
    "SimulatedEvent",
    "job_skip_reason",
    "path_matches",
    "ref_matches",
    "simulate",
    "trigger_reason",
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
    """The event a local run pretends to answer (see the module docstring for the rules).

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


# --- patterns -------------------------------------------------------------------------


@functools.lru_cache(maxsize=1024)
def _glob(pattern: str) -> re.Pattern[str]:
    out: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out), re.DOTALL)


def ref_matches(patterns: Sequence[str], name: str) -> bool:
    """Whether ``name`` passes a GitHub filter-pattern list (``!`` negates, later wins).

    An empty list matches nothing; a list of negations only matches every other name.
    """
    if not patterns:
        return False
    matched = all(p.startswith("!") for p in patterns)
    for pattern in patterns:
        if pattern.startswith("!"):
            if matched and _glob(pattern[1:]).fullmatch(name):
                matched = False
        elif not matched and _glob(pattern).fullmatch(name):
            matched = True
    return matched


def path_matches(patterns: Sequence[str], paths: Iterable[str]) -> bool:
    """Whether at least one of ``paths`` passes the pattern list (no path: no match)."""
    return any(ref_matches(patterns, path) for path in paths)


# --- triggers and when ----------------------------------------------------------------


def _quoted(patterns: Sequence[str]) -> str:
    return json.dumps(list(patterns))


def _has_native_triggers(config: PipelineConfig) -> bool:
    workflow = config.gitlab.get("workflow")
    return "on" in config.github or (isinstance(workflow, dict) and "rules" in workflow)


def trigger_reason(pipeline: Pipeline, event: SimulatedEvent) -> str | None:
    """``None`` when ``config.triggers`` start a run for ``event``, else why not (one line)."""
    triggers = pipeline.config.triggers
    if not triggers.any():
        # Triggers only in a provider's own terms cannot be read here: let the run go.
        return None if _has_native_triggers(pipeline.config) else "the pipeline has no trigger"
    what = event.describe()
    if event.event == "push":
        push = triggers.push
        if push is None:
            return f"{what}: the pipeline has no push trigger (triggers.push)"
        if event.tag is not None:
            if push.tags is None:
                if push.branches is not None:
                    return f"{what}: triggers.push filters branches only"
                return None  # no ref filter: every tag; path filters are not read for tags
            if not ref_matches(push.tags, event.tag):
                return f"{what} does not match triggers.push.tags {_quoted(push.tags)}"
            return None
        assert event.branch is not None
        if push.branches is None and push.tags is not None:
            return f"{what}: triggers.push filters tags only"
        if push.branches is not None and not ref_matches(push.branches, event.branch):
            return f"{what} does not match triggers.push.branches {_quoted(push.branches)}"
        return _trigger_paths(what, "triggers.push.paths", push.paths, event.changed)
    if event.event == "pull_request":
        pull = triggers.pull_request
        if pull is None:
            return f"{what}: the pipeline has no pull_request trigger (triggers.pull_request)"
        assert event.base is not None
        if pull.branches is not None and not ref_matches(pull.branches, event.base):
            return (
                f'{what}: target "{event.base}" does not match '
                f"triggers.pull_request.branches {_quoted(pull.branches)}"
            )
        return _trigger_paths(what, "triggers.pull_request.paths", pull.paths, event.changed)
    if event.event == "schedule":
        if not triggers.schedule:
            return f"{what}: the pipeline has no schedule (triggers.schedule)"
        return None
    if triggers.manual is None:
        return f"{what}: the pipeline has no manual trigger (triggers.manual)"
    return None


def _trigger_paths(
    what: str, where: str, patterns: Sequence[str] | None, changed: tuple[str, ...] | None
) -> str | None:
    if patterns is None or changed is None or path_matches(patterns, changed):
        return None
    if not changed:
        return f"{what} changes no file, so {where} {_quoted(patterns)} does not match"
    return f"{what} changes no file matching {where} {_quoted(patterns)}"


def job_skip_reason(
    when: When | None, event: SimulatedEvent, values: Mapping[str, str]
) -> str | None:
    """``None`` when ``when``'s filters admit ``event``, else why not (one line).

    ``values`` holds the pipeline variables (after overrides) and manual inputs, as text.
    ``when.status`` is not looked at: the scheduler applies it.
    """
    if when is None:
        return None
    if when.events is not None and event.event not in when.events:
        return f'when.events {_quoted(when.events)} does not include "{event.event}"'
    if when.branches is not None or when.tags is not None:
        if event.tag is not None:
            subject, admitted = f'tag "{event.tag}"', ref_matches(when.tags or (), event.tag)
        else:
            assert event.branch is not None
            subject = f'branch "{event.branch}"'
            admitted = ref_matches(when.branches or (), event.branch)
        if not admitted:
            filters = [
                f"when.{key} {_quoted(value)}"
                for key, value in (("branches", when.branches), ("tags", when.tags))
                if value is not None
            ]
            verb = "does" if len(filters) == 1 else "do"
            return f"{' and '.join(filters)} {verb} not match {subject}"
    filtered = event.tag is None and event.event in ("push", "pull_request")
    if (
        when.paths is not None
        and filtered
        and event.changed is not None
        and not path_matches(when.paths, event.changed)
    ):
        return f"when.paths: no changed file matches {_quoted(when.paths)}"
    for name, expected in when.variables.items():
        actual = values.get(name)
        if actual is None:
            return f'when.variables {name} is not set, expected "{expected}"'
        if actual != expected:
            return f'when.variables {name} is "{actual}", expected "{expected}"'
    return None
