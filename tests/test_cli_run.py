"""``cicd run``: exit codes, bad input, output, signals, native files.

Bad-input cases call ``main()`` in-process (the run never starts); everything that runs
jobs or receives a signal runs the real module as a subprocess, with ``--project-dir`` on a
git repository in ``tmp_path``. Timeouts below are guards against hangs, never speed checks.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from codomyrmex.ci_cd_automation.cli import main
from codomyrmex.ci_cd_automation.store import Store
from testing.repos import make_repo
from testing.runs import SECRET, pids_in, survivors

GUARD = 20.0

OK = """\
name: ok
config:
  triggers: {push: {}, manual: {inputs: {level: {type: choice, options: [low, high]}}}}
  variables: {MODE: normal}
  secrets: [API_TOKEN]
stages:
  - name: build
    jobs:
      - name: build
        secrets: [API_TOKEN]
        steps:
          - run: |
              echo "building $MODE"
              echo "token: $API_TOKEN"
          - uses: someone/unknown-action@v1
  - name: test
    dependencies: [build]
    jobs:
      - name: unit
        matrix: {py: ["3.11", "3.12"]}
        steps: [{run: echo unit $py}]
      - name: release
        when: {tags: ["v*"]}
        steps: [{run: echo release}]
"""


EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "codomyrmex.ci_cd_automation.cli", *args]


def cicd(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command(*args),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=cwd,
        env={**os.environ, "PYTHONWARNINGS": "error", **(env or {})},
    )


# --- exit codes and output ---------------------------------------------------------------


def test_a_successful_run_exits_0_with_progress_and_summary(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", OK)

    done = cicd("run", str(repo / "pipeline.yaml"), "--project-dir", str(repo))

    assert done.returncode == 0, done.stderr
    out = done.stdout.splitlines()
    # Not a terminal: one line per job start and end, nothing redrawn.
    assert "\r" not in done.stdout and "\x1b[" not in done.stdout
    for label in ("build", "unit (py=3.11)", "unit (py=3.12)"):
        assert f"start     {label}" in out
        assert any(line.startswith(f"ok        {label} in ") for line in out), label
    assert any(line.startswith("skipped   release: when.tags") for line in out)
    table = out.index(
        next(line for line in out if line.split() == ["job", "status", "attempts", "duration"])
    )
    rows = [line.split() for line in out[table + 2 : table + 6]]
    assert [r[0] for r in rows] == ["build", "unit", "unit", "release"]
    assert "notice: build: uses: someone/unknown-action@v1 is skipped" in done.stdout
    assert out[-1].startswith("pipeline success in ")
    assert (repo / ".cicd" / "runs" / "1" / "build.log").is_file()


def test_a_failed_run_exits_1(tmp_path: Path) -> None:
    broken = make_repo(
        tmp_path / "broken",
        """\
        name: broken
        stages:
          - name: s
            jobs:
              - {name: a, steps: [{run: exit 3}]}
              - {name: b, needs: [a], steps: [{run: "true"}]}
        """,
    )
    failed = cicd("run", str(broken / "pipeline.yaml"), "--project-dir", str(broken), "--json")

    assert failed.returncode == 1, failed.stderr
    result = json.loads(failed.stdout)
    assert result["status"] == "failed"
    assert [(j["name"], j["status"], j["exit_code"]) for j in result["jobs"]] == [
        ("a", "failed", 3),
        ("b", "skipped", None),
    ]
    assert "a" in result["jobs"][1]["reason"]


def test_json_prints_one_object_with_the_issue_keys(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", OK)

    done = cicd("run", str(repo / "pipeline.yaml"), "--project-dir", str(repo), "--json")

    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)  # standard output holds the JSON object only
    assert {
        "status",
        "pipeline_id",
        "execution_time",
        "stages_completed",
        "stages_total",
        "artifacts",
        "reports",
        "run_id",
        "jobs",
    } <= set(result)
    assert result["status"] == "success"
    assert (result["stages_completed"], result["stages_total"]) == (2, 2)
    assert len(result["jobs"]) == 4
    for entry in result["jobs"]:
        assert {
            "name",
            "matrix",
            "status",
            "allowed_failure",
            "attempts",
            "duration",
            "exit_code",
            "log",
        } <= set(entry)
        assert entry["status"] in ("success", "failed", "skipped", "cancelled")
    unit = [e for e in result["jobs"] if e["name"] == "unit"]
    assert [e["matrix"] for e in unit] == [{"py": "3.11"}, {"py": "3.12"}]
    release = result["jobs"][-1]
    assert (release["status"], release["attempts"], release["log"]) == ("skipped", 0, None)
    assert Path(result["jobs"][0]["log"]).read_text().count("building normal") == 1


def test_dry_run_prints_the_plan_and_writes_nothing(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", OK)

    done = cicd("run", str(repo / "pipeline.yaml"), "--project-dir", str(repo), "--dry-run")

    assert done.returncode == 0, done.stderr
    text = done.stdout
    order = [text.index(label) for label in ("build", "unit (py=3.11)", "unit (py=3.12)")]
    assert order == sorted(order)
    assert "release: when.tags" in text
    assert "nothing was run" in text
    assert not (repo / ".cicd").exists()


# --- bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--only", "nope"], '"nope"'),
        (["--input", "level"], "--input"),
        (["--input", "undeclared=1"], "undeclared"),
        (["--input", "level=medium", "--event", "manual"], "medium"),
        (["--var", "NOPE=1"], "NOPE"),
        (["--env-file", "@ENV@"], "@ENV@:3"),
        (["--env-file", "@MISSING@"], "@MISSING@"),
        (["--project-dir", "@MISSING@"], "@MISSING@"),
        (["--tag", "bad..tag", "--event", "tag"], "bad..tag"),
        (["--jobs", "-1"], "--jobs"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], expected: str
) -> None:
    repo = make_repo(tmp_path / "repo", OK)
    env_file = tmp_path / "bad.env"
    env_file.write_text("# comment\nGOOD=1\nthis line is not an assignment\n")
    missing = tmp_path / "missing"
    subst = {"@ENV@": str(env_file), "@MISSING@": str(missing)}
    args = [subst.get(a, a) for a in args]
    expected = expected.replace("@ENV@", str(env_file)).replace("@MISSING@", str(missing))
    project = [] if "--project-dir" in args else ["--project-dir", str(repo)]

    code = main(["run", str(repo / "pipeline.yaml"), *project, *args])

    captured = capsys.readouterr()
    assert code == 2, captured
    assert captured.out == ""
    assert len(captured.err.splitlines()) == 1, captured.err
    assert captured.err.startswith("cicd: ") and expected in captured.err
    assert "Traceback" not in captured.err
    assert not (repo / ".cicd").exists()


def test_zero_jobs_is_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = make_repo(tmp_path / "repo", OK)

    code = main(["run", str(repo / "pipeline.yaml"), "--project-dir", str(repo), "--jobs", "0"])

    assert code == 2
    assert not (repo / ".cicd").exists()


def test_an_unknown_event_is_a_usage_error(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", OK)

    done = cicd("run", str(repo / "pipeline.yaml"), "--project-dir", str(repo), "--event", "nope")

    assert done.returncode == 2
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if "error" in line]
    assert len(errors) == 1 and "'nope'" in errors[0]
    assert not (repo / ".cicd").exists()


def test_an_invalid_pipeline_file_exits_2(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", "name: bad\nstages: []\n")

    done = cicd("run", str(repo / "pipeline.yaml"), "--project-dir", str(repo))

    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert str(repo / "pipeline.yaml") in done.stderr
    assert not (repo / ".cicd").exists()


# --- secrets on the terminal ---------------------------------------------------------------


@pytest.mark.parametrize("source", ["environment", "env-file"])
def test_a_secret_never_reaches_the_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str
) -> None:
    repo = make_repo(tmp_path / "repo", OK)
    env_file = tmp_path / "ci.env"
    env_file.write_text(f"API_TOKEN={SECRET}\n")
    extra = ["--env-file", str(env_file)] if source == "env-file" else []
    env = {"API_TOKEN": SECRET} if source == "environment" else {}
    monkeypatch.delenv("API_TOKEN", raising=False)

    text = cicd("run", str(repo / "pipeline.yaml"), "--project-dir", str(repo), *extra, env=env)
    as_json = cicd(
        "run", str(repo / "pipeline.yaml"), "--project-dir", str(repo), "--json", *extra, env=env
    )

    assert text.returncode == 0 and as_json.returncode == 0, text.stderr + as_json.stderr
    for done in (text, as_json):
        assert SECRET not in done.stdout + done.stderr
    for log in (repo / ".cicd" / "runs").glob("*/build.log"):
        assert "token: ***" in log.read_text()


def test_a_secret_in_a_skip_reason_is_masked_on_the_terminal(tmp_path: Path) -> None:
    # The branch name happens to equal the secret's value: the skip reason of "release"
    # names the branch.
    repo = make_repo(tmp_path / "repo", OK.replace('tags: ["v*"]', "branches: [release]"))

    done = cicd(
        "run",
        str(repo / "pipeline.yaml"),
        "--project-dir",
        str(repo),
        "--branch",
        SECRET,
        env={"API_TOKEN": SECRET},
    )

    assert done.returncode == 0, done.stderr
    assert "does not match branch" in done.stdout
    assert SECRET not in done.stdout + done.stderr


# --- native files ------------------------------------------------------------------------


def test_a_native_github_workflow_runs(tmp_path: Path) -> None:
    workflow = """\
    name: ci
    on: [push]
    jobs:
      build:
        runs-on: ubuntu-latest
        steps:
          - uses: actions/checkout@v4
          - run: |
              mkdir -p dist
              echo "from-build $(cat file.txt)" > dist/out.txt
          - uses: actions/upload-artifact@v4
            with: {name: dist, path: dist/}
      test:
        needs: build
        runs-on: ubuntu-latest
        steps:
          - run: echo "test saw ${GREETING}"
            env: {GREETING: hi-there}
      lint:
        runs-on: ubuntu-latest
        continue-on-error: true
        steps:
          - run: exit 4
    """
    repo = make_repo(
        tmp_path / "repo",
        "unused: true\n",
        {"file.txt": "hello\n", ".github/workflows/ci.yml": textwrap.dedent(workflow)},
    )

    done = cicd("run", str(repo / ".github/workflows/ci.yml"), "--project-dir", str(repo), "--json")

    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert {j["name"]: j["status"] for j in result["jobs"]} == {
        "build": "success",
        "test": "success",
        "lint": "failed",
    }
    logs = {j["name"]: Path(j["log"]).read_text() for j in result["jobs"]}
    assert "test saw hi-there" in logs["test"]


def test_a_native_gitlab_file_runs(tmp_path: Path) -> None:
    gitlab = """\
    stages: [build, test]
    variables:
      WHO: world
    build:
      stage: build
      script:
        - mkdir -p dist
        - echo "hello $WHO" > dist/out.txt
      artifacts:
        paths: [dist/]
    test:
      stage: test
      script:
        - cat dist/out.txt
    flaky:
      stage: test
      allow_failure: true
      script:
        - exit 2
    """
    repo = make_repo(
        tmp_path / "repo", "unused: true\n", {".gitlab-ci.yml": textwrap.dedent(gitlab)}
    )

    done = cicd("run", str(repo / ".gitlab-ci.yml"), "--project-dir", str(repo), "--json")

    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert {j["name"]: j["status"] for j in result["jobs"]} == {
        "build": "success",
        "test": "success",
        "flaky": "failed",
    }
    test_log = Path(next(j["log"] for j in result["jobs"] if j["name"] == "test")).read_text()
    assert "hello world" in test_log


# --- signals -------------------------------------------------------------------------------

LONG = """\
name: long
config:
  variables: {PIDS: "@PIDS@"}
stages:
  - name: s
    jobs:
      - name: long
        steps:
          - run: |
              sleep 30 &
              echo $! >> "$PIDS"
              (sleep 30; echo never) &
              echo $! >> "$PIDS"
              echo $$ >> "$PIDS"
              echo started
              wait
      - name: after
        needs: [long]
        steps: [{run: echo after}]
"""


@pytest.fixture
def long_run(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], Path, Path]]:
    """``cicd run`` of a job that sleeps 30 s, once the job's processes are all started."""
    pids = tmp_path / "pids"
    repo = make_repo(tmp_path / "repo", LONG, PIDS=pids)
    out = (tmp_path / "out").open("wb")
    proc = subprocess.Popen(
        command("run", str(repo / "pipeline.yaml"), "--project-dir", str(repo)),
        stdout=out,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )
    try:
        log = repo / ".cicd" / "runs" / "1" / "long.log"
        end = time.monotonic() + GUARD
        while not (log.exists() and "started" in log.read_text()):
            assert proc.poll() is None, (tmp_path / "out").read_text()
            assert time.monotonic() < end, "the job never started"
            time.sleep(0.02)
        yield proc, repo, pids
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        out.close()
        # Whatever the runner left behind (a failing test, the SIGKILL test) ends here.
        for pid in pids_in(pids) if pids.exists() else []:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_cancels_the_run_and_kills_its_processes(
    long_run: tuple[subprocess.Popen[bytes], Path, Path], sig: signal.Signals
) -> None:
    proc, repo, pids = long_run
    job_pids = pids_in(pids)
    assert len(job_pids) == 3

    proc.send_signal(sig)
    code = proc.wait(timeout=GUARD)

    assert code == 1
    assert survivors(job_pids) == []
    with Store(repo / ".cicd" / "state.db") as store:
        record = store.get_run(1)
    assert record.status == "cancelled"
    assert record.finished_at is not None
    assert {(j.name, j.status) for j in record.jobs} == {
        ("long", "cancelled"),
        ("after", "cancelled"),
    }
    for job in record.jobs:
        assert job.finished_at is not None
        assert all(a.status == "cancelled" for a in job.attempt_records)
    assert "never" not in (repo / ".cicd" / "runs" / "1" / "long.log").read_text()


def test_a_killed_runner_leaves_a_record_mark_interrupted_can_close(
    long_run: tuple[subprocess.Popen[bytes], Path, Path],
) -> None:
    proc, repo, _pids = long_run

    proc.kill()  # SIGKILL: no handler runs, the record stays as it was written
    proc.wait(timeout=GUARD)

    with Store(repo / ".cicd" / "state.db") as store:
        before = store.get_run(1)
        after = store.mark_interrupted(1, reason="runner killed")
    assert before.status == "running"
    assert [(j.name, j.status) for j in before.jobs] == [("long", "running")]
    assert [a.status for a in before.jobs[0].attempt_records] == ["running"]
    assert after.status == "cancelled"
    assert [(j.name, j.status) for j in after.jobs] == [("long", "cancelled")]
    (attempt,) = after.jobs[0].attempt_records
    assert (attempt.status, attempt.reason) == ("cancelled", "runner killed")


def test_the_next_run_closes_a_run_whose_runner_was_killed(
    long_run: tuple[subprocess.Popen[bytes], Path, Path],
) -> None:
    proc, repo, _pids = long_run
    proc.kill()
    proc.wait(timeout=GUARD)

    (repo / "other.yaml").write_text(
        "name: other\nstages:\n  - name: s\n    jobs:\n      - name: j\n"
        "        steps: [{run: 'true'}]\n"
    )
    result = cicd("run", str(repo / "other.yaml"), "--project-dir", str(repo), "--dry-run")
    assert result.returncode == 0  # a dry run writes nothing, so it closes nothing
    with Store(repo / ".cicd" / "state.db") as store:
        assert store.get_run(1).status == "running"

    result = cicd("run", str(repo / "other.yaml"), "--project-dir", str(repo))
    assert result.returncode == 0, result.stderr
    with Store(repo / ".cicd" / "state.db") as store:
        stale = store.get_run(1)
        assert store.get_run(2).status == "success"
    assert stale.status == "cancelled"
    (job,) = stale.jobs
    assert job.status == "cancelled"
    assert job.attempt_records[0].reason == "the runner stopped without closing the run"


@pytest.mark.parametrize(
    "example", sorted(p.parent.name for p in EXAMPLES.glob("*/pipeline.yaml")), ids=str
)
def test_every_example_has_a_dry_run_plan(example: str, tmp_path: Path) -> None:
    pipeline = EXAMPLES / example / "pipeline.yaml"
    result = cicd("run", str(pipeline), "--dry-run", "--json", "--project-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    assert plan["status"] == "planned"
    assert plan["jobs"], plan
    assert {e["status"] for e in plan["jobs"]} <= {"planned", "skipped"}
    assert not (tmp_path / ".cicd").exists()


def test_skip_reasons_name_matrix_legs_by_their_values(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(
        textwrap.dedent(
            """\
            name: legs
            stages:
              - name: s
                jobs:
                  - name: m
                    matrix: {n: [1, 2]}
                    when: {branches: [release]}
                    steps: [{run: "true"}]
                  - name: d
                    needs: [m]
                    steps: [{run: "true"}]
            """
        )
    )
    for extra in (["--dry-run"], []):
        result = cicd(
            "run", str(tmp_path / "p.yaml"), "--json", "--project-dir", str(tmp_path), *extra
        )
        reasons = {e["name"]: e["reason"] for e in json.loads(result.stdout)["jobs"]}
        assert reasons["d"] == 'dependency "m (n=1)" was skipped', extra


def test_bad_input_from_deep_inside_the_runner_is_a_usage_error_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The env file is read by the runner, not the command; its error still means bad input
    (``UsageError``), not an internal error."""
    from codomyrmex.ci_cd_automation.errors import UsageError
    from codomyrmex.ci_cd_automation.local_runner.runner import read_env_file

    repo = make_repo(tmp_path / "repo", OK)
    env_file = tmp_path / "bad.env"
    env_file.write_text("GOOD=1\nnot an assignment\n")
    with pytest.raises(UsageError, match=r"bad\.env:2:1: expected KEY=VALUE"):
        read_env_file(env_file)

    pipeline = str(repo / "pipeline.yaml")
    code = main(["run", pipeline, "--project-dir", str(repo), "--env-file", str(env_file)])

    err = capsys.readouterr().err
    assert code == 2
    assert err == f"cicd: {env_file}:2:1: expected KEY=VALUE, got 'not an assignment'\n"
