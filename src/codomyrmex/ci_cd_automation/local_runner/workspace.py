"""Job workspaces: the repository's tracked files, copied once per run and cloned per job.

A workspace never shares an inode with the checkout or the snapshot (a reflink at best, never a
hard link); ``.cicd/`` and the project's ``.git`` are never copied (the snapshot gets a shallow
``.git`` of its own). git runs once per run, never per job. See docs/local-runner.md.
"""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
import stat
import subprocess
from collections.abc import Iterable, Iterator
from pathlib import Path

from ..errors import PipelineExecutionError
from .git import GIT_TIMEOUT, git_output, run_git

RUNNER_DIR = ".cicd"
"""The runner's state folder at the top of a project; never copied into a workspace."""

_FICLONE: int = getattr(fcntl, "FICLONE", 0x40049409)  # _IOW(0x94, 9, int), linux/fs.h
_GITLINK = "160000"
_CHUNK = 1 << 30
_READ_SIZE = 1 << 20

# errno values by which the kernel says "this filesystem (pair) cannot do that at all", as
# opposed to a failure of one file; only these make a method be skipped from then on.
_UNSUPPORTED = frozenset(
    {errno.EOPNOTSUPP, errno.ENOTSUP, errno.ENOTTY, errno.EXDEV, errno.EINVAL, errno.ENOSYS}
)
_NO_REFLINK: set[tuple[int, int]] = set()
_NO_COPY_RANGE: set[tuple[int, int]] = set()


def tracked_files(project_dir: Path) -> list[str]:
    """The files a workspace starts with, as POSIX paths relative to ``project_dir``, sorted.

    In a git work tree these are the files in git's index under ``project_dir``, as they are
    in the working tree now: tracked files deleted (or turned into a directory) in the working
    tree are left out, and so are submodules and files below a symlinked directory. Outside
    git (or when no ``git`` is installed) it is every regular file and symlink below
    ``project_dir`` except those inside a ``.git`` folder. ``.cicd/`` is never included.

    Raises:
        PipelineExecutionError: git failed for another reason than "not a git repository"
            (for example an unsafe repository owner) or did not answer within ``GIT_TIMEOUT``.
    """
    listed = _git_ls_files(project_dir)
    if listed is None:
        return sorted(_walk_files(os.fspath(project_dir)))
    return _present(os.fspath(project_dir), listed)


def _git_ls_files(project_dir: Path) -> list[str] | None:
    """git's index entries under ``project_dir`` without gitlinks; None outside a work tree."""
    try:
        done = run_git(("ls-files", "-z", "--cached", "--stage"), project_dir)
    except FileNotFoundError:
        if not project_dir.is_dir():
            raise
        return None  # no git installed: every file counts
    except subprocess.TimeoutExpired as exc:
        raise PipelineExecutionError(
            f'git ls-files did not answer within {GIT_TIMEOUT:g}s in "{project_dir}"'
        ) from exc
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip()
        if "not a git repository" in message:
            return None
        first = message.splitlines()[0] if message else f"exit status {done.returncode}"
        raise PipelineExecutionError(f'git ls-files failed in "{project_dir}": {first}')
    paths: list[str] = []
    for record in done.stdout.split(b"\0"):
        if not record:
            continue
        info, _, raw = record.partition(b"\t")
        if info.split(b" ", 1)[0].decode() == _GITLINK:
            continue
        path = os.fsdecode(raw)
        if not paths or paths[-1] != path:  # an unmerged path is listed once per stage
            paths.append(path)
    return paths


def _present(root: str, listed: list[str]) -> list[str]:
    """The listed paths that are a regular file or a symlink now, below real directories."""
    real_dirs: dict[str, bool] = {"": True}

    def is_real_dir(rel: str) -> bool:
        known = real_dirs.get(rel)
        if known is None:
            parent = rel.rpartition("/")[0]
            try:
                known = is_real_dir(parent) and stat.S_ISDIR(os.lstat(f"{root}/{rel}").st_mode)
            except OSError:
                known = False
            real_dirs[rel] = known
        return known

    kept: list[str] = []
    for rel in listed:
        if rel == RUNNER_DIR or rel.startswith(RUNNER_DIR + "/"):
            continue
        if not is_real_dir(rel.rpartition("/")[0]):
            continue
        try:
            mode = os.lstat(f"{root}/{rel}").st_mode
        except OSError:
            continue
        if stat.S_ISREG(mode) or stat.S_ISLNK(mode):
            kept.append(rel)
    kept.sort()
    return kept


def _walk_files(root: str, prefix: str = "") -> Iterator[str]:
    """Regular files and symlinks below ``root``, symlinks never followed, no ``.git``."""
    with os.scandir(f"{root}/{prefix}" if prefix else root) as entries:
        for entry in entries:
            if entry.name == ".git" or (not prefix and entry.name == RUNNER_DIR):
                continue
            rel = prefix + entry.name
            if entry.is_symlink() or entry.is_file(follow_symlinks=False):
                yield rel
            elif entry.is_dir(follow_symlinks=False):
                yield from _walk_files(root, rel + "/")


def clone_file(src: str, dst: str, mode: int, devices: tuple[int, int]) -> None:
    """Create the regular file ``dst`` (it must not exist) with ``src``'s bytes.

    ``dst`` gets the permission bits ``mode`` exactly (the umask does not apply). ``devices``
    is ``(st_dev of the source tree, st_dev of the destination tree)``: the key under which an
    unsupported copy method is remembered. ``src`` is opened without following a symlink.
    """
    source = os.open(src, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    try:
        target = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            _fill(source, target, devices)
            os.fchmod(target, stat.S_IMODE(mode))
        finally:
            os.close(target)
    finally:
        os.close(source)


def _fill(source: int, target: int, devices: tuple[int, int]) -> None:
    """Copy every byte of ``source`` into the empty ``target``, the cheapest way that works."""
    if devices not in _NO_REFLINK:
        try:
            fcntl.ioctl(target, _FICLONE, source)
            return
        except OSError as exc:
            if exc.errno in _UNSUPPORTED:
                _NO_REFLINK.add(devices)
    if devices not in _NO_COPY_RANGE:
        try:
            while os.copy_file_range(source, target, _CHUNK):
                pass
            return
        except OSError as exc:
            if exc.errno in _UNSUPPORTED:
                _NO_COPY_RANGE.add(devices)
            os.lseek(source, 0, os.SEEK_SET)
            os.lseek(target, 0, os.SEEK_SET)
            os.ftruncate(target, 0)
    while chunk := os.read(source, _READ_SIZE):
        view = memoryview(chunk)
        while view:
            view = view[os.write(target, view) :]


class Snapshot:
    """The repository's tracked files copied once per run into the run folder.

    Attributes:
        root: the folder holding the copy.
        files: the copied paths relative to ``root`` (regular files and symlinks), sorted.
    """

    root: Path
    files: tuple[str, ...]

    def __init__(self, root: Path, files: Iterable[str]) -> None:
        """Describe an existing snapshot folder; reads each file's mode and link target once."""
        self.root = root
        self.files = tuple(sorted(files))
        base = os.fspath(root)
        self._device = os.stat(base).st_dev
        # git needs its empty folders (refs/tags, objects/info); elsewhere only files count.
        dirs: set[str] = (
            set(_folders(f"{base}/.git", ".git")) if os.path.isdir(f"{base}/.git") else set()
        )
        items: list[tuple[str, int, str | None]] = []
        for rel in self.files:
            parent = rel.rpartition("/")[0]
            while parent and parent not in dirs:
                dirs.add(parent)
                parent = parent.rpartition("/")[0]
            path = f"{base}/{rel}"
            mode = os.lstat(path).st_mode
            items.append((rel, mode, os.readlink(path) if stat.S_ISLNK(mode) else None))
        self._dirs = tuple(sorted(dirs))  # a parent sorts before its children
        self._items = tuple(items)

    def __repr__(self) -> str:
        return f"Snapshot(root={str(self.root)!r}, files={len(self.files)})"

    @classmethod
    def take(cls, project_dir: Path, dest: Path) -> Snapshot:
        """Copy ``tracked_files(project_dir)`` into ``dest``, which must not exist yet.

        Raises:
            FileExistsError: ``dest`` exists.
            PipelineExecutionError: see ``tracked_files``.
        """
        listed = tracked_files(project_dir)
        dest.mkdir(parents=True)
        source, target = os.fspath(project_dir), os.fspath(dest)
        devices = (os.stat(source).st_dev, os.stat(target).st_dev)
        made: set[str] = {""}
        copied: list[str] = []
        for rel in listed:
            path = f"{source}/{rel}"
            try:
                mode = os.lstat(path).st_mode
                if not (stat.S_ISREG(mode) or stat.S_ISLNK(mode)):
                    continue
                _make_parents(target, rel, made)
                if stat.S_ISLNK(mode):
                    os.symlink(os.readlink(path), f"{target}/{rel}")
                else:
                    clone_file(path, f"{target}/{rel}", mode, devices)
            except FileNotFoundError:
                continue  # deleted while the snapshot was taken: as if deleted before
            copied.append(rel)
        copied += _own_git(project_dir, dest)
        return cls(dest, copied)

    def clone_into(self, workspace: Path) -> None:
        """Give ``workspace`` (absent or empty) its own copy of every file of the snapshot.

        Raises:
            FileExistsError: ``workspace`` exists and is not an empty directory.
        """
        target = os.fspath(workspace)
        try:
            os.mkdir(target)
        except FileNotFoundError:
            os.makedirs(target)
        except FileExistsError:
            if not os.path.isdir(target) or os.listdir(target):
                raise FileExistsError(
                    errno.EEXIST, "workspace exists and is not empty", target
                ) from None
        source = os.fspath(self.root)
        devices = (self._device, os.stat(target).st_dev)
        for rel in self._dirs:
            os.mkdir(f"{target}/{rel}")
        for rel, mode, link in self._items:
            if link is not None:
                os.symlink(link, f"{target}/{rel}")
            else:
                clone_file(f"{source}/{rel}", f"{target}/{rel}", mode, devices)


def _folders(path: str, rel: str) -> Iterator[str]:
    """``rel`` and every folder below ``path``, as paths relative to the snapshot."""
    yield rel
    with os.scandir(path) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                yield from _folders(entry.path, f"{rel}/{entry.name}")


def _own_git(project_dir: Path, dest: Path) -> list[str]:
    """Give the snapshot its own shallow ``.git`` (see docs/local-runner.md); returns its
    files relative to ``dest``, or nothing when the project is not the top of a git work
    tree with a commit, or git cannot clone it (the snapshot then has no ``.git``)."""
    top = git_output(["rev-parse", "--show-toplevel"], project_dir)
    head = git_output(["rev-parse", "--verify", "-q", "HEAD"], project_dir)
    if top is None or head is None:
        return []
    if Path(top.strip()).resolve() != project_dir.resolve():
        return []  # a folder inside a repository: its workspace has no repository root
    scratch = dest.parent / (dest.name + ".git-clone")
    cloned = git_output(
        [
            "clone",
            "--quiet",
            "--depth=1",
            "--no-checkout",
            "--no-tags",
            "--template=",
            f"file://{project_dir.resolve()}",
            str(scratch),
        ],
        dest.parent,
    )
    try:
        if cloned is None:
            return []
        os.rename(scratch / ".git", dest / ".git")
        for args in (["remote", "remove", "origin"], ["reset", "--quiet"]):
            git_output(args, dest)
        git_dir = os.fspath(dest / ".git")
        return [".git/" + rel for rel in _walk_files(git_dir)]
    finally:
        if scratch.exists():
            shutil.rmtree(scratch, ignore_errors=True)


def _make_parents(root: str, rel: str, made: set[str]) -> None:
    """Create the missing parent folders of ``rel`` below ``root`` (``made`` remembers them)."""
    parent = rel.rpartition("/")[0]
    if parent in made:
        return
    _make_parents(root, parent, made)
    os.mkdir(f"{root}/{parent}")
    made.add(parent)
