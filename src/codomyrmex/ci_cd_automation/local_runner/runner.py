"""One local run from start to end: plan, store, scheduler, executor, signals, the result.

The run is in the store before any job starts, and a run that cannot go on is closed by
``Store.mark_interrupted``; a dry run writes nothing; signals are handled only from the main
thread; every text of the ``RunResult`` is masked. See docs/local-runner.md.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, fields, is_dataclass, replace
from pathlib import Path
from typing import Any

from ..errors import PipelineExecutionError, UsageError
from ..literals import RunStatus
from ..model.pipeline import Pipeline
from ..store import NewJob, NewRun, RunFilter, Store
from . import scheduler as sched
from .event import simulate
from .executor import ExecutedJob, JobExecutor, RunContext, caller_environment, checks_out
from .git import git_output
from .masking import SecretMasker
from .plan import JobInstance, RunPlan, build_plan
from .result import Artifact, EventReport, JobResult, LocalReport, ResultStatus, RunResult
from .storage import CacheStore
from .workspace import Snapshot

STATE_DIR = ".cicd"
OWNER_FILE = "runner.pid"


class RunObserver:
    """Receives a run's progress; the CLI prints it, the Python API ignores it."""

    def planned(self, plan: RunPlan) -> None:
        """The plan is ready; nothing has run."""

    def run_started(self, run_id: str, run_dir: Path, workers: int) -> None:
        """The run is recorded and its first jobs are about to start."""

    def job_started(self, instance: JobInstance) -> None:
        """A job instance starts."""

    def job_finished(self, instance: JobInstance, entry: JobResult, reason: str | None) -> None:
        """A job instance ended (or was skipped or cancelled without running)."""


@dataclass(frozen=True)
class RunOptions:
    """The knobs of one local run (the CLI flags and ``run_pipeline`` keywords)."""

    environment: str = "development"
    event: str = "push"
    branch: str | None = None
    tag: str | None = None
    base: str | None = None
    inputs: Mapping[str, str] | None = None
    variables: Mapping[str, str] | None = None
    jobs: int | None = None
    only: Sequence[str] = ()
    dry_run: bool = False
    timeout: float | None = None
    project_dir: Path | None = None
    env_file: Path | None = None
    keep_workspaces: bool = False
    environ: Mapping[str, str] | None = None


def project_root(given: Path | None = None) -> Path:
    """``given``, else the git work tree holding the current directory, else the current one."""
    if given is not None:
        if not given.is_dir():
            raise UsageError(f"--project-dir {given}: not a directory")
        return given.resolve()
    top = (git_output(["rev-parse", "--show-toplevel"], Path.cwd()) or "").strip()
    return Path(top).resolve() if top else Path.cwd().resolve()


def read_env_file(path: Path) -> dict[str, str]:
    """``KEY=VALUE`` lines (``export`` prefix, quotes and ``#`` comments allowed).

    Raises:
        UsageError: a line is not an assignment (``FILE:LINE: ...``), or the file is unreadable.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"--env-file {path}: cannot read it ({exc})") from exc
    out: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :].lstrip()
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not key.replace("_", "a").isalnum() or key[0].isdigit():
            raise UsageError(f"{path}:{number}:1: expected KEY=VALUE, got {raw.strip()[:40]!r}")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        out[key] = value
    return out


def run_local(
    pipeline: Pipeline, options: RunOptions, observer: RunObserver | None = None
) -> RunResult[LocalReport]:
    """Run ``pipeline`` on this machine; see docs/local-runner.md.

    Raises:
        UsageError: bad input (an unknown job, input or variable, a bad env file or event).
        PipelineExecutionError: the runner itself could not go on (the store, the disk).
    """
    observer = observer or RunObserver()
    began = time.monotonic()
    project = project_root(options.project_dir)
    event = simulate(
        options.event,
        branch=options.branch,
        tag=options.tag,
        base=options.base,
        project_dir=project,
    )
    plan = build_plan(
        pipeline,
        event,
        variables=options.variables,
        inputs=options.inputs,
        only=options.only,
    )
    file_env = read_env_file(options.env_file) if options.env_file else {}
    observer.planned(plan)
    if options.dry_run:
        return _dry_run_result(plan, time.monotonic() - began)
    workers = options.jobs if options.jobs is not None else os.cpu_count() or 1
    if workers < 1:
        raise UsageError(f"--jobs must be at least 1, got {workers}")
    environ = os.environ if options.environ is None else options.environ
    declared = _declared_secrets(pipeline)
    secrets = {
        name: file_env.get(name, environ.get(name))
        for name in declared
        if name in file_env or name in environ
    }
    masker = SecretMasker(v for v in secrets.values() if v)
    state = project / STATE_DIR
    try:
        store = Store(state / "state.db")
    except Exception as exc:
        raise PipelineExecutionError(str(exc)) from exc
    with store, _signals_cancel() as cancel_hooks:
        _close_abandoned_runs(store, state)
        record = store.start_run(
            NewRun(
                pipeline=pipeline.name,
                content_hash=_content_hash(pipeline),
                event=event.event,
                ref=masker.mask(event.ref),
                environment=options.environment,
            )
        )
        run_id = str(record.id)
        run_dir = state / "runs" / run_id
        try:
            return _execute(
                plan,
                options,
                observer,
                store=store,
                store_run_id=record.id,
                run_id=run_id,
                run_dir=run_dir,
                project=project,
                secrets={k: v for k, v in secrets.items() if v is not None},
                extra_env={k: v for k, v in file_env.items() if k not in declared},
                masker=masker,
                workers=workers,
                began=began,
                cancel_hooks=cancel_hooks,
                environ=environ,
            )
        except BaseException as exc:
            with contextlib.suppress(Exception):
                store.mark_interrupted(record.id, reason=f"runner stopped: {type(exc).__name__}")
            if isinstance(exc, OSError):
                raise PipelineExecutionError(f"the local runner could not go on: {exc}") from exc
            raise


def _execute(
    plan: RunPlan,
    options: RunOptions,
    observer: RunObserver,
    *,
    store: Store,
    store_run_id: int,
    run_id: str,
    run_dir: Path,
    project: Path,
    secrets: dict[str, str],
    extra_env: dict[str, str],
    masker: SecretMasker,
    workers: int,
    began: float,
    cancel_hooks: list[Callable[[], None]],
    environ: Mapping[str, str],
) -> RunResult[LocalReport]:
    run_dir.mkdir(parents=True, exist_ok=True)
    owner = owner_mark(os.getpid()) or str(os.getpid())
    (run_dir / OWNER_FILE).write_text(owner, encoding="utf-8")
    instances = {i.id: i for i in plan.instances}
    entries: dict[str, JobResult] = {}
    reasons: dict[str, str] = {}
    if plan.not_triggered is not None:
        for inst in plan.instances:
            reasons[inst.id] = plan.not_triggered
            entries[inst.id] = _entry(inst, "skipped")
            _record_unstarted(store, store_run_id, inst, "skipped")
        store.finish_run(store_run_id, "skipped")
        return _result(plan, "skipped", run_id, run_dir, entries, time.monotonic() - began, reasons)
    needs_source = any(checks_out(i.resolved.job.steps) for i in plan.instances)
    snapshot = Snapshot.take(project, run_dir / "source") if needs_source else None
    cancel = threading.Event()
    ctx = RunContext(
        run_dir=run_dir,
        run_id=run_id,
        store=store,
        store_run_id=store_run_id,
        pipeline_name=plan.pipeline.name,
        environment=options.environment,
        event=plan.event,
        values=plan.values,
        inputs=plan.inputs,
        secrets=secrets,
        extra_env=extra_env,
        masker=masker,
        snapshot=snapshot,
        cache=CacheStore(project / STATE_DIR / "cache"),
        cancel=cancel,
        base_env=caller_environment(environ),
    )
    for inst in plan.instances:
        ctx.instances_of.setdefault(inst.name, []).append(inst.id)
    executor = JobExecutor(ctx)

    def on_event(iid: str, kind: sched.EventKind, status: sched.EventStatus) -> None:
        inst = instances[iid]
        if kind == "started":
            observer.job_started(inst)
            return
        result = executor.results.get(iid)
        if result is None:
            _record_unstarted(store, store_run_id, inst, status)
            entries[iid] = _entry(inst, status)
        else:
            store.finish_job(
                result.job_run_id, status, exit_code=result.exit_code, duration=result.duration
            )
            entries[iid] = _entry(inst, status, result)
        reason = _readable(scheduler.reasons.get(iid), instances)
        observer.job_finished(
            inst,
            _masked(entries[iid], masker),
            None if reason is None else masker.mask(reason),
        )

    scheduler = sched.Scheduler(
        [i.scheduled() for i in plan.instances],
        lambda iid: executor.execute(instances[iid]),
        workers=workers,
        stop=executor.stop,
        on_event=on_event,
    )

    timed_out = threading.Event()

    def stop_run() -> None:
        cancel.set()
        scheduler.cancel()

    cancel_hooks.append(stop_run)
    timer: threading.Timer | None = None
    if options.timeout is not None:

        def expire() -> None:
            timed_out.set()
            stop_run()

        timer = threading.Timer(options.timeout, expire)
        timer.daemon = True
        timer.start()
    observer.run_started(run_id, run_dir, workers)
    try:
        outcome = scheduler.run()
    finally:
        if timer is not None:
            timer.cancel()
    reasons.update(outcome.reasons)
    status: RunStatus
    if outcome.cancelled:
        status = "cancelled"
    elif any(
        s == "failed" and not instances[i].resolved.job.allow_failure
        for i, s in outcome.statuses.items()
    ):
        status = "failed"
    else:
        status = "success"
    store.finish_run(store_run_id, status)
    if not options.keep_workspaces:
        shutil.rmtree(run_dir / "work", ignore_errors=True)
        shutil.rmtree(run_dir / "tmp", ignore_errors=True)
    artifacts = tuple(
        Artifact(instances[iid].name, instances[iid].matrix, str(folder))
        for iid, folder in ctx.artifacts.items()
        if folder.is_dir()
    )
    return _result(
        plan,
        status,
        run_id,
        run_dir,
        entries,
        time.monotonic() - began,
        reasons,
        masker,
        artifacts=artifacts,
        notices=tuple(ctx.notices),
        timed_out=timed_out.is_set(),
    )


def _close_abandoned_runs(store: Store, state: Path) -> None:
    """Runs left ``running`` by a runner that died without a word (SIGKILL, power loss) are
    closed as cancelled: the run folder names its owner process, and that process is gone."""
    for run in store.list_runs(RunFilter(provider="local", status=("running", "queued"))):
        owner = state / "runs" / str(run.id) / OWNER_FILE
        try:
            mark = owner.read_text(encoding="utf-8").strip()
        except OSError:
            continue  # no owner recorded yet: the run is just starting
        pid = mark.split()[0]
        if pid.isdigit() and owner_mark(int(pid)) == mark:
            continue  # still running, in another process
        store.mark_interrupted(run.id, reason="the runner stopped without closing the run")


def owner_mark(pid: int) -> str | None:
    """``"<pid> <start time>"`` of a live process (the start time tells a reused pid
    apart), or None when it is gone."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
    except OSError:
        return str(pid)
    fields = stat.rsplit(")", 1)[-1].split()
    return f"{pid} {fields[19]}" if len(fields) > 19 else str(pid)


def _readable(reason: str | None, instances: Mapping[str, JobInstance]) -> str | None:
    """A scheduler reason with instance ids (``build.2``) written as labels
    (``build (os=linux)``)."""
    if reason is None:
        return None
    return re.sub(
        r'"([^"]+)"',
        lambda m: f'"{instances[m.group(1)].label}"' if m.group(1) in instances else m.group(0),
        reason,
    )


def _record_unstarted(store: Store, run_id: int, inst: JobInstance, status: RunStatus) -> None:
    job = store.start_job(
        NewJob(
            run_id=run_id,
            name=inst.name,
            matrix=inst.matrix,
            status=status,
            allowed_failure=inst.resolved.job.allow_failure,
        )
    )
    store.finish_job(job.id, status)


def _entry(inst: JobInstance, status: ResultStatus, result: ExecutedJob | None = None) -> JobResult:
    return JobResult(
        name=inst.name,
        matrix=inst.matrix,
        status=status,
        allowed_failure=inst.resolved.job.allow_failure,
        attempts=result.attempts if result is not None else 0,
        duration=round(result.duration, 3) if result is not None else 0.0,
        exit_code=result.exit_code if result is not None else None,
        log=str(result.log) if result is not None else None,
    )


def _result(
    plan: RunPlan,
    status: ResultStatus,
    run_id: str | None,
    run_dir: Path | None,
    entries: Mapping[str, JobResult],
    elapsed: float,
    reasons: Mapping[str, str],
    masker: SecretMasker | None = None,
    *,
    artifacts: tuple[Artifact, ...] = (),
    notices: tuple[str, ...] | None = None,
    timed_out: bool | None = None,
    order: Sequence[str] | None = None,
) -> RunResult[LocalReport]:
    """The result; jobs in plan order, or in ``order`` (instance ids, a dry run's start order)
    followed by the instances it leaves out."""
    by_id = plan.by_id()
    jobs: list[JobResult] = []
    for inst in plan.instances:
        entry = entries.get(inst.id) or _entry(inst, "cancelled")
        if inst.id in reasons:
            entry = replace(entry, reason=_readable(reasons[inst.id], by_id))
        jobs.append(entry)
    completed = 0
    for stage in plan.pipeline.stages:
        names = {j.name for j in stage.jobs}
        mine = [(i, e) for i, e in zip(plan.instances, jobs, strict=True) if i.name in names]
        if mine and all(
            e.status == "success"
            or (e.status == "failed" and e.allowed_failure)
            # left out by its own when filters (not by the triggers): nothing to complete
            or (e.status == "skipped" and i.excluded is not None and not plan.not_triggered)
            for i, e in mine
        ):
            completed += 1
    counts: dict[str, int] = {}
    for entry in jobs:
        counts[entry.status] = counts.get(entry.status, 0) + 1
    if order is not None:
        # A dry run lists the jobs in the order they would start.
        position = {iid: n for n, iid in enumerate(order)}
        paired = zip(plan.instances, jobs, strict=True)
        ranked = sorted(paired, key=lambda pair: position.get(pair[0].id, len(position)))
        jobs = [entry for _inst, entry in ranked]
    event = plan.event
    result = RunResult(
        status=status,
        pipeline_id=plan.pipeline.id,
        run_id=run_id,
        execution_time=round(elapsed, 3),
        stages_completed=completed,
        stages_total=len(plan.pipeline.stages),
        artifacts=artifacts,
        reports=LocalReport(
            event=EventReport(event.event, event.ref, event.sha, event.base),
            jobs=counts,
            run_dir=str(run_dir) if run_dir else None,
            not_triggered=plan.not_triggered,
            notices=notices,
            timed_out=timed_out,
            dry_run=status == "planned",
            order=None if order is None else tuple(by_id[iid].label for iid in order),
        ),
        jobs=tuple(jobs),
    )
    if masker is not None and masker.patterns:
        masked: RunResult[LocalReport] = _masked(result, masker)
        return masked
    return result


def _dry_run_result(plan: RunPlan, elapsed: float) -> RunResult[LocalReport]:
    order = (
        sched.plan([i.scheduled() for i in plan.instances]) if plan.not_triggered is None else None
    )
    entries: dict[str, JobResult] = {}
    reasons: dict[str, str] = {}
    for inst in plan.instances:
        if order is None:
            entries[inst.id] = _entry(inst, "skipped")
            reasons[inst.id] = plan.not_triggered or ""
            continue
        planned = order.statuses.get(inst.id)
        entries[inst.id] = _entry(inst, "planned" if planned == "success" else "skipped")
        if inst.id in order.reasons:
            reasons[inst.id] = order.reasons[inst.id]
    return _result(
        plan,
        "planned",
        None,
        None,
        entries,
        elapsed,
        reasons,
        order=None if order is None else order.order,
    )


def _declared_secrets(pipeline: Pipeline) -> list[str]:
    names = dict.fromkeys(pipeline.config.secrets)
    for _si, _ji, _stage, job in pipeline.iter_jobs():
        names.update(dict.fromkeys(job.secrets))
    return list(names)


def _content_hash(pipeline: Pipeline) -> str:
    text = pipeline.model_dump_json(exclude={"id", "created_at", "status"})
    return hashlib.sha256(text.encode()).hexdigest()


def _masked(value: Any, masker: SecretMasker) -> Any:
    """``value`` with every text in it masked: strings, and those inside results, mappings
    (values, not keys) and sequences."""
    if isinstance(value, str):
        return masker.mask(value)
    if is_dataclass(value) and not isinstance(value, type):
        return replace(
            value, **{f.name: _masked(getattr(value, f.name), masker) for f in fields(value)}
        )
    if isinstance(value, Mapping):
        return {k: _masked(v, masker) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return type(value)(_masked(v, masker) for v in value)
    return value


@contextlib.contextmanager
def _signals_cancel() -> Iterator[list[Callable[[], None]]]:
    """While the run lasts, SIGINT and SIGTERM call the hooks (main thread only)."""
    hooks: list[Callable[[], None]] = []
    if threading.current_thread() is not threading.main_thread():
        yield hooks
        return

    def handler(signum: int, frame: object) -> None:
        if not hooks:  # the scheduler has not started: stop where we are
            raise KeyboardInterrupt
        for hook in hooks:
            hook()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield hooks
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
