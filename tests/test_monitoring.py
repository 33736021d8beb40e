"""monitor_pipeline_health over a store filled by the local runner's API and by provider saves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from codomyrmex.ci_cd_automation.errors import MonitoringError
from codomyrmex.ci_cd_automation.monitoring import WEIGHTS, monitor_pipeline_health
from codomyrmex.ci_cd_automation.store import (
    NewAttempt,
    NewJob,
    NewRemoteJob,
    NewRemoteRun,
    NewRun,
    Store,
)

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


def local_run(
    store: Store, start: float, status: str, job_time: float, *, attempts: tuple[str, ...] = ("",)
) -> int:
    run = store.start_run(NewRun(pipeline="web", started_at=at(start)))
    job = store.start_job(NewJob(run.id, "test", started_at=at(start)))
    for n, reason in enumerate(attempts, 1):
        store.record_attempt(
            NewAttempt(job.id, n, "failed" if reason else "success", reason=reason or None)
        )
    store.finish_job(job.id, status, duration=job_time, finished_at=at(start + job_time))  # type: ignore[arg-type]
    store.finish_run(run.id, status, finished_at=at(start + job_time))  # type: ignore[arg-type]
    return run.id


def remote_run(
    rid: str, start: float, status: str, *, queued: float = 5, took: float = 60
) -> NewRemoteRun:
    done = status not in ("queued", "running")
    return NewRemoteRun(
        provider="github",
        target="octo/app",
        provider_run_id=rid,
        pipeline="CI",
        status=status,  # type: ignore[arg-type]
        created_at=at(start),
        started_at=at(start) if status != "queued" else None,
        finished_at=at(start + queued + took) if done else None,
        jobs=(
            NewRemoteJob(
                rid + "1",
                "build",
                status,  # type: ignore[arg-type]
                queued_at=at(start),
                started_at=at(start + queued) if status != "queued" else None,
                finished_at=at(start + queued + took) if done else None,
            ),
        ),
    )


def health(path: Path, pipeline: str, **kwargs: Any) -> dict[str, Any]:
    return monitor_pipeline_health(pipeline, store_path=path, now=at(100_000), **kwargs)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / ".cicd" / "state.db"


def test_a_healthy_local_pipeline_scores_100(db: Path) -> None:
    with Store(db) as s:
        for i in range(4):
            local_run(s, i * 100, "success", 30)
    h = health(db, "web")
    assert set(h) == {
        "pipeline_id", "status", "health_score", "current_stage", "progress_percentage",
        "metrics", "alerts",
    }  # fmt: skip
    assert (h["pipeline_id"], h["status"], h["health_score"]) == ("web", "completed", 100.0)
    assert (h["current_stage"], h["progress_percentage"], h["alerts"]) == ("test", 100.0, [])
    assert h["metrics"]["history_runs"] == 3
    assert sum(WEIGHTS.values()) == 100


def test_success_rate_term(db: Path) -> None:
    with Store(db) as s:
        local_run(s, 0, "success", 30)
        last = local_run(s, 100, "failed", 30)
    h = health(db, f"run:{last}")
    assert h["status"] == "failed"
    assert h["metrics"]["health_terms"]["success"] == 0.5
    assert h["health_score"] == 100 - WEIGHTS["success"] * 0.5
    (alert,) = h["alerts"]
    assert (alert["kind"], alert["severity"], alert["job"]) == ("job-failed", "error", "test")


def test_retries_and_timeouts_terms(db: Path) -> None:
    with Store(db) as s:
        local_run(s, 0, "success", 30)
        local_run(s, 100, "success", 30, attempts=("timeout: the job's time ran out", ""))
    terms = health(db, "web")["metrics"]["health_terms"]
    assert terms["retries"] == 0.5  # one job of two needed a second attempt
    assert terms["timeouts"] == round(1 - 1 / 3, 4)  # one attempt of three timed out
    assert health(db, "web")["health_score"] == round(100 - 15 * 0.5 - 15 * (1 / 3), 1)


def test_run_time_term_and_slow_job_alert(db: Path) -> None:
    with Store(db) as s:
        for i in range(4):
            local_run(s, i * 100, "success", 30)
        local_run(s, 1000, "success", 60)  # twice the median
    h = health(db, "web")
    assert h["metrics"]["health_terms"]["run_time"] == 0.5
    assert [a["kind"] for a in h["alerts"]] == ["job-slow"]
    assert "95th percentile of 30s over 4 earlier runs" in h["alerts"][0]["message"]


def test_queue_term_and_queued_too_long_alert(db: Path) -> None:
    with Store(db) as s:
        for i in range(3):
            s.save_remote_run(remote_run(str(i), i * 1000, "success", queued=10))
        s.save_remote_run(remote_run("9", 9000, "success", queued=700, took=60))
    h = health(db, "CI", queue_threshold=600)
    assert h["metrics"]["queue_time"] == 700
    assert h["metrics"]["health_terms"]["queue"] == 0.0  # 70 times the median
    assert [a["kind"] for a in h["alerts"]] == ["queued-too-long"]


def test_a_running_remote_run(db: Path) -> None:
    with Store(db) as s:
        s.save_remote_run(remote_run("1", 99_000, "running"))
    h = health(db, "CI")
    assert (h["status"], h["current_stage"], h["progress_percentage"]) == ("running", "build", 0.0)
    assert h["metrics"]["provider"] == "github"


def test_rate_limit_alert_from_kwargs_or_recorded(db: Path) -> None:
    with Store(db) as s:
        s.save_remote_run(remote_run("1", 0, "success"))
    assert health(db, "CI", rate_limit_remaining=4000, rate_limit_limit=5000)["alerts"] == []
    (alert,) = health(db, "CI", rate_limit_remaining=20, rate_limit_limit=5000)["alerts"]
    assert alert["kind"] == "rate-limit"
    with Store(db) as s:
        s.record_quota("github", "octo/app", 30)
    (alert,) = health(db, "CI")["alerts"]
    assert alert["kind"] == "rate-limit" and "30 requests left" in alert["message"]


def test_unknown_pipeline_run_store_and_option(db: Path, tmp_path: Path) -> None:
    with pytest.raises(MonitoringError, match="no store"):
        health(tmp_path / "none.db", "web")
    with Store(db) as s:
        local_run(s, 0, "success", 30)
    with pytest.raises(MonitoringError, match='unknown pipeline "nope"'):
        health(db, "nope")
    with pytest.raises(MonitoringError, match='unknown run "run:99"'):
        health(db, "run:99")
    with pytest.raises(ValueError, match="unknown option 'colour'"):
        health(db, "web", colour="red")
