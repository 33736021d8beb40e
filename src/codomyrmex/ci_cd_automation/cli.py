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
from typing import Any

from .errors import CICDError, PipelineImportError, PipelineValidationError
from .model.loader import load_pipeline
from .model.schema import pipeline_json_schema
from .translators import Loss, render
from .translators.importing import PROVIDERS, Imported, dump_neutral, import_pipeline

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
            cmd.add_argument("--interval", type=float, default=5.0, metavar="S")
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
        if args.command == "import":
            return _import(args.file, args.output, args.provider)
        if args.command == "translate":
            out = Path(args.out) if args.out else None
            return _translate(args.file, args.provider, args.target, out, args.strict)
        if args.command == "audit":
            return _audit(args.paths, args.json)
        if args.command == "run":
            return _run(args)
        if args.command in ("plan", "sync"):
            return _remote(args)
        if args.command in ("trigger", "status", "watch", "cancel", "logs", "runs"):
            from .backends.commands import run_command

            return run_command(args)
    except PipelineValidationError as exc:
        for diagnostic in exc.diagnostics:
            print(diagnostic.format(), file=sys.stderr)
        return EXIT_BAD_INPUT
    except PipelineImportError as exc:
        print(f"cicd: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except CICDError as exc:
        print(f"cicd: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except ValueError as exc:  # configuration errors (DESIGN.md): bad flags, env files, inputs
        print(f"cicd: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
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


def _import(file: str, output: str | None, provider: str | None) -> int:
    imported = import_pipeline(Path(file), provider)  # type: ignore[arg-type]
    for note in imported.notes:
        print(note.format(), file=sys.stderr)
    text = dump_neutral(imported)
    if output is None:
        sys.stdout.write(text)
        return EXIT_OK
    _write_atomic(Path(output), text)
    print(f"wrote {output} ({_count(len(imported.notes), 'note')})", file=sys.stderr)
    return EXIT_OK


def _translate(file: str, provider: str | None, target: str, out: Path | None, strict: bool) -> int:
    imported = import_pipeline(Path(file), provider)  # type: ignore[arg-type]
    rendering = render(imported.pipeline, target)
    report = [n.format() for n in _lost_notes(imported, target)]
    # The import notes already name each construct kept in the source provider's escape
    # hatch, one by one; the renderer's summary of those hatches would say it twice.
    hatch_rule = f"{imported.provider}-only"
    report += [
        f"{file}: {_loss_text(loss, imported)}"
        for loss in rendering.losses
        if loss.rule != hatch_rule
    ]
    for line in report:
        print(line, file=sys.stderr)
    if out is None:
        for rel, text in sorted(rendering.files.items()):
            if len(rendering.files) > 1:
                sys.stdout.write(f"# --- {rel}\n")
            sys.stdout.write(text)
    else:
        for rel, text in sorted(rendering.files.items()):
            _write_atomic(out / rel, text)
            print(f"wrote {out / rel}", file=sys.stderr)
    print(
        f"{file} -> {target}: {_count(len(report), 'construct')} did not carry over exactly",
        file=sys.stderr,
    )
    return EXIT_FAILED if strict and report else EXIT_OK


def _lost_notes(imported: Imported, target: str) -> list[Any]:
    """Import notes that matter for ``target``: all of them, unless it is the same provider,
    where what the escape hatch keeps comes back verbatim (only real changes count)."""
    if target != imported.provider:
        return list(imported.notes)
    return [n for n in imported.notes if "kept verbatim" not in n.message]


def _loss_text(loss: Loss, imported: Imported) -> str:
    """A rendering loss with the job named as in the native file, not by model indices."""
    text = loss.format()
    path = loss.path
    if len(path) >= 4 and path[0] == "stages" and path[2] == "jobs":
        stage, job = path[1], path[3]
        if not isinstance(stage, int) or not isinstance(job, int):
            return text
        try:
            name = imported.pipeline.stages[stage].jobs[job].name
        except IndexError:
            return text
        rest = "".join(f"[{k}]" if isinstance(k, int) else f".{k}" for k in path[4:])
        return f"{loss.target}: jobs.{name}{rest}: {loss.message} [{loss.rule}]"
    return text


def _audit(paths: Sequence[str], as_json: bool) -> int:
    from .audit import audit_paths

    report = audit_paths(paths)
    if as_json:
        print(json.dumps(report.as_json(), indent=2, sort_keys=True))
    else:
        print(report.format())
    return EXIT_OK


def _run(args: argparse.Namespace) -> int:
    from .local_runner.progress import LiveProgress, format_plan, format_summary
    from .local_runner.runner import RunOptions, run_local

    pipeline = _load_for_run(Path(args.file), args.provider)
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
    # With --json, standard output holds the JSON object only; progress goes to stderr.
    stream = sys.stderr if args.json else sys.stdout
    progress = LiveProgress(stream)
    try:
        result = run_local(pipeline, options, None if args.dry_run else progress)
    finally:
        progress.close()
    if args.json:
        print(json.dumps(result, indent=2))
    elif args.dry_run:
        print(format_plan(result))
    else:
        print(format_summary(result))
    return EXIT_FAILED if result["status"] in ("failed", "cancelled") else EXIT_OK


def _remote(args: argparse.Namespace) -> int:
    """``cicd plan`` / ``cicd sync`` on one or both providers."""
    from .backends.remote import open_backends

    pipeline = load_pipeline(args.file)
    trace = (lambda line: print(line, file=sys.stderr)) if args.debug else None
    backends = open_backends(
        args.provider,
        repo=args.repo,
        project=args.project,
        github_url=args.github_url,
        gitlab_url=args.gitlab_url,
        budget=args.budget,
        on_wait=lambda message: print(message, file=sys.stderr),
        trace=trace,
    )
    for provider, backend in backends:
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


def key_values(flag: str, items: Sequence[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"{flag} {item!r}: expected KEY=VALUE")
        out[key] = value
    return out


def _load_for_run(path: Path, provider: str | None) -> Any:
    """A neutral pipeline file, or a native one through its importer (notes on stderr)."""
    if provider is None and not _is_native_name(path):
        return load_pipeline(path)
    imported = import_pipeline(path, provider)  # type: ignore[arg-type]
    for note in imported.notes:
        print(note.format(), file=sys.stderr)
    return imported.pipeline


def _is_native_name(path: Path) -> bool:
    parts = path.resolve().parts
    if ".github" in parts and "workflows" in parts:
        return True
    return path.name.endswith(".gitlab-ci.yml") or ".gitlab" in parts


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
