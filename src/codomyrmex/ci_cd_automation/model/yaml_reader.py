"""The one way YAML text from outside comes in: bounded, positioned, never a traceback.

``scan`` walks the parser's events before ruamel builds anything and refuses what would exhaust
memory or the stack. Every failure is a ``YamlReadError`` with a positioned ``Diagnostic``.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Callable
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.composer import Composer
from ruamel.yaml.constructor import DuplicateKeyError
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import AliasEvent, ScalarEvent
from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode

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
_MERGE_TAG = "tag:yaml.org,2002:merge"


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


class _BoundedComposer(Composer):
    """ruamel's composer, measuring as it goes what the aliases would expand to.

    Aliases stay shared nodes while composing, so a bomb costs no memory here; every node's
    expanded size and height are computed once, bottom-up, and each alias adds its anchor's.
    What is unsafe to build raises ``YamlReadError`` at the event that makes it so; with
    ``strict`` duplicate keys, unsupported tags and non-scalar keys are collected. With
    ``names_as_keys`` a plain ``1``, ``true`` or ``3.10`` key is kept as the text written.
    """

    def __init__(self, loader: Any = None) -> None:
        super().__init__(loader)
        self.name: str = getattr(loader, "cicd_name", "<text>")
        self.strict: bool = getattr(loader, "cicd_strict", False)
        self.names_as_keys: bool = getattr(loader, "cicd_names_as_keys", False)
        self.problems: list[Diagnostic] = []
        self.total = self.unique = 0
        self.biggest: tuple[int, Any] | None = None  # the alias that expands most, and where
        self._measure: dict[int, tuple[int, int]] = {}  # id(node) -> expanded size, height
        self._open: list[str | None] = []  # anchors of the collections being composed

    def _diag(self, message: str, rule: str, mark: Any, hints: tuple[str, ...] = ()) -> Diagnostic:
        line, column = mark.line + 1, mark.column + 1
        return Diagnostic(message, rule, file=self.name, line=line, column=column, hints=hints)

    def _bomb(self, count: int, mark: Any) -> YamlReadError:
        return YamlReadError(
            self._diag(
                f"aliases expand this file to more than {count} nodes",
                "yaml-alias-bomb",
                mark,
                ("is this an alias bomb? write the repeated parts out, or reuse fewer of them",),
            )
        )

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.parser.peek_event()
        if isinstance(event, AliasEvent):
            return self._alias(event, super().compose_node(parent, index))
        if self.strict and event.tag is not None and str(event.tag) not in _PLAIN_TAGS:
            shown = str(event.tag).replace("tag:yaml.org,2002:", "!!")
            self.problems.append(
                self._diag(
                    f'unsupported YAML tag "{shown}"',
                    "yaml-tag",
                    event.start_mark,
                    ("pipeline files use plain strings, numbers, lists and mappings",),
                )
            )
        self.total += 1
        self.unique += 1
        if isinstance(event, ScalarEvent):
            return super().compose_node(parent, index)  # size 1, height 1: the default
        self._open.append(event.anchor)
        if len(self._open) > MAX_DEPTH:
            message = f"nesting is deeper than {MAX_DEPTH} levels"
            raise YamlReadError(self._diag(message, "yaml-syntax", event.start_mark))
        node = super().compose_node(parent, index)
        self._open.pop()
        children = (
            [n for pair in node.value for n in pair]
            if isinstance(node, MappingNode)
            else list(node.value)
        )
        measures = [self._measure.get(id(child), (1, 1)) for child in children]
        self._measure[id(node)] = (
            1 + sum(size for size, _ in measures),
            1 + max((height for _, height in measures), default=0),
        )
        if isinstance(node, MappingNode):
            self._check_keys(node)
        return node

    def _alias(self, event: Any, node: Any) -> Any:
        mark = event.start_mark
        if event.anchor in self._open:
            raise YamlReadError(
                self._diag(
                    f'alias "*{event.anchor}" refers to a node that contains it',
                    "yaml-alias-bomb",
                    mark,
                    ("a recursive structure cannot be a pipeline",),
                )
            )
        size, height = self._measure.get(id(node), (1, 1))
        self.total += size
        if len(self._open) + height > MAX_EXPANDED_DEPTH:
            raise YamlReadError(
                self._diag(
                    f"aliases nest this file deeper than {MAX_EXPANDED_DEPTH} levels",
                    "yaml-alias-bomb",
                    mark,
                    ("write the repeated parts out, or reuse fewer of them",),
                )
            )
        if self.biggest is None or size > self.biggest[0]:
            self.biggest = (size, mark)
        if self.total > MAX_EXPANDED_NODES:
            raise self._bomb(MAX_EXPANDED_NODES, mark)
        return node

    def _check_keys(self, node: MappingNode) -> None:
        seen: dict[str, int] = {}
        for key, _value in node.value:
            if not isinstance(key, ScalarNode):
                if self.strict and isinstance(key, MappingNode | SequenceNode):
                    found = "a mapping" if isinstance(key, MappingNode) else "a list"
                    message = f"a mapping key must be a string, found {found}"
                    self.problems.append(self._diag(message, "wrong-type", key.start_mark))
                continue
            if self.names_as_keys and key.style is None and key.tag in _RETAGGED_KEYS:
                key.tag = _STR_TAG
            if not self.strict or key.tag == _MERGE_TAG:
                continue
            text = str(key.value)
            if text in seen:
                self.problems.append(
                    self._diag(
                        f'duplicate key "{text}" (first defined on line {seen[text]})',
                        "yaml-duplicate-key",
                        key.start_mark,
                    )
                )
            else:
                seen[text] = key.start_mark.line + 1

    def finish(self) -> None:
        """The whole stream is composed: refuse it if aliases blew it up out of proportion."""
        if self.biggest is not None and self.total > MAX_EXPANSION_FACTOR * max(self.unique, 1000):
            raise self._bomb(self.total, self.biggest[1])


def round_trip_yaml(
    name: str = "<text>",
    *,
    allow_duplicate_keys: bool = False,
    names_as_keys: bool = False,
    strict: bool = False,
    positions: bool = True,
) -> YAML:
    """ruamel's round-trip reader (every node keeps its line and column), bounded; without
    ``positions``, the faster safe reader (plain dicts and lists)."""
    yaml = _ReaderYAML(typ="rt") if positions else _ReaderYAML(typ="safe", pure=True)
    yaml.allow_duplicate_keys = allow_duplicate_keys
    yaml.Composer = _BoundedComposer
    yaml.cicd_name = name
    yaml.cicd_strict = strict
    yaml.cicd_names_as_keys = names_as_keys
    return yaml


class _ReaderYAML(YAML):
    """ruamel's reader, carrying what the bounded composer reads from it."""

    cicd_name: str
    cicd_strict: bool
    cicd_names_as_keys: bool


def load(
    text: str,
    name: str,
    *,
    allow_duplicate_keys: bool = False,
    names_as_keys: bool = False,
    strict: bool = False,
    single: bool = False,
    positions: bool = True,
) -> tuple[list[Any], list[Diagnostic]]:
    """Every document of ``text`` as round-trip trees, within the limits (plain data, read
    faster, without ``positions``).

    ``strict`` also reports duplicate keys, unsupported tags and non-scalar keys (returned,
    not raised, so a caller can list them all; the documents are then not built). ``single``
    refuses a stream of several documents. Raises ``YamlReadError``.
    """
    text = text.removeprefix("\ufeff")
    yaml = round_trip_yaml(
        name,
        allow_duplicate_keys=allow_duplicate_keys,
        names_as_keys=names_as_keys,
        strict=strict,
        positions=positions,
    )
    nodes = _compose(yaml, text, name)
    if single and len(nodes) > 1:
        # ruamel's own wording and place for the second document.
        _guarded(lambda: yaml.load(text), name)
    problems = yaml.composer.problems
    if problems:
        return [], problems
    if single and not nodes:
        return [None], problems  # an empty file is one empty document
    return [construct(yaml, node, name) for node in nodes], problems


def scan(text: str, name: str, *, strict: bool = False) -> list[Diagnostic]:
    """Read ``text`` as far as composing, within the limits, and return what ``strict``
    reading refuses (nothing is built). Raises ``YamlReadError``."""
    yaml = round_trip_yaml(name, allow_duplicate_keys=True, strict=strict)
    _compose(yaml, text.removeprefix("\ufeff"), name)
    problems: list[Diagnostic] = yaml.composer.problems
    return problems


def compose(text: str, name: str) -> tuple[YAML, list[Any]]:
    """The node graphs of every document (duplicate keys kept for the caller), within the
    limits; build each with ``construct``. Raises ``YamlReadError``."""
    yaml = round_trip_yaml(name, allow_duplicate_keys=True)
    return yaml, _compose(yaml, text.removeprefix("\ufeff"), name)


def _compose(yaml: YAML, text: str, name: str) -> list[Any]:
    nodes: list[Any] = _guarded(lambda: list(yaml.compose_all(text)), name)
    yaml.composer.finish()
    return nodes


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
