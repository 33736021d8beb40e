"""The simulated event: pattern lists, trigger and ``when`` evaluation on it, and ``simulate``
on git."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from codomyrmex.ci_cd_automation.local_runner.event import (
    NULL_SHA,
    PULL_REQUEST_REF,
    SimulatedEvent,
    simulate,
)
from codomyrmex.ci_cd_automation.model.conditions import trigger_reason, when_reason
from codomyrmex.ci_cd_automation.model.patterns import path_matches, ref_matches
from codomyrmex.ci_cd_automation.model.pipeline import Pipeline, When
from codomyrmex.ci_cd_automation.translators.gitlab import gitlab_regex

SHA = "1234567890abcdef1234567890abcdef12345678"


# --- helpers --------------------------------------------------------------------------


def push(branch: str = "main", changed: tuple[str, ...] | None = None) -> SimulatedEvent:
    return SimulatedEvent("push", branch, None, None, SHA, changed)


def tag_push(tag: str = "v1", changed: tuple[str, ...] | None = None) -> SimulatedEvent:
    return SimulatedEvent("push", None, tag, None, SHA, changed)


def pull(
    source: str = "feature", base: str = "main", changed: tuple[str, ...] | None = None
) -> SimulatedEvent:
    return SimulatedEvent("pull_request", source, None, base, SHA, changed)


def scheduled(branch: str = "main", changed: tuple[str, ...] | None = None) -> SimulatedEvent:
    return SimulatedEvent("schedule", branch, None, None, SHA, changed)


def manual(branch: str = "main", changed: tuple[str, ...] | None = None) -> SimulatedEvent:
    return SimulatedEvent("manual", branch, None, None, SHA, changed)


def pipeline(triggers: dict[str, Any] | None = None, **config: Any) -> Pipeline:
    if triggers is not None:
        config["triggers"] = triggers
    return Pipeline.model_validate(
        {
            "name": "p",
            "config": config,
            "stages": [{"name": "s", "jobs": [{"name": "j", "steps": [{"run": "true"}]}]}],
        }
    )


# --- pattern lists --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("patterns", "name", "expected"),
    [
        (["main"], "main", True),
        (["main"], "main2", False),
        (["main"], "mai", False),
        (["feature/*"], "feature/a", True),
        (["feature/*"], "feature/", True),
        (["feature/*"], "feature/a/b", False),
        (["feature/**"], "feature/a/b", True),
        (["feature/**"], "feature", False),
        (["*"], "main", True),
        (["*"], "a/b", False),
        (["**"], "a/b/c", True),
        (["**"], "", True),
        (["v?"], "v1", True),
        (["v?"], "v", False),
        (["v?"], "v10", False),
        (["a?b"], "a/b", False),
        (["v1.*"], "v1.9", True),
        (["v1.*"], "v1x9", False),
        (["v+"], "v+", True),
        (["v+"], "vv", False),
        (["[ab]"], "[ab]", True),
        (["[ab]"], "a", False),
        ([r"a\*b"], "a*b", True),
        ([r"a\*b"], "axb", False),
        (["**/x"], "x", True),
        (["**/x"], "a/b/x", True),
        (["**/x"], "ax", False),
        (["a/**/b"], "a/b", True),
        (["a/**/b"], "a/x/y/b", True),
        (["a/**/b"], "a/xb", False),
        (["releases/**-alpha"], "releases/beta/3-alpha", True),
        # Later patterns override earlier ones (GitHub's documented example and its reverse).
        (["releases/**", "!releases/**-alpha"], "releases/10", True),
        (["releases/**", "!releases/**-alpha"], "releases/beta/3-alpha", False),
        (["releases/**", "!releases/**-alpha", "releases/keep-alpha"], "releases/keep-alpha", True),
        (["!releases/**-alpha", "releases/**"], "releases/10-alpha", True),
        # A negation only removes what an earlier pattern matched.
        (["main", "!dev"], "dev", False),
        (["main", "!dev"], "main", True),
        # Negations only: everything else matches.
        (["!main"], "feature", True),
        (["!main"], "main", False),
        (["!main", "!dev/**"], "dev/x", False),
        (["!main", "!dev/**"], "develop", True),
        # "!" has no meaning but at the start.
        (["a!b"], "a!b", True),
        ([], "main", False),
    ],
)
def test_ref_matches(patterns: list[str], name: str, expected: bool) -> None:
    assert ref_matches(patterns, name) is expected


@pytest.mark.parametrize(
    ("patterns", "paths", "expected"),
    [
        (["src/**"], ["src/a.py"], True),
        (["src/**"], ["README.md", "src/pkg/a.py"], True),
        (["src/**"], ["README.md"], False),
        (["src/**"], [], False),
        (["**.js"], ["a/b/c.js"], True),
        (["*.js"], ["a/c.js"], False),
        (["**/README.md"], ["README.md"], True),
        (["**/README.md"], ["docs/README.md"], True),
        (["docs/*"], ["docs/a/b.md"], False),
        (["docs/*"], ["docs/b.md"], True),
        (["*.md"], [".hidden.md"], True),
        ([".github/**"], [".github/workflows/ci.yml"], True),
        # Each file goes through the whole list; one file left matched is enough.
        (["sub/**", "!sub/docs/**"], ["sub/docs/readme.md"], False),
        (["sub/**", "!sub/docs/**"], ["sub/docs/readme.md", "sub/src/index.js"], True),
        (["!docs/**"], ["docs/a.md"], False),
        (["!docs/**"], ["docs/a.md", "src/a.py"], True),
    ],
)
def test_path_matches(patterns: list[str], paths: list[str], expected: bool) -> None:
    assert path_matches(patterns, paths) is expected


def test_path_matches_takes_any_iterable() -> None:
    assert path_matches(["src/**"], (p for p in ["x", "src/y"]))


@pytest.mark.parametrize(
    "pattern",
    [
        "main",
        "feature/*",
        "feature/**",
        "v?",
        "v1.*",
        "releases/**-alpha",
        "*",
        "**",
        "a?b/*",
        "releases/**/3-alpha",
        "**/c",
        "a/**/b",
    ],
)
def test_gitlab_glob_regex_agrees_with_ref_matches(pattern: str) -> None:
    names = [
        "main",
        "main2",
        "feature",
        "feature/",
        "feature/a",
        "feature/a/b",
        "v1",
        "v10",
        "v",
        "v1.9",
        "v1x9",
        "releases/beta/3-alpha",
        "releases/3-alpha",
        "releases/3-beta",
        "a/b",
        "axb/c",
        "a/b/c",
        "",
    ]
    body = gitlab_regex(pattern)
    assert body.startswith("/^") and body.endswith("$/")
    regex = re.compile(body[2:-2].replace(r"\/", "/"))
    for name in names:
        assert bool(regex.fullmatch(name)) is ref_matches([pattern], name), (pattern, name)


# --- the event ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event", "ref", "ref_name", "branch_fact"),
    [
        (push("main"), "refs/heads/main", "main", "main"),
        (push("feature/x"), "refs/heads/feature/x", "feature/x", "feature/x"),
        (tag_push("v1.2"), "refs/tags/v1.2", "v1.2", ""),
        (pull("feature", "main"), PULL_REQUEST_REF, "feature", "feature"),
        (scheduled("dev"), "refs/heads/dev", "dev", "dev"),
        (manual("main"), "refs/heads/main", "main", "main"),
    ],
)
def test_ref_and_facts(event: SimulatedEvent, ref: str, ref_name: str, branch_fact: str) -> None:
    assert event.ref == ref
    assert event.ref_name == ref_name
    assert event.facts("42") == {
        "CICD_SHA": SHA,
        "CICD_REF": ref,
        "CICD_BRANCH": branch_fact,
        "CICD_EVENT": event.event,
        "CICD_RUN_ID": "42",
    }


def test_pull_request_ref_is_githubs_merge_ref() -> None:
    assert PULL_REQUEST_REF == "refs/pull/1/merge"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("push", None, None, None, SHA, None), "a push needs a branch or a tag"),
        (("schedule", None, None, None, SHA, None), 'event "schedule" needs a branch'),
        (("pull_request", "f", None, None, SHA, None), 'event "pull_request" needs a base branch'),
        (
            ("manual", "main", "v1", None, SHA, None),
            'event "manual" cannot have a tag: only a push (event push or tag) can',
        ),
        (
            ("push", "main", None, "main", SHA, None),
            'event "push" has no base branch; only a pull_request has one',
        ),
        (
            ("push", "main", None, None, "abc", None),
            'invalid commit "abc": expected 40 lowercase hex digits',
        ),
        (
            ("release", "main", None, None, SHA, None),
            'unknown event "release": use push, pull_request, schedule, manual',
        ),
    ],
)
def test_simulated_event_checks_its_shape(args: tuple[Any, ...], message: str) -> None:
    with pytest.raises(ValueError) as info:
        SimulatedEvent(*args)
    assert str(info.value) == message


# --- triggers -------------------------------------------------------------------------

DEFAULT: dict[str, Any] | None = None  # config.triggers left out: push, any ref


@pytest.mark.parametrize(
    ("triggers", "event", "expected"),
    [
        (DEFAULT, push("feature"), None),
        (DEFAULT, tag_push("v1"), None),
        (
            DEFAULT,
            pull(),
            'pull_request from "feature" into "main": the pipeline has no pull_request '
            "trigger (triggers.pull_request)",
        ),
        (
            DEFAULT,
            scheduled(),
            'schedule run on branch "main": the pipeline has no schedule (triggers.schedule)',
        ),
        (
            DEFAULT,
            manual(),
            'manual run on branch "main": the pipeline has no manual trigger (triggers.manual)',
        ),
        (
            {"manual": {}},
            push(),
            'push to branch "main": the pipeline has no push trigger (triggers.push)',
        ),
        ({"push": None}, push("any/branch"), None),
        ({"push": {"branches": ["main"]}}, push("main"), None),
        (
            {"push": {"branches": ["main"]}},
            push("feature"),
            'push to branch "feature" does not match triggers.push.branches ["main"]',
        ),
        (
            {"push": {"branches": ["main"]}},
            tag_push("v1"),
            'push of tag "v1": triggers.push filters branches only',
        ),
        ({"push": {"tags": ["v*"]}}, tag_push("v1"), None),
        (
            {"push": {"tags": ["v*"]}},
            tag_push("x1"),
            'push of tag "x1" does not match triggers.push.tags ["v*"]',
        ),
        (
            {"push": {"tags": ["v*"]}},
            push("main"),
            'push to branch "main": triggers.push filters tags only',
        ),
        ({"push": {"branches": ["main"], "tags": ["v*"]}}, push("main"), None),
        ({"push": {"branches": ["main"], "tags": ["v*"]}}, tag_push("v2"), None),
        (
            {"push": {"branches": ["releases/**", "!releases/**-alpha"]}},
            push("releases/2-alpha"),
            'push to branch "releases/2-alpha" does not match triggers.push.branches '
            '["releases/**", "!releases/**-alpha"]',
        ),
        ({"push": {"branches": ["!wip/**"]}}, push("main"), None),
        ({"push": {"paths": ["src/**"]}}, push(changed=("src/a.py",)), None),
        ({"push": {"paths": ["src/**"]}}, push(changed=None), None),
        (
            {"push": {"paths": ["src/**"]}},
            push(changed=("README.md",)),
            'push to branch "main" changes no file matching triggers.push.paths ["src/**"]',
        ),
        (
            {"push": {"paths": ["src/**"]}},
            push(changed=()),
            'push to branch "main" changes no file, so triggers.push.paths ["src/**"] '
            "does not match",
        ),
        # GitHub: "Path filters are not evaluated for pushes of tags".
        ({"push": {"paths": ["src/**"]}}, tag_push("v1", changed=("README.md",)), None),
        (
            {"push": {"tags": ["v*"], "paths": ["src/**"]}},
            tag_push("v1", changed=("README.md",)),
            None,
        ),
        (
            {"push": {"branches": ["main"], "paths": ["src/**"]}},
            push("dev", changed=("src/a.py",)),
            'push to branch "dev" does not match triggers.push.branches ["main"]',
        ),
        ({"pull_request": {}}, pull("x", "y"), None),
        ({"pull_request": {"branches": ["main"]}}, pull("feature", "main"), None),
        (
            {"pull_request": {"branches": ["main"]}},
            pull("main", "dev"),
            'pull_request from "main" into "dev": target "dev" does not match '
            'triggers.pull_request.branches ["main"]',
        ),
        ({"pull_request": {"paths": ["src/**"]}}, pull(changed=("src/x",)), None),
        (
            {"pull_request": {"paths": ["src/**"]}},
            pull(changed=("docs/x",)),
            'pull_request from "feature" into "main" changes no file matching '
            'triggers.pull_request.paths ["src/**"]',
        ),
        (
            {"pull_request": {}},
            push(),
            'push to branch "main": the pipeline has no push trigger (triggers.push)',
        ),
        ({"schedule": ["0 3 * * 1"]}, scheduled("any"), None),
        ({"manual": {"inputs": {"target": {"default": "a"}}}}, manual("dev"), None),
        ({}, push(), "the pipeline has no trigger"),
    ],
)
def test_trigger_reason(
    triggers: dict[str, Any] | None, event: SimulatedEvent, expected: str | None
) -> None:
    assert trigger_reason(pipeline(triggers).config, event) == expected


@pytest.mark.parametrize(
    ("config", "event", "expected"),
    [
        ({"github": {"on": {"workflow_call": {}}}}, push(), None),
        ({"github": {"on": {"workflow_call": {}}}}, scheduled(), None),
        ({"gitlab": {"workflow": {"rules": [{"if": "$X"}]}}}, pull(), None),
        # Without rules GitLab's generated workflow never runs: no trigger at all.
        ({"gitlab": {"workflow": {"name": "x"}}}, push(), "the pipeline has no trigger"),
    ],
)
def test_native_triggers_run_when_the_neutral_ones_are_empty(
    config: dict[str, Any], event: SimulatedEvent, expected: str | None
) -> None:
    assert trigger_reason(pipeline({}, **config).config, event) == expected


def test_native_triggers_next_to_neutral_ones_are_ignored() -> None:
    p = pipeline({"push": {}}, github={"on": {"schedule": [{"cron": "0 1 * * *"}]}})
    assert trigger_reason(p.config, scheduled()) == (
        'schedule run on branch "main": the pipeline has no schedule (triggers.schedule)'
    )


# --- when -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("when", "event", "values", "expected"),
    [
        (None, push(), {}, None),
        ({}, push(), {}, None),
        ({"status": "always"}, scheduled(), {}, None),
        ({"branches": ["main"]}, push("main"), {}, None),
        (
            {"branches": ["main"]},
            push("feature"),
            {},
            'when.branches ["main"] does not match branch "feature"',
        ),
        # A pull request is tested by its source branch, not its target.
        ({"branches": ["feature/*"]}, pull("feature/x", "main"), {}, None),
        (
            {"branches": ["main"]},
            pull("feature", "main"),
            {},
            'when.branches ["main"] does not match branch "feature"',
        ),
        ({"branches": ["main"]}, scheduled("main"), {}, None),
        ({"branches": ["main"]}, manual("main"), {}, None),
        (
            {"branches": ["main"]},
            tag_push("v1"),
            {},
            'when.branches ["main"] does not match tag "v1"',
        ),
        ({"tags": ["v*"]}, tag_push("v1"), {}, None),
        ({"tags": ["v*"]}, push("main"), {}, 'when.tags ["v*"] does not match branch "main"'),
        # branches and tags are alternatives.
        ({"branches": ["main"], "tags": ["v*"]}, push("main"), {}, None),
        ({"branches": ["main"], "tags": ["v*"]}, tag_push("v3"), {}, None),
        (
            {"branches": ["main"], "tags": ["v*"]},
            push("dev"),
            {},
            'when.branches ["main"] and when.tags ["v*"] do not match branch "dev"',
        ),
        (
            {"branches": ["main"], "tags": ["v*"]},
            tag_push("x"),
            {},
            'when.branches ["main"] and when.tags ["v*"] do not match tag "x"',
        ),
        ({"branches": ["**", "!wip/**"]}, push("feature/x"), {}, None),
        (
            {"branches": ["**", "!wip/**"]},
            push("wip/x"),
            {},
            'when.branches ["**", "!wip/**"] does not match branch "wip/x"',
        ),
        ({"branches": ["!main"]}, push("dev"), {}, None),
        (
            {"branches": ["!main"]},
            push("main"),
            {},
            'when.branches ["!main"] does not match branch "main"',
        ),
        ({"events": ["push"]}, push(), {}, None),
        ({"events": ["push"]}, tag_push(), {}, None),
        ({"events": ["manual", "schedule"]}, manual(), {}, None),
        (
            {"events": ["push"]},
            scheduled(),
            {},
            'when.events ["push"] does not include "schedule"',
        ),
        (
            {"events": ["push", "manual"]},
            pull(),
            {},
            'when.events ["push", "manual"] does not include "pull_request"',
        ),
        # Events are looked at first.
        (
            {"events": ["push"], "branches": ["main"]},
            scheduled("dev"),
            {},
            'when.events ["push"] does not include "schedule"',
        ),
        ({"paths": ["src/**"]}, push(changed=("src/a.py", "README.md")), {}, None),
        (
            {"paths": ["src/**"]},
            push(changed=("README.md",)),
            {},
            'when.paths: no changed file matches ["src/**"]',
        ),
        (
            {"paths": ["src/**"]},
            push(changed=()),
            {},
            'when.paths: no changed file matches ["src/**"]',
        ),
        ({"paths": ["src/**"]}, push(changed=None), {}, None),
        (
            {"paths": ["src/**"]},
            pull(changed=("docs/a.md",)),
            {},
            'when.paths: no changed file matches ["src/**"]',
        ),
        # Neither provider filters paths on tags, schedules or manual runs.
        ({"paths": ["src/**"]}, tag_push(changed=("README.md",)), {}, None),
        ({"paths": ["src/**"]}, scheduled(changed=("README.md",)), {}, None),
        ({"paths": ["src/**"]}, manual(changed=("README.md",)), {}, None),
        ({"variables": {"DEPLOY": "yes"}}, push(), {"DEPLOY": "yes"}, None),
        (
            {"variables": {"DEPLOY": "yes"}},
            push(),
            {"DEPLOY": "no"},
            'when.variables DEPLOY is "no", expected "yes"',
        ),
        (
            {"variables": {"DEPLOY": "yes"}},
            push(),
            {},
            'when.variables DEPLOY is not set, expected "yes"',
        ),
        # Compared as text: a boolean input reaches here as "true".
        ({"variables": {"DRY": "true"}}, manual(), {"DRY": "true"}, None),
        (
            {"variables": {"DRY": "true"}},
            manual(),
            {"DRY": "True"},
            'when.variables DRY is "True", expected "true"',
        ),
        (
            {"variables": {"A": "1", "B": "2"}},
            push(),
            {"A": "1", "B": "3"},
            'when.variables B is "3", expected "2"',
        ),
        # Every filter must hold.
        (
            {"branches": ["main"], "variables": {"DEPLOY": "yes"}},
            push("main"),
            {"DEPLOY": "no"},
            'when.variables DEPLOY is "no", expected "yes"',
        ),
        (
            {"events": ["push"], "branches": ["main"], "paths": ["src/**"]},
            push("main", changed=("src/x",)),
            {},
            None,
        ),
    ],
)
def test_when_reason(
    when: dict[str, Any] | None,
    event: SimulatedEvent,
    values: dict[str, str],
    expected: str | None,
) -> None:
    model = None if when is None else When.model_validate(when)
    assert when_reason(model, event, values) == expected


# --- simulate: bad input --------------------------------------------------------------


@pytest.mark.parametrize(
    ("event", "kwargs", "message"),
    [
        (
            "pul_request",
            {},
            'unknown event "pul_request": use push, pull_request, schedule, manual or tag; '
            'did you mean "pull_request"?',
        ),
        ("deploy", {}, 'unknown event "deploy": use push, pull_request, schedule, manual or tag'),
        ("tag", {}, 'event "tag" needs a tag name'),
        (
            "pull_request",
            {"tag": "v1"},
            'event "pull_request" cannot have a tag: only a push (event push or tag) can',
        ),
        (
            "schedule",
            {"tag": "v1"},
            'event "schedule" cannot have a tag: only a push (event push or tag) can',
        ),
        (
            "push",
            {"branch": "main", "tag": "v1"},
            'a push is of a branch or of a tag, not both (branch "main", tag "v1")',
        ),
        (
            "tag",
            {"branch": "main", "tag": "v1"},
            'a push is of a branch or of a tag, not both (branch "main", tag "v1")',
        ),
        (
            "push",
            {"base": "main"},
            'event "push" has no base branch; only a pull_request has one',
        ),
        ("push", {"branch": ""}, 'invalid branch name "": it is empty'),
        ("tag", {"tag": ""}, 'invalid tag name "": it is empty'),
        ("pull_request", {"base": ""}, 'invalid base branch name "": it is empty'),
        ("tag", {"tag": "v 1"}, 'invalid tag name "v 1": " " is not allowed'),
        ("push", {"branch": "a*"}, 'invalid branch name "a*": "*" is not allowed'),
        ("push", {"branch": "-x"}, 'invalid branch name "-x": it starts with "-"'),
        (
            "push",
            {"branch": "a..b"},
            'invalid branch name "a..b": it contains "..", "@{" or is "@"',
        ),
        (
            "push",
            {"branch": "feature/"},
            'invalid branch name "feature/": it has an empty part between "/"',
        ),
        (
            "push",
            {"branch": "x.lock"},
            'invalid branch name "x.lock": a part starts with "." or ends with ".lock"',
        ),
        ("push", {"branch": "x."}, 'invalid branch name "x.": it ends with "."'),
    ],
)
def test_simulate_rejects_bad_input(
    tmp_path: Path, event: str, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError) as info:
        simulate(event, project_dir=tmp_path, **kwargs)
    assert str(info.value) == message
    assert "\n" not in message


def test_simulate_rejects_a_missing_project_folder(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(ValueError, match=r'^project folder ".*nope" does not exist$'):
        simulate(project_dir=missing)


# --- simulate: git --------------------------------------------------------------------


@pytest.fixture(autouse=True)
def quiet_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Hermetic git: no user or system config, fixed identities, no look above tmp_path."""
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    for role in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{role}_NAME", "Test")
        monkeypatch.setenv(f"GIT_{role}_EMAIL", "test@example.com")
        monkeypatch.setenv(f"GIT_{role}_DATE", "2024-01-01T00:00:00Z")
    for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"):
        monkeypatch.delenv(name, raising=False)


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        [
            "git",
            "-c",
            "user.name=Test",
            "-c",
            "user.email=test@example.com",
            "-c",
            "commit.gpgsign=false",
            "-c",
            "tag.gpgsign=false",
            *args,
        ],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
        timeout=30,
    )
    return done.stdout


def write(root: Path, *files: str) -> None:
    for name in files:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"{name}\n", encoding="utf-8")


def commit(root: Path, message: str, *files: str) -> str:
    write(root, *files)
    git(root, "add", "--all")
    git(root, "commit", "--quiet", "--allow-empty", "-m", message)
    return git(root, "rev-parse", "HEAD").strip()


def new_repo(tmp_path: Path, branch: str = "main") -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "--quiet", "-b", branch)
    return root


def test_simulate_push_in_a_repository(tmp_path: Path) -> None:
    root = new_repo(tmp_path)
    commit(root, "one", "a.txt", "src/m.py")
    head = commit(root, "two", "b.txt")
    event = simulate(project_dir=root)
    assert event == SimulatedEvent("push", "main", None, None, head, ("b.txt",))
    assert event.ref == "refs/heads/main"


def test_simulate_root_commit_lists_every_file(tmp_path: Path) -> None:
    root = new_repo(tmp_path)
    commit(root, "one", "a.txt", "src/deep/m.py")
    event = simulate(project_dir=root)
    assert sorted(event.changed or ()) == ["a.txt", "src/deep/m.py"]


def test_simulate_adds_uncommitted_and_untracked_files(tmp_path: Path) -> None:
    root = new_repo(tmp_path)
    commit(root, "one", "a.txt", "b.txt", "c.txt", "old.txt")
    commit(root, "two", "b.txt.new")
    (root / "a.txt").write_text("changed\n", encoding="utf-8")  # modified, unstaged
    write(root, "staged.txt")
    git(root, "add", "staged.txt")
    git(root, "mv", "old.txt", "renamed.txt")
    (root / "c.txt").unlink()  # deleted
    write(root, "new dir/untracked file.txt", "ünï.txt")
    event = simulate(project_dir=root)
    assert event.changed is not None
    assert event.changed[0] == "b.txt.new"  # the last commit first
    assert sorted(event.changed) == sorted(
        [
            "b.txt.new",
            "a.txt",
            "staged.txt",
            "renamed.txt",
            "old.txt",
            "c.txt",
            "new dir/untracked file.txt",
            "ünï.txt",
        ]
    )
    assert len(set(event.changed)) == len(event.changed)


def test_simulate_paths_are_relative_to_the_repository_root(tmp_path: Path) -> None:
    root = new_repo(tmp_path)
    commit(root, "one", "sub/a.txt")
    write(root, "sub/inner/u.txt")
    event = simulate(project_dir=root / "sub")
    assert sorted(event.changed or ()) == ["sub/a.txt", "sub/inner/u.txt"]


def test_simulate_merge_commit_lists_its_first_parent_diff(tmp_path: Path) -> None:
    root = new_repo(tmp_path)
    commit(root, "one", "a.txt")
    git(root, "checkout", "--quiet", "-b", "side")
    commit(root, "side", "side.txt")
    git(root, "checkout", "--quiet", "main")
    commit(root, "main", "main.txt")
    git(root, "merge", "--quiet", "--no-edit", "side")
    assert simulate(project_dir=root).changed == ("side.txt",)


def test_simulate_current_branch_and_explicit_branch(tmp_path: Path) -> None:
    root = new_repo(tmp_path)
    commit(root, "one", "a.txt")
    git(root, "checkout", "--quiet", "-b", "feature/x")
    assert simulate(project_dir=root).branch == "feature/x"
    assert simulate(project_dir=root, branch="other").branch == "other"
    assert simulate("schedule", project_dir=root).branch == "feature/x"
    assert simulate("manual", project_dir=root).ref == "refs/heads/feature/x"


def test_simulate_detached_head_is_main(tmp_path: Path) -> None:
    root = new_repo(tmp_path, branch="trunk")
    first = commit(root, "one", "a.txt")
    commit(root, "two", "b.txt")
    git(root, "checkout", "--quiet", "--detach", first)
    event = simulate(project_dir=root)
    assert (event.branch, event.sha, event.changed) == ("main", first, ("a.txt",))


def test_simulate_tag_push(tmp_path: Path) -> None:
    root = new_repo(tmp_path)
    head = commit(root, "one", "a.txt")
    for event in (
        simulate("tag", tag="v1.0", project_dir=root),
        simulate("push", tag="v1.0", project_dir=root),
    ):
        assert (event.event, event.branch, event.tag, event.base) == ("push", None, "v1.0", None)
        assert event.ref == "refs/tags/v1.0"
        assert event.ref_name == "v1.0"
        assert event.facts("1")["CICD_BRANCH"] == ""
    assert simulate("tag", tag="v1.0", project_dir=root).sha == head


def test_simulate_pull_request_diffs_against_the_base(tmp_path: Path) -> None:
    root = new_repo(tmp_path)
    commit(root, "one", "a.txt")
    git(root, "checkout", "--quiet", "-b", "feature")
    commit(root, "f1", "f1.txt")
    head = commit(root, "f2", "f2.txt")
    git(root, "checkout", "--quiet", "main")
    commit(root, "moved on", "main-only.txt")
    git(root, "checkout", "--quiet", "feature")
    event = simulate("pull_request", project_dir=root)
    assert (event.branch, event.base, event.sha) == ("feature", "main", head)
    assert event.ref == PULL_REQUEST_REF
    assert sorted(event.changed or ()) == ["f1.txt", "f2.txt"]
    # A base git does not know: the last commit, as for a push.
    assert simulate("pull_request", base="gone", project_dir=root).changed == ("f2.txt",)


def test_simulate_pull_request_from_the_base_itself_uses_the_last_commit(tmp_path: Path) -> None:
    root = new_repo(tmp_path)
    commit(root, "one", "a.txt")
    commit(root, "two", "b.txt")
    event = simulate("pull_request", project_dir=root)
    assert (event.branch, event.base, event.changed) == ("main", "main", ("b.txt",))


def test_simulate_repository_without_commits(tmp_path: Path) -> None:
    root = new_repo(tmp_path, branch="trunk")
    write(root, "a.txt")
    event = simulate(project_dir=root)
    assert (event.sha, event.branch, event.changed) == (NULL_SHA, "trunk", ("a.txt",))


def test_simulate_outside_git(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    write(plain, "a.txt")
    event = simulate(project_dir=plain)
    assert event == SimulatedEvent("push", "main", None, None, NULL_SHA, None)
    pr = simulate("pull_request", project_dir=plain)
    assert (pr.branch, pr.base, pr.changed) == ("main", "main", None)


def test_simulate_without_a_git_binary_is_outside_git(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = new_repo(tmp_path)
    commit(root, "one", "a.txt")
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    event = simulate(project_dir=root)
    assert (event.sha, event.branch, event.changed) == (NULL_SHA, "main", None)


def test_simulate_ignores_an_inherited_git_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = new_repo(tmp_path)
    head = commit(root, "one", "a.txt")
    other = tmp_path / "other"
    other.mkdir()
    git(other, "init", "--quiet", "-b", "elsewhere")
    commit(other, "x", "x.txt")
    monkeypatch.setenv("GIT_DIR", str(other / ".git"))
    event = simulate(project_dir=root)
    assert (event.sha, event.branch) == (head, "main")


def test_simulated_event_drives_the_filters(tmp_path: Path) -> None:
    root = new_repo(tmp_path)
    commit(root, "one", "README.md")
    commit(root, "two", "docs/guide.md")
    event = simulate(project_dir=root)
    p = pipeline({"push": {"branches": ["main"], "paths": ["src/**"]}})
    assert trigger_reason(p.config, event) == (
        'push to branch "main" changes no file matching triggers.push.paths ["src/**"]'
    )
    write(root, "src/new.py")
    assert trigger_reason(p.config, simulate(project_dir=root)) is None
