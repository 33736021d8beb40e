"""Pipeline health from the store: ``monitor_pipeline_health`` for local and provider runs.

It reads only the store, never a provider, and a term with no data scores 1: a pipeline is
healthy until the store shows otherwise. See docs/health-score.md.
"""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .errors import CICDError, MonitoringError, UsageError
from .literals import FINISHED_STATUSES, OPEN_STATUSES, RunProvider, parse_run_provider
from .store import DEFAULT_PATH, JobRunRecord, RunFilter, RunRecord, Store

__all__ = ["WEIGHTS", "health_terms", "monitor_pipeline_health"]

WEIGHTS: dict[str, float] = {
    "success": 40.0,
    "retries": 15.0,
    "timeouts": 15.0,
    "queue": 15.0,
    "run_time": 15.0,
}
_RUN_ID = re.compile(r"run:(\d+)")
_OPTIONS = frozenset(
    {
        "store_path",
        "provider",
        "target",
        "history",
        "queue_threshold",
        "rate_limit_remaining",
        "rate_limit_limit",
        "rate_limit_threshold",
        "rate_limit_floor",
        "now",
    }
)
_MIN_SAMPLES = 3


@dataclass(frozen=True)
class _Options:
    store_path: Path
    provider: RunProvider | None
    target: str | None
    history: int
    queue_threshold: float
    rate_limit_remaining: int | None
    rate_limit_limit: int | None
    rate_limit_threshold: float
    rate_limit_floor: int
    now: datetime


def monitor_pipeline_health(pipeline_id: str, **kwargs: Any) -> dict[str, Any]:
    """The health of a pipeline's newest run (or of ``run:<n>``) against its history.

    Keyword Args:
        store_path: the store (default ``.cicd/state.db``).
        provider, target: which pipeline of that name (``github``, ``owner/name``...).
        history: finished runs to compare with (20).
        queue_threshold: seconds a job may wait queued before an alert (600).
        rate_limit_remaining, rate_limit_limit: a quota figure from the caller.
        rate_limit_threshold: alert at or below this share of the limit (0.1).
        rate_limit_floor: alert at or below this many requests when the limit is unknown (100).
        now: the current aware time (tests).

    Returns:
        A dictionary: ``pipeline_id``, ``status``, ``health_score``, ``current_stage``,
        ``progress_percentage``, ``metrics``, ``alerts``.

    Raises:
        MonitoringError: unknown pipeline or run; a missing or unreadable store.
        UsageError: an unknown keyword or a bad value.
    """
    options = _options(kwargs)
    if not options.store_path.is_file():
        raise MonitoringError(f"no store at {options.store_path}: nothing has run there yet")
    try:
        with Store(options.store_path) as store:
            run = _find(store, pipeline_id, options)
            history = _history(store, run, options)
            quota = _quota(store, run, options)
    except MonitoringError:
        raise
    except CICDError as exc:
        raise MonitoringError(f"cannot read pipeline health: {exc}") from exc
    return _health(pipeline_id, run, history, quota, options)


def health_terms(run: RunRecord, history: list[RunRecord], *, now: datetime) -> dict[str, float]:
    """The five terms of ``health_score`` (each in [0, 1]) for ``run`` against ``history``."""
    window = ([run] if run.status in FINISHED_STATUSES else []) + history
    decided = [r for r in window if r.status in ("success", "failed", "cancelled")]
    jobs = [j for r in window for j in r.jobs]
    attempts = [a for j in jobs for a in j.attempt_records]
    run_queue = _mean_queue(run, now)
    past_queue = [q for q in (_mean_queue(r, now) for r in history) if q is not None]
    run_time = _duration(run, now)
    past_time = [d for d in (_duration(r, now) for r in history) if d is not None]
    return {
        "success": (
            1.0 if not decided else sum(r.status == "success" for r in decided) / len(decided)
        ),
        "retries": 1.0 if not jobs else 1 - sum(j.attempts > 1 for j in jobs) / len(jobs),
        "timeouts": (
            1.0
            if not attempts
            else 1 - sum((a.reason or "").startswith("timeout") for a in attempts) / len(attempts)
        ),
        "queue": _slowness(run_queue, past_queue),
        "run_time": _slowness(run_time, past_time),
    }


# Reading the store.


def _options(kwargs: dict[str, Any]) -> _Options:
    unknown = sorted(set(kwargs) - _OPTIONS)
    if unknown:
        raise UsageError(
            f"monitor_pipeline_health: unknown option {unknown[0]!r};"
            f" known: {', '.join(sorted(_OPTIONS))}"
        )
    now = kwargs.get("now") or datetime.now(UTC)
    if now.tzinfo is None:
        raise UsageError("monitor_pipeline_health: now must be an aware datetime")
    history = int(kwargs.get("history", 20))
    if history < 0:
        raise UsageError(f"monitor_pipeline_health: history must not be negative, not {history}")
    remaining = kwargs.get("rate_limit_remaining")
    limit = kwargs.get("rate_limit_limit")
    provider = kwargs.get("provider")
    return _Options(
        store_path=Path(kwargs.get("store_path") or DEFAULT_PATH),
        provider=None if provider is None else parse_run_provider(str(provider)),
        target=kwargs.get("target"),
        history=history,
        queue_threshold=float(kwargs.get("queue_threshold", 600.0)),
        rate_limit_remaining=None if remaining is None else int(remaining),
        rate_limit_limit=None if limit is None else int(limit),
        rate_limit_threshold=float(kwargs.get("rate_limit_threshold", 0.1)),
        rate_limit_floor=int(kwargs.get("rate_limit_floor", 100)),
        now=now,
    )


def _find(store: Store, pipeline_id: str, options: _Options) -> RunRecord:
    match = _RUN_ID.fullmatch(pipeline_id)
    if match:
        try:
            return store.get_run(int(match.group(1)))
        except CICDError as exc:
            raise MonitoringError(
                f'unknown run "{pipeline_id}": the store has no such run'
            ) from exc
    found = store.list_runs(
        RunFilter(
            pipeline=pipeline_id,
            provider=options.provider,
            target=options.target,
            limit=1,
        )
    )
    if not found:
        where = "".join(
            f" {k} {v!r}" for k, v in (("on", options.provider), ("in", options.target)) if v
        )
        raise MonitoringError(
            f'unknown pipeline "{pipeline_id}"{where}: no run of it in {options.store_path}'
            ' (give a pipeline name, or "run:<id>")'
        )
    return store.get_run(found[0].id)


def _history(store: Store, run: RunRecord, options: _Options) -> list[RunRecord]:
    if options.history == 0:
        return []
    earlier = store.list_runs(
        RunFilter(
            pipeline=run.pipeline,
            provider=run.provider,
            target=run.target,
            status=FINISHED_STATUSES,
            until=run.created_at,
            limit=options.history,
        )
    )
    return [store.get_run(r.id) for r in earlier if r.id != run.id]


def _quota(store: Store, run: RunRecord, options: _Options) -> tuple[int, int | None] | None:
    if options.rate_limit_remaining is not None:
        return options.rate_limit_remaining, options.rate_limit_limit
    if run.provider == "local" or run.target is None:
        return None
    recorded = store.latest_quota(run.provider, run.target)
    return None if recorded is None else (recorded.remaining, recorded.limit)


# The health dict.


def _health(
    pipeline_id: str,
    run: RunRecord,
    history: list[RunRecord],
    quota: tuple[int, int | None] | None,
    options: _Options,
) -> dict[str, Any]:
    now = options.now
    terms = health_terms(run, history, now=now)
    score = sum(WEIGHTS[name] * value for name, value in terms.items())
    finished_jobs = [j for j in run.jobs if j.status in FINISHED_STATUSES]
    if run.status in FINISHED_STATUSES:
        progress = 100.0
    else:
        progress = 100.0 * len(finished_jobs) / len(run.jobs) if run.jobs else 0.0
    past_times = [d for d in (_duration(r, now) for r in history) if d is not None]
    metrics: dict[str, Any] = {
        "run_id": run.id,
        "run_status": run.status,
        "provider": run.provider,
        "target": run.target,
        "provider_run_id": run.provider_run_id,
        "pipeline": run.pipeline,
        "url": run.url,
        "created_at": run.created_at.isoformat(),
        "duration": _duration(run, now),
        "queue_time": _mean_queue(run, now),
        "jobs_total": len(run.jobs),
        "jobs_finished": len(finished_jobs),
        "jobs_failed": sum(j.status == "failed" for j in run.jobs),
        "retried_jobs": sum(j.attempts > 1 for j in run.jobs),
        "history_runs": len(history),
        "history_success_rate": _rate(history),
        "history_median_duration": statistics.median(past_times) if past_times else None,
        "health_terms": {name: round(value, 4) for name, value in terms.items()},
        "rate_limit": None if quota is None else {"remaining": quota[0], "limit": quota[1]},
    }
    return {
        "pipeline_id": pipeline_id,
        "status": _spec_status(run.status),
        "health_score": round(score, 1),
        "current_stage": _current(run),
        "progress_percentage": round(progress, 1),
        "metrics": metrics,
        "alerts": _alerts(run, history, quota, options),
    }


def _alerts(
    run: RunRecord,
    history: list[RunRecord],
    quota: tuple[int, int | None] | None,
    options: _Options,
) -> list[dict[str, Any]]:
    now = options.now
    alerts: list[dict[str, Any]] = []
    for job in run.jobs:
        if job.status == "failed":
            allowed = job.allowed_failure
            alerts.append(
                _alert(
                    "job-failed",
                    "warning" if allowed else "error",
                    job.name,
                    f'job "{job.name}" failed'
                    + (" (allowed to fail)" if allowed else "")
                    + (f" after {job.attempts} attempts" if job.attempts > 1 else ""),
                )
            )
        took = _job_time(job, now)
        past = [
            d
            for r in history
            for j in r.jobs
            if j.name == job.name and j.status in FINISHED_STATUSES
            for d in [_job_time(j, now)]
            if d is not None
        ]
        if took is not None and len(past) >= _MIN_SAMPLES:
            p95 = statistics.quantiles(past, n=100, method="inclusive")[94]
            if took > p95:
                verb = "is running for" if job.status in OPEN_STATUSES else "took"
                alerts.append(
                    _alert(
                        "job-slow",
                        "warning",
                        job.name,
                        f'job "{job.name}" {verb} {took:.0f}s, more than its 95th percentile'
                        f" of {p95:.0f}s over {len(past)} earlier runs",
                    )
                )
        waited = _queue_time(job, now)
        if waited is not None and waited > options.queue_threshold:
            verb = "has been queued for" if job.status == "queued" else "waited"
            alerts.append(
                _alert(
                    "queued-too-long",
                    "warning",
                    job.name,
                    f'job "{job.name}" {verb} {waited:.0f}s'
                    f" (threshold {options.queue_threshold:.0f}s)",
                )
            )
    if run.status == "queued" and not run.jobs:
        waited = (now - run.created_at).total_seconds()
        if waited > options.queue_threshold:
            alerts.append(
                _alert(
                    "queued-too-long",
                    "warning",
                    None,
                    f"the run has been queued for {waited:.0f}s"
                    f" (threshold {options.queue_threshold:.0f}s)",
                )
            )
    if quota is not None:
        remaining, limit = quota
        low = (
            remaining <= options.rate_limit_threshold * limit
            if limit
            else remaining <= options.rate_limit_floor
        )
        if low:
            of = f" of {limit}" if limit else ""
            alerts.append(
                _alert(
                    "rate-limit",
                    "warning",
                    None,
                    f"{run.provider}: {remaining}{of} requests left; polling will soon wait",
                )
            )
    return alerts


def _alert(kind: str, severity: str, job: str | None, message: str) -> dict[str, Any]:
    return {"kind": kind, "severity": severity, "job": job, "message": message}


# Figures.


def _spec_status(status: str) -> str:
    if status in OPEN_STATUSES:
        return "running"
    return "completed" if status in ("success", "skipped") else "failed"


def _current(run: RunRecord) -> str:
    far = datetime.max.replace(tzinfo=UTC)
    running = sorted(
        (j for j in run.jobs if j.status == "running"), key=lambda j: (j.started_at or far, j.id)
    )
    if running:
        return running[0].name
    queued = [j for j in run.jobs if j.status == "queued"]
    if queued:
        return queued[0].name
    failed = [j for j in run.jobs if j.status == "failed"]
    if failed and run.status in FINISHED_STATUSES:
        return failed[0].name
    ended = sorted(
        (j for j in run.jobs if j.finished_at is not None), key=lambda j: (j.finished_at, j.id)
    )
    return ended[-1].name if ended else ""


def _duration(run: RunRecord, now: datetime) -> float | None:
    if run.started_at is None:
        return None
    end = run.finished_at or (now if run.status in OPEN_STATUSES else None)
    return None if end is None else max(0.0, (end - run.started_at).total_seconds())


def _job_time(job: JobRunRecord, now: datetime) -> float | None:
    if job.duration is not None:
        return job.duration
    if job.status == "running" and job.started_at is not None:
        return max(0.0, (now - job.started_at).total_seconds())
    return None


def _queue_time(job: JobRunRecord, now: datetime) -> float | None:
    if job.queued_at is None:
        return None
    start = job.started_at or (now if job.status == "queued" else None)
    return None if start is None else max(0.0, (start - job.queued_at).total_seconds())


def _mean_queue(run: RunRecord, now: datetime) -> float | None:
    waits = [w for w in (_queue_time(j, now) for j in run.jobs) if w is not None]
    return statistics.fmean(waits) if waits else None


def _slowness(value: float | None, past: list[float]) -> float:
    if value is None or not past:
        return 1.0
    median = statistics.median(past)
    if median <= 0:
        return 1.0
    ratio = value / median
    return 1.0 if ratio <= 1 else max(0.0, 1 - (ratio - 1) / 2)


def _rate(runs: list[RunRecord]) -> float | None:
    decided = [r for r in runs if r.status in ("success", "failed", "cancelled")]
    return None if not decided else sum(r.status == "success" for r in decided) / len(decided)
