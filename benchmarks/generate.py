"""Benchmark: ``cicd generate`` on a 1,000-job pipeline against the YAML floor.

Builds one large neutral pipeline (100 stages of 10 jobs, each stage depending on the one
before it; every job with a 2- or 3-axis matrix, job needs, artifacts, a cache with a
``hash()`` key, env and a few steps), writes it to a temporary file and times, best of
``--repeat`` (5) rounds, interleaved round by round, in one process:

  (a) ``cicd generate FILE --target all --out DIR`` as a subprocess: the whole command,
      interpreter start-up and imports included;
  (b) the same command in-process: ``codomyrmex.ci_cd_automation.cli.main([...])``;
  (c) the floor, the least any implementation must do: ruamel ``YAML(typ="rt").load`` of
      the same input file plus a ruamel round-trip dump of the same two output documents
      (parsed once beforehand into plain dicts and lists), to files in an output folder.
      Measured in-process and as a ``python -c`` subprocess of the same interpreter (the
      child also starts the interpreter and imports ruamel; it reads the two prepared
      documents from a pickle, which takes a few milliseconds), so that (a) compares with
      (c, subprocess) and (b) with (c, in-process).

The goal is generate at most 2x the floor. Then a cProfile of one in-process generate,
top 20 by cumulative time (and top 10 by own time), shows where the time goes.

Run: ``python benchmarks/generate.py`` (``--help`` for options). Benchmarks print
numbers; they never assert.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import gc
import io
import os
import pickle
import pstats
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

GOAL = 2.0

# The floor as a child process: interpreter start-up, ruamel import, then the same work as
# floor_in_process (argv: input file, pickle of the two documents, output folder).
FLOOR_CHILD = """
import pickle, sys
from pathlib import Path
from ruamel.yaml import YAML
source, docs, out = sys.argv[1], sys.argv[2], Path(sys.argv[3])
YAML(typ="rt").load(Path(source).read_text(encoding="utf-8"))
yaml = YAML(typ="rt")
yaml.indent(mapping=2, sequence=4, offset=2)
yaml.width = 4096
yaml.allow_unicode = True
with open(docs, "rb") as handle:
    documents = pickle.load(handle)
for rel, data in documents.items():
    target = out / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "w", encoding="utf-8") as handle:
        yaml.dump(data, handle)
"""


def big_pipeline(stages: int = 100, jobs_per_stage: int = 10) -> dict[str, Any]:
    """The neutral pipeline of the benchmark, as file data."""
    axes_pool = [
        ("os", ["linux", "macos"]),
        ("python", ["3.11", "3.12", "3.13"]),
        ("shard", [1, 2]),
    ]
    out_stages = []
    for si in range(stages):
        jobs = []
        for ji in range(jobs_per_stage):
            name = f"job_{si:03d}_{ji}"
            axes = dict(axes_pool[: 2 + (si + ji) % 2])  # 2 or 3 axes
            job: dict[str, Any] = {
                "name": name,
                "matrix": axes,
                "env": {
                    "STAGE": f"s{si}",
                    "TARGET": "${{ matrix.os }}-${{ matrix.python }}",
                    "LEVEL": ji,
                },
                "artifacts": {"paths": [f"dist/{name}/", "reports/*.xml"], "expire_in": "7d"},
                "cache": {
                    "key": "pip-${{ matrix.os }}-${{ hash('requirements.txt') }}",
                    "paths": [".cache/pip"],
                },
                "steps": [
                    {"checkout": {}},
                    {"setup": {"python": "${{ matrix.python }}"}},
                    {"run": "pip install -r requirements.txt\npython -m build", "name": "Build"},
                    {
                        "run": 'echo "version=1.${{ ci.run_id }}" >> "$CICD_OUTPUT"',
                        "id": "ver",
                    },
                    {
                        "run": "pytest -q --junitxml=reports/${{ matrix.python }}.xml "
                        '--target "$TARGET"',
                        "env": {"VERSION": "${{ steps.ver.outputs.version }}"},
                    },
                ],
                "outputs": {"version": "${{ steps.ver.outputs.version }}"},
            }
            if si >= 2:
                # a job need on top of the stage dependency: one job two stages back
                job["needs"] = [f"job_{si - 2:03d}_{(ji + 3) % jobs_per_stage}"]
            jobs.append(job)
        stage: dict[str, Any] = {"name": f"stage-{si:03d}", "jobs": jobs}
        if si:
            stage["dependencies"] = [f"stage-{si - 1:03d}"]
        out_stages.append(stage)
    return {
        "name": "big",
        "config": {
            "triggers": {"push": {"branches": ["main"]}, "pull_request": {"branches": ["main"]}},
            "variables": {"PYTHON_VERSION": "3.12"},
        },
        "stages": out_stages,
    }


def write_yaml(data: Any, path: Path) -> None:
    yaml = YAML(typ="rt")
    yaml.width = 4096
    with open(path, "w", encoding="utf-8") as handle:
        yaml.dump(data, handle)


def cicd_command() -> list[str]:
    """The installed ``cicd`` console script of this interpreter (not a pyenv shim)."""
    script = Path(sysconfig.get_path("scripts")) / "cicd"
    if script.exists():
        return [str(script)]
    found = shutil.which("cicd")
    return [found] if found else [sys.executable, "-m", "codomyrmex.ci_cd_automation.cli"]


def plain(node: Any) -> Any:
    """ruamel's round-trip containers as plain dicts, lists and scalars."""
    if isinstance(node, dict):
        return {str(k): plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [plain(v) for v in node]
    for base in (bool, int, float, str):  # ruamel's ScalarInt, ScalarFloat, ScalarString...
        if isinstance(node, base):
            return base(node)
    return node


def floor_in_process(source: Path, documents: dict[str, Any], out: Path) -> None:
    YAML(typ="rt").load(source.read_text(encoding="utf-8"))
    yaml = YAML(typ="rt")
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 4096
    yaml.allow_unicode = True
    for rel, data in documents.items():
        target = out / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "w", encoding="utf-8") as handle:
            yaml.dump(data, handle)


def generate_in_process(source: Path, out: Path) -> int:
    from codomyrmex.ci_cd_automation.cli import main

    sink = io.StringIO()
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        return main(["generate", str(source), "--target", "all", "--out", str(out)])


def run_quiet(argv: list[str]) -> None:
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def timed(fn: Callable[[], Any]) -> float:
    gc.collect()  # garbage of the previous run is not this run's cost
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stages", type=int, default=100)
    parser.add_argument("--jobs-per-stage", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5, help="rounds; the best one counts")
    parser.add_argument("--profile-top", type=int, default=20)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="cicd-bench-") as tmp:
        root = Path(tmp)
        source = root / "big.yml"
        write_yaml(big_pipeline(args.stages, args.jobs_per_stage), source)
        outs = {k: root / k for k in ("a", "b", "c_in", "c_sub", "prof")}

        # Generate once to get the outputs the floor must dump, and to check the command.
        if generate_in_process(source, outs["b"]) != 0:
            print("cicd generate failed on the benchmark pipeline", file=sys.stderr)
            return 1
        produced = sorted(p for p in outs["b"].rglob("*") if p.is_file())
        documents = {
            str(p.relative_to(outs["b"])): plain(YAML(typ="rt").load(p.read_text("utf-8")))
            for p in produced
        }
        docs_file = root / "documents.pickle"
        docs_file.write_bytes(pickle.dumps(documents, protocol=pickle.HIGHEST_PROTOCOL))

        generate_cmd = [*cicd_command(), "generate", str(source), "--target", "all", "--out"]
        floor_cmd = [sys.executable, "-c", FLOOR_CHILD, str(source), str(docs_file)]
        variants: dict[str, Callable[[], Any]] = {
            "a": lambda: run_quiet([*generate_cmd, str(outs["a"])]),
            "b": lambda: generate_in_process(source, outs["b"]),
            "c_in": lambda: floor_in_process(source, documents, outs["c_in"]),
            "c_sub": lambda: run_quiet([*floor_cmd, str(outs["c_sub"])]),
        }
        # The set-up data (documents, the first run's garbage) would otherwise be walked by
        # every collection of the in-process runs, which a fresh `cicd` process never does.
        gc.collect()
        gc.freeze()
        best = {k: float("inf") for k in variants}
        for _ in range(args.repeat):
            for key, fn in variants.items():
                best[key] = min(best[key], timed(fn))

        jobs = args.stages * args.jobs_per_stage
        sizes = ", ".join(
            f"{rel} {len(p.read_bytes()) / 1e6:.2f} MB"
            for rel, p in ((str(p.relative_to(outs["b"])), p) for p in produced)
        )
        print(
            f"cicd generate, {jobs} jobs ({args.stages} stages x {args.jobs_per_stage}); "
            f"input {source.stat().st_size / 1e6:.2f} MB; output {sizes}"
        )
        print(f"Python {sys.version.split()[0]} on {os.cpu_count()} CPUs; best of {args.repeat}")
        print()
        rows = [
            ("(a) cicd generate, subprocess", best["a"], best["a"] / best["c_sub"]),
            ("(b) cicd generate, in-process", best["b"], best["b"] / best["c_in"]),
            ("(c) floor, subprocess", best["c_sub"], None),
            ("(c) floor, in-process", best["c_in"], None),
        ]
        print(f"{'measurement':34} {'seconds':>9} {'x floor':>8}")
        for label, seconds, ratio in rows:
            shown = f"{ratio:7.2f}x" if ratio is not None else ""
            print(f"{label:34} {seconds:9.3f} {shown:>8}")
        print()
        for label, ratio in (
            ("(a)/(c subprocess)", best["a"] / best["c_sub"]),
            ("(b)/(c in-process)", best["b"] / best["c_in"]),
        ):
            verdict = "meets" if ratio <= GOAL else "misses"
            print(f"goal: at most {GOAL:g}x the floor; {label} = {ratio:.2f}x ({verdict} it)")

        if args.profile_top:
            print()
            print(
                f"cProfile of one in-process generate, top {args.profile_top} by cumulative time:"
            )
            profiler = cProfile.Profile()
            profiler.enable()
            generate_in_process(source, outs["prof"])
            profiler.disable()
            stream = io.StringIO()
            stats = pstats.Stats(profiler, stream=stream)
            stats.strip_dirs().sort_stats("cumulative").print_stats(args.profile_top)
            # the same profile by own time: where the hot loops are, wrappers left out
            stats.sort_stats("tottime").print_stats(max(10, args.profile_top // 2))
            print(stream.getvalue().rstrip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
