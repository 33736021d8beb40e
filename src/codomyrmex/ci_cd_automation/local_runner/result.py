"""What a run came to: the typed, frozen result of a local run and of a provider run.

``as_dict`` is the one definition of the public dictionary (``run_pipeline``, ``--json``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

from ..literals import RunProvider, RunStatus
from ..model.pipeline import Scalar

ResultStatus = Literal["planned"] | RunStatus
"""A run's or a job's status in a result: ``planned`` in a dry run, else a ``RunStatus``."""


@dataclass(frozen=True)
class JobResult:
    """One job instance of a run (skipped and cancelled ones included).

    Attributes:
        name: the job's name; ``matrix`` its matrix values (None without a matrix).
        status: the final status (a provider job's current one while its run goes on).
        allowed_failure: the job may fail without failing the run.
        attempts: attempts made (0 when it never started).
        duration: seconds it ran; None for a provider job without both times.
        exit_code: the last attempt's exit code, when there is one.
        log: the log file (local) or the job's web page (provider).
        reason: why it was skipped or left out, when it was.
    """

    name: str
    matrix: Mapping[str, Scalar] | None
    status: ResultStatus
    allowed_failure: bool
    attempts: int
    duration: float | None
    exit_code: int | None
    log: str | None
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "matrix": _plain(self.matrix),
            "status": self.status,
            "allowed_failure": self.allowed_failure,
            "attempts": self.attempts,
            "duration": self.duration,
            "exit_code": self.exit_code,
            "log": self.log,
        }
        if self.reason is not None:
            out["reason"] = self.reason
        return out


@dataclass(frozen=True)
class Artifact:
    """The artifacts folder one job instance left in the run folder."""

    job: str
    matrix: Mapping[str, Scalar] | None
    path: str

    def as_dict(self) -> dict[str, Any]:
        return {"job": self.job, "matrix": _plain(self.matrix), "path": self.path}


@dataclass(frozen=True)
class EventReport:
    """The simulated event a local run answered."""

    event: str
    ref: str
    sha: str
    base: str | None

    def as_dict(self) -> dict[str, Any]:
        return {"event": self.event, "ref": self.ref, "sha": self.sha, "base": self.base}


@dataclass(frozen=True)
class LocalReport:
    """The ``reports`` of a local run.

    Attributes:
        event: the simulated event.
        jobs: how many job instances ended in each status.
        run_dir: the run folder (None in a dry run).
        not_triggered: why the pipeline's triggers did not start for the event, if they did not.
        notices: one-line notices of the run (``uses:`` steps skipped...); None unless jobs
            were scheduled.
        timed_out: the run's timeout expired; None unless jobs were scheduled.
        dry_run: the run only planned.
        order: a dry run: the instances it would start, in start order (None when the
            triggers do not start the pipeline).
    """

    event: EventReport
    jobs: Mapping[str, int]
    run_dir: str | None
    not_triggered: str | None
    notices: tuple[str, ...] | None = None
    timed_out: bool | None = None
    dry_run: bool = False
    order: tuple[str, ...] | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "event": self.event.as_dict(),
            "jobs": dict(self.jobs),
            "run_dir": self.run_dir,
            "not_triggered": self.not_triggered,
        }
        if self.notices is not None:
            out["notices"] = list(self.notices)
        if self.timed_out is not None:
            out["timed_out"] = self.timed_out
        if self.dry_run:
            out["dry_run"] = True
        if self.order is not None:
            out["order"] = list(self.order)
        return out


@dataclass(frozen=True)
class RemoteReport:
    """The ``reports`` of a provider run."""

    provider: RunProvider
    target: str
    url: str | None
    ref: str | None
    sha: str | None
    environment: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "target": self.target,
            "url": self.url,
            "ref": self.ref,
            "sha": self.sha,
            "environment": self.environment,
        }


Report = TypeVar("Report", LocalReport, RemoteReport)


@dataclass(frozen=True)
class RunResult(Generic[Report]):
    """What a run came to; see the module docstring.

    Attributes:
        status: ``success``, ``failed``, ``cancelled``, ``skipped`` (the triggers did not
            start the pipeline), ``planned`` (a dry run); a provider run's own status while it
            has not finished.
        pipeline_id: the pipeline's id.
        run_id: the store's run id (local), the provider's run id, or None (a dry run).
        execution_time: seconds from the call to the result.
        stages_completed: stages whose every job succeeded (or could fail, or was left out
            by its own conditions); stages_total: the pipeline's stages.
        artifacts: the artifact folders jobs left (local runs).
        reports: where the run ran and what it saw.
        jobs: one entry per job instance.
    """

    status: ResultStatus
    pipeline_id: str
    run_id: str | None
    execution_time: float
    stages_completed: int
    stages_total: int
    artifacts: tuple[Artifact, ...]
    reports: Report
    jobs: tuple[JobResult, ...]

    @property
    def failed(self) -> bool:
        """The run failed or was cancelled."""
        return self.status in ("failed", "cancelled")

    def as_dict(self) -> dict[str, Any]:
        """The ``run_pipeline`` result dictionary, ``run_id`` and ``jobs`` included."""
        return {
            "status": self.status,
            "pipeline_id": self.pipeline_id,
            "run_id": self.run_id,
            "execution_time": self.execution_time,
            "stages_completed": self.stages_completed,
            "stages_total": self.stages_total,
            "artifacts": [a.as_dict() for a in self.artifacts],
            "reports": self.reports.as_dict(),
            "jobs": [j.as_dict() for j in self.jobs],
        }


def _plain(matrix: Mapping[str, Scalar] | None) -> dict[str, Scalar] | None:
    return None if matrix is None else dict(matrix)
