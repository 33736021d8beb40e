"""What a person sees of a local run: live progress, the dry-run plan, the summary table.

Text only, read from the runner's events and result, never changing them; the status line is
redrawn on a terminal only. No secret value reaches it. See docs/local-runner.md.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import TextIO

from .plan import JobInstance, RunPlan, label
from .result import JobResult, LocalReport, RunResult
from .runner import RunObserver

_MARKS = {"success": "ok", "failed": "FAILED", "skipped": "skipped", "cancelled": "cancelled"}


class LiveProgress(RunObserver):
    """Prints a run's progress to ``stream``; call ``close`` when the run ended."""

    def __init__(self, stream: TextIO, *, tty: bool | None = None, tick: float = 0.25) -> None:
        self.stream = stream
        self.tty = stream.isatty() if tty is None else tty
        self._tick = tick
        self._lock = threading.Lock()
        self._running: dict[str, str] = {}
        self._done = 0
        self._total = 0
        self._start = time.monotonic()
        self._footer = False
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    def planned(self, plan: RunPlan) -> None:
        self._total = len(plan.instances)
        if plan.not_triggered:
            self._line(f"not triggered: {plan.not_triggered}")

    def run_started(self, run_id: str, run_dir: Path, workers: int) -> None:
        self._start = time.monotonic()
        self._line(
            f"run {run_id}: {self._total} job instances, {workers} workers, logs in {run_dir}"
        )
        if self.tty:
            self._ticker = threading.Thread(
                target=self._tick_loop, name="cicd-progress", daemon=True
            )
            self._ticker.start()

    def job_started(self, instance: JobInstance) -> None:
        with self._lock:
            self._running[instance.id] = instance.label
        self._line(f"{'start':<10}{instance.label}")

    def job_finished(self, instance: JobInstance, entry: JobResult, reason: str | None) -> None:
        with self._lock:
            self._running.pop(instance.id, None)
            self._done += 1
        status = entry.status
        text = f"{_MARKS.get(status, status):<10}{instance.label}"
        if status == "failed" and entry.allowed_failure:
            text += " (allowed to fail)"
        if entry.attempts:
            text += f" in {entry.duration or 0.0:.2f}s"
            if entry.attempts > 1:
                text += f", {entry.attempts} attempts"
        if status == "failed" and entry.log:
            text += f"; log: {entry.log}"
        if status == "skipped" and reason:
            text += f": {reason}"
        self._line(text)

    def close(self) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()
        with self._lock:
            self._clear_footer()
            self.stream.flush()

    def _line(self, text: str) -> None:
        with self._lock:
            self._clear_footer()
            self.stream.write(text + "\n")
            self._draw_footer()
            self.stream.flush()

    def _tick_loop(self) -> None:
        while not self._stop.wait(self._tick):
            with self._lock:
                self._clear_footer()
                self._draw_footer()
                self.stream.flush()

    def _clear_footer(self) -> None:
        if self._footer:
            self.stream.write("\r\x1b[K")
            self._footer = False

    def _draw_footer(self) -> None:
        if not self.tty or self._ticker is None or self._stop.is_set():
            return
        running = ", ".join(self._running.values()) or "-"
        elapsed = time.monotonic() - self._start
        text = f"[{self._done}/{self._total} done, {elapsed:.1f}s] running: {running}"
        self.stream.write(text[:200])
        self._footer = True


def format_summary(result: RunResult[LocalReport]) -> str:
    """The closing table: job, status, attempts, duration; then the verdict line."""
    rows = [("job", "status", "attempts", "duration")]
    for entry in result.jobs:
        status: str = entry.status
        if status == "failed" and entry.allowed_failure:
            status = "failed (allowed)"
        duration = f"{entry.duration or 0.0:.2f}s" if entry.attempts else "-"
        rows.append((_label(entry), status, str(entry.attempts), duration))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = [
        "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    reports = result.reports
    for notice in reports.notices or ():
        lines.append(f"notice: {notice}")
    verdict = f"pipeline {result.status} in {result.execution_time:.2f}s"
    if result.run_id:
        verdict += f" (run {result.run_id}, logs in {reports.run_dir})"
    if reports.timed_out:
        verdict += "; the run's timeout expired"
    lines.append(verdict)
    return "\n".join(lines)


def format_plan(result: RunResult[LocalReport]) -> str:
    """The dry run: jobs in the order they would start, then the skipped ones and why."""
    reports = result.reports
    event = reports.event
    lines = [f"plan for {event.event} of {event.ref} (sha {event.sha[:12]}):"]
    if reports.not_triggered:
        lines.append(f"  nothing runs: {reports.not_triggered}")
        return "\n".join(lines)
    planned = [e for e in result.jobs if e.status == "planned"]
    skipped = [e for e in result.jobs if e.status == "skipped"]
    for n, entry in enumerate(planned, 1):
        lines.append(f"  {n:>3}. {_label(entry)}")
    if skipped:
        lines.append("skipped:")
        for entry in skipped:
            lines.append(f"  - {_label(entry)}: {entry.reason or ''}")
    lines.append(f"{len(planned)} job instances would run, {len(skipped)} skipped; nothing was run")
    return "\n".join(lines)


def _label(entry: JobResult) -> str:
    return label(entry.name, entry.matrix)
