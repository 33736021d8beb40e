"""``cicd validate``: every problem of each pipeline file; exit code 2 when any has one."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from ..errors import PipelineValidationError
from ..model.loader import load_pipeline
from .shared import EXIT_BAD_INPUT, EXIT_OK, count


def validate(files: Sequence[str]) -> int:
    status = EXIT_OK
    for name in files:
        try:
            pipeline = load_pipeline(name)
        except PipelineValidationError as exc:
            for diagnostic in exc.diagnostics:
                print(diagnostic.format(), file=sys.stderr)
            status = EXIT_BAD_INPUT
            continue
        jobs = sum(len(s.jobs) for s in pipeline.stages)
        stages = len(pipeline.stages)
        print(f"{name}: ok ({count(stages, 'stage')}, {count(jobs, 'job')})")
    return status
