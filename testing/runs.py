"""What tests that run jobs for real share: a secret value that must never show in output, and
checks that the processes a job started are gone.

A job that must be checked for leftover processes writes their ids to a file (``echo $! >>
"$PIDS"``); ``pids_in`` reads them back and ``survivors`` names those still alive after a
grace period. Waiting is bounded and polled, never a fixed sleep.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

# Distinctive enough that finding it anywhere in a log or a file can only mean a leak.
SECRET = "s3cr3t-Value-8x7q"


def alive(pid: int) -> bool:
    """Whether ``pid`` runs; a zombie (killed, not yet reaped) counts as gone."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat[stat.rfind(")") + 2] != "Z"


def pids_in(path: Path) -> list[int]:
    """The process ids written to ``path``, separated by white space."""
    return [int(word) for word in path.read_text().split()]


def survivors(pids: list[int], grace: float = 3.0) -> list[int]:
    """The ``pids`` still alive after waiting up to ``grace`` seconds for them to go."""
    end = time.monotonic() + grace
    while True:
        left = [pid for pid in pids if alive(pid)]
        if not left or time.monotonic() > end:
            return left
        time.sleep(0.05)
