"""What a native-file reader returns: one contract for the GitHub and the GitLab importer.

Only ``PipelineImportError`` escapes a reader.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..model.notes import Note
from ..model.notes import Path as NotePath
from ..model.pipeline import Pipeline

__all__ = ["NoteLog", "ReaderResult"]


class NoteLog:
    """The notes a reader makes, in order; with ``unique``, one per path and rule (the first).

    ``add`` is the callback the reader's parts share; ``keep`` drops the notes a rebuild
    makes again.
    """

    def __init__(self, *, unique: bool = False) -> None:
        self.unique = unique
        self._notes: list[Note] = []
        self._seen: set[tuple[NotePath, str]] = set()

    def add(
        self,
        path: NotePath,
        message: str,
        rule: str,
        *,
        renamed_to: str | None = None,
        kept_verbatim: bool = False,
    ) -> None:
        """Note ``message`` about ``path`` under ``rule``."""
        self.append(Note(message, rule, path, renamed_to=renamed_to, kept_verbatim=kept_verbatim))

    def append(self, note: Note) -> None:
        """Keep a note already made (one that knows its own position, say)."""
        if self.unique:
            if (note.path, note.rule) in self._seen:
                return
            self._seen.add((note.path, note.rule))
        self._notes.append(note)

    def keep(self, wanted: Callable[[Note], bool]) -> None:
        """Drop every note but the ``wanted`` ones."""
        self._notes = [n for n in self._notes if wanted(n)]
        self._seen = {(n.path, n.rule) for n in self._notes}

    def items(self) -> list[Note]:
        return list(self._notes)


@dataclass
class ReaderResult:
    """Neutral pipeline file data (what ``pipeline_from_data`` reads) and the import notes."""

    data: dict[str, Any]
    notes: list[Note] = field(default_factory=list)
    tree: Any = None  # ruamel's round-trip tree of the file (line/column of nodes)
    pipeline: Pipeline | None = None  # the validated model of ``data``
