"""Reading pipeline files and data into a validated ``Pipeline``.

Everything from the outside world passes here once: bytes are decoded strictly as UTF-8,
YAML is parsed by ruamel's round-trip loader (which keeps line and column of every node),
alias expansion is measured before anything is copied (a "billion laughs" file fails at
once instead of eating memory), the tree is turned into plain Python values, validated by
the pydantic models and then by the semantic rules. Every problem becomes a positioned
``Diagnostic``; the caller gets either a ``Pipeline`` or one ``PipelineValidationError``
holding all of them, sorted. No ruamel or pydantic exception escapes this module.
"""

from __future__ import annotations

import datetime as _dt
import re
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.constructor import DuplicateKeyError
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from ..errors import PipelineValidationError
from .diagnostics import Diagnostic, sorted_diagnostics
from .messages import diagnostics_from_validation_error, position_diagnostics
from .pipeline import Pipeline, PipelineSpec
from .rules import run_rules
from .source import SourceMap

# A file may reuse nodes through aliases, but not blow up: past this many nodes after
# expansion (or this many times the nodes actually written) it is refused.
MAX_EXPANDED_NODES = 2_000_000
MAX_EXPANSION_FACTOR = 50
MAX_FILE_BYTES = 50 * 1024 * 1024


def read_yaml_file(path: str | Path, *, display: str | None = None) -> tuple[Any, SourceMap]:
    """Read a YAML or JSON file into plain Python data and its source map."""
    name = display or str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise PipelineValidationError(
            [Diagnostic(f"cannot read file: {exc.strerror or exc}", "file-read", file=name)]
        ) from exc
    return parse_yaml_bytes(raw, name)


def parse_yaml_bytes(raw: bytes, name: str) -> tuple[Any, SourceMap]:
    """Decode and parse; raise ``PipelineValidationError`` with a positioned line on failure."""
    if len(raw) > MAX_FILE_BYTES:
        raise PipelineValidationError(
            [Diagnostic(f"file is larger than {MAX_FILE_BYTES} bytes", "file-size", file=name)]
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise PipelineValidationError(
            [
                Diagnostic(
                    f"file is not valid UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start})",
                    "yaml-encoding",
                    file=name,
                    line=line,
                    column=column,
                )
            ]
        ) from None
    return parse_yaml_text(text.removeprefix("\ufeff"), name)


def parse_yaml_text(text: str, name: str) -> tuple[Any, SourceMap]:
    """Parse YAML text; see ``parse_yaml_bytes``."""
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    try:
        tree = yaml.load(text)
    except DuplicateKeyError as exc:
        raise PipelineValidationError([_yaml_diag(exc, name, "yaml-duplicate-key")]) from None
    except MarkedYAMLError as exc:
        raise PipelineValidationError([_yaml_diag(exc, name, "yaml-syntax")]) from None
    except YAMLError as exc:
        raise PipelineValidationError(
            [Diagnostic(_first_line(str(exc)), "yaml-syntax", file=name, line=1, column=1)]
        ) from None
    except RecursionError:
        raise PipelineValidationError(
            [Diagnostic("YAML nesting is too deep", "yaml-syntax", file=name, line=1, column=1)]
        ) from None
    _check_expansion(tree, text, name)
    return to_plain(tree), SourceMap(name, tree)


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "invalid YAML"


def _yaml_diag(exc: MarkedYAMLError, name: str, rule: str) -> Diagnostic:
    mark = exc.problem_mark or exc.context_mark
    problem = (exc.problem or exc.context or "invalid YAML").strip()
    if rule == "yaml-duplicate-key":
        found = re.search(r'found duplicate key "(.*?)"', str(exc))
        problem = f'duplicate key "{found.group(1)}"' if found else "duplicate key"
    line = mark.line + 1 if mark is not None else 1
    column = mark.column + 1 if mark is not None else 1
    return Diagnostic(problem, rule, file=name, line=line, column=column)


def _check_expansion(tree: Any, text: str, name: str) -> None:
    """Refuse alias bombs and recursive aliases before expanding anything."""
    memo: dict[int, int] = {}
    in_progress: set[int] = set()
    unique = [0]

    def size(node: Any) -> int:
        if not isinstance(node, dict | list):
            return 1
        key = id(node)
        if key in memo:
            return memo[key]
        if key in in_progress:
            raise _Recursive
        in_progress.add(key)
        unique[0] += 1
        children = node.values() if isinstance(node, dict) else node
        total = 1
        for child in children:
            total += size(child)
            if total > MAX_EXPANDED_NODES:
                break
        in_progress.discard(key)
        memo[key] = total
        return total

    try:
        total = size(tree)
    except _Recursive:
        raise PipelineValidationError(
            [_alias_diag(text, name, "an alias refers to itself")]
        ) from None
    except RecursionError:
        raise PipelineValidationError(
            [Diagnostic("YAML nesting is too deep", "yaml-syntax", file=name, line=1, column=1)]
        ) from None
    if total > MAX_EXPANDED_NODES or total > MAX_EXPANSION_FACTOR * max(unique[0], 1000):
        raise PipelineValidationError(
            [
                _alias_diag(
                    text,
                    name,
                    f"aliases expand this file to more than {min(total, MAX_EXPANDED_NODES)} "
                    "nodes (an alias bomb?)",
                )
            ]
        )


class _Recursive(Exception):
    pass


def _alias_diag(text: str, name: str, message: str) -> Diagnostic:
    match = re.search(r"(?<![\w\"'])\*[^\s,\]}]+", text)
    line = column = 1
    if match:
        line = text.count("\n", 0, match.start()) + 1
        column = match.start() - (text.rfind("\n", 0, match.start()) + 1) + 1
    return Diagnostic(message, "yaml-alias-bomb", file=name, line=line, column=column)


def to_plain(node: Any) -> Any:
    """ruamel's round-trip types as plain dicts, lists, str, int, float, bool and None."""
    if isinstance(node, dict):
        return {to_plain_key(k): to_plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [to_plain(v) for v in node]
    if isinstance(node, bool) or node is None:
        return node
    if type(node).__name__ == "ScalarBoolean":
        return bool(node)
    if isinstance(node, str):
        return str(node)
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, _dt.date | _dt.datetime):
        return node.isoformat()
    return node


def to_plain_key(key: Any) -> Any:
    return str(key) if isinstance(key, str) else to_plain(key)


def pipeline_from_data(data: Any, source: SourceMap | None = None, **identity: Any) -> Pipeline:
    """Validate plain data (the content of a pipeline file) into a ``Pipeline``."""
    if not isinstance(data, dict):
        where = source.file if source else None
        found = "an empty file" if data is None else f"a {type(data).__name__}"
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
        pipeline = Pipeline.model_validate({**fields, **identity})
    diags = run_rules(pipeline)
    if diags:
        raise PipelineValidationError(sorted_diagnostics(position_diagnostics(diags, source)))
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
