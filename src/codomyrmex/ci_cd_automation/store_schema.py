"""The store's versioned schema: the migrations that build ``.cicd/state.db``, in order.

What this module owns: the SQL of every schema version, ``SCHEMA_VERSION`` and the SQL value
lists of the words the schema fixes. ``_MIGRATIONS[n]`` takes a database from version ``n`` to
``n + 1``; ``store.Store`` runs the pending ones in one transaction that also sets ``PRAGMA
user_version`` (docs/store.md, "Schema versions and migrations").

Invariants:

* Migrations are append-only: a released one is never edited; a change to the schema is a new
  version, whose comment says why it exists. The comments are the schema's history.
* A migration is a sequence of single statements run on the caller's connection, inside the
  caller's transaction: nothing here commits.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

__all__ = ["SCHEMA_VERSION"]


def _in(values: tuple[str, ...]) -> str:
    """A SQL list of literal values, ``('queued', 'running')``, for words the schema fixes."""
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


# The value lists of the CHECK constraints are spelled out, not derived from the Literal types:
# a released migration must not change when a type gains a value (that takes a new migration).

# Version 1: what the local runner writes.
_V1: tuple[str, ...] = (
    """CREATE TABLE pipelines (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL,
        content_hash TEXT NOT NULL DEFAULT '',
        created_at TEXT NOT NULL,
        UNIQUE (name, content_hash)
    )""",
    """CREATE TABLE runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        pipeline_id INTEGER NOT NULL REFERENCES pipelines(id),
        provider TEXT NOT NULL CHECK (provider IN ('local', 'github', 'gitlab')),
        provider_run_id TEXT,
        event TEXT,
        ref TEXT,
        status TEXT NOT NULL CHECK (status IN
            ('queued', 'running', 'success', 'failed', 'cancelled', 'skipped')),
        created_at TEXT NOT NULL,
        started_at TEXT,
        finished_at TEXT,
        url TEXT,
        environment TEXT
    )""",
    "CREATE INDEX runs_by_created ON runs (created_at DESC, id DESC)",
    "CREATE INDEX runs_by_pipeline ON runs (pipeline_id, created_at DESC)",
    """CREATE TABLE job_runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        matrix TEXT,
        status TEXT NOT NULL CHECK (status IN
            ('queued', 'running', 'success', 'failed', 'cancelled', 'skipped')),
        attempts INTEGER NOT NULL DEFAULT 0,
        allowed_failure INTEGER NOT NULL DEFAULT 0 CHECK (allowed_failure IN (0, 1)),
        exit_code INTEGER,
        started_at TEXT,
        finished_at TEXT,
        duration REAL,
        log_path TEXT
    )""",
    "CREATE INDEX job_runs_by_run ON job_runs (run_id, id)",
    """CREATE TABLE attempts (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        job_run_id INTEGER NOT NULL REFERENCES job_runs(id) ON DELETE CASCADE,
        number INTEGER NOT NULL CHECK (number >= 1),
        status TEXT NOT NULL CHECK (status IN
            ('queued', 'running', 'success', 'failed', 'cancelled', 'skipped')),
        exit_code INTEGER,
        started_at TEXT,
        finished_at TEXT,
        reason TEXT,
        UNIQUE (job_run_id, number)
    )""",
    """CREATE TABLE audit_log (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        details TEXT NOT NULL DEFAULT '{}'
    )""",
    "CREATE INDEX audit_by_at ON audit_log (at, id)",
)

# Version 2: what the provider backends and deployments need. A provider run is
# stored once (a second `runs pull` updates it rather than adding a copy), a job keeps the
# provider's own id, and deployments get their table.
_V2: tuple[str, ...] = (
    "CREATE UNIQUE INDEX runs_by_provider_id ON runs (provider, provider_run_id)"
    " WHERE provider_run_id IS NOT NULL",
    "ALTER TABLE job_runs ADD COLUMN provider_job_id TEXT",
    """CREATE TABLE deployments (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        pipeline_id INTEGER NOT NULL REFERENCES pipelines(id),
        run_id INTEGER REFERENCES runs(id) ON DELETE SET NULL,
        environment TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN
            ('pending', 'in_progress', 'completed', 'failed', 'rolled_back')),
        artifacts TEXT NOT NULL DEFAULT '[]',
        started_at TEXT NOT NULL,
        finished_at TEXT,
        url TEXT,
        rollback_of INTEGER REFERENCES deployments(id)
    )""",
    "CREATE INDEX deployments_by_env ON deployments (environment, started_at DESC)",
)


def _statements(statements: tuple[str, ...]) -> Callable[[sqlite3.Connection], None]:
    # Statement by statement: `executescript` would commit the migration's transaction.
    def migrate(conn: sqlite3.Connection) -> None:
        for statement in statements:
            conn.execute(statement)

    return migrate


# Version 3: provider runs pulled in full. A run knows its repository (``target``),
# commit and run attempt; a job and each of its attempts keep the provider's job id, the time
# it was queued and its web page, so that a job the provider retried (a new provider job id
# under the same name) is a new attempt of the same job row. ``provider_state`` holds, per
# repository, the pull cursor and the last quota figure seen.
_V3: tuple[str, ...] = (
    "ALTER TABLE runs ADD COLUMN target TEXT",
    "ALTER TABLE runs ADD COLUMN sha TEXT",
    "ALTER TABLE runs ADD COLUMN attempt INTEGER NOT NULL DEFAULT 1",
    "CREATE INDEX runs_by_target ON runs (provider, target, status) WHERE target IS NOT NULL",
    "ALTER TABLE job_runs ADD COLUMN queued_at TEXT",
    "ALTER TABLE job_runs ADD COLUMN url TEXT",
    "ALTER TABLE attempts ADD COLUMN provider_job_id TEXT",
    "ALTER TABLE attempts ADD COLUMN queued_at TEXT",
    "ALTER TABLE attempts ADD COLUMN url TEXT",
    "CREATE UNIQUE INDEX attempts_by_provider_job ON attempts (job_run_id, provider_job_id)"
    " WHERE provider_job_id IS NOT NULL",
    "CREATE TABLE provider_state (provider TEXT NOT NULL, target TEXT NOT NULL, cursor TEXT,"
    " quota_remaining INTEGER, quota_limit INTEGER, quota_at TEXT,"
    " PRIMARY KEY (provider, target))",
)

_MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (
    _statements(_V1),
    _statements(_V2),
    _statements(_V3),
)
SCHEMA_VERSION = len(_MIGRATIONS)
