"""Reading pipeline files and data into a validated ``Pipeline``.

Everything from the outside world passes here once: bytes are decoded strictly as UTF-8
(a BOM is allowed), then the YAML is read in two passes. The first walks ruamel's parser
events without building anything: it measures how far aliases would expand (a "billion
laughs" file fails at once instead of eating memory), refuses aliases that refer to the
node containing them, nesting deeper than ``MAX_DEPTH``, duplicate keys (naming the line
of the first one) and tags other than YAML's plain types (GitLab's ``!reference`` is not
part of the neutral model). Only then does ruamel's round-trip loader build the tree, which
keeps line and column of every node. The tree becomes plain Python values (mapping keys are
always the string written: ``1:`` is the key ``"1"``), is validated by the pydantic models
and then by the semantic rules of ``model.rules``; last comes the one check that needs the
text as written, ``float-version``: a plain number such as ``3.10`` that YAML reads as 3.1.

Every problem becomes a positioned ``Diagnostic``; the caller gets either a ``Pipeline`` or
one ``PipelineValidationError`` holding all of them, sorted. No ruamel or pydantic
exception escapes this module.
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.composer import Composer
from ruamel.yaml.constructor import DuplicateKeyError
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import (
    AliasEvent,
    CollectionEndEvent,
    MappingStartEvent,
    NodeEvent,
    ScalarEvent,
)
from ruamel.yaml.nodes import ScalarNode

from ..errors import PipelineValidationError
from .diagnostics import Diagnostic, sorted_diagnostics
from .diagnostics import Path as ModelPath
from .messages import describe_value, diagnostics_from_validation_error, position_diagnostics
from .pipeline import Pipeline, PipelineSpec
from .rules import run_rules
from .source import SourceMap, key_text

# A file may reuse nodes through aliases, but not blow up: past this many nodes after
# expansion (or this many times the nodes actually written) it is refused.
MAX_EXPANDED_NODES = 2_000_000
MAX_EXPANSION_FACTOR = 50
MAX_FILE_BYTES = 50 * 1024 * 1024
# Pipelines are about ten levels deep; escape hatches add a few. Deeper files are refused
# before ruamel's recursive composer and constructor see them.
MAX_DEPTH = 100

_PLAIN_TYPES = ("str", "int", "float", "bool", "null", "map", "seq")
_PLAIN_TAGS = frozenset({"!"} | {f"tag:yaml.org,2002:{t}" for t in _PLAIN_TYPES})
_VERSION_LIKE = re.compile(r"^[0-9]+\.[0-9]+$")


_RETAGGED_KEYS = frozenset(
    f"tag:yaml.org,2002:{t}" for t in ("int", "float", "bool", "null", "timestamp")
)
_STR_TAG = "tag:yaml.org,2002:str"


class _NameKeyComposer(Composer):
    """Mapping keys of a pipeline are names: a plain ``1``, ``true`` or ``3.10`` key is kept
    as the text written, so ``1`` and ``true`` stay two keys and ``NULL`` stays ``NULL``."""

    def compose_mapping_node(self, anchor: Any) -> Any:
        node = super().compose_mapping_node(anchor)
        for key, _value in node.value:
            if isinstance(key, ScalarNode) and key.style is None and key.tag in _RETAGGED_KEYS:
                key.tag = _STR_TAG
        return node


def read_yaml_file(path: str | Path, *, display: str | None = None) -> tuple[Any, SourceMap]:
    """Read a YAML or JSON file into plain Python data and its source map."""
    name = display or str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        message = f"cannot read file: {reason[:1].lower()}{reason[1:]}"
        raise PipelineValidationError([Diagnostic(message, "file-read", file=name)]) from exc
    return parse_yaml_bytes(raw, name)


def parse_yaml_bytes(raw: bytes, name: str) -> tuple[Any, SourceMap]:
    """Decode and parse; raise ``PipelineValidationError`` with a positioned line on failure."""
    if len(raw) > MAX_FILE_BYTES:
        raise PipelineValidationError(
            [Diagnostic(f"file is larger than {MAX_FILE_BYTES} bytes", "file-size", file=name)]
        )
    bom = b"\xef\xbb\xbf" if raw.startswith(b"\xef\xbb\xbf") else b""
    try:
        text = raw[len(bom) :].decode("utf-8")
    except UnicodeDecodeError as exc:
        diag = _encoding_diag(raw[len(bom) :], exc.start, name, skipped=len(bom))
        raise PipelineValidationError([diag]) from None
    return parse_yaml_text(text, name)


def _encoding_diag(raw: bytes, start: int, name: str, *, skipped: int = 0) -> Diagnostic:
    line_start = raw.rfind(b"\n", 0, start) + 1
    line = raw.count(b"\n", 0, start) + 1
    # Columns count characters, as everywhere else: the bytes before `start` are valid.
    column = len(raw[line_start:start].decode("utf-8")) + 1
    hints: tuple[str, ...] = ()
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        hints = ("the file looks like UTF-16: save it as UTF-8",)
    return Diagnostic(
        f"file is not valid UTF-8 (byte 0x{raw[start]:02x} at offset {start + skipped})",
        "yaml-encoding",
        file=name,
        line=line,
        column=column,
        hints=hints,
    )


def parse_yaml_text(text: str, name: str) -> tuple[Any, SourceMap]:
    """Parse YAML text; see ``parse_yaml_bytes``."""
    text = text.removeprefix("\ufeff")
    yaml = YAML(typ="rt")
    yaml.Composer = _NameKeyComposer
    yaml.allow_duplicate_keys = False
    try:
        problems = _scan_events(yaml, text, name)
        if problems:
            raise PipelineValidationError(sorted_diagnostics(problems))
        tree = yaml.load(text)
    except DuplicateKeyError as exc:
        raise PipelineValidationError([_yaml_diag(exc, name, "yaml-duplicate-key")]) from None
    except MarkedYAMLError as exc:
        raise PipelineValidationError([_yaml_diag(exc, name, "yaml-syntax")]) from None
    except YAMLError as exc:
        raise PipelineValidationError(
            [Diagnostic(_clean(_first_line(str(exc))), "yaml-syntax", file=name, line=1, column=1)]
        ) from None
    except RecursionError:  # pragma: no cover - MAX_DEPTH keeps ruamel far from the limit
        raise PipelineValidationError(
            [Diagnostic("nesting is too deep", "yaml-syntax", file=name, line=1, column=1)]
        ) from None
    return to_plain(tree), SourceMap(name, tree, text)


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "invalid YAML"


# ruamel names tokens as the parser sees them; people read these words instead.
_TOKEN_WORDS = {
    "<stream end>": "the end of the file",
    "end of stream": "the end of the file",
    "<block end>": "the end of an indented block",
    "<block mapping start>": "a key at another indentation",
    "<block sequence start>": "a list item at another indentation",
    "<document start>": "a new document",
    "'?'": "a key",
}


def _clean(problem: str) -> str:
    """ruamel's wording with the project's conventions: lowercase, values in double quotes."""
    for token, words in _TOKEN_WORDS.items():
        problem = problem.replace(f"'{token}'", words).replace(f'"{token}"', words)
        problem = problem.replace(token, words)
    problem = problem.replace("unexpected the end", "the end")
    problem = re.sub(r"'([^']*)'", r'"\1"', problem)
    return problem[:1].lower() + problem[1:]


_SYNTAX_HINTS = {
    "mapping values are not allowed here": (
        'check the indentation of this line, or quote a value that contains ": "'
    ),
    'found character "\\t" that cannot start any token': "YAML indents with spaces, never tabs",
    "expected the end of an indented block": "check the indentation of this line",
}


def _yaml_diag(exc: MarkedYAMLError, name: str, rule: str) -> Diagnostic:
    mark = exc.problem_mark or exc.context_mark
    if mark is None:
        return Diagnostic(
            _clean(str(exc.problem or "invalid YAML")), rule, file=name, line=1, column=1
        )
    problem = (exc.problem or exc.context or "invalid YAML").strip()
    if exc.problem and exc.context and problem.startswith("but "):
        problem = f"{exc.context.strip()}, {problem}"  # "expected one document, but found..."
    problem = _clean(problem)
    hint = next((h for p, h in _SYNTAX_HINTS.items() if problem.startswith(p)), None)
    context = (exc.context or "").strip()
    start = exc.context_mark
    opened = re.sub(r"^while (parsing|scanning) ", "", context)
    # The error shows where parsing gave up; where the unclosed thing opened is the news.
    if hint is None and opened != context and start is not None and start.line != mark.line:
        hint = f"{opened} starts on line {start.line + 1}"
    if rule == "yaml-duplicate-key":
        found = re.search(r'found duplicate key "(.*?)"', str(exc))
        problem = f'duplicate key "{found.group(1)}"' if found else "duplicate key"
    line, column = mark.line + 1, mark.column + 1
    hints = (hint,) if hint else ()
    return Diagnostic(problem, rule, file=name, line=line, column=column, hints=hints)


# --- the event pass -------------------------------------------------------------------


@dataclass
class _Frame:
    """An open mapping or sequence while scanning events."""

    mapping: bool
    anchor: str | None
    size: int = 1
    expect_key: bool = True
    keys: dict[str, int] = field(default_factory=dict)


def _scan_events(yaml: YAML, text: str, name: str) -> list[Diagnostic]:
    """Check the event stream; return the non-fatal problems, raise on the fatal ones.

    Fatal (raised at once, nothing else is read): nesting deeper than ``MAX_DEPTH``, an
    alias inside the node it names, an expansion past the limits. Collected: duplicate keys,
    unsupported tags, keys that are mappings or lists.
    """
    stack: list[_Frame] = []
    anchors: dict[str, int] = {}  # expanded size of every finished anchored node
    total = unique = 0
    biggest: tuple[int, Any] | None = None  # the alias that expands most, and where it is
    problems: list[Diagnostic] = []

    def diag(message: str, rule: str, mark: Any, hints: tuple[str, ...] = ()) -> Diagnostic:
        return Diagnostic(
            message, rule, file=name, line=mark.line + 1, column=mark.column + 1, hints=hints
        )

    for event in yaml.parse(text):
        if not isinstance(event, NodeEvent | CollectionEndEvent):
            continue
        if isinstance(event, CollectionEndEvent):
            frame = stack.pop()
            if frame.anchor is not None:
                anchors[frame.anchor] = frame.size
            if stack:
                stack[-1].size += frame.size
            continue
        parent = stack[-1] if stack else None
        is_key = parent is not None and parent.mapping and parent.expect_key
        if parent is not None and parent.mapping:
            parent.expect_key = not parent.expect_key
        mark = event.start_mark
        if isinstance(event, AliasEvent):
            if any(f.anchor == event.anchor for f in stack):
                raise PipelineValidationError(
                    [
                        diag(
                            f'alias "*{event.anchor}" refers to a node that contains it',
                            "yaml-alias-bomb",
                            mark,
                            ("a recursive structure cannot be a pipeline",),
                        )
                    ]
                )
            size = anchors.get(event.anchor, 1)
            total += size
            if parent is not None:
                parent.size += size
            if biggest is None or size > biggest[0]:
                biggest = (size, mark)
            if total > MAX_EXPANDED_NODES:
                raise PipelineValidationError([_bomb(diag, MAX_EXPANDED_NODES, mark)])
            continue
        tag = getattr(event, "tag", None)
        if tag is not None and str(tag) not in _PLAIN_TAGS:
            shown = str(tag).replace("tag:yaml.org,2002:", "!!")
            problems.append(
                diag(
                    f'unsupported YAML tag "{shown}"',
                    "yaml-tag",
                    mark,
                    ("pipeline files use plain strings, numbers, lists and mappings",),
                )
            )
        total += 1
        unique += 1
        if isinstance(event, ScalarEvent):
            if event.anchor is not None:
                anchors[event.anchor] = 1
            if parent is not None:
                parent.size += 1
            if is_key and parent is not None:
                key = str(event.value)
                if key in parent.keys:
                    problems.append(
                        diag(
                            f'duplicate key "{key}" (first defined on line {parent.keys[key]})',
                            "yaml-duplicate-key",
                            mark,
                        )
                    )
                else:
                    parent.keys[key] = mark.line + 1
            continue
        if is_key:
            found = "a mapping" if isinstance(event, MappingStartEvent) else "a list"
            message = f"a mapping key must be a string, found {found}"
            problems.append(diag(message, "wrong-type", mark))
        stack.append(_Frame(mapping=isinstance(event, MappingStartEvent), anchor=event.anchor))
        if len(stack) > MAX_DEPTH:
            raise PipelineValidationError(
                [diag(f"nesting is deeper than {MAX_DEPTH} levels", "yaml-syntax", mark)]
            )
    if biggest is not None and total > MAX_EXPANSION_FACTOR * max(unique, 1000):
        raise PipelineValidationError([_bomb(diag, total, biggest[1])])
    return problems


def _bomb(diag: Any, count: int, mark: Any) -> Diagnostic:
    result: Diagnostic = diag(
        f"aliases expand this file to more than {count} nodes",
        "yaml-alias-bomb",
        mark,
        ("is this an alias bomb? write the repeated parts out, or reuse fewer of them",),
    )
    return result


# --- plain data -----------------------------------------------------------------------


def to_plain(node: Any) -> Any:
    """ruamel's round-trip types as plain dicts, lists, str, int, float, bool and None."""
    if isinstance(node, dict):
        return {key_text(k): to_plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [to_plain(v) for v in node]
    if isinstance(node, _dt.date | _dt.datetime):
        return node.isoformat()
    return plain_scalar(node)


def plain_scalar(node: Any) -> Any:
    """A ruamel round-trip scalar as plain bool, None, str, int or float (else unchanged)."""
    if isinstance(node, bool) or node is None:
        return node
    if type(node).__name__ == "ScalarBoolean":
        return bool(node)
    if type(node).__name__ == "TaggedScalar":  # `!!str 3`: the only tag the loader lets by
        return str(node.value)
    if isinstance(node, str):
        return str(node)
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    return node


def _lossy_numbers(source: SourceMap) -> list[Diagnostic]:
    """float-version: plain numbers such as ``3.10`` that YAML reads as ``3.1``."""
    out: list[Diagnostic] = []

    def visit(node: Any, path: ModelPath) -> None:
        if isinstance(node, dict):
            items: list[tuple[Any, Any]] = list(node.items())
        elif isinstance(node, list):
            items = list(enumerate(node))
        else:
            return
        lc = getattr(node, "lc", None)
        for key, child in items:
            child_path = (*path, key_text(key) if isinstance(node, dict) else key)
            if type(child).__name__ == "ScalarFloat" and lc is not None:
                try:
                    line, col = lc.value(key) if isinstance(node, dict) else lc.item(key)
                except (KeyError, TypeError, AttributeError):
                    continue
                written = source.token_at(line + 1, col + 1)
                if written and _VERSION_LIKE.match(written) and repr(float(child)) != written:
                    out.append(
                        Diagnostic(
                            f"{written} is read as the number {float(child)!r}",
                            "float-version",
                            child_path,
                            source.file,
                            line + 1,
                            col + 1,
                            hints=(f'quote it to keep it as written: "{written}"',),
                        )
                    )
            else:
                visit(child, child_path)

    visit(source.root, ())
    return out


# --- validation -----------------------------------------------------------------------


def pipeline_from_data(data: Any, source: SourceMap | None = None, **identity: Any) -> Pipeline:
    """Validate plain data (the content of a pipeline file) into a ``Pipeline``."""
    if not isinstance(data, dict):
        where = source.file if source else None
        found = "an empty file" if data is None else describe_value(data)
        raise PipelineValidationError(
            [
                Diagnostic(
                    f"a pipeline is a mapping with name, config and stages; found {found}",
                    "wrong-type",
                    file=where,
                    line=1 if where else None,
                    column=1 if where else None,
                )
            ]
        )
    try:
        spec = PipelineSpec.model_validate(data)
    except ValidationError as exc:
        diags = diagnostics_from_validation_error(exc, data, PipelineSpec, source)
        raise PipelineValidationError(sorted_diagnostics(diags)) from None
    # The spec is already validated: build the Pipeline around it without a second pass.
    fields = {name: getattr(spec, name) for name in PipelineSpec.model_fields}
    pipeline = Pipeline.model_construct(_fields_set=set(spec.model_fields_set), **fields)
    if identity:
        try:
            pipeline = Pipeline.model_validate({**fields, **identity})
        except ValidationError as exc:
            diags = diagnostics_from_validation_error(exc, identity, Pipeline, None)
            raise PipelineValidationError(sorted_diagnostics(diags)) from None
    diags = position_diagnostics(run_rules(pipeline), source)
    if source is not None:
        diags.extend(_lossy_numbers(source))
    if diags:
        raise PipelineValidationError(sorted_diagnostics(diags))
    pipeline._source = source
    return pipeline


def load_pipeline(path: str | Path) -> Pipeline:
    """Load and validate a pipeline file (YAML or JSON).

    Raises:
        PipelineValidationError: with one positioned diagnostic per problem.
    """
    data, source = read_yaml_file(path)
    return pipeline_from_data(data, source)


def load_pipeline_text(text: str, name: str = "<string>") -> Pipeline:
    """Load and validate pipeline YAML given as text."""
    data, source = parse_yaml_text(text, name)
    return pipeline_from_data(data, source)
