"""The JSON Schema of pipeline files, derived from the pydantic models, never hand-written.

It closes what pydantic's schema leaves open, so it agrees with ``cicd validate`` on every
file's structure. See docs/model.md (the JSON Schema).
"""

from __future__ import annotations

from typing import Any

from .pipeline import IDENT_PATTERN, PipelineSpec

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def pipeline_json_schema() -> dict[str, Any]:
    """The JSON Schema of a pipeline file."""
    schema = PipelineSpec.model_json_schema(by_alias=True)
    _close_name_maps(schema)
    defs = schema.get("$defs", {})
    if "Matrix" in defs:
        defs["Matrix"]["propertyNames"] = {"pattern": IDENT_PATTERN}
    checkout = defs.get("CheckoutStep", {}).get("properties", {}).get("checkout")
    if checkout is not None and "$ref" in checkout:
        ref = checkout.pop("$ref")
        checkout["anyOf"] = [{"$ref": ref}, {"type": "null"}]
    return {"$schema": SCHEMA_DIALECT, "title": "codomyrmex-ci-cd pipeline", **schema}


def _close_name_maps(node: Any) -> None:
    if isinstance(node, dict):
        if "patternProperties" in node and "additionalProperties" not in node:
            node["additionalProperties"] = False
        for value in node.values():
            _close_name_maps(value)
    elif isinstance(node, list):
        for value in node:
            _close_name_maps(value)
