"""Benchmark: ``cicd audit`` over the shared corpus, in files per second.

``cicd audit DIR`` finds every CI file under DIR, imports it into the neutral model and
renders it for both providers (that is what an audit is: it tells how much converts). This
script times, best of ``--repeat`` (3) rounds, interleaved round by round in one process:

  (a) ``cicd audit CORPUS --json`` as a subprocess: the installed console script,
      interpreter start-up and imports included;
  (b) the same in-process: ``codomyrmex.ci_cd_automation.cli.main(["audit", ...])``;
  (c) the YAML floor, in-process: ruamel ``YAML(typ="rt").load`` of every audited file
      once, the least any importer that keeps line numbers has to do;
  (d) import only, in-process: ``import_pipeline`` of every file (no rendering), to show
      how an audit's time splits between reading and rendering.

It prints files per second for each, the audit's share full/partial/failed, and the ratios
(b)/(c) and (d)/(c). No peer tool runs offline on both formats (GitHub Actions Importer
needs Docker and a GitHub token; gitlab-ci-local reads only GitLab files and does not
translate), so the floor is the reference.

Run: ``python benchmarks/import.py [--corpus DIR] [--repeat N]``. Prints; never asserts.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import io
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = ROOT.parent / "shared" / "corpus"


def _timed(fn: Callable[[], object]) -> float:
    gc.collect()
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if not args.corpus.is_dir():
        print(f"corpus folder {args.corpus} not found", file=sys.stderr)
        return 2

    from codomyrmex.ci_cd_automation.audit import audit_paths, find_ci_files
    from codomyrmex.ci_cd_automation.cli import main as cicd_main
    from codomyrmex.ci_cd_automation.errors import PipelineImportError
    from codomyrmex.ci_cd_automation.translators.importing import import_pipeline

    cicd = shutil.which("cicd")
    if cicd is None:
        print("the cicd console script is not installed (pip install -e .)", file=sys.stderr)
        return 2
    report = audit_paths([args.corpus])
    audited = [f for f in report.files if f.status != "skipped"]
    files = find_ci_files([args.corpus])

    def subprocess_audit() -> None:
        subprocess.run([cicd, "audit", str(args.corpus), "--json"], check=True, capture_output=True)

    def in_process_audit() -> None:
        with contextlib.redirect_stdout(io.StringIO()):
            cicd_main(["audit", str(args.corpus), "--json"])

    def floor() -> None:
        for path in files:
            with contextlib.suppress(Exception):
                YAML(typ="rt").load(path.read_text(encoding="utf-8"))

    def import_only() -> None:
        for path in files:
            with contextlib.suppress(PipelineImportError):
                import_pipeline(path)

    runs: dict[str, list[float]] = {"a": [], "b": [], "c": [], "d": []}
    for _ in range(args.repeat):
        runs["a"].append(_timed(subprocess_audit))
        runs["b"].append(_timed(in_process_audit))
        runs["c"].append(_timed(floor))
        runs["d"].append(_timed(import_only))
    best = {k: min(v) for k, v in runs.items()}
    n = len(files)
    totals = report.totals()
    print(f"corpus: {args.corpus} ({n} files, {len(audited)} CI files audited)")
    print(
        "audit verdicts: "
        + ", ".join(f"{totals[s]} {s}" for s in ("full", "partial", "failed", "skipped"))
    )
    labels = {
        "a": "(a) cicd audit, subprocess",
        "b": "(b) cicd audit, in-process",
        "c": "(c) floor: ruamel rt load",
        "d": "(d) import only, in-process",
    }
    for key, label in labels.items():
        print(f"{label:32s} {best[key]:7.2f} s   {n / best[key]:8.1f} files/s")
    print(f"ratio (b)/(c) audit vs floor: {best['b'] / best['c']:.2f}x")
    print(f"ratio (d)/(c) import vs floor: {best['d'] / best['c']:.2f}x")
    print(json.dumps({k: round(v, 3) for k, v in best.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
