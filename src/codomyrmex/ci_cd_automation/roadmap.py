"""Public functions of the API specification whose implementation has not landed yet.

Each raises ``NotBuiltError`` naming the issue that brings it, so a caller gets a clear
answer instead of an ``ImportError`` or a silent placeholder result.
"""

from __future__ import annotations

from typing import Any, NoReturn

from .errors import NotBuiltError
from .model.pipeline import Pipeline


def _not_built(function: str, issue: int, what: str) -> NoReturn:
    raise NotBuiltError(f"{function}() is not built yet: it arrives with {what} (issue #{issue})")


def manage_deployments(deployment_config: dict[str, Any], environment: str, **kwargs: Any) -> Any:
    """Deployment orchestration (a later issue)."""
    _not_built("manage_deployments", 5, "the run store; deployments follow it")


def generate_pipeline_reports(
    pipeline_id: str, report_types: list[str] | None = None, **kwargs: Any
) -> dict[str, Any]:
    """Reports over run history (a later issue)."""
    _not_built("generate_pipeline_reports", 5, "the run store; reports follow it")


def handle_rollback(
    deployment_id: str, strategy: str = "immediate", **kwargs: Any
) -> dict[str, Any]:
    """Rollback of a deployment (a later issue)."""
    _not_built("handle_rollback", 5, "the run store; deployments and rollback follow it")


def optimize_pipeline_performance(
    pipeline: Pipeline, metrics: dict[str, Any], **kwargs: Any
) -> dict[str, Any]:
    """Speed-up advice from run history (a later issue)."""
    _not_built("optimize_pipeline_performance", 5, "the run store; the optimiser follows it")
