"""``cicd run``: run a pipeline on this machine, from a neutral or a native file.

Flags to ``RunOptions``, live progress (on stderr with ``--json``, so stdout holds the JSON
alone), then the summary, the plan or the JSON; exit code 1 when the run failed or was cancelled.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..literals import Provider
from ..local_runner.progress import LiveProgress, format_plan, format_summary
from ..local_runner.runner import RunOptions, run_local
from ..model.loader import load_pipeline
from ..model.pipeline import Pipeline
from ..translators.importing import import_pipeline
from .shared import EXIT_FAILED, EXIT_OK, key_values, provider_flag


def run(args: argparse.Namespace) -> int:
    pipeline = load_for_run(Path(args.file), provider_flag(args.provider))
    options = RunOptions(
        environment=args.environment,
        event=args.event,
        branch=args.branch,
        tag=args.tag,
        base=args.base,
        inputs=key_values("--input", args.input),
        variables=key_values("--var", args.var),
        jobs=args.jobs,
        only=tuple(args.only),
        dry_run=args.dry_run,
        timeout=args.timeout,
        project_dir=Path(args.project_dir) if args.project_dir else None,
        env_file=Path(args.env_file) if args.env_file else None,
        keep_workspaces=args.keep_workspaces,
    )
    stream = sys.stderr if args.json else sys.stdout
    progress = LiveProgress(stream)
    try:
        result = run_local(pipeline, options, None if args.dry_run else progress)
    finally:
        progress.close()
    if args.json:
        print(json.dumps(result.as_dict(), indent=2))
    elif args.dry_run:
        print(format_plan(result))
    else:
        print(format_summary(result))
    return EXIT_FAILED if result.failed else EXIT_OK


def load_for_run(path: Path, provider: Provider | None) -> Pipeline:
    """A neutral pipeline file, or a native one through its importer (notes on stderr)."""
    if provider is None and not _is_native_name(path):
        return load_pipeline(path)
    imported = import_pipeline(path, provider)
    for note in imported.notes:
        print(note.format(), file=sys.stderr)
    return imported.pipeline


def _is_native_name(path: Path) -> bool:
    parts = path.resolve().parts
    if ".github" in parts and "workflows" in parts:
        return True
    return path.name.endswith(".gitlab-ci.yml") or ".gitlab" in parts
