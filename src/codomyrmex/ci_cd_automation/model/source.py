"""Source positions: from a model path back to the line and column in the YAML file.

The loader keeps ruamel's round-trip tree; a ``SourceMap`` walks it on demand, so positions
cost nothing until a diagnostic or a fidelity note asks for one. Path segments that do not
exist in the file (pydantic's union tags, defaults that were never written) are skipped, so
the position falls back to the nearest enclosing node that is in the file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SourceMap:
    """A loaded file's name and its ruamel round-trip tree."""

    file: str
    root: Any

    def position(self, path: Sequence[str | int], *, key: bool = False) -> tuple[int, int] | None:
        """1-based ``(line, column)`` of the node at ``path``.

        With ``key=True`` the position is that of the mapping key naming the last segment
        (where "unknown key" belongs) rather than of its value.
        """
        node = self.root
        best = _own_position(node)
        for index, segment in enumerate(path):
            last = index == len(path) - 1
            child_pos: tuple[int, int] | None = None
            if isinstance(node, dict) and not isinstance(segment, int) and segment in node:
                lc = getattr(node, "lc", None)
                if lc is not None:
                    try:
                        k_line, k_col = lc.key(segment)
                        v_line, v_col = lc.value(segment)
                    except (KeyError, TypeError, AttributeError):
                        k_line = k_col = v_line = v_col = None
                    if k_line is not None:
                        use_key = key and last
                        child_pos = (k_line + 1, k_col + 1) if use_key else (v_line + 1, v_col + 1)
                node = node[segment]
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
                continue
            if child_pos is not None:
                best = child_pos
        return best


def _own_position(node: Any) -> tuple[int, int] | None:
    lc = getattr(node, "lc", None)
    if lc is None or lc.line is None:
        return None
    return (lc.line + 1, lc.col + 1)
