"""The typed result of a run: its fields, its frozen shape, and ``as_dict`` (the public one)."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import responses

from codomyrmex.ci_cd_automation import UsageError, create_pipeline, run_pipeline
from codomyrmex.ci_cd_automation.backends.base import RemoteJob, RemoteRun
from codomyrmex.ci_cd_automation.execution import remote_result
from codomyrmex.ci_cd_automation.local_runner.result import (
    JobResult,
    LocalReport,
    RemoteReport,
    RunResult,
)
from codomyrmex.ci_cd_automation.local_runner.runner import RunOptions, run_local
from codomyrmex.ci_cd_automation.model.pipeline import Pipeline

# SPEC.md's run_pipeline dictionary; the package adds run_id and jobs.
SPEC_KEYS = [
    "status",
    "pipeline_id",
    "execution_time",
    "stages_completed",
    "stages_total",
    "artifacts",
    "reports",
]
KEYS = [*SPEC_KEYS[:2], "run_id", *SPEC_KEYS[2:], "jobs"]
JOB_KEYS = [
    "name",
    "matrix",
    "status",
    "allowed_failure",
    "attempts",
    "duration",
    "exit_code",
    "log",
]


def pipeline(branches: list[str] | None = None) -> Pipeline:
    config = {"triggers": {"push": {"branches": branches}}} if branches else None
    return create_pipeline(
        "typed",
        [
            {"name": "build", "jobs": [{"name": "build", "steps": [{"run": "true"}]}]},
            {
                "name": "test",
                "jobs": [
                    {
                        "name": "unit",
                        "matrix": {"py": ["3.11", "3.12"]},
                        "steps": [{"run": "true"}],
                    },
                    {"name": "lint", "allow_failure": True, "steps": [{"run": "exit 3"}]},
                ],
            },
        ],
        config,
    )


def test_a_local_run_is_typed_and_as_dict_has_the_spec_keys_plus_run_id_and_jobs(
    tmp_path: Path,
) -> None:
    result = run_local(pipeline(), RunOptions(project_dir=tmp_path, jobs=1))

    assert isinstance(result, RunResult) and isinstance(result.reports, LocalReport)
    assert result.status == "success" and not result.failed
    assert all(isinstance(job, JobResult) for job in result.jobs)
    assert [(j.name, j.status, j.attempts) for j in result.jobs] == [
        ("build", "success", 1),
        ("unit", "success", 1),
        ("unit", "success", 1),
        ("lint", "failed", 1),
    ]
    assert result.jobs[3].exit_code == 3 and result.jobs[3].allowed_failure
    assert result.reports.jobs == {"success": 3, "failed": 1}
    assert result.reports.timed_out is False and result.reports.notices == ()
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.status = "failed"  # type: ignore[misc]

    data = result.as_dict()
    assert list(data) == KEYS
    assert set(data) - set(SPEC_KEYS) == {"run_id", "jobs"}
    assert [list(job) for job in data["jobs"]] == [JOB_KEYS] * 4
    assert data["jobs"][1]["matrix"] == {"py": "3.11"}
    reports = ["event", "jobs", "run_dir", "not_triggered", "notices", "timed_out"]
    assert list(data["reports"]) == reports
    assert (data["status"], data["run_id"], data["stages_completed"]) == ("success", "1", 2)
    assert json.loads(json.dumps(data)) == data


def test_run_pipeline_returns_the_dictionary_of_the_typed_result(tmp_path: Path) -> None:
    data = run_pipeline(pipeline(), project_dir=tmp_path, dry_run=True)
    typed = run_local(pipeline(), RunOptions(project_dir=tmp_path, dry_run=True))

    assert list(data) == KEYS == list(typed.as_dict())
    assert data["status"] == typed.status == "planned"
    assert data["reports"]["dry_run"] is True and "notices" not in data["reports"]
    assert data["reports"]["order"] == list(typed.reports.order or ())
    assert data["reports"]["order"] == ["build", "unit (py=3.11)", "unit (py=3.12)", "lint"]
    assert not (tmp_path / ".cicd").exists()


def test_a_run_its_triggers_do_not_start_has_reasons_and_no_run_keys(tmp_path: Path) -> None:
    result = run_local(pipeline(branches=["release"]), RunOptions(project_dir=tmp_path))

    assert result.status == "skipped"
    assert result.reports.not_triggered and result.reports.notices is None
    assert {job.reason for job in result.jobs} == {result.reports.not_triggered}
    data = result.as_dict()
    assert "timed_out" not in data["reports"] and "dry_run" not in data["reports"]
    assert [list(job) for job in data["jobs"]] == [[*JOB_KEYS, "reason"]] * 4


def test_a_provider_run_has_the_same_type_and_keys() -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    run = RemoteRun(
        provider="github",
        target="o/r",
        provider_run_id="7",
        pipeline="typed",
        status="running",
        url="https://github.com/o/r/actions/runs/7",
        jobs=(
            RemoteJob(
                "1", "build", "success", started_at=t0, finished_at=t0 + timedelta(seconds=5)
            ),
            RemoteJob("2", "unit (3.11)", "running"),
        ),
    )
    result = remote_result(pipeline(), "staging", run, 1.25)

    assert isinstance(result.reports, RemoteReport) and result.reports.environment == "staging"
    assert result.jobs[0].duration == 5.0 and result.jobs[1].duration is None
    data = result.as_dict()
    assert list(data) == KEYS
    assert [list(job) for job in data["jobs"]] == [JOB_KEYS] * 2
    assert data["reports"] == {
        "provider": "github",
        "target": "o/r",
        "url": run.url,
        "ref": None,
        "sha": None,
        "environment": "staging",
    }


# --- run_pipeline's keywords -------------------------------------------------------------


def test_a_misspelt_keyword_is_a_usage_error_with_a_hint() -> None:
    with pytest.raises(UsageError, match="unknown keyword 'dryrun'; did you mean 'dry_run'"):
        run_pipeline(pipeline(), dryrun=True)
    with pytest.raises(UsageError, match="unknown keyword 'no_such_keyword'; expected one of"):
        run_pipeline(pipeline(), no_such_keyword=1)


def test_a_keyword_of_the_other_kind_of_run_is_refused() -> None:
    with pytest.raises(UsageError, match="unknown keyword 'jobs' for a gitlab run"):
        run_pipeline(pipeline(), backend="gitlab", project="g/p", jobs=2)
    with pytest.raises(UsageError, match="unknown keyword 'repo' for a local run"):
        run_pipeline(pipeline(), repo="o/r")
    with pytest.raises(UsageError, match="unknown backend 'jenkins'"):
        run_pipeline(pipeline(), backend="jenkins")  # type: ignore[arg-type]


def test_a_bad_interval_is_refused_before_any_request(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "t")
    with (
        responses.RequestsMock(assert_all_requests_are_fired=True),
        pytest.raises(UsageError, match="interval must be positive"),
    ):
        run_pipeline(pipeline(), backend="github", repo="o/r", interval=0)
