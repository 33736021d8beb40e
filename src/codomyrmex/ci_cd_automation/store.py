"""The SQLite store: ``Store`` over one database file, its row conversions and ``open_store``.

What this module owns: the connection to the file (``.cicd/state.db`` by default, any path may
be given), its transactions, and every SQL statement that reads or writes rows; nothing outside
the ``store*`` modules writes SQL. The schema and its migrations are in ``store_schema``, the
dataclasses in and out in ``store_records``; this module re-exports their public names. What
the store holds, what it never holds and how it stays consistent: docs/store.md.

Invariants (docs/store.md gives the reasons):

* Never a secret value: no field holds one, and audit details keyed by a word that can only
  mean a credential (``token``, ``password``, ...) are refused.
* Every write is its own short transaction (``BEGIN IMMEDIATE`` ... ``COMMIT``); one ``Store``
  holds one connection behind a lock, so threads may share it.
* Pending migrations run in order inside one transaction that also sets ``PRAGMA
  user_version``; a file whose version is newer than ``SCHEMA_VERSION`` is refused, never
  written.
* Times are aware datetimes, stored as UTC ISO 8601 text with microseconds; the clock is
  injectable.
* A provider run is stored once, found by ``(provider, provider_run_id)``, and written with its
  jobs and attempts in one transaction; a pull cursor never moves back.
* ``sqlite3`` errors do not leak: they become ``CICDError`` naming the file and the operation.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from .errors import CICDError
from .store_records import (
    AttemptRecord,
    AuditEntry,
    JobRunRecord,
    NewAttempt,
    NewJob,
    NewRemoteJob,
    NewRemoteRun,
    NewRun,
    PipelineRecord,
    Provider,
    Quota,
    RemoteProvider,
    RunFilter,
    RunRecord,
    SavedRun,
    Status,
)
from .store_schema import _MIGRATIONS, SCHEMA_VERSION, _in

__all__ = [
    "DEFAULT_PATH",
    "SCHEMA_VERSION",
    "AttemptRecord",
    "AuditEntry",
    "JobRunRecord",
    "NewAttempt",
    "NewJob",
    "NewRemoteJob",
    "NewRemoteRun",
    "NewRun",
    "PipelineRecord",
    "Provider",
    "Quota",
    "RemoteProvider",
    "RunFilter",
    "RunRecord",
    "SavedRun",
    "Status",
    "Store",
    "open_store",
]

DEFAULT_PATH = Path(".cicd") / "state.db"
BUSY_TIMEOUT = 30.0  # seconds a writer waits for another process's transaction to end
_OPEN: tuple[Status, ...] = ("queued", "running")
_FORBIDDEN_AUDIT_KEYS = frozenset(
    {
        "token",
        "password",
        "passwd",
        "secret",
        "secret_value",
        "authorization",
        "private-token",
        "private_token",
        "api_key",
        "apikey",
    }
)


# Conversions.


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _time(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value.isoformat()!r}: the store needs aware times")
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def _parse_time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _check_audit_details(details: Mapping[str, Any], path: str = "details") -> None:
    for key, value in details.items():
        if str(key).lower() in _FORBIDDEN_AUDIT_KEYS:
            raise ValueError(
                f"audit {path} key {key!r} names a credential; the store never holds secret"
                " values (record the secret's name instead)"
            )
        if isinstance(value, Mapping):
            _check_audit_details(value, f"{path}.{key}")


def _pipeline_record(row: sqlite3.Row) -> PipelineRecord:
    return PipelineRecord(
        id=row["id"],
        name=row["name"],
        content_hash=row["content_hash"] or None,
        created_at=datetime.fromisoformat(row["created_at"]),
    )


def _attempt_record(row: sqlite3.Row) -> AttemptRecord:
    return AttemptRecord(
        id=row["id"],
        job_run_id=row["job_run_id"],
        number=row["number"],
        status=row["status"],
        exit_code=row["exit_code"],
        started_at=_parse_time(row["started_at"]),
        finished_at=_parse_time(row["finished_at"]),
        reason=row["reason"],
        provider_job_id=row["provider_job_id"],
        queued_at=_parse_time(row["queued_at"]),
        url=row["url"],
    )


def _job_record(row: sqlite3.Row, attempts: tuple[AttemptRecord, ...] = ()) -> JobRunRecord:
    return JobRunRecord(
        id=row["id"],
        run_id=row["run_id"],
        name=row["name"],
        matrix=None if row["matrix"] is None else json.loads(row["matrix"]),
        status=row["status"],
        attempts=row["attempts"],
        allowed_failure=bool(row["allowed_failure"]),
        exit_code=row["exit_code"],
        started_at=_parse_time(row["started_at"]),
        finished_at=_parse_time(row["finished_at"]),
        duration=row["duration"],
        log_path=row["log_path"],
        provider_job_id=row["provider_job_id"],
        attempt_records=attempts,
        queued_at=_parse_time(row["queued_at"]),
        url=row["url"],
    )


def _run_record(row: sqlite3.Row, jobs: tuple[JobRunRecord, ...] = ()) -> RunRecord:
    return RunRecord(
        id=row["id"],
        pipeline=row["pipeline"],
        content_hash=row["content_hash"] or None,
        provider=row["provider"],
        provider_run_id=row["provider_run_id"],
        event=row["event"],
        ref=row["ref"],
        status=row["status"],
        created_at=datetime.fromisoformat(row["created_at"]),
        started_at=_parse_time(row["started_at"]),
        finished_at=_parse_time(row["finished_at"]),
        url=row["url"],
        environment=row["environment"],
        jobs=jobs,
        target=row["target"],
        sha=row["sha"],
        attempt=row["attempt"],
    )


_RUN_SELECT = (
    "SELECT runs.*, pipelines.name AS pipeline, pipelines.content_hash AS content_hash"
    " FROM runs JOIN pipelines ON pipelines.id = runs.pipeline_id"
)


class Store:
    """An open store; use as a context manager, or call ``close``.

    Args:
        path: the database file; its folder is created when missing.
        clock: returns the current aware time; tests pass a fixed one.
        timeout: seconds to wait for another connection's write to finish.

    Raises:
        CICDError: the file is not a database, cannot be opened, or has a schema version
            newer than ``SCHEMA_VERSION``.
    """

    def __init__(
        self,
        path: str | Path = DEFAULT_PATH,
        *,
        clock: Callable[[], datetime] = _utc_now,
        timeout: float = BUSY_TIMEOUT,
    ) -> None:
        self.path = Path(path)
        self._clock = clock
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        with self._translated("open"):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                self.path, timeout=timeout, isolation_level=None, check_same_thread=False
            )
        try:
            with self._translated("open"):
                conn.row_factory = sqlite3.Row
                conn.execute("PRAGMA foreign_keys = ON")
                # In WAL mode NORMAL survives a crash of the process; only power loss may drop
                # the last commits, and never leaves a half-written one.
                conn.execute("PRAGMA synchronous = NORMAL")
                self._prepare(conn, timeout)
        except BaseException:
            conn.close()
            raise
        self._conn = conn

    # Lifecycle.

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection; closing twice is harmless."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    @property
    def schema_version(self) -> int:
        """The schema version of the open file (``SCHEMA_VERSION`` once opened)."""
        with self._read() as conn:
            return int(conn.execute("PRAGMA user_version").fetchone()[0])

    @property
    def journal_mode(self) -> str:
        """The journal mode SQLite reports for the open file (``wal``)."""
        with self._read() as conn:
            return str(conn.execute("PRAGMA journal_mode").fetchone()[0])

    # Runs.

    def ensure_pipeline(self, name: str, content_hash: str | None = None) -> PipelineRecord:
        """Return the pipeline row for this name and hash, adding it when new."""
        with self._write("record pipeline") as conn:
            return self._ensure_pipeline(conn, name, content_hash)

    def start_run(self, run: NewRun) -> RunRecord:
        """Record a new run (and its pipeline when new); returns it with its id."""
        now = self._now()
        started = run.started_at or (now if run.status == "running" else None)
        with self._write("start run") as conn:
            pipeline = self._ensure_pipeline(conn, run.pipeline, run.content_hash)
            cursor = conn.execute(
                "INSERT INTO runs (pipeline_id, provider, provider_run_id, event, ref, status,"
                " created_at, started_at, url, environment) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    pipeline.id,
                    run.provider,
                    run.provider_run_id,
                    run.event,
                    run.ref,
                    run.status,
                    _time(now),
                    _time(started),
                    run.url,
                    run.environment,
                ),
            )
            return self._run(conn, _rowid(cursor))

    def update_run(
        self,
        run_id: int,
        *,
        status: Status | None = None,
        started_at: datetime | None = None,
        url: str | None = None,
    ) -> RunRecord:
        """Change what is known of an unfinished run (queued -> running, a URL arrives)."""
        with self._write("update run") as conn:
            self._run(conn, run_id)
            conn.execute(
                "UPDATE runs SET status = coalesce(?, status),"
                " started_at = coalesce(?, started_at), url = coalesce(?, url) WHERE id = ?",
                (status, _time(started_at), url, run_id),
            )
            return self._run(conn, run_id)

    def finish_run(
        self, run_id: int, status: Status, *, finished_at: datetime | None = None
    ) -> RunRecord:
        """Record the end of a run with its final status."""
        at = _time(finished_at or self._now())
        with self._write("finish run") as conn:
            self._run(conn, run_id)
            conn.execute(
                "UPDATE runs SET status = ?, finished_at = ?,"
                " started_at = coalesce(started_at, ?) WHERE id = ?",
                (status, at, at, run_id),
            )
            return self._run(conn, run_id)

    def mark_interrupted(
        self, run_id: int, *, reason: str = "interrupted", at: datetime | None = None
    ) -> RunRecord:
        """Turn every queued or running row of a run into ``cancelled``, in one transaction.

        The run itself, its job runs and their attempts; rows that already ended keep their
        status. Attempts cut short get ``reason``. Returns the run as it now stands.
        """
        when = _time(at or self._now())
        open_ = _in(_OPEN)
        with self._write("mark run interrupted") as conn:
            self._run(conn, run_id)
            conn.execute(
                f"UPDATE attempts SET status = 'cancelled', finished_at = ?,"
                f" reason = coalesce(reason, ?) WHERE status IN {open_} AND job_run_id IN"
                f" (SELECT id FROM job_runs WHERE run_id = ?)",
                (when, reason, run_id),
            )
            conn.execute(
                f"UPDATE job_runs SET status = 'cancelled', finished_at = ?"
                f" WHERE run_id = ? AND status IN {open_}",
                (when, run_id),
            )
            conn.execute(
                f"UPDATE runs SET status = 'cancelled', finished_at = ?"
                f" WHERE id = ? AND status IN {open_}",
                (when, run_id),
            )
            return self._run(conn, run_id, with_jobs=True)

    def get_run(self, run_id: int) -> RunRecord:
        """The run with its jobs (in the order they were recorded) and their attempts.

        Raises:
            CICDError: no run has this id.
        """
        with self._read("read run") as conn:
            return self._run(conn, run_id, with_jobs=True)

    def find_run(self, provider: Provider, provider_run_id: str) -> RunRecord | None:
        """The run a provider knows by this id, with its jobs, or ``None``."""
        with self._read("find run") as conn:
            row = conn.execute(
                "SELECT id FROM runs WHERE provider = ? AND provider_run_id = ?",
                (provider, provider_run_id),
            ).fetchone()
            return None if row is None else self._run(conn, row["id"], with_jobs=True)

    def list_runs(self, filters: RunFilter | None = None) -> list[RunRecord]:
        """Runs matching ``filters``, newest first (by creation time, then id); no jobs."""
        f = filters or RunFilter()
        clauses: list[str] = []
        params: list[Any] = []
        for column, value in (
            ("pipelines.name", f.pipeline),
            ("runs.provider", f.provider),
            ("runs.event", f.event),
            ("runs.ref", f.ref),
            ("runs.environment", f.environment),
            ("runs.target", f.target),
        ):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        if f.status is not None:
            statuses = (f.status,) if isinstance(f.status, str) else tuple(f.status)
            clauses.append(f"runs.status IN ({', '.join('?' for _ in statuses)})")
            params.extend(statuses)
        if f.since is not None:
            clauses.append("runs.created_at >= ?")
            params.append(_time(f.since))
        if f.until is not None:
            clauses.append("runs.created_at < ?")
            params.append(_time(f.until))
        sql = _RUN_SELECT
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        sql += " ORDER BY runs.created_at DESC, runs.id DESC"
        if f.limit is not None:
            sql += " LIMIT ?"
            params.append(f.limit)
        with self._read("list runs") as conn:
            return [_run_record(row) for row in conn.execute(sql, params)]

    # Provider runs.

    def save_remote_run(self, run: NewRemoteRun) -> SavedRun:
        """Insert or update a provider run and its jobs, in one transaction; idempotent.

        The run is found by ``(provider, provider_run_id)``. Each job attempt is found by its
        ``provider_job_id`` within the run and updated; an unknown one becomes a new attempt of
        the run's job row of the same name (numbered by its ``attempt``, or after the highest
        number when that one is taken), or of a new job row. A job row then shows its latest
        attempt: status, provider job id, times, URL, and a duration from that attempt's own
        start and end. Saving the same run twice changes nothing and adds no row.
        """
        with self._write("save provider run") as conn:
            row = conn.execute(
                "SELECT id FROM runs WHERE provider = ? AND provider_run_id = ?",
                (run.provider, run.provider_run_id),
            ).fetchone()
            before = None if row is None else self._run(conn, row["id"], with_jobs=True)
            pipeline = self._ensure_pipeline(conn, run.pipeline, None)
            values = (
                pipeline.id,
                run.event,
                run.ref,
                run.status,
                _time(run.started_at),
                _time(run.finished_at),
                run.url,
                run.target,
                run.sha,
                run.attempt,
            )
            if before is None:
                cursor = conn.execute(
                    "INSERT INTO runs (pipeline_id, event, ref, status, started_at, finished_at,"
                    " url, target, sha, attempt, provider, provider_run_id, created_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        *values,
                        run.provider,
                        run.provider_run_id,
                        _time(run.created_at or self._now()),
                    ),
                )
                run_id = _rowid(cursor)
            else:
                run_id = before.id
                # A re-run (GitHub: a new run attempt) starts again: the provider's start and
                # end are taken as given, not kept from the earlier attempt.
                conn.execute(
                    "UPDATE runs SET pipeline_id = ?, event = coalesce(?, event),"
                    " ref = coalesce(?, ref), status = ?, started_at = ?, finished_at = ?,"
                    " url = coalesce(?, url), target = ?, sha = coalesce(?, sha), attempt = ?,"
                    " created_at = coalesce(?, created_at) WHERE id = ?",
                    (*values, _time(run.created_at), run_id),
                )
            if run.jobs is not None:
                for job in sorted(run.jobs, key=_attempt_order):
                    self._save_remote_job(conn, run_id, job)
            after = self._run(conn, run_id, with_jobs=True)
            return SavedRun(after, created=before is None, changed=before != after)

    def get_cursor(self, provider: RemoteProvider, target: str) -> datetime | None:
        """The newest run time a completed pull of this repository saw, or None."""
        with self._read("read pull cursor") as conn:
            row = conn.execute(
                "SELECT cursor FROM provider_state WHERE provider = ? AND target = ?",
                (provider, target),
            ).fetchone()
            return None if row is None else _parse_time(row["cursor"])

    def set_cursor(self, provider: RemoteProvider, target: str, at: datetime) -> datetime:
        """Record that runs of this repository up to ``at`` are saved; returns the cursor now.

        The cursor never moves back: an older ``at`` leaves the newer cursor in place.
        """
        with self._write("set pull cursor") as conn:
            conn.execute(
                "INSERT INTO provider_state (provider, target, cursor) VALUES (?, ?, ?)"
                " ON CONFLICT (provider, target) DO UPDATE SET cursor ="
                " CASE WHEN cursor IS NULL OR excluded.cursor > cursor"
                " THEN excluded.cursor ELSE cursor END",
                (provider, target, _time(at)),
            )
            row = conn.execute(
                "SELECT cursor FROM provider_state WHERE provider = ? AND target = ?",
                (provider, target),
            ).fetchone()
            moved = _parse_time(row["cursor"])
            assert moved is not None
            return moved

    def record_quota(
        self, provider: RemoteProvider, target: str, remaining: int, limit: int | None = None
    ) -> Quota:
        """Record how many requests are left (of ``limit``) for this repository's client."""
        at = self._now()
        with self._write("record quota") as conn:
            conn.execute(
                "INSERT INTO provider_state (provider, target, quota_remaining, quota_limit,"
                " quota_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (provider, target) DO UPDATE SET"
                " quota_remaining = excluded.quota_remaining, quota_limit = excluded.quota_limit,"
                " quota_at = excluded.quota_at",
                (provider, target, remaining, limit, _time(at)),
            )
        return Quota(provider, target, remaining, limit, at)

    def latest_quota(self, provider: RemoteProvider, target: str) -> Quota | None:
        """The quota figure recorded last for this repository, or None."""
        with self._read("read quota") as conn:
            row = conn.execute(
                "SELECT quota_remaining, quota_limit, quota_at FROM provider_state"
                " WHERE provider = ? AND target = ? AND quota_at IS NOT NULL",
                (provider, target),
            ).fetchone()
        if row is None:
            return None
        at = _parse_time(row["quota_at"])
        assert at is not None
        return Quota(provider, target, int(row["quota_remaining"]), row["quota_limit"], at)

    # Jobs and attempts.

    def start_job(self, job: NewJob) -> JobRunRecord:
        """Record a job instance of a run; returns it with its id."""
        started = job.started_at or (self._now() if job.status == "running" else None)
        with self._write("start job") as conn:
            self._run(conn, job.run_id)
            cursor = conn.execute(
                "INSERT INTO job_runs (run_id, name, matrix, status, allowed_failure,"
                " started_at, log_path, provider_job_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    job.run_id,
                    job.name,
                    None if job.matrix is None else _json(dict(job.matrix)),
                    job.status,
                    int(job.allowed_failure),
                    _time(started),
                    job.log_path,
                    job.provider_job_id,
                ),
            )
            return self._job(conn, _rowid(cursor))

    def record_attempt(self, attempt: NewAttempt) -> AttemptRecord:
        """Record an attempt, or update it when its number is already recorded.

        The runner records attempt N as ``running`` when it starts and again with its
        outcome when it ends; the job's attempt count follows the highest number seen.
        """
        with self._write("record attempt") as conn:
            self._job(conn, attempt.job_run_id)
            conn.execute(
                "INSERT INTO attempts (job_run_id, number, status, exit_code, started_at,"
                " finished_at, reason) VALUES (?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (job_run_id, number) DO UPDATE SET status = excluded.status,"
                " exit_code = coalesce(excluded.exit_code, exit_code),"
                " started_at = coalesce(excluded.started_at, started_at),"
                " finished_at = coalesce(excluded.finished_at, finished_at),"
                " reason = coalesce(excluded.reason, reason)",
                (
                    attempt.job_run_id,
                    attempt.number,
                    attempt.status,
                    attempt.exit_code,
                    _time(attempt.started_at),
                    _time(attempt.finished_at),
                    attempt.reason,
                ),
            )
            conn.execute(
                "UPDATE job_runs SET attempts = max(attempts, ?) WHERE id = ?",
                (attempt.number, attempt.job_run_id),
            )
            row = conn.execute(
                "SELECT * FROM attempts WHERE job_run_id = ? AND number = ?",
                (attempt.job_run_id, attempt.number),
            ).fetchone()
            return _attempt_record(row)

    def finish_job(
        self,
        job_run_id: int,
        status: Status,
        *,
        exit_code: int | None = None,
        duration: float | None = None,
        finished_at: datetime | None = None,
    ) -> JobRunRecord:
        """Record the end of a job instance.

        ``duration`` is taken as given (measure it with a monotonic clock); without it, it is
        the time from the job's start to ``finished_at``, or null if it never started.
        """
        end = finished_at or self._now()
        with self._write("finish job") as conn:
            job = self._job(conn, job_run_id)
            if duration is None and job.started_at is not None:
                duration = max(0.0, (end - job.started_at).total_seconds())
            conn.execute(
                "UPDATE job_runs SET status = ?, exit_code = coalesce(?, exit_code),"
                " finished_at = ?, duration = ? WHERE id = ?",
                (status, exit_code, _time(end), duration, job_run_id),
            )
            return self._job(conn, job_run_id, with_attempts=True)

    # Audit log.

    def audit(
        self,
        actor: str,
        action: str,
        details: Mapping[str, Any] | None = None,
        *,
        at: datetime | None = None,
    ) -> AuditEntry:
        """Append to the audit log; ``details`` must be JSON-able facts, never secret values.

        Raises:
            ValueError: a key of ``details`` names a credential (``token``, ``password``...).
        """
        facts = dict(details or {})
        _check_audit_details(facts)
        text = _json(facts)
        with self._write("write audit log") as conn:
            cursor = conn.execute(
                "INSERT INTO audit_log (at, actor, action, details) VALUES (?, ?, ?, ?)",
                (_time(at or self._now()), actor, action, text),
            )
            row = conn.execute("SELECT * FROM audit_log WHERE id = ?", (_rowid(cursor),)).fetchone()
            return _audit_entry(row)

    def audit_log(self, *, action: str | None = None, limit: int | None = None) -> list[AuditEntry]:
        """Audit entries, oldest first, optionally of one action and at most ``limit``."""
        sql = "SELECT * FROM audit_log"
        params: list[Any] = []
        if action is not None:
            sql += " WHERE action = ?"
            params.append(action)
        sql += " ORDER BY at, id"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        with self._read("read audit log") as conn:
            return [_audit_entry(row) for row in conn.execute(sql, params)]

    # Internals.

    def _now(self) -> datetime:
        now = self._clock()
        if now.tzinfo is None:
            raise ValueError("the store's clock returned a naive datetime")
        return now

    @contextmanager
    def _translated(self, operation: str) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise CICDError(f"store {self.path}: cannot {operation}: {exc}") from exc
        except OSError as exc:
            raise CICDError(f"store {self.path}: cannot {operation}: {exc}") from exc

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise CICDError(f"store {self.path}: used after close")
        return self._conn

    @contextmanager
    def _read(self, operation: str = "read") -> Iterator[sqlite3.Connection]:
        with self._lock, self._translated(operation):
            yield self._connection()

    @contextmanager
    def _write(self, operation: str) -> Iterator[sqlite3.Connection]:
        with self._lock, self._translated(operation):
            conn = self._connection()
            # IMMEDIATE takes the write lock up front (waiting up to the busy timeout), so two
            # writers never deadlock upgrading a read transaction.
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    def _prepare(self, conn: sqlite3.Connection, timeout: float) -> None:
        # Switching a new file to WAL takes an exclusive lock for which SQLite does not call
        # the busy handler, so two processes opening a new store at once can see "database is
        # locked" right away. Both steps are idempotent: retry them until the busy timeout.
        deadline = time.monotonic() + timeout
        delay = 0.005
        while True:
            try:
                mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                if str(mode).lower() != "wal":
                    raise CICDError(f"store {self.path}: cannot use WAL journal (got {mode!r})")
                self._migrate(conn)
                return
            except sqlite3.OperationalError as exc:
                busy = (exc.sqlite_errorcode & 0xFF) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
                if not busy or time.monotonic() + delay > deadline:
                    raise
            time.sleep(delay)
            delay = min(delay * 2, 0.2)

    def _migrate(self, conn: sqlite3.Connection) -> None:
        found = int(conn.execute("PRAGMA user_version").fetchone()[0])
        if found > SCHEMA_VERSION:
            raise CICDError(
                f"store {self.path}: schema version {found} is newer than this version of"
                f" codomyrmex understands ({SCHEMA_VERSION}); upgrade codomyrmex-ci-cd or use"
                " another store path"
            )
        if found == SCHEMA_VERSION:
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Read again under the write lock: another process may have migrated meanwhile.
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            if version > SCHEMA_VERSION:
                raise CICDError(
                    f"store {self.path}: schema version {version} is newer than"
                    f" {SCHEMA_VERSION}; upgrade codomyrmex-ci-cd"
                )
            for migrate in _MIGRATIONS[version:]:
                migrate(conn)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def _ensure_pipeline(
        self, conn: sqlite3.Connection, name: str, content_hash: str | None
    ) -> PipelineRecord:
        key = (name, content_hash or "")
        row = conn.execute(
            "SELECT * FROM pipelines WHERE name = ? AND content_hash = ?", key
        ).fetchone()
        if row is None:
            cursor = conn.execute(
                "INSERT INTO pipelines (name, content_hash, created_at) VALUES (?, ?, ?)",
                (*key, _time(self._now())),
            )
            row = conn.execute("SELECT * FROM pipelines WHERE id = ?", (_rowid(cursor),)).fetchone()
        return _pipeline_record(row)

    def _run(self, conn: sqlite3.Connection, run_id: int, *, with_jobs: bool = False) -> RunRecord:
        row = conn.execute(_RUN_SELECT + " WHERE runs.id = ?", (run_id,)).fetchone()
        if row is None:
            raise CICDError(f"store {self.path}: no run {run_id}")
        if not with_jobs:
            return _run_record(row)
        attempts: dict[int, list[AttemptRecord]] = {}
        for a in conn.execute(
            "SELECT attempts.* FROM attempts JOIN job_runs ON job_runs.id = attempts.job_run_id"
            " WHERE job_runs.run_id = ? ORDER BY attempts.job_run_id, attempts.number",
            (run_id,),
        ):
            attempts.setdefault(a["job_run_id"], []).append(_attempt_record(a))
        jobs = tuple(
            _job_record(j, tuple(attempts.get(j["id"], ())))
            for j in conn.execute("SELECT * FROM job_runs WHERE run_id = ? ORDER BY id", (run_id,))
        )
        return _run_record(row, jobs)

    def _save_remote_job(self, conn: sqlite3.Connection, run_id: int, job: NewRemoteJob) -> None:
        found = conn.execute(
            "SELECT attempts.id, attempts.job_run_id FROM attempts"
            " JOIN job_runs ON job_runs.id = attempts.job_run_id"
            " WHERE job_runs.run_id = ? AND attempts.provider_job_id = ?",
            (run_id, job.provider_job_id),
        ).fetchone()
        times = (_time(job.queued_at), _time(job.started_at), _time(job.finished_at))
        if found is not None:
            job_run_id = found["job_run_id"]
            conn.execute(
                "UPDATE attempts SET status = ?, queued_at = ?, started_at = ?, finished_at = ?,"
                " url = coalesce(?, url) WHERE id = ?",
                (job.status, *times, job.url, found["id"]),
            )
        else:
            row = conn.execute(
                "SELECT id FROM job_runs WHERE run_id = ? AND name = ? ORDER BY id LIMIT 1",
                (run_id, job.name),
            ).fetchone()
            if row is None:
                cursor = conn.execute(
                    "INSERT INTO job_runs (run_id, name, status, allowed_failure)"
                    " VALUES (?, ?, ?, ?)",
                    (run_id, job.name, job.status, int(job.allowed_failure)),
                )
                job_run_id = _rowid(cursor)
            else:
                job_run_id = row["id"]
            taken = {
                r["number"]
                for r in conn.execute(
                    "SELECT number FROM attempts WHERE job_run_id = ?", (job_run_id,)
                )
            }
            number = max(1, job.attempt)
            if number in taken:
                number = max(taken) + 1
            conn.execute(
                "INSERT INTO attempts (job_run_id, number, status, queued_at, started_at,"
                " finished_at, url, provider_job_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (job_run_id, number, job.status, *times, job.url, job.provider_job_id),
            )
        latest = conn.execute(
            "SELECT * FROM attempts WHERE job_run_id = ? ORDER BY number DESC LIMIT 1",
            (job_run_id,),
        ).fetchone()
        started, finished = _parse_time(latest["started_at"]), _parse_time(latest["finished_at"])
        duration = (
            None
            if started is None or finished is None
            else max(0.0, (finished - started).total_seconds())
        )
        conn.execute(
            "UPDATE job_runs SET status = ?, attempts = ?, allowed_failure = ?,"
            " provider_job_id = ?, queued_at = ?, started_at = ?, finished_at = ?, duration = ?,"
            " url = ? WHERE id = ?",
            (
                latest["status"],
                latest["number"],
                int(job.allowed_failure),
                latest["provider_job_id"],
                latest["queued_at"],
                latest["started_at"],
                latest["finished_at"],
                duration,
                latest["url"],
                job_run_id,
            ),
        )

    def _job(
        self, conn: sqlite3.Connection, job_run_id: int, *, with_attempts: bool = False
    ) -> JobRunRecord:
        row = conn.execute("SELECT * FROM job_runs WHERE id = ?", (job_run_id,)).fetchone()
        if row is None:
            raise CICDError(f"store {self.path}: no job run {job_run_id}")
        attempts: tuple[AttemptRecord, ...] = ()
        if with_attempts:
            attempts = tuple(
                _attempt_record(a)
                for a in conn.execute(
                    "SELECT * FROM attempts WHERE job_run_id = ? ORDER BY number", (job_run_id,)
                )
            )
        return _job_record(row, attempts)


def _attempt_order(job: NewRemoteJob) -> tuple[int, int, str]:
    # Earlier attempts first, then the provider's id order (numeric ids grow with time), so
    # job rows and attempt numbers come out in the order the provider made them.
    pid = job.provider_job_id
    return (job.attempt, int(pid) if pid.isdigit() else 0, pid)


def _rowid(cursor: sqlite3.Cursor) -> int:
    rowid = cursor.lastrowid
    if rowid is None:  # pragma: no cover - an INSERT always sets it
        raise CICDError("store: insert returned no row id")
    return rowid


def _audit_entry(row: sqlite3.Row) -> AuditEntry:
    return AuditEntry(
        id=row["id"],
        at=datetime.fromisoformat(row["at"]),
        actor=row["actor"],
        action=row["action"],
        details=json.loads(row["details"]),
    )


def open_store(
    path: str | Path = DEFAULT_PATH,
    *,
    clock: Callable[[], datetime] = _utc_now,
    timeout: float = BUSY_TIMEOUT,
) -> Store:
    """Open (creating or migrating) the store at ``path``; same as ``Store(path)``."""
    return Store(path, clock=clock, timeout=timeout)
