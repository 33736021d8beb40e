"""The ``cicd`` command: exit codes, what it writes (and never half-writes), and its output.

Most tests call ``main()`` in-process; a few run the real module as a subprocess, to check
the entry point and that no traceback ever reaches a user.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
from ruamel.yaml import YAML

from codomyrmex.ci_cd_automation.cli import main
from codomyrmex.ci_cd_automation.commands import generate as generate_command
from testing.cli import run_cicd, snapshot

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures" / "pipelines"
OK_FILES = sorted((FIXTURES / "ok").glob("*.yaml"))
PIPELINE = """\
name: demo
config:
  triggers: {push: {branches: [main]}}
stages:
  - name: test
    jobs:
      - name: unit
        steps:
          - checkout: {}
          - run: pytest -q
"""
WORKFLOW = Path(".github/workflows/demo.yml")
GITLAB = Path(".gitlab-ci.yml")


@pytest.fixture
def pipeline(tmp_path: Path) -> Path:
    path = tmp_path / "pipeline.yaml"
    path.write_text(PIPELINE, encoding="utf-8")
    return path


# --- validate -------------------------------------------------------------------------------


def test_validate_ok_and_err_as_a_subprocess() -> None:
    ok = run_cicd("validate", "fixtures/pipelines/ok/minimal.yaml")
    assert (ok.returncode, ok.stderr) == (0, "")
    assert ok.stdout == "fixtures/pipelines/ok/minimal.yaml: ok (1 stage, 1 job)\n"

    err = run_cicd("validate", "fixtures/pipelines/err/job-needs.yaml")
    assert err.returncode == 2
    assert err.stdout == ""
    golden = (FIXTURES / "err" / "job-needs.out").read_text(encoding="utf-8")
    assert err.stderr == golden


def test_validate_many_files_reports_each_and_fails_if_any_fails(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    code = main(
        [
            "validate",
            "fixtures/pipelines/ok/minimal.yaml",
            "fixtures/pipelines/err/when-status.yaml",
            "fixtures/pipelines/ok/jobs.yaml",
        ]
    )
    out, err = capsys.readouterr()
    assert code == 2
    assert out.splitlines() == [
        "fixtures/pipelines/ok/minimal.yaml: ok (1 stage, 1 job)",
        "fixtures/pipelines/ok/jobs.yaml: ok (2 stages, 5 jobs)",
    ]
    assert err == (FIXTURES / "err" / "when-status.out").read_text(encoding="utf-8")


def test_a_directory_or_a_missing_file_is_one_clean_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for command in ("validate", "generate"):
        assert main([command, str(tmp_path)]) == 2
        err = capsys.readouterr().err
        assert err == f"{tmp_path}: cannot read file: is a directory [file-read]\n"
    assert main(["validate", str(tmp_path / "nope.yaml")]) == 2
    err = capsys.readouterr().err
    assert (
        err
        == f"{tmp_path / 'nope.yaml'}: cannot read file: no such file or directory [file-read]\n"
    )


def test_bad_input_never_prints_a_traceback(tmp_path: Path) -> None:
    cases = {
        "dir": tmp_path,
        "bomb": FIXTURES / "err" / "yaml-alias-bomb.yaml",
        "encoding": FIXTURES / "err" / "yaml-encoding.yaml",
        "depth": FIXTURES / "err" / "yaml-depth.yaml",
        "list": FIXTURES / "err" / "wrong-type-list.yaml",
    }
    for name, path in cases.items():
        result = run_cicd("generate", str(path), "--out", str(tmp_path / "out"))
        assert result.returncode == 2, name
        assert "Traceback" not in result.stderr, name
        assert len(result.stderr.splitlines()) == 1, (name, result.stderr)
    assert not (tmp_path / "out").exists()


# --- usage ----------------------------------------------------------------------------------


def test_usage_errors_exit_2_and_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["frobnicate"]) == 2
    assert "invalid choice: 'frobnicate'" in capsys.readouterr().err
    assert main([]) == 2
    assert main(["validate"]) == 2
    assert main(["generate", "p.yaml", "--target", "jenkins"]) == 2
    capsys.readouterr()
    assert main(["--help"]) == 0
    assert "generate" in capsys.readouterr().out


def test_unknown_command_as_a_subprocess() -> None:
    result = run_cicd("frobnicate")
    assert result.returncode == 2
    assert result.stdout == ""
    assert "usage: cicd" in result.stderr and "Traceback" not in result.stderr


def test_internal_errors_are_one_line_exit_3_unless_debug(
    pipeline: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(generate_command, "render", broken)
    assert main(["generate", str(pipeline), "--out", str(tmp_path / "out")]) == 3
    line = "cicd: internal error: RuntimeError: boom (run with --debug to see where)\n"
    assert capsys.readouterr().err == line
    assert main(["--debug", "generate", str(pipeline), "--out", str(tmp_path / "out")]) == 3
    err = capsys.readouterr().err
    assert "Traceback" in err and 'raise RuntimeError("boom")' in err and err.endswith(line)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("error", [ValueError("bad index"), KeyError("stages")])
def test_a_bare_value_error_or_key_error_is_internal_not_bad_input(
    pipeline: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    error: Exception,
) -> None:
    """Only ``UsageError`` (and the pipeline errors) mean bad input; a slip inside ``cicd``
    that happens to raise ``ValueError`` is not blamed on the user."""

    def broken(*args: object, **kwargs: object) -> None:
        raise error

    monkeypatch.setattr(generate_command, "render", broken)
    assert main(["generate", str(pipeline), "--out", str(tmp_path / "out")]) == 3
    err = capsys.readouterr().err
    name = type(error).__name__
    assert err == f"cicd: internal error: {name}: {error} (run with --debug to see where)\n"


def test_help_names_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    epilog = out[out.index("exit codes:") :].splitlines()
    assert [line.split()[0] for line in epilog[1:]] == ["0", "1", "2", "3", "130"]
    assert "internal error" in epilog[4] and "--debug" in epilog[4]


# --- generate -------------------------------------------------------------------------------


def test_generate_writes_both_files_under_out(
    pipeline: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "repo"
    assert main(["generate", str(pipeline), "--out", str(out)]) == 0
    assert sorted(snapshot(out)) == sorted([GITLAB.as_posix(), WORKFLOW.as_posix()])
    assert capsys.readouterr().err.splitlines() == [
        f"wrote {out / WORKFLOW}",
        f"wrote {out / GITLAB}",
    ]
    workflow = (out / WORKFLOW).read_text(encoding="utf-8")
    assert workflow.startswith("# Generated by codomyrmex-ci-cd")
    assert "pytest -q" in workflow
    assert "pytest -q" in (out / GITLAB).read_text(encoding="utf-8")
    assert not [p for p in out.rglob(".*.*") if p.is_file() and p.name.startswith(".demo")]


@pytest.mark.parametrize(("target", "expected"), [("github", WORKFLOW), ("gitlab", GITLAB)])
def test_generate_one_target(pipeline: Path, tmp_path: Path, target: str, expected: Path) -> None:
    out = tmp_path / "repo"
    assert main(["generate", str(pipeline), "--target", target, "--out", str(out)]) == 0
    assert sorted(snapshot(out)) == [expected.as_posix()]


def test_generate_is_deterministic(tmp_path: Path) -> None:
    source = FIXTURES / "ok" / "jobs.yaml"
    first, second = tmp_path / "a", tmp_path / "b"
    assert run_cicd("generate", str(source), "--out", str(first)).returncode == 0
    assert run_cicd("generate", str(source), "--out", str(second)).returncode == 0
    a = {k: v[0] for k, v in snapshot(first).items()}
    b = {k: v[0] for k, v in snapshot(second).items()}
    assert a == b and len(a) == 2


def test_check_passes_when_up_to_date_and_writes_nothing(pipeline: Path, tmp_path: Path) -> None:
    out = tmp_path / "repo"
    assert main(["generate", str(pipeline), "--out", str(out)]) == 0
    before = snapshot(out)
    assert main(["generate", str(pipeline), "--out", str(out), "--check"]) == 0
    assert snapshot(out) == before


def test_check_fails_when_a_file_differs_or_is_missing(
    pipeline: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "repo"
    assert main(["generate", str(pipeline), "--out", str(out)]) == 0
    (out / GITLAB).write_text("# edited by hand\n", encoding="utf-8")
    (out / WORKFLOW).unlink()
    before = snapshot(out)
    capsys.readouterr()
    assert main(["generate", str(pipeline), "--out", str(out), "--check"]) == 1
    assert snapshot(out) == before
    assert capsys.readouterr().err.splitlines() == [
        f"{out / WORKFLOW}: missing; run cicd generate {pipeline} --out {out}",
        f"{out / GITLAB}: out of date; run cicd generate {pipeline} --out {out}",
    ]
    assert main(["generate", str(pipeline), "--out", str(tmp_path / "empty"), "--check"]) == 1
    assert not (tmp_path / "empty").exists()


def test_invalid_input_leaves_existing_files_byte_identical(
    pipeline: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "repo"
    assert main(["generate", str(pipeline), "--out", str(out)]) == 0
    before = snapshot(out)
    pipeline.write_text(PIPELINE.replace("run: pytest -q", "run: pytest ${{ vars.NOPE }}"), "utf-8")
    capsys.readouterr()
    for extra in ([], ["--check"], ["--target", "gitlab"]):
        assert main(["generate", str(pipeline), "--out", str(out), *extra]) == 2
        err = capsys.readouterr().err
        assert err.endswith("[template-context]\n") and len(err.splitlines()) == 1
        assert snapshot(out) == before


def test_an_unwritable_out_is_bad_input_not_a_traceback(
    pipeline: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder", encoding="utf-8")
    assert main(["generate", str(pipeline), "--out", str(blocker)]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and err.startswith("cicd: ")
    assert re.match(r"^cicd: .*: [a-z]", err)


# --- schema ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def schema() -> dict[str, object]:
    result = run_cicd("schema")
    assert result.returncode == 0 and result.stderr == ""
    loaded: dict[str, object] = json.loads(result.stdout)
    jsonschema.Draft202012Validator.check_schema(loaded)
    return loaded


@pytest.mark.parametrize("path", OK_FILES, ids=lambda p: p.stem)
def test_schema_accepts_the_ok_fixtures(schema: dict[str, object], path: Path) -> None:
    data = YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))
    jsonschema.validate(data, schema, cls=jsonschema.Draft202012Validator)


def test_schema_rejects_unknown_keys_and_bad_names(schema: dict[str, object]) -> None:
    validator = jsonschema.Draft202012Validator(schema)
    good = YAML(typ="safe", pure=True).load(PIPELINE)
    assert not list(validator.iter_errors(good))
    for change in (
        lambda d: d.update(bogus=1),
        lambda d: d["stages"][0]["jobs"][0].update(stpes=[]),
        lambda d: d["config"].update(variables={"bad-name": "x"}),
        lambda d: d["stages"][0]["jobs"][0].update(matrix={"bad-axis": [1]}),
    ):
        data = YAML(typ="safe", pure=True).load(PIPELINE)
        change(data)
        assert list(validator.iter_errors(data)), data


# --- the pre-commit hook --------------------------------------------------------------------


def test_pre_commit_hook_manifest() -> None:
    hooks = YAML(typ="safe", pure=True).load((ROOT / ".pre-commit-hooks.yaml").read_text("utf-8"))
    assert isinstance(hooks, list)
    (hook,) = [h for h in hooks if h["id"] == "cicd-generate-check"]
    for key in ("id", "name", "entry", "language"):
        assert isinstance(hook[key], str) and hook[key], key
    assert hook["language"] == "python"
    assert hook["entry"] == "cicd generate --check"
    assert hook["pass_filenames"] is False
    files = re.compile(hook["files"])
    for name in ("pipeline.yaml", "pipeline.yml", ".gitlab-ci.yml", ".github/workflows/ci.yml"):
        assert files.search(name), name
    for name in ("examples/app/pipeline.yaml", "src/pipeline.py", "docs/.gitlab-ci.yml.md"):
        assert not files.search(name), name


def test_pre_commit_hook_command_checks_a_repository(tmp_path: Path) -> None:
    """What pre-commit runs: entry + args, from the repository root."""
    hooks = YAML(typ="safe", pure=True).load((ROOT / ".pre-commit-hooks.yaml").read_text("utf-8"))
    hook = hooks[0]
    command = [*hook["entry"].split()[1:], *hook.get("args", [])]
    (tmp_path / "pipeline.yaml").write_text(PIPELINE, encoding="utf-8")
    assert run_cicd(*command, cwd=tmp_path).returncode == 1  # nothing generated yet
    assert run_cicd("generate", "pipeline.yaml", cwd=tmp_path).returncode == 0
    assert run_cicd(*command, cwd=tmp_path).returncode == 0
    (tmp_path / GITLAB).write_text("# edited by hand\n", encoding="utf-8")
    assert run_cicd(*command, cwd=tmp_path).returncode == 1


def test_version() -> None:
    result = run_cicd("--version")
    assert result.returncode == 0
    assert re.fullmatch(r"cicd \d+\.\d+\.\d+\n", result.stdout)
