"""The one way YAML text from outside comes in: bounded, positioned, never a traceback.

``scan`` walks the parser's events before ruamel builds anything and refuses what would exhaust
memory or the stack. Every failure is a ``YamlReadError`` with a positioned ``Diagnostic``.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

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

from ..errors import PipelineImportError
from .diagnostics import Diagnostic
from .source import key_text

__all__ = [
    "MAX_DEPTH",
    "MAX_EXPANDED_DEPTH",
    "MAX_EXPANDED_NODES",
    "MAX_EXPANSION_FACTOR",
    "YamlReadError",
    "compose",
    "load",
    "plain_scalar",
    "round_trip_yaml",
    "scan",
    "to_plain",
]

# A file may reuse nodes through aliases, but not blow up: past this many nodes after
# expansion (or this many times the nodes actually written) it is refused.
MAX_EXPANDED_NODES = 2_000_000
MAX_EXPANSION_FACTOR = 50
# CI files are about ten levels deep; escape hatches add a few. Deeper files are refused
# before ruamel's recursive composer and constructor see them, and so are aliases that would
# nest deeper once expanded (an anchor that holds the previous one, a thousand times).
MAX_DEPTH = 100
MAX_EXPANDED_DEPTH = 200

_PLAIN_TYPES = ("str", "int", "float", "bool", "null", "map", "seq")
_PLAIN_TAGS = frozenset({"!"} | {f"tag:yaml.org,2002:{t}" for t in _PLAIN_TYPES})
_RETAGGED_KEYS = frozenset(
    f"tag:yaml.org,2002:{t}" for t in ("int", "float", "bool", "null", "timestamp")
)
_STR_TAG = "tag:yaml.org,2002:str"


class YamlReadError(Exception):
    """Raised when YAML text cannot be read safely; carries one positioned diagnostic."""

    def __init__(self, diagnostic: Diagnostic) -> None:
        self.diagnostic = diagnostic
        super().__init__(diagnostic.format())

    def import_error(self) -> PipelineImportError:
        """The same problem as the one-line error of a native file that cannot be imported."""
        d = self.diagnostic
        reason = "; ".join((d.message, *d.hints))
        if d.rule == "yaml-syntax" and not reason.startswith("nesting"):
            reason = f"invalid YAML: {reason}"
        return PipelineImportError(d.file or "<text>", reason, d.line, d.column)


class _NameKeyComposer(Composer):
    """Mapping keys are names: a plain ``1``, ``true`` or ``3.10`` key is kept as the text
    written, so ``1`` and ``true`` stay two keys and ``NULL`` stays ``NULL``."""

    def compose_mapping_node(self, anchor: Any) -> Any:
        node = super().compose_mapping_node(anchor)
        for key, _value in node.value:
            if isinstance(key, ScalarNode) and key.style is None and key.tag in _RETAGGED_KEYS:
                key.tag = _STR_TAG
        return node


def round_trip_yaml(*, allow_duplicate_keys: bool = False, names_as_keys: bool = False) -> YAML:
    """ruamel's round-trip reader (every node keeps its line and column)."""
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = allow_duplicate_keys
    if names_as_keys:
        yaml.Composer = _NameKeyComposer
    return yaml


def load(
    text: str,
    name: str,
    *,
    allow_duplicate_keys: bool = False,
    names_as_keys: bool = False,
    strict: bool = False,
    single: bool = False,
) -> tuple[list[Any], list[Diagnostic]]:
    """Every document of ``text`` as round-trip trees, after ``scan``.

    ``strict`` also reports duplicate keys, unsupported tags and non-scalar keys (returned,
    not raised, so a caller can list them all; the documents are then not built). ``single``
    refuses a stream of several documents. Raises ``YamlReadError``.
    """
    text = text.removeprefix("\ufeff")
    yaml = round_trip_yaml(allow_duplicate_keys=allow_duplicate_keys, names_as_keys=names_as_keys)
    problems = scan(text, name, strict=strict)
    if problems:
        return [], problems
    if single:
        return [_guarded(lambda: yaml.load(text), name)], problems
    return _guarded(lambda: list(yaml.load_all(text)), name), problems


def compose(text: str, name: str) -> tuple[YAML, list[Any]]:
    """The node graphs of every document (duplicate keys kept for the caller), after ``scan``;
    build each with ``yaml.constructor.construct_document(node)``. Raises ``YamlReadError``."""
    text = text.removeprefix("\ufeff")
    yaml = round_trip_yaml(allow_duplicate_keys=True)
    scan(text, name)
    return yaml, _guarded(lambda: list(yaml.compose_all(text)), name)


def construct(yaml: YAML, node: Any, name: str) -> Any:
    """One composed document built, with ruamel's errors as ``YamlReadError``."""
    return _guarded(lambda: yaml.constructor.construct_document(node), name)


def _guarded(work: Callable[[], Any], name: str) -> Any:
    try:
        return work()
    except MarkedYAMLError as exc:
        raise YamlReadError(parse_diagnostic(exc, name)) from None
    except YAMLError as exc:
        message = _clean(_first_line(str(exc)))
        raise YamlReadError(
            Diagnostic(message, "yaml-syntax", file=name, line=1, column=1)
        ) from None
    except RecursionError:  # pragma: no cover - scan keeps ruamel far from the limit
        raise YamlReadError(
            Diagnostic("nesting is too deep", "yaml-syntax", file=name, line=1, column=1)
        ) from None


# --- parse errors ---------------------------------------------------------------------


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


def parse_diagnostic(exc: MarkedYAMLError, name: str) -> Diagnostic:
    """A ruamel parse or construction error as one positioned, readable diagnostic."""
    duplicate = isinstance(exc, DuplicateKeyError)
    rule = "yaml-duplicate-key" if duplicate else "yaml-syntax"
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
    if duplicate:
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
    height: int = 1  # levels of the expanded subtree, this node included
    expect_key: bool = True
    keys: dict[str, int] = field(default_factory=dict)


def scan(text: str, name: str, *, strict: bool = False) -> list[Diagnostic]:
    """Walk the events of ``text``; raise on what is unsafe to build, return the rest.

    Raised (``YamlReadError``, nothing else is read): nesting deeper than ``MAX_DEPTH``, an
    alias inside the node it names, an expansion past the size or depth limits, a parse
    error. Returned when ``strict``: duplicate keys, unsupported tags, keys that are
    mappings or lists.
    """
    yaml = YAML(typ="rt")
    stack: list[_Frame] = []
    anchors: dict[str, tuple[int, int]] = {}  # expanded size and height of anchored nodes
    total = unique = 0
    biggest: tuple[int, Any] | None = None  # the alias that expands most, and where it is
    problems: list[Diagnostic] = []

    def diag(message: str, rule: str, mark: Any, hints: tuple[str, ...] = ()) -> Diagnostic:
        return Diagnostic(
            message, rule, file=name, line=mark.line + 1, column=mark.column + 1, hints=hints
        )

    def fail(message: str, rule: str, mark: Any, hints: tuple[str, ...] = ()) -> YamlReadError:
        return YamlReadError(diag(message, rule, mark, hints))

    def bomb(count: int, mark: Any) -> YamlReadError:
        return fail(
            f"aliases expand this file to more than {count} nodes",
            "yaml-alias-bomb",
            mark,
            ("is this an alias bomb? write the repeated parts out, or reuse fewer of them",),
        )

    def close(size: int, height: int) -> None:
        if stack:
            stack[-1].size += size
            stack[-1].height = max(stack[-1].height, height + 1)

    events = iter(yaml.parse(text))
    while True:
        try:
            event = next(events)
        except StopIteration:
            break
        except MarkedYAMLError as exc:
            raise YamlReadError(parse_diagnostic(exc, name)) from None
        except YAMLError as exc:
            message = _clean(_first_line(str(exc)))
            diagnostic = Diagnostic(message, "yaml-syntax", file=name, line=1, column=1)
            raise YamlReadError(diagnostic) from None
        if not isinstance(event, NodeEvent | CollectionEndEvent):
            continue
        if isinstance(event, CollectionEndEvent):
            frame = stack.pop()
            if frame.anchor is not None:
                anchors[frame.anchor] = (frame.size, frame.height)
            close(frame.size, frame.height)
            continue
        parent = stack[-1] if stack else None
        is_key = parent is not None and parent.mapping and parent.expect_key
        if parent is not None and parent.mapping:
            parent.expect_key = not parent.expect_key
        mark = event.start_mark
        if isinstance(event, AliasEvent):
            if any(f.anchor == event.anchor for f in stack):
                raise fail(
                    f'alias "*{event.anchor}" refers to a node that contains it',
                    "yaml-alias-bomb",
                    mark,
                    ("a recursive structure cannot be a pipeline",),
                )
            size, height = anchors.get(event.anchor, (1, 1))
            total += size
            if len(stack) + height > MAX_EXPANDED_DEPTH:
                raise fail(
                    f"aliases nest this file deeper than {MAX_EXPANDED_DEPTH} levels",
                    "yaml-alias-bomb",
                    mark,
                    ("write the repeated parts out, or reuse fewer of them",),
                )
            close(size, height)
            if biggest is None or size > biggest[0]:
                biggest = (size, mark)
            if total > MAX_EXPANDED_NODES:
                raise bomb(MAX_EXPANDED_NODES, mark)
            continue
        tag = getattr(event, "tag", None)
        if strict and tag is not None and str(tag) not in _PLAIN_TAGS:
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
                anchors[event.anchor] = (1, 1)
            close(1, 1)
            if strict and is_key and parent is not None:
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
        if strict and is_key:
            found = "a mapping" if isinstance(event, MappingStartEvent) else "a list"
            message = f"a mapping key must be a string, found {found}"
            problems.append(diag(message, "wrong-type", mark))
        stack.append(_Frame(mapping=isinstance(event, MappingStartEvent), anchor=event.anchor))
        if len(stack) > MAX_DEPTH:
            raise fail(f"nesting is deeper than {MAX_DEPTH} levels", "yaml-syntax", mark)
    if biggest is not None and total > MAX_EXPANSION_FACTOR * max(unique, 1000):
        raise bomb(total, biggest[1])
    return problems


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
