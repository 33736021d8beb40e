"""Importing native GitHub Actions workflows into neutral pipeline data (issue 3)."""

from __future__ import annotations

from pathlib import Path

import pytest

from codomyrmex.ci_cd_automation.model.loader import pipeline_from_data
from codomyrmex.ci_cd_automation.translators.github_import import (
    GitHubImportError,
    import_github,
)

# The shared corpus sits beside the checkout (../shared/corpus), in CI as on a laptop.
CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus"


def _job(data: dict, index: int = 0) -> dict:
    return data["stages"][0]["jobs"][index]


def _import(text: str) -> dict:
    result = import_github(text, "ci.yml")
    pipeline_from_data(result.data)
    return result.data


def test_on_forms() -> None:
    steps = "jobs:\n  a:\n    runs-on: ubuntu-latest\n    steps: [{run: echo hi}]\n"
    assert _import("on: push\n" + steps)["config"]["triggers"] == {"push": {}}
    data = _import("on: [push, pull_request]\n" + steps)
    assert data["config"]["triggers"] == {"push": {}, "pull_request": {}}
    text = (
        "on:\n  push: {branches: [main], tags: ['v*'], paths: ['src/**']}\n"
        "  pull_request: {branches: [main], types: [opened]}\n"
        "  schedule: [{cron: '0 3 * * 1'}]\n"
        "  workflow_dispatch:\n    inputs:\n      target: {type: choice, options: [a, b], "
        "default: a}\n"
        "  release: {types: [published]}\n" + steps
    )
    result = import_github(text, "ci.yml")
    pipeline_from_data(result.data)
    trig = result.data["config"]["triggers"]
    assert trig["push"] == {"branches": ["main"], "tags": ["v*"], "paths": ["src/**"]}
    assert trig["schedule"] == ["0 3 * * 1"]
    assert trig["manual"]["inputs"]["target"]["options"] == ["a", "b"]
    hatch = result.data["config"]["github"]["on"]
    assert hatch == {"pull_request": {"types": ["opened"]}, "release": {"types": ["published"]}}
    assert {n.rule for n in result.notes} >= {"trigger-event", "trigger-filter"}


def test_job_fields_and_expressions() -> None:
    text = """
on: push
env: {LEVEL: debug}
permissions: {contents: read}
jobs:
  build:
    runs-on: ubuntu-latest
    container: python:3.12
    timeout-minutes: 5
    continue-on-error: true
    environment: staging
    outputs: {v: '${{ steps.ver.outputs.v }}'}
    strategy:
      matrix: {python-version: ['3.11', '3.12'], exclude: [{python-version: '3.11'}]}
    services:
      db: {image: postgres:16, ports: ['5432:5432'], env: {POSTGRES_PASSWORD: x}}
    steps:
      - uses: actions/checkout@v4
        with: {fetch-depth: 0}
      - uses: actions/setup-python@v5
        with: {python-version: '${{ matrix.python-version }}'}
      - uses: actions/cache@v4
        with: {path: ~/.cache/pip, key: "pip-${{ hashFiles('requirements.txt') }}"}
      - id: ver
        run: echo "v=${{ github.sha }}" >> "$GITHUB_OUTPUT"
        env: {TOKEN: '${{ secrets.API_TOKEN }}', L: '${{ env.LEVEL }}'}
  deploy:
    needs: build
    if: github.ref == 'refs/heads/main' && github.event_name == 'push'
    runs-on: ubuntu-latest
    steps:
      - run: echo "${{ needs.build.outputs.v }}"
"""
    data = _import(text)
    build, deploy = _job(data), _job(data, 1)
    assert data["config"]["variables"] == {"LEVEL": "debug"}
    assert data["config"]["secrets"] == ["API_TOKEN"]
    assert build["runs_on"] == "linux" and build["image"] == "python:3.12"
    assert build["timeout"] == 300 and build["allow_failure"] is True
    assert build["matrix"] == {
        "python_version": ["3.11", "3.12"],
        "exclude": [{"python_version": "3.11"}],
    }
    assert build["services"][0] == {
        "image": "postgres:16",
        "alias": "db",
        "env": {"POSTGRES_PASSWORD": "x"},
        "ports": [5432],
    }
    steps = build["steps"]
    assert steps[0] == {"checkout": {"depth": 0}}
    assert steps[1] == {"setup": {"python": "${{ matrix.python_version }}"}}
    assert steps[2]["cache"]["key"] == "pip-${{ hash('requirements.txt') }}"
    assert steps[3]["run"] == 'echo "v=${{ ci.sha }}" >> "$CICD_OUTPUT"'
    assert steps[3]["env"] == {"TOKEN": "${{ secrets.API_TOKEN }}", "L": "${{ vars.LEVEL }}"}
    assert deploy["needs"] == ["build"]
    assert deploy["when"] == {"branches": ["main"], "events": ["push"]}
    assert deploy["steps"][0]["run"] == 'echo "${{ needs.build.outputs.v }}"'


def test_unmappable_parts_go_to_escape_hatches_with_notes() -> None:
    text = """
on: push
jobs:
  default:
    runs-on: {group: big}
    if: contains(github.event.head_commit.message, 'x')
    steps:
      - if: failure()
        run: echo "${{ github.event.number }}"
      - run: echo ok
  call:
    uses: ./.github/workflows/other.yml
"""
    result = import_github(text, "ci.yml")
    pipeline_from_data(result.data)
    job = _job(result.data)
    assert job["name"] == "default_job"
    assert job["github"]["runs-on"] == {"group": "big"}
    assert job["github"]["if"].startswith("contains(")
    assert job["github"]["steps"][0]["if"] == "failure()"
    assert job["steps"][0]["run"].endswith("exit 1") and job["steps"][1] == {"run": "echo ok"}
    assert result.data["config"]["github"]["jobs"]["call"]["uses"].endswith("other.yml")
    rules = {n.rule for n in result.notes}
    assert {"job-renamed", "job-runs-on", "job-if", "step-github-only", "job-reusable"} <= rules


def test_fromjson_matrix_is_kept_verbatim() -> None:
    text = """
on: push
jobs:
  a:
    strategy: {matrix: '${{ fromJSON(needs.x.outputs.m) }}'}
    runs-on: ubuntu-latest
    steps: [{run: 'echo ${{ matrix.v }}'}]
"""
    result = import_github(text, "ci.yml")
    pipeline_from_data(result.data)
    assert result.data["stages"][0]["jobs"][0]["github"]["strategy"]["matrix"].startswith("${{")


@pytest.mark.parametrize("text", ["", "[1, 2]", "on: push\n", "a: [", "on: push\njobs: 3\n"])
def test_bad_input_raises_one_error_type(text: str) -> None:
    with pytest.raises(GitHubImportError, match=r"^bad\.yml: "):
        import_github(text, "bad.yml")


def _corpus_files() -> list[Path]:
    globs = (
        "github/*",
        "schemastore/github-workflow/valid/*",
        "schemastore/github-workflow/invalid/*",
    )
    return [p for g in globs for p in sorted(CORPUS.glob(g)) if p.is_file()]


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"corpus {CORPUS} is absent")
def test_corpus_imports_or_fails_clearly() -> None:
    files = _corpus_files()
    assert files
    imported = 0
    for path in files:
        try:
            result = import_github(path.read_text(encoding="utf-8", errors="replace"), path.name)
        except GitHubImportError as exc:
            assert "\n" not in str(exc) and str(exc).startswith(path.name)
            continue
        pipeline_from_data(result.data)
        imported += 1
    assert imported > len(files) // 2


def test_strategy_without_a_matrix_is_left_out() -> None:
    text = """
on: push
jobs:
  a:
    runs-on: ubuntu-latest
    strategy:
      fail-fast: true
    steps:
      - run: echo hi
"""
    result = import_github(text, "w.yml")
    job = result.data["stages"][0]["jobs"][0]
    assert "strategy" not in job.get("github", {})
    assert any(rule == "job-strategy" for _, _, rule in result.notes)
