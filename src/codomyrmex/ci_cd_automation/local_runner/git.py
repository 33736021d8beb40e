"""Running git for the local runner: one hermetic way to ask a repository something.

Every call goes through ``run_git``: no prompt, stdin closed, no optional locks (the user's git is
never blocked), the C locale (messages read the same), none of the caller's ``GIT_DIR``-style
variables (they would point git elsewhere). ``git_output`` turns every failure into ``None``.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

GIT_TIMEOUT = 30.0
"""Seconds a git call may take unless the caller says otherwise."""

LOCATION_VARIABLES = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_NAMESPACE",
    "GIT_PREFIX",
)


def git_environment() -> dict[str, str]:
    """This process's environment as every git call of the runner gets it."""
    env = {k: v for k, v in os.environ.items() if k not in LOCATION_VARIABLES}
    env.update(GIT_TERMINAL_PROMPT="0", GIT_OPTIONAL_LOCKS="0", LC_ALL="C")
    return env


def run_git(
    args: Sequence[str], cwd: Path, *, timeout: float = GIT_TIMEOUT
) -> subprocess.CompletedProcess[bytes]:
    """``git ARGS`` in ``cwd``; output as bytes, the exit status unchecked."""
    return subprocess.run(
        ["git", *args],
        cwd=cwd,
        env=git_environment(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=timeout,
        check=False,
    )


def git_output(args: Sequence[str], cwd: Path, *, timeout: float = GIT_TIMEOUT) -> str | None:
    """The standard output of ``git ARGS`` when it succeeds, else ``None`` (no git, not a
    repository, a timeout, an error)."""
    try:
        done = run_git(args, cwd, timeout=timeout)
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    return done.stdout.decode("utf-8", errors="replace")
