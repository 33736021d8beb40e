"""What a native-file reader returns: one contract for the GitHub and the GitLab importer.

Only ``PipelineImportError`` escapes a reader.
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
