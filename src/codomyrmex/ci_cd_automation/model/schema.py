"""The JSON Schema of pipeline files, derived from the pydantic models.

Editors use it for completion and inline errors (``cicd schema > pipeline.schema.json``,
then point the YAML language server at it). It is generated, never hand-written, so it
cannot drift from what the loader accepts; the semantic rules of ``model.rules`` are not
expressible in JSON Schema and are only checked by ``cicd validate``.
"""

from __future__ import annotations

from typing import Any

from .pipeline import PipelineSpec

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def pipeline_json_schema() -> dict[str, Any]:
    """The JSON Schema of a pipeline file."""
    schema = PipelineSpec.model_json_schema(by_alias=True)
    return {"$schema": SCHEMA_DIALECT, "title": "codomyrmex-ci-cd pipeline", **schema}
