"""``run_pipeline`` of the API specification: run a pipeline locally or on a provider.

Both kinds of run return the same keys. A misspelt keyword, one of the other kind of run or a
bad value is a ``UsageError`` before anything runs or is sent; a failed job is data.
"""

from __future__ import annotations

import difflib
import inspect
import os
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from .errors import UsageError
from .literals import RUN_PROVIDERS, Provider, RunProvider, parse_provider
from .local_runner.result import JobResult, RemoteReport, RunResult
from .local_runner.runner import RunOptions, run_local
from .model.pipeline import Pipeline

if TYPE_CHECKING:
    from .backends.base import RemoteRun, RunBackend

# The keywords that only one kind of run understands (the others: environment, backend,
# timeout, inputs).
_LOCAL_ONLY = (
    "dry_run",
    "event",
    "branch",
    "tag",
    "base",
    "variables",
    "jobs",
    "only",
    "project_dir",
    "env_file",
    "keep_workspaces",
)
_REMOTE_ONLY = ("repo", "project", "ref", "wait", "interval", "url", "budget")


def run_pipeline(
    pipeline: Pipeline,
    environment: str = "development",
    *,
    backend: RunProvider = "local",
    dry_run: bool = False,
    timeout: float | None = None,
    event: str = "push",
    branch: str | None = None,
    tag: str | None = None,
    base: str | None = None,
    inputs: Mapping[str, object] | None = None,
    variables: Mapping[str, object] | None = None,
    jobs: int | None = None,
    only: str | Iterable[str] | None = None,
    project_dir: str | os.PathLike[str] | None = None,
    env_file: str | os.PathLike[str] | None = None,
    keep_workspaces: bool = False,
    repo: str | None = None,
    project: str | None = None,
    ref: str | None = None,
    wait: bool = True,
    interval: float = 5.0,
    url: str | None = None,
    budget: int | None = None,
    **unknown: object,
) -> dict[str, Any]:
    """Run ``pipeline`` on this machine or on a provider and return what came of it.

    Args:
        pipeline: the pipeline (``load_pipeline``, ``create_pipeline``, ``import_pipeline``).
        environment: the target environment (``$CICD_ENVIRONMENT`` of jobs that name none).
        backend: ``"local"`` (this machine), ``"github"`` or ``"gitlab"`` (a run of the synced
            files on the provider).
        dry_run: local: plan only; nothing runs and nothing is written.
        timeout: seconds; local: for the whole run, then it is cancelled; provider: for the
            watch, then ``MonitoringError`` (the run goes on at the provider).
        event: local: the simulated event: ``push``, ``pull_request``, ``schedule``,
            ``manual``, or ``tag`` (a push of ``tag``).
        branch: local: the branch (default: the checked-out one).
        tag: local: a pushed tag.
        base: local: a pull request's target branch (default ``main``).
        inputs: the manual trigger's inputs (values as text; ``True`` is ``"true"``); a
            provider receives them as workflow inputs (GitHub) or variables (GitLab).
        variables: local: overrides of pipeline variables.
        jobs: local: jobs at once (default: the CPU cores).
        only: local: run these jobs (a name or names) and what they depend on.
        project_dir: local: the project (default: the git work tree of the current folder).
        env_file: local: ``KEY=VALUE`` lines: values of declared secrets; other keys become
            job variables.
        keep_workspaces: local: keep ``.cicd/runs/<id>/work`` for inspection.
        repo: github: the repository, ``owner/name``.
        project: gitlab: the project, ``group/name``.
        ref: provider: the branch or tag to run (default: the default branch).
        wait: provider: follow the run until it ends (else return once it started).
        interval: provider: seconds between polls.
        url: provider: the API base URL (GitHub Enterprise, self-managed GitLab).
        budget: provider: most API requests to send.
        **unknown: refused: a misspelt keyword is an error, not silently ignored.

    Returns:
        The result dictionary (``status``, ``pipeline_id``, ``execution_time``,
        ``stages_completed``, ``stages_total``, ``artifacts``, ``reports``) plus ``run_id``
        and ``jobs`` (one entry per job instance): ``RunResult.as_dict()``.

    Raises:
        UsageError: an unknown keyword, a keyword of the other kind of run, or a bad value
            (an unknown backend, job, input, variable or event; a bad env file). It is a
            ``ValueError``.
        ProviderError: a provider could not be asked (after the transport's retries).
        MonitoringError: ``timeout`` passed while watching a provider run.
        PipelineExecutionError: the runner could not go on.
    """
    if backend not in RUN_PROVIDERS:
        raise UsageError(f"run_pipeline: unknown backend {backend!r}; use local, github or gitlab")
    local = backend == "local"
    if unknown:
        name = sorted(unknown)[0]
        raise UsageError(f"run_pipeline(backend={backend!r}): {_unknown(name, local)}")
    given = {
        "dry_run": dry_run,
        "event": event,
        "branch": branch,
        "tag": tag,
        "base": base,
        "variables": variables,
        "jobs": jobs,
        "only": only,
        "project_dir": project_dir,
        "env_file": env_file,
        "keep_workspaces": keep_workspaces,
        "repo": repo,
        "project": project,
        "ref": ref,
        "wait": wait,
        "interval": interval,
        "url": url,
        "budget": budget,
    }
    foreign = sorted(
        name for name in (_REMOTE_ONLY if local else _LOCAL_ONLY) if given[name] != _DEFAULTS[name]
    )
    if foreign:
        where = "a local run" if local else f"a {backend} run"
        raise UsageError(
            f"run_pipeline(backend={backend!r}): unknown keyword {foreign[0]!r} for {where}; "
            f"it applies to {'provider' if local else 'local'} runs only"
        )
    if not local:
        if interval <= 0:
            raise UsageError(f"run_pipeline: interval must be positive, got {interval}")
        return _run_remote(
            pipeline,
            environment,
            parse_provider(backend),
            repo=repo,
            project=project,
            ref=ref,
            inputs=_text_map("inputs", inputs) or {},
            wait=wait,
            interval=interval,
            timeout=timeout,
            url=url,
            budget=budget,
        ).as_dict()
    options = RunOptions(
        environment=environment,
        event=event,
        branch=branch,
        tag=tag,
        base=base,
        inputs=_text_map("inputs", inputs),
        variables=_text_map("variables", variables),
        jobs=jobs,
        only=_names(only),
        dry_run=dry_run,
        timeout=timeout,
        project_dir=Path(project_dir) if project_dir else None,
        env_file=Path(env_file) if env_file else None,
        keep_workspaces=keep_workspaces,
    )
    return run_local(pipeline, options).as_dict()


_DEFAULTS: dict[str, object] = {
    name: parameter.default
    for name, parameter in inspect.signature(run_pipeline).parameters.items()
    if parameter.kind is inspect.Parameter.KEYWORD_ONLY
}
_KNOWN = {
    True: sorted(set(_DEFAULTS) - set(_REMOTE_ONLY)),
    False: sorted(set(_DEFAULTS) - set(_LOCAL_ONLY)),
}


def _unknown(name: str, local: bool) -> str:
    """Why keyword ``name`` is refused: a near keyword to suggest, else the known ones."""
    close = difflib.get_close_matches(name, list(_DEFAULTS), n=1, cutoff=0.6)
    if close:
        return f"unknown keyword {name!r}; did you mean {close[0]!r}?"
    return f"unknown keyword {name!r}; expected one of {', '.join(_KNOWN[local])}"


def _run_remote(
    pipeline: Pipeline,
    environment: str,
    provider: Provider,
    *,
    repo: str | None,
    project: str | None,
    ref: str | None,
    inputs: Mapping[str, str],
    wait: bool,
    interval: float,
    timeout: float | None,
    url: str | None,
    budget: int | None,
) -> RunResult[RemoteReport]:
    from .backends.remote import open_backends
    from .backends.watch import watch

    began = time.monotonic()
    ((_, backend),) = open_backends(
        provider,
        repo=repo,
        project=project,
        github_url=url if provider == "github" else None,
        gitlab_url=url if provider == "gitlab" else None,
        budget=budget,
    )
    runs = cast("RunBackend", backend)
    run = runs.trigger(ref=ref, inputs=inputs, workflow=f"{pipeline.name}.yml")
    if wait:
        run = watch(runs, run, interval=interval, timeout=timeout).run
    return remote_result(pipeline, environment, run, time.monotonic() - began)


def remote_result(
    pipeline: Pipeline, environment: str, run: RemoteRun, elapsed: float
) -> RunResult[RemoteReport]:
    """The result of a provider run (``status`` is the run's own while it has not finished:
    ``queued`` or ``running``)."""
    jobs = tuple(
        JobResult(
            name=job.name,
            matrix=None,
            status=job.status,
            allowed_failure=job.allowed_failure,
            attempts=job.attempt,
            duration=(
                round((job.finished_at - job.started_at).total_seconds(), 3)
                if job.started_at and job.finished_at
                else None
            ),
            exit_code=None,
            log=job.url,
        )
        for job in run.jobs
    )
    completed = 0
    for stage in pipeline.stages:
        names = [j.name for j in stage.jobs]
        mine = [j for j in run.jobs if any(_same_job(n, j.name) for n in names)]
        if mine and all(j.status in ("success", "skipped") or j.allowed_failure for j in mine):
            completed += 1
    return RunResult(
        status=run.status,
        pipeline_id=pipeline.id,
        run_id=run.provider_run_id,
        execution_time=round(elapsed, 3),
        stages_completed=completed,
        stages_total=len(pipeline.stages),
        artifacts=(),
        reports=RemoteReport(
            provider=run.provider,
            target=run.target,
            url=run.url,
            ref=run.ref,
            sha=run.sha,
            environment=environment,
        ),
        jobs=jobs,
    )


def _same_job(neutral: str, remote: str) -> bool:
    """A provider job name stands for a neutral job: the same name, or a matrix leg of it
    (GitHub ``unit (3.12)``, GitLab ``unit: [3.12]``)."""
    return remote == neutral or remote.startswith((f"{neutral} (", f"{neutral}: ["))


def _text_map(name: str, value: object) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise UsageError(f"run_pipeline: {name} must be a mapping of names to values")
    return {str(k): _text(v) for k, v in value.items()}


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _names(value: str | Iterable[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value)
