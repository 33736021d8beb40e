"""Notes: what the package says about one place of a pipeline or a native file.

What this module owns: the one shape shared by every remark the package makes about a place
in a file, and the one way its path is written. A ``Note`` has the place (``path``, a tuple
of keys and list indices, and, once looked up, ``file``, ``line`` and ``column``), the words
(``message``) and the stable rule id (``rule``), plus two facts that callers read instead of
parsing the words: ``renamed_to`` (a name the reader changed, and to what) and
``kept_verbatim`` (the construct is kept unchanged in an escape hatch for its own provider).
Validation diagnostics (``model.diagnostics.Diagnostic``), fidelity losses
(``translators.fidelity.Loss``) and import notes (``translators.importing.ImportNote``) are
notes with a little more.
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
