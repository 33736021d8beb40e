"""The one way in for native CI files: provider detection, import, notes with positions.

Whichever provider wrote the file, the result is a validated ``Pipeline`` plus positioned
``ImportNote`` objects, or one ``PipelineImportError``; no reader, YAML or pydantic exception
escapes. ``dump_neutral`` writes the pipeline file. See docs/importing.md.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any

from ..errors import PipelineImportError
from ..literals import PROVIDERS, Provider
from ..model import yaml_reader
from ..model.loader import pipeline_from_data
from ..model.notes import Note, format_path
from ..model.notes import Path as NotePath
from ..model.pipeline import Pipeline
from ..model.yaml_reader import YamlReadError
from .reader import ReaderResult
from .yamlout import Commented, dump_yaml

# Top-level keys only a GitLab CI file has (a GitHub workflow has none of them).
_GITLAB_KEYS = frozenset({"stages", "include", "workflow", "default", "variables", "image"})
_GITLAB_JOB_KEYS = frozenset({"script", "extends", "trigger", "stage", "before_script"})
_GITHUB_JOBS = re.compile(r"^jobs:[ \t]*(#.*)?$", re.M)
_GITHUB_ON = re.compile(r"""^(on|"on"|'on'):""", re.M)
_GITLAB_TOP = re.compile(r"^(stages|include|workflow|default):|^[ \t]+script:", re.M)
_HATCH_COMMENT = {
    "github": "kept verbatim for GitHub: no neutral form (see the notes above)",
    "gitlab": "kept verbatim for GitLab: no neutral form (see the notes above)",
}


@dataclass(frozen=True, kw_only=True)
class ImportNote(Note):
    """One native construct that did not carry over exactly into the neutral model.

    ``path`` is the native path (``("jobs", "build", "steps", 2, "if")``), ``where`` shows it
    as ``jobs.build.steps[2].if``; ``file``, ``line`` and ``column`` are set where known.
    """

    provider: Provider

    @property
    def where(self) -> str:
        return format_path(self.path, root="(file)")

    def format(self) -> str:
        """``FILE:LINE:COL: import: PATH: MESSAGE [RULE]`` (position when known)."""
        where = f"{self.file}:{self.line}:{self.column}" if self.line else self.file
        return f"{where}: import: {self.where}: {self.message} [{self.rule}]"


@dataclass(frozen=True)
class Imported:
    """A native file read into the neutral model: the pipeline, its data and the notes."""

    provider: Provider
    file: str
    pipeline: Pipeline
    data: dict[str, Any]
    notes: tuple[ImportNote, ...] = field(default_factory=tuple)


def import_pipeline(
    path_or_text: str | Path,
    provider: Provider | None = None,
    *,
    base_dir: str | Path | None = None,
) -> Imported:
    """Read a GitHub Actions workflow or a ``.gitlab-ci.yml`` into the neutral model.

    Args:
        path_or_text: a path to the native file, or its text (a string with a line break,
            or one that names no existing file).
        provider: ``"github"`` or ``"gitlab"``; detected from the file name or the content
            when ``None``.
        base_dir: the repository root GitLab local includes are read from (default: for a
            file at ``ROOT/.gitlab-ci.yml`` or ``ROOT/.gitlab/...``, that ROOT; else the
            file's folder).

    Returns:
        ``Imported`` with the validated ``Pipeline`` and one ``ImportNote`` per construct
        kept in an escape hatch or changed.

    Raises:
        PipelineImportError: (a ``ValueError``) the file cannot be read or has no neutral
            form; the message is one line, starting with the file name.
    """
    text, name, path = _read(path_or_text)
    return import_text(text, name, provider, path=path, base_dir=base_dir)


def import_text(
    text: str,
    name: str,
    provider: Provider | None = None,
    *,
    path: Path | None = None,
    base_dir: str | Path | None = None,
    include_resolver: Callable[[str], str | None] | None = None,
) -> Imported:
    """``import_pipeline`` on text already read; ``name`` is used in messages."""
    from .github_import import import_github
    from .gitlab_import import import_gitlab

    if provider is None:
        provider = detect_provider(text, name)
    elif provider not in PROVIDERS:
        raise PipelineImportError(name, f'unknown provider "{provider}": use github or gitlab')
    # Both readers raise PipelineImportError (file, line, column) for what cannot be read.
    result: ReaderResult
    if provider == "github":
        result = import_github(text, name)
    else:
        root = Path(base_dir) if base_dir is not None else _gitlab_root(path)
        result = import_gitlab(text, name, base_dir=root, include_resolver=include_resolver)
    # Both readers validate what they built and hand the model over; never validated twice.
    pipeline = result.pipeline if result.pipeline is not None else pipeline_from_data(result.data)
    positions = _Positions(text, result.tree)
    renames = {n.renamed_to: _native_name(n.path) for n in result.notes if _job_rename(n)}
    notes = sorted(
        (_note(name, provider, note, positions, result.data, renames) for note in result.notes),
        key=lambda n: (n.line is None, n.line or 0, n.column or 0, n.where),
    )
    return Imported(provider, name, pipeline, result.data, tuple(notes))


def detect_provider(text: str, name: str = "<text>") -> Provider:
    """``github`` or ``gitlab`` for a native file, from its name, else from its shape.

    Raises:
        PipelineImportError: neither shape fits (say which with ``--provider``).
    """
    pure = PurePath(name)
    if ".github" in pure.parts and "workflows" in pure.parts:
        return "github"
    if pure.name.endswith(".gitlab-ci.yml") or ".gitlab" in pure.parts:
        return "gitlab"
    # Most files tell by their top-level keys; reading the whole document is the fallback.
    if _GITHUB_JOBS.search(text) and _GITHUB_ON.search(text):
        return "github"
    if not _GITHUB_JOBS.search(text) and _GITLAB_TOP.search(text):
        return "gitlab"
    doc = _top_level(text, name)
    if isinstance(doc, dict):
        jobs = doc.get("jobs")
        if isinstance(jobs, dict) and ("on" in doc or True in doc):
            return "github"
        if _GITLAB_KEYS & set(doc) or any(
            isinstance(v, dict) and _GITLAB_JOB_KEYS & set(v) for v in doc.values()
        ):
            return "gitlab"
        if isinstance(jobs, dict):
            return "github"
    raise PipelineImportError(
        name,
        "not recognisable as a GitHub Actions workflow or a GitLab CI file; "
        "name the provider (--provider github|gitlab)",
    )


def dump_neutral(imported: Imported) -> str:
    """The neutral pipeline file text: notes in the header, escape hatches commented."""
    lines = [
        f"Imported by codomyrmex-ci-cd from {imported.file} ({imported.provider}).",
        "Check it with `cicd validate`; generate native files with `cicd generate`.",
    ]
    if imported.notes:
        lines.append(f"{len(imported.notes)} construct(s) did not carry over exactly:")
        lines.extend(f"  {_short(n)}" for n in imported.notes)
    else:
        lines.append("Every construct carried over exactly.")
    return dump_yaml(_commented(imported.data), "\n".join(lines))


def _short(note: ImportNote) -> str:
    where = f"line {note.line}: " if note.line else ""
    return f"{where}{note.where}: {note.message} [{note.rule}]"


def _commented(node: Any) -> Any:
    """Wrap every non-empty escape hatch with an end-of-line comment saying what it is."""
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key in _HATCH_COMMENT and isinstance(value, dict) and value:
                out[key] = Commented(value, _HATCH_COMMENT[key])
            else:
                out[key] = _commented(value)
        return out
    if isinstance(node, list):
        return [_commented(v) for v in node]
    return node


# --- reading ------------------------------------------------------------------------------


def _read(path_or_text: str | Path) -> tuple[str, str, Path | None]:
    """(text, display name, path or None) for a path or a text."""
    if isinstance(path_or_text, str) and ("\n" in path_or_text or not path_or_text.strip()):
        return path_or_text, "<text>", None
    path = Path(path_or_text)
    try:
        is_file = path.is_file()
    except OSError:  # a name too long for the file system is text, not a path
        is_file = False
    if not is_file:
        if isinstance(path_or_text, Path) or path.suffix in (".yml", ".yaml", ".json"):
            reason = "is a directory" if path.is_dir() else "no such file"
            raise PipelineImportError(str(path), reason)
        return str(path_or_text), "<text>", None
    try:
        return path.read_text(encoding="utf-8"), str(path), path
    except UnicodeDecodeError:
        raise PipelineImportError(str(path), "not UTF-8 text") from None
    except OSError as exc:
        raise PipelineImportError(str(path), str(exc.strerror or exc)) from None


def _gitlab_root(path: Path | None) -> Path | None:
    """The repository root for local includes: above ``.gitlab/``, else the file's folder."""
    if path is None:
        return None
    folder = path.resolve().parent
    for parent in (folder, *folder.parents):
        if parent.name == ".gitlab":
            return parent.parent
    return folder


def _top_level(text: str, name: str) -> Any:
    try:
        docs, _ = yaml_reader.load(text, name, allow_duplicate_keys=True)
    except YamlReadError as exc:
        raise exc.import_error() from None
    return next((d for d in reversed(docs) if isinstance(d, dict)), docs[0] if docs else None)


# --- positions ----------------------------------------------------------------------------


class _Positions:
    """Line and column of native paths in the original text (parsed on first use)."""

    def __init__(self, text: str, tree: Any = None) -> None:
        self._text = text
        self._tree: Any = tree  # the reader's own tree, when it kept one
        self._parsed = tree is not None

    def find(self, keys: tuple[Any, ...]) -> tuple[int, int] | None:
        if not self._parsed:
            self._parsed = True
            self._tree = _rt_tree(self._text)
        node, found = self._tree, None
        for key in keys:
            lc = getattr(node, "lc", None)
            if isinstance(node, dict) and key in node:
                if lc is not None:
                    with contextlib.suppress(KeyError, TypeError, AttributeError):
                        found = lc.key(key)
                node = node[key]
            elif isinstance(node, list) and isinstance(key, int) and 0 <= key < len(node):
                if lc is not None:
                    with contextlib.suppress(KeyError, TypeError, AttributeError, IndexError):
                        found = lc.item(key)
                node = node[key]
            else:
                break
        return (found[0] + 1, found[1] + 1) if found else None


def _rt_tree(text: str) -> Any:
    try:
        docs, _ = yaml_reader.load(text, "<text>", allow_duplicate_keys=True)
    except YamlReadError:  # positions are best effort; the reader accepted the text
        return None
    for doc in reversed(docs):  # a GitLab `spec:` header comes first
        if isinstance(doc, dict):
            return doc
    return None


def _note(
    file: str,
    provider: Provider,
    note: Note,
    positions: _Positions,
    data: dict[str, Any],
    renames: dict[str | None, str],
) -> ImportNote:
    """A reader's note as an ``ImportNote``: native job names, and the line and column of the
    native construct (the reader's own position when it has one for this file)."""
    keys = note.path
    if keys[:1] == ("stages",) and len(keys) >= 4 and keys[2] == "jobs":
        # A neutral model path: name the job as the user knows it (its native name).
        keys = _model_to_native(keys, data)
        if keys and keys[0] in renames:
            keys = (renames[keys[0]], *keys[1:])
    line, column = note.line, note.column
    if line is None or note.file != file:
        found = positions.find(keys)
        line, column = found if found else (None, None)
    return ImportNote(
        note.message,
        note.rule,
        keys,
        file=file,
        line=line,
        column=column,
        renamed_to=note.renamed_to,
        kept_verbatim=note.kept_verbatim,
        provider=provider,
    )


def _job_rename(note: Note) -> bool:
    """A note that renamed a job (not a stage or a matrix axis)."""
    return note.renamed_to is not None and note.rule in ("job-rename", "job-renamed")


def _native_name(path: NotePath) -> str:
    return str(path[-1]) if path else ""


def _model_to_native(keys: NotePath, data: dict[str, Any]) -> NotePath:
    try:
        job = data["stages"][keys[1]]["jobs"][keys[3]]
    except (KeyError, IndexError, TypeError):
        return keys
    name = job.get("name") if isinstance(job, dict) else None
    return (name, *keys[4:]) if name else keys
