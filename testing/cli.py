"""The ``cicd`` command as a user runs it: a subprocess of this Python, with warnings as errors,
so that a warning or a traceback that would reach a user fails the test instead.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_cicd(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """``cicd *args`` in ``cwd`` (default: the repository root), its output captured."""
    env = {**os.environ, "PYTHONWARNINGS": "error"}
    return subprocess.run(
        [sys.executable, "-m", "codomyrmex.ci_cd_automation.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under ``folder`` with its bytes and modification time."""
    return {
        p.relative_to(folder).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }
