"""The watch loop over a fake provider: polls, change lines, the end, the timeout."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta

import pytest

from codomyrmex.ci_cd_automation import create_pipeline
from codomyrmex.ci_cd_automation.backends.base import RemoteJob, RemoteRun
from codomyrmex.ci_cd_automation.backends.watch import watch
from codomyrmex.ci_cd_automation.errors import MonitoringError
from codomyrmex.ci_cd_automation.execution import remote_result

T0 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def job(jid: str, name: str, status: str, **kw: object) -> RemoteJob:
    return RemoteJob(jid, name, status, **kw)  # type: ignore[arg-type]


RUN = RemoteRun("github", "o/r", "7", "ci", "queued", url="https://github.com/o/r/actions/runs/7")


class FakeBackend:
    """Answers poll_run from a script: None for "not changed", else the next run."""

    provider = "github"

    def __init__(self, answers: list[RemoteRun | None]) -> None:
        self.answers = answers
        self.polls = 0

    def poll_run(self, run: RemoteRun) -> RemoteRun | None:
        self.polls += 1
        return self.answers.pop(0)

    def trigger(
        self,
        *,
        ref: str | None = None,
        inputs: Mapping[str, str] | None = None,
        workflow: str | None = None,
    ) -> RemoteRun:
        raise AssertionError("not used")

    def get_run(self, run_id: str, *, jobs: bool = True) -> RemoteRun:
        raise AssertionError("not used")

    def list_runs(self, *, since: datetime | None = None) -> Iterator[RemoteRun]:
        raise AssertionError("not used")

    def cancel(self, run_id: str) -> None:
        raise AssertionError("not used")

    def logs(self, run_id: str, *, job: str | None = None) -> str:
        raise AssertionError("not used")


def test_watch_polls_until_the_run_ends_and_reports_each_change() -> None:
    running = dataclasses.replace(RUN, status="running", jobs=(job("1", "build", "running"),))
    built = dataclasses.replace(
        running, jobs=(job("1", "build", "success"), job("2", "unit (3.12)", "running"))
    )
    done = dataclasses.replace(
        built,
        status="failed",
        jobs=(job("1", "build", "success"), job("2", "unit (3.12)", "failed", attempt=2)),
    )
    backend = FakeBackend([running, None, None, built, done])
    slept: list[float] = []
    lines: list[str] = []

    report = watch(backend, RUN, interval=2.0, on_change=lines.append, sleep=slept.append)

    assert report.run is done and report.polls == 5 == backend.polls
    assert slept == [2.0] * 5
    assert lines == [
        "run 7: queued",
        "run 7: running",
        "running   build",
        "success   build",
        "running   unit (3.12)",
        "run 7: failed",
        "failed    unit (3.12) (attempt 2)",
    ]


def test_a_finished_run_is_not_polled() -> None:
    done = dataclasses.replace(RUN, status="success")
    backend = FakeBackend([])
    assert watch(backend, done, sleep=lambda s: None).polls == 0


def test_the_timeout_stops_the_watch_with_one_line() -> None:
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    backend = FakeBackend([None] * 10)
    with pytest.raises(
        MonitoringError, match=r"still queued after 10s; it goes on at the provider"
    ):
        watch(backend, RUN, interval=4.0, timeout=10.0, sleep=sleep, clock=lambda: now[0])
    assert backend.polls == 3


def test_a_bad_interval_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="must be positive"):
        watch(FakeBackend([]), RUN, interval=0)


def test_remote_result_has_the_local_keys_and_counts_stages_by_job_names() -> None:
    pipeline = create_pipeline(
        "ci",
        [
            {"name": "build", "jobs": [{"name": "build", "steps": [{"run": "make"}]}]},
            {
                "name": "test",
                "jobs": [
                    {"name": "unit", "matrix": {"py": ["3.11", "3.12"]}, "steps": [{"run": "t"}]}
                ],
            },
            {"name": "lint", "jobs": [{"name": "lint", "steps": [{"run": "l"}]}]},
        ],
    )
    run = dataclasses.replace(
        RUN,
        status="failed",
        jobs=(
            job("1", "build", "success", started_at=T0, finished_at=T0 + timedelta(seconds=30)),
            job("2", "unit (3.11)", "success"),
            job("3", "unit (3.12)", "failed", allowed_failure=True),
            job("4", "lint", "failed"),
        ),
    )
    result = remote_result(pipeline, "staging", run, 12.5).as_dict()
    assert set(result) >= {
        "status",
        "pipeline_id",
        "execution_time",
        "stages_completed",
        "stages_total",
        "artifacts",
        "reports",
        "jobs",
    }
    assert (result["status"], result["run_id"], result["stages_total"]) == ("failed", "7", 3)
    assert result["stages_completed"] == 2  # build, and test (its failing leg may fail)
    assert result["jobs"][0]["duration"] == 30.0
    assert result["reports"]["url"] == RUN.url
