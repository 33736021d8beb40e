"""The README is tested: its first pipeline works as shown, and its set-up commands are the
ones the project runs."""

from __future__ import annotations

import re
from pathlib import Path

from codomyrmex.ci_cd_automation import render, run_pipeline
from codomyrmex.ci_cd_automation.model.loader import load_pipeline_text
from testing.repos import make_repo

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _section(title: str) -> str:
    start = README.index(f"## {title}")
    end = README.find("\n## ", start + 1)
    return README[start : end if end != -1 else None]


def _blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, re.DOTALL)


def test_the_first_pipeline_validates_generates_and_runs_as_shown(tmp_path: Path) -> None:
    walkthrough = _section("Your first pipeline in five minutes")
    (pipeline_text,) = _blocks(walkthrough, "yaml")
    pipeline = load_pipeline_text(pipeline_text, "pipeline.yaml")
    assert "pipeline.yaml: ok (2 stages, 2 jobs)" in walkthrough
    files = render(pipeline).files
    assert sorted(files) == [".github/workflows/hello.yml", ".gitlab-ci.yml"]
    for name in files:
        assert f"wrote {name}" in walkthrough
    repo = make_repo(tmp_path / "repo", pipeline_text)
    result = run_pipeline(pipeline, project_dir=repo)
    assert result["status"] == "success"
    shown = re.findall(r"^(\S+(?: \([^)]*\))?)\s+success\s+1\s", walkthrough, re.M)
    assert sorted(shown) == sorted(_label(job) for job in result["jobs"])


def _label(job: dict[str, object]) -> str:
    """A job as the summary table names it: ``unit (python=3.11)``."""
    matrix = job.get("matrix")
    if not isinstance(matrix, dict) or not matrix:
        return str(job["name"])
    return f"{job['name']} (" + ", ".join(f"{k}={v}" for k, v in matrix.items()) + ")"


def test_the_set_up_commands_are_the_ones_the_project_runs() -> None:
    setup = _blocks(_section("Set up"), "sh")
    assert len(setup) == 2, "two commands: the main job on the example, then the tests"
    first, second = (block.strip() for block in setup)
    assert first.endswith(
        "cicd generate examples/python-library/pipeline.yaml --out examples/python-library"
    )
    assert (ROOT / "examples" / "python-library" / "pipeline.yaml").is_file()
    assert second == "./.ci/run"
    ci_run = (ROOT / ".ci" / "run").read_text(encoding="utf-8").rstrip().splitlines()
    # The README names the test command .ci/run ends with, word for word.
    assert " ".join(_section("Set up").split()).count(" ".join(ci_run[-1].split())) == 1
