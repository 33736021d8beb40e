"""``run_pipeline`` of the API specification: run a pipeline locally or on a provider.

``backend="local"`` (the default) runs it on this machine (``local_runner``).
``backend="github"`` / ``"gitlab"`` starts a run of the files already synced to ``repo`` /
``project`` (``cicd sync``), and with ``wait=True`` (the default) follows it with conditional
polls until it ends (``backends.watch``); the result has the same keys as the local one, with
the provider's run id, URL and jobs. Bad keyword values are a ``ValueError`` (configuration
errors are ``ValueError`` subclasses, DESIGN.md); ``PipelineExecutionError`` only when the
runner itself cannot go on, ``ProviderError`` when a provider cannot be asked. A failed job is
data: the returned dictionary says ``"status": "failed"``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from .local_runner.runner import RunOptions, run_local
from .model.pipeline import Pipeline

if TYPE_CHECKING:
    from .backends.base import RemoteRun, RunBackend

_REMOTE_KEYWORDS = frozenset(
    {"backend", "repo", "project", "ref", "inputs", "wait", "interval", "timeout", "url", "budget"}
)
_KEYWORDS = frozenset(
    {
        "backend",
        "dry_run",
        "timeout",
        "event",
        "branch",
        "tag",
        "base",
        "inputs",
        "variables",
        "jobs",
        "only",
        "project_dir",
        "env_file",
        "keep_workspaces",
    }
)


def run_pipeline(
    pipeline: Pipeline, environment: str = "development", **kwargs: Any
) -> dict[str, Any]:
    """Run ``pipeline`` on this machine and return what came of it.

    Args:
        pipeline: the pipeline (``load_pipeline``, ``create_pipeline``, ``import_pipeline``).
        environment: the target environment (``$CICD_ENVIRONMENT`` of jobs that name none).
        **kwargs: ``backend`` (``"local"``, ``"github"``, ``"gitlab"``). Local: ``dry_run``
            (plan only), ``timeout`` (seconds for the whole run, then it is cancelled),
            ``event`` (push, pull_request, schedule, manual, tag), ``branch``, ``tag``,
            ``base`` (a pull request's target), ``inputs`` and ``variables`` (mappings of
            text), ``jobs`` (workers), ``only`` (job names), ``project_dir``, ``env_file``,
            ``keep_workspaces``. Providers: ``repo`` / ``project``, ``ref``, ``inputs``,
            ``wait`` (default True), ``interval`` (seconds between polls), ``timeout`` (of the
            watch), ``url`` (base URL), ``budget`` (most requests).

    Returns:
        SPEC.md's dictionary (``status``, ``pipeline_id``, ``execution_time``,
        ``stages_completed``, ``stages_total``, ``artifacts``, ``reports``) plus ``run_id``
        and ``jobs`` (one entry per job instance).

    Raises:
        ValueError: an unknown keyword or a bad value.
        ProviderError: a provider could not be asked (after the transport's retries).
        MonitoringError: ``timeout`` passed while watching a provider run.
        PipelineExecutionError: the runner could not go on.
    """
    backend = kwargs.get("backend", "local")
    if backend not in ("local", "github", "gitlab"):
        raise ValueError(f"run_pipeline: unknown backend {backend!r}; use local, github or gitlab")
    known = _KEYWORDS if backend == "local" else _REMOTE_KEYWORDS
    unknown = sorted(set(kwargs) - known)
    if unknown:
        raise ValueError(
            f"run_pipeline(backend={backend!r}): unknown keyword {unknown[0]!r}; "
            f"expected one of {', '.join(sorted(known))}"
        )
    if backend != "local":
        return _run_remote(pipeline, environment, backend, kwargs)
    options = RunOptions(
        environment=environment,
        event=kwargs.get("event", "push"),
        branch=kwargs.get("branch"),
        tag=kwargs.get("tag"),
        base=kwargs.get("base"),
        inputs=_text_map("inputs", kwargs.get("inputs")),
        variables=_text_map("variables", kwargs.get("variables")),
        jobs=kwargs.get("jobs"),
        only=tuple(_names(kwargs.get("only"))),
        dry_run=bool(kwargs.get("dry_run", False)),
        timeout=kwargs.get("timeout"),
        project_dir=Path(kwargs["project_dir"]) if kwargs.get("project_dir") else None,
        env_file=Path(kwargs["env_file"]) if kwargs.get("env_file") else None,
        keep_workspaces=bool(kwargs.get("keep_workspaces", False)),
    )
    return run_local(pipeline, options)


def _run_remote(
    pipeline: Pipeline, environment: str, provider: str, kwargs: dict[str, Any]
) -> dict[str, Any]:
    from .backends.remote import open_backends
    from .backends.watch import watch

    began = time.monotonic()
    ((_, backend),) = open_backends(
        provider,
        repo=kwargs.get("repo"),
        project=kwargs.get("project"),
        github_url=kwargs.get("url") if provider == "github" else None,
        gitlab_url=kwargs.get("url") if provider == "gitlab" else None,
        budget=kwargs.get("budget"),
    )
    runs = cast("RunBackend", backend)
    inputs = _text_map("inputs", kwargs.get("inputs")) or {}
    run = runs.trigger(ref=kwargs.get("ref"), inputs=inputs, workflow=f"{pipeline.name}.yml")
    if kwargs.get("wait", True):
        run = watch(
            runs, run, interval=float(kwargs.get("interval", 5.0)), timeout=kwargs.get("timeout")
        ).run
    return remote_result(pipeline, environment, run, time.monotonic() - began)


def remote_result(
    pipeline: Pipeline, environment: str, run: RemoteRun, elapsed: float
) -> dict[str, Any]:
    """SPEC.md's result dictionary for a provider run (``status`` is the run's own while it
    has not finished: ``queued`` or ``running``)."""
    jobs = [
        {
            "name": job.name,
            "matrix": None,
            "status": job.status,
            "allowed_failure": job.allowed_failure,
            "attempts": job.attempt,
            "duration": (
                round((job.finished_at - job.started_at).total_seconds(), 3)
                if job.started_at and job.finished_at
                else None
            ),
            "exit_code": None,
            "log": job.url,
        }
        for job in run.jobs
    ]
    completed = 0
    for stage in pipeline.stages:
        names = [j.name for j in stage.jobs]
        mine = [j for j in run.jobs if any(_same_job(n, j.name) for n in names)]
        if mine and all(j.status in ("success", "skipped") or j.allowed_failure for j in mine):
            completed += 1
    return {
        "status": run.status,
        "pipeline_id": pipeline.id,
        "run_id": run.provider_run_id,
        "execution_time": round(elapsed, 3),
        "stages_completed": completed,
        "stages_total": len(pipeline.stages),
        "artifacts": [],
        "reports": {
            "provider": run.provider,
            "target": run.target,
            "url": run.url,
            "ref": run.ref,
            "sha": run.sha,
            "environment": environment,
        },
        "jobs": jobs,
    }


def _same_job(neutral: str, remote: str) -> bool:
    """A provider job name stands for a neutral job: the same name, or a matrix leg of it
    (GitHub ``unit (3.12)``, GitLab ``unit: [3.12]``)."""
    return remote == neutral or remote.startswith((f"{neutral} (", f"{neutral}: ["))


def _text_map(name: str, value: Any) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ValueError(f"run_pipeline: {name} must be a mapping of names to values")
    return {str(k): _text(v) for k, v in value.items()}


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _names(value: Any) -> Sequence[str]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return [str(v) for v in value]
