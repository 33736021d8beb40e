"""Importing native GitHub Actions workflows into neutral pipeline data."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from codomyrmex.ci_cd_automation.errors import PipelineImportError
from codomyrmex.ci_cd_automation.model.loader import pipeline_from_data
from codomyrmex.ci_cd_automation.model.notes import Note
from codomyrmex.ci_cd_automation.translators import render
from codomyrmex.ci_cd_automation.translators.github_import import import_github
from codomyrmex.ci_cd_automation.translators.reader import ReaderResult

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
        id: n
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
    assert "steps" not in job["github"]  # no whole-job fallback: each step has its own hatch
    first, second = job["steps"]
    assert first["id"] == "n" and first["run"].endswith("exit 1")
    assert first["github"] == {"if": "failure()", "run": 'echo "${{ github.event.number }}"'}
    assert second == {"run": "echo ok"}
    assert result.data["config"]["github"]["jobs"]["call"]["uses"].endswith("other.yml")
    rules = {n.rule for n in result.notes}
    assert {"job-renamed", "job-runs-on", "job-if", "step-if", "step-run", "job-reusable"} <= rules
    assert "github.event.number" in _note(result, "jobs.default.steps[0].run").message


def _note(result: ReaderResult, path: str, rule: str | None = None) -> Note:
    found = [n for n in result.notes if n.where == path and rule in (None, n.rule)]
    assert found, f"no note at {path}: {result.notes}"
    return found[0]


def _github_jobs(result: ReaderResult) -> dict:
    rendering = render(pipeline_from_data(result.data), "github")
    (text,) = rendering.files.values()
    return yaml.safe_load(text)["jobs"]


def test_step_hatch_keeps_only_what_has_no_neutral_form() -> None:
    text = """
on: push
jobs:
  build:
    runs-on: ubuntu-latest
    strategy:
      matrix: {python-version: ['3.11', '3.12']}
    steps:
      - uses: actions/checkout@v4
        if: github.event_name == 'push'
        with: {fetch-depth: 0}
      - id: one
        name: Test ${{ matrix.python-version }}
        if: matrix.python-version == '3.12' && success()
        continue-on-error: ${{ matrix.python-version == '3.12' }}
        run: pytest --py "${{ matrix.python-version }}"
        env:
          GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}
          API: ${{ secrets.API }}
          OS: ${{ runner.os }}
      - uses: softprops/action-gh-release@v2
        with: {token: '${{ secrets.GITHUB_TOKEN }}', files: dist/*, draft: true}
        timeout-minutes: 5
"""
    result = import_github(text, "ci.yml")
    checkout, test, release = _job(result.data)["steps"]
    assert checkout == {"checkout": {"depth": 0}, "github": {"if": "github.event_name == 'push'"}}
    # The script and the neutral env entries stay neutral; only the rest is GitHub-only.
    assert test["id"] == "one" and test["run"] == 'pytest --py "${{ matrix.python_version }}"'
    assert test["env"] == {"API": "${{ secrets.API }}"}
    assert test["github"] == {
        "name": "Test ${{ matrix.python_version }}",  # renamed axis written anew
        "if": "matrix.python_version == '3.12' && success()",
        "continue-on-error": "${{ matrix.python_version == '3.12' }}",
        "env": {"GITHUB_TOKEN": "${{ secrets.GITHUB_TOKEN }}", "OS": "${{ runner.os }}"},
    }
    assert release["with"] == {"files": "dist/*", "draft": True}
    assert release["github"] == {
        "with": {"token": "${{ secrets.GITHUB_TOKEN }}"},
        "timeout-minutes": 5,
    }
    assert result.data["config"]["secrets"] == ["API"]
    assert _note(result, "jobs.build.steps[1].env.GITHUB_TOKEN").rule == "env-reserved"
    assert _note(result, "jobs.build.steps[2].with.token").rule == "github-token"
    assert _note(result, "jobs.build.steps[1].env.OS").rule == "step-env"
    # On GitHub every step keeps its if, id and inputs, in order.
    steps = _github_jobs(result)["build"]["steps"]
    assert [s.get("if") for s in steps] == [
        "github.event_name == 'push'",
        "matrix.python_version == '3.12' && success()",
        None,
    ]
    assert steps[1]["id"] == "one" and steps[1]["env"]["GITHUB_TOKEN"].startswith("${{")
    assert steps[2]["with"]["token"] == "${{ secrets.GITHUB_TOKEN }}"
    assert steps[2]["timeout-minutes"] == 5


def test_github_token_in_job_env_moves_only_that_entry() -> None:
    text = """
on: push
jobs:
  a:
    runs-on: ubuntu-latest
    env:
      GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}
      GH_TOKEN: ${{ github.token }}
      LEVEL: debug
      NPM_TOKEN: ${{ secrets.NPM_TOKEN }}
    steps: [{run: make}]
"""
    result = import_github(text, "ci.yml")
    job = _job(result.data)
    assert job["env"] == {"LEVEL": "debug"} and job["secrets"] == ["NPM_TOKEN"]
    assert job["github"] == {
        "env": {"GITHUB_TOKEN": "${{ secrets.GITHUB_TOKEN }}", "GH_TOKEN": "${{ github.token }}"}
    }
    assert _note(result, "jobs.a.env.GITHUB_TOKEN").rule == "env-reserved"
    assert _note(result, "jobs.a.env.GH_TOKEN").rule == "github-token"
    env = _github_jobs(result)["a"]["env"]
    assert env["GITHUB_TOKEN"] == "${{ secrets.GITHUB_TOKEN }}" and env["LEVEL"] == "debug"


def test_untranslatable_script_is_kept_for_github_and_fails_loudly_elsewhere() -> None:
    text = """
on:
  workflow_dispatch:
    inputs:
      target: {type: string, default: staging}
jobs:
  a:
    runs-on: ubuntu-latest
    steps:
      - id: plain
        run: echo "${{ github.event.inputs.target }}" >> "$GITHUB_OUTPUT"
      - id: pr
        shell: python
        run: print("${{ github.event.pull_request.title }}")
      - run: echo "${{ steps.pr.outputs.x }}"
"""
    result = import_github(text, "ci.yml")
    plain, pr, last = _job(result.data)["steps"]
    # A plain context with a neutral equivalent is translated (and passed through env).
    assert plain == {"id": "plain", "run": 'echo "${{ inputs.target }}" >> "$CICD_OUTPUT"'}
    assert pr["id"] == "pr" and pr["shell"] == "python"
    assert pr["run"].startswith("import sys") and "sys.exit(" in pr["run"]
    assert pr["github"] == {"run": 'print("${{ github.event.pull_request.title }}")'}
    assert last == {"run": 'echo "${{ steps.pr.outputs.x }}"'}
    steps = _github_jobs(result)["a"]["steps"]
    assert steps[1]["run"] == 'print("${{ github.event.pull_request.title }}")'
    assert steps[1]["shell"] == "python" and steps[1]["id"] == "pr"
    assert "${{" not in steps[0]["run"]  # the neutral template reaches the script via env


def test_defaults_run_becomes_step_fields() -> None:
    text = """
on: push
defaults:
  run: {shell: bash, working-directory: app}
jobs:
  a:
    runs-on: ubuntu-latest
    defaults:
      run: {working-directory: lib}
    steps:
      - run: make
      - run: make
        working-directory: ${{ github.workspace }}/x
      - run: make other
        shell: sh
        working-directory: other
      - uses: actions/checkout@v4
  conda:
    runs-on: ubuntu-latest
    defaults:
      run: {shell: 'bash -el {0}'}
    steps: [{run: conda info}]
  win:
    runs-on: windows-latest
    steps:
      - run: Get-ChildItem
      - run: dir
        shell: cmd
"""
    result = import_github(text, "ci.yml")
    a, conda, win = (_job(result.data, i) for i in range(3))
    assert a["steps"][0] == {"shell": "bash", "working_directory": "lib", "run": "make"}
    # A neutral working directory is a plain path: one with an expression is GitHub-only.
    assert a["steps"][1]["github"] == {
        "working-directory": "${{ github.workspace }}/x",
        "run": "make",
    }
    assert a["steps"][2] == {"shell": "sh", "working_directory": "other", "run": "make other"}
    assert a["steps"][3] == {"checkout": {}}
    assert "github" not in a and "github" not in result.data["config"]
    assert conda["steps"][0] == {
        "shell": "bash",
        "working_directory": "app",
        "run": "conda info",
        "github": {"shell": "bash -el {0}"},
    }
    # GitHub's default shell on Windows is pwsh; cmd has no neutral form.
    assert win["steps"][0] == {"shell": "bash", "working_directory": "app", "run": "Get-ChildItem"}
    assert win["steps"][1]["github"] == {"shell": "cmd", "run": "dir"}
    assert win["steps"][1]["run"].endswith("exit 1")
    assert {"defaults-run", "step-shell", "step-run"} <= {n.rule for n in result.notes}
    jobs = _github_jobs(result)
    assert jobs["a"]["steps"][0]["working-directory"] == "lib"
    assert jobs["a"]["steps"][1]["working-directory"] == "${{ github.workspace }}/x"
    assert jobs["conda"]["steps"][0]["shell"] == "bash -el {0}"
    assert [s["shell"] for s in jobs["win"]["steps"]] == ["bash", "cmd"]


def test_concurrency_and_run_name_are_kept_with_a_note() -> None:
    text = """
name: Release
run-name: Release ${{ github.ref_name }}
on: push
concurrency:
  group: ${{ github.workflow }}-${{ github.ref }}
  cancel-in-progress: true
jobs:
  a:
    runs-on: ubuntu-latest
    concurrency: deploy
    steps: [{run: make}]
"""
    result = import_github(text, "release.yml")
    hatch = result.data["config"]["github"]
    assert hatch["name"] == "Release" and hatch["run-name"].startswith("Release ${{")
    assert hatch["concurrency"]["cancel-in-progress"] is True
    assert _job(result.data)["github"] == {"concurrency": "deploy"}
    for path, rule in (("concurrency", "concurrency"), ("jobs.a.concurrency", "job-concurrency")):
        assert "GitLab has no equivalent" in _note(result, path, rule).message
    assert "GitLab" in _note(result, "run-name", "run-name").message


@pytest.mark.parametrize(
    ("runs_on", "neutral", "hatch"),
    [
        ("ubuntu-latest", "linux", None),
        ("macos-14", "macos-14", None),
        ("[self-hosted, linux, x64]", ["self-hosted", "linux", "x64"], None),
        ("'${{ matrix.os }}'", "${{ matrix.os }}", None),
        ("{group: large, labels: [linux]}", None, {"group": "large", "labels": ["linux"]}),
        ("'${{ inputs.runner }}'", None, "${{ inputs.runner }}"),
    ],
)
def test_runs_on_forms(runs_on: str, neutral: object, hatch: object) -> None:
    text = f"""
on: push
jobs:
  a:
    runs-on: {runs_on}
    strategy:
      matrix: {{os: [ubuntu-latest, macos-latest]}}
    steps: [{{run: make}}]
"""
    result = import_github(text, "ci.yml")
    job = _job(result.data)
    assert job.get("runs_on") == neutral
    assert job.get("github", {}).get("runs-on") == hatch
    generated = _github_jobs(result)["a"]["runs-on"]
    if neutral == "${{ matrix.os }}":  # neutral labels are mapped when the job runs
        assert generated.endswith("|| matrix.os }}")
    else:
        assert generated == yaml.safe_load(runs_on)


def test_workflow_call_and_dispatch_inputs() -> None:
    text = """
on:
  workflow_call:
    inputs:
      level: {type: string, required: true}
    secrets:
      token: {required: true}
    outputs:
      v: {value: '${{ jobs.a.outputs.v }}'}
  workflow_dispatch:
    inputs:
      name: {description: who, default: me}
      dry: {type: boolean, default: 'true'}
      count: {type: number, default: 3}
      target: {type: choice, options: [a, b], default: b}
      env: {type: environment}
jobs:
  a:
    runs-on: ubuntu-latest
    outputs: {v: '${{ steps.s.outputs.v }}'}
    steps:
      - id: s
        run: echo "v=${{ inputs.name }}" >> "$GITHUB_OUTPUT"
      - run: echo "${{ inputs.level }}"
        env: {TOKEN: '${{ secrets.token }}'}
"""
    result = import_github(text, "ci.yml")
    inputs = result.data["config"]["triggers"]["manual"]["inputs"]
    assert inputs == {
        "name": {"description": "who", "default": "me"},
        "dry": {"type": "boolean", "default": True},
        "count": {"type": "number", "default": 3},
        "target": {"type": "choice", "options": ["a", "b"], "default": "b"},
    }
    on = result.data["config"]["github"]["on"]
    assert set(on["workflow_call"]) == {"inputs", "secrets", "outputs"}
    assert on["workflow_dispatch"] == {"inputs": {"env": {"type": "environment"}}}
    first, second = _job(result.data)["steps"]
    assert first["run"] == 'echo "v=${{ inputs.name }}" >> "$CICD_OUTPUT"'
    # A workflow_call input has no neutral form: that script is GitHub-only.
    assert second["github"]["run"] == 'echo "${{ inputs.level }}"'
    assert second["env"] == {"TOKEN": "${{ secrets.token }}"}
    assert _note(result, "on.workflow_dispatch.inputs.env").rule == "trigger-input"


def test_on_filter_ignores_are_kept_with_notes() -> None:
    text = """
on:
  push:
    branches: [main]
    branches-ignore: [wip/**]
    tags-ignore: ['nightly*']
    paths-ignore: [docs/**]
  pull_request:
    paths-ignore: ['*.md']
jobs:
  a:
    runs-on: ubuntu-latest
    steps: [{run: make}]
"""
    result = import_github(text, "ci.yml")
    assert result.data["config"]["triggers"] == {"push": {"branches": ["main"]}, "pull_request": {}}
    assert result.data["config"]["github"]["on"] == {
        "push": {
            "branches-ignore": ["wip/**"],
            "tags-ignore": ["nightly*"],
            "paths-ignore": ["docs/**"],
        },
        "pull_request": {"paths-ignore": ["*.md"]},
    }
    for key in ("branches-ignore", "tags-ignore", "paths-ignore"):
        assert "other targets" in _note(result, f"on.push.{key}", "trigger-filter").message


@pytest.mark.parametrize(
    ("value", "neutral", "hatch"),
    [
        ("{}", {}, None),
        ("{contents: write, id-token: write}", {"contents": "write", "id-token": "write"}, None),
        ("read-all", None, "read-all"),
        ("write-all", None, "write-all"),
    ],
)
def test_permission_forms(value: str, neutral: object, hatch: object) -> None:
    text = f"on: push\npermissions: {value}\njobs:\n  a:\n    runs-on: x\n    steps: [{{run: a}}]\n"
    result = import_github(text, "ci.yml")
    config = result.data["config"]
    assert config.get("permissions") == neutral
    assert config.get("github", {}).get("permissions") == hatch
    rendering = render(pipeline_from_data(result.data), "github")
    (out,) = rendering.files.values()
    assert yaml.safe_load(out)["permissions"] == yaml.safe_load(value)


def test_container_services_and_object_matrix() -> None:
    text = """
on: push
jobs:
  a:
    runs-on: ubuntu-latest
    container:
      image: node:20
      options: --cpus 2
    services:
      redis: {image: 'redis:7', ports: ['6379:6379']}
      pg:
        image: postgres:16
        credentials: {username: u, password: '${{ secrets.PG }}'}
    strategy:
      matrix:
        cfg: [{os: linux, cc: gcc}]
        include: [{cfg: {os: mac, cc: clang}}]
        exclude: [{cfg: {os: linux, cc: gcc}}]
    steps:
      - run: echo "${{ matrix.cfg.cc }}"
"""
    result = import_github(text, "ci.yml")
    job = _job(result.data)
    assert "image" not in job and "services" not in job and "matrix" not in job
    assert job["github"]["container"] == {"image": "node:20", "options": "--cpus 2"}
    assert set(job["github"]["services"]) == {"redis", "pg"}
    assert job["github"]["strategy"]["matrix"]["include"] == [{"cfg": {"os": "mac", "cc": "clang"}}]
    assert job["steps"][0]["github"] == {"run": 'echo "${{ matrix.cfg.cc }}"'}
    rules = {n.rule for n in result.notes}
    assert {"job-container", "job-services", "job-matrix", "step-run"} <= rules
    simple = import_github(
        "on: push\njobs:\n  a:\n    runs-on: x\n    container: {image: 'node:20'}\n"
        "    services:\n      redis: {image: 'redis:7'}\n    steps: [{run: a}]\n",
        "ci.yml",
    )
    job = _job(simple.data)
    assert job["image"] == "node:20" and job["services"] == [{"image": "redis:7", "alias": "redis"}]


def test_parallel_and_wait_steps_keep_the_job_steps_verbatim() -> None:
    text = """
on: push
jobs:
  a:
    runs-on: ubuntu-latest
    steps:
      - id: server
        run: npm start
        background: true
      - parallel:
          - run: npm run build:a
          - run: npm run build:b
      - wait: server
"""
    result = import_github(text, "ci.yml")
    job = _job(result.data)
    assert [s["run"] for s in job["steps"]] == ["npm start", "npm run build:a", "npm run build:b"]
    assert job["github"]["steps"][1]["parallel"][0] == {"run": "npm run build:a"}
    assert _note(result, "jobs.a.steps").rule == "job-steps"
    assert _note(result, "jobs.a.steps[0].background").rule == "step-background"


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        ("[{name: x}]", r'jobs\.a\.steps\[0\]: a step needs exactly one of "run" or "uses"'),
        ("[{run: a, uses: b/c@v1}]", r"jobs\.a\.steps\[0\]: a step needs exactly one"),
        ("[3]", r"jobs\.a\.steps\[0\]: a step is a mapping"),
        ("[{uses: checkout}]", r'jobs\.a\.steps\[0\]\.uses: "checkout" is not an action'),
    ],
)
def test_steps_github_refuses_fail_with_one_line(steps: str, message: str) -> None:
    text = f"on: push\njobs:\n  a:\n    runs-on: x\n    steps: {steps}\n"
    with pytest.raises(PipelineImportError, match=r"^bad\.yml: " + message) as info:
        import_github(text, "bad.yml")
    assert "\n" not in str(info.value)


def test_validation_repairs_move_one_step_part() -> None:
    # The job output name is not a neutral identifier, so the needs output the next job
    # reads does not validate: only that env entry moves to the step's hatch.
    text = """
on: push
jobs:
  a:
    runs-on: x
    outputs: {out-name: '${{ steps.s.outputs.v }}'}
    steps: [{id: s, run: 'echo v=1 >> $GITHUB_OUTPUT'}]
  b:
    needs: a
    runs-on: x
    steps:
      - run: echo "$V" "$W"
        env: {V: '${{ needs.a.outputs.out-name }}', W: plain}
"""
    result = import_github(text, "ci.yml")
    pipeline_from_data(result.data)
    step = _job(result.data, 1)["steps"][0]
    assert step["env"] == {"W": "plain"}
    assert step["github"] == {"env": {"V": "${{ needs.a.outputs.out-name }}"}}
    assert "did not validate" in _note(result, "jobs.b.steps[0].env.V").message


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
    # The file first, then the line and column where there is one.
    with pytest.raises(PipelineImportError, match=r"^bad\.yml(:\d+:\d+)?: "):
        import_github(text, "bad.yml")


def _corpus_files() -> list[Path]:
    globs = (
        "github/*",
        "schemastore/github-workflow/valid/*",
        "schemastore/github-workflow/invalid/*",
    )
    return [p for g in globs for p in sorted(CORPUS.glob(g)) if p.is_file()]


class _Hung(Exception):
    """An import that did not finish within the guard (a hang, not a slow run)."""


@contextlib.contextmanager
def _hang_guard(seconds: int) -> Iterator[None]:
    # A guard against hangs only: generous, and no time is asserted.
    def fire(signum: int, frame: object) -> None:
        raise _Hung

    previous = signal.signal(signal.SIGALRM, fire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _step_marks(steps: object) -> list[tuple[object, bool]]:
    """(id, has an if) of every step with either, in order."""
    marks = []
    for step in steps if isinstance(steps, list) else []:
        if isinstance(step, dict) and ("id" in step or "if" in step):
            marks.append((step.get("id"), "if" in step))
    return marks


def _generated_marks(steps: list[dict]) -> list[tuple[object, bool]]:
    # Steps the generator adds itself (artifact packing and transfer) are not the file's.
    own = ("Pack artifacts", "Unpack artifacts", "Download artifacts")
    return _step_marks([s for s in steps if not str(s.get("name", "")).startswith(own)])


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"corpus {CORPUS} is absent")
def test_corpus_imports_or_fails_clearly() -> None:
    files = _corpus_files()
    assert files
    imported: dict[str, int] = {"github": 0, "valid": 0, "invalid": 0}
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        try:
            with _hang_guard(60):
                result = import_github(text, path.name)
        except PipelineImportError as exc:
            assert "\n" not in str(exc) and str(exc).startswith(path.name + ":")
            continue
        except _Hung:
            pytest.fail(f"{path.name}: the import did not finish")
        pipeline_from_data(result.data)
        imported[path.parent.name if "schemastore" in str(path) else "github"] += 1
        # On GitHub the regenerated workflow keeps every step's id and if, in order.
        native = yaml.safe_load(text)
        renames = {n.path: n.renamed_to for n in result.notes if n.rule == "job-renamed"}
        jobs = _github_jobs(result)
        for job_id, job in native["jobs"].items():
            if not isinstance(job, dict) or not isinstance(job.get("steps"), list):
                continue
            name = renames.get(("jobs", job_id)) or job_id
            assert _generated_marks(jobs[name]["steps"]) == _step_marks(job["steps"]), (
                f"{path.name}: job {job_id}"
            )
    # Only files whose jobs are all reusable-workflow calls or step-less fail among real ones.
    assert imported["github"] >= 52
    assert imported["valid"] >= 28


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
    assert any(n.rule == "job-strategy" for n in result.notes)


def test_windows_default_shell_is_kept() -> None:
    text = """
on: push
jobs:
  win:
    runs-on: windows-latest
    steps: [{run: Get-ChildItem}]
  mixed:
    runs-on: ${{ matrix.os }}
    strategy:
      matrix: {os: [ubuntu-latest, windows-latest]}
    steps: [{run: make}]
"""
    result = import_github(text, "ci.yml")
    win, mixed = _job(result.data), _job(result.data, 1)
    # GitHub runs a step without a shell in pwsh on Windows: the neutral step says so.
    assert win["steps"] == [{"shell": "pwsh", "run": "Get-ChildItem"}]
    assert _github_jobs(result)["win"]["steps"][0]["shell"] == "pwsh"
    # With some Windows runners in a matrix there is no neutral form; a note says so.
    assert mixed["steps"] == [{"run": "make"}]
    assert _note(result, "jobs.mixed", "windows-default-shell")


def test_runner_variables_become_the_neutral_facts_or_a_note() -> None:
    text = (
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - run: echo $GITHUB_SHA ${GITHUB_REF} '$GITHUB_SHA' $RUNNER_TEMP\n"
    )
    result = import_github(text, "ci.yml")
    step = result.data["stages"][0]["jobs"][0]["steps"][0]
    assert step["run"] == "echo $CICD_SHA ${CICD_REF} '$GITHUB_SHA' $RUNNER_TEMP"
    notes = [n for n in result.notes if n.rule == "github-variables"]
    assert notes and "(RUNNER_TEMP)" in notes[0].message
