"""The run commands: ``trigger``, ``status``, ``watch``, ``cancel``, ``logs``, ``runs pull``.

What they print and return; the work is the backends', ``backends.watch``'s and
``backends.history``'s. Every run a command reads is saved to the store, so health sees remote
runs without a pull. ``watch`` exits 1 when the run failed or was cancelled.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import cast

from ..backends.base import RemoteRun, RunBackend
from ..backends.history import pull_runs, save_run
from ..backends.watch import describe_job, watch
from ..errors import UsageError
from ..local_runner.runner import STATE_DIR, project_root
from ..model.durations import parse_duration
from ..model.loader import load_pipeline
from ..store import Store
from .shared import EXIT_FAILED, EXIT_OK, key_values, open_from_flags

_AGE = re.compile(r"^\d+[mhdw]$")


def parse_age(text: str, now: datetime | None = None) -> datetime:
    """``30d`` -> the time 30 days ago (m, h, d, w); an ISO date or time is taken as is.

    Raises:
        UsageError: neither an age nor an ISO date (the message names ``--since``).
    """
    moment = now or datetime.now(UTC)
    seconds = parse_duration(text.strip()) if _AGE.match(text.strip()) else None
    if seconds is not None:
        return moment - timedelta(seconds=seconds)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(
            f'--since {text!r}: expected an age like "30d", "12h" or an ISO date'
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def runs(args: argparse.Namespace) -> int:
    """Carry out one of the run commands; returns the exit code."""
    ((_, opened),) = open_from_flags(args)
    backend = cast("RunBackend", opened)
    if args.command == "runs":
        return _pull(backend, args)
    if args.command == "trigger":
        pipeline = load_pipeline(args.file)
        inputs = key_values("--input", args.input)
        run = backend.trigger(ref=args.ref, inputs=inputs, workflow=f"{pipeline.name}.yml")
        _save(run)
        where = f" {run.url}" if run.url else ""
        print(f"{run.provider} {run.target}: run {run.provider_run_id} {run.status}{where}")
        return EXIT_OK
    if args.command == "cancel":
        backend.cancel(args.run)
        print(f"{args.provider}: cancellation of run {args.run} requested")
        return EXIT_OK
    if args.command == "logs":
        sys.stdout.write(backend.logs(args.run, job=args.job))
        return EXIT_OK
    run = backend.get_run(args.run)
    if args.command == "status":
        _save(run)
        if args.json:
            print(json.dumps(_as_json(run), indent=2))
        else:
            _print_run(run)
        return EXIT_OK
    report = watch(
        backend,
        run,
        interval=args.interval,
        timeout=args.timeout,
        on_change=lambda line: print(line, flush=True),
    )
    _save(report.run)
    print(f"{report.polls} polls; run {report.run.provider_run_id} {report.run.status}")
    return EXIT_OK if report.run.status == "success" else EXIT_FAILED


def _pull(backend: RunBackend, args: argparse.Namespace) -> int:
    since = parse_age(args.since) if args.since else None
    with Store(_store_path(args.store)) as store:
        report = pull_runs(backend, store, since=since)
    print(report.format())
    return EXIT_OK


def _save(run: RemoteRun) -> None:
    with Store(_store_path(None)) as store:
        save_run(store, run)


def _store_path(given: str | None) -> Path:
    if given:
        return Path(given)
    return project_root() / STATE_DIR / "state.db"


def _print_run(run: RemoteRun) -> None:
    print(f"{run.provider} {run.target}: run {run.provider_run_id} {run.status}")
    for key in ("event", "ref", "sha", "url"):
        value = getattr(run, key)
        if value:
            print(f"  {key}: {value}")
    for job in run.jobs:
        print(f"  {describe_job(job)}")


def _as_json(run: RemoteRun) -> dict[str, object]:
    def when(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "provider": run.provider,
        "target": run.target,
        "run_id": run.provider_run_id,
        "pipeline": run.pipeline,
        "status": run.status,
        "event": run.event,
        "ref": run.ref,
        "sha": run.sha,
        "attempt": run.attempt,
        "created_at": when(run.created_at),
        "started_at": when(run.started_at),
        "finished_at": when(run.finished_at),
        "url": run.url,
        "jobs": [
            {
                "id": job.provider_job_id,
                "name": job.name,
                "status": job.status,
                "attempt": job.attempt,
                "allowed_failure": job.allowed_failure,
                "queued_at": when(job.queued_at),
                "started_at": when(job.started_at),
                "finished_at": when(job.finished_at),
                "url": job.url,
            }
            for job in run.jobs
        ],
    }
