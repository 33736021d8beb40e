"""Notes: the one shape of a remark about one place of a pipeline or a native file.

``Diagnostic``, ``Loss`` and ``ImportNote`` are notes with a little more.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["Note", "Path", "format_path"]

Path = tuple[str | int, ...]


def format_path(path: Iterable[str | int], *, root: str = "<root>") -> str:
    """A path the way users write it: ``stages[1].jobs[0].needs``; ``root`` for ``()``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out or root


@dataclass(frozen=True)
class Note:
    """One remark about one place: where, what, which rule, and what became of it."""

    message: str
    rule: str
    path: Path = ()
    file: str | None = None
    line: int | None = None
    column: int | None = None
    renamed_to: str | None = None
    kept_verbatim: bool = False

    @property
    def where(self) -> str:
        """The path as users write it (``jobs.build.steps[2].if``)."""
        return format_path(self.path)
