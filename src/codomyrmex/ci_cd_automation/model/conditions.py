"""Whether a pipeline's triggers start it for an event, and whether a job's ``when`` admits it.

The one meaning of triggers and ``when`` (but ``status``: the scheduler's), for the runner, the
GitLab importer's exactness check and the generators' tests. An answer is ``None`` for "yes",
else one line saying why not. See docs/patterns-and-conditions.md.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

from .patterns import ref_matches
from .pipeline import Event, PipelineConfig, When

__all__ = [
    "Occasion",
    "has_native_triggers",
    "trigger_holds",
    "trigger_reason",
    "when_holds",
    "when_reason",
]


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
    failure = _trigger_failure(config, occasion)
    return None if failure is None else failure()


def trigger_holds(config: PipelineConfig, occasion: Occasion) -> bool:
    """Whether ``config.triggers`` start a run for ``occasion`` (``trigger_reason`` is None)."""
    return _trigger_failure(config, occasion) is None


def when_reason(when: When | None, occasion: Occasion, values: Mapping[str, str]) -> str | None:
    """``None`` when ``when``'s filters admit ``occasion``, else why not (one line).

    ``values`` holds the pipeline variables (after overrides) and manual inputs, as text; a
    name without a value never matches (GitLab: ``$X == "v"`` is false for an unset variable).
    """
    failure = _when_failure(when, occasion, values)
    return None if failure is None else failure()


def when_holds(when: When | None, occasion: Occasion, values: Mapping[str, str]) -> bool:
    """Whether ``when``'s filters admit ``occasion`` (``when_reason`` is None)."""
    return _when_failure(when, occasion, values) is None


# The checks return None ("holds") or a function that words why not: callers that only ask
# whether a condition holds (the importer's exactness check, thousands of times) pay nothing
# for the words.
Why = Callable[[], str]


def _trigger_failure(config: PipelineConfig, occasion: Occasion) -> Why | None:
    triggers = config.triggers
    if not triggers.any():
        # Triggers only in a provider's own terms cannot be read here: let the run go.
        return None if has_native_triggers(config) else (lambda: "the pipeline has no trigger")
    what = occasion.describe
    if occasion.event == "push":
        push = triggers.push
        if push is None:
            return lambda: f"{what()}: the pipeline has no push trigger (triggers.push)"
        tag = occasion.tag
        if tag is not None:
            if push.tags is None:
                if push.branches is not None:
                    return lambda: f"{what()}: triggers.push filters branches only"
                return None  # no ref filter: every tag; path filters are not read for tags
            tags = push.tags
            if not ref_matches(tags, tag):
                return lambda: f"{what()} does not match triggers.push.tags {_quoted(tags)}"
            return None
        if push.branches is None and push.tags is not None:
            return lambda: f"{what()}: triggers.push filters tags only"
        branches = push.branches
        if branches is not None and not ref_matches(branches, occasion.branch or ""):
            return lambda: f"{what()} does not match triggers.push.branches {_quoted(branches)}"
        return _trigger_paths(what, "triggers.push.paths", push.paths, occasion)
    if occasion.event == "pull_request":
        pull = triggers.pull_request
        if pull is None:
            return lambda: (
                f"{what()}: the pipeline has no pull_request trigger (triggers.pull_request)"
            )
        base, targets = occasion.base or "", pull.branches
        if targets is not None and not ref_matches(targets, base):
            return lambda: (
                f'{what()}: target "{base}" does not match '
                f"triggers.pull_request.branches {_quoted(targets)}"
            )
        return _trigger_paths(what, "triggers.pull_request.paths", pull.paths, occasion)
    if occasion.event == "schedule":
        if not triggers.schedule:
            return lambda: f"{what()}: the pipeline has no schedule (triggers.schedule)"
        return None
    if occasion.event == "manual":
        if triggers.manual is None:
            return lambda: f"{what()}: the pipeline has no manual trigger (triggers.manual)"
        return None
    return lambda: f"{what()}: no neutral trigger starts it"


def _trigger_paths(
    what: Why, where: str, patterns: Sequence[str] | None, occasion: Occasion
) -> Why | None:
    if patterns is None or occasion.changes(patterns):
        return None
    if occasion.nothing_changed:
        return lambda: f"{what()} changes no file, so {where} {_quoted(patterns)} does not match"
    return lambda: f"{what()} changes no file matching {where} {_quoted(patterns)}"


def _when_failure(when: When | None, occasion: Occasion, values: Mapping[str, str]) -> Why | None:
    if when is None:
        return None
    if when.events is not None and occasion.event not in when.events:
        events = when.events
        return lambda: f'when.events {_quoted(events)} does not include "{occasion.event}"'
    if when.branches is not None or when.tags is not None:
        if occasion.tag is not None:
            subject = f'tag "{occasion.tag}"'
            admitted = ref_matches(when.tags or (), occasion.tag)
        else:
            subject = f'branch "{occasion.branch}"'
            admitted = ref_matches(when.branches or (), occasion.branch or "")
        if not admitted:
            return lambda: _refs_refused(when, subject)
    filtered = occasion.tag is None and occasion.event in ("push", "pull_request")
    if when.paths is not None and filtered and not occasion.changes(when.paths):
        paths = when.paths
        return lambda: f"when.paths: no changed file matches {_quoted(paths)}"
    for name, expected in when.variables.items():
        actual = values.get(name)
        if actual is None:
            return lambda: f'when.variables {name} is not set, expected "{expected}"'
        if actual != expected:
            return lambda: f'when.variables {name} is "{actual}", expected "{expected}"'
    return None


def _refs_refused(when: When, subject: str) -> str:
    filters = [
        f"when.{key} {_quoted(value)}"
        for key, value in (("branches", when.branches), ("tags", when.tags))
        if value is not None
    ]
    verb = "does" if len(filters) == 1 else "do"
    return f"{' and '.join(filters)} {verb} not match {subject}"
