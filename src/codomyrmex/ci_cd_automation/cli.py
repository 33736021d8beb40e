"""The ``cicd`` command.

Exit codes are part of the interface: 0 success; 1 a failure of the work itself (for
``generate --check``: files differ); 2 bad input (invalid pipeline, unknown option, an
unreadable file), with one diagnostic line per problem on stderr. No traceback reaches
the user unless ``--debug`` is given. Files are written only after every output has been
rendered, each one atomically (temporary file, then rename), so an error never leaves a
half-written workflow behind.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import traceback
from collections.abc import Sequence
from pathlib import Path

from .errors import CICDError, PipelineValidationError
from .model.loader import load_pipeline
from .model.schema import pipeline_json_schema
from .translators import render

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cicd",
        description="Write a CI pipeline once; generate GitHub Actions and GitLab CI files.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    validate = sub.add_parser("validate", help="check pipeline files and print every problem")
    validate.add_argument("files", nargs="+", metavar="PIPELINE")

    generate = sub.add_parser("generate", help="write the native CI files of a pipeline")
    generate.add_argument("file", metavar="PIPELINE")
    generate.add_argument("--target", choices=("github", "gitlab", "all"), default="all")
    generate.add_argument("--out", default=".", metavar="DIR", help="repository root to write into")
    generate.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 when the files on disk differ from the generated ones",
    )

    sub.add_parser("schema", help="print the JSON Schema of pipeline files")
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("codomyrmex-ci-cd")
    except PackageNotFoundError:
        return "unknown"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``cicd`` console script; returns the exit code."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # usage errors (exit 2) and --help (exit 0) print themselves
        return exc.code if isinstance(exc.code, int) else EXIT_BAD_INPUT
    try:
        if args.command == "validate":
            return _validate(args.files)
        if args.command == "generate":
            return _generate(args.file, args.target, Path(args.out), args.check)
        if args.command == "schema":
            return _schema()
    except PipelineValidationError as exc:
        for diagnostic in exc.diagnostics:
            print(diagnostic.format(), file=sys.stderr)
        return EXIT_BAD_INPUT
    except CICDError as exc:
        print(f"cicd: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except OSError as exc:
        reason = str(exc.strerror or exc)
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"cicd: {where}{reason[:1].lower()}{reason[1:]}", file=sys.stderr)
        # An --out that is a file or cannot be created is bad input; a full disk is not.
        bad_path = isinstance(exc, NotADirectoryError | FileExistsError | PermissionError)
        return EXIT_BAD_INPUT if bad_path else EXIT_FAILED
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if args.debug:
            traceback.print_exc()
        print(
            f"cicd: internal error: {type(exc).__name__}: {exc} (run with --debug for details)",
            file=sys.stderr,
        )
        return EXIT_FAILED
    return EXIT_BAD_INPUT


def _validate(files: Sequence[str]) -> int:
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
        print(f"{name}: ok ({_count(stages, 'stage')}, {_count(jobs, 'job')})")
    return status


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _generate(file: str, target: str, out: Path, check: bool) -> int:
    pipeline = load_pipeline(file)
    rendering = render(pipeline, target)
    for loss in rendering.losses:
        print(loss.format(pipeline.source))
    if check:
        stale = False
        for rel, text in sorted(rendering.files.items()):
            on_disk = _read_or_none(out / rel)
            if on_disk != text:
                state = "out of date" if (out / rel).exists() else "missing"
                again = f"cicd generate {file}" + (f" --out {out}" if out != Path(".") else "")
                print(f"{out / rel}: {state}; run {again}", file=sys.stderr)
                stale = True
        return EXIT_FAILED if stale else EXIT_OK
    for rel, text in sorted(rendering.files.items()):
        _write_atomic(out / rel, text)
        print(f"wrote {out / rel}", file=sys.stderr)
    return EXIT_OK


def _read_or_none(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _schema() -> int:
    print(json.dumps(pipeline_json_schema(), indent=2, sort_keys=True))
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
