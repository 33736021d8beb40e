"""The neutral glob language of branch, tag and path filters, written once.

What a pattern matches, its regular expression (``glob_regex``, for GitLab ``rules:if``) and the
way back (``regex_glob``): runner, generators and importers use nothing else, so they cannot
disagree. See docs/patterns-and-conditions.md.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence

__all__ = [
    "escape_glob",
    "example",
    "glob_matches",
    "glob_regex",
    "is_literal",
    "literal_prefix",
    "literal_text",
    "path_matches",
    "ref_matches",
    "regex_glob",
]

_WILDCARDS = "*?"
# Glob characters that a literal must quote to stay literal.
_GLOB_SPECIAL = frozenset("*?\\")
# Characters regex_glob reads as themselves when unescaped in a regular expression.
_PLAIN = frozenset("-_/@,:=%~")


@functools.lru_cache(maxsize=4096)
def _tokens(pattern: str) -> tuple[tuple[str, str], ...]:
    """``(kind, text)`` pieces: ``**/``, ``**``, ``*``, ``?`` or ``lit`` (one character)."""
    out: list[tuple[str, str]] = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append(("**/", "**/"))
            i += 3
        elif pattern.startswith("**", i):
            out.append(("**", "**"))
            i += 2
        elif pattern[i] in _WILDCARDS:
            out.append((pattern[i], pattern[i]))
            i += 1
        elif pattern[i] == "\\" and i + 1 < len(pattern):
            out.append(("lit", pattern[i + 1]))
            i += 2
        else:
            out.append(("lit", pattern[i]))
            i += 1
    return tuple(out)


_REGEX = {"**/": "(.*/)?", "**": ".*", "*": "[^/]*", "?": "[^/]"}


@functools.lru_cache(maxsize=4096)
def glob_regex(pattern: str) -> str:
    """The regular expression (not anchored) that matches what ``pattern`` matches.

    It uses only syntax Python's ``re`` and RE2 (GitLab's ``=~``) read alike.
    """
    return "".join(
        re.escape(text) if kind == "lit" else _REGEX[kind] for kind, text in _tokens(pattern)
    )


@functools.lru_cache(maxsize=4096)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(glob_regex(pattern), re.DOTALL)


def glob_matches(pattern: str, value: str | None) -> bool:
    """Whether the whole of ``value`` matches one pattern (``None`` matches nothing)."""
    return value is not None and _compiled(pattern).fullmatch(value) is not None


def is_literal(pattern: str) -> bool:
    """True when ``pattern`` has no wildcard: it matches exactly one text."""
    return all(kind == "lit" for kind, _ in _tokens(pattern))


def literal_text(pattern: str) -> str:
    """The one text a wildcard-free pattern matches (escapes removed)."""
    return "".join(text for _kind, text in _tokens(pattern))


def escape_glob(text: str) -> str:
    """The pattern that matches exactly ``text`` (wildcards and ``\\`` quoted; a leading
    ``!`` too, which a filter list would read as a negation)."""
    glob = "".join("\\" + c if c in _GLOB_SPECIAL else c for c in text)
    return "\\" + glob if glob.startswith("!") else glob


def example(pattern: str) -> str:
    """One text that ``pattern`` matches (each wildcard stands for ``x``, ``**`` for ``x/y``)."""
    samples = {"**/": "x/", "**": "x/y", "*": "x", "?": "x"}
    return "".join(text if kind == "lit" else samples[kind] for kind, text in _tokens(pattern))


def literal_prefix(pattern: str) -> tuple[str, str]:
    """``(prefix, rest)``: the text every match starts with (up to the first wildcard, escapes
    removed) and the rest of the pattern as written (``""`` for a wildcard-free pattern)."""
    tokens = _tokens(pattern)
    head = next((i for i, (kind, _) in enumerate(tokens) if kind != "lit"), len(tokens))
    prefix = "".join(text for _kind, text in tokens[:head])
    rest = "".join(
        ("\\" + text if text in _GLOB_SPECIAL else text) if kind == "lit" else text
        for kind, text in tokens[head:]
    )
    return prefix, rest


def ref_matches(patterns: Sequence[str], name: str) -> bool:
    """Whether ``name`` passes a filter list (``!`` negates, the later pattern wins).

    An empty list matches nothing; a list of negations only matches every other name.
    """
    if not patterns:
        return False
    matched = all(p.startswith("!") for p in patterns)
    for pattern in patterns:
        if pattern.startswith("!"):
            if matched and glob_matches(pattern[1:], name):
                matched = False
        elif not matched and glob_matches(pattern, name):
            matched = True
    return matched


def path_matches(patterns: Sequence[str], paths: Iterable[str]) -> bool:
    """Whether at least one of ``paths`` passes the filter list (no path: no match)."""
    return any(ref_matches(patterns, path) for path in paths)


_BACK = (("(.*/)?", "**/"), (".*", "**"), ("[^/]*", "*"), ("[^/]", "?"))


def regex_glob(body: str) -> str | None:
    """The glob whose ``glob_regex`` is ``body`` (``/`` may be written ``\\/``), or None.

    Only what ``glob_regex`` writes is read back: its wildcard groups, escaped characters and
    plain letters, digits and ``-_/@,:=%~``. Anything else (``.``, classes, alternation) is
    a regular expression that no glob equals.
    """
    body = body.replace(r"\/", "/")
    out: list[str] = []
    i = 0
    while i < len(body):
        for regex, glob in _BACK:
            if body.startswith(regex, i):
                out.append(glob)
                i += len(regex)
                break
        else:
            char = body[i]
            if char == "\\" and i + 1 < len(body) and not body[i + 1].isalnum():
                char = body[i + 1]
                i += 2
            elif char.isalnum() or char in _PLAIN:
                i += 1
            else:
                return None
            out.append(escape_glob(char))
    glob = "".join(out)
    # A leading "!" would read as a negation in a filter list.
    return "\\" + glob if glob.startswith("!") else glob
