"""One contract for every run backend: local (real runs), GitHub and GitLab (``responses``).

Each backend subclass provides ``scenario()``: a context in which the backend knows one
finished, failed run whose jobs are ``build`` (success) and ``test`` (failed, log says
"boom"), and which yields the backend and that run's id. The tests are the same for all.
"""

from __future__ import annotations

import subprocess
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from codomyrmex.ci_cd_automation import Pipeline, load_pipeline
from codomyrmex.ci_cd_automation.backends.base import RunBackend
from codomyrmex.ci_cd_automation.backends.local import LocalBackend

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
    def scenario(self, tmp_path: Path) -> Iterator[tuple[RunBackend, str]]:
        raise NotImplementedError
        yield  # pragma: no cover

    def test_a_run_reads_back_normalised(self, tmp_path: Path) -> None:
        with self.scenario(tmp_path) as (backend, run_id):
            run = backend.get_run(run_id)
        assert run.provider == backend.provider
        assert run.provider_run_id == run_id
        assert (run.status, run.finished) == ("failed", True)
        statuses = {job.name: job.status for job in run.jobs}
        assert statuses == {"build": "success", "test": "failed"}
        assert all(job.attempt == 1 for job in run.jobs)

    def test_polling_a_finished_run_finds_no_change(self, tmp_path: Path) -> None:
        with self.scenario(tmp_path) as (backend, run_id):
            run = backend.get_run(run_id)
            assert backend.poll_run(run) is None

    def test_the_run_is_listed(self, tmp_path: Path) -> None:
        with self.scenario(tmp_path) as (backend, run_id):
            listed = [r.provider_run_id for r in backend.list_runs()]
        assert run_id in listed

    def test_the_log_of_one_job(self, tmp_path: Path) -> None:
        with self.scenario(tmp_path) as (backend, run_id):
            text = backend.logs(run_id, job="test")
        assert "boom" in text and "built" not in text


class TestLocalBackend(RunBackendContract):
    @contextmanager
    def scenario(self, tmp_path: Path) -> Iterator[tuple[RunBackend, str]]:
        (tmp_path / "pipeline.yaml").write_text(textwrap.dedent(PIPELINE))
        git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]
        subprocess.run(["git", "init", "-q", "-b", "main"], cwd=tmp_path, check=True)
        subprocess.run([*git, "add", "-A"], cwd=tmp_path, check=True)
        subprocess.run([*git, "commit", "-qm", "init"], cwd=tmp_path, check=True)
        backend = LocalBackend(load_pipeline(tmp_path / "pipeline.yaml"), tmp_path, jobs=1)
        run = backend.trigger(ref="main")
        yield backend, run.provider_run_id


def test_local_cancel_of_a_finished_run_changes_nothing(tmp_path: Path) -> None:
    with TestLocalBackend().scenario(tmp_path) as (backend, run_id):
        backend.cancel(run_id)
        assert backend.get_run(run_id).status == "failed"


def test_local_run_ids_are_numbers(tmp_path: Path) -> None:
    backend = LocalBackend(load_pipeline_text_for(tmp_path), tmp_path)
    with pytest.raises(ValueError, match="a local run id is a number"):
        backend.get_run("abc")


def load_pipeline_text_for(tmp_path: Path) -> Pipeline:
    (tmp_path / "pipeline.yaml").write_text(textwrap.dedent(PIPELINE))
    return load_pipeline(tmp_path / "pipeline.yaml")
