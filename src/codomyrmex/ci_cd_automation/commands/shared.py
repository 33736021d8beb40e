"""What several commands use: exit codes, flag parsing, atomic writes, counted words.

The exit codes are part of the interface. A wrong flag value raises ``UsageError``. A file is
written whole or not at all: a temporary file beside it, then a rename.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import UsageError
from ..literals import Provider, parse_provider

if TYPE_CHECKING:
    from ..backends.base import Backend

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_INTERNAL = 3
EXIT_INTERRUPTED = 130


def key_values(flag: str, items: Sequence[str]) -> dict[str, str]:
    """``KEY=VALUE`` flag values (``--input``, ``--var``) as a mapping; the last one wins.

    Raises:
        UsageError: an item without ``=`` or without a key.
    """
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"{flag} {item!r}: expected KEY=VALUE")
        out[key] = value
    return out


def provider_flag(value: str | None) -> Provider | None:
    """A ``--provider``/``--to`` value: None (not given: detect it) or the provider."""
    return None if value is None else parse_provider(value)


def count(number: int, noun: str) -> str:
    """``1 job``, ``2 jobs``: a number and its noun, plural when it is not one."""
    return f"{number} {noun}{'' if number == 1 else 's'}"


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` (its folders created) so that a reader sees the old file or
    the new one, never a part of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_or_none(path: Path) -> str | None:
    """The text of ``path``, or None when it cannot be read as UTF-8 text."""
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def to_stderr(line: str) -> None:
    print(line, file=sys.stderr)


def open_from_flags(args: argparse.Namespace) -> list[tuple[Provider, Backend]]:
    """The backends that ``--provider``, ``--repo``/``--project``, the URL flags and
    ``--budget`` name; waits are announced on stderr, and with ``--debug`` every request."""
    from ..backends.remote import open_backends

    return open_backends(
        args.provider,
        repo=args.repo,
        project=args.project,
        github_url=args.github_url,
        gitlab_url=args.gitlab_url,
        budget=args.budget,
        on_wait=to_stderr,
        trace=to_stderr if args.debug else None,
    )
