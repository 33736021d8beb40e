"""What both providers' checkers share: a ``Difference``, the semantic form's comparison, and
the small normalisations of text and graphs they both apply.

A provider's semantic form is a dictionary with the keys ``jobs`` (a set of names), ``needs``
(each job's transitive predecessors), ``scripts`` (GitLab: lines; GitHub: steps), ``matrix``
(a job's combinations), ``conditions`` (a job's outcome per simulated event) and
``triggers``; ``compare`` turns two forms into the list of differences, empty when they agree.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Difference:
    """One semantic difference: where (``jobs.<name>.scripts``) and what differs."""

    path: str
    what: str

    def __str__(self) -> str:
        return f"{self.path}: {self.what}"


def renames_from_notes(
    notes: Iterable[Any], rules: tuple[str, ...] = ("job-rename", "job-renamed")
) -> dict[str, str]:
    """Original name -> imported name, from the importers' rename notes (jobs by default;
    ``rules=("matrix-axis-renamed",)`` for matrix axes)."""
    return {
        str(note.path[-1]): note.renamed_to
        for note in notes
        if note.rule in rules and note.renamed_to is not None and note.path
    }


class Unparsable(Exception):
    """An expression the simulation cannot read; its outcome is reported, not guessed."""


def canon(value: Any) -> str:
    """One text per value, whatever the order of its keys: to compare and sort values."""
    return json.dumps(value, sort_keys=True, default=str)


def closure(graph: Mapping[str, set[str]]) -> dict[str, frozenset[str]]:
    """Every job's transitive predecessors (cycles end the walk, they do not loop)."""
    out: dict[str, frozenset[str]] = {}

    def walk(job: str, seen: frozenset[str]) -> frozenset[str]:
        if job in out:
            return out[job]
        acc: set[str] = set()
        for dep in graph.get(job, ()):
            acc.add(dep)
            if dep not in seen:
                acc |= walk(dep, seen | {dep})
        out[job] = frozenset(acc)
        return out[job]

    for job in graph:
        walk(job, frozenset({job}))
    return out


def script_lines(entries: Iterable[Any]) -> list[str]:
    """The non-blank lines of script entries, stripped: layout does not count."""
    out: list[str] = []
    for entry in entries:
        for line in str(entry).split("\n"):
            if line.strip():
                out.append(line.strip())
    return out


def _short(value: Any, limit: int = 160) -> str:
    text = canon(sorted(value, key=canon) if isinstance(value, set | frozenset) else value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _script_diff(path: str, a: list[str], b: list[str]) -> list[Difference]:
    if a == b:
        return []
    i = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
    first = a[i] if i < len(a) else "<end>"
    second = b[i] if i < len(b) else "<end>"
    return [
        Difference(
            path,
            f"{len(a)} vs {len(b)} lines; first difference at line {i + 1}: "
            f"original {first[:100]!r}, generated {second[:100]!r}",
        )
    ]


def compare(a: dict[str, Any], b: dict[str, Any]) -> list[Difference]:
    """The differences between an original's semantic form ``a`` and a generated one ``b``."""
    out: list[Difference] = []
    if a["jobs"] != b["jobs"]:
        if a["jobs"] - b["jobs"]:
            out.append(Difference("jobs", f"missing {_short(a['jobs'] - b['jobs'])}"))
        if b["jobs"] - a["jobs"]:
            out.append(Difference("jobs", f"added {_short(b['jobs'] - a['jobs'])}"))
    if a["triggers"] != b["triggers"]:
        ta, tb = a["triggers"], b["triggers"]
        keys = [k for k in sorted(set(ta) | set(tb)) if ta.get(k) != tb.get(k)]
        if all(isinstance(v, str) for v in ta.values()):
            # GitLab: whether a pipeline is created, per simulated event.
            what = "; ".join(f"{k}: original {ta.get(k)}, generated {tb.get(k)}" for k in keys)
            out.append(Difference("triggers", what))
        else:
            out += [
                Difference(
                    f"triggers.{k}", f"original {_short(ta.get(k))}, generated {_short(tb.get(k))}"
                )
                for k in keys
            ]
    for job in sorted(a["jobs"] & b["jobs"]):
        if a["needs"][job] != b["needs"][job]:
            missing, added = a["needs"][job] - b["needs"][job], b["needs"][job] - a["needs"][job]
            what = []
            if missing:
                what.append(f"no longer waits for {_short(missing)}")
            if added:
                what.append(f"now also waits for {_short(added)}")
            out.append(Difference(f"jobs.{job}.needs", "; ".join(what)))
        out += _script_or_steps(job, a["scripts"][job], b["scripts"][job])
        if a["matrix"][job] != b["matrix"][job]:
            out.append(
                Difference(
                    f"jobs.{job}.matrix",
                    f"original {_short(a['matrix'][job])}, generated {_short(b['matrix'][job])}",
                )
            )
        ca, cb = a["conditions"][job], b["conditions"][job]
        if all(isinstance(t, str) for t in a["triggers"].values()):
            # GitLab: where one side creates no pipeline, the trigger difference says it all.
            same = {e for e in ca if a["triggers"].get(e) == b["triggers"].get(e)}
            ca = {e: v for e, v in ca.items() if e in same}
            cb = {e: v for e, v in cb.items() if e in same}
        if ca != cb:
            out.append(
                Difference(
                    f"jobs.{job}.condition",
                    "; ".join(
                        f"{k}: original {ca.get(k)}, generated {cb.get(k)}"
                        for k in sorted(set(ca) | set(cb))
                        if ca.get(k) != cb.get(k)
                    )[:400],
                )
            )
    return out


def _script_or_steps(job: str, a: Any, b: Any) -> list[Difference]:
    if isinstance(a, list) and all(isinstance(x, str) for x in a + b):
        return _script_diff(f"jobs.{job}.scripts", a, b)
    if a == b:
        return []
    out: list[Difference] = []
    if len(a) != len(b):
        out.append(Difference(f"jobs.{job}.steps", f"{len(a)} steps, generated {len(b)}"))
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            for key in sorted(set(x) | set(y)):
                if x.get(key) != y.get(key):
                    out.append(
                        Difference(
                            f"jobs.{job}.steps[{i}].{key}",
                            f"original {_short(x.get(key))}, generated {_short(y.get(key))}",
                        )
                    )
            break  # later steps are shifted by the first difference more often than not
    return out
