"""Reading pipeline files and data into a validated ``Pipeline``.

Everything from outside passes here once; the caller gets a ``Pipeline`` or one
``PipelineValidationError`` with every problem, positioned and sorted. No ruamel or pydantic
exception escapes. See docs/model.md (reading a file).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..errors import PipelineValidationError
from . import yaml_reader
from .diagnostics import Diagnostic, sorted_diagnostics
from .diagnostics import Path as ModelPath
from .messages import describe_value, diagnostics_from_validation_error, position_diagnostics
from .pipeline import Pipeline, PipelineSpec
from .rules import run_rules
from .source import SourceMap, key_text
from .yaml_reader import YamlReadError, to_plain

MAX_FILE_BYTES = 50 * 1024 * 1024
_VERSION_LIKE = re.compile(r"^[0-9]+\.[0-9]+$")


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
    try:
        docs, problems = yaml_reader.load(text, name, names_as_keys=True, strict=True, single=True)
    except YamlReadError as exc:
        raise PipelineValidationError([exc.diagnostic]) from None
    if problems:
        raise PipelineValidationError(sorted_diagnostics(problems))
    tree = docs[0]
    return to_plain(tree), SourceMap(name, tree, text)


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
