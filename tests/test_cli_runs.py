"""``cicd trigger``, ``status``, ``watch`` and ``runs pull`` on GitHub, no network."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import responses
from responses import matchers

from codomyrmex.ci_cd_automation.cli import main
from codomyrmex.ci_cd_automation.store import Store

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "api" / "github"
TOKEN = "ghp_N0tARealTokenButTreatedAsOne1234567"
REPO = "https://api.github.com/repos/octo-org/octo-repo"
RUN = f"{REPO}/actions/runs/30433642"
JOBS = f"{RUN}/jobs"
ARGS = ["--provider", "github", "--repo", "octo-org/octo-repo"]


def load(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def finished_run() -> tuple[Any, Any]:
    run = load("workflow_run")
    run.update(status="completed", conclusion="success", updated_at="2024-05-01T10:03:00Z")
    jobs = copy.deepcopy(load("workflow_jobs"))
    for job in jobs["jobs"]:
        job.update(status="completed", conclusion="success")
        job["completed_at"] = job.get("completed_at") or "2024-05-01T10:02:59Z"
    return run, jobs


@pytest.fixture(autouse=True)
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Runs are saved to the store of the current project: a scratch folder, not this repo."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    monkeypatch.setenv("CICD_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.delenv("GITHUB_API_URL", raising=False)
    return tmp_path


def stored_runs(folder: Path) -> list[Any]:
    with Store(folder / ".cicd" / "state.db") as store:
        return [store.get_run(r.id) for r in store.list_runs()]


def test_trigger_prints_the_run_and_saves_it(
    scratch: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (scratch / "pipeline.yaml").write_text(
        "name: web-app\nstages:\n  - name: s\n    jobs:\n      - name: j\n"
        "        steps: [{run: 'true'}]\n"
    )
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        dispatch = rsps.post(
            f"{REPO}/actions/workflows/web-app.yml/dispatches", json=load("dispatch_run_details")
        )
        rsps.get(RUN, json=load("workflow_run"))
        code = main(["trigger", "pipeline.yaml", *ARGS, "--ref", "main", "--input", "target=qa"])
        assert json.loads(dispatch.calls[0].request.body)["inputs"] == {"target": "qa"}
    out = capsys.readouterr().out
    assert code == 0
    assert out.startswith("github octo-org/octo-repo: run 30433642 running https://")
    (saved,) = stored_runs(scratch)
    assert (saved.provider, saved.provider_run_id, saved.status) == (
        "github",
        "30433642",
        "running",
    )


def test_watch_follows_the_run_to_its_end_and_exits_with_its_result(
    scratch: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    done, done_jobs = finished_run()
    query = matchers.query_param_matcher({"filter": "latest", "per_page": "100"})
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        rsps.get(RUN, json=load("workflow_run"), headers={"ETag": 'W/"one"'})
        rsps.get(JOBS, json=load("workflow_jobs"), match=[query])
        rsps.get(RUN, json=done, headers={"ETag": 'W/"two"'})
        rsps.get(JOBS, json=done_jobs, match=[query])
        code = main(["watch", "30433642", *ARGS, "--interval", "0.01"])
        assert rsps.calls[2].request.headers["If-None-Match"] == 'W/"one"'
    out = capsys.readouterr().out.splitlines()
    assert code == 0
    assert out[0] == "run 30433642: running"
    assert "run 30433642: success" in out
    assert out[-1] == "1 polls; run 30433642 success"
    (saved,) = stored_runs(scratch)
    assert saved.status == "success"
    assert {j.name: j.status for j in saved.jobs} == {"build": "success", "unit (3.12)": "success"}


def test_status_json_and_runs_pull_twice(scratch: Path, capsys: pytest.CaptureFixture[str]) -> None:
    done, done_jobs = finished_run()
    query = matchers.query_param_matcher({"filter": "latest", "per_page": "100"})
    listing = {"total_count": 1, "workflow_runs": [done]}
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        rsps.get(RUN, json=done)
        rsps.get(JOBS, json=done_jobs, match=[query])
        assert main(["status", "30433642", *ARGS, "--json"]) == 0
        status = json.loads(capsys.readouterr().out)
        assert (status["status"], len(status["jobs"])) == ("success", 2)

        rsps.get(f"{REPO}/actions/runs", json=listing)
        assert main(["runs", "pull", *ARGS, "--since", "30d"]) == 0
        first = capsys.readouterr().out
    assert "1 runs since" in first and "0 new" in first  # status saved it already
    with Store(scratch / ".cicd" / "state.db") as store:
        assert store.get_cursor("github", "octo-org/octo-repo") is not None


def test_a_bad_since_is_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=True):
        code = main(["runs", "pull", *ARGS, "--since", "last tuesday"])
    assert code == 2
    assert "expected an age like" in capsys.readouterr().err


def test_run_pipeline_on_github_triggers_and_follows_the_run(
    scratch: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from codomyrmex.ci_cd_automation import create_pipeline, run_pipeline

    pipeline = create_pipeline(
        "web-app",
        [
            {"name": "build", "jobs": [{"name": "build", "steps": [{"run": "make"}]}]},
            {"name": "test", "jobs": [{"name": "unit", "steps": [{"run": "pytest"}]}]},
        ],
    )
    done, done_jobs = finished_run()
    query = matchers.query_param_matcher({"filter": "latest", "per_page": "100"})
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        rsps.get(REPO, json=load("repo"))  # no ref given: the default branch
        dispatch = rsps.post(
            f"{REPO}/actions/workflows/web-app.yml/dispatches", json=load("dispatch_run_details")
        )
        rsps.get(RUN, json=load("workflow_run"), headers={"ETag": 'W/"one"'})
        rsps.get(RUN, status=304, match=[matchers.header_matcher({"If-None-Match": 'W/"one"'})])
        rsps.get(RUN, json=done, headers={"ETag": 'W/"two"'})
        rsps.get(JOBS, json=done_jobs, match=[query])
        result = run_pipeline(
            pipeline, "staging", backend="github", repo="octo-org/octo-repo", interval=0.01
        )
        assert json.loads(dispatch.calls[0].request.body)["ref"] == load("repo")["default_branch"]
    assert (result["status"], result["run_id"]) == ("success", "30433642")
    assert (result["stages_completed"], result["stages_total"]) == (2, 2)  # "unit (3.12)" is unit
    assert {j["name"] for j in result["jobs"]} == {"build", "unit (3.12)"}
    assert result["reports"]["url"].startswith("https://github.com/")


def test_a_bad_since_is_a_usage_error_raised_where_it_is_parsed() -> None:
    from codomyrmex.ci_cd_automation.commands.runs import parse_age
    from codomyrmex.ci_cd_automation.errors import UsageError

    with pytest.raises(UsageError, match="--since 'nonsense': expected an age"):
        parse_age("nonsense")


@pytest.mark.parametrize("command", ["status", "watch", "cancel", "logs"])
def test_a_run_id_that_is_not_a_number_is_bad_input_before_any_request(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=True):
        code = main([command, "latest", *ARGS])
    assert code == 2
    assert capsys.readouterr().err == 'cicd: github run id must be a number, got "latest"\n'


def test_a_watch_interval_must_be_positive(capsys: pytest.CaptureFixture[str]) -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=True):
        code = main(["watch", "30433642", *ARGS, "--interval", "0"])
    assert code == 2
    assert "--interval: must be positive" in capsys.readouterr().err
