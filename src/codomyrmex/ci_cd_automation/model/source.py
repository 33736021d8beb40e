"""Source positions: from a model path back to the line and column in the YAML file.

A segment not in the file falls back to the nearest enclosing node; a position inside a string
is given only where it can be checked against the text. See docs/model.md (diagnostics).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

_BLOCK_HEADER = re.compile(r"^\|[-+0-9]*\s*(#.*)?$")
_PLAIN_TOKEN = re.compile(r"[^\s,\[\]{}#]+")


@dataclass(frozen=True)
class SourceMap:
    """A loaded file's name, its ruamel round-trip tree and (optionally) its text."""

    file: str
    root: Any
    text: str | None = field(default=None, repr=False, compare=False)

    def position(
        self,
        path: Sequence[str | int],
        *,
        key: bool = False,
        offset: int | None = None,
    ) -> tuple[int, int] | None:
        """1-based ``(line, column)`` of the node at ``path``.

        With ``key=True`` the position is that of the mapping key naming the last segment
        (where "unknown key" belongs) rather than of its value. With ``offset`` (and the
        text known) it is that of the ``offset``-th character of the string value, when
        that can be located exactly.
        """
        node = self.root
        best = _own_position(node)
        resolved = True
        for index, segment in enumerate(path):
            last = index == len(path) - 1
            child_pos: tuple[int, int] | None = None
            file_key = _file_key(node, segment) if isinstance(node, dict) else None
            if isinstance(segment, str) and file_key is not None:
                lc = getattr(node, "lc", None)
                if lc is not None:
                    try:
                        k_line, k_col = lc.key(file_key)
                        v_line, v_col = lc.value(file_key)
                    except (KeyError, TypeError, AttributeError):
                        k_line = k_col = v_line = v_col = None
                    if k_line is not None:
                        use_key = key and last
                        child_pos = (k_line + 1, k_col + 1) if use_key else (v_line + 1, v_col + 1)
                node = node[file_key]
            elif isinstance(node, list) and isinstance(segment, int) and 0 <= segment < len(node):
                lc = getattr(node, "lc", None)
                if lc is not None:
                    try:
                        line, col = lc.item(segment)
                        child_pos = (line + 1, col + 1)
                    except (KeyError, TypeError, AttributeError):
                        child_pos = None
                node = node[segment]
            else:
                resolved = False
                continue
            if child_pos is not None:
                best = child_pos
            elif last:
                resolved = False
        if offset is not None and not key and resolved and best and isinstance(node, str):
            return self._inside(best, str(node), offset) or best
        return best

    def token_at(self, line: int, column: int) -> str | None:
        """The plain scalar written at a 1-based position (``3.10`` for a float), if any."""
        lines = self._lines
        if not 1 <= line <= len(lines):
            return None
        match = _PLAIN_TOKEN.match(lines[line - 1], column - 1)
        return match.group(0) if match else None

    @cached_property
    def _lines(self) -> list[str]:
        if self.text is None:
            return []
        return [line.removesuffix("\r") for line in self.text.split("\n")]

    def _inside(self, start: tuple[int, int], value: str, offset: int) -> tuple[int, int] | None:
        lines = self._lines
        line, col = start
        if not 0 <= offset <= len(value) or not 1 <= line <= len(lines):
            return None
        raw = lines[line - 1]
        first = raw[col - 1 : col]
        target: tuple[int, int] | None
        if first == "|" and _BLOCK_HEADER.match(raw[col - 1 :].rstrip()):
            target = self._in_literal_block(line, value, offset)
        elif first in ("'", '"'):
            target = _in_quoted(raw, col, first, offset, line)
        elif first in (">", "&", "!", "*"):
            target = None  # folded block, or anchors and tags before the value
        else:
            target = (line, col + offset)
        if target is None:
            return None
        t_line, t_col = target
        if not 1 <= t_line <= len(lines):
            return None
        expected = value[offset : offset + 3]
        if not lines[t_line - 1][t_col - 1 :].startswith(expected):
            return None
        return target

    def _in_literal_block(self, line: int, value: str, offset: int) -> tuple[int, int] | None:
        lines = self._lines
        indent = None
        for raw in lines[line:]:
            if raw.strip():
                indent = len(raw) - len(raw.lstrip(" "))
                break
        if indent is None:
            return None
        before = value[:offset]
        row = before.count("\n")
        column = offset - (before.rfind("\n") + 1)
        return (line + 1 + row, indent + column + 1)


def _in_quoted(raw: str, col: int, quote: str, offset: int, line: int) -> tuple[int, int] | None:
    """Where the ``offset``-th character of a quoted scalar is, when it is on its first line."""
    i = col  # 0-based index of the first character after the opening quote
    decoded = 0
    while decoded < offset:
        if i >= len(raw):
            return None  # the string continues on the next line: folding, give up
        char = raw[i]
        if quote == '"' and char == "\\":
            return None  # escapes change lengths; not worth decoding here
        if quote == "'" and char == "'":
            if raw[i + 1 : i + 2] != "'":
                return None
            i += 1
        i += 1
        decoded += 1
    return (line, i + 1)


def key_text(key: Any) -> Any:
    """A mapping key as plain data: scalars become the string they are written as.

    Keys of CI files are names, so ``1:``, ``true:`` and ``null:`` mean the names "1",
    "true" and "null"; keys that are lists or mappings stay as they are (the loader reports
    them).
    """
    if isinstance(key, str):
        return str(key)
    if isinstance(key, bool) or type(key).__name__ == "ScalarBoolean":
        return "true" if key else "false"
    if key is None:
        return "null"
    if isinstance(key, int | float):
        return str(key)
    return key


def _file_key(node: dict[Any, Any], segment: str | int) -> Any:
    """The key of ``node`` that reads as ``segment`` (``1`` for "1"), or ``None``."""
    if not isinstance(segment, str):
        return None
    if segment in node:
        return segment
    return next((k for k in node if not isinstance(k, str) and key_text(k) == segment), None)


def _own_position(node: Any) -> tuple[int, int] | None:
    lc = getattr(node, "lc", None)
    if lc is None or lc.line is None:
        return None
    return (lc.line + 1, lc.col + 1)
