"""The local runner's behaviour through ``run_pipeline``: real jobs in real git repositories.

Every test builds a small repository in ``tmp_path`` (``git init -b main``, one commit), writes
a shell-only pipeline into it and runs it with ``project_dir=tmp_path``. Facts are read from
the result dictionary, the job logs, files the jobs write outside their workspace (absolute
paths handed in through pipeline variables) and the store (``.cicd/state.db``). Nothing here
asserts how long something took; ``GUARD`` only turns a hang into a failure.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from codomyrmex.ci_cd_automation import PipelineExecutionError, load_pipeline, run_pipeline
from codomyrmex.ci_cd_automation.store import RunRecord, Store
from testing.repos import git, make_repo
from testing.runs import SECRET, pids_in, survivors

# Upper bound for one run, a guard against hangs and never a speed assertion: the jobs that
# must be stopped sleep 30 s, so finishing within GUARD means they were stopped.
GUARD = 20.0

# --- helpers -----------------------------------------------------------------------------


def run(repo: Path, **kwargs: Any) -> dict[str, Any]:
    """``run_pipeline`` on ``repo/pipeline.yaml``, failing (not hanging) after ``GUARD``."""
    pipeline = load_pipeline(repo / "pipeline.yaml")
    kwargs.setdefault("jobs", 2)
    return finishes(lambda: run_pipeline(pipeline, project_dir=repo, **kwargs))


def finishes(call: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    results: list[dict[str, Any]] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            results.append(call())
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(GUARD)
    assert not thread.is_alive(), f"the run did not end within {GUARD}s"
    if errors:
        raise errors[0]
    return results[0]


def jobs_by_label(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for entry in result["jobs"]:
        label = entry["name"]
        if entry["matrix"] is not None:
            label += "(" + ",".join(f"{k}={v}" for k, v in entry["matrix"].items()) + ")"
        assert label not in out, f"two entries for {label}"
        out[label] = entry
    return out


def statuses(result: dict[str, Any]) -> dict[str, str]:
    return {label: e["status"] for label, e in jobs_by_label(result).items()}


def log_of(result: dict[str, Any], label: str) -> str:
    path = jobs_by_label(result)[label]["log"]
    assert path is not None, f"{label} has no log"
    return Path(path).read_text()


def stored(repo: Path, result: dict[str, Any]) -> RunRecord:
    with Store(repo / ".cicd" / "state.db") as store:
        return store.get_run(int(result["run_id"]))


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


# --- retries -----------------------------------------------------------------------------

FLAKY = """\
name: flaky
config:
  variables: {COUNTER: "@COUNTER@", SEEN: "@SEEN@"}
stages:
  - name: s
    jobs:
      - name: flaky
        retry_policy: {max_attempts: 3, on: [@ON@]}
        steps:
          - checkout: {}
          - run: |
              echo "$(ls -A | tr '\\n' ' ')| $(cat file.txt)" >> "$SEEN"
              echo changed > file.txt
              touch leftover
              n=$(( $(cat "$COUNTER" 2>/dev/null || echo 0) + 1 ))
              echo "$n" > "$COUNTER"
              [ "$n" -ge 3 ] || exit 7
"""


def test_retry_until_the_third_attempt_succeeds_records_every_attempt(tmp_path: Path) -> None:
    counter, seen = tmp_path / "counter", tmp_path / "seen"
    repo = make_repo(tmp_path / "repo", FLAKY, COUNTER=counter, SEEN=seen, ON="script_failure")

    result = run(repo)

    assert result["status"] == "success"
    entry = jobs_by_label(result)["flaky"]
    assert (entry["status"], entry["attempts"], entry["exit_code"]) == ("success", 3, 0)
    assert counter.read_text().strip() == "3"
    (job,) = stored(repo, result).jobs
    assert (job.status, job.attempts) == ("success", 3)
    assert [(a.number, a.status, a.exit_code) for a in job.attempt_records] == [
        (1, "failed", 7),
        (2, "failed", 7),
        (3, "success", 0),
    ]
    assert all(a.finished_at is not None for a in job.attempt_records)


def test_each_attempt_starts_from_a_fresh_workspace(tmp_path: Path) -> None:
    counter, seen = tmp_path / "counter", tmp_path / "seen"
    repo = make_repo(tmp_path / "repo", FLAKY, COUNTER=counter, SEEN=seen, ON="script_failure")

    run(repo)

    # Every attempt saw the committed files only: no "leftover", no "changed" text.
    # (.git is the workspace's own shallow clone of HEAD.)
    assert lines(seen) == [".git file.txt pipeline.yaml | hello"] * 3


def test_retry_on_timeout_does_not_retry_an_exit_code_failure(tmp_path: Path) -> None:
    counter, seen = tmp_path / "counter", tmp_path / "seen"
    repo = make_repo(tmp_path / "repo", FLAKY, COUNTER=counter, SEEN=seen, ON="timeout")

    result = run(repo)

    assert result["status"] == "failed"
    entry = jobs_by_label(result)["flaky"]
    assert (entry["status"], entry["attempts"], entry["exit_code"]) == ("failed", 1, 7)
    assert counter.read_text().strip() == "1"
    (job,) = stored(repo, result).jobs
    assert [(a.number, a.status) for a in job.attempt_records] == [(1, "failed")]


def test_a_timeout_is_retried_when_the_policy_names_it(tmp_path: Path) -> None:
    counter = tmp_path / "counter"
    repo = make_repo(
        tmp_path / "repo",
        """\
        name: slow-once
        config:
          variables: {COUNTER: "@COUNTER@"}
        stages:
          - name: s
            jobs:
              - name: slow
                timeout: 1
                retry_policy: {max_attempts: 2, on: [timeout]}
                steps:
                  - run: |
                      echo x >> "$COUNTER"
                      if [ "$(wc -l < "$COUNTER")" -lt 2 ]; then sleep 30; fi
        """,
        COUNTER=counter,
    )

    result = run(repo)

    entry = jobs_by_label(result)["slow"]
    assert (result["status"], entry["status"], entry["attempts"]) == ("success", "success", 2)
    (job,) = stored(repo, result).jobs
    first, second = job.attempt_records
    assert first.status == "failed" and "timeout" in (first.reason or "")
    assert second.status == "success"


# --- timeouts ----------------------------------------------------------------------------


def test_job_timeout_fails_the_job_and_kills_every_process_of_it(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    repo = make_repo(
        tmp_path / "repo",
        """\
        name: hang
        config:
          variables: {PIDS: "@PIDS@"}
        stages:
          - name: s
            jobs:
              - name: hang
                timeout: 1
                steps:
                  - run: |
                      echo $$ > "$PIDS"
                      sleep 30 &
                      echo $! >> "$PIDS"
                      (sleep 30; echo never) &
                      echo $! >> "$PIDS"
                      sleep 30
                      wait
        """,
        PIDS=pids,
    )

    result = run(repo)

    assert result["status"] == "failed"
    entry = jobs_by_label(result)["hang"]
    assert (entry["status"], entry["attempts"]) == ("failed", 1)
    recorded = pids_in(pids)
    assert len(recorded) == 3
    assert survivors(recorded) == []
    assert "never" not in log_of(result, "hang")
    (job,) = stored(repo, result).jobs
    assert job.status == "failed"
    assert "timeout" in (job.attempt_records[0].reason or "")


def test_step_timeout_fails_the_step_and_the_job_stops_there(tmp_path: Path) -> None:
    after = tmp_path / "after"
    repo = make_repo(
        tmp_path / "repo",
        """\
        name: step-timeout
        config:
          variables: {AFTER: "@AFTER@"}
        stages:
          - name: s
            jobs:
              - name: j
                steps:
                  - run: sleep 30
                    timeout: 1
                  - run: touch "$AFTER"
        """,
        AFTER=after,
    )

    result = run(repo)

    assert statuses(result) == {"j": "failed"}
    assert not after.exists()
    (job,) = stored(repo, result).jobs
    assert "step's timeout" in (job.attempt_records[0].reason or "")


def test_run_timeout_cancels_the_run(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path / "repo",
        """\
        name: run-timeout
        stages:
          - name: s
            jobs:
              - name: long
                steps: [{run: sleep 30}]
              - name: later
                needs: [long]
                steps: [{run: "true"}]
        """,
    )

    result = run(repo, timeout=1)

    assert result["status"] == "cancelled"
    assert result["reports"]["timed_out"] is True
    assert statuses(result) == {"long": "cancelled", "later": "cancelled"}
    record = stored(repo, result)
    assert record.status == "cancelled"
    assert {j.status for j in record.jobs} <= {"cancelled"}


# --- secrets and masking ------------------------------------------------------------------

SECRETS = """\
name: secrets
config:
  triggers: {push: {}}
  secrets: [API_TOKEN]
stages:
  - name: s
    jobs:
      - name: uses-it
        secrets: [API_TOKEN]
        steps:
          - run: |
              echo "whole: $API_TOKEN."
              printf '%s' "split: ${API_TOKEN:0:5}"; sleep 0.1; printf '%s\\n' "${API_TOKEN:5}"
              echo "$API_TOKEN" | rev | rev
              echo "plain=${PLAIN:-unset}"
      - name: does-not-declare
        steps:
          - run: |
              echo "token=${API_TOKEN:-unset}"
              echo "other=${OTHER_VAR:-unset}"
"""


def secret_free(repo: Path, secret: str) -> None:
    """No byte of ``.cicd`` (logs, the database and its WAL) holds ``secret``."""
    found = []
    for path in (repo / ".cicd").rglob("*"):
        if path.is_file() and secret.encode() in path.read_bytes():
            found.append(str(path.relative_to(repo)))
    assert found == []


@pytest.mark.parametrize("source", ["environment", "env-file"])
def test_a_declared_secret_is_masked_in_logs_result_and_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str
) -> None:
    repo = make_repo(tmp_path / "repo", SECRETS)
    env_file = tmp_path / "secrets.env"
    if source == "environment":
        monkeypatch.setenv("API_TOKEN", SECRET)
        kwargs: dict[str, Any] = {}
    else:
        monkeypatch.delenv("API_TOKEN", raising=False)
        env_file.write_text(f"# comment\nAPI_TOKEN={SECRET}\nexport PLAIN='visible'\n")
        kwargs = {"env_file": env_file}
    monkeypatch.setenv("OTHER_VAR", "from-the-caller")

    result = run(repo, **kwargs)

    assert result["status"] == "success"
    log = log_of(result, "uses-it")
    assert SECRET not in log
    # The job had the value (three masked prints), split across two writes included.
    assert log.count("***") == 3, log
    assert "whole: ***." in log
    assert "split: ***" in log
    assert ("plain=visible" if source == "env-file" else "plain=unset") in log
    other = log_of(result, "does-not-declare")
    assert "token=unset" in other
    assert "other=unset" in other
    assert SECRET not in json.dumps(result)
    secret_free(repo, SECRET)


def test_a_secret_is_masked_in_the_result_wherever_it_shows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The secret's value is also the branch name, so it appears in the event's ref.
    monkeypatch.setenv("API_TOKEN", SECRET)
    repo = make_repo(tmp_path / "repo", SECRETS)

    result = run(repo, branch=SECRET)

    text = json.dumps(result)
    assert SECRET not in text
    assert result["reports"]["event"]["ref"] == "refs/heads/***"


def test_an_undeclared_secret_never_reaches_a_job(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("API_TOKEN", SECRET)
    repo = make_repo(
        tmp_path / "repo",
        """\
        name: no-secrets
        stages:
          - name: s
            jobs:
              - name: j
                steps: [{run: 'echo "token=${API_TOKEN:-unset}"'}]
        """,
    )

    result = run(repo)

    assert "token=unset" in log_of(result, "j")


# --- the store ------------------------------------------------------------------------------

MIXED = """\
name: mixed
stages:
  - name: build
    jobs:
      - name: build
        matrix: {n: [1, 2]}
        steps: [{run: echo build $n}]
      - name: lint
        allow_failure: true
        steps: [{run: exit 3}]
      - name: broken
        steps: [{run: exit 5}]
  - name: test
    dependencies: [build]
    jobs:
      - name: unit
        steps: [{run: "true"}]
      - name: release
        when: {branches: [release]}
        needs: []
        steps: [{run: "true"}]
      - name: report
        when: {status: on_failure}
        steps: [{run: echo report}]
"""


def test_every_job_instance_is_a_stored_row_with_a_final_status(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", MIXED)

    result = run(repo)

    assert result["status"] == "failed"
    assert statuses(result) == {
        "build(n=1)": "success",
        "build(n=2)": "success",
        "lint": "failed",
        "broken": "failed",
        "unit": "skipped",
        "release": "skipped",
        "report": "success",
    }
    record = stored(repo, result)
    assert record.status == "failed"
    assert record.finished_at is not None
    rows = sorted((j.name, json.dumps(j.matrix), j.status) for j in record.jobs)
    assert rows == sorted((e["name"], json.dumps(e["matrix"]), e["status"]) for e in result["jobs"])
    for job in record.jobs:
        assert job.finished_at is not None, job.name
        assert all(a.status in ("success", "failed") for a in job.attempt_records), job.name
    by_name = {j.name: j for j in record.jobs if j.matrix is None}
    assert (by_name["lint"].allowed_failure, by_name["lint"].exit_code) == (True, 3)
    assert by_name["broken"].exit_code == 5
    assert by_name["unit"].attempts == 0 and by_name["release"].attempts == 0


def test_the_store_is_a_wal_sqlite_database_with_the_run(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", MIXED)

    first = run(repo)
    second = run(repo)

    assert int(second["run_id"]) == int(first["run_id"]) + 1
    with Store(repo / ".cicd" / "state.db") as store:
        assert store.journal_mode == "wal"
        assert store.get_run(int(first["run_id"])).pipeline == "mixed"


# --- semantics: outputs, artifacts, workspaces -----------------------------------------------


def test_outputs_reach_dependents_as_needs_outputs(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path / "repo",
        """\
        name: outputs
        stages:
          - name: s
            jobs:
              - name: version
                steps:
                  - id: v
                    run: |
                      echo "number=1.2.3" >> "$CICD_OUTPUT"
                      echo "note<<EOF" >> "$CICD_OUTPUT"
                      echo "two" >> "$CICD_OUTPUT"
                      echo "lines" >> "$CICD_OUTPUT"
                      echo "EOF" >> "$CICD_OUTPUT"
                outputs:
                  number: "${{ steps.v.outputs.number }}"
                  note: "${{ steps.v.outputs.note }}"
              - name: use
                needs: [version]
                steps:
                  - run: |
                      echo "got ${{ needs.version.outputs.number }}"
                      echo "note [${{ needs.version.outputs.note }}]"
        """,
    )

    result = run(repo)

    log = log_of(result, "use")
    assert "got 1.2.3" in log
    assert "note [two\nlines]" in log


def test_matrix_outputs_merge_in_declaration_order(tmp_path: Path) -> None:
    """The executor's docstring: the legs' outputs merge in declaration order, the last leg
    that sets a name wins, whichever leg ends last."""
    repo = make_repo(
        tmp_path / "repo",
        """\
        name: matrix-outputs
        stages:
          - name: s
            jobs:
              - name: m
                matrix: {n: ["1", "2"]}
                steps:
                  - id: v
                    run: |
                      if [ "$n" = 1 ]; then sleep 1; fi
                      echo "out=$n" >> "$CICD_OUTPUT"
                outputs: {out: "${{ steps.v.outputs.out }}"}
              - name: use
                needs: [m]
                steps: [{run: 'echo "got=${{ needs.m.outputs.out }}"'}]
        """,
    )

    result = run(repo, jobs=2)

    assert "got=2\n" in log_of(result, "use")


ARTIFACTS = """\
name: artifacts
stages:
  - name: s
    jobs:
      - name: make
        steps:
          - checkout: {}
          - run: mkdir -p dist && echo made > dist/out.txt && echo scratch > notes.txt
        artifacts: {paths: [dist/]}
      - name: direct
        needs: [make]
        steps:
          - run: |
              echo "direct: $(cat dist/out.txt) $(ls -A | tr '\\n' ' ')"
      - name: indirect
        needs: [direct]
        steps:
          - run: |
              echo "indirect: $(ls -A | tr '\\n' ' ')"
"""


def test_artifacts_of_direct_dependencies_are_restored(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", ARTIFACTS)

    result = run(repo)

    # "direct" has no checkout: it holds the artifact of "make" and nothing else.
    assert "direct: made dist " in log_of(result, "direct")
    # "indirect" depends on "direct" only, which kept nothing: it starts empty.
    assert "indirect: \n" in log_of(result, "indirect")
    assert statuses(result) == {"make": "success", "direct": "success", "indirect": "success"}
    assert [a["job"] for a in result["artifacts"]] == ["make"]


def test_workspaces_are_isolated_and_the_checkout_is_unchanged(tmp_path: Path) -> None:
    marker = tmp_path / "edited"
    repo = make_repo(
        tmp_path / "repo",
        """\
        name: isolation
        config:
          variables: {MARKER: "@MARKER@"}
        stages:
          - name: s
            jobs:
              - name: editor
                steps:
                  - checkout: {}
                  - run: |
                      echo edited > file.txt
                      echo new > new.txt
                      rm pipeline.yaml
                      touch "$MARKER"
              - name: sibling
                steps:
                  - checkout: {}
                  - run: |
                      for i in $(seq 100); do [ -e "$MARKER" ] && break; sleep 0.05; done
                      [ -e "$MARKER" ] || { echo "editor never ran"; exit 9; }
                      echo "sibling: $(cat file.txt) $(ls | tr '\\n' ' ')"
              - name: later
                needs: [editor]
                steps:
                  - checkout: {}
                  - run: |
                      echo "later: $(cat file.txt) $(ls | tr '\\n' ' ')"
        """,
        MARKER=marker,
    )

    (repo / "untracked.txt").write_text("not in git\n")

    result = run(repo, jobs=2, keep_workspaces=True)

    assert result["status"] == "success", statuses(result)
    # Only tracked files are copied; neither a sibling nor a dependent sees another's edits.
    assert "sibling: hello file.txt pipeline.yaml \n" in log_of(result, "sibling")
    assert "later: hello file.txt pipeline.yaml \n" in log_of(result, "later")
    assert (repo / "file.txt").read_text() == "hello\n"
    assert not (repo / "new.txt").exists()
    assert (repo / "pipeline.yaml").exists()
    assert git(repo, "status", "--porcelain", "--", ".", ":!.cicd") == "?? untracked.txt\n"
    # Kept workspaces hold copies, never the checkout's own files (no hard link).
    kept = Path(result["reports"]["run_dir"]) / "work" / "sibling" / "file.txt"
    assert kept.read_text() == "hello\n"
    assert not kept.samefile(repo / "file.txt")
    assert (repo / "file.txt").stat().st_nlink == 1


def test_a_job_without_checkout_starts_in_an_empty_folder(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path / "repo",
        """\
        name: empty
        stages:
          - name: s
            jobs:
              - name: j
                steps: [{run: 'echo "entries=$(ls -A | wc -l) pwd=$PWD"'}]
        """,
    )

    result = run(repo)

    log = log_of(result, "j")
    assert "entries=0 " in log
    assert f"pwd={repo}\n" not in log


# --- semantics: matrix, conditions, status ----------------------------------------------------


def test_matrix_include_and_exclude_give_the_instances(tmp_path: Path) -> None:
    legs = tmp_path / "legs"
    repo = make_repo(
        tmp_path / "repo",
        """\
        name: matrix
        config:
          variables: {LEGS: "@LEGS@"}
        stages:
          - name: s
            jobs:
              - name: unit
                matrix:
                  os: [linux, mac]
                  py: ["3.11", "3.12"]
                  exclude: [{os: mac, py: "3.11"}]
                  include: [{os: bsd, py: "3.13"}, {os: linux, py: "3.12", extra: yes}]
                steps:
                  - run: echo "$os/$py/${extra:-none}/${{ matrix.py }}" >> "$LEGS"
        """,
        LEGS=legs,
    )

    result = run(repo)

    combos = sorted(json.dumps(e["matrix"], sort_keys=True) for e in result["jobs"])
    assert combos == sorted(
        json.dumps(c, sort_keys=True)
        for c in (
            {"os": "linux", "py": "3.11"},
            {"os": "linux", "py": "3.12", "extra": "yes"},
            {"os": "mac", "py": "3.12"},
            {"os": "bsd", "py": "3.13"},
        )
    )
    assert sorted(lines(legs)) == sorted(
        ["linux/3.11/none/3.11", "linux/3.12/yes/3.12", "mac/3.12/none/3.12", "bsd/3.13/none/3.13"]
    )
    assert {j.name for j in stored(repo, result).jobs} == {"unit"}
    assert len(stored(repo, result).jobs) == 4


CONDITIONS = """\
name: conditions
config:
  triggers: {push: {}, pull_request: {}, manual: {}}
  variables: {MODE: slow}
stages:
  - name: s
    jobs:
      - name: on-main
        when: {branches: [main]}
        steps: [{run: "true"}]
      - name: on-tag
        when: {tags: ["v*"]}
        steps: [{run: "true"}]
      - name: on-pr
        when: {events: [pull_request]}
        steps: [{run: "true"}]
      - name: fast-mode
        when: {variables: {MODE: fast}}
        steps: [{run: "true"}]
      - name: after-main
        needs: [on-main]
        steps: [{run: "true"}]
"""


@pytest.mark.parametrize(
    ("kwargs", "ran"),
    [
        ({}, {"on-main", "after-main"}),
        ({"event": "tag", "tag": "v1.0"}, {"on-tag"}),
        ({"event": "pull_request", "branch": "feature", "base": "main"}, {"on-pr"}),
        ({"variables": {"MODE": "fast"}}, {"on-main", "after-main", "fast-mode"}),
    ],
)
def test_when_filters_against_the_simulated_event(
    tmp_path: Path, kwargs: dict[str, Any], ran: set[str]
) -> None:
    repo = make_repo(tmp_path / "repo", CONDITIONS)

    result = run(repo, **kwargs)

    assert result["status"] == "success"
    assert {n for n, s in statuses(result).items() if s == "success"} == ran
    skipped = {e["name"]: e for e in result["jobs"] if e["status"] == "skipped"}
    assert set(skipped) == {e["name"] for e in result["jobs"]} - ran
    for name, entry in skipped.items():
        assert entry.get("reason"), f"{name} skipped without a reason"
    if "on-tag" in skipped:
        assert "when.tags" in skipped["on-tag"]["reason"]
    if "fast-mode" in skipped:
        assert "MODE" in skipped["fast-mode"]["reason"]


def test_jobs_see_the_cicd_variables_inputs_and_templates(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path / "repo",
        """\
        name: facts
        config:
          triggers:
            manual: {inputs: {level: {type: choice, options: [low, high], default: low}}}
          variables: {MODE: slow}
        stages:
          - name: s
            jobs:
              - name: show
                env: {FROM_JOB: "mode-${{ vars.MODE }}"}
                steps:
                  - checkout: {}
                  - run: |
                      for v in SHA REF BRANCH EVENT RUN_ID JOB PIPELINE ENVIRONMENT; do
                        eval "echo CICD_$v=\\$CICD_$v"
                      done
                      echo "ws=$([ "$CICD_WORKSPACE" = "$PWD" ] && echo pwd)"
                      echo "ci=true:$CI level=$level tpl=${{ inputs.level }} job=$FROM_JOB"
        """,
    )
    sha = git(repo, "rev-parse", "HEAD").strip()

    result = run(repo, event="manual", inputs={"level": "high"}, environment="staging")

    log = log_of(result, "show")
    for line in (
        f"CICD_SHA={sha}",
        "CICD_REF=refs/heads/main",
        "CICD_BRANCH=main",
        "CICD_EVENT=manual",
        f"CICD_RUN_ID={result['run_id']}",
        "CICD_JOB=show",
        "CICD_PIPELINE=facts",
        "CICD_ENVIRONMENT=staging",
        "ws=pwd",
        "ci=true:true level=high tpl=high job=mode-slow",
    ):
        assert f"\n{line}\n" in log, (line, log)


def test_a_runner_that_cannot_write_its_state_raises_pipeline_execution_error(
    tmp_path: Path,
) -> None:
    repo = make_repo(tmp_path / "repo", STATUS_JOBS)
    (repo / ".cicd").write_text("not a folder\n")

    with pytest.raises(PipelineExecutionError, match=r"\.cicd"):
        run(repo)


def test_a_pipeline_not_triggered_by_the_event_runs_nothing(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path / "repo",
        """\
        name: push-only
        config: {triggers: {push: {branches: [main]}}}
        stages:
          - name: s
            jobs: [{name: j, steps: [{run: "true"}]}]
        """,
    )

    result = run(repo, event="schedule")

    assert result["status"] == "skipped"
    assert statuses(result) == {"j": "skipped"}
    assert "schedule" in result["jobs"][0]["reason"]


STATUS_JOBS = """\
name: status
config:
  variables: {CODE: "0"}
stages:
  - name: build
    jobs:
      - name: build
        steps: [{run: 'exit $CODE'}]
      - name: lint
        allow_failure: true
        steps: [{run: exit 3}]
  - name: after
    dependencies: [build]
    jobs:
      - name: deploy
        steps: [{run: "true"}]
      - name: smoke
        needs: [deploy]
        steps: [{run: "true"}]
      - name: report
        when: {status: on_failure}
        steps: [{run: "true"}]
      - name: cleanup
        when: {status: always}
        steps: [{run: "true"}]
"""


def test_on_failure_and_always_jobs_when_a_job_fails(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", STATUS_JOBS)

    result = run(repo, variables={"CODE": "4"})

    assert result["status"] == "failed"
    assert statuses(result) == {
        "build": "failed",
        "lint": "failed",
        "deploy": "skipped",
        "smoke": "skipped",
        "report": "success",
        "cleanup": "success",
    }
    entries = jobs_by_label(result)
    assert entries["build"]["exit_code"] == 4
    assert "build" in entries["deploy"]["reason"]
    assert entries["smoke"]["reason"]


def test_allow_failure_does_not_fail_the_pipeline_or_trigger_on_failure(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", STATUS_JOBS)

    result = run(repo)

    assert result["status"] == "success"
    assert statuses(result) == {
        "build": "success",
        "lint": "failed",
        "deploy": "success",
        "smoke": "success",
        "report": "skipped",
        "cleanup": "success",
    }
    lint = jobs_by_label(result)["lint"]
    assert (lint["allowed_failure"], lint["exit_code"]) == (True, 3)


def test_only_runs_the_named_jobs_and_their_dependencies(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path / "repo",
        """\
        name: only
        stages:
          - name: s
            jobs:
              - {name: a, steps: [{run: "true"}]}
              - {name: b, needs: [a], steps: [{run: "true"}]}
              - {name: c, needs: [b], steps: [{run: "true"}]}
              - {name: d, steps: [{run: "true"}]}
        """,
    )

    result = run(repo, only=["b"])

    assert statuses(result) == {"a": "success", "b": "success"}
    assert {j.name for j in stored(repo, result).jobs} == {"a", "b"}


def test_only_an_unknown_job_is_a_value_error(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", STATUS_JOBS)

    with pytest.raises(ValueError, match="nope"):
        run(repo, only=["nope"])
    assert not (repo / ".cicd").exists()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"event": "release"},
        {"variables": {"UNDECLARED": "1"}},
        {"inputs": {"missing": "1"}},
        {"no_such_keyword": 1},
    ],
)
def test_bad_input_is_a_value_error_and_writes_nothing(
    tmp_path: Path, kwargs: dict[str, Any]
) -> None:
    repo = make_repo(tmp_path / "repo", STATUS_JOBS)

    with pytest.raises(ValueError):
        run(repo, **kwargs)
    assert not (repo / ".cicd").exists()


def test_zero_workers_is_a_value_error(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", STATUS_JOBS)

    with pytest.raises(ValueError, match="at least 1"):
        run(repo, jobs=0)
    assert not (repo / ".cicd").exists()


def test_dry_run_plans_in_start_order_and_writes_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    repo = make_repo(
        tmp_path / "repo",
        """\
        name: dry
        config:
          variables: {MARKER: "@MARKER@"}
        stages:
          - name: first
            jobs:
              - name: unit
                matrix: {py: ["3.11", "3.12"]}
                steps: [{run: touch "$MARKER"}]
          - name: second
            dependencies: [first]
            jobs:
              - {name: package, steps: [{run: touch "$MARKER"}]}
              - name: release
                when: {tags: ["v*"]}
                steps: [{run: touch "$MARKER"}]
        """,
        MARKER=marker,
    )

    result = run(repo, dry_run=True, jobs=1)

    assert not marker.exists()
    assert not (repo / ".cicd").exists()
    order = [(e["name"], e["matrix"], e["status"]) for e in result["jobs"]]
    assert order == [
        ("unit", {"py": "3.11"}, "planned"),
        ("unit", {"py": "3.12"}, "planned"),
        ("package", None, "planned"),
        ("release", None, "skipped"),
    ]
    assert "when.tags" in result["jobs"][-1]["reason"]


# --- step kinds, cache ---------------------------------------------------------------------


def test_an_unknown_action_is_skipped_with_a_notice(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path / "repo",
        """\
        name: uses
        stages:
          - name: s
            jobs:
              - name: j
                steps:
                  - uses: someone/unknown-action@v1
                    with: {level: 3}
                  - run: echo after
        """,
    )

    result = run(repo)

    assert result["status"] == "success"
    log = log_of(result, "j")
    assert "someone/unknown-action@v1" in log and "skipped" in log
    assert "after" in log
    assert any("someone/unknown-action@v1" in n for n in result["reports"]["notices"])


@pytest.mark.parametrize(
    ("version", "status"),
    [(f"{sys.version_info.major}.{sys.version_info.minor}", "success"), ("2.1", "failed")],
)
def test_setup_checks_the_requested_python(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, version: str, status: str
) -> None:
    repo = make_repo(
        tmp_path / "repo",
        """\
        name: setup
        stages:
          - name: s
            jobs:
              - name: j
                steps:
                  - setup: {python: "@VERSION@"}
                  - run: echo "after setup"
        """,
        VERSION=version,
    )
    # The runner looks for pythonX.Y, python3 and python on the PATH jobs get.
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")

    result = run(repo)

    assert statuses(result) == {"j": status}
    log = log_of(result, "j")
    if status == "success":
        assert "after setup" in log
    else:
        assert "setup: python 2.1 is requested" in log
        assert "after setup" not in log


CACHED = """\
name: cached
stages:
  - name: s
    jobs:
      - name: j
        steps:
          - checkout: {}
          - cache:
              key: "deps-${{ hash('lock.txt') }}"
              paths: [deps]
          - run: |
              if [ -f deps/stuff ]; then echo "HIT $(cat deps/stuff)"; else echo MISS; fi
              mkdir -p deps && cat lock.txt > deps/stuff
"""


def test_cache_is_kept_across_runs_under_a_hash_key(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", CACHED, {"lock.txt": "v1\n"})

    first = run(repo)
    second = run(repo)
    (repo / "lock.txt").write_text("v2\n")
    git(repo, "commit", "-q", "-am", "bump")
    third = run(repo)

    assert "MISS" in log_of(first, "j")
    assert "HIT v1" in log_of(second, "j")
    assert "MISS" in log_of(third, "j")  # the key changed with the file's contents
    assert (repo / ".cicd" / "cache").is_dir()
    assert len([p for p in (repo / ".cicd" / "cache").iterdir() if p.name[0] != "."]) == 2
    # The workspace of the first run is gone, the cache is not what kept the files.
    assert not (Path(first["reports"]["run_dir"]) / "work").exists()


GIT_JOBS = """\
name: git-jobs
stages:
  - name: s
    jobs:
      - name: with-checkout
        steps:
          - checkout: {}
          - run: |
              test "$(git rev-parse HEAD)" = "$CICD_SHA"
              git -c user.name=j -c user.email=j@j -c commit.gpgsign=false \
                commit -q --allow-empty -m job
      - name: without-checkout
        steps:
          - run: |
              if git rev-parse --git-dir; then echo "reached a repository"; exit 1; fi
              git init -q . && git -c user.name=j -c user.email=j@j commit -q --allow-empty -m x
"""


def test_git_in_a_job_never_reaches_the_users_repository(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", GIT_JOBS)
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True
    ).stdout.strip()

    result = run(repo)

    assert statuses(result) == {"with-checkout": "success", "without-checkout": "success"}
    log = subprocess.run(
        ["git", "log", "--all", "--format=%H %s"], cwd=repo, capture_output=True, text=True
    ).stdout
    assert log.splitlines() == [f"{head} init"]  # no commit of a job landed here


BACKGROUND = """\
name: background
stages:
  - name: s
    jobs:
      - name: serve
        steps:
          - run: |
              (while true; do sleep 0.05; done) &
              echo $! > "@PIDS@"
              echo started
          - run: |
              kill -0 "$(cat "@PIDS@")"  # still running in the next step, as on GitHub
              echo "still there"
"""


def test_a_background_process_lives_until_the_end_of_its_job(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    repo = make_repo(tmp_path / "repo", BACKGROUND, PIDS=pids)

    result = run(repo)

    assert statuses(result) == {"serve": "success"}
    pid = int(pids.read_text())
    assert survivors([pid]) == []  # stopped when the job ended
    log = Path(result["jobs"][0]["log"]).read_text()
    assert "still there" in log
    assert "[cicd] stopped the background processes of step 1" in log
