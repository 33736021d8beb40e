"""The store's dataclasses: what callers hand to ``store.Store`` and what it hands back.

What this module owns: the frozen records of the store's API (``New*`` and ``RunFilter`` in,
``*Record``, ``SavedRun``, ``Quota`` and ``AuditEntry`` out) and the store's names of the shared
words. No SQL and no I/O: ``store`` converts rows to these records and back.

Invariants: every record is frozen; times are aware datetimes; no record has a field for a
secret value (docs/store.md, "What it never holds").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

# The store's names of the shared words (``literals``), kept because callers use them: a run's
# provider (``local`` too), a provider of remote runs, a run's or a job's status.
from .literals import Provider as RemoteProvider
from .literals import RunProvider as Provider
from .literals import RunStatus as Status

__all__ = [
    "AttemptRecord",
    "AuditEntry",
    "DeploymentStatus",
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
]

DeploymentStatus = Literal["pending", "in_progress", "completed", "failed", "rolled_back"]


# Dataclasses in.


@dataclass(frozen=True)
class NewRun:
    """A run about to be recorded; ``pipeline`` is the pipeline's name."""

    pipeline: str
    provider: Provider = "local"
    content_hash: str | None = None
    provider_run_id: str | None = None
    event: str | None = None
    ref: str | None = None
    status: Status = "running"
    environment: str | None = None
    url: str | None = None
    started_at: datetime | None = None  # defaults to now when the status is running


@dataclass(frozen=True)
class NewJob:
    """A job instance of a run about to be recorded; ``matrix`` is null for a plain job."""

    run_id: int
    name: str
    matrix: Mapping[str, Any] | None = None
    status: Status = "running"
    allowed_failure: bool = False
    log_path: str | None = None
    provider_job_id: str | None = None
    started_at: datetime | None = None  # defaults to now when the status is running


@dataclass(frozen=True)
class NewAttempt:
    """One attempt of a job run; recording number N again updates it (start, then end)."""

    job_run_id: int
    number: int
    status: Status
    exit_code: int | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    reason: str | None = None  # why it ended or was retried: "timeout", "exit code 1", ...


@dataclass(frozen=True)
class NewRemoteJob:
    """One job attempt of a provider run as the provider reported it.

    ``provider_job_id`` identifies the attempt; attempts share the job's ``name`` (a retried
    job is a new provider job with the same name and a higher ``attempt``).
    """

    provider_job_id: str
    name: str
    status: Status
    attempt: int = 1
    allowed_failure: bool = False
    queued_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    url: str | None = None


@dataclass(frozen=True)
class NewRemoteRun:
    """A provider run to insert or update; ``jobs`` None leaves the stored jobs as they are."""

    provider: RemoteProvider
    target: str
    provider_run_id: str
    pipeline: str
    status: Status
    event: str | None = None
    ref: str | None = None
    sha: str | None = None
    attempt: int = 1
    created_at: datetime | None = None  # defaults to now for a run the store did not know
    started_at: datetime | None = None
    finished_at: datetime | None = None
    url: str | None = None
    jobs: tuple[NewRemoteJob, ...] | None = None


@dataclass(frozen=True)
class RunFilter:
    """What ``list_runs`` keeps; every field left ``None`` matches everything."""

    pipeline: str | None = None
    provider: Provider | None = None
    status: Status | Sequence[Status] | None = None
    event: str | None = None
    ref: str | None = None
    environment: str | None = None
    since: datetime | None = None  # created at or after
    until: datetime | None = None  # created before
    limit: int | None = None
    target: str | None = None  # a provider run's repository (owner/name, group/name)


# Dataclasses out.


@dataclass(frozen=True)
class PipelineRecord:
    """A pipeline as the store knows it: one row per name and content hash."""

    id: int
    name: str
    content_hash: str | None
    created_at: datetime


@dataclass(frozen=True)
class AttemptRecord:
    """One stored attempt of a job run."""

    id: int
    job_run_id: int
    number: int
    status: Status
    exit_code: int | None
    started_at: datetime | None
    finished_at: datetime | None
    reason: str | None
    provider_job_id: str | None = None
    queued_at: datetime | None = None
    url: str | None = None


@dataclass(frozen=True)
class JobRunRecord:
    """One stored job instance with its attempts, oldest first."""

    id: int
    run_id: int
    name: str
    matrix: dict[str, Any] | None
    status: Status
    attempts: int
    allowed_failure: bool
    exit_code: int | None
    started_at: datetime | None
    finished_at: datetime | None
    duration: float | None
    log_path: str | None
    provider_job_id: str | None
    attempt_records: tuple[AttemptRecord, ...] = ()
    queued_at: datetime | None = None
    url: str | None = None


@dataclass(frozen=True)
class RunRecord:
    """One stored run; ``jobs`` is filled by ``get_run``, empty in ``list_runs``."""

    id: int
    pipeline: str
    content_hash: str | None
    provider: Provider
    provider_run_id: str | None
    event: str | None
    ref: str | None
    status: Status
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    url: str | None
    environment: str | None
    jobs: tuple[JobRunRecord, ...] = ()
    target: str | None = None
    sha: str | None = None
    attempt: int = 1


@dataclass(frozen=True)
class SavedRun:
    """What ``save_remote_run`` did: the run as stored now, whether it is new or changed."""

    run: RunRecord
    created: bool
    changed: bool


@dataclass(frozen=True)
class Quota:
    """A provider's remaining request quota as last recorded for a repository."""

    provider: RemoteProvider
    target: str
    remaining: int
    limit: int | None
    observed_at: datetime


@dataclass(frozen=True)
class AuditEntry:
    """One line of the audit log: who did what, with facts (never secret values)."""

    id: int
    at: datetime
    actor: str
    action: str
    details: dict[str, Any] = field(default_factory=dict)
