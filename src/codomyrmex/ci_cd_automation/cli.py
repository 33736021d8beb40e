"""The ``cicd`` command: its arguments, which command runs, and the exit code.

The one mapping from exceptions to exit codes (``EXIT_CODES``, part of the interface): 0 done;
1 the work failed (any other ``CICDError``); 2 bad input (``PipelineValidationError``,
``PipelineImportError``, ``UsageError``, argparse errors, ``OSError``); 3 any other exception, a
bug; 130 Ctrl-C. An error is one line on stderr; a traceback only with ``--debug``.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

from .commands.shared import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_OK,
)
from .errors import CICDError, PipelineImportError, PipelineValidationError, UsageError
from .literals import PROVIDERS

EXIT_CODES = f"""\
exit codes:
  {EXIT_OK}    the work was done
  {EXIT_FAILED}    the work failed: a failed run, files out of date, a provider error
  {EXIT_BAD_INPUT}    bad input: an invalid pipeline or CI file, a wrong flag, value or path
  {EXIT_INTERNAL}    an internal error of cicd (run with --debug to see where)
  {EXIT_INTERRUPTED}  interrupted (Ctrl-C)
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cicd",
        description="Write a CI pipeline once; generate GitHub Actions and GitLab CI files.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
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

    import_ = sub.add_parser(
        "import", help="read a native GitHub/GitLab CI file into a neutral pipeline file"
    )
    import_.add_argument("file", metavar="FILE")
    import_.add_argument(
        "-o", "--output", metavar="PIPELINE", help="write here instead of standard output"
    )
    import_.add_argument("--provider", choices=PROVIDERS, help="default: detected")

    translate = sub.add_parser(
        "translate", help="translate a native CI file to the other provider, via the model"
    )
    translate.add_argument("file", metavar="FILE")
    translate.add_argument("--to", required=True, choices=PROVIDERS, dest="target")
    translate.add_argument("--provider", choices=PROVIDERS, help="of FILE; default: detected")
    translate.add_argument(
        "--out", metavar="DIR", help="repository root to write into (default: print the file)"
    )
    translate.add_argument(
        "--strict", action="store_true", help="exit 1 when anything did not carry over exactly"
    )

    run = sub.add_parser(
        "run", help="run a pipeline on this machine (neutral file or native GitHub/GitLab file)"
    )
    run.add_argument("file", metavar="PIPELINE")
    run.add_argument(
        "--event",
        choices=("push", "pull_request", "schedule", "manual", "tag"),
        default="push",
        help="the simulated event (default: push; tag = a push of --tag)",
    )
    run.add_argument("--branch", metavar="B", help="default: the checked-out git branch")
    run.add_argument("--tag", metavar="T", help="simulate a push of this tag")
    run.add_argument("--base", metavar="B", help="a pull request's target branch (default main)")
    run.add_argument("--input", action="append", default=[], metavar="K=V", help="manual input")
    run.add_argument(
        "--var", action="append", default=[], metavar="K=V", help="override a pipeline variable"
    )
    run.add_argument(
        "--env-file",
        metavar="FILE",
        help="KEY=VALUE lines: values of declared secrets; other keys become job variables",
    )
    run.add_argument("--jobs", type=int, metavar="N", help="jobs at once (default: CPU cores)")
    run.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="JOB",
        help="run this job and what it depends on (repeatable)",
    )
    run.add_argument("--dry-run", action="store_true", help="print the plan; run nothing")
    run.add_argument("--json", action="store_true", help="print the result as one JSON object")
    run.add_argument("--project-dir", metavar="DIR", help="default: the git work tree here")
    run.add_argument("--environment", default="development", help="target environment name")
    run.add_argument(
        "--timeout", type=float, metavar="SECONDS", help="cancel the run after this long"
    )
    run.add_argument(
        "--keep-workspaces", action="store_true", help="keep .cicd/runs/<id>/work for inspection"
    )
    run.add_argument(
        "--provider", choices=PROVIDERS, help="of a native PIPELINE; default: detected"
    )

    for name, helptext in (
        (
            "plan",
            "compare the generated files with a repository's branch (create/update/unchanged)",
        ),
        ("sync", "commit the generated files to a repository as one commit (or a pull request)"),
    ):
        remote = sub.add_parser(name, help=helptext)
        remote.add_argument("file", metavar="PIPELINE")
        _remote_flags(remote, ("github", "gitlab", "both"))
        remote.add_argument("--branch", metavar="B", help="default: the default branch")
        if name == "sync":
            remote.add_argument("--message", "-m", metavar="TEXT", help="the commit message")
            remote.add_argument(
                "--pull-request",
                action="store_true",
                help="commit on a new branch and open a pull/merge request instead",
            )

    trigger = sub.add_parser("trigger", help="start a run of the synced pipeline on a provider")
    trigger.add_argument("file", metavar="PIPELINE")
    _remote_flags(trigger, ("github", "gitlab"))
    trigger.add_argument("--ref", metavar="R", help="branch or tag (default: the default branch)")
    trigger.add_argument("--input", action="append", default=[], metavar="K=V")
    for name, helptext in (
        ("status", "a provider run and its jobs, now"),
        ("watch", "follow a provider run until it ends; the exit code follows its result"),
        ("cancel", "ask the provider to cancel a run"),
        ("logs", "the log of a run's jobs (or of one job)"),
    ):
        cmd = sub.add_parser(name, help=helptext)
        cmd.add_argument("run", metavar="RUN", help="the provider's run (pipeline) id")
        _remote_flags(cmd, ("github", "gitlab"))
        if name == "watch":
            cmd.add_argument("--interval", type=_positive, default=5.0, metavar="S")
            cmd.add_argument("--timeout", type=float, metavar="S")
        if name == "logs":
            cmd.add_argument("--job", metavar="J", help="a job name or id")
        if name == "status":
            cmd.add_argument("--json", action="store_true")
    runs = sub.add_parser("runs", help="run history from the providers into the store")
    runs_sub = runs.add_subparsers(dest="runs_command", required=True, metavar="ACTION")
    pull = runs_sub.add_parser("pull", help="fetch runs (incrementally) into .cicd/state.db")
    _remote_flags(pull, ("github", "gitlab"))
    pull.add_argument("--since", metavar="AGE", help="e.g. 30d, 12h (default: since last pull)")
    pull.add_argument("--store", metavar="PATH", help="default: .cicd/state.db")

    audit = sub.add_parser(
        "audit", help="how much of the CI files under folders converts, and why not"
    )
    audit.add_argument("paths", nargs="+", metavar="DIR")
    audit.add_argument("--json", action="store_true", help="machine-readable report")
    return parser


def _remote_flags(parser: argparse.ArgumentParser, providers: tuple[str, ...]) -> None:
    parser.add_argument("--provider", required=True, choices=providers)
    parser.add_argument("--repo", metavar="OWNER/NAME", help="the GitHub repository")
    parser.add_argument("--project", metavar="GROUP/NAME", help="the GitLab project")
    parser.add_argument("--github-url", metavar="URL", help="GitHub API base URL (Enterprise)")
    parser.add_argument("--gitlab-url", metavar="URL", help="GitLab base URL (self-managed)")
    parser.add_argument(
        "--budget", type=int, metavar="N", help="most API requests to send per provider"
    )


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("codomyrmex-ci-cd")
    except PackageNotFoundError:
        return "unknown"


def _positive(text: str) -> float:
    """An argparse type: a number of seconds above zero."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``cicd`` console script; returns the exit code."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # usage errors (exit 2) and --help (exit 0) print themselves
        return exc.code if isinstance(exc.code, int) else EXIT_BAD_INPUT
    try:
        return _dispatch(args)
    except PipelineValidationError as exc:
        for diagnostic in exc.diagnostics:
            print(diagnostic.format(), file=sys.stderr)
        return EXIT_BAD_INPUT
    except (PipelineImportError, UsageError) as exc:
        print(f"cicd: {exc}", file=sys.stderr)
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
        return EXIT_INTERRUPTED
    except Exception as exc:
        # Input errors are UsageError; anything else (a bare ValueError included) is a bug.
        if args.debug:
            traceback.print_exc()
        print(
            f"cicd: internal error: {type(exc).__name__}: {exc} (run with --debug to see where)",
            file=sys.stderr,
        )
        return EXIT_INTERNAL


def _dispatch(args: argparse.Namespace) -> int:
    command = args.command
    if command == "validate":
        from .commands.validate import validate

        return validate(args.files)
    if command == "generate":
        from .commands.generate import generate

        return generate(args.file, args.target, Path(args.out), args.check)
    if command == "schema":
        from .commands.generate import schema

        return schema()
    if command == "import":
        from .commands.importing import import_

        return import_(args.file, args.output, args.provider)
    if command == "translate":
        from .commands.importing import translate

        out = Path(args.out) if args.out else None
        return translate(args.file, args.provider, args.target, out, args.strict)
    if command == "audit":
        from .commands.audit import audit

        return audit(args.paths, args.json)
    if command == "run":
        from .commands.run import run

        return run(args)
    if command in ("plan", "sync"):
        from .commands.sync import plan_or_sync

        return plan_or_sync(args)
    if command in ("trigger", "status", "watch", "cancel", "logs", "runs"):
        from .commands.runs import runs

        return runs(args)
    raise AssertionError(f"the parser knows the command {command!r}; nothing carries it out")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
