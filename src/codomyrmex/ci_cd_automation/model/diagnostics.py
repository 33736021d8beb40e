"""Diagnostics: one positioned, rule-tagged message about a pipeline.

A diagnostic is data (a ``Note`` with the hints ``at_key`` and ``offset``); only ``format``
decides how it reads. See docs/model.md (diagnostics).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from .notes import Note, Path, format_path

__all__ = ["Diagnostic", "Path", "format_path", "sorted_diagnostics"]


@dataclass(frozen=True, order=False)
class Diagnostic(Note):
    """One problem found in a pipeline, with where it is and which rule found it."""

    hints: tuple[str, ...] = field(default=())
    at_key: bool = False
    offset: int | None = None

    def format(self) -> str:
        """The one-line form printed by ``cicd validate``."""
        text = self.message
        for hint in self.hints:
            text += f"; {hint}"
        return f"{self.location()}: {text} [{self.rule}]"

    def location(self) -> str:
        if self.file is not None and self.line is not None:
            return f"{self.file}:{self.line}:{self.column or 1}"
        if self.file is not None:
            where = format_path(self.path) if self.path else ""
            return f"{self.file}: {where}" if where else self.file
        return format_path(self.path)

    def sort_key(self) -> tuple[str, int, int, str, str]:
        return (
            self.file or "",
            self.line or 0,
            self.column or 0,
            format_path(self.path),
            self.rule,
        )


def sorted_diagnostics(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    """Sort by position and drop exact repeats, so output is deterministic."""
    unique = {(d.sort_key(), d.message): d for d in diagnostics}
    return [unique[k] for k in sorted(unique)]
