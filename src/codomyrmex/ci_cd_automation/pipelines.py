"""Building pipelines from Python data: ``create_pipeline`` of the API specification.

The same validation as for files runs here (structure, then every semantic rule); the
diagnostics carry model paths such as ``stages[1].jobs[0].needs[0]`` instead of positions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .model.loader import pipeline_from_data
from .model.pipeline import Pipeline

IDENTITY_KEYS = frozenset({"id", "created_at", "status"})


def create_pipeline(
    name: str,
    stages: Sequence[Mapping[str, Any]],
    config: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> Pipeline:
    """Create and validate a pipeline.

    Args:
        name: The pipeline name (letters, digits, ``.``, ``_``, ``-``).
        stages: Stage mappings shaped like ``PipelineStage`` (name, jobs, dependencies,
            environment, timeout, retry_policy).
        config: Pipeline configuration: triggers, variables, secrets, defaults,
            permissions and the ``github``/``gitlab`` escape hatches.
        **kwargs: ``id``, ``created_at`` and ``status`` set the pipeline's identity; any
            other keyword is a configuration key, merged over ``config``.

    Returns:
        The validated ``Pipeline`` with ``status="draft"`` unless given.

    Raises:
        PipelineValidationError: (a ``ValueError``) listing every problem found.
    """
    identity = {k: v for k, v in kwargs.items() if k in IDENTITY_KEYS}
    extra_config = {k: v for k, v in kwargs.items() if k not in IDENTITY_KEYS}
    # Stages are passed through as given: the model reports a stage that is not a mapping
    # with its path, instead of failing here.
    data: dict[str, Any] = {"name": name, "stages": list(stages)}
    merged_config = {**dict(config or {}), **extra_config}
    if merged_config:
        data["config"] = merged_config
    return pipeline_from_data(data, None, **identity)
