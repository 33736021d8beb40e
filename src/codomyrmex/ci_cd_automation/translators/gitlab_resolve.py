"""GitLab CI YAML in, one flat document out: the first pass of the GitLab importer.

Anchors, local ``include``, ``extends``, then ``!reference``, as GitLab reads them and within its
limits; includes that cannot be read offline stay in ``hatch["include"]``. Every failure is a
``PipelineImportError`` naming the file. See docs/importing.md (GitLab CI files).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode

from ..errors import PipelineImportError
from ..model import yaml_reader
from ..model.notes import Note
from ..model.notes import Path as NotePath
from ..model.yaml_reader import YamlReadError, plain_scalar
from .merge import deep_merge
from .reader import NoteLog

MAX_INCLUDE_DEPTH = 100  # GitLab's limit on nested includes ("include", limits)
MAX_EXTENDS_DEPTH = 11  # GitLab: "up to eleven levels of inheritance"
MAX_REFERENCE_DEPTH = 10  # GitLab: "!reference ... up to ten levels of nesting"


@dataclass(frozen=True)
class Reference:
    """An unresolved ``!reference [job, key, ...]``."""

    path: tuple[str, ...]


# --- reading YAML ---------------------------------------------------------------------


def parse_document(
    text: str, file: str, notes: NoteLog | None = None, trees: list[Any] | None = None
) -> Any:
    """The configuration document of a GitLab CI file as plain data (``Reference`` for
    ``!reference``), duplicate keys resolved as GitLab does; a ``spec:`` header document is
    folded in under ``spec``. ``trees`` receives the round-trip tree, for positions."""
    try:
        yaml, nodes = yaml_reader.compose(text, file)
        for node in nodes:
            _last_key_wins(node, file, notes if notes is not None else NoteLog(), set())
        docs = [yaml_reader.construct(yaml, node, file) for node in nodes]
    except YamlReadError as exc:
        raise exc.import_error() from None
    if trees is not None and docs:
        trees.append(docs[-1])
    if len(docs) == 2 and isinstance(docs[0], dict) and set(docs[0]) == {"spec"}:
        # A `spec:` header document, then the configuration (GitLab "spec:inputs").
        body = _plain(docs[1], file, 0)
        if isinstance(body, dict):
            body["spec"] = _plain(docs[0]["spec"], file, 0)
        return body
    if len(docs) > 1:
        raise PipelineImportError(file, f"expected one YAML document, found {len(docs)}")
    return _plain(docs[0], file, 0) if docs else None


_MERGE_TAG = "tag:yaml.org,2002:merge"


def _last_key_wins(node: Any, file: str, notes: NoteLog, seen: set[int]) -> None:
    """Read duplicate keys as GitLab's YAML parser (Ruby Psych) does: the last one wins.

    ruamel keeps the first and refuses a second ``<<`` merge key outright. Several ``<<``
    keys become one ``<<: [later, ..., earlier]`` list, so later merges win as in Psych.
    """
    if id(node) in seen:
        return
    seen.add(id(node))
    if isinstance(node, MappingNode):
        merges = [(k, v) for k, v in node.value if k.tag == _MERGE_TAG]
        if len(merges) > 1:
            values: list[Any] = []
            for _, value in reversed(merges):
                values.extend(value.value if isinstance(value, SequenceNode) else [value])
            key, first = merges[0]
            merged = SequenceNode(
                "tag:yaml.org,2002:seq",
                values,
                start_mark=first.start_mark,
                end_mark=first.end_mark,
                flow_style=True,
            )
            others = [(k, v) for k, v in node.value if k.tag != _MERGE_TAG]
            node.value = [(key, merged), *others]
            line, column = key.start_mark.line + 1, key.start_mark.column + 1
            message = "several << merge keys; the later ones win, as in GitLab"
            notes.append(Note(message, "duplicate-key", (), file, line, column))
        plain = [
            (i, k.value)
            for i, (k, _) in enumerate(node.value)
            if isinstance(k, ScalarNode) and k.tag != _MERGE_TAG
        ]
        last = {key: i for i, key in plain}
        if len(last) < len(plain):
            kept = []
            for i, (k, v) in enumerate(node.value):
                if isinstance(k, ScalarNode) and k.tag != _MERGE_TAG and last[k.value] != i:
                    line, column = k.start_mark.line + 1, k.start_mark.column + 1
                    message = f'duplicate key "{k.value}"; the last one wins, as in GitLab'
                    notes.append(
                        Note(message, "duplicate-key", (str(k.value),), file, line, column)
                    )
                    continue
                kept.append((k, v))
            node.value = kept
        for _, value in node.value:
            _last_key_wins(value, file, notes, seen)
    elif isinstance(node, SequenceNode):
        for value in node.value:
            _last_key_wins(value, file, notes, seen)


def _plain(node: Any, file: str, depth: int) -> Any:
    """ruamel's round-trip tree as plain data; ``!reference`` sequences become references."""
    if depth > 200:
        raise PipelineImportError(file, "YAML nesting is too deep")
    tag = getattr(getattr(node, "tag", None), "value", None)
    if isinstance(node, list) and tag == "!reference":
        if not all(isinstance(p, str) for p in node) or not node:
            raise PipelineImportError(file, "!reference needs a list of key names")
        return Reference(tuple(str(p) for p in node))
    if isinstance(node, dict):
        return {str(k): _plain(v, file, depth + 1) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v, file, depth + 1) for v in node]
    value = plain_scalar(node)
    return value if value is None or isinstance(value, str | int | float) else str(value)


# --- resolving ------------------------------------------------------------------------


@dataclass
class Resolver:
    """Resolves one file's includes, ``extends`` and ``!reference`` tags.

    ``notes`` and ``hatch`` are shared with the importer: what cannot be read offline is kept
    for GitLab in ``hatch`` (``include``) and said in ``notes``. ``missing_parents`` names, per
    job, the ``extends`` parents that were not found while unread includes exist.
    """

    file: str
    base_dir: Path | None
    include_resolver: Callable[[str], str | None] | None = None
    notes: NoteLog = field(default_factory=NoteLog)
    hatch: dict[str, Any] = field(default_factory=dict)
    missing_parents: dict[str, list[str]] = field(default_factory=dict)
    trees: list[Any] = field(default_factory=list)  # the main file's round-trip tree

    def note(self, path: NotePath, message: str, rule: str, *, kept_verbatim: bool = False) -> None:
        self.notes.add(path, message, rule, kept_verbatim=kept_verbatim)

    def fail(self, reason: str) -> PipelineImportError:
        return PipelineImportError(self.file, reason)

    def resolve(self, text: str) -> dict[str, Any]:
        """The file's document with includes, ``extends`` and ``!reference`` resolved."""
        doc = parse_document(text, self.file, self.notes, self.trees)
        if doc is None:
            raise self.fail("the file is empty")
        if not isinstance(doc, dict):
            raise self.fail("a GitLab CI file is a mapping of keywords and jobs")
        doc = self.includes(doc, 0, ())
        doc = self.extend(doc)
        resolved: dict[str, Any] = self.references(doc, doc)
        return resolved

    def includes(self, doc: dict[str, Any], depth: int, seen: tuple[str, ...]) -> dict[str, Any]:
        spec = doc.pop("include", None)
        if spec is None:
            return doc
        if depth > MAX_INCLUDE_DEPTH:
            raise self.fail(f"includes nest deeper than {MAX_INCLUDE_DEPTH} levels")
        entries = spec if isinstance(spec, list) else [spec]
        merged: dict[str, Any] = {}
        for index, entry in enumerate(entries):
            where = ("include", index) if isinstance(spec, list) else ("include",)
            local = None
            if isinstance(entry, str) and "://" not in entry:
                local = entry
            elif isinstance(entry, dict) and set(entry) <= {"local", "rules", "inputs"}:
                local = entry.get("local")
                if "rules" in entry or "inputs" in entry:
                    self.note(where, "include rules and inputs are ignored", "include")
            if isinstance(local, str) and self.include_resolver is not None:
                sub_text = None if is_glob(local) else self.include_resolver(local.lstrip("/"))
                if sub_text is not None:
                    key = local.lstrip("/")
                    if key in seen:
                        raise self.fail(f'include cycle through "{local}"')
                    merged = deep_merge(merged, self._included(sub_text, key, local, depth, seen))
                    continue
                self.note(where, f'include "{local}" kept as is: not found', "include-unresolved")
                self.hatch.setdefault("include", []).append(entry)
                continue
            if not isinstance(local, str) or self.base_dir is None:
                why = (
                    "no base folder was given to resolve it"
                    if isinstance(local, str)
                    else "remote, project, template and component includes cannot be read offline"
                )
                self.note(where, f"include kept as is: {why}", "include-unresolved")
                self.hatch.setdefault("include", []).append(entry)
                continue
            for path in self._local_paths(local):
                key = str(path)
                if key in seen:
                    raise self.fail(f'include cycle through "{local}"')
                try:
                    text = path.read_text(encoding="utf-8")
                except (OSError, UnicodeDecodeError) as exc:
                    raise self.fail(f'cannot read include "{local}": {exc}') from None
                merged = deep_merge(merged, self._included(text, key, local, depth, seen))
        # The including file's own keys win over what it includes (GitLab "include").
        return dict(deep_merge(merged, doc))

    def _included(
        self, text: str, key: str, local: str, depth: int, seen: tuple[str, ...]
    ) -> dict[str, Any]:
        sub = parse_document(text, key, self.notes)
        if sub is None:
            return {}
        if not isinstance(sub, dict):
            raise self.fail(f'include "{local}" is not a mapping')
        return self.includes(sub, depth + 1, (*seen, key))

    def _local_paths(self, local: str) -> list[Path]:
        assert self.base_dir is not None
        rel = local.lstrip("/")
        if is_glob(rel):
            found = sorted(p for p in self.base_dir.glob(rel) if p.is_file())
            if not found:
                raise self.fail(f'include "{local}" matches no file')
            return found
        path = self.base_dir / rel
        if not path.is_file():
            raise self.fail(f'included file "{local}" does not exist')
        return [path]

    # extends and references ----------------------------------------------------------

    def extend(self, doc: dict[str, Any]) -> dict[str, Any]:
        done: dict[str, Any] = {}

        def resolve(name: str, chain: tuple[str, ...]) -> Any:
            if name in done:
                return done[name]
            if name in chain:
                raise self.fail(f"extends cycle: {' -> '.join((*chain, name))}")
            if len(chain) > MAX_EXTENDS_DEPTH:
                raise self.fail(f'extends of "{chain[0]}" nest deeper than {MAX_EXTENDS_DEPTH}')
            job = doc.get(name)
            if not isinstance(job, dict) or "extends" not in job:
                done[name] = job
                return job
            parents = job["extends"]
            parents = parents if isinstance(parents, list) else [parents]
            base: dict[str, Any] = {}
            for parent in parents:
                if isinstance(parent, str) and parent not in doc and "include" in self.hatch:
                    # The parent is probably in an include that cannot be read offline:
                    # GitLab will merge it in, so `extends` stays in the escape hatch.
                    self.missing_parents.setdefault(name, []).append(parent)
                    continue
                if not isinstance(parent, str) or parent not in doc:
                    raise self.fail(f'job "{name}" extends unknown job "{parent}"')
                resolved = resolve(parent, (*chain, name))
                if not isinstance(resolved, dict):
                    raise self.fail(f'job "{name}" extends "{parent}", which is not a mapping')
                base = deep_merge(base, resolved)
            own = {k: v for k, v in job.items() if k != "extends"}
            done[name] = deep_merge(base, own)
            return done[name]

        return {k: resolve(k, ()) if isinstance(v, dict) else v for k, v in doc.items()}

    def references(self, node: Any, doc: dict[str, Any], depth: int = 0) -> Any:
        if isinstance(node, Reference):
            if depth > MAX_REFERENCE_DEPTH:
                raise self.fail(f"!reference nests deeper than {MAX_REFERENCE_DEPTH} levels")
            target: Any = doc
            for part in node.path:
                if not isinstance(target, dict) or part not in target:
                    if "include" in self.hatch and node.path[0] not in doc:
                        # Probably defined in an include that cannot be read offline.
                        self.note(
                            (node.path[0],),
                            f"!reference [{', '.join(node.path)}] names nothing that was read "
                            "(in an unread include?); left out",
                            "reference-unresolved",
                        )
                        return []
                    raise self.fail(f"!reference [{', '.join(node.path)}] names nothing")
                target = target[part]
            return self.references(copy.deepcopy(target), doc, depth + 1)
        if isinstance(node, dict):
            return {k: self.references(v, doc, depth) for k, v in node.items()}
        if isinstance(node, list):
            # A reference to a list inside a list (`rules: [!reference [.r, rules], ...]`)
            # is spliced in: GitLab flattens such nested arrays (docs: "!reference tags").
            out: list[Any] = []
            for item in node:
                value = self.references(item, doc, depth)
                if isinstance(item, Reference) and isinstance(value, list):
                    out.extend(value)
                else:
                    out.append(value)
            return out
        return node

    # the whole file ------------------------------------------------------------------


def is_glob(path: str) -> bool:
    return any(c in path for c in "*?[")
