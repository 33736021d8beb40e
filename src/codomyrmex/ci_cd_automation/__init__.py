"""codomyrmex-ci-cd: one backend-neutral pipeline model for GitHub Actions and GitLab CI.

This module is the whole public API; everything else may change without notice.

    >>> from codomyrmex.ci_cd_automation import create_pipeline, render
    >>> p = create_pipeline("demo", [{"name": "test", "jobs": [
    ...     {"name": "unit", "steps": [{"run": "pytest -q"}]}]}])
    >>> sorted(render(p).files)
    ['.github/workflows/demo.yml', '.gitlab-ci.yml']
"""

from __future__ import annotations

from .errors import (
    CICDError,
    DeploymentError,
    MonitoringError,
    NotBuiltError,
    OptimizationError,
    PipelineExecutionError,
    PipelineImportError,
    PipelineValidationError,
    ProviderError,
    RateLimitError,
    ReportGenerationError,
    RollbackError,
    UsageError,
)
from .execution import run_pipeline
from .model.diagnostics import Diagnostic
from .model.loader import load_pipeline
from .model.pipeline import Job, Pipeline, PipelineConfig, Stage
from .monitoring import monitor_pipeline_health
from .pipelines import create_pipeline
from .roadmap import (
    generate_pipeline_reports,
    handle_rollback,
    manage_deployments,
    optimize_pipeline_performance,
)
from .translators import Loss, Rendering, render
from .translators.importing import Imported, ImportNote, import_pipeline

__all__ = [
    "CICDError",
    "DeploymentError",
    "Diagnostic",
    "ImportNote",
    "Imported",
    "Job",
    "Loss",
    "MonitoringError",
    "NotBuiltError",
    "OptimizationError",
    "Pipeline",
    "PipelineConfig",
    "PipelineExecutionError",
    "PipelineImportError",
    "PipelineValidationError",
    "ProviderError",
    "RateLimitError",
    "Rendering",
    "ReportGenerationError",
    "RollbackError",
    "Stage",
    "UsageError",
    "create_pipeline",
    "generate_pipeline_reports",
    "handle_rollback",
    "import_pipeline",
    "load_pipeline",
    "manage_deployments",
    "monitor_pipeline_health",
    "optimize_pipeline_performance",
    "render",
    "run_pipeline",
]
