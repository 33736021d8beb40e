"""Git repositories for tests that run jobs or take workspace snapshots: real ``git``, in a
folder the test owns.

``make_repo`` commits a pipeline file and any files on ``main``, and can then leave the
working tree in a given state (edited, deleted, staged, untracked files) without committing
it. Git runs with a fixed identity, no system config and no signing, so the machine's own git
set-up cannot change a test's repository.
"""

from __future__ import annotations

import os
import subprocess
import textwrap
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.invalid",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.invalid",
    "GIT_CONFIG_NOSYSTEM": "1",
}


@dataclass(frozen=True)
class Executable:
    """A file with this text and mode 0755."""

    text: str


@dataclass(frozen=True)
class Link:
    """A symbolic link to ``target``, which need not exist."""

    target: str


Entry = str | Executable | Link


def git(repo: Path, *args: str) -> str:
    """``git *args`` in ``repo``; its standard output (a failure raises)."""
    done = subprocess.run(
        ("git", "-c", "commit.gpgsign=false", "-c", "init.defaultBranch=main", *args),
        cwd=repo,
        env={**os.environ, **GIT_ENV},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return done.stdout


def _put(path: Path, entry: Entry | None) -> None:
    if entry is None:
        path.unlink()
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(entry, Link):
        path.symlink_to(entry.target)
    elif isinstance(entry, Executable):
        path.write_text(entry.text)
        path.chmod(0o755)
    else:
        path.write_text(entry)


def make_repo(
    root: Path,
    pipeline: str | None = None,
    files: Mapping[str, Entry] | None = None,
    *,
    force: Iterable[str] = (),
    then: Mapping[str, Entry | None] | None = None,
    stage: Iterable[str] = (),
    **subst: object,
) -> Path:
    """A git repository at ``root`` with one commit on ``main``; returns ``root``.

    The commit holds ``pipeline.yaml`` when ``pipeline`` is given (dedented, each ``@NAME@``
    replaced by ``subst["NAME"]``) and ``files`` (default: ``file.txt`` saying hello), every
    path relative to ``root``; ``force`` names files committed even where an ignore rule
    matches them. After the commit, ``then`` changes the working tree (``None``
    deletes a file) and ``stage`` adds some of those changes to the index, uncommitted.
    """
    root.mkdir(parents=True, exist_ok=True)
    if pipeline is not None:
        text = textwrap.dedent(pipeline)
        for name, value in subst.items():
            text = text.replace(f"@{name}@", str(value))
        (root / "pipeline.yaml").write_text(text)
    for name, entry in (files if files is not None else {"file.txt": "hello\n"}).items():
        _put(root / name, entry)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    forced = list(force)
    if forced:
        git(root, "add", "-f", "--", *forced)
    git(root, "commit", "-q", "-m", "init")
    for name, change in (then or {}).items():
        _put(root / name, change)
    staged = list(stage)
    if staged:
        git(root, "add", "--", *staged)
    return root
