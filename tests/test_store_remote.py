"""Provider runs in the store: idempotent saves, retried jobs as attempts, cursors, quota."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from codomyrmex.ci_cd_automation.store import (
    SCHEMA_VERSION,
    NewRemoteJob,
    NewRemoteRun,
    RunFilter,
    Store,
)

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "state.db", clock=lambda: at(10_000)) as s:
        yield s


def job(
    pid: str, name: str, status: str = "success", attempt: int = 1, start: float = 10
) -> NewRemoteJob:
    return NewRemoteJob(
        provider_job_id=pid,
        name=name,
        status=status,  # type: ignore[arg-type]
        attempt=attempt,
        queued_at=at(start - 5),
        started_at=at(start),
        finished_at=None if status in ("queued", "running") else at(start + 60),
        url=f"https://github.com/o/r/actions/runs/7/job/{pid}",
    )


def run(status: str = "success", jobs: tuple[NewRemoteJob, ...] | None = ()) -> NewRemoteRun:
    return NewRemoteRun(
        provider="github",
        target="octo/app",
        provider_run_id="7",
        pipeline="CI",
        status=status,  # type: ignore[arg-type]
        event="push",
        ref="main",
        sha="a" * 40,
        created_at=at(0),
        started_at=at(5),
        finished_at=None if status in ("queued", "running") else at(200),
        url="https://github.com/o/r/actions/runs/7",
        jobs=jobs,
    )


def counts(path: Path) -> tuple[int, int, int]:
    conn = sqlite3.connect(path)
    try:
        return tuple(  # type: ignore[return-value]
            conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in ("runs", "job_runs", "attempts")
        )
    finally:
        conn.close()


def test_schema_is_at_version_three_and_old_tables_only(store: Store) -> None:
    assert store.schema_version == SCHEMA_VERSION == 3


def test_saving_the_same_run_twice_adds_no_row(store: Store) -> None:
    full = run(jobs=(job("11", "build"), job("12", "test", start=80)))
    first = store.save_remote_run(full)
    second = store.save_remote_run(full)
    assert (first.created, first.changed) == (True, True)
    assert (second.created, second.changed) == (False, False)
    assert second.run == first.run
    assert counts(store.path) == (1, 2, 2)
    stored = store.find_run("github", "7")
    assert stored is not None
    assert (stored.target, stored.sha, stored.attempt, stored.created_at) == (
        "octo/app",
        "a" * 40,
        1,
        at(0),
    )
    build = stored.jobs[0]
    assert (build.name, build.provider_job_id, build.duration, build.queued_at) == (
        "build",
        "11",
        60.0,
        at(5),
    )
    assert build.attempt_records[0].provider_job_id == "11"


def test_a_retried_job_is_a_new_attempt_of_the_same_job(store: Store) -> None:
    store.save_remote_run(run("running", jobs=(job("11", "test", "failed"),)))
    saved = store.save_remote_run(
        run(jobs=(job("11", "test", "failed"), job("15", "test", "success", 2, start=100)))
    )
    assert saved.changed
    (test,) = saved.run.jobs
    assert (test.status, test.attempts, test.provider_job_id) == ("success", 2, "15")
    assert [(a.number, a.status, a.provider_job_id) for a in test.attempt_records] == [
        (1, "failed", "11"),
        (2, "success", "15"),
    ]
    assert test.started_at == at(100)
    assert counts(store.path) == (1, 1, 2)


def test_an_attempt_number_already_taken_goes_after_the_highest(store: Store) -> None:
    # GitLab counts retries itself; should two jobs claim one number, neither is lost.
    saved = store.save_remote_run(run(jobs=(job("21", "lint"), job("22", "lint"))))
    assert [a.number for a in saved.run.jobs[0].attempt_records] == [1, 2]


def test_a_status_change_updates_in_place(store: Store) -> None:
    store.save_remote_run(run("running", jobs=(job("11", "build", "running"),)))
    saved = store.save_remote_run(run("failed", jobs=(job("11", "build", "failed"),)))
    assert (saved.created, saved.changed) == (False, True)
    assert saved.run.status == "failed"
    assert saved.run.finished_at == at(200)
    assert saved.run.jobs[0].status == "failed"
    assert counts(store.path) == (1, 1, 1)


def test_a_run_saved_without_jobs_keeps_its_stored_jobs(store: Store) -> None:
    store.save_remote_run(run(jobs=(job("11", "build"),)))
    saved = store.save_remote_run(run(jobs=None))
    assert not saved.changed
    assert [j.name for j in saved.run.jobs] == ["build"]


def test_runs_filter_by_target(store: Store) -> None:
    store.save_remote_run(run())
    assert [r.provider_run_id for r in store.list_runs(RunFilter(target="octo/app"))] == ["7"]
    assert store.list_runs(RunFilter(target="octo/other")) == []


def test_the_cursor_is_per_repository_and_never_moves_back(store: Store) -> None:
    assert store.get_cursor("github", "octo/app") is None
    assert store.set_cursor("github", "octo/app", at(50)) == at(50)
    assert store.set_cursor("github", "octo/app", at(20)) == at(50)
    assert store.get_cursor("github", "octo/app") == at(50)
    assert store.get_cursor("gitlab", "octo/app") is None
    assert store.get_cursor("github", "octo/other") is None
    store.set_cursor("github", "octo/app", at(70))
    assert store.get_cursor("github", "octo/app") == at(70)


def test_the_latest_quota_figure_is_kept(store: Store) -> None:
    assert store.latest_quota("gitlab", "g/p") is None
    store.record_quota("gitlab", "g/p", 900, 1000)
    store.record_quota("gitlab", "g/p", 40, 1000)
    quota = store.latest_quota("gitlab", "g/p")
    assert quota is not None
    assert (quota.remaining, quota.limit) == (40, 1000)


def test_a_version_two_store_is_migrated_keeping_its_runs(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    from codomyrmex.ci_cd_automation import store as store_module

    conn = sqlite3.connect(path, isolation_level=None)
    for migrate in store_module._MIGRATIONS[:2]:
        migrate(conn)
    conn.execute("INSERT INTO pipelines VALUES (1, 'web', '', '2026-01-01T00:00:00.000000+00:00')")
    conn.execute(
        "INSERT INTO runs (id, pipeline_id, provider, status, created_at)"
        " VALUES (1, 1, 'local', 'success', '2026-01-01T00:00:01.000000+00:00')"
    )
    conn.execute("PRAGMA user_version = 2")
    conn.close()
    with Store(path) as s:
        old = s.get_run(1)
        assert (old.pipeline, old.target, old.sha, old.attempt) == ("web", None, None, 1)
        assert s.save_remote_run(run()).run.id == 2
