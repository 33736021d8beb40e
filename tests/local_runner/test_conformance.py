"""Conformance: the local runner, gitlab-ci-local and act agree on every job's outcome.

Each ``fixtures/conformance/<case>/`` holds a shell-only neutral ``pipeline.yaml`` (default
runner, no image, no service, no ``uses:``) and an ``expected.yaml`` listing scenarios: a
simulated event (``event``, ``branch``, ``tag``, ``base``, ``inputs``, ``variables``), the
expected pipeline ``status`` and the outcome of every job instance::

    scenarios:
      - name: tag-push
        event: push            # push, pull_request, schedule or manual
        tag: v1.2              # a push of a tag (no branch); pull_request has a base
        status: failed         # the pipeline: success or failed
        jobs:
          build: success                              # success, failed or skipped
          lint: {status: failed, allowed: true}       # a failure that was allowed
          unit:                                       # a matrix job: one entry per leg
            - {matrix: {python: "3.12"}, status: failed}
        excused:                                      # only where a peer lacks a feature
          - {tool: act, jobs: [lint], reason: "..."}  # jobs, and/or status: true

Every scenario is checked three times, once per tool: the local runner (``run_pipeline`` on
a git snapshot of the case folder), gitlab-ci-local on the generated ``.gitlab-ci.yml`` and
act on the generated workflow (both through ``testing/judges.py``, in scratch git repos, with
the event simulated by ``judges.gitlab_ci_local_event_args`` / ``judges.act_event``).
Outcomes are compared at the finest grain each tool gives: the runner and gitlab-ci-local
per matrix leg (gitlab-ci-local names a leg ``unit: [3.12, sqlite]``; legs are matched by
their values), act per job (failed if any leg failed). A job gitlab-ci-local leaves out of
the pipeline (its rules say no) counts as skipped. An allowed failure is checked where the
tool reports it (runner, gitlab-ci-local); act does not.

Excuses name a tool, the jobs (or ``all``) and the missing feature; an excused job is not
compared, and an excuse that the tool no longer needs (its outcome matches) fails the test,
so excuses stay as narrow as the peers allow. The checks in the pipelines are job outcomes:
a job that verifies a value, a file or an absence exits 1 when it is wrong.

act has no artifact store offline (the generated steps use the pinned
``actions/upload-artifact`` / ``download-artifact``, which act would clone): they are mapped
(``--local-repository``) to two small composite actions written here that keep the packed
archives in a folder of the run, so act runs the generated pack and unpack steps for real.

Peer runs are started in a small thread pool when the module's first test asks, each in its
own scratch folders; the runner runs in the test itself (its signal handling wants the main
thread). A missing tool fails (``judges.JudgeToolMissing``), it never skips.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from codomyrmex.ci_cd_automation import load_pipeline, render, run_pipeline
from codomyrmex.ci_cd_automation.model.matrix import expand_matrix
from codomyrmex.ci_cd_automation.model.pipeline import UsesStep
from testing.judges import (
    RunResult,
    act_event,
    git_snapshot,
    gitlab_ci_local_event_args,
    run_act,
    run_gitlab_ci_local,
)

CASES_DIR = Path(__file__).resolve().parents[2] / "fixtures" / "conformance"
TOOLS = ("runner", "gitlab-ci-local", "act")
PEERS = TOOLS[1:]
STATUSES = ("success", "failed", "skipped")
SCENARIO_KEYS = {
    "name",
    "event",
    "branch",
    "tag",
    "base",
    "inputs",
    "variables",
    "status",
    "jobs",
    "excused",
}
PEER_WORKERS = 2
ARTIFACT_STORE_VAR = "CONFORMANCE_ARTIFACT_STORE"


# --- expected.yaml -----------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Instance:
    """One job instance: a job, and its matrix leg as sorted (axis, value text) pairs."""

    job: str
    leg: tuple[tuple[str, str], ...] | None = None

    def __str__(self) -> str:
        if self.leg is None:
            return self.job
        return f"{self.job} [{', '.join(f'{k}={v}' for k, v in self.leg)}]"


@dataclass(frozen=True)
class Outcome:
    status: str
    allowed: bool | None = None  # None: the tool does not say

    def __str__(self) -> str:
        if self.allowed is None:
            return self.status
        return f"{self.status} ({'allowed' if self.allowed else 'not allowed'})"


@dataclass(frozen=True)
class Excuse:
    jobs: frozenset[str] | None  # None: every job
    status: bool
    reason: str


@dataclass(frozen=True)
class Scenario:
    case: str
    name: str
    event: str
    branch: str
    tag: str | None
    base: str | None
    inputs: dict[str, str]
    variables: dict[str, str]
    status: str
    jobs: dict[Instance, Outcome]
    excused: dict[str, list[Excuse]] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.case}/{self.name}"


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _leg(matrix: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((str(k), _text(v)) for k, v in matrix.items()))


def _outcome(where: str, raw: Any) -> tuple[Outcome, Mapping[str, Any] | None]:
    if isinstance(raw, str):
        raw = {"status": raw}
    assert isinstance(raw, dict), f"{where}: an outcome is a status or a mapping"
    assert set(raw) <= {"status", "allowed", "matrix"}, f"{where}: unknown keys {sorted(raw)}"
    status = raw.get("status")
    assert status in STATUSES, f"{where}: status {status!r} is not one of {STATUSES}"
    allowed = bool(raw.get("allowed", False)) if status == "failed" else None
    return Outcome(status, allowed), raw.get("matrix")


def _load_scenarios(case_dir: Path) -> list[Scenario]:
    data = yaml.safe_load((case_dir / "expected.yaml").read_text(encoding="utf-8"))
    scenarios = []
    for index, raw in enumerate(data["scenarios"]):
        where = f"{case_dir.name}/expected.yaml scenarios[{index}]"
        assert set(raw) <= SCENARIO_KEYS, (
            f"{where}: unknown keys {sorted(set(raw) - SCENARIO_KEYS)}"
        )
        jobs: dict[Instance, Outcome] = {}
        for job, spec in raw["jobs"].items():
            for entry in spec if isinstance(spec, list) else [spec]:
                outcome, matrix = _outcome(f"{where} jobs.{job}", entry)
                instance = Instance(job, None if matrix is None else _leg(matrix))
                assert instance not in jobs, f"{where}: {instance} listed twice"
                jobs[instance] = outcome
        excused: dict[str, list[Excuse]] = {}
        for entry in raw.get("excused", []):
            assert entry.get("tool") in PEERS, f"{where}: excuses are for peers: {PEERS}"
            assert entry.get("reason"), f"{where}: an excuse names the feature the peer lacks"
            names = entry.get("jobs", [])
            listed = None if names == "all" else frozenset(names)
            unknown = (listed or frozenset()) - {i.job for i in jobs}
            assert not unknown, f"{where}: excuse names unknown jobs {sorted(unknown)}"
            excuse = Excuse(listed, bool(entry.get("status", False)), entry["reason"])
            assert excuse.jobs is None or excuse.jobs or excuse.status, f"{where}: empty excuse"
            excused.setdefault(entry["tool"], []).append(excuse)
        scenarios.append(
            Scenario(
                case=case_dir.name,
                name=raw["name"],
                event=raw.get("event", "push"),
                branch=raw.get("branch", "main"),
                tag=raw.get("tag"),
                base=raw.get("base"),
                inputs={k: _text(v) for k, v in (raw.get("inputs") or {}).items()},
                variables={k: _text(v) for k, v in (raw.get("variables") or {}).items()},
                status=raw["status"],
                jobs=jobs,
                excused=excused,
            )
        )
    return scenarios


CASES = sorted(p for p in CASES_DIR.iterdir() if (p / "pipeline.yaml").is_file())
SCENARIOS = {s.id: s for case in CASES for s in _load_scenarios(case)}


# --- the project each tool runs in -------------------------------------------------------


def _project_files(case_dir: Path, dest: Path) -> Path:
    """The case folder as a project: every file but the expectations."""
    shutil.copytree(case_dir, dest, ignore=shutil.ignore_patterns("expected.yaml"))
    return dest


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.relative_to(folder).parts[0] not in {".git", ".cicd"}
    }


# --- act's artifact actions, offline -----------------------------------------------------

_UPLOAD_STUB = """\
name: upload-artifact (conformance stub)
description: Keeps the file in a folder of the act run instead of GitHub's artifact store.
inputs:
  name: {required: true}
  path: {required: true}
  if-no-files-found: {default: warn}
  retention-days: {default: "0"}
runs:
  using: composite
  steps:
    - shell: bash
      env:
        NAME: ${{ inputs.name }}
        FILE: ${{ inputs.path }}
      run: |
        if [ ! -e "$FILE" ]; then echo "no artifact file $FILE"; exit 0; fi
        mkdir -p "$@STORE@/$NAME"
        cp "$FILE" "$@STORE@/$NAME/"
""".replace("@STORE@", ARTIFACT_STORE_VAR)

_DOWNLOAD_STUB = """\
name: download-artifact (conformance stub)
description: Copies the artifacts whose names match the pattern from the act run's folder.
inputs:
  pattern: {required: true}
  path: {required: true}
runs:
  using: composite
  steps:
    - shell: bash
      env:
        PATTERN: ${{ inputs.pattern }}
        DEST: ${{ inputs.path }}
      run: |
        shopt -s nullglob
        for dir in "$@STORE@"/$PATTERN; do
          mkdir -p "$DEST/$(basename "$dir")"
          cp "$dir"/* "$DEST/$(basename "$dir")/"
        done
""".replace("@STORE@", ARTIFACT_STORE_VAR)

_USES = re.compile(r"^\s*(?:-\s+)?uses:\s*(\S+)", re.MULTILINE)


def _act_local_actions(workflow: str, where: Path) -> dict[str, Path]:
    """Stubs for the artifact actions the workflow uses; any other action is an error
    (conformance pipelines are shell-only; act skips ``actions/checkout`` itself)."""
    stubs = {"actions/upload-artifact": _UPLOAD_STUB, "actions/download-artifact": _DOWNLOAD_STUB}
    found: dict[str, Path] = {}
    for ref in sorted(set(_USES.findall(workflow))):
        action = ref.partition("@")[0]
        if action == "actions/checkout":
            continue
        assert action in stubs, f"conformance pipelines use no action but checkout: {ref}"
        folder = where / action.replace("/", "_")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "action.yml").write_text(stubs[action], encoding="utf-8")
        found[ref] = folder
    return found


# --- running the tools -------------------------------------------------------------------


@dataclass(frozen=True)
class ToolRun:
    """What one tool did in one scenario, in neutral terms."""

    status: str
    outcomes: dict[Instance, Outcome]
    output: str
    generated: str = ""


def _run_runner(scenario: Scenario, work: Path) -> ToolRun:
    project = _project_files(CASES_DIR / scenario.case, work / "project")
    git_snapshot(project, "main" if scenario.tag else scenario.branch)
    before = _snapshot(project)
    pipeline = load_pipeline(project / "pipeline.yaml")
    result = run_pipeline(
        pipeline,
        event=scenario.event,
        branch=None if scenario.tag else scenario.branch,
        tag=scenario.tag,
        base=scenario.base,
        inputs=scenario.inputs or None,
        variables=scenario.variables or None,
        project_dir=project,
    )
    outcomes: dict[Instance, Outcome] = {}
    lines = [f"run_pipeline status: {result['status']}"]
    for job in result["jobs"]:
        matrix = job.get("matrix")
        instance = Instance(job["name"], None if matrix is None else _leg(matrix))
        status = job["status"]
        allowed = bool(job["allowed_failure"]) if status == "failed" else None
        outcomes[instance] = Outcome(status, allowed)
        log = Path(job["log"]) if job.get("log") else None
        text = log.read_text(encoding="utf-8", errors="replace") if log and log.is_file() else ""
        lines.append(f"--- {instance}: {job['status']} (exit {job.get('exit_code')}) ---")
        lines.extend(text.rstrip().splitlines()[-15:])
    after = _snapshot(project)
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    assert not changed, f"{scenario.id}: the runner changed the project checkout: {changed}"
    return ToolRun(str(result["status"]), outcomes, "\n".join(lines))


def _gitlab_outcomes(scenario: Scenario, result: RunResult) -> dict[Instance, Outcome]:
    """gitlab-ci-local's names as instances: a leg ``unit: [3.12, sqlite]`` is matched to the
    expected leg of ``unit`` with the same values (the expected legs never share values)."""
    legs: dict[str, list[Instance]] = {}
    for instance in scenario.jobs:
        if instance.leg is not None:
            legs.setdefault(instance.job, []).append(instance)
    outcomes: dict[Instance, Outcome] = {}
    for name, status in result.outcomes.items():
        allowed = name in result.allowed_failures if status == "failed" else None
        job, sep, rest = name.partition(": [")
        if not sep or job not in legs:
            outcomes[Instance(name)] = Outcome(status, allowed)
            continue
        values = sorted(v.strip() for v in rest.rstrip("]").split(","))
        match = [i for i in legs[job] if sorted(v for _, v in i.leg or ()) == values]
        key = match[0] if len(match) == 1 else Instance(name)
        outcomes[key] = Outcome(status, allowed)
    return outcomes


def _run_gitlab(scenario: Scenario, work: Path, generated: str) -> ToolRun:
    project = _project_files(CASES_DIR / scenario.case, work / "gitlab")
    (project / ".gitlab-ci.yml").write_text(generated, encoding="utf-8")
    args = gitlab_ci_local_event_args(
        scenario.event,
        branch=scenario.branch,
        tag=scenario.tag,
        base=scenario.base,
        inputs=scenario.inputs,
        variables=scenario.variables,
    )
    result = run_gitlab_ci_local(project, args, branch=scenario.branch)
    status = "success" if result.returncode == 0 else "failed"
    return ToolRun(status, _gitlab_outcomes(scenario, result), result.output, generated)


def _run_act(scenario: Scenario, work: Path, workflow_path: str, generated: str) -> ToolRun:
    project = _project_files(CASES_DIR / scenario.case, work / "act")
    target = project / workflow_path
    target.parent.mkdir(parents=True)
    target.write_text(generated, encoding="utf-8")
    store = work / "act-artifacts"
    store.mkdir()
    name, payload = act_event(
        scenario.event,
        branch=scenario.branch,
        tag=scenario.tag,
        base=scenario.base,
        inputs=scenario.inputs,
    )
    result = run_act(
        project,
        name,
        ["--env", f"{ARTIFACT_STORE_VAR}={store}"],
        event_payload=payload,
        local_actions=_act_local_actions(generated, work / "act-actions"),
        branch=scenario.branch,
    )
    status = "success" if result.returncode == 0 else "failed"
    outcomes = {Instance(job): Outcome(s) for job, s in result.outcomes.items()}
    return ToolRun(status, outcomes, result.output, generated)


def _run_peer(scenario: Scenario, tool: str) -> ToolRun:
    pipeline = load_pipeline(CASES_DIR / scenario.case / "pipeline.yaml")
    with tempfile.TemporaryDirectory(prefix=f"conformance-{tool}-") as tmp:
        work = Path(tmp)
        if tool == "gitlab-ci-local":
            rendering = render(pipeline, "gitlab")
            return _run_gitlab(scenario, work, rendering.files[".gitlab-ci.yml"])
        rendering = render(pipeline, "github")
        ((path, text),) = rendering.files.items()
        return _run_act(scenario, work, path, text)


@pytest.fixture(scope="module")
def peer_runs(request: pytest.FixtureRequest) -> Iterator[dict[tuple[str, str], Future[ToolRun]]]:
    """Start every collected peer run at once, a few at a time, in collection order."""
    wanted = [
        (str(item.callspec.params["scenario_id"]), str(item.callspec.params["tool"]))
        for item in request.session.items
        if isinstance(item, pytest.Function)
        and item.module is request.module
        and hasattr(item, "callspec")
        and item.callspec.params.get("tool") in PEERS
    ]
    with ThreadPoolExecutor(PEER_WORKERS, thread_name_prefix="conformance") as pool:
        futures = {key: pool.submit(_run_peer, SCENARIOS[key[0]], key[1]) for key in wanted}
        yield futures
        for future in futures.values():
            future.cancel()


# --- comparing -----------------------------------------------------------------------------


def _by_job(outcomes: Mapping[Instance, Outcome]) -> dict[Instance, Outcome]:
    """Outcomes per job, as act reports them: failed if any leg failed, else success if any
    leg succeeded, else skipped; allowed failures are not told apart.

    (act's JSON log has a ``jobResult`` per leg, but once one leg failed it reports the
    legs that finished after it as failed too, so only the job's result is reliable.)"""
    legs: dict[str, set[str]] = {}
    for instance, outcome in outcomes.items():
        legs.setdefault(instance.job, set()).add(outcome.status)
    out = {}
    for job, statuses in legs.items():
        status = next((s for s in ("failed", "success") if s in statuses), "skipped")
        out[Instance(job)] = Outcome(status)
    return out


def _differences(scenario: Scenario, tool: str, run: ToolRun) -> list[str]:
    expected = scenario.jobs if tool != "act" else _by_job(scenario.jobs)
    actual = dict(run.outcomes)
    if tool == "gitlab-ci-local":
        # A job the rules leave out of the pipeline never appears in the report.
        for instance, outcome in expected.items():
            if outcome.status == "skipped":
                actual.setdefault(instance, Outcome("skipped"))
    excuses = scenario.excused.get(tool, [])

    def excused(instance: Instance) -> Excuse | None:
        return next((e for e in excuses if e.jobs is None or instance.job in e.jobs), None)

    problems = []
    needed: set[int] = set()
    for instance in sorted(expected.keys() | actual.keys()):
        want, got = expected.get(instance), actual.get(instance)
        same = (
            want is not None
            and got is not None
            and want.status == got.status
            and (got.allowed is None or want.allowed == got.allowed)
        )
        excuse = excused(instance)
        if excuse is not None:
            if not same:
                needed.add(id(excuse))
            continue
        if same:
            continue
        if want is None:
            problems.append(f'job "{instance}": not in expected.yaml, {tool} says {got}')
        elif got is None:
            problems.append(f'job "{instance}": expected {want}, {tool} did not report it')
        else:
            problems.append(f'job "{instance}": expected {want}, {tool} says {got}')
    status_excuse = next((e for e in excuses if e.status), None)
    if run.status != scenario.status:
        if status_excuse is None:
            problems.append(f"pipeline: expected {scenario.status}, {tool} says {run.status}")
        else:
            needed.add(id(status_excuse))
    for excuse in excuses:
        if id(excuse) not in needed:
            what = ["every job" if excuse.jobs is None else ", ".join(sorted(excuse.jobs))]
            what += ["the pipeline status"] if excuse.status else []
            covered = " and ".join(w for w in what if w)
            problems.append(f"excuse for {covered} not needed, {tool} agrees: {excuse.reason}")
    return problems


def _check(scenario: Scenario, tool: str, run: ToolRun) -> None:
    problems = _differences(scenario, tool, run)
    if problems:
        listing = "\n".join(f"  {p}" for p in problems)
        generated = f"\n--- generated file ---\n{run.generated}" if run.generated else ""
        pytest.fail(
            f'case "{scenario.case}", scenario "{scenario.name}", tool {tool}:\n{listing}\n'
            f"--- {tool} output ---\n{run.output}{generated}",
            pytrace=False,
        )


# --- the tests -----------------------------------------------------------------------------


def test_there_are_enough_cases() -> None:
    assert len(CASES) >= 10, [c.name for c in CASES]
    assert all(len(s.jobs) >= 2 for s in SCENARIOS.values())


@pytest.mark.parametrize("case_dir", CASES, ids=[c.name for c in CASES])
def test_case_is_shell_only_and_fully_expected(case_dir: Path) -> None:
    """Every job of the pipeline has an expected outcome in every scenario, with a leg per
    matrix combination, and nothing needs Docker or a remote action."""
    pipeline = load_pipeline(case_dir / "pipeline.yaml")
    for _si, _ji, _stage, job in pipeline.iter_jobs():
        assert job.image is None and not job.services, f"{case_dir.name}: {job.name} needs Docker"
        assert job.runs_on is None, f"{case_dir.name}: {job.name} sets runs_on"
        assert not any(isinstance(step, UsesStep) for step in job.steps), job.name
    assert pipeline.config.defaults.image is None
    for scenario in (s for s in SCENARIOS.values() if s.case == case_dir.name):
        want = set()
        for _si, _ji, _stage, job in pipeline.iter_jobs():
            if job.matrix is None:
                want.add(Instance(job.name))
            else:
                want |= {Instance(job.name, _leg(c)) for c in expand_matrix(job.matrix)}
        assert set(scenario.jobs) == want, f"{scenario.id}: expected.yaml lists other jobs"


@pytest.mark.parametrize("tool", TOOLS)
@pytest.mark.parametrize("scenario_id", sorted(SCENARIOS))
def test_conformance(
    scenario_id: str, tool: str, peer_runs: dict[tuple[str, str], Future[ToolRun]], tmp_path: Path
) -> None:
    scenario = SCENARIOS[scenario_id]
    if tool == "runner":
        run = _run_runner(scenario, tmp_path)
    else:
        run = peer_runs[(scenario_id, tool)].result()
    _check(scenario, tool, run)
