"""Artifacts and cache as plain folders, and the ``hash()`` of files for cache keys.

This module owns what crosses from one job's workspace to another (``collect``, ``restore``,
``CacheStore``). No pattern reaches outside the workspace; no symlink is followed or written
through. A cache entry is the folder ``entry_name(key)`` with ``meta.json`` and ``files/``
(names starting with ``.`` are the store's own), renamed in under an exclusive ``flock`` and
read under a shared one. See docs/local-runner.md (artifacts and cache).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import stat
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from .workspace import clone_file

Kind = Literal["file", "link", "dir"]

_MAGIC = re.compile(r"[*?\[]")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_PREFIX_LENGTH = 48
_DIGEST_LENGTH = 20
_META = "meta.json"
_FILES = "files"
_LOCKS = ".locks"


@dataclass(frozen=True)
class _Pattern:
    """A validated pattern: its text, literal leading folders and what the rest matches."""

    text: str
    parts: tuple[str, ...]
    base: tuple[str, ...]
    regex: re.Pattern[str] | None
    depth: int | None


def _parse_all(patterns: Sequence[str], what: str) -> list[_Pattern]:
    """Validate every pattern before anything is read or written."""
    if isinstance(patterns, str):
        raise TypeError(f"{what}s must be a sequence of strings, not one string")
    return [_parse(pattern, what) for pattern in patterns]


def _parse(pattern: str, what: str) -> _Pattern:
    """Validate ``pattern`` as a workspace-relative path or glob; ``what`` names it in errors."""
    if not pattern.strip():
        raise ValueError(f"{what} is empty")
    if pattern.startswith(("/", "~")) or re.match(r"[A-Za-z]:[\\/]", pattern):
        raise ValueError(
            f'{what} "{pattern}" is outside the workspace; only paths relative to the'
            " workspace are supported"
        )
    parts = tuple(part for part in pattern.split("/") if part not in ("", "."))
    if ".." in parts:
        raise ValueError(f'{what} "{pattern}" leaves the workspace with ".."')
    collapsed: list[str] = []
    for part in parts:
        if not (part == "**" and collapsed and collapsed[-1] == "**"):
            collapsed.append(part)
    parts = tuple(collapsed)
    if not any(_MAGIC.search(part) for part in parts):
        return _Pattern(pattern, parts, parts, None, len(parts))
    base: list[str] = []
    for part in parts:
        if _MAGIC.search(part):
            break
        base.append(part)
    depth = None if "**" in parts else len(parts)
    try:
        regex = re.compile(_regex(parts))
    except re.error as exc:
        raise ValueError(f'{what} "{pattern}" is not a valid glob: {exc}') from None
    return _Pattern(pattern, parts, tuple(base), regex, depth)


def _regex(parts: Sequence[str]) -> str:
    """A regular expression for whole workspace-relative paths matching the glob ``parts``."""
    out = ""
    separate = False  # whether the next segment needs a "/" before it
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        if part == "**":
            if last:
                out += "(?:/.*)?" if separate else ".*"
            else:
                out += ("/" if separate else "") + "(?:[^/]+/)*"
                separate = False
        else:
            out += ("/" if separate else "") + _segment(part)
            separate = True
    return out


def _segment(part: str) -> str:
    """The regular expression for one path segment of a glob."""
    out: list[str] = []
    i = 0
    while i < len(part):
        char = part[i]
        i += 1
        if char == "*":
            while i < len(part) and part[i] == "*":
                i += 1
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            j = i + 1 if i < len(part) and part[i] in "!^" else i
            j = part.find("]", j + 1)
            if j < 0:
                out.append(re.escape(char))
                continue
            negate = part[i] in "!^"
            body = part[i + 1 if negate else i : j]
            i = j + 1
            last = len(body) - 1
            chars = "".join(
                "-" if char == "-" and 0 < k < last else re.escape(char)
                for k, char in enumerate(body)
            )
            # A negated set must not match the separator either: "*" and "?" do not.
            out.append(f"[^/{chars}]" if negate else f"[{chars}]")
        else:
            out.append(re.escape(char))
    return "".join(out)


def _kind(mode: int) -> Kind | None:
    if stat.S_ISLNK(mode):
        return "link"
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "dir"
    return None


def _entry_kind(entry: os.DirEntry[str]) -> Kind | None:
    if entry.is_symlink():
        return "link"
    if entry.is_file(follow_symlinks=False):
        return "file"
    if entry.is_dir(follow_symlinks=False):
        return "dir"
    return None


def _tree(root: str, rel: str) -> Iterator[tuple[str, Kind]]:
    """Everything below the folder ``rel`` of ``root`` (not ``rel`` itself), parents first."""
    with os.scandir(f"{root}/{rel}" if rel else root) as entries:
        found = [(entry.name, _entry_kind(entry)) for entry in entries]
    for name, kind in found:
        if kind is None:
            continue
        child = f"{rel}/{name}" if rel else name
        yield child, kind
        if kind == "dir":
            yield from _tree(root, child)


def _real_dir(root: str, parts: Sequence[str]) -> bool:
    """Whether ``parts`` under ``root`` is a folder reached without passing a symlink."""
    if not os.path.isdir(root):
        return False
    path = root
    for part in parts:
        path = f"{path}/{part}"
        try:
            if not stat.S_ISDIR(os.lstat(path).st_mode):
                return False
        except OSError:
            return False
    return True


def _expand(root: str, pattern: _Pattern) -> dict[str, Kind]:
    """What ``pattern`` selects below ``root``: matched entries and everything below them."""
    selected: dict[str, Kind] = {}

    def take(rel: str, kind: Kind) -> None:
        selected[rel] = kind
        if kind == "dir":
            selected.update(_tree(root, rel))

    if pattern.regex is None:
        if not pattern.parts:
            selected.update(_tree(root, ""))
            return selected
        if not _real_dir(root, pattern.parts[:-1]):
            return selected
        try:
            kind = _kind(os.lstat(f"{root}/{'/'.join(pattern.parts)}").st_mode)
        except FileNotFoundError:
            return selected
        if kind is not None:
            take("/".join(pattern.parts), kind)
        return selected
    if not _real_dir(root, pattern.base):
        return selected
    regex, depth = pattern.regex, pattern.depth
    pending = ["/".join(pattern.base)]
    while pending:
        folder = pending.pop()
        level = folder.count("/") + 1 if folder else 0
        with os.scandir(f"{root}/{folder}" if folder else root) as entries:
            found = [(entry.name, _entry_kind(entry)) for entry in entries]
        for name, kind in found:
            if kind is None:
                continue
            rel = f"{folder}/{name}" if folder else name
            if regex.fullmatch(rel):
                take(rel, kind)
            elif kind == "dir" and (depth is None or level + 1 < depth):
                pending.append(rel)
    return selected


def _select(root: str, patterns: Sequence[_Pattern]) -> dict[str, Kind]:
    selected: dict[str, Kind] = {}
    for pattern in patterns:
        selected.update(_expand(root, pattern))
    return selected


def _clear(path: str) -> None:
    """Remove whatever is at ``path`` (a folder with its contents, a file or a symlink)."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if stat.S_ISDIR(mode):
        shutil.rmtree(path)
    else:
        os.unlink(path)


def _ensure_dir(root: str, rel: str, ready: set[str]) -> None:
    """Make ``rel`` a real folder below ``root``, replacing a file or symlink in the way."""
    if rel in ready:
        return
    parent = rel.rpartition("/")[0]
    _ensure_dir(root, parent, ready)
    path = f"{root}/{rel}"
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        os.mkdir(path)
    else:
        if not stat.S_ISDIR(mode):
            os.unlink(path)
            os.mkdir(path)
    ready.add(rel)


def _copy(source: str, selected: Mapping[str, Kind], target: str) -> list[str]:
    """Copy the ``selected`` entries of ``source`` to the same paths below ``target``."""
    if not selected:
        return []
    os.makedirs(target, exist_ok=True)
    devices = (os.stat(source).st_dev, os.stat(target).st_dev)
    ready: set[str] = {""}
    copied: list[str] = []
    for rel in sorted(selected):
        kind = selected[rel]
        if kind == "dir":
            _ensure_dir(target, rel, ready)
            continue
        _ensure_dir(target, rel.rpartition("/")[0], ready)
        src, dst = f"{source}/{rel}", f"{target}/{rel}"
        _clear(dst)
        if kind == "link":
            os.symlink(os.readlink(src), dst)
        else:
            clone_file(src, dst, os.lstat(src).st_mode, devices)
        copied.append(rel)
    return copied


def collect(workspace: Path, patterns: Sequence[str], dest: Path) -> list[str]:
    """Copy what the artifact ``patterns`` select in ``workspace`` to the same paths in ``dest``.

    ``dest`` is created when missing; files already there are overwritten, so several
    collections may go into one folder. The pattern rules are in docs/local-runner.md.

    Returns:
        The relative paths copied (regular files and symlinks), sorted.

    Raises:
        ValueError: a pattern could reach outside the workspace (before anything is copied).
    """
    parsed = _parse_all(patterns, "artifact path")
    root = os.fspath(workspace)
    return _copy(root, _select(root, parsed), os.fspath(dest))


def unmatched(workspace: Path, patterns: Sequence[str]) -> list[str]:
    """The ``patterns`` that select nothing in ``workspace``, in the order given.

    Raises:
        ValueError: a pattern could reach outside the workspace.
    """
    parsed = _parse_all(patterns, "artifact path")
    root = os.fspath(workspace)
    return [pattern.text for pattern in parsed if not _expand(root, pattern)]


def restore(src: Path, workspace: Path) -> list[str]:
    """Lay the tree ``src`` (from ``collect``) over ``workspace``; the tree wins every clash.

    Returns:
        The relative paths written (regular files and symlinks), sorted; ``[]`` when ``src``
        does not exist (the job kept no artifacts).
    """
    source = os.fspath(src)
    if not os.path.isdir(source):
        return []
    return _copy(source, dict(_tree(source, "")), os.fspath(workspace))


def hash_files(root: Path, globs: Sequence[str]) -> str:
    """The ``hash(glob, ...)`` of the neutral model, like GitHub's ``hashFiles``.

    The SHA-256 over the SHA-256 digests of each selected regular file's contents, in sorted
    path order (names are not hashed: a rename that keeps the order keeps the hash). Patterns
    apply in order: a plain one adds what it selects, a ``!`` one takes it away again.
    Symlinks are not followed and not hashed.

    Returns:
        The hex digest, or ``""`` when no regular file is selected.

    Raises:
        ValueError: a pattern could reach outside ``root``.
    """
    if isinstance(globs, str):
        raise TypeError("hash() patterns must be a sequence of strings, not one string")
    steps = [
        (glob.startswith("!"), _parse(glob.removeprefix("!"), "hash() pattern")) for glob in globs
    ]
    base = os.fspath(root)
    chosen: set[str] = set()
    for exclude, pattern in steps:
        found = {rel for rel, kind in _expand(base, pattern).items() if kind == "file"}
        chosen = chosen - found if exclude else chosen | found
    if not chosen:
        return ""
    outer = hashlib.sha256()
    for rel in sorted(chosen):
        with open(f"{base}/{rel}", "rb") as handle:
            outer.update(hashlib.file_digest(handle, "sha256").digest())
    return outer.hexdigest()


def entry_name(key: str) -> str:
    """The folder name of cache ``key``: a readable prefix plus a digest that keeps it unique."""
    if not key:
        raise ValueError("cache key is empty")
    digest = hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()[:_DIGEST_LENGTH]
    prefix = _UNSAFE.sub("_", key)[:_PREFIX_LENGTH].lstrip("._")
    return f"{prefix}-{digest}" if prefix else digest


class CacheStore:
    """Cache entries kept across runs as folders below ``root`` (e.g. ``<project>/.cicd/cache``)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def __repr__(self) -> str:
        return f"CacheStore({str(self.root)!r})"

    def restore(
        self, key: str, restore_keys: Sequence[str], paths: Sequence[str], workspace: Path
    ) -> str | None:
        """Lay the best entry over ``workspace``: exact ``key``, else by restore-key prefix.

        Returns:
            The key of the entry restored, or None when no entry matches.

        Raises:
            ValueError: a path could reach outside the workspace, or ``key`` is empty.
        """
        entry_name(key)
        _parse_all(paths, "cache path")
        if isinstance(restore_keys, str):
            raise TypeError("restore keys must be a sequence of strings, not one string")
        if not self.root.is_dir():
            return None
        for candidate in self._candidates(key, restore_keys):
            with self._lock(candidate, exclusive=False):
                if self._meta(candidate) is None:
                    continue  # no such entry, or it vanished since the scan
                folder = os.fspath(self.root / entry_name(candidate) / _FILES)
                _copy(folder, dict(_tree(folder, "")), os.fspath(workspace))
                return candidate
        return None

    def save(self, key: str, paths: Sequence[str], workspace: Path) -> bool:
        """Store what ``paths`` select in ``workspace`` as the entry of ``key``.

        Returns:
            False when the paths select nothing (an existing entry is then left alone).

        Raises:
            ValueError: a path could reach outside the workspace, or ``key`` is empty.
        """
        name = entry_name(key)
        parsed = _parse_all(paths, "cache path")
        source = os.fspath(workspace)
        selected = _select(source, parsed)
        if not selected:
            return False
        self.root.mkdir(parents=True, exist_ok=True)
        build = tempfile.mkdtemp(prefix=".build-", dir=self.root)
        old: str | None = None
        try:
            _copy(source, selected, f"{build}/{_FILES}")
            final = os.fspath(self.root / name)
            with self._lock(key, exclusive=True):
                meta = {"key": key, "saved": time.time_ns()}
                Path(build, _META).write_text(json.dumps(meta), encoding="utf-8")
                if os.path.lexists(final):
                    old = tempfile.mkdtemp(prefix=".old-", dir=self.root)
                    os.rename(final, f"{old}/entry")
                try:
                    os.rename(build, final)
                except BaseException:
                    if old is not None:
                        os.rename(f"{old}/entry", final)
                    raise
        except BaseException:
            shutil.rmtree(build, ignore_errors=True)
            raise
        finally:
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        return True

    def _candidates(self, key: str, restore_keys: Sequence[str]) -> Iterator[str]:
        """Keys worth trying, best first: ``key``, then per restore key the newest match."""
        yield key
        if not restore_keys:
            return
        entries: list[tuple[str, int]] = []
        with contextlib.suppress(FileNotFoundError), os.scandir(self.root) as found:
            for entry in found:
                if entry.name.startswith(".") or not entry.is_dir(follow_symlinks=False):
                    continue
                meta = self._read_meta(Path(entry.path))
                if meta is not None:
                    entries.append(meta)
        for prefix in restore_keys:
            matching = [item for item in entries if item[0].startswith(prefix)]
            if matching:
                yield max(matching, key=lambda item: (item[1], item[0]))[0]

    def _meta(self, key: str) -> tuple[str, int] | None:
        meta = self._read_meta(self.root / entry_name(key))
        return meta if meta is not None and meta[0] == key else None

    @staticmethod
    def _read_meta(folder: Path) -> tuple[str, int] | None:
        """``(key, saved)`` from an entry's metadata; None when missing or unreadable."""
        try:
            data = json.loads((folder / _META).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict):
            return None
        key, saved = data.get("key"), data.get("saved")
        if not isinstance(key, str) or not isinstance(saved, int):
            return None
        return key, saved

    @contextlib.contextmanager
    def _lock(self, key: str, *, exclusive: bool) -> Iterator[None]:
        """Hold the ``flock`` of ``key``: exclusive to swap an entry, shared to read one."""
        locks = self.root / _LOCKS
        locks.mkdir(parents=True, exist_ok=True)
        fd = os.open(locks / f"{entry_name(key)}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            yield
        finally:
            os.close(fd)
