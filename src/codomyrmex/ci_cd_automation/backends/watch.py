"""Following a provider run until it ends: the loop of ``cicd watch`` and ``run_pipeline``.

A conditional ``poll_run`` every ``interval``, one line per change, ``MonitoringError`` after
``timeout`` (the run goes on). Clock and sleep are injectable, so tests never wait.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ..errors import MonitoringError, UsageError
from .base import RemoteJob, RemoteRun, RunBackend


@dataclass
class WatchReport:
    """The run as it ended, and what the watch cost."""

    run: RemoteRun
    polls: int = 0
    changes: list[str] = field(default_factory=list)


def describe_job(job: RemoteJob) -> str:
    attempt = f" (attempt {job.attempt})" if job.attempt > 1 else ""
    allowed = " (allowed to fail)" if job.allowed_failure and job.status == "failed" else ""
    return f"{job.status:<9} {job.name}{attempt}{allowed}"


def changes_between(before: RemoteRun | None, after: RemoteRun) -> list[str]:
    """One line per difference that matters to a person watching."""
    lines = []
    if before is None or before.status != after.status:
        lines.append(f"run {after.provider_run_id}: {after.status}")
    old = {j.provider_job_id: j.status for j in before.jobs} if before else {}
    for job in after.jobs:
        if old.get(job.provider_job_id) != job.status:
            lines.append(describe_job(job))
    return lines


def watch(
    backend: RunBackend,
    run: RemoteRun,
    *,
    interval: float = 5.0,
    timeout: float | None = None,
    on_change: Callable[[str], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> WatchReport:
    """Poll ``run`` until it is finished; see the module docstring.

    Raises:
        UsageError: ``interval`` not positive.
        MonitoringError: ``timeout`` passed before the run finished.
        ProviderError: the provider could not be asked (after the transport's retries).
    """
    if interval <= 0:
        raise UsageError(f"the watch interval must be positive, got {interval}")
    report = WatchReport(run=run)
    deadline = None if timeout is None else clock() + timeout
    for line in changes_between(None, run):
        _tell(report, on_change, line)
    current = run
    while not current.finished:
        if deadline is not None and clock() >= deadline:
            raise MonitoringError(
                f"{run.provider} run {run.provider_run_id} still {current.status} after "
                f"{timeout:g}s; it goes on at the provider ({run.url or 'no URL'})"
            )
        sleep(interval)
        report.polls += 1
        changed = backend.poll_run(current)
        if changed is None:
            continue
        for line in changes_between(current, changed):
            _tell(report, on_change, line)
        current = changed
    report.run = current
    return report


def _tell(report: WatchReport, on_change: Callable[[str], None] | None, line: str) -> None:
    report.changes.append(line)
    if on_change is not None:
        on_change(line)
