"""The package's public face: exactly what __all__ lists, sorted, and all of it importable."""

from __future__ import annotations

from pathlib import Path

import pytest

import codomyrmex.ci_cd_automation as api
from codomyrmex.ci_cd_automation import errors

SPEC_FUNCTIONS = (
    "create_pipeline",
    "run_pipeline",
    "manage_deployments",
    "monitor_pipeline_health",
    "generate_pipeline_reports",
    "handle_rollback",
    "optimize_pipeline_performance",
)
SPEC_ERRORS = (
    "PipelineExecutionError",
    "DeploymentError",
    "RollbackError",
    "MonitoringError",
    "ReportGenerationError",
    "OptimizationError",
)


def test_all_is_sorted_and_complete() -> None:
    assert list(api.__all__) == sorted(api.__all__)
    for name in api.__all__:
        assert hasattr(api, name), name
    public = {n for n in vars(api) if not n.startswith("_") and n not in {"annotations"}}
    modules = {n for n in public if type(getattr(api, n)).__name__ == "module"}
    assert public - modules == set(api.__all__)


def test_the_seven_functions_and_the_errors_exist() -> None:
    for name in SPEC_FUNCTIONS:
        assert callable(getattr(api, name))
    for name in SPEC_ERRORS:
        cls = getattr(errors, name)
        assert issubclass(cls, errors.CICDError)
        assert cls.__doc__


def test_validation_errors_are_value_errors() -> None:
    with pytest.raises(ValueError):
        api.create_pipeline("bad name", [{"name": "s", "jobs": []}])


def test_create_pipeline_matches_the_spec_shape() -> None:
    pipeline = api.create_pipeline(
        "demo",
        [{"name": "test", "jobs": [{"name": "unit", "steps": [{"run": "pytest -q"}]}]}],
        {"variables": {"PY": "3.12"}},
    )
    assert pipeline.name == "demo"
    assert pipeline.status == "draft"
    assert pipeline.id and pipeline.created_at is not None
    assert pipeline.stages[0].jobs[0].name == "unit"
    assert pipeline.config.variables == {"PY": "3.12"}


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("manage_deployments", ({}, "staging")),
        ("generate_pipeline_reports", ("id",)),
        ("handle_rollback", ("id",)),
        ("optimize_pipeline_performance", (None, {})),
    ],
)
def test_functions_this_release_lacks_say_so(name: str, args: tuple[object, ...]) -> None:
    message = r"is not implemented in this release of codomyrmex-ci-cd \("
    with pytest.raises(api.NotBuiltError, match=message):
        getattr(api, name)(*args)


def test_run_pipeline_checks_its_backend_and_keywords() -> None:
    pipeline = api.create_pipeline(
        "p", [{"name": "s", "jobs": [{"name": "j", "steps": [{"run": "true"}]}]}]
    )
    with pytest.raises(ValueError, match='GitHub needs a repository "OWNER/NAME"'):
        api.run_pipeline(pipeline, backend="github")
    with pytest.raises(ValueError, match="unknown backend 'jenkins'"):
        api.run_pipeline(pipeline, backend="jenkins")
    with pytest.raises(ValueError, match="unknown keyword 'jobs'"):
        api.run_pipeline(pipeline, backend="gitlab", jobs=2)
    with pytest.raises(ValueError, match="unknown keyword 'dryrun'"):
        api.run_pipeline(pipeline, dryrun=True)


def test_create_pipeline_reports_a_stage_that_is_not_a_mapping() -> None:
    with pytest.raises(api.PipelineValidationError) as info:
        api.create_pipeline("p", ["x"])  # type: ignore[list-item]
    assert [d.format() for d in info.value.diagnostics] == [
        'stages[0]: a stage must be a mapping, found string "x" [wrong-type]'
    ]


def test_monitor_pipeline_health_needs_a_store(tmp_path: Path) -> None:
    with pytest.raises(api.MonitoringError):
        api.monitor_pipeline_health("demo", store_path=tmp_path / "none.db")


def test_usage_errors_are_value_errors_and_cicd_errors() -> None:
    assert issubclass(api.UsageError, ValueError) and issubclass(api.UsageError, api.CICDError)
    assert api.UsageError.__doc__
    pipeline = api.create_pipeline(
        "p", [{"name": "s", "jobs": [{"name": "j", "steps": [{"run": "true"}]}]}]
    )
    with pytest.raises(api.UsageError, match='unknown target "jenkins"'):
        api.render(pipeline, "jenkins")
