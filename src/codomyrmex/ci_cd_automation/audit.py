"""``cicd audit``: how much of a set of native CI files converts, and what stops the rest.

Nothing is written, and everything goes in sorted path order. See docs/importing.md.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .errors import PipelineImportError
from .literals import Provider
from .model import yaml_reader
from .model.yaml_reader import YamlReadError
from .translators import fidelity_losses
from .translators.importing import detect_provider, import_text

Status = Literal["full", "partial", "failed", "skipped"]
SUFFIXES = (".yml", ".yaml", ".json")
_SKIP_DIRS = frozenset({".git", "node_modules", ".venv", "venv", "__pycache__", ".tox"})
_LOCAL = re.compile(r"^/?[^:]+\.ya?ml$")  # not a URL: remote includes have a scheme


@dataclass(frozen=True)
class FileAudit:
    """The verdict on one file."""

    path: str
    provider: Provider | None
    status: Status
    jobs: int = 0
    notes: int = 0
    losses: dict[str, int] = field(default_factory=dict)  # target -> count
    rules: tuple[str, ...] = ()  # distinct rule ids of notes and losses
    reason: str | None = None  # why failed / skipped

    def as_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "provider": self.provider,
            "status": self.status,
            "jobs": self.jobs,
            "notes": self.notes,
            "losses": dict(self.losses),
            "rules": list(self.rules),
            "reason": self.reason,
        }


@dataclass(frozen=True)
class AuditReport:
    """Every file's verdict and the totals."""

    files: tuple[FileAudit, ...]

    def totals(self) -> dict[str, int]:
        counts = Counter(f.status for f in self.files)
        return {s: counts.get(s, 0) for s in ("full", "partial", "failed", "skipped")}

    def by_provider(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for f in self.files:
            if f.provider is None:
                continue
            row = out.setdefault(f.provider, {"full": 0, "partial": 0, "failed": 0})
            if f.status in row:
                row[f.status] += 1
        return dict(sorted(out.items()))

    def reasons(self, limit: int = 10) -> list[tuple[str, int]]:
        """Rule ids (and failure reasons) ranked by the number of files they touch."""
        counts: Counter[str] = Counter()
        for f in self.files:
            counts.update(f.rules)
            if f.status == "failed" and f.reason:
                counts[f"failed: {_reason_kind(f.reason)}"] += 1
        return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]

    def as_json(self) -> dict[str, Any]:
        return {
            "files": [f.as_json() for f in self.files],
            "totals": self.totals(),
            "providers": self.by_provider(),
            "reasons": [{"reason": r, "files": n} for r, n in self.reasons(limit=50)],
        }

    def format(self) -> str:
        lines = []
        for f in self.files:
            detail = f.reason if f.reason else _detail(f)
            lines.append(f"{f.path}: {f.status} ({f.provider or '-'}): {detail}")
        totals = self.totals()
        audited = sum(totals[s] for s in ("full", "partial", "failed"))
        lines.append("")
        lines.append(
            f"{audited} file(s) audited: "
            + ", ".join(f"{totals[s]} {s} ({_share(totals[s], audited)})" for s in _KINDS)
            + (f"; {totals['skipped']} skipped" if totals["skipped"] else "")
        )
        for provider, row in self.by_provider().items():
            lines.append(f"  {provider}: " + ", ".join(f"{row[s]} {s}" for s in _KINDS))
        reasons = self.reasons()
        if reasons:
            lines.append("most frequent reasons (files):")
            lines.extend(f"  {n:5d}  {r}" for r, n in reasons)
        return "\n".join(lines)


_KINDS = ("full", "partial", "failed")


def _share(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "0%"


def _detail(f: FileAudit) -> str:
    losses = ", ".join(f"{n} {t} loss(es)" for t, n in sorted(f.losses.items()) if n)
    parts = [f"{f.jobs} job(s)", f"{f.notes} import note(s)"] + ([losses] if losses else [])
    return "; ".join(parts)


def _reason_kind(reason: str) -> str:
    """A failure message without its file name and quoted specifics, for ranking."""
    text = re.sub(r'"[^"]*"', '"…"', reason)
    return re.sub(r"\(line \d+, column \d+\)", "", text).strip()


def find_ci_files(roots: Sequence[str | Path]) -> list[Path]:
    """Every YAML/JSON file under ``roots`` (files given directly are kept), sorted."""
    found: set[Path] = set()
    for root in roots:
        root = Path(root)
        if root.is_file():
            found.add(root)
            continue
        if not root.is_dir():
            raise PipelineImportError(str(root), "no such file or directory")
        for path in _walk(root):
            found.add(path)
    return sorted(found)


def _walk(root: Path) -> Iterable[Path]:
    for child in sorted(root.iterdir()):
        if child.is_dir():
            if child.name not in _SKIP_DIRS:
                yield from _walk(child)
        elif child.suffix in SUFFIXES:
            yield child


def audit_paths(roots: Sequence[str | Path]) -> AuditReport:
    """Audit every CI file under ``roots``."""
    files = find_ci_files(roots)
    texts: dict[Path, str] = {}
    verdicts: list[FileAudit] = []
    for path in files:
        try:
            texts[path] = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            verdicts.append(FileAudit(str(path), None, "skipped", reason=f"unreadable: {exc}"))
    included = _included_by_others(texts)
    for path, text in texts.items():
        if path in included:
            verdicts.append(
                FileAudit(
                    str(path),
                    "gitlab",
                    "skipped",
                    reason=f"included by {included[path]}; audited as part of it",
                )
            )
            continue
        verdicts.append(audit_text(text, str(path), path=path))
    return AuditReport(tuple(sorted(verdicts, key=lambda f: f.path)))


def audit_text(text: str, name: str, *, path: Path | None = None) -> FileAudit:
    """The verdict on one file's text."""
    try:
        provider = detect_provider(text, name)
    except PipelineImportError as exc:
        return FileAudit(name, None, "skipped", reason=str(exc).split(": ", 1)[-1])
    try:
        imported = import_text(text, name, provider, path=path)
    except PipelineImportError as exc:
        message = str(exc)
        reason = message[len(name) + 2 :] if message.startswith(f"{name}: ") else message
        return FileAudit(name, provider, "failed", reason=reason)
    report = fidelity_losses(imported.pipeline, "all")
    losses = Counter(loss.target for loss in report)
    rules = sorted({n.rule for n in imported.notes} | {loss.rule for loss in report})
    status: Status = "full" if not imported.notes and not report else "partial"
    jobs = sum(len(stage.jobs) for stage in imported.pipeline.stages)
    return FileAudit(
        name,
        provider,
        status,
        jobs,
        len(imported.notes),
        dict(sorted(losses.items())),
        tuple(rules),
    )


def _included_by_others(texts: dict[Path, str]) -> dict[Path, str]:
    """Files a GitLab file in the set includes locally (by a path relative to a root above)."""
    by_resolved = {p.resolve(): p for p in texts}
    out: dict[Path, str] = {}
    for path, text in texts.items():
        if "include" not in text:
            continue
        for ref in _include_refs(text):
            for root in (path.parent, *path.parent.parents):
                target = (root / ref.lstrip("/")).resolve()
                if target in by_resolved and by_resolved[target] != path:
                    out.setdefault(by_resolved[target], str(path))
                    break
    return out


def _include_refs(text: str) -> list[str]:
    """Local include paths a GitLab file names (GitLab's forms: a string, a list, ``local:``)."""
    try:
        docs, _ = yaml_reader.load(text, "<include>", allow_duplicate_keys=True, positions=False)
    except YamlReadError:  # the file's own audit reports its YAML problem
        return []
    doc = docs[-1] if docs else None
    include = doc.get("include") if isinstance(doc, dict) else None
    entries = include if isinstance(include, list) else [include]
    refs = []
    for entry in entries:
        ref = entry.get("local") if isinstance(entry, dict) else entry
        if isinstance(ref, str) and _LOCAL.match(ref) and "*" not in ref:
            refs.append(ref)
    return refs
