"""One contract for every run backend: local (real runs), GitHub and GitLab (``responses``).

Each backend subclass provides ``scenario(tmp_path, uses)``: a context in which the backend
knows one finished, failed run whose jobs are ``build`` (success, log "built") and ``test``
(failed, log "boom"), and which yields the backend and that run's id. ``uses`` names the
operations the test will call (get, poll, list, logs), so a provider scenario registers
exactly the requests they need and every registered request must have fired. The tests are
the same for all three backends.
"""

from __future__ import annotations

import json
import subprocess
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import responses
from responses import matchers

from codomyrmex.ci_cd_automation import Pipeline, load_pipeline
from codomyrmex.ci_cd_automation.backends.base import RunBackend
from codomyrmex.ci_cd_automation.backends.credentials import Credentials
from codomyrmex.ci_cd_automation.backends.github import GitHubBackend
from codomyrmex.ci_cd_automation.backends.gitlab import GitLabBackend
from codomyrmex.ci_cd_automation.backends.local import LocalBackend
from codomyrmex.ci_cd_automation.backends.transport import Policy

PIPELINE = """\
name: contract
stages:
  - name: s
    jobs:
      - name: build
        steps: [{run: echo built}]
      - name: test
        needs: [build]
        steps: [{run: "echo boom; exit 1"}]
"""


class RunBackendContract:
    @contextmanager
    def scenario(self, tmp_path: Path, uses: set[str]) -> Iterator[tuple[RunBackend, str]]:
        raise NotImplementedError
        yield  # pragma: no cover

    def test_a_run_reads_back_normalised(self, tmp_path: Path) -> None:
        with self.scenario(tmp_path, {"get"}) as (backend, run_id):
            run = backend.get_run(run_id)
        assert run.provider == backend.provider
        assert run.provider_run_id == run_id
        assert (run.status, run.finished) == ("failed", True)
        statuses = {job.name: job.status for job in run.jobs}
        assert statuses == {"build": "success", "test": "failed"}
        assert all(job.attempt == 1 for job in run.jobs)

    def test_polling_a_finished_run_finds_no_change(self, tmp_path: Path) -> None:
        with self.scenario(tmp_path, {"get", "poll"}) as (backend, run_id):
            run = backend.get_run(run_id)
            assert backend.poll_run(run) is None

    def test_the_run_is_listed(self, tmp_path: Path) -> None:
        with self.scenario(tmp_path, {"list"}) as (backend, run_id):
            listed = [r.provider_run_id for r in backend.list_runs()]
        assert run_id in listed

    def test_the_log_of_one_job(self, tmp_path: Path) -> None:
        with self.scenario(tmp_path, {"logs"}) as (backend, run_id):
            text = backend.logs(run_id, job="test")
        assert "boom" in text and "built" not in text


class TestLocalBackend(RunBackendContract):
    @contextmanager
    def scenario(self, tmp_path: Path, uses: set[str]) -> Iterator[tuple[RunBackend, str]]:
        (tmp_path / "pipeline.yaml").write_text(textwrap.dedent(PIPELINE))
        git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]
        subprocess.run(["git", "init", "-q", "-b", "main"], cwd=tmp_path, check=True)
        subprocess.run([*git, "add", "-A"], cwd=tmp_path, check=True)
        subprocess.run([*git, "commit", "-qm", "init"], cwd=tmp_path, check=True)
        backend = LocalBackend(load_pipeline(tmp_path / "pipeline.yaml"), tmp_path, jobs=1)
        run = backend.trigger(ref="main")
        yield backend, run.provider_run_id


def test_local_cancel_of_a_finished_run_changes_nothing(tmp_path: Path) -> None:
    with TestLocalBackend().scenario(tmp_path, set()) as (backend, run_id):
        backend.cancel(run_id)
        assert backend.get_run(run_id).status == "failed"


def test_local_run_ids_are_numbers(tmp_path: Path) -> None:
    backend = LocalBackend(load_pipeline_text_for(tmp_path), tmp_path)
    with pytest.raises(ValueError, match="a local run id is a number"):
        backend.get_run("abc")


def load_pipeline_text_for(tmp_path: Path) -> Pipeline:
    (tmp_path / "pipeline.yaml").write_text(textwrap.dedent(PIPELINE))
    return load_pipeline(tmp_path / "pipeline.yaml")


GH_FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "api" / "github"
GH_REPO = "https://api.github.com/repos/octo-org/octo-repo"
GH_RUN = f"{GH_REPO}/actions/runs/30433642"
ETAG = 'W/"contract"'


def _gh(name: str) -> Any:
    return json.loads((GH_FIXTURES / f"{name}.json").read_text())


class TestGitHubBackend(RunBackendContract):
    @contextmanager
    def scenario(self, tmp_path: Path, uses: set[str]) -> Iterator[tuple[RunBackend, str]]:
        run = _gh("workflow_run")
        run.update(status="completed", conclusion="failure")
        template = _gh("workflow_jobs")["jobs"][0]
        jobs = {
            "total_count": 2,
            "jobs": [
                {
                    **template,
                    "id": 1,
                    "name": "build",
                    "status": "completed",
                    "conclusion": "success",
                },
                {
                    **template,
                    "id": 2,
                    "name": "test",
                    "status": "completed",
                    "conclusion": "failure",
                },
            ],
        }
        query = matchers.query_param_matcher({"filter": "latest", "per_page": "100"})
        with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
            if "get" in uses:
                rsps.get(GH_RUN, json=run, headers={"ETag": ETAG})
                rsps.get(f"{GH_RUN}/jobs", json=jobs, match=[query])
            if "poll" in uses:
                rsps.get(
                    GH_RUN, status=304, match=[matchers.header_matcher({"If-None-Match": ETAG})]
                )
            if "list" in uses:
                rsps.get(f"{GH_REPO}/actions/runs", json={"total_count": 1, "workflow_runs": [run]})
            if "logs" in uses:
                rsps.get(f"{GH_RUN}/jobs", json=jobs, match=[query])
                signed = "https://results.example.net/logs/2.txt?sig=abc"
                rsps.get(f"{GH_REPO}/actions/jobs/2/logs", status=302, headers={"Location": signed})
                rsps.get(signed, body="boom\n")
            policy = Policy(sleep=lambda s: None, jitter=lambda: 0.0)
            yield (
                GitHubBackend(
                    "octo-org/octo-repo",
                    Credentials("github", "https://api.github.com", "ghp_contract"),
                    policy=policy,
                ),
                "30433642",
            )


GL_FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "api" / "gitlab"
GL_API = "https://gitlab.example.com/api/v4/projects/platform%2Fci%2Fweb-app"


def _gl(name: str) -> Any:
    return json.loads((GL_FIXTURES / f"{name}.json").read_text())


class TestGitLabBackend(RunBackendContract):
    @contextmanager
    def scenario(self, tmp_path: Path, uses: set[str]) -> Iterator[tuple[RunBackend, str]]:
        pipeline = {**_gl("pipeline"), "id": 1187, "status": "failed"}
        template = _gl("job")
        jobs = [
            {**template, "id": 11, "name": "build", "status": "success"},
            {**template, "id": 12, "name": "test", "status": "failed"},
        ]
        run_url = f"{GL_API}/pipelines/1187"
        query = matchers.query_param_matcher({"per_page": "100", "include_retried": "true"})
        with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
            if "get" in uses:
                rsps.get(run_url, json=pipeline, headers={"ETag": ETAG})
                rsps.get(f"{run_url}/jobs", json=jobs, match=[query])
            if "poll" in uses:
                rsps.get(
                    run_url, status=304, match=[matchers.header_matcher({"If-None-Match": ETAG})]
                )
            if "list" in uses:
                rsps.get(f"{GL_API}/pipelines", json=[pipeline])
            if "logs" in uses:
                rsps.get(f"{run_url}/jobs", json=jobs, match=[query])
                rsps.get(f"{GL_API}/jobs/12/trace", body="boom\n")
            policy = Policy(sleep=lambda s: None, jitter=lambda: 0.0)
            credentials = Credentials("gitlab", "https://gitlab.example.com", "glpat-contract")
            yield GitLabBackend("platform/ci/web-app", credentials, policy=policy), "1187"
