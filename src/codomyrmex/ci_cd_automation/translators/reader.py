"""What a native-file reader returns: one contract for the GitHub and the GitLab importer.

Both readers take the file's text and name and return a ``ReaderResult``: the neutral pipeline
file data, the validated ``Pipeline``, one ``Note`` per construct that did not carry over
exactly (native paths), and ruamel's round-trip tree for positions. What cannot be read is a
``PipelineImportError`` naming the file (with line and column where there is one); no other
exception escapes a reader.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..model.notes import Note
from ..model.pipeline import Pipeline

__all__ = ["ReaderResult"]


@dataclass
class ReaderResult:
    """Neutral pipeline file data (what ``pipeline_from_data`` reads) and the import notes."""

    data: dict[str, Any]
    notes: list[Note] = field(default_factory=list)
    tree: Any = None  # ruamel's round-trip tree of the file (line/column of nodes)
    pipeline: Pipeline | None = None  # the validated model of ``data``
