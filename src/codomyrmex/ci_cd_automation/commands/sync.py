"""``cicd plan`` and ``cicd sync``: prints what ``Backend.plan`` and ``sync`` did."""

from __future__ import annotations

import argparse
import sys

from ..model.loader import load_pipeline
from ..translators import render
from .shared import EXIT_OK, open_from_flags


def plan_or_sync(args: argparse.Namespace) -> int:
    pipeline = load_pipeline(args.file)
    for provider, backend in open_from_flags(args):
        files = render(pipeline, provider).files
        plan = backend.plan(files, branch=args.branch)
        if args.command == "plan":
            sys.stdout.write(plan.format())
            continue
        message = args.message or f"cicd: sync CI files generated from {pipeline.name}"
        result = backend.sync(plan, message=message, pull_request=args.pull_request)
        if result.commit is None:
            print(f"{provider} {plan.target}@{plan.branch}: nothing to change")
            continue
        moved = " (the branch had moved; planned again)" if result.replanned else ""
        print(
            f"{provider} {plan.target}: committed {result.commit[:12]} on {result.branch}{moved}"
            + (f"; review: {result.pull_request_url}" if result.pull_request_url else "")
            + (f"; {result.url}" if result.url and not result.pull_request_url else "")
        )
    return EXIT_OK
