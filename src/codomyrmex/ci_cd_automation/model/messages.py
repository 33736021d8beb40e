"""Pydantic's validation errors, rewritten as the project's diagnostics.

Pydantic reports locations in model terms (with union members and tags in the path) and
in its own words. This module turns each error into one ``Diagnostic``: the path is cut
back to the parts that exist in the input data, so it maps to a line and column; the
message says what was found and what was expected, with a "did you mean" for unknown keys;
and the rule id is chosen from the error type. Several errors of the members of one union
on the same value become one diagnostic listing every accepted type.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ValidationError

from .diagnostics import Diagnostic, Path
from .pipeline import (
    DURATION_PATTERN,
    IDENT_PATTERN,
    JOB_NAME_PATTERN,
    NAME_PATTERN,
    STEP_KINDS,
    step_kind,
)
from .source import SourceMap

_EXPECTED = {
    "string_type": "a string",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "tuple_type": "a list",
    "list_type": "a list",
    "none_required": "null",
}

_PATTERN_HINTS = {
    NAME_PATTERN: "use letters, digits, '.', '_' and '-'",
    JOB_NAME_PATTERN: "start with a letter or '_', then letters, digits, '_' and '-'",
    IDENT_PATTERN: "start with a letter or '_', then letters, digits and '_'",
}


def describe_value(value: Any) -> str:
    """How a found value reads in a message: ``string "abc"``, ``a mapping``, ``null``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return f"number {value}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f'string "{shown}"'
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return type(value).__name__


def data_path(data: Any, loc: Sequence[str | int]) -> tuple[Path, list[str | int]]:
    """Split a pydantic location into the part present in ``data`` and the rest."""
    present: list[str | int] = []
    rest: list[str | int] = []
    node = data
    for segment in loc:
        if rest:
            rest.append(segment)
            continue
        if (isinstance(node, dict) and segment in node) or (
            isinstance(node, list) and isinstance(segment, int) and 0 <= segment < len(node)
        ):
            node = node[segment]  # type: ignore[index]
            present.append(segment)
        elif isinstance(segment, str) and _is_union_label(segment):
            continue  # a union tag or member name: not part of the file
        else:
            rest.append(segment)
    return tuple(present), rest


_TYPE_LABELS = {"str", "int", "float", "bool", "tuple", "dict", "list", "none"}


def _is_union_label(segment: str) -> bool:
    """Pydantic names union members in locations ("str", "tuple[str, ...]", "constrained-str",
    "EnvironmentSpec", our "run-step" tags); file keys are snake_case and never look so."""
    return segment in _TYPE_LABELS or "[" in segment or "-" in segment or segment[:1].isupper()


def _model_at(root: type[BaseModel], loc: Sequence[str | int]) -> type[BaseModel] | None:
    """The model class that the location ``loc`` (a pydantic loc prefix) points into."""
    current: Any = root
    for segment in loc:
        current = _unwrap(current, segment)
        if current is None:
            return None
    model = _first_model(current)
    return model


def _unwrap(annotation: Any, segment: str | int) -> Any:
    model = _first_model(annotation, tag=segment if isinstance(segment, str) else None)
    if isinstance(segment, str) and segment.endswith("-step"):
        return model
    if model is not None and isinstance(segment, str) and segment in model.model_fields:
        return model.model_fields[segment].annotation
    if model is not None and isinstance(segment, str):
        for field in model.model_fields.values():
            if field.alias == segment:
                return field.annotation
    for arg in _args(annotation):
        origin = typing.get_origin(arg)
        if origin in (tuple, list) and isinstance(segment, int):
            inner = typing.get_args(arg)
            return inner[0] if inner else None
        if origin is dict and isinstance(segment, str):
            inner = typing.get_args(arg)
            return inner[1] if len(inner) == 2 else None
    return None


def _args(annotation: Any) -> list[Any]:
    """Flatten Annotated and unions into their member types."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _args(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        out: list[Any] = []
        for arg in typing.get_args(annotation):
            out.extend(_args(arg))
        return out
    return [annotation]


def _first_model(annotation: Any, tag: str | None = None) -> type[BaseModel] | None:
    models = [a for a in _args(annotation) if isinstance(a, type) and issubclass(a, BaseModel)]
    if tag is not None and tag.endswith("-step"):
        for model in models:
            if step_kind(model.model_construct()) == tag:
                return model
        return None
    return models[0] if models else None


def _keys_of(model: type[BaseModel] | None) -> list[str]:
    if model is None:
        return []
    return [f.alias or name for name, f in model.model_fields.items()]


def _where(path: Path) -> str:
    """A short name of the thing at ``path`` for messages: job, stage, run step, config..."""
    names = [p for p in path if isinstance(p, str)]
    if not names:
        return "pipeline"
    last = names[-1]
    if path and isinstance(path[-1], int):
        return {"stages": "stage", "jobs": "job", "steps": "step", "services": "service"}.get(
            last, last
        )
    return f'"{last}"'


def diagnostics_from_validation_error(
    exc: ValidationError,
    data: Any,
    root: type[BaseModel],
    source: SourceMap | None,
) -> list[Diagnostic]:
    """Turn every pydantic error into a positioned diagnostic."""
    merged: dict[tuple[Path, str], dict[str, Any]] = {}
    out: list[Diagnostic] = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        path, rest = data_path(data, loc)
        kind = err["type"]
        if kind in _EXPECTED and not rest:
            slot = merged.setdefault((path, "type"), {"expected": [], "input": err["input"]})
            if _EXPECTED[kind] not in slot["expected"]:
                slot["expected"].append(_EXPECTED[kind])
            continue
        out.append(_one(err, kind, loc, path, rest, data, root, source))
    for (path, _), slot in merged.items():
        field = next((p for p in reversed(path) if isinstance(p, str)), "value")
        expected = " or ".join(slot["expected"])
        message = f'"{field}" expects {expected}, found {describe_value(slot["input"])}'
        out.append(_positioned(Diagnostic(message, "wrong-type", path), source, key=False))
    return out


def _one(
    err: Any,
    kind: str,
    loc: tuple[str | int, ...],
    path: Path,
    rest: list[str | int],
    data: Any,
    root: type[BaseModel],
    source: SourceMap | None,
) -> Diagnostic:
    ctx = err.get("ctx") or {}
    value = err["input"]
    field = next((p for p in reversed(path) if isinstance(p, str)), "value")
    hints: tuple[str, ...] = ()
    key = False
    if kind == "extra_forbidden":
        name = str(loc[-1])
        allowed = _keys_of(_model_at(root, loc[:-1]))
        close = difflib.get_close_matches(name, allowed, n=1, cutoff=0.6)
        hints = (f'did you mean "{close[0]}"?',) if close else ()
        where = _where(path[:-1]) if path and path[-1] == name else _where(path)
        message, rule, key = f'unknown key "{name}" in {where}', "unknown-key", True
        if path and path[-1] != name:
            path = (*path, name)
    elif kind == "missing":
        name = str(rest[0]) if rest else field
        message, rule = f'{_where(path)} is missing required key "{name}"', "missing-key"
    elif kind == "literal_error":
        expected = str(ctx.get("expected", "")).replace("'", '"')
        message = f'"{field}" must be one of {expected}, found {describe_value(value)}'
        rule = "invalid-value"
    elif kind == "string_pattern_mismatch":
        pattern = ctx.get("pattern", "")
        if pattern in _PATTERN_HINTS:
            key = bool(rest and rest[-1] == "[key]")
            message, rule = f'invalid name "{value}"', "invalid-name"
            hints = (_PATTERN_HINTS[pattern],)
        elif pattern == DURATION_PATTERN:
            message = f'"{field}" must be a duration like 30m, 12h, 7d or 2w, found "{value}"'
            rule = "invalid-value"
        elif "@" in pattern:
            message = (
                f'"uses" must be owner/repo@ref, owner/repo/path@ref, ./path or '
                f'docker://image, found "{value}"'
            )
            rule = "invalid-value"
        else:
            message = f'invalid cron schedule "{value}": expected five fields'
            rule = "invalid-value"
    elif kind == "step-kind":
        kinds = [k for k in STEP_KINDS if isinstance(value, dict) and k in value]
        if len(kinds) > 1:
            message = f"a step has more than one kind ({', '.join(kinds)})"
        elif isinstance(value, dict):
            message = "a step has no kind"
        else:
            message = f"a step must be a mapping, found {describe_value(value)}"
        hints = ("use exactly one of " + ", ".join(STEP_KINDS),)
        rule = "step-kind"
    elif kind in ("too_short", "string_too_short"):
        message = f'"{field}" must not be empty'
        rule = "invalid-value"
    elif kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        bound = next(iter(ctx.values()), "?")
        words = {
            "greater_than": "greater than",
            "greater_than_equal": "at least",
            "less_than": "less than",
            "less_than_equal": "at most",
        }[kind]
        message = f'"{field}" must be {words} {bound}, found {describe_value(value)}'
        rule = "invalid-value"
    elif "-" in kind:  # our own PydanticCustomError types are rule ids
        message, rule = err["msg"], kind
    else:
        message, rule = f'"{field}": {err["msg"][:1].lower()}{err["msg"][1:]}', "invalid-value"
    return _positioned(Diagnostic(message, rule, path, hints=hints), source, key=key)


def _positioned(diag: Diagnostic, source: SourceMap | None, *, key: bool) -> Diagnostic:
    if source is None:
        return diag
    pos = source.position(diag.path, key=key)
    line, column = pos if pos else (None, None)
    return Diagnostic(diag.message, diag.rule, diag.path, source.file, line, column, diag.hints)


def position_diagnostics(diags: Sequence[Diagnostic], source: SourceMap | None) -> list[Diagnostic]:
    """Attach file positions to diagnostics that only carry a model path."""
    return [_positioned(d, source, key=d.rule in {"unknown-key", "duplicate-job"}) for d in diags]
