"""Whether a pipeline's triggers start it for an event, and whether a job's ``when`` admits it.

The one meaning of triggers and ``when`` (but ``status``: the scheduler's), for the runner, the
GitLab importer's exactness check and the generators' tests. An answer is ``None`` for "yes",
else one line saying why not. See docs/patterns-and-conditions.md.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Protocol

from .patterns import ref_matches
from .pipeline import Event, PipelineConfig, When

__all__ = ["Occasion", "has_native_triggers", "trigger_reason", "when_reason"]


class Occasion(Protocol):
    """The facts of one pipeline start that conditions read.

    ``event`` is ``None`` for a start with no neutral event (a GitLab trigger pipeline).
    Exactly one of ``branch`` and ``tag`` is set: a pull request's branch is its source
    branch, ``base`` its target.
    """

    @property
    def event(self) -> Event | None: ...

    @property
    def branch(self) -> str | None: ...

    @property
    def tag(self) -> str | None: ...

    @property
    def base(self) -> str | None: ...

    @property
    def nothing_changed(self) -> bool:
        """True when the change set is known and empty."""
        ...

    def changes(self, patterns: Sequence[str]) -> bool:
        """Whether a changed file passes ``patterns`` (True when the changes are unknown)."""
        ...

    def describe(self) -> str:
        """The start in words, for messages: ``push to branch "main"``."""
        ...


def _quoted(patterns: Sequence[str]) -> str:
    return json.dumps(list(patterns))


def has_native_triggers(config: PipelineConfig) -> bool:
    """True when triggers are written in a provider's own terms (GitHub ``on:``, GitLab
    ``workflow: rules:``) in the escape hatches, where no neutral reading exists."""
    workflow = config.gitlab.get("workflow")
    return "on" in config.github or (isinstance(workflow, dict) and "rules" in workflow)


def trigger_reason(config: PipelineConfig, occasion: Occasion) -> str | None:
    """``None`` when ``config.triggers`` start a run for ``occasion``, else why not."""
    triggers = config.triggers
    if not triggers.any():
        # Triggers only in a provider's own terms cannot be read here: let the run go.
        return None if has_native_triggers(config) else "the pipeline has no trigger"
    what = occasion.describe()
    if occasion.event == "push":
        push = triggers.push
        if push is None:
            return f"{what}: the pipeline has no push trigger (triggers.push)"
        if occasion.tag is not None:
            if push.tags is None:
                if push.branches is not None:
                    return f"{what}: triggers.push filters branches only"
                return None  # no ref filter: every tag; path filters are not read for tags
            if not ref_matches(push.tags, occasion.tag):
                return f"{what} does not match triggers.push.tags {_quoted(push.tags)}"
            return None
        if push.branches is None and push.tags is not None:
            return f"{what}: triggers.push filters tags only"
        if push.branches is not None and not ref_matches(push.branches, occasion.branch or ""):
            return f"{what} does not match triggers.push.branches {_quoted(push.branches)}"
        return _trigger_paths(what, "triggers.push.paths", push.paths, occasion)
    if occasion.event == "pull_request":
        pull = triggers.pull_request
        if pull is None:
            return f"{what}: the pipeline has no pull_request trigger (triggers.pull_request)"
        base = occasion.base or ""
        if pull.branches is not None and not ref_matches(pull.branches, base):
            return (
                f'{what}: target "{base}" does not match '
                f"triggers.pull_request.branches {_quoted(pull.branches)}"
            )
        return _trigger_paths(what, "triggers.pull_request.paths", pull.paths, occasion)
    if occasion.event == "schedule":
        if not triggers.schedule:
            return f"{what}: the pipeline has no schedule (triggers.schedule)"
        return None
    if occasion.event == "manual":
        if triggers.manual is None:
            return f"{what}: the pipeline has no manual trigger (triggers.manual)"
        return None
    return f"{what}: no neutral trigger starts it"


def _trigger_paths(
    what: str, where: str, patterns: Sequence[str] | None, occasion: Occasion
) -> str | None:
    if patterns is None or occasion.changes(patterns):
        return None
    if occasion.nothing_changed:
        return f"{what} changes no file, so {where} {_quoted(patterns)} does not match"
    return f"{what} changes no file matching {where} {_quoted(patterns)}"


def when_reason(when: When | None, occasion: Occasion, values: Mapping[str, str]) -> str | None:
    """``None`` when ``when``'s filters admit ``occasion``, else why not (one line).

    ``values`` holds the pipeline variables (after overrides) and manual inputs, as text; a
    name without a value never matches (GitLab: ``$X == "v"`` is false for an unset variable).
    """
    if when is None:
        return None
    if when.events is not None and occasion.event not in when.events:
        return f'when.events {_quoted(when.events)} does not include "{occasion.event}"'
    if when.branches is not None or when.tags is not None:
        if occasion.tag is not None:
            subject = f'tag "{occasion.tag}"'
            admitted = ref_matches(when.tags or (), occasion.tag)
        else:
            subject = f'branch "{occasion.branch}"'
            admitted = ref_matches(when.branches or (), occasion.branch or "")
        if not admitted:
            filters = [
                f"when.{key} {_quoted(value)}"
                for key, value in (("branches", when.branches), ("tags", when.tags))
                if value is not None
            ]
            verb = "does" if len(filters) == 1 else "do"
            return f"{' and '.join(filters)} {verb} not match {subject}"
    filtered = occasion.tag is None and occasion.event in ("push", "pull_request")
    if when.paths is not None and filtered and not occasion.changes(when.paths):
        return f"when.paths: no changed file matches {_quoted(when.paths)}"
    for name, expected in when.variables.items():
        actual = values.get(name)
        if actual is None:
            return f'when.variables {name} is not set, expected "{expected}"'
        if actual != expected:
            return f'when.variables {name} is "{actual}", expected "{expected}"'
    return None
