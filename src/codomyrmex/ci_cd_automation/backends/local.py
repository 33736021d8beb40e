"""The local runner behind the ``RunBackend`` protocol, so one contract holds for all three.

``trigger`` runs the pipeline here to its end; the other calls read the store and run folder;
``cancel`` signals the process owning the run (checked by pid and start time).
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path

from ..errors import CICDError, UsageError
from ..literals import RunProvider
from ..local_runner.plan import label
from ..local_runner.runner import OWNER_FILE, STATE_DIR, RunOptions, owner_mark, run_local
from ..model.pipeline import Pipeline
from ..store import JobRunRecord, RunFilter, RunRecord, Store
from .base import RemoteJob, RemoteRun


class LocalBackend:
    """Runs of ``pipeline`` in ``project_dir`` on this machine."""

    def __init__(self, pipeline: Pipeline, project_dir: Path, *, jobs: int | None = None) -> None:
        self.pipeline = pipeline
        self.project_dir = project_dir.resolve()
        self.jobs = jobs
        self.state = self.project_dir / STATE_DIR

    @property
    def provider(self) -> RunProvider:
        return "local"

    def trigger(
        self,
        *,
        ref: str | None = None,
        inputs: Mapping[str, str] | None = None,
        workflow: str | None = None,
    ) -> RemoteRun:
        """Run the pipeline to its end (a push of ``ref``, or a manual run when ``inputs`` are
        given); ``workflow`` has no meaning here."""
        options = RunOptions(
            event="manual" if inputs else "push",
            branch=ref,
            inputs=dict(inputs or {}),
            jobs=self.jobs,
            project_dir=self.project_dir,
        )
        result = run_local(self.pipeline, options)
        return self.get_run(str(result.run_id))

    def get_run(self, run_id: str, *, jobs: bool = True) -> RemoteRun:
        with self._store() as store:
            record = store.get_run(_number(run_id))
        return self._remote(record, with_jobs=jobs)

    def poll_run(self, run: RemoteRun) -> RemoteRun | None:
        now = self.get_run(run.provider_run_id)
        return None if now == run else now

    def list_runs(self, *, since: datetime | None = None) -> Iterator[RemoteRun]:
        with self._store() as store:
            records = store.list_runs(
                RunFilter(pipeline=self.pipeline.name, provider="local", since=since)
            )
        for record in records:
            yield self._remote(record, with_jobs=False)

    def cancel(self, run_id: str) -> None:
        """SIGTERM to the runner of a running local run; a finished run is left as it is."""
        run = self.get_run(run_id, jobs=False)
        if run.finished:
            return
        try:
            mark = (self.state / "runs" / run_id / OWNER_FILE).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise CICDError(f"local run {run_id}: no runner recorded for it ({exc})") from exc
        pid = int(mark.split()[0])
        if owner_mark(pid) != mark:
            raise CICDError(
                f"local run {run_id}: its runner is gone; the next cicd run closes the record"
            )
        os.kill(pid, signal.SIGTERM)

    def logs(self, run_id: str, *, job: str | None = None) -> str:
        run = self.get_run(run_id)
        parts = []
        for record in run.jobs:
            if job is not None and job not in (record.name, record.provider_job_id):
                continue
            path = Path(record.url) if record.url else None
            if path is None or not path.is_file():
                continue
            text = path.read_text(encoding="utf-8", errors="replace")
            parts.append(f"== {record.name} ==\n{text}")
        if job is not None and not parts:
            raise CICDError(f'local run {run_id}: no log of a job "{job}"')
        return "".join(parts)

    def _store(self) -> Store:
        return Store(self.state / "state.db")

    def _remote(self, record: RunRecord, *, with_jobs: bool) -> RemoteRun:
        return RemoteRun(
            provider="local",
            target=str(self.project_dir),
            provider_run_id=str(record.id),
            pipeline=record.pipeline,
            status=record.status,
            event=record.event,
            ref=record.ref,
            created_at=record.created_at,
            started_at=record.started_at,
            finished_at=record.finished_at,
            jobs=tuple(_job(j) for j in record.jobs) if with_jobs else (),
        )


def _job(record: JobRunRecord) -> RemoteJob:
    return RemoteJob(
        provider_job_id=str(record.id),
        name=label(record.name, record.matrix),
        status=record.status,
        attempt=max(record.attempts, 1),
        allowed_failure=record.allowed_failure,
        started_at=record.started_at,
        finished_at=record.finished_at,
        url=record.log_path,
    )


def _number(run_id: str) -> int:
    if not run_id.isdigit():
        raise UsageError(f"a local run id is a number, got {run_id!r}")
    return int(run_id)
