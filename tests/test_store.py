"""The SQLite store: schema and migrations, the run lifecycle, interruption, threads."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import get_args

import pytest

from codomyrmex.ci_cd_automation.errors import CICDError
from codomyrmex.ci_cd_automation.store import (
    DEFAULT_PATH,
    SCHEMA_VERSION,
    NewAttempt,
    NewJob,
    NewRun,
    Provider,
    RunFilter,
    Status,
    Store,
    open_store,
)

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def ticking_clock(start: datetime = T0, step: float = 1.0) -> Callable[[], datetime]:
    """A clock that moves ``step`` seconds on every reading: deterministic, no wall time."""
    lock = threading.Lock()
    ticks = [0]

    def now() -> datetime:
        with lock:
            ticks[0] += 1
            return start + timedelta(seconds=step * ticks[0])

    return now


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / ".cicd" / "state.db"


@pytest.fixture
def store(db: Path) -> Iterator[Store]:
    with Store(db, clock=ticking_clock()) as s:
        yield s


def tables(path: Path) -> set[str]:
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
        return {r[0] for r in rows} - {"sqlite_sequence"}
    finally:
        conn.close()


def user_version(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])
    finally:
        conn.close()


# Schema and migrations.


def test_default_path_is_under_dot_cicd() -> None:
    assert Path(".cicd/state.db") == DEFAULT_PATH


def test_opening_creates_the_folder_and_the_current_schema(db: Path) -> None:
    with open_store(db) as s:
        assert s.schema_version == SCHEMA_VERSION
        assert s.journal_mode == "wal"
    assert db.exists()
    assert tables(db) == {
        "pipelines",
        "runs",
        "job_runs",
        "attempts",
        "deployments",
        "audit_log",
        "provider_state",
    }
    assert user_version(db) == SCHEMA_VERSION


def test_wal_and_foreign_keys_are_on(store: Store, db: Path) -> None:
    assert store.journal_mode == "wal"
    conn = sqlite3.connect(db)
    try:
        # WAL is a property of the file: a fresh connection sees it too.
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        conn.close()
    # Foreign keys are a per-connection setting: look at the store's own connection.
    with store._read() as conn:
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    with pytest.raises(CICDError, match="no run 99"):
        store.start_job(NewJob(run_id=99, name="build"))


def test_check_constraints_match_the_status_types(store: Store) -> None:
    run = store.start_run(NewRun(pipeline="web"))
    for status in get_args(Status):
        assert store.finish_run(run.id, status).status == status
    for provider in get_args(Provider):
        assert store.start_run(NewRun(pipeline="web", provider=provider)).provider == provider


def test_reopening_keeps_the_data(db: Path) -> None:
    with Store(db) as s:
        run_id = s.start_run(NewRun(pipeline="web")).id
    with Store(db) as s:
        assert s.get_run(run_id).pipeline == "web"
        assert s.schema_version == SCHEMA_VERSION


# A version 1 database written by hand (its tables and columns; the CHECK constraints left
# out): opening it must migrate it in place without losing a row.
V1_DDL = """
CREATE TABLE pipelines (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL,
    content_hash TEXT NOT NULL DEFAULT '', created_at TEXT NOT NULL, UNIQUE (name, content_hash));
CREATE TABLE runs (id INTEGER PRIMARY KEY AUTOINCREMENT,
    pipeline_id INTEGER NOT NULL REFERENCES pipelines(id), provider TEXT NOT NULL,
    provider_run_id TEXT, event TEXT, ref TEXT, status TEXT NOT NULL, created_at TEXT NOT NULL,
    started_at TEXT, finished_at TEXT, url TEXT, environment TEXT);
CREATE TABLE job_runs (id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE, name TEXT NOT NULL,
    matrix TEXT, status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
    allowed_failure INTEGER NOT NULL DEFAULT 0, exit_code INTEGER, started_at TEXT,
    finished_at TEXT, duration REAL, log_path TEXT);
CREATE TABLE attempts (id INTEGER PRIMARY KEY AUTOINCREMENT,
    job_run_id INTEGER NOT NULL REFERENCES job_runs(id) ON DELETE CASCADE,
    number INTEGER NOT NULL, status TEXT NOT NULL, exit_code INTEGER, started_at TEXT,
    finished_at TEXT, reason TEXT, UNIQUE (job_run_id, number));
CREATE TABLE audit_log (id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL,
    actor TEXT NOT NULL, action TEXT NOT NULL, details TEXT NOT NULL DEFAULT '{}');
INSERT INTO pipelines VALUES (1, 'web', 'abc123', '2025-12-01T00:00:00.000000+00:00');
INSERT INTO runs VALUES (1, 1, 'local', NULL, 'push', 'main', 'success',
    '2025-12-01T00:00:01.000000+00:00', '2025-12-01T00:00:01.000000+00:00',
    '2025-12-01T00:00:09.000000+00:00', NULL, 'development');
INSERT INTO job_runs VALUES (1, 1, 'test', '{"python":"3.12"}', 'success', 1, 0, 0,
    '2025-12-01T00:00:02.000000+00:00', '2025-12-01T00:00:08.000000+00:00', 6.0,
    '.cicd/runs/1/test.log');
INSERT INTO attempts VALUES (1, 1, 1, 'success', 0, '2025-12-01T00:00:02.000000+00:00',
    '2025-12-01T00:00:08.000000+00:00', NULL);
PRAGMA user_version = 1;
"""


def test_an_older_database_is_migrated_in_place(db: Path) -> None:
    db.parent.mkdir(parents=True)
    conn = sqlite3.connect(db)
    conn.executescript(V1_DDL)
    conn.close()
    assert user_version(db) == 1
    assert "deployments" not in tables(db)

    with Store(db) as s:
        assert s.schema_version == SCHEMA_VERSION
        run = s.get_run(1)
        assert (run.pipeline, run.content_hash, run.status, run.ref) == (
            "web",
            "abc123",
            "success",
            "main",
        )
        (job,) = run.jobs
        assert job.matrix == {"python": "3.12"}
        assert job.provider_job_id is None  # the column version 2 added
        assert job.attempt_records[0].exit_code == 0
        # New rows continue the old ids.
        assert s.start_run(NewRun(pipeline="web", content_hash="abc123")).id == 2
    assert "deployments" in tables(db)
    assert user_version(db) == SCHEMA_VERSION


def test_a_failed_migration_leaves_the_file_as_it_was(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from codomyrmex.ci_cd_automation import store as store_module

    db.parent.mkdir(parents=True)
    conn = sqlite3.connect(db)
    conn.executescript(V1_DDL)
    conn.close()

    def broken(conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE half_done (x)")
        conn.execute("THIS IS NOT SQL")

    monkeypatch.setattr(store_module, "_MIGRATIONS", (store_module._MIGRATIONS[0], broken))
    with pytest.raises(CICDError, match="cannot open"):
        Store(db)
    assert user_version(db) == 1
    assert "half_done" not in tables(db)


def test_a_newer_database_is_refused_and_left_alone(db: Path) -> None:
    db.parent.mkdir(parents=True)
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE future (x)")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    with pytest.raises(CICDError, match=rf"schema version {SCHEMA_VERSION + 1} is newer"):
        Store(db)
    assert user_version(db) == SCHEMA_VERSION + 1
    assert tables(db) == {"future"}


def test_a_file_that_is_not_a_database_is_a_cicd_error(db: Path) -> None:
    db.parent.mkdir(parents=True)
    db.write_bytes(b"this is not sqlite, just some bytes long enough to have a header" * 4)
    with pytest.raises(CICDError, match="cannot open") as info:
        Store(db)
    assert isinstance(info.value.__cause__, sqlite3.DatabaseError)


def test_use_after_close_is_a_cicd_error(db: Path) -> None:
    s = Store(db)
    s.close()
    s.close()  # harmless
    with pytest.raises(CICDError, match="used after close"):
        s.list_runs()


# The run, job and attempt lifecycle.


def test_run_job_attempt_lifecycle(store: Store) -> None:
    run = store.start_run(
        NewRun(
            pipeline="web",
            content_hash="h1",
            event="push",
            ref="refs/heads/main",
            environment="staging",
        )
    )
    assert run.status == "running"
    assert run.provider == "local"
    assert run.started_at is not None
    assert run.finished_at is None

    job = store.start_job(
        NewJob(run_id=run.id, name="test", log_path=f".cicd/runs/{run.id}/test.log")
    )
    assert (job.status, job.attempts, job.allowed_failure) == ("running", 0, False)

    first = store.record_attempt(
        NewAttempt(job_run_id=job.id, number=1, status="running", started_at=T0)
    )
    assert first.status == "running"
    ended = store.record_attempt(
        NewAttempt(
            job_run_id=job.id,
            number=1,
            status="failed",
            exit_code=1,
            finished_at=T0 + timedelta(seconds=2),
            reason="exit code 1",
        )
    )
    # Recording the same number again updates it and keeps what was known.
    assert (ended.id, ended.status, ended.exit_code, ended.started_at) == (
        first.id,
        "failed",
        1,
        T0,
    )
    store.record_attempt(NewAttempt(job_run_id=job.id, number=2, status="success", exit_code=0))

    done = store.finish_job(job.id, "success", exit_code=0, duration=3.25)
    assert (done.status, done.exit_code, done.duration, done.attempts) == ("success", 0, 3.25, 2)
    assert [a.number for a in done.attempt_records] == [1, 2]

    finished = store.finish_run(run.id, "success")
    assert finished.status == "success"
    assert finished.finished_at is not None
    assert run.started_at is not None
    assert finished.finished_at > run.started_at

    again = store.get_run(run.id)
    assert (again.pipeline, again.content_hash, again.environment, again.event) == (
        "web",
        "h1",
        "staging",
        "push",
    )
    (stored_job,) = again.jobs
    assert stored_job.log_path == f".cicd/runs/{run.id}/test.log"
    assert [(a.number, a.status, a.reason) for a in stored_job.attempt_records] == [
        (1, "failed", "exit code 1"),
        (2, "success", None),
    ]


def test_duration_comes_from_the_timestamps_when_not_measured(store: Store) -> None:
    run = store.start_run(NewRun(pipeline="web"))
    job = store.start_job(NewJob(run_id=run.id, name="lint", started_at=T0))
    done = store.finish_job(job.id, "failed", exit_code=2, finished_at=T0 + timedelta(seconds=7))
    assert done.duration == 7.0
    skipped = store.start_job(NewJob(run_id=run.id, name="deploy", status="skipped"))
    assert skipped.started_at is None
    assert store.finish_job(skipped.id, "skipped").duration is None


def test_a_queued_run_starts_later(store: Store) -> None:
    run = store.start_run(
        NewRun(pipeline="web", provider="github", provider_run_id="123", status="queued")
    )
    assert run.started_at is None
    running = store.update_run(run.id, status="running", url="https://example.test/runs/123")
    assert running.status == "running"
    assert running.started_at is None
    assert running.url == "https://example.test/runs/123"
    found = store.find_run("github", "123")
    assert found is not None
    assert found.id == run.id
    assert store.find_run("gitlab", "123") is None


def test_a_provider_run_is_stored_once(store: Store) -> None:
    store.start_run(NewRun(pipeline="web", provider="gitlab", provider_run_id="77"))
    with pytest.raises(CICDError, match="UNIQUE"):
        store.start_run(NewRun(pipeline="web", provider="gitlab", provider_run_id="77"))
    # Same id on the other provider is another run.
    store.start_run(NewRun(pipeline="web", provider="github", provider_run_id="77"))


def test_unknown_ids_and_bad_values_are_errors(store: Store) -> None:
    with pytest.raises(CICDError, match="no run 5"):
        store.finish_run(5, "success")
    with pytest.raises(CICDError, match="no job run 5"):
        store.record_attempt(NewAttempt(job_run_id=5, number=1, status="running"))
    run = store.start_run(NewRun(pipeline="web"))
    with pytest.raises(CICDError, match="CHECK"):
        store.finish_run(run.id, "exploded")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="naive"):
        store.finish_run(run.id, "success", finished_at=datetime(2026, 1, 1))
    assert store.get_run(run.id).status == "running"  # the refused writes left nothing


def test_pipelines_are_kept_per_name_and_hash(store: Store) -> None:
    a = store.ensure_pipeline("web", "h1")
    assert store.ensure_pipeline("web", "h1") == a
    b = store.ensure_pipeline("web", "h2")
    assert b.id != a.id
    assert store.ensure_pipeline("web").content_hash is None


# Interruption.


def test_mark_interrupted_cancels_only_what_was_open(store: Store) -> None:
    run = store.start_run(NewRun(pipeline="web"))
    done = store.start_job(NewJob(run_id=run.id, name="build"))
    store.record_attempt(NewAttempt(job_run_id=done.id, number=1, status="success", exit_code=0))
    store.finish_job(done.id, "success", exit_code=0)
    running = store.start_job(NewJob(run_id=run.id, name="test"))
    store.record_attempt(NewAttempt(job_run_id=running.id, number=1, status="failed", exit_code=1))
    store.record_attempt(NewAttempt(job_run_id=running.id, number=2, status="running"))
    queued = store.start_job(NewJob(run_id=run.id, name="deploy", status="queued"))
    other = store.start_run(NewRun(pipeline="web"))

    result = store.mark_interrupted(run.id, reason="SIGTERM")

    assert result.status == "cancelled"
    assert result.finished_at is not None
    by_name = {j.name: j for j in result.jobs}
    assert by_name["build"].status == "success"
    assert by_name["test"].status == "cancelled"
    assert by_name["deploy"].status == "cancelled"
    assert by_name["deploy"].id == queued.id
    assert [(a.status, a.reason) for a in by_name["test"].attempt_records] == [
        ("failed", None),
        ("cancelled", "SIGTERM"),
    ]
    assert by_name["build"].attempt_records[0].status == "success"
    assert store.get_run(other.id).status == "running"  # another run is untouched


def test_mark_interrupted_leaves_a_finished_run_alone(store: Store) -> None:
    run = store.start_run(NewRun(pipeline="web"))
    store.finish_run(run.id, "failed")
    assert store.mark_interrupted(run.id).status == "failed"


KILLED_WRITER = """
import os, sys
from codomyrmex.ci_cd_automation.store import NewAttempt, NewJob, NewRun, Store

s = Store(sys.argv[1])
run = s.start_run(NewRun(pipeline="web"))
done = s.start_job(NewJob(run_id=run.id, name="build"))
s.finish_job(done.id, "success", exit_code=0)
job = s.start_job(NewJob(run_id=run.id, name="test"))
s.record_attempt(NewAttempt(job_run_id=job.id, number=1, status="running"))
os._exit(9)  # dies without closing, committing or cleaning up anything more
"""


def test_a_process_killed_between_writes_leaves_a_consistent_record(db: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", KILLED_WRITER, str(db)], capture_output=True, timeout=60
    )
    assert result.returncode == 9, result.stderr.decode()
    with Store(db) as later:
        (run,) = later.list_runs()
        seen = later.get_run(run.id)
        assert [(j.name, j.status) for j in seen.jobs] == [
            ("build", "success"),
            ("test", "running"),
        ]
        assert seen.jobs[1].attempt_records[0].status == "running"
        after = later.mark_interrupted(run.id)
    assert after.status == "cancelled"
    assert [j.status for j in after.jobs] == ["success", "cancelled"]
    assert after.jobs[1].attempt_records[0].status == "cancelled"


# Threads.


def test_threads_share_one_store(store: Store) -> None:
    run = store.start_run(NewRun(pipeline="web"))
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(10):
                job = store.start_job(
                    NewJob(run_id=run.id, name=f"job-{n}", matrix={"i": i, "thread": n})
                )
                store.record_attempt(
                    NewAttempt(job_run_id=job.id, number=1, status="success", exit_code=0)
                )
                store.finish_job(job.id, "success", exit_code=0)
                store.audit("runner", "job.finished", {"job": job.id})
        except BaseException as exc:  # collected and re-raised in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    jobs = store.get_run(run.id).jobs
    assert len(jobs) == 80
    assert {j.status for j in jobs} == {"success"}
    assert all(j.attempts == 1 for j in jobs)
    assert len(store.audit_log(action="job.finished")) == 80


def test_threads_with_their_own_stores_on_one_file(db: Path) -> None:
    with Store(db) as s:
        run_id = s.start_run(NewRun(pipeline="web")).id
    errors: list[BaseException] = []
    barrier = threading.Barrier(6)

    def work(n: int) -> None:
        try:
            with Store(db) as own:
                barrier.wait()
                for i in range(15):
                    job = own.start_job(NewJob(run_id=run_id, name=f"t{n}-{i}"))
                    own.finish_job(job.id, "success", exit_code=0)
        except BaseException as exc:  # collected and re-raised in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with Store(db) as s:
        jobs = s.get_run(run_id).jobs
    assert len(jobs) == 90
    assert len({j.id for j in jobs}) == 90


def test_concurrent_first_opens_migrate_once(tmp_path: Path) -> None:
    db = tmp_path / "fresh.db"
    errors: list[BaseException] = []
    barrier = threading.Barrier(5)

    def open_it() -> None:
        try:
            barrier.wait()
            with Store(db) as s:
                assert s.schema_version == SCHEMA_VERSION
        except BaseException as exc:  # collected and re-raised in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert user_version(db) == SCHEMA_VERSION


# JSON fields.


def test_json_fields_round_trip(store: Store) -> None:
    run = store.start_run(NewRun(pipeline="web"))
    matrix = {
        "python": "3.12",
        "os": "linux",
        "shard": 3,
        "experimental": True,
        "flags": ["-x", "--no-cov"],
        "nested": {"a": None, "ü": "ñ"},
    }
    job = store.start_job(NewJob(run_id=run.id, name="test", matrix=matrix))
    plain = store.start_job(NewJob(run_id=run.id, name="lint"))
    empty = store.start_job(NewJob(run_id=run.id, name="docs", matrix={}))
    jobs = {j.id: j for j in store.get_run(run.id).jobs}
    assert jobs[job.id].matrix == matrix
    assert jobs[plain.id].matrix is None  # a plain job is null, not an empty matrix
    assert jobs[empty.id].matrix == {}

    details = {"files": [".gitlab-ci.yml"], "commit": "abc", "count": 2, "ok": False}
    entry = store.audit("alice", "sync", details)
    assert entry.details == details
    assert store.audit_log()[-1] == entry


def test_audit_refuses_credential_keys(store: Store) -> None:
    with pytest.raises(ValueError, match="credential"):
        store.audit("cli", "sync", {"request": {"Authorization": "Bearer x"}})
    with pytest.raises(ValueError, match="credential"):
        store.audit("cli", "trigger", {"token": "glpat-x"})
    # Names of secrets are facts, not values.
    store.audit("cli", "run", {"secrets": ["PYPI_TOKEN"]})
    assert [e.action for e in store.audit_log()] == ["run"]


def test_audit_log_order_and_filter(store: Store) -> None:
    for action in ("plan", "sync", "plan", "trigger"):
        store.audit("bob", action)
    assert [e.action for e in store.audit_log()] == ["plan", "sync", "plan", "trigger"]
    assert len(store.audit_log(action="plan")) == 2
    assert [e.action for e in store.audit_log(limit=2)] == ["plan", "sync"]


# Listing runs.


def test_list_runs_orders_newest_first_and_filters(db: Path) -> None:
    with Store(db, clock=ticking_clock()) as s:
        a = s.start_run(NewRun(pipeline="web", event="push", ref="main", environment="staging"))
        b = s.start_run(NewRun(pipeline="api", provider="github", provider_run_id="1"))
        c = s.start_run(NewRun(pipeline="web", event="schedule", ref="main"))
        d = s.start_run(NewRun(pipeline="web", provider="gitlab", provider_run_id="9"))
        s.finish_run(a.id, "success")
        s.finish_run(c.id, "failed")
        s.finish_run(d.id, "cancelled")

        def ids(f: RunFilter | None = None) -> list[int]:
            return [r.id for r in s.list_runs(f)]

        assert ids() == [d.id, c.id, b.id, a.id]
        assert ids(RunFilter(pipeline="web")) == [d.id, c.id, a.id]
        assert ids(RunFilter(provider="github")) == [b.id]
        assert ids(RunFilter(status="failed")) == [c.id]
        assert ids(RunFilter(status=("success", "failed"))) == [c.id, a.id]
        assert ids(RunFilter(event="push", ref="main")) == [a.id]
        assert ids(RunFilter(environment="staging")) == [a.id]
        assert ids(RunFilter(since=b.created_at)) == [d.id, c.id, b.id]
        assert ids(RunFilter(until=c.created_at)) == [b.id, a.id]
        assert ids(RunFilter(pipeline="web", limit=2)) == [d.id, c.id]
        assert ids(RunFilter(pipeline="nope")) == []
        assert all(r.jobs == () for r in s.list_runs())


def test_runs_created_in_the_same_instant_keep_insertion_order(db: Path) -> None:
    with Store(db, clock=lambda: T0) as s:
        ids = [s.start_run(NewRun(pipeline="web")).id for _ in range(3)]
        assert [r.id for r in s.list_runs()] == ids[::-1]
