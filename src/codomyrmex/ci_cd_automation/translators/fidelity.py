"""The fidelity report: what a translation could not carry over exactly.

A ``Loss`` is not an error, except the limits a target enforces when it reads the file
(``matrix-size``, ``stage-order``). See docs/generators.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..model.notes import Note, Path, format_path
from ..model.pipeline import Pipeline
from ..model.source import SourceMap


@dataclass(frozen=True, kw_only=True)
class Loss(Note):
    """One construct that did not carry over exactly to ``target`` (a note on the neutral
    pipeline, its path a model path)."""

    target: str

    def format(self, source: SourceMap | None = None) -> str:
        """``FILE:LINE:COL: target: path: message [rule]`` (position when known)."""
        where = format_path(self.path)
        prefix = ""
        if source is not None:
            pos = source.position(self.path)
            prefix = f"{source.file}:{pos[0]}:{pos[1]}: " if pos else f"{source.file}: "
        return f"{prefix}{self.target}: {where}: {self.message} [{self.rule}]"


@dataclass(frozen=True)
class Rendering:
    """Generated files (relative path -> text) and the losses of the translation."""

    files: dict[str, str] = field(default_factory=dict)
    losses: tuple[Loss, ...] = ()

    def merged(self, other: Rendering) -> Rendering:
        return Rendering({**self.files, **other.files}, self.losses + other.losses)


class LossLog:
    """Collects losses while a translator walks a pipeline, without duplicates."""

    def __init__(self, target: str) -> None:
        self.target = target
        self._items: dict[tuple[Path, str], Loss] = {}

    def add(self, path: Path, message: str, rule: str) -> None:
        self._items.setdefault((path, rule), Loss(message, rule, path, target=self.target))

    def items(self) -> tuple[Loss, ...]:
        return tuple(self._items.values())


def report_other_hatches(pipeline: Pipeline, hatch: str, target: str, losses: LossLog) -> None:
    """One loss per non-empty escape hatch of the other provider (the pipeline's, each job's).

    What such a hatch holds (a job ``if:`` or ``rules:`` kept verbatim on import, a display
    name) is not applied on ``target``; a condition in it guards nothing there. Step hatches
    are reported by the translator that walks the steps.
    """
    spots: list[tuple[Path, dict[str, object]]] = [
        (("config", hatch), getattr(pipeline.config, hatch))
    ]
    spots += [
        (("stages", si, "jobs", ji, hatch), getattr(job, hatch))
        for si, ji, _stage, job in pipeline.iter_jobs()
    ]
    for path, settings in spots:
        if settings:
            keys = ", ".join(sorted(settings))
            losses.add(
                path,
                f"the {hatch}: escape hatch ({keys}) is for that provider only; {target} runs "
                "without it (a condition in it guards nothing here)",
                f"{hatch}-only",
            )
