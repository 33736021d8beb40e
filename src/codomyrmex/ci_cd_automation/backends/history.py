"""Provider run history into the store: one run at a time, and incremental pulls.

It converts ``RemoteRun`` into the store's ``NewRemoteRun`` (the store does not import backends).
A pull saves each run as soon as it is read and moves the cursor only once everything listed is
saved, so an interrupted pull loses nothing. See docs/sync-and-polling.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ..literals import OPEN_STATUSES, Provider, RunProvider
from ..store import NewRemoteJob, NewRemoteRun, RunFilter, RunRecord, SavedRun, Store
from .base import RemoteJob, RemoteRun, RunBackend

__all__ = ["PullReport", "pull_runs", "save_run", "to_store"]


@dataclass(frozen=True)
class PullReport:
    """What one pull did.

    Attributes:
        provider, target: the repository pulled.
        since: the lower bound the listing used (``max(since, cursor)``), or None for all.
        seen: runs the listing returned.
        new: runs the store did not know.
        updated: known runs that changed (status, times, attempt or jobs).
        unchanged: listed runs saved again with no change.
        refreshed: stored unfinished runs outside the listing that were read again.
        jobs_fetched: runs whose jobs were read (one ``get_run`` each).
        requests: requests the backend's client sent during the pull, when it counts them.
        cursor: the pull cursor after the pull.
    """

    provider: Provider
    target: str
    since: datetime | None
    seen: int
    new: int
    updated: int
    unchanged: int
    refreshed: int
    jobs_fetched: int
    requests: int | None
    cursor: datetime | None

    def format(self) -> str:
        """One line: what the pull found and what it cost."""
        since = self.since.isoformat() if self.since else "the beginning"
        cost = f", {self.requests} requests" if self.requests is not None else ""
        return (
            f"{self.provider} {self.target}: {self.seen} runs since {since}: {self.new} new, "
            f"{self.updated} updated, {self.unchanged} unchanged, {self.refreshed} unfinished "
            f"refreshed, jobs read for {self.jobs_fetched}{cost}"
        )


def to_store(run: RemoteRun, *, jobs: bool | None = None) -> NewRemoteRun:
    """``run`` in the store's terms; with ``jobs`` False (default: when it has jobs) the
    stored jobs are left as they are."""
    with_jobs = bool(run.jobs) if jobs is None else jobs
    return NewRemoteRun(
        provider=_remote(run.provider),
        target=run.target,
        provider_run_id=run.provider_run_id,
        pipeline=run.pipeline,
        status=run.status,
        event=run.event,
        ref=run.ref,
        sha=run.sha,
        attempt=run.attempt,
        created_at=run.created_at,
        started_at=run.started_at,
        finished_at=run.finished_at,
        url=run.url,
        jobs=tuple(_job(j) for j in run.jobs) if with_jobs else None,
    )


def save_run(store: Store, run: RemoteRun, *, jobs: bool | None = None) -> SavedRun:
    """Insert or update ``run`` (and its jobs, see ``to_store``) in ``store``; idempotent.

    Raises:
        ValueError: ``run`` is a local run (the local runner writes those itself).
    """
    return store.save_remote_run(to_store(run, jobs=jobs))


def pull_runs(
    backend: RunBackend,
    store: Store,
    *,
    since: datetime | None,
    jobs: bool = True,
    target: str | None = None,
) -> PullReport:
    """Read the runs of ``backend``'s repository since ``max(since, cursor)`` into ``store``.

    Args:
        backend: any ``RunBackend``.
        store: the open store.
        since: the oldest creation time wanted (``--since 30d``), or None for all history.
        jobs: read the jobs of new, changed and unfinished runs (one ``get_run`` each).
        target: the repository (``owner/name``, ``group/name``); default: the backend's
            ``repo``, ``project`` or ``target`` attribute.

    Raises:
        ValueError: the backend is the local one (its runs are the store's already), or the
            repository cannot be told.
        ProviderError: from the backend; every run read before it is saved.
    """
    provider = _remote(backend.provider)
    where = target or _target_of(backend)
    budget = getattr(backend, "budget", None)
    used_before = _used(budget)
    cursor = store.get_cursor(provider, where)
    bound = _later(since, cursor)
    seen = new = updated = unchanged = fetched = refreshed = 0
    newest = cursor
    listed: set[str] = set()
    for run in backend.list_runs(since=bound):
        seen += 1
        listed.add(run.provider_run_id)
        if run.created_at is not None:
            newest = _later(newest, run.created_at)
        stored = store.find_run(provider, run.provider_run_id)
        if jobs and (stored is None or not run.finished or _differs(stored, run)):
            run = backend.get_run(run.provider_run_id, jobs=True)
            fetched += 1
            saved = save_run(store, run, jobs=True)
        else:
            saved = save_run(store, run, jobs=False)
        if saved.created:
            new += 1
        elif saved.changed:
            updated += 1
        else:
            unchanged += 1
    for stale in store.list_runs(RunFilter(provider=provider, target=where, status=OPEN_STATUSES)):
        if stale.provider_run_id is None or stale.provider_run_id in listed:
            continue
        run = backend.get_run(stale.provider_run_id, jobs=jobs)
        fetched += int(jobs)
        refreshed += 1
        if save_run(store, run, jobs=jobs).changed:
            updated += 1
    if newest is not None:
        newest = store.set_cursor(provider, where, newest)
    if budget is not None and getattr(budget, "remaining", None) is not None:
        store.record_quota(provider, where, int(budget.remaining), getattr(budget, "limit", None))
    used_after = _used(budget)
    return PullReport(
        provider=provider,
        target=where,
        since=bound,
        seen=seen,
        new=new,
        updated=updated,
        unchanged=unchanged,
        refreshed=refreshed,
        jobs_fetched=fetched,
        requests=None if used_before is None or used_after is None else used_after - used_before,
        cursor=newest,
    )


def _job(job: RemoteJob) -> NewRemoteJob:
    return NewRemoteJob(
        provider_job_id=job.provider_job_id,
        name=job.name,
        status=job.status,
        attempt=job.attempt,
        allowed_failure=job.allowed_failure,
        queued_at=job.queued_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        url=job.url,
    )


def _differs(stored: RunRecord, run: RemoteRun) -> bool:
    # What a listing shows of a run that says its jobs may have changed.
    return (
        stored.status != run.status
        or stored.attempt != run.attempt
        or stored.started_at != run.started_at
        or stored.finished_at != run.finished_at
    )


def _remote(provider: RunProvider) -> Provider:
    if provider == "local":
        raise ValueError("local runs are written to the store by the local runner; nothing to pull")
    return provider


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b)


def _target_of(backend: RunBackend) -> str:
    for name in ("repo", "project", "target"):
        value = getattr(backend, name, None)
        if isinstance(value, str) and value:
            return value
    raise ValueError(f"cannot tell which repository {type(backend).__name__} reads; pass target=")


def _used(budget: object) -> int | None:
    used = getattr(budget, "used", None)
    return used if isinstance(used, int) else None
