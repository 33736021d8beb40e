"""The bundled examples: valid, generated files up to date, and accepted by every judge."""

from __future__ import annotations

from pathlib import Path

import pytest

from codomyrmex.ci_cd_automation import load_pipeline, render
from codomyrmex.ci_cd_automation.cli import main
from testing import judges

EXAMPLES = sorted(
    Path(__file__).resolve().parent.parent.joinpath("examples").glob("*/pipeline.yaml")
)


def test_there_are_examples() -> None:
    names = {p.parent.name for p in EXAMPLES}
    assert {"python-library", "node-web-app", "monorepo"} <= names


@pytest.mark.parametrize("pipeline_file", EXAMPLES, ids=lambda p: p.parent.name)
def test_example_files_are_up_to_date(pipeline_file: Path) -> None:
    assert (
        main(["generate", str(pipeline_file), "--out", str(pipeline_file.parent), "--check"]) == 0
    )


@pytest.mark.parametrize("pipeline_file", EXAMPLES, ids=lambda p: p.parent.name)
def test_example_files_pass_the_judges(pipeline_file: Path) -> None:
    folder = pipeline_file.parent
    pipeline = load_pipeline(pipeline_file)
    workflow = folder / ".github" / "workflows" / f"{pipeline.name}.yml"
    judges.check_github_schema(workflow)
    judges.check_actionlint(workflow)
    judges.check_zizmor(workflow)
    judges.check_gitlab_schema(folder / ".gitlab-ci.yml")
    jobs = judges.check_gitlab_ci_local_list(folder)
    listed = {job.name.split(":")[0] for job in jobs}
    every = {j.name for _, _, _, j in pipeline.iter_jobs()}
    # Jobs with conditions may drop out for gitlab-ci-local's default push on main.
    unconditional = {j.name for _, _, _, j in pipeline.iter_jobs() if not j.when}
    assert unconditional <= listed <= every


@pytest.mark.parametrize("pipeline_file", EXAMPLES, ids=lambda p: p.parent.name)
def test_example_rendering_is_deterministic(pipeline_file: Path) -> None:
    first = render(load_pipeline(pipeline_file))
    second = render(load_pipeline(pipeline_file))
    assert first.files == second.files
    assert first.losses == second.losses
