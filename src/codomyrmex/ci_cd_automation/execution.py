"""``run_pipeline`` of the API specification: run a pipeline with the embedded local backend.

The provider backends (issue #5) will be chosen by a ``backend`` keyword; until then the local
runner (``local_runner``) is the only one, and any other backend name is refused with
``NotBuiltError``. Bad keyword values are a ``ValueError`` (configuration errors are
``ValueError`` subclasses, DESIGN.md); ``PipelineExecutionError`` only when the runner itself
cannot go on. A failed job is data: the returned dictionary says ``"status": "failed"``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .errors import NotBuiltError
from .local_runner.runner import RunOptions, run_local
from .model.pipeline import Pipeline

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
        **kwargs: ``dry_run`` (plan only), ``timeout`` (seconds for the whole run, then it is
            cancelled), ``event`` (push, pull_request, schedule, manual, tag), ``branch``,
            ``tag``, ``base`` (a pull request's target), ``inputs`` and ``variables``
            (mappings of text), ``jobs`` (workers), ``only`` (job names), ``project_dir``,
            ``env_file``, ``keep_workspaces``, ``backend`` (``"local"``).

    Returns:
        SPEC.md's dictionary (``status``, ``pipeline_id``, ``execution_time``,
        ``stages_completed``, ``stages_total``, ``artifacts``, ``reports``) plus ``run_id``
        and ``jobs`` (one entry per job instance).

    Raises:
        ValueError: an unknown keyword or a bad value.
        NotBuiltError: a backend other than ``local``.
        PipelineExecutionError: the runner could not go on.
    """
    unknown = sorted(set(kwargs) - _KEYWORDS)
    if unknown:
        raise ValueError(
            f"run_pipeline: unknown keyword {unknown[0]!r}; "
            f"expected one of {', '.join(sorted(_KEYWORDS))}"
        )
    backend = kwargs.get("backend", "local")
    if backend != "local":
        raise NotBuiltError(
            f"run_pipeline(backend={backend!r}) is not built yet: "
            "provider backends arrive with issue #5"
        )
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
