"""Pydantic's validation errors as diagnostics: one per error (one per value for a union).

Paths are cut back to the input data; the rule id comes from the error type.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
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
    URL_PATTERN,
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
    """Split a pydantic location into the part present in ``data`` and the rest.

    Pydantic's ``"[key]"`` marker (the error is about a mapping key, not its value) is kept
    in the rest, so callers can point at the key.
    """
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
        elif segment == "[key]":
            rest.append(segment)
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


_ANY = {"branches": "any branch", "tags": "any tag", "paths": "any path", "events": "any event"}
_ITEM_NAMES = {
    "stages": "stage",
    "jobs": "job",
    "steps": "step",
    "services": "service",
    "include": "matrix include entry",
    "exclude": "matrix exclude entry",
}


def _where(path: Path) -> str:
    """A short name of the thing at ``path`` for messages: job, stage, run step, config..."""
    names = [p for p in path if isinstance(p, str)]
    if not names:
        return "pipeline"
    last = names[-1]
    if path and isinstance(path[-1], int):
        return _ITEM_NAMES.get(last, f'an item of "{last}"')
    return f'"{last}"'


def _subject(path: Path) -> str:
    """What a "must be" message is about: ``"timeout"``, ``a stage``, ``an item of "paths"``."""
    names = [p for p in path if isinstance(p, str)]
    if not names:
        return "the pipeline"
    last = names[-1]
    if path and isinstance(path[-1], int):
        item = _ITEM_NAMES.get(last)
        return f"a {item}" if item else f'an item of "{last}"'
    return f'"{last}"'


def _join_expected(expected: list[str]) -> str:
    """``a string or a list``; ``a string, a number or a boolean`` for scalars."""
    items = list(dict.fromkeys(expected))
    if "a number" in items and "an integer" in items:
        items.remove("an integer")
    if len(items) > 1 and "true or false" in items:
        items[items.index("true or false")] = "a boolean"
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + " or " + items[-1]


def _found(value: Any, position: tuple[int, int] | None, source: SourceMap | None) -> str:
    """``describe_value``, showing a float as written (``3.10``, not ``3.1``) when known."""
    if isinstance(value, float) and position is not None and source is not None:
        written = source.token_at(*position)
        try:
            if written and float(written.replace("_", "")) == value:
                return f"number {written}"
        except ValueError:
            pass
    return describe_value(value)


def _is_error_under(path: Path, other: Path) -> bool:
    return len(other) > len(path) and other[: len(path)] == path


def diagnostics_from_validation_error(
    exc: ValidationError,
    data: Any,
    root: type[BaseModel],
    source: SourceMap | None,
) -> list[Diagnostic]:
    """Turn every pydantic error into a positioned diagnostic.

    Pydantic reports more than one error for one mistake in two cases, cut here: a union
    reports a type error for each member that did not match even when the value plainly
    meant another member (``environment: {nme: x}`` is not "expected a string"), and a
    ``min_length`` list whose items failed is also reported "too short".
    """
    merged: dict[Path, dict[str, Any]] = {}
    out: list[Diagnostic] = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        path, rest = data_path(data, loc)
        kind = err["type"]
        if kind in ("too_short", "string_too_short") and _long_enough(err):
            continue  # the items failed, not the length: they have their own errors
        if kind in _EXPECTED and (not rest or rest == ["[key]"]):
            slot = merged.setdefault(
                path, {"expected": [], "input": err["input"], "key": bool(rest)}
            )
            slot["expected"].append(_EXPECTED[kind])
            continue
        out.append(_one(err, kind, loc, path, rest, data, root, source))
    for path, slot in merged.items():
        shadowed = any(
            (d.path == path and not d.at_key) or _is_error_under(path, d.path) for d in out
        ) or any(_is_error_under(path, other) for other in merged)
        if shadowed:
            continue  # a union member matched the value's shape and reported the real error
        out.append(_type_diagnostic(path, slot, source))
    return out


def _long_enough(err: Any) -> bool:
    value, ctx = err["input"], err.get("ctx") or {}
    minimum = ctx.get("min_length")
    return (
        isinstance(value, list | tuple | dict | str)
        and minimum is not None
        and len(value) >= int(minimum)
    )


def _type_diagnostic(path: Path, slot: dict[str, Any], source: SourceMap | None) -> Diagnostic:
    value = slot["input"]
    expected = _join_expected(slot["expected"])
    position = source.position(path, key=slot["key"]) if source else None
    found = _found(value, position, source)
    hints: tuple[str, ...] = ()
    if slot["key"]:
        message = f"{_where(path[:-1])} keys must be strings, found {found}"
    else:
        message = f"{_subject(path)} must be {expected}, found {found}"
        if "a string" in slot["expected"] and isinstance(value, int | float):
            hints = (f'quote it to make it a string: "{found.removeprefix("number ")}"',)
        elif path and path[-1] == "timeout" and isinstance(value, str):
            hints = ("timeouts are in seconds",)
    diag = Diagnostic(message, "wrong-type", path, hints=hints, at_key=slot["key"])
    return _positioned(diag, source)


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
    key = bool(rest and rest[-1] == "[key]")
    if kind == "extra_forbidden":
        name = str(loc[-1])
        allowed = _keys_of(_model_at(root, loc[:-1]))
        hints = _did_you_mean(name, allowed)
        where = _where(path[:-1]) if path and path[-1] == name else _where(path)
        message, rule, key = f'unknown key "{name}" in {where}', "unknown-key", True
        if path and path[-1] != name:
            path = (*path, name)
    elif kind == "missing":
        name = str(rest[0]) if rest else field
        message, rule = f'{_where(path)} is missing required key "{name}"', "missing-key"
    elif kind == "literal_error" and key:
        # A mapping whose keys are a closed set (permissions): an unknown key, as in a model.
        allowed = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        hints = _did_you_mean(str(value), allowed) or (f"use one of {', '.join(allowed)}",)
        message, rule = f'unknown key "{value}" in {_where(path[:-1])}', "unknown-key"
    elif kind == "literal_error":
        expected = str(ctx.get("expected", "")).replace("'", '"')
        message = f'"{field}" must be one of {expected}, found {describe_value(value)}'
        rule = "invalid-value"
    elif kind == "string_pattern_mismatch":
        pattern = ctx.get("pattern", "")
        if pattern in _PATTERN_HINTS:
            message, rule = f'invalid name "{value}"', "invalid-name"
            hints = (_PATTERN_HINTS[pattern],)
        elif pattern == DURATION_PATTERN:
            message = f'"{field}" must be a duration like 30m, 12h, 7d or 2w, found "{value}"'
            rule = "invalid-value"
        elif pattern == URL_PATTERN:
            message = f'"url" must start with http:// or https:// and name a host, found "{value}"'
            rule = "invalid-value"
        elif "@" in pattern:
            message = (
                f'"uses" must be owner/repo@ref, owner/repo/path@ref, ./path or '
                f'docker://image, found "{value}"'
            )
            rule = "invalid-value"
        else:
            message = (
                f'invalid cron schedule "{value}": expected five fields separated by spaces, '
                'such as "0 3 * * 1"'
            )
            rule = "invalid-value"
    elif kind == "step-kind":
        kinds = [k for k in STEP_KINDS if isinstance(value, dict) and k in value]
        if len(kinds) > 1:
            message = f"a step has more than one kind ({', '.join(kinds)})"
        elif isinstance(value, dict):
            message = "a step has no kind"
        else:
            message = f"a step must be a mapping, found {describe_value(value)}"
        others = [k for k in value if isinstance(k, str)] if isinstance(value, dict) else []
        close = [(k, m) for k in others for m in _SYNONYMS.get(k, ()) if m in STEP_KINDS]
        close += [(k, m) for k in others for m in difflib.get_close_matches(k, STEP_KINDS, 1, 0.7)]
        if not kinds and close:
            # Point at the misspelt kind, not at the step.
            hints, path, key = (f'did you mean "{close[0][1]}"?',), (*path, close[0][0]), True
        else:
            hints = ("use exactly one of " + ", ".join(STEP_KINDS),)
        rule = "step-kind"
    elif kind in ("too_short", "string_too_short"):
        message = f'"{field}" must not be empty'
        rule = "invalid-value"
        if kind == "too_short" and field in _ANY:
            hints = (f'leave "{field}" out to match {_ANY[field]}',)
    elif kind in ("too_long", "string_too_long"):
        limit = ctx.get("max_length", "?")
        unit = "characters" if kind == "string_too_long" else "items"
        message = f'"{field}" must be at most {limit} {unit} long, found {len(value)}'
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
        # A model validator can only fail the whole model; "at" names the key it is about.
        at, here = ctx.get("at"), data_at(data, path)
        if isinstance(at, str) and isinstance(here, dict) and at in here:
            path, key = (*path, at), bool(ctx.get("at_key"))
    else:
        message, rule = f"{_subject(path)} {_pydantic_words(err['msg'])}", "invalid-value"
        message += f", found {describe_value(value)}"
    diag = Diagnostic(message, rule, path, hints=hints, at_key=key)
    return _positioned(diag, source)


# Provider words people carry over, and the neutral keys that mean the same, by place.
_SYNONYMS = {
    "script": ("run", "steps"),
    "before_script": ("steps",),
    "workdir": ("working_directory",),
    "cwd": ("working_directory",),
    "if": ("when",),
    "rules": ("when",),
    "only": ("when",),
    "container": ("image",),
    "variables": ("env",),
    "strategy": ("matrix",),
    "parallel": ("matrix",),
    "depends_on": ("needs",),
    "stage": ("dependencies", "needs"),
}


def _did_you_mean(name: str, known: Sequence[str]) -> tuple[str, ...]:
    synonyms = _SYNONYMS.get(name.replace("-", "_"))
    if synonyms is not None:
        # A provider word: suggest its neutral key here, or nothing (a near spelling of a
        # provider word is not what was meant).
        match = next((s for s in synonyms if s in known), None)
        return (f'did you mean "{match}"?',) if match else ()
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    if not close:
        close = difflib.get_close_matches(name.replace("-", "_"), list(known), n=1, cutoff=0.6)
    return (f'did you mean "{close[0]}"?',) if close else ()


def _pydantic_words(msg: str) -> str:
    """Pydantic's "Input should be a valid date, input is too short" as "must be a valid date"."""
    text = re.sub(r"^Value error,\s*", "", msg).split(",")[0].strip()
    text = re.sub(r"^Input should be", "must be", text)
    return (text[:1].lower() + text[1:]).replace("'", '"')


def data_at(data: Any, path: Path) -> Any:
    """The value at a data path (``None`` when absent)."""
    node = data
    for segment in path:
        try:
            node = node[segment]
        except (KeyError, IndexError, TypeError):
            return None
    return node


def _positioned(diag: Diagnostic, source: SourceMap | None) -> Diagnostic:
    if source is None:
        return diag
    pos = source.position(diag.path, key=diag.at_key, offset=diag.offset)
    line, column = pos if pos else (None, None)
    return dataclasses.replace(diag, file=source.file, line=line, column=column)


def position_diagnostics(diags: Sequence[Diagnostic], source: SourceMap | None) -> list[Diagnostic]:
    """Attach file positions to diagnostics that only carry a model path."""
    return [_positioned(d, source) for d in diags]
