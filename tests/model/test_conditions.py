"""One table of patterns and events, four readers, the same answers.

The meaning of trigger filters and job ``when`` filters is written once (``model.conditions``
over ``model.patterns``). This test feeds one table of patterns, filter shapes and events
through every place that must agree with it:

* the local runner: ``build_plan`` on a ``SimulatedEvent`` (the job excluded or not, the
  pipeline triggered or not);
* the GitLab importer's exactness check (``gitlab_rules``), which decides whether native
  ``rules`` fold into a neutral condition, on the same event as GitLab CI facts;
* the GitLab generator's output: the job's ``rules:if`` and the ``workflow:rules`` evaluated
  on those CI facts;
* the GitHub generator's output: the job's ``if:`` evaluated on the event's ``github``
  context, where the generator reports no ``when-glob`` loss (expressions have no glob match;
  such a pattern must be reported instead), and the ``on:`` filters, which GitHub reads
  itself, written verbatim.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import pytest
import yaml

from codomyrmex.ci_cd_automation.local_runner.event import SimulatedEvent
from codomyrmex.ci_cd_automation.local_runner.plan import build_plan
from codomyrmex.ci_cd_automation.model.loader import pipeline_from_data
from codomyrmex.ci_cd_automation.model.patterns import (
    escape_glob,
    example,
    glob_matches,
    glob_regex,
    literal_prefix,
    ref_matches,
    regex_glob,
)
from codomyrmex.ci_cd_automation.model.pipeline import When
from codomyrmex.ci_cd_automation.translators import render
from codomyrmex.ci_cd_automation.translators.gitlab_rules import (
    _triggers_hold,
    _triggers_model,
    _when_holds,
)
from testing.roundtrip import github_expression, gitlab_expression

SHA = "0123456789abcdef0123456789abcdef01234567"

PATTERNS = [
    "main",
    "feature/*",
    "feature/**",
    "releases/**/v?",
    "v*",
    "v1.*",
    "v?",
    "**",
    "*",
    "**/docs",
    r"v\*",
    "release-[1]",
]


@dataclass(frozen=True)
class Start:
    """One event of the table, with its GitLab CI facts and GitHub context."""

    label: str
    event: SimulatedEvent

    @property
    def gitlab(self) -> dict[str, str]:
        e = self.event
        if e.event == "pull_request":
            assert e.branch is not None and e.base is not None
            return {
                "CI_PIPELINE_SOURCE": "merge_request_event",
                "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME": e.branch,
                "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": e.base,
                "CI_MERGE_REQUEST_IID": "1",
                "CI_COMMIT_REF_NAME": e.branch,
            }
        source = {"push": "push", "schedule": "schedule", "manual": "web"}[e.event]
        if e.tag is not None:
            return {
                "CI_PIPELINE_SOURCE": source,
                "CI_COMMIT_TAG": e.tag,
                "CI_COMMIT_REF_NAME": e.tag,
            }
        assert e.branch is not None
        return {
            "CI_PIPELINE_SOURCE": source,
            "CI_COMMIT_BRANCH": e.branch,
            "CI_COMMIT_REF_NAME": e.branch,
        }

    @property
    def github(self) -> dict[str, Any]:
        e = self.event
        name = {"manual": "workflow_dispatch"}.get(e.event, e.event)
        pull = e.event == "pull_request"
        return {
            "event_name": name,
            "ref": e.ref,
            "ref_name": e.ref_name,
            "head_ref": e.branch if pull else "",
            "base_ref": e.base if pull else "",
        }


def _push(branch: str) -> Start:
    return Start(f"push:{branch}", SimulatedEvent("push", branch, None, None, SHA, ()))


def _tag(tag: str) -> Start:
    return Start(f"tag:{tag}", SimulatedEvent("push", None, tag, None, SHA, ()))


STARTS = [
    *(
        _push(b)
        for b in (
            "main",
            "feature/a",
            "feature/a/b",
            "releases/x/v1",
            "releases/v2",
            "v1.0",
            "docs",
        )
    ),
    *(_tag(t) for t in ("v1", "v1.2", "v10", "main", "v1/x")),
    Start("pr:feature/a->main", SimulatedEvent("pull_request", "feature/a", None, "main", SHA, ())),
    Start("pr:main->v1.0", SimulatedEvent("pull_request", "main", None, "v1.0", SHA, ())),
    Start("schedule:main", SimulatedEvent("schedule", "main", None, None, SHA, ())),
    Start("manual:feature/a", SimulatedEvent("manual", "feature/a", None, None, SHA, ())),
]

WHENS = [
    *({"branches": [p]} for p in PATTERNS),
    *({"tags": [p]} for p in PATTERNS),
    *({"branches": [p], "events": ["push"]} for p in PATTERNS[:4]),
    {"branches": ["main"], "tags": ["v*"]},
    {"events": ["pull_request", "manual"]},
]

TRIGGERS = [
    *({"push": {"branches": [p]}} for p in PATTERNS),
    *({"push": {"tags": [p]}} for p in PATTERNS),
    *({"pull_request": {"branches": [p]}} for p in PATTERNS),
    {"push": {"branches": ["main"], "tags": ["v*"]}, "manual": {}},
]


def _pipeline(when: dict[str, Any] | None, triggers: dict[str, Any]) -> Any:
    job: dict[str, Any] = {"name": "job", "steps": [{"run": "true"}]}
    if when is not None:
        job["when"] = when
    return pipeline_from_data(
        {"name": "p", "config": {"triggers": triggers}, "stages": [{"name": "s", "jobs": [job]}]}
    )


def _gitlab_rules_outcome(rules: list[dict[str, Any]], env: dict[str, str]) -> bool:
    """GitLab's rules: the first rule whose ``if`` holds decides; none leaves it out."""
    for rule in rules:
        if "if" in rule and not gitlab_expression(rule["if"], env):
            continue
        return rule.get("when", "on_success") != "never"
    return False


@pytest.mark.parametrize(
    "when", WHENS, ids=lambda w: yaml.safe_dump(w, default_flow_style=True).strip()
)
def test_job_conditions_agree_everywhere(when: dict[str, Any]) -> None:
    pipeline = _pipeline(
        when, {"push": {}, "pull_request": {}, "schedule": ["0 1 * * *"], "manual": {}}
    )
    model = When.model_validate(when)
    rendering = render(pipeline)
    gitlab_job = yaml.safe_load(rendering.files[".gitlab-ci.yml"])["job"]
    github_job = yaml.safe_load(rendering.files[".github/workflows/p.yml"])["jobs"]["job"]
    inexact_on_github = any(loss.rule == "when-glob" for loss in rendering.losses)
    for start in STARTS:
        runner = build_plan(pipeline, start.event).instances[0].excluded is None
        importer = _when_holds(model, start.gitlab, [])
        gitlab = _gitlab_rules_outcome(gitlab_job.get("rules", [{}]), start.gitlab)
        assert (start.label, importer, gitlab) == (start.label, runner, runner)
        if not inexact_on_github:
            ctx = {"github": start.github, "needs": {}, "runner": {"os": "Linux"}}
            github = bool(github_expression(github_job.get("if", "true"), ctx, "success"))
            assert (start.label, github) == (start.label, runner)


def test_inexact_github_patterns_are_exactly_the_reported_ones() -> None:
    """Where the GitHub generator reports no loss, it agrees on every start of the table; the
    patterns it reports are the ones its prefix test cannot match exactly."""
    reported = set()
    for pattern in PATTERNS:
        rendering = render(_pipeline({"branches": [pattern]}, {"push": {}}), "github")
        if any(loss.rule == "when-glob" for loss in rendering.losses):
            reported.add(pattern)
    assert reported == {p for p in PATTERNS if literal_prefix(p)[1] not in ("", "**")}


@pytest.mark.parametrize(
    "triggers", TRIGGERS, ids=lambda t: yaml.safe_dump(t, default_flow_style=True).strip()
)
def test_triggers_agree_everywhere(triggers: dict[str, Any]) -> None:
    pipeline = _pipeline(None, triggers)
    config = _triggers_model(triggers)
    rendering = render(pipeline)
    workflow = yaml.safe_load(rendering.files[".gitlab-ci.yml"])["workflow"]["rules"]
    workflow_doc = yaml.safe_load(rendering.files[".github/workflows/p.yml"])
    on = workflow_doc[True]  # PyYAML reads the key `on` as YAML 1.1's true
    for start in STARTS:
        runner = build_plan(pipeline, start.event).not_triggered is None
        importer = _triggers_hold(config, start.gitlab)
        gitlab = _gitlab_rules_outcome(workflow, start.gitlab)
        assert (start.label, importer, gitlab) == (start.label, runner, runner)
    # GitHub applies its own filter patterns to the text, which is written as it is.
    for event, spec in triggers.items():
        native = {"manual": "workflow_dispatch"}.get(event, event)
        assert on[native] == (spec or {})


# --- the pattern language itself ------------------------------------------------------------

NAMES = ["main", "feature/a", "feature/a/b", "v1", "v1.2", "v*", "a/docs", "docs", "", "x/y/z"]


@pytest.mark.parametrize("pattern", [*PATTERNS, "a/**/b", "**/", r"a\\b", "!x"])
def test_regex_and_back(pattern: str) -> None:
    """``glob_regex`` matches what the glob matches, ``regex_glob`` reads it back to a glob
    that matches the same names, and ``example`` gives a name the glob matches."""
    import re

    regex = re.compile(glob_regex(pattern), re.DOTALL)
    back = regex_glob(glob_regex(pattern).replace("/", r"\/"))
    for name in [*NAMES, example(pattern)]:
        expected = glob_matches(pattern, name)
        assert (name, bool(regex.fullmatch(name))) == (name, expected)
        if back is not None:
            assert (name, glob_matches(back, name)) == (name, expected)
    assert glob_matches(pattern, example(pattern))


@pytest.mark.parametrize("text", ["main", "a*b", "v?", "x\\y", "!neg", "**", "[x]"])
def test_escape_glob_matches_only_the_text(text: str) -> None:
    pattern = escape_glob(text)
    assert ref_matches([pattern], text)
    for other in ("mainx", "axb", "v1", "xy", "neg", "a/b", "x"):
        if other != text:
            assert not ref_matches([pattern], other)


def test_backslash_quotes_in_every_reader() -> None:
    """``\\*`` is a literal star for the runner, the GitLab regex and the GitHub test alike
    (GitHub's filter patterns: special characters are escaped with ``\\``)."""
    for pattern, name in itertools.product([r"v\*", r"a\?b"], ["v*", "vx", "a?b", "axb"]):
        expected = name in ("v*", "a?b") and name == pattern.replace("\\", "")
        assert glob_matches(pattern, name) is expected
    rendering = render(_pipeline({"tags": [r"v\*"]}, {"push": {}}))
    gitlab = yaml.safe_load(rendering.files[".gitlab-ci.yml"])["job"]["rules"][0]["if"]
    github = yaml.safe_load(rendering.files[".github/workflows/p.yml"])["jobs"]["job"]["if"]
    assert '$CI_COMMIT_TAG == "v*"' in gitlab
    assert "github.ref == 'refs/tags/v*'" in github
