"""The judges themselves: each passes a known-good sample and fails a known-bad one."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from testing import judges
from testing.judges import (
    GitlabJob,
    JudgeToolMissing,
    check_actionlint,
    check_github_schema,
    check_gitlab_ci_local_list,
    check_gitlab_schema,
    check_shellcheck,
    check_zizmor,
    run_act,
    run_gitlab_ci_local,
)

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "tests" / "judge_samples"
GH_GOOD = SAMPLES / "github_good" / "ci.yml"
GH_BAD = SAMPLES / "github_bad" / "ci.yml"  # unpinned action + script injection
GH_BAD_SCHEMA = SAMPLES / "github_bad_schema" / "ci.yml"
GH_BAD_SHELL = SAMPLES / "github_bad_shell" / "ci.yml"  # only shellcheck objects
GL_GOOD = SAMPLES / "gitlab_good"
GL_BAD_SCHEMA = SAMPLES / "gitlab_bad_schema"
GL_BAD_NEEDS = SAMPLES / "gitlab_bad_needs"  # schema-valid, undefined `needs`
SETUP_PYTHON = "actions/setup-python@a26af69be951a213d495a4c3e4e4022e16d87065"


def _snapshot(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


# --- schema ------------------------------------------------------------------


def test_github_schema_good() -> None:
    check_github_schema(GH_GOOD)
    check_github_schema(GH_BAD)  # bad for the linters, but schema-valid


def test_github_schema_bad() -> None:
    with pytest.raises(AssertionError, match=r"'runs-on' is a required property"):
        check_github_schema(GH_BAD_SCHEMA)


def test_gitlab_schema_good() -> None:
    check_gitlab_schema(GL_GOOD)
    check_gitlab_schema(GL_BAD_NEEDS / ".gitlab-ci.yml")


def test_gitlab_schema_bad() -> None:
    with pytest.raises(AssertionError, match=r"'sometimes' is not one of"):
        check_gitlab_schema(GL_BAD_SCHEMA)


# --- actionlint ----------------------------------------------------------------


def test_actionlint_good() -> None:
    check_actionlint(GH_GOOD)


def test_actionlint_bad_injection() -> None:
    with pytest.raises(AssertionError, match=r"potentially untrusted"):
        check_actionlint(GH_BAD)


def test_actionlint_runs_shellcheck() -> None:
    with pytest.raises(AssertionError, match=r"SC2086"):
        check_actionlint(GH_BAD_SHELL)


def test_actionlint_ignores_enclosing_repo_config(tmp_path: Path) -> None:
    # A .github/actionlint.yaml in the enclosing repo must not silence the judge.
    (tmp_path / ".git").mkdir()
    (tmp_path / ".github").mkdir()
    (tmp_path / ".github" / "actionlint.yaml").write_text(
        'paths:\n  "**/*.yml":\n    ignore: [".*"]\n'
    )
    target = tmp_path / "ci.yml"
    shutil.copy(GH_BAD_SHELL, target)
    with pytest.raises(AssertionError, match=r"SC2086"):
        check_actionlint(target)


# --- zizmor --------------------------------------------------------------------


def test_zizmor_good() -> None:
    check_zizmor(GH_GOOD)
    check_zizmor(SAMPLES / "github_good")  # a folder works too


def test_zizmor_bad() -> None:
    with pytest.raises(AssertionError) as info:
        check_zizmor(GH_BAD)
    text = str(info.value)
    assert "exit code 14" in text
    for audit in ("unpinned-uses", "template-injection", "artipacked", "excessive-permissions"):
        assert audit in text


def test_zizmor_ignore_comments_do_not_hide_findings(tmp_path: Path) -> None:
    target = tmp_path / "ci.yml"
    target.write_text(
        GH_BAD.read_text().replace(
            "actions/checkout@v4", "actions/checkout@v4 # zizmor: ignore[unpinned-uses]"
        )
    )
    with pytest.raises(AssertionError, match=r"unpinned-uses"):
        check_zizmor(target)


def test_zizmor_invalid_workflow_fails() -> None:
    with pytest.raises(AssertionError, match=r"zizmor reported an error"):
        check_zizmor(GH_BAD_SCHEMA)


# --- shellcheck ----------------------------------------------------------------


def test_shellcheck_good() -> None:
    check_shellcheck('set -euo pipefail\nname="world"\necho "hello ${name}"\n')
    check_shellcheck('echo "$HOME"\n', shell="sh")


def test_shellcheck_bad() -> None:
    with pytest.raises(AssertionError, match=r"SC2086"):
        check_shellcheck("files=$(ls)\nrm $files\n")


# --- gitlab-ci-local -------------------------------------------------------------


def test_gitlab_ci_local_list_good(tmp_path: Path) -> None:
    folder = tmp_path / "gitlab_good"
    shutil.copytree(GL_GOOD, folder)
    before = _snapshot(folder)
    jobs = check_gitlab_ci_local_list(folder)
    assert _snapshot(folder) == before  # nothing written into the caller's folder
    assert jobs == [
        GitlabJob("build", "build", "on_success", False, None),
        GitlabJob("test", "test", "on_success", False, ("build",)),
        GitlabJob("lint", "test", "on_success", True, None),
        GitlabJob("deploy", "test", "manual", False, None),
    ]


def test_gitlab_ci_local_list_bad() -> None:
    with pytest.raises(AssertionError, match=r"needs: \[compile\] for test could not be found"):
        check_gitlab_ci_local_list(GL_BAD_NEEDS)
    with pytest.raises(AssertionError, match=r"gitlab-ci-local rejected"):
        check_gitlab_ci_local_list(GL_BAD_SCHEMA)


def test_gitlab_ci_local_remote_include_stays_offline(tmp_path: Path) -> None:
    (tmp_path / ".gitlab-ci.yml").write_text(
        "include:\n  - remote: https://example.com/ci.yml\njob:\n  script: [echo hi]\n"
    )
    with pytest.raises(AssertionError, match=r"Remote include could not be fetched"):
        check_gitlab_ci_local_list(tmp_path)


def test_run_gitlab_ci_local_tiny() -> None:
    result = run_gitlab_ci_local(SAMPLES / "gitlab_tiny")
    assert result.outcomes == {"build": "success", "check": "failed"}, result.output
    assert result.allowed_failures == {"check"}
    assert result.returncode == 0, result.output  # the only failure is allowed
    assert "hello from build" in result.output


def test_run_gitlab_ci_local_failure_skips_dependents(tmp_path: Path) -> None:
    (tmp_path / ".gitlab-ci.yml").write_text(
        "stages: [build, test]\n"
        "build step:\n  stage: build\n  script:\n    - exit 1\n"
        "test:\n  stage: test\n  needs: ['build step']\n  script:\n    - echo never\n"
    )
    result = run_gitlab_ci_local(tmp_path)
    assert result.outcomes == {"build step": "failed", "test": "skipped"}, result.output
    assert result.allowed_failures == set()
    assert result.returncode == 1


def test_parse_gitlab_ci_local_report() -> None:
    report = (
        "\n"
        " PASS  build job\n"
        " WARN  build job  after_script\n"
        " WARN  lint       pre_script\n"
        "  > boom\n"
        " FAIL  test   \n"
        "  > exit 1\n"
    )
    outcomes, allowed = judges._parse_gcl_report(report, ["build job", "lint", "test"])
    assert outcomes == {"build job": "success", "lint": "failed", "test": "failed"}
    assert allowed == {"lint"}


# --- act -------------------------------------------------------------------------


def test_run_act_tiny() -> None:
    result = run_act(SAMPLES / "act_tiny")
    assert result.outcomes == {
        "build": "success",
        "check": "failed",
        "after": "skipped",
        "pr-only": "skipped",
    }, result.output
    # act exits 1 although `check` has job-level continue-on-error: true.
    assert result.returncode == 1
    assert "hello from build" in result.output
    assert "api.nektosact.com" not in result.raw  # no version-notice request


def test_run_act_checkout_and_stubbed_action() -> None:
    result = run_act(SAMPLES / "act_stubbed", local_actions={SETUP_PYTHON: SAMPLES / "stub_action"})
    assert result.outcomes == {"build": "success"}, result.output
    assert "stub action ran" in result.output
    assert "work tree is here" in result.output


def test_run_act_remote_action_stays_offline() -> None:
    result = run_act(SAMPLES / "act_stubbed")
    assert result.outcomes == {"build": "failed"}, result.output
    assert "Unable to clone https://github.com/actions/setup-python" in result.output


# --- missing tools and timeouts ------------------------------------------------------


@pytest.mark.parametrize(
    "judge",
    [
        lambda: check_github_schema(GH_GOOD),
        lambda: check_gitlab_schema(GL_GOOD),
        lambda: check_actionlint(GH_GOOD),
        lambda: check_zizmor(GH_GOOD),
        lambda: check_shellcheck("true\n"),
        lambda: check_gitlab_ci_local_list(GL_GOOD),
        lambda: run_gitlab_ci_local(SAMPLES / "gitlab_tiny"),
        lambda: run_act(SAMPLES / "act_tiny"),
        judges.judge_versions,
    ],
    ids=[
        "github_schema",
        "gitlab_schema",
        "actionlint",
        "zizmor",
        "shellcheck",
        "gcl_list",
        "gcl_run",
        "act",
        "versions",
    ],
)
def test_missing_tool_fails(
    judge: Callable[[], object], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no tool at all
    with pytest.raises(JudgeToolMissing, match=r"is not on PATH; install it with: "):
        judge()


def test_timeout_kills_and_fails() -> None:
    with pytest.raises(AssertionError, match=r"timed out after 0.5s"):
        judges._run(["sh", "-c", "sleep 30 & sleep 30"], timeout=0.5)


def test_versions() -> None:
    versions = judges.judge_versions()
    assert set(versions) == set(judges.INSTALL_HINTS)
    assert versions["gitlab-ci-local"] == "4.73.0"


def test_judges_are_the_checkouts_own() -> None:
    # ``testing`` is not installed: the suite must read the helpers beside ``tests/``.
    assert Path(judges.__file__).resolve() == ROOT / "testing" / "judges.py"
