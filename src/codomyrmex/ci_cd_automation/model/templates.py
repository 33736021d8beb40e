"""Neutral templates: ``${{ ctx.name }}`` references and the ``hash(glob)`` function.

Deliberately small (``CONTEXTS``, ``CI_FACTS``), so that every translator maps every template
exactly. See docs/model.md (templates).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

CONTEXTS = ("matrix", "vars", "secrets", "inputs", "env", "ci", "needs", "steps")
CI_FACTS = (
    "sha",
    "ref",
    "branch",
    "event",
    "run_id",
    "job",
    "pipeline",
    "environment",
    "workspace",
)

TEMPLATE_RE = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)
_IDENT = r"[A-Za-z_][A-Za-z0-9_-]*"
_REF_RE = re.compile(rf"^({_IDENT})((?:\.{_IDENT})+)$")
_HASH_RE = re.compile(r"^hash\((.*)\)$", re.DOTALL)
_QUOTED_RE = re.compile(r"\s*'([^']*)'\s*(,|$)")


@dataclass(frozen=True)
class Ref:
    """A dotted reference such as ``needs.build.outputs.version``."""

    context: str
    parts: tuple[str, ...]

    def dotted(self) -> str:
        return ".".join((self.context, *self.parts))


@dataclass(frozen=True)
class HashCall:
    """``hash('a', 'b')``: a digest of the files matching the globs."""

    globs: tuple[str, ...]


Expr = Ref | HashCall


class TemplateSyntaxError(ValueError):
    """A ``${{ }}`` that is not a reference or a ``hash()`` call; ``offset`` is in the string."""

    def __init__(self, message: str, offset: int) -> None:
        self.offset = offset
        super().__init__(message)


def parse_expression(text: str, offset: int = 0) -> Expr:
    """Parse the inside of one ``${{ }}``."""
    body = text.strip()
    match = _HASH_RE.match(body)
    if match:
        globs = _parse_quoted_list(match.group(1), offset)
        if not globs:
            raise TemplateSyntaxError("hash() needs at least one quoted glob", offset)
        return HashCall(tuple(globs))
    match = _REF_RE.match(body)
    if not match:
        if re.fullmatch(_IDENT, body):
            raise TemplateSyntaxError(
                f'template "{body}" names no value: write "{body}.<name>"', offset
            )
        raise TemplateSyntaxError(
            f'template "{body}" is not a reference like "matrix.python" or a call like '
            "\"hash('requirements.txt')\"",
            offset,
        )
    context = match.group(1)
    parts = tuple(match.group(2)[1:].split("."))
    return Ref(context, parts)


def _parse_quoted_list(text: str, offset: int) -> list[str]:
    items: list[str] = []
    pos = 0
    rest = text.strip()
    while rest[pos:].strip():
        match = _QUOTED_RE.match(rest, pos)
        if not match:
            raise TemplateSyntaxError(
                "hash() takes single-quoted globs separated by commas", offset
            )
        items.append(match.group(1))
        pos = match.end()
    return items


def split_template(text: str) -> list[str | Expr]:
    """Split a string into literal text and parsed expressions, in order."""
    return [part for _, part in split_template_spans(text)]


def split_template_spans(text: str) -> list[tuple[int, str | Expr]]:
    """``split_template`` with the offset in ``text`` where each part starts.

    The offset of an expression is that of its ``${{``, so a diagnostic can point at it.
    """
    out: list[tuple[int, str | Expr]] = []
    pos = 0
    for match in TEMPLATE_RE.finditer(text):
        if match.start() > pos:
            literal = text[pos : match.start()]
            if "${{" in literal:
                raise TemplateSyntaxError(_UNCLOSED, pos + literal.index("${{"))
            out.append((pos, literal))
        out.append((match.start(), parse_expression(match.group(1), match.start())))
        pos = match.end()
    if pos < len(text):
        literal = text[pos:]
        if "${{" in literal:
            raise TemplateSyntaxError(_UNCLOSED, pos + literal.index("${{"))
        out.append((pos, literal))
    return out


_UNCLOSED = 'unclosed "${{": templates end with "}}"'


def has_template(text: str) -> bool:
    return "${{" in text


def expressions(text: str) -> list[Expr]:
    """The expressions used in ``text`` (empty when it has none)."""
    if "${{" not in text:
        return []
    return [p for p in split_template(text) if not isinstance(p, str)]
