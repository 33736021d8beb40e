"""``cicd generate`` and ``cicd schema``: the native CI files of a pipeline, and the schema.

Every file is rendered before any is written, so an error never leaves a half-written set;
``--check`` writes nothing and exits 1 when a file is missing or differs.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ..model.loader import load_pipeline
from ..model.schema import pipeline_json_schema
from ..translators import render
from .shared import EXIT_FAILED, EXIT_OK, read_or_none, write_atomic


def generate(file: str, target: str, out: Path, check: bool) -> int:
    pipeline = load_pipeline(file)
    rendering = render(pipeline, target)
    for loss in rendering.losses:
        print(loss.format(pipeline.source))
    if check:
        stale = False
        for rel, text in sorted(rendering.files.items()):
            on_disk = read_or_none(out / rel)
            if on_disk != text:
                state = "out of date" if (out / rel).exists() else "missing"
                again = f"cicd generate {file}" + (f" --out {out}" if out != Path(".") else "")
                print(f"{out / rel}: {state}; run {again}", file=sys.stderr)
                stale = True
        return EXIT_FAILED if stale else EXIT_OK
    for rel, text in sorted(rendering.files.items()):
        write_atomic(out / rel, text)
        print(f"wrote {out / rel}", file=sys.stderr)
    return EXIT_OK


def schema() -> int:
    print(json.dumps(pipeline_json_schema(), indent=2, sort_keys=True))
    return EXIT_OK
