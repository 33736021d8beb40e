"""The import front-end: provider detection, paths or text, positioned notes, one error type."""

from __future__ import annotations

from pathlib import Path

import pytest

from codomyrmex.ci_cd_automation import (
    PipelineImportError,
    PipelineValidationError,
    create_pipeline,
    import_pipeline,
    render,
)
from codomyrmex.ci_cd_automation.model.loader import load_pipeline
from codomyrmex.ci_cd_automation.translators.importing import detect_provider, dump_neutral

WORKFLOW = """\
name: ci
on:
  push:
    branches: [main]
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: pytest -q
      - run: echo "${{ github.event.head_commit.message }}"
"""

GITLAB = """\
stages: [build, test]
.base:
  before_script: [echo base]
build:
  stage: build
  extends: .base
  script: [make]
test:unit:
  stage: test
  script: [make test]
  after_script: [echo done]
"""


def test_detects_the_provider_by_name_then_by_shape() -> None:
    assert detect_provider("x: 1", ".github/workflows/ci.yml") == "github"
    assert detect_provider("x: 1", "sub/.gitlab-ci.yml") == "gitlab"
    assert detect_provider(WORKFLOW, "a.yml") == "github"
    assert detect_provider(GITLAB, "a.yml") == "gitlab"
    with pytest.raises(PipelineImportError, match="not recognisable"):
        detect_provider("services:\n  db: {image: postgres}\n", "compose.yml")


def test_text_and_path_give_the_same_pipeline(tmp_path: Path) -> None:
    path = tmp_path / "ci.yml"
    path.write_text(WORKFLOW)
    from_path = import_pipeline(path)
    from_text = import_pipeline(WORKFLOW)
    assert from_path.provider == from_text.provider == "github"
    assert from_path.data == from_text.data
    assert from_path.file == str(path) and from_text.file == "<text>"
    assert [j.name for s in from_path.pipeline.stages for j in s.jobs] == ["test"]


def test_notes_carry_the_native_position_and_are_in_file_order() -> None:
    imported = import_pipeline(GITLAB, "gitlab")
    assert imported.notes, "after_script has no neutral form and must be noted"
    after = [n for n in imported.notes if "after_script" in n.path]
    assert after and after[0].line == 11 and after[0].column == 3
    lines = [n.line or 10**9 for n in imported.notes]
    assert lines == sorted(lines)
    assert after[0].format().startswith("<text>:11:3: import: ")


def test_the_neutral_file_validates_and_comments_its_escape_hatches(tmp_path: Path) -> None:
    imported = import_pipeline(GITLAB, "gitlab")
    text = dump_neutral(imported)
    assert "# Imported by codomyrmex-ci-cd from <text> (gitlab)." in text
    assert "gitlab:  # kept verbatim for GitLab" in text
    out = tmp_path / "pipeline.yaml"
    out.write_text(text)
    pipeline = load_pipeline(out)
    assert pipeline.model_dump(exclude={"id", "created_at", "source"}) == (
        imported.pipeline.model_dump(exclude={"id", "created_at", "source"})
    )


@pytest.mark.parametrize(
    ("text", "provider", "expected"),
    [
        ("jobs: [\n", None, r"^<text>:2:1: invalid YAML: "),
        ("on: push\njobs: {}\n", "github", r"^<text>: .*jobs"),
        ("build:\n  script: [make]\n", "jenkins", r'unknown provider "jenkins"'),
        ("a: 1\n", None, "not recognisable"),
    ],
)
def test_bad_input_is_one_import_error_line(text: str, provider: str | None, expected: str) -> None:
    with pytest.raises(PipelineImportError, match=expected) as info:
        import_pipeline(text, provider)  # type: ignore[arg-type]
    assert isinstance(info.value, ValueError)
    assert "\n" not in str(info.value)


def test_a_missing_file_or_a_folder_is_named(tmp_path: Path) -> None:
    with pytest.raises(PipelineImportError, match="no such file"):
        import_pipeline(tmp_path / "nope.yml")
    with pytest.raises(PipelineImportError, match="no such file"):
        import_pipeline(str(tmp_path / "nope.yml"))
    with pytest.raises(PipelineImportError, match="is a directory"):
        import_pipeline(tmp_path)


def test_local_includes_resolve_from_the_repository_root(tmp_path: Path) -> None:
    (tmp_path / ".gitlab" / "ci").mkdir(parents=True)
    (tmp_path / ".gitlab" / "ci" / "jobs.yml").write_text("lint:\n  script: [ruff check]\n")
    (tmp_path / ".gitlab-ci.yml").write_text(
        "include: .gitlab/ci/jobs.yml\nbuild:\n  script: [make]\n"
    )
    imported = import_pipeline(tmp_path / ".gitlab-ci.yml")
    names = {j.name for s in imported.pipeline.stages for j in s.jobs}
    assert names == {"build", "lint"}


def test_github_only_events_add_no_trigger_and_gitlab_never_starts() -> None:
    text = WORKFLOW.replace("  push:\n    branches: [main]\n", "  workflow_call: {}\n")
    imported = import_pipeline(text, "github")
    assert not imported.pipeline.config.triggers.any()
    assert any(n.rule == "trigger-none" for n in imported.notes)
    rendering = render(imported.pipeline, "all")
    github = rendering.files[".github/workflows/ci.yml"]
    assert "on:\n  workflow_call: {}\npermissions:" in github
    assert "    - when: never\n" in rendering.files[".gitlab-ci.yml"]
    assert [loss.rule for loss in rendering.losses if loss.path == ("config", "triggers")] == [
        "triggers-native"
    ]


def test_a_pipeline_without_any_trigger_is_still_refused() -> None:
    with pytest.raises(PipelineValidationError, match="no trigger"):
        create_pipeline(
            "x", [{"name": "s", "jobs": [{"name": "a", "steps": [{"run": "true"}]}]}], triggers={}
        )
