"""Public functions of the API specification that this release does not implement.

Each raises ``NotBuiltError`` saying so and what it would need, so a caller gets a clear
answer instead of an ``ImportError`` or a silent placeholder result.
"""

from __future__ import annotations

from typing import Any, NoReturn

from .errors import NotBuiltError
from .model.pipeline import Pipeline


def _not_built(function: str, what: str) -> NoReturn:
    raise NotBuiltError(
        f"{function}() is not implemented in this release of codomyrmex-ci-cd ({what}); "
        "run history is in the store: cicd runs pull, monitor_pipeline_health"
    )


def manage_deployments(deployment_config: dict[str, Any], environment: str, **kwargs: Any) -> Any:
    """Deployment orchestration: not implemented in this release (raises ``NotBuiltError``)."""
    _not_built("manage_deployments", "deployments with status tracking")


def generate_pipeline_reports(
    pipeline_id: str, report_types: list[str] | None = None, **kwargs: Any
) -> dict[str, Any]:
    """Reports over run history: not implemented in this release (raises ``NotBuiltError``)."""
    _not_built("generate_pipeline_reports", "reports over run history")


def handle_rollback(
    deployment_id: str, strategy: str = "immediate", **kwargs: Any
) -> dict[str, Any]:
    """Rollback of a deployment: not implemented in this release (raises ``NotBuiltError``)."""
    _not_built("handle_rollback", "rollback needs deployments first")


def optimize_pipeline_performance(
    pipeline: Pipeline, metrics: dict[str, Any], **kwargs: Any
) -> dict[str, Any]:
    """Speed-up advice: not implemented in this release (raises ``NotBuiltError``)."""
    _not_built("optimize_pipeline_performance", "speed-up advice from run history")
