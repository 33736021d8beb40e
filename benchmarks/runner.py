"""Benchmark: ``cicd run`` against gitlab-ci-local and act, whole processes, side by side.

Four neutral pipelines, generated here (the needs are drawn from a seeded random source,
so every run builds the same files):

  one        1 job running ``true``: the fixed cost of a run, the baseline for overhead;
  dag        50 trivial jobs (``true``) in 5 layers of 10; every job after the first layer
             needs 1-3 jobs of the layer before it;
  chain      50 trivial jobs, each needing the one before it;
  sleep-dag  the same shape as ``dag`` (same seed, same needs), each job ``sleep S`` with S
             drawn from 0.1..0.5 s; run with 10 workers (a sleeping job needs no CPU, so
             more workers than cores is fair). Its critical path is the longest sum of
             sleeps along a chain of needs.

Each pipeline is written as ``pipeline.yaml`` and rendered with
``codomyrmex.ci_cd_automation.render`` to ``.github/workflows/bench.yml`` and
``.gitlab-ci.yml``; every timed run gets a fresh scratch git repository holding the three
files (made before the clock starts). Then, best of ``--repeat`` (3) rounds interleaved
round by round, the whole process is timed, start-up included, for:

  cicd run         ``cicd run pipeline.yaml --json`` (``--jobs`` left at its default, the
                   number of cores; ``--jobs 10`` for sleep-dag);
  gitlab-ci-local  ``--shell-executor-no-image --shell-isolation --no-artifacts-to-source``
                   on ``.gitlab-ci.yml`` (no ``--concurrency`` limit by default;
                   ``--concurrency 10`` for sleep-dag);
  act              ``act push -P ubuntu-latest=-self-hosted --action-offline-mode
                   --no-cache-server`` on the workflow (``--concurrent-jobs`` default, the
                   number of CPUs; 10 for sleep-dag).

All three run with the same offline environment (proxy variables pointing at a closed
port, ``GIT_SSH_COMMAND=false``, tokens and ``GCL_*`` removed, ``ACT_DISABLE_VERSION_CHECK``).
A run counts only if every job of the pipeline reports success (``cicd run --json`` job
statuses, gitlab-ci-local's closing PASS lines, act's ``jobResult`` records): a benchmark
of failing jobs measures nothing. A tool that fails a workload is reported with the tail of
its output, is not run on that workload again, and makes the script exit 1.

Goals: the faster peer takes at least 5x as long as ``cicd run`` on ``dag`` and
``chain``; per-job overhead under 10 ms, defined as (wall of ``chain`` - wall of ``one``)
/ 49; on ``sleep-dag`` the wall time within 10% of the critical path.

Run: ``python benchmarks/runner.py`` (``--help`` for options; ``--quick`` for one round
without act). Benchmarks print numbers; they never assert.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

GOAL_PEER_RATIO = 5.0  # the faster peer takes at least this many times as long
GOAL_OVERHEAD = 0.010  # seconds per job
GOAL_CRITICAL = 1.10  # sleep-dag wall / critical path

LAYERS, WIDTH, CHAIN = 5, 10, 50
SLEEPS = (0.1, 0.2, 0.3, 0.4, 0.5)
SLEEP_WORKERS = 10
RUN_TIMEOUT = 600.0
TAIL_LINES = 40

OURS, GCL, ACT = "cicd run", "gitlab-ci-local", "act"
TOOLS = (OURS, GCL, ACT)
PEERS = (GCL, ACT)

_DEAD_PROXY = "http://127.0.0.1:9"
_GITHUB_FILE = ".github/workflows/bench.yml"
# gitlab-ci-local's closing report with --no-color: " PASS  job", " WARN  job", " FAIL  job"
_GCL_REPORT = re.compile(r"^ (PASS|WARN|FAIL) +(\S+)")


# --------------------------------------------------------------------------
# workloads


@dataclass(frozen=True)
class Workload:
    """One benchmark pipeline: its neutral file data and what its timing is compared with."""

    name: str
    data: dict[str, Any]
    jobs: int
    workers: int | None = None  # None: every tool's default
    critical_path: float | None = None  # sleep workloads only

    @property
    def job_names(self) -> list[str]:
        return [job["name"] for stage in self.data["stages"] for job in stage["jobs"]]


def _pipeline(name: str, stages: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "name": name,
        "config": {"triggers": {"push": {"branches": ["main"]}}},
        "stages": stages,
    }


def _run_step(script: str) -> list[dict[str, Any]]:
    return [{"run": script}]


def layered_needs(seed: int) -> list[list[list[int]]]:
    """For each layer and job, the indexes of the jobs of the layer before that it needs."""
    rng = random.Random(seed)
    needs: list[list[list[int]]] = [[[] for _ in range(WIDTH)]]
    for _ in range(1, LAYERS):
        needs.append([sorted(rng.sample(range(WIDTH), rng.randint(1, 3))) for _ in range(WIDTH)])
    return needs


def layered_dag(
    name: str, needs: list[list[list[int]]], scripts: list[list[str]]
) -> dict[str, Any]:
    """A layered DAG pipeline: one stage per layer, job ``l<layer>_j<i>``."""
    stages = []
    for layer, layer_needs in enumerate(needs):
        jobs = []
        for i, deps in enumerate(layer_needs):
            job: dict[str, Any] = {"name": f"l{layer}_j{i}", "steps": _run_step(scripts[layer][i])}
            if deps:
                job["needs"] = [f"l{layer - 1}_j{d}" for d in deps]
            jobs.append(job)
        stages.append({"name": f"layer-{layer}", "jobs": jobs})
    return _pipeline(name, stages)


def critical_path(needs: list[list[list[int]]], seconds: list[list[float]]) -> float:
    """The longest sum of job times along any chain of needs."""
    finish: list[float] = []
    for layer, layer_needs in enumerate(needs):
        previous = finish
        finish = [
            seconds[layer][i] + max((previous[d] for d in deps), default=0.0)
            for i, deps in enumerate(layer_needs)
        ]
    return max(finish)


def workloads(seed: int) -> list[Workload]:
    needs = layered_needs(seed)
    trivial = [["true"] * WIDTH for _ in range(LAYERS)]
    rng = random.Random(seed + 1)
    sleeps = [[rng.choice(SLEEPS) for _ in range(WIDTH)] for _ in range(LAYERS)]
    sleep_scripts = [[f"sleep {s:g}" for s in layer] for layer in sleeps]
    chain_jobs: list[dict[str, Any]] = []
    for i in range(CHAIN):
        job: dict[str, Any] = {"name": f"c{i:02d}", "steps": _run_step("true")}
        if i:
            job["needs"] = [f"c{i - 1:02d}"]
        chain_jobs.append(job)
    one = [{"name": "one", "jobs": [{"name": "only", "steps": _run_step("true")}]}]
    n = LAYERS * WIDTH
    return [
        Workload("one", _pipeline("bench-one", one), 1),
        Workload("dag", layered_dag("bench-dag", needs, trivial), n),
        Workload("chain", _pipeline("bench-chain", [{"name": "chain", "jobs": chain_jobs}]), CHAIN),
        Workload(
            "sleep-dag",
            layered_dag("bench-sleep-dag", needs, sleep_scripts),
            n,
            workers=SLEEP_WORKERS,
            critical_path=critical_path(needs, sleeps),
        ),
    ]


def render_files(workload: Workload, folder: Path) -> dict[str, str]:
    """``pipeline.yaml`` and the two generated files, as the text each repository holds."""
    from codomyrmex.ci_cd_automation import load_pipeline, render

    source = folder / "pipeline.yaml"
    yaml = YAML(typ="rt")
    yaml.width = 4096
    with open(source, "w", encoding="utf-8") as handle:
        yaml.dump(workload.data, handle)
    pipeline = load_pipeline(source)
    files = {"pipeline.yaml": source.read_text(encoding="utf-8")}
    for target, rel in (("github", _GITHUB_FILE), ("gitlab", ".gitlab-ci.yml")):
        rendered = render(pipeline, target).files
        (only,) = rendered.values()  # one file per target
        files[rel] = only
    return files


# --------------------------------------------------------------------------
# processes


def offline_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This environment minus tokens and tool config, with HTTP(S) and git-over-ssh blocked."""
    dropped = {"GH_TOKEN", "GITHUB_TOKEN", "FORCE_COLOR", "CLICOLOR_FORCE", "DOCKER_HOST"}
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("GCL_")  # gitlab-ci-local reads options from GCL_*
        and k not in dropped
    }
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        env[var] = env[var.lower()] = _DEAD_PROXY
    env["NO_PROXY"] = env["no_proxy"] = ""
    env["GIT_SSH_COMMAND"] = "false"
    env["GIT_TERMINAL_PROMPT"] = "0"
    env["NO_COLOR"] = "1"
    env["ACT_DISABLE_VERSION_CHECK"] = "1"  # act otherwise asks api.nektosact.com
    # `cicd` child processes import the same package as this script does
    import codomyrmex.ci_cd_automation as package

    package_root = str(Path(package.__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    if extra:
        env.update(extra)
    return env


def git_snapshot(repo: Path, env: Mapping[str, str]) -> None:
    """``git init`` the scratch repository and commit its files on ``main``."""
    git_env = {
        **env,
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "bench",
        "GIT_AUTHOR_EMAIL": "bench@example.invalid",
        "GIT_COMMITTER_NAME": "bench",
        "GIT_COMMITTER_EMAIL": "bench@example.invalid",
    }
    for args in (
        ["init", "-q", "-b", "main"],
        ["add", "-A"],
        ["commit", "-q", "--no-verify", "-m", "benchmark snapshot"],
    ):
        subprocess.run(["git", *args], cwd=repo, env=git_env, check=True, capture_output=True)


@dataclass
class Run:
    """One timed process: its wall time, exit code and where its output went."""

    wall: float
    returncode: int
    stdout: Path
    stderr: Path

    def text(self) -> str:
        return self.stdout.read_text(errors="replace") + self.stderr.read_text(errors="replace")

    def tail(self) -> str:
        lines = [ln for ln in self.text().splitlines() if ln.strip()]
        return "\n".join(f"    {ln}" for ln in lines[-TAIL_LINES:])


def timed_process(argv: list[str], cwd: Path, env: Mapping[str, str], out: Path) -> Run:
    """Run ``argv`` to completion, output to files (no pipe to drain), and time it."""
    stdout, stderr = out / "stdout.txt", out / "stderr.txt"
    with open(stdout, "wb") as so, open(stderr, "wb") as se:
        start = time.perf_counter()
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=so,
            stderr=se,
            start_new_session=True,  # so a timeout can kill the whole tree
        )
        try:
            code = proc.wait(timeout=RUN_TIMEOUT)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            code = -9
        wall = time.perf_counter() - start
    return Run(wall, code, stdout, stderr)


# --------------------------------------------------------------------------
# the three tools: command line and job outcomes


def cicd_command() -> list[str]:
    """The ``cicd`` console script of this interpreter (not a pyenv shim), run by it."""
    script = Path(sysconfig.get_path("scripts")) / "cicd"
    if script.exists():
        # by the interpreter, so that a stale shebang or install path cannot break it
        return [sys.executable, str(script)]
    return [sys.executable, "-m", "codomyrmex.ci_cd_automation.cli"]


def ours_argv(workload: Workload, scratch: Path) -> list[str]:
    jobs = ["--jobs", str(workload.workers)] if workload.workers else []
    return [*cicd_command(), "run", "pipeline.yaml", "--json", *jobs]


def gcl_argv(workload: Workload, scratch: Path) -> list[str]:
    home = scratch / "gcl-home"  # keeps $HOME/.gitlab-ci-local variables out of it
    home.mkdir()
    limit = ["--concurrency", str(workload.workers)] if workload.workers else []
    return [
        "gitlab-ci-local",
        "--shell-executor-no-image",
        "--shell-isolation",
        "--no-artifacts-to-source",
        "--no-color",
        "--home",
        str(home),
        *limit,
    ]


def act_argv(workload: Workload, scratch: Path) -> list[str]:
    event = scratch / "event.json"
    event.write_text(json.dumps({"ref": "refs/heads/main"}))
    limit = ["--concurrent-jobs", str(workload.workers)] if workload.workers else []
    return [
        "act",
        "push",
        "-P",
        "ubuntu-latest=-self-hosted",
        "--action-offline-mode",
        "--no-cache-server",
        "--action-cache-path",
        str(scratch / "act-cache"),
        "--eventpath",
        str(event),
        "--json",
        *limit,
    ]


@dataclass
class Outcome:
    """Job statuses a tool reported, and (``cicd run`` only) its own timing accounting."""

    statuses: dict[str, str]
    execution_time: float | None = None
    job_seconds: float | None = None  # summed job durations


def ours_outcome(run: Run) -> Outcome:
    try:
        result = json.loads(run.stdout.read_text())
    except json.JSONDecodeError:
        return Outcome({})
    jobs = result.get("jobs", [])
    return Outcome(
        {str(j["name"]): str(j["status"]) for j in jobs},
        float(result["execution_time"]),
        sum(float(j["duration"]) for j in jobs),
    )


def gcl_outcome(run: Run) -> Outcome:
    statuses = {}
    for line in run.stdout.read_text(errors="replace").splitlines():
        found = _GCL_REPORT.match(line)
        if found:
            statuses[found.group(2)] = "success" if found.group(1) == "PASS" else "failed"
    return Outcome(statuses)


def act_outcome(run: Run) -> Outcome:
    statuses = {}
    for line in run.text().splitlines():
        with contextlib.suppress(json.JSONDecodeError):
            record = json.loads(line)
            if isinstance(record, dict) and "jobResult" in record and "jobID" in record:
                statuses[str(record["jobID"])] = str(record["jobResult"])
    return Outcome(statuses)


ARGV: dict[str, Callable[[Workload, Path], list[str]]] = {
    OURS: ours_argv,
    GCL: gcl_argv,
    ACT: act_argv,
}
OUTCOME: dict[str, Callable[[Run], Outcome]] = {
    OURS: ours_outcome,
    GCL: gcl_outcome,
    ACT: act_outcome,
}


def problem(workload: Workload, run: Run, outcome: Outcome) -> str | None:
    """Why this run does not count, or None when every job succeeded."""
    if run.returncode != 0:
        return f"exit code {run.returncode}"
    missing = [n for n in workload.job_names if n not in outcome.statuses]
    bad = {n: s for n, s in outcome.statuses.items() if s != "success"}
    if missing:
        return f"{len(missing)} of {workload.jobs} jobs not reported (first: {missing[0]})"
    if bad:
        return f"{len(bad)} jobs not successful: " + ", ".join(
            f"{n} {s}" for n, s in list(bad.items())[:5]
        )
    return None


# --------------------------------------------------------------------------


@dataclass
class Best:
    """The best run of one tool on one workload."""

    wall: float = float("inf")
    outcome: Outcome = field(default_factory=lambda: Outcome({}))


def version(argv: list[str], env: Mapping[str, str]) -> str:
    try:
        res = subprocess.run(argv, env=dict(env), capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"unavailable ({exc})"
    lines = [ln.strip() for ln in (res.stdout + res.stderr).splitlines() if ln.strip()]
    return lines[0] if res.returncode == 0 and lines else f"unavailable (exit {res.returncode})"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


@dataclass
class Results:
    """The best run of every tool on every workload, and the failures."""

    tools: list[str]
    best: dict[tuple[str, str], Best] = field(default_factory=dict)
    failed: dict[tuple[str, str], str] = field(default_factory=dict)

    def wall(self, workload: str, tool: str) -> float | None:
        """The best wall time, or None when the tool was not run or failed."""
        found = self.best.get((workload, tool))
        if found is None or (workload, tool) in self.failed or found.wall == float("inf"):
            return None
        return found.wall

    def own(self, workload: str) -> Outcome:
        """``cicd run``'s best run's outcome on ``workload``."""
        found = self.best.get((workload, OURS))
        return found.outcome if found else Outcome({})


def measure(loads: list[Workload], tools: list[str], repeat: int, env: dict[str, str]) -> Results:
    """Best of ``repeat`` rounds, interleaved round by round, each run in a fresh repository."""
    results = Results(tools, {(w.name, t): Best() for w in loads for t in tools})
    with tempfile.TemporaryDirectory(prefix="cicd-bench-run-") as tmp:
        root = Path(tmp)
        files = {}
        for w in loads:
            (root / w.name).mkdir()
            files[w.name] = render_files(w, root / w.name)
        for rnd in range(repeat):
            for w in loads:
                for tool in tools:
                    if (w.name, tool) in results.failed:
                        continue
                    scratch = root / f"r{rnd}-{w.name}-{tool.replace(' ', '-')}"
                    repo = scratch / "repo"
                    for rel, text in files[w.name].items():
                        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
                        (repo / rel).write_text(text, encoding="utf-8")
                    git_snapshot(repo, env)
                    cmd = ARGV[tool](w, scratch)
                    run_env = {**env, "XDG_CACHE_HOME": str(scratch / "xdg-cache")}
                    try:
                        run = timed_process(cmd, repo, run_env, scratch)
                    except OSError as exc:  # the tool is not installed
                        results.failed[(w.name, tool)] = f"{tool} did not start: {exc}"
                        continue
                    outcome = OUTCOME[tool](run)
                    why = problem(w, run, outcome)
                    if why is not None:
                        results.failed[(w.name, tool)] = (
                            f"{tool} failed on {w.name}: {why}\n  $ {' '.join(cmd)}\n{run.tail()}"
                        )
                    elif run.wall < results.best[(w.name, tool)].wall:
                        results.best[(w.name, tool)] = Best(run.wall, outcome)
    return results


def print_table(loads: list[Workload], results: Results) -> None:
    head = f"{'workload':10} {'jobs':>4}  {'tool':16} {'best wall':>10} {'per job':>10}"
    print(f"{head} {'vs ours':>8}")
    for w in loads:
        ours = results.wall(w.name, OURS)
        for i, tool in enumerate(results.tools):
            label = f"{w.name:10} {w.jobs:4}" if i == 0 else " " * 15
            seconds = results.wall(w.name, tool)
            if seconds is None:
                print(f"{label}  {tool:16} {'failed':>10}")
                continue
            ratio = f"{seconds / ours:7.1f}x" if ours and tool != OURS else ""
            print(f"{label}  {tool:16} {seconds:9.3f}s {ms(seconds / w.jobs):>10} {ratio:>8}")
    print("  per job = best wall / jobs; vs ours = the tool's best wall / cicd run's")


def print_overhead(results: Results) -> dict[str, float]:
    """Per-job overhead of each tool on the chain; returns it by tool."""
    print(
        f"per-job overhead = (best wall of chain - best wall of one) / {CHAIN - 1}:"
        " what each further job of a chain costs, start-up excluded"
    )
    overhead: dict[str, float] = {}
    for tool in results.tools:
        chain, one = results.wall("chain", tool), results.wall("one", tool)
        if chain is not None and one is not None:
            overhead[tool] = (chain - one) / (CHAIN - 1)
            print(f"  {tool:16} {ms(overhead[tool])}")
    own = results.own("chain")
    if results.wall("chain", OURS) is not None and own.execution_time is not None:
        gaps = (own.execution_time - (own.job_seconds or 0.0)) / CHAIN
        print(
            f"  cicd run's own accounting on chain: (execution_time {own.execution_time:.3f}s"
            f" - summed job durations {own.job_seconds or 0.0:.3f}s) / {CHAIN} = {ms(gaps)}"
        )
    return overhead


def print_sleep(sleep: Workload, results: Results) -> None:
    cp = sleep.critical_path or 0.0
    print(f"{sleep.name}: critical path {cp:.2f}s (longest sum of sleeps along a chain of needs)")
    for tool in results.tools:
        seconds = results.wall(sleep.name, tool)
        if seconds is None:
            continue
        print(f"  {tool:16} wall {seconds:.3f}s = {seconds / cp:.3f}x the critical path")
        own = results.own(sleep.name)
        if tool == OURS and own.execution_time is not None:
            print(
                f"  {'':16} execution_time {own.execution_time:.3f}s ="
                f" {own.execution_time / cp:.3f}x (its own clock: start-up and imports excluded)"
            )


def print_goals(results: Results, overhead: dict[str, float], sleep: Workload) -> None:
    peers = [t for t in results.tools if t in PEERS]
    for name in ("dag", "chain"):
        goal = f"goal: the faster peer takes at least {GOAL_PEER_RATIO:g}x as long on {name}"
        ours = results.wall(name, OURS)
        times = [s for s in (results.wall(name, t) for t in peers) if s is not None]
        if ours is None or not times:
            print(f"{goal}: no data")
            continue
        ratio = min(times) / ours
        verdict = "meets" if ratio >= GOAL_PEER_RATIO else "misses"
        print(f"{goal}; it takes {ratio:.2f}x ({verdict} it)")
        # the same with each tool's fixed cost (its wall on `one`) taken off both sides
        one = results.wall("one", OURS)
        marginal = [
            s - o
            for s, o in ((results.wall(name, t), results.wall("one", t)) for t in peers)
            if s is not None and o is not None
        ]
        if one is not None and marginal and ours > one:
            print(
                f"  start-up excluded (wall - wall of one, both sides):"
                f" {min(marginal) / (ours - one):.2f}x"
            )
    goal = f"goal: per-job overhead under {ms(GOAL_OVERHEAD)}"
    if OURS in overhead:
        verdict = "meets" if overhead[OURS] < GOAL_OVERHEAD else "misses"
        print(f"{goal}; it is {ms(overhead[OURS])} ({verdict} it)")
    else:
        print(f"{goal}: no data")
    goal = f"goal: {sleep.name} wall within {GOAL_CRITICAL - 1:.0%} of the critical path"
    seconds = results.wall(sleep.name, OURS)
    if seconds is None or not sleep.critical_path:
        print(f"{goal}: no data")
    else:
        ratio = seconds / sleep.critical_path
        print(f"{goal}; it is {ratio:.3f}x ({'meets' if ratio <= GOAL_CRITICAL else 'misses'} it)")
        own = results.own(sleep.name).execution_time
        if own is not None:
            print(f"  by its own clock (execution_time): {own / sleep.critical_path:.3f}x")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="rounds; the best one counts")
    parser.add_argument("--quick", action="store_true", help="one round, without act")
    parser.add_argument("--seed", type=int, default=4, help="seed of the DAGs' needs and sleeps")
    parser.add_argument(
        "--tools", default=",".join(TOOLS), help=f"comma-separated subset of: {', '.join(TOOLS)}"
    )
    args = parser.parse_args(argv)
    tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    if unknown := [t for t in tools if t not in TOOLS]:
        parser.error(f"unknown tool {unknown[0]!r}: use {', '.join(TOOLS)}")
    repeat = 1 if args.quick else args.repeat
    if args.quick:
        tools = [t for t in tools if t != ACT]

    env = offline_env()
    cpus = os.cpu_count() or 1
    print(f"cicd run vs peers, whole processes, best of {repeat}; {cpus} CPUs, seed {args.seed}")
    versions = {
        OURS: [*cicd_command(), "--version"],
        GCL: ["gitlab-ci-local", "--version"],
        ACT: ["act", "--version"],
    }
    print("versions:")
    for tool in tools:
        print(f"  {tool:16} {version(versions[tool], env)}")
    workers = {
        OURS: f"--jobs default (the number of cores, {cpus})",
        GCL: "no --concurrency (no limit)",
        ACT: f"--concurrent-jobs default (the number of CPUs, {cpus})",
    }
    print(f"workers (sleep-dag: {SLEEP_WORKERS} for all three; a sleeping job needs no CPU):")
    for tool in tools:
        print(f"  {tool:16} {workers[tool]}")
    loads = workloads(args.seed)
    sleep = next(w for w in loads if w.critical_path is not None)
    results = measure(loads, tools, repeat, env)
    print()
    print_table(loads, results)
    print()
    overhead = print_overhead(results)
    print()
    print_sleep(sleep, results)
    if OURS in tools:
        print()
        print_goals(results, overhead, sleep)
    for message in results.failed.values():
        print()
        print(message)
    return 1 if results.failed else 0


if __name__ == "__main__":
    sys.exit(main())
