"""Executes one job instance on this machine: attempts, workspace, steps, outputs, artifacts.

This module owns what happens between "the scheduler starts a job" and "the job ended". A job
sees only ``PASSTHROUGH`` of the caller's environment, a secret only when it declares it or a
template names it, and templates as ``${VAR}`` only (``rewrite_for_shell``). Matrix legs merge
their outputs in declaration order, the last leg that sets a name winning. A failing job is
data; exceptions are for when the runner cannot go on. See docs/local-runner.md.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from ..literals import Outcome, RunStatus
from ..model.pipeline import (
    Cache,
    CacheStep,
    CheckoutStep,
    DownloadArtifactStep,
    RunStep,
    Scalar,
    SetupOptions,
    SetupStep,
    UploadArtifactStep,
    UsesStep,
    scalar_text,
)
from ..model.templates import Expr, HashCall, Ref, split_template
from ..store import NewAttempt, NewJob, Store
from ..translators.shell import rewrite_for_shell, script_var
from .event import SimulatedEvent
from .masking import SecretMasker
from .plan import JobInstance
from .process import DEFAULT_SHELL, ProcessResult, ScriptProcess
from .storage import CacheStore, collect, hash_files, restore, unmatched
from .workspace import Snapshot

PASSTHROUGH = (
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "SHELL",
    "LANG",
    "LANGUAGE",
    "TERM",
    "TZ",
    "TMPDIR",
)
"""Variables of the caller's environment every job sees (plus every ``LC_*``)."""

SHELLS: dict[str, tuple[str, ...]] = {
    "bash": DEFAULT_SHELL,
    # GitHub's documented invocations for these shells, with the script as -c argument.
    "sh": ("sh", "-e", "-c"),
    "python": ("python3", "-c"),
    "pwsh": ("pwsh", "-NoProfile", "-NonInteractive", "-Command"),
}

_SETUP_ACTIONS = {
    "actions/setup-python": "python",
    "actions/setup-node": "node",
    "actions/setup-go": "go",
}
_SETUP_INPUTS = {"python": "python-version", "node": "node-version", "go": "go-version"}


@dataclass
class RunContext:
    """What every job of one run shares; built by ``runner`` and read by the executor."""

    run_dir: Path
    run_id: str
    store: Store
    store_run_id: int
    pipeline_name: str
    environment: str
    event: SimulatedEvent
    values: dict[str, str]
    inputs: dict[str, str]
    secrets: dict[str, str]
    extra_env: dict[str, str]
    masker: SecretMasker
    snapshot: Snapshot | None
    cache: CacheStore
    cancel: threading.Event
    base_env: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)  # by instance id
    instances_of: dict[str, list[str]] = field(default_factory=dict)  # job -> instance ids
    artifacts: dict[str, Path] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)

    def log_path(self, instance: JobInstance) -> Path:
        return self.run_dir / f"{_file_stem(instance.id)}.log"

    def notice(self, text: str) -> None:
        with self.lock:
            if text not in self.notices:
                self.notices.append(text)


@dataclass
class ExecutedJob:
    """What came of one job instance (the scheduler's final status may still say cancelled)."""

    outcome: Outcome
    attempts: int
    exit_code: int | None
    duration: float
    log: Path
    job_run_id: int
    artifacts: list[str] = field(default_factory=list)


@dataclass
class _Attempt:
    ok: bool
    exit_code: int | None = None
    reason: str | None = None
    kind: Literal["script", "timeout", "runner", "cancelled", ""] = ""
    artifacts: list[str] = field(default_factory=list)


class _StepFailed(Exception):
    """A step kind without a shell failed; the message goes to the log."""


def caller_environment(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The part of ``environ`` (default ``os.environ``) that jobs inherit."""
    env = os.environ if environ is None else environ
    return {k: v for k, v in env.items() if k in PASSTHROUGH or k.startswith("LC_")}


class JobExecutor:
    """Runs job instances for one run; ``execute`` is called from the scheduler's workers."""

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self.results: dict[str, ExecutedJob] = {}
        self._cancel_events: dict[str, threading.Event] = {}

    def stop(self, instance_id: str) -> None:
        """Ask a running (or about to run) instance to stop; sticky."""
        with self.ctx.lock:
            event = self._cancel_events.setdefault(instance_id, threading.Event())
        event.set()

    def execute(self, instance: JobInstance) -> Outcome:
        ctx = self.ctx
        job = instance.resolved.job
        log = ctx.log_path(instance)
        with ctx.lock:
            cancel = self._cancel_events.setdefault(instance.id, threading.Event())
        record = ctx.store.start_job(
            NewJob(
                run_id=ctx.store_run_id,
                name=instance.name,
                matrix=instance.matrix,
                allowed_failure=job.allow_failure,
                log_path=str(log),
            )
        )
        policy = instance.resolved.retry_policy
        most = policy.max_attempts if policy is not None else 1
        began = time.monotonic()
        attempt = _Attempt(ok=False)
        number = 0
        for number in range(1, most + 1):
            started = datetime.now(UTC)
            ctx.store.record_attempt(NewAttempt(record.id, number, "running", started_at=started))
            if number > 1:
                _append(log, f"[cicd] attempt {number} of {most}\n")
            attempt = self._attempt(instance, number, log, cancel)
            status: RunStatus = (
                "success"
                if attempt.ok
                else ("cancelled" if attempt.kind == "cancelled" else "failed")
            )
            ctx.store.record_attempt(
                NewAttempt(
                    record.id,
                    number,
                    status,
                    exit_code=attempt.exit_code,
                    started_at=started,
                    finished_at=datetime.now(UTC),
                    reason=attempt.reason,
                )
            )
            if attempt.ok or attempt.kind == "cancelled" or cancel.is_set() or ctx.cancel.is_set():
                break
            if number < most and _retried(policy.on if policy else (), attempt.kind):
                _append(
                    log, f"[cicd] {attempt.reason}; retrying (attempt {number + 1} of {most})\n"
                )
                continue
            break
        self.results[instance.id] = ExecutedJob(
            outcome="success" if attempt.ok else "failed",
            attempts=number,
            exit_code=attempt.exit_code,
            duration=time.monotonic() - began,
            log=log,
            job_run_id=record.id,
            artifacts=attempt.artifacts,
        )
        return "success" if attempt.ok else "failed"

    # --- one attempt ---------------------------------------------------------------------

    def _attempt(
        self, instance: JobInstance, number: int, log: Path, cancel: threading.Event
    ) -> _Attempt:
        ctx = self.ctx
        r = instance.resolved
        job = r.job
        workspace = (
            ctx.run_dir / "work" / (_file_stem(instance.id) + (f".{number}" if number > 1 else ""))
        )
        # One flat folder for the run's step-output files: a folder per job would cost a
        # mkdir per job, a measurable part of a trivial job's overhead.
        scratch = ctx.run_dir / "tmp"
        deadline = time.monotonic() + r.timeout if r.timeout else None
        try:
            if workspace.exists():
                shutil.rmtree(workspace)
            scratch.mkdir(parents=True, exist_ok=True)
            if ctx.snapshot is not None and checks_out(job.steps):
                ctx.snapshot.clone_into(workspace)
            else:
                workspace.mkdir(parents=True)
            for dep in instance.needs:
                folder = ctx.artifacts.get(dep)
                if folder is not None and folder.is_dir():
                    restore(folder, workspace)
        except (OSError, ValueError) as exc:
            _append(log, f"[cicd] could not prepare the workspace: {exc}\n")
            return _Attempt(ok=False, reason=f"runner failure: {exc}", kind="runner")
        job_run = _JobRun(self, instance, workspace, scratch, log, cancel, deadline)
        return job_run.run()


@dataclass
class _JobRun:
    """The state of one attempt while its steps run."""

    executor: JobExecutor
    instance: JobInstance
    workspace: Path
    scratch: Path
    log: Path
    cancel: threading.Event
    deadline: float | None
    step_outputs: dict[str, dict[str, str]] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    saves: list[tuple[str, Cache]] = field(default_factory=list)
    background: list[tuple[int, ScriptProcess]] = field(default_factory=list)

    @property
    def ctx(self) -> RunContext:
        return self.executor.ctx

    def run(self) -> _Attempt:
        self._notices()
        self._job_env()
        try:
            return self._steps()
        finally:
            self._stop_background()

    def _steps(self) -> _Attempt:
        job = self.instance.resolved.job
        result = _Attempt(ok=True)
        if job.cache is not None:
            self._restore_cache(job.cache)
        for index, step in enumerate(job.steps, 1):
            if self.cancel.is_set() or self.ctx.cancel.is_set():
                return _Attempt(ok=False, reason="cancelled", kind="cancelled")
            title = step.name or _describe(step)
            _append(self.log, f"[cicd] step {index}/{len(job.steps)}: {title}\n")
            step_result = self._step(index, step, ok_so_far=result.ok)
            if step_result is None or step_result.ok:
                continue
            if step_result.kind == "cancelled":
                return step_result
            if isinstance(step, RunStep) and step.continue_on_error:
                _append(
                    self.log, f"[cicd] {step_result.reason}; continue_on_error lets the job go on\n"
                )
                continue
            result = step_result
            break
        if result.ok:
            result.exit_code = 0
        self._finish(result)
        return result

    def _stop_background(self) -> None:
        """The job's end: stop what its steps left running (GitHub's orphan clean-up)."""
        for index, proc in self.background:
            if proc.stop_background():
                _append(self.log, f"[cicd] stopped the background processes of step {index}\n")
        self.background.clear()

    # --- the job's surroundings -----------------------------------------------------------

    def _notices(self) -> None:
        r = self.instance.resolved
        lines = []
        if r.image:
            lines.append(
                f'image "{r.image}" is not used: the local runner runs jobs on this machine'
            )
        if r.job.services:
            aliases = ", ".join(s.alias for s in r.job.services)
            lines.append(f"services ({aliases}) are not started by the local runner")
        labels = (r.runs_on,) if isinstance(r.runs_on, str) else r.runs_on
        if any(label in ("windows", "macos") for label in labels):
            lines.append(f"runs_on {', '.join(labels)}: the job runs on this machine instead")
        for line in lines:
            _append(self.log, f"[cicd] {line}\n")
            self.ctx.notice(f"{self.instance.name}: {line}")

    def _job_env(self) -> None:
        """Fill ``self.env``; the job's own ``env`` values may read what comes before them."""
        ctx = self.ctx
        inst = self.instance
        r = inst.resolved
        env = dict(ctx.base_env)
        env["CI"] = "true"
        # Workspaces live inside the project (.cicd/runs/<id>/work/<job>): without a ceiling,
        # git in a job without its own .git would find and change the user's repository.
        env["GIT_CEILING_DIRECTORIES"] = str(self.workspace.parent.resolve())
        env.update(ctx.event.facts(ctx.run_id))
        env["CICD_PIPELINE"] = ctx.pipeline_name
        env["CICD_JOB"] = inst.name
        env["CICD_WORKSPACE"] = str(self.workspace)
        env["CICD_ENVIRONMENT"] = ctx.environment
        env.update(ctx.values)  # pipeline variables, then manual inputs (plan.build_plan)
        if inst.matrix:
            env.update({k: scalar_text(v) for k, v in inst.matrix.items()})
        env.update(ctx.extra_env)
        self.env = env
        if r.environment is not None:
            env["CICD_ENVIRONMENT"] = self.text(r.environment.name)
        for name, value in r.job.env.items():
            env[name] = self.text(value) if isinstance(value, str) else scalar_text(value)
        for name in r.job.secrets:
            env[name] = self._secret(name)

    def _secret(self, name: str) -> str:
        value = self.ctx.secrets.get(name)
        if value is None:
            self.ctx.notice(f'secret "{name}" is not set (environment or --env-file); it is empty')
            return ""
        return value

    # --- templates -----------------------------------------------------------------------

    def text(self, value: str, local: Mapping[str, str] | None = None) -> str:
        """A model string with its templates filled in."""
        if "${{" not in value:
            return value
        return "".join(
            part if isinstance(part, str) else self.value(part, local)
            for part in split_template(value)
        )

    def value(self, expr: Expr, local: Mapping[str, str] | None = None) -> str:
        ctx = self.ctx
        if isinstance(expr, HashCall):
            return hash_files(self.workspace, expr.globs)
        assert isinstance(expr, Ref)
        name = expr.parts[0]
        if expr.context == "matrix":
            matrix = self.instance.matrix or {}
            return scalar_text(matrix[name]) if name in matrix else ""
        if expr.context == "vars":
            return ctx.values.get(name, "")
        if expr.context == "inputs":
            return ctx.inputs.get(name, "")
        if expr.context == "secrets":
            return self._secret(name)
        if expr.context == "env":
            for scope in (local or {}, self.env):
                if name in scope:
                    return scope[name]
            return ""
        if expr.context == "ci":
            return self.env.get(f"CICD_{name.upper()}", "") if name != "job" else self.instance.name
        if expr.context == "needs":
            with ctx.lock:
                return _job_output(ctx, name, expr.parts[2])
        if expr.context == "steps":
            return self.step_outputs.get(name, {}).get(expr.parts[2], "")
        return ""

    # --- steps ---------------------------------------------------------------------------

    def _step(self, index: int, step: object, *, ok_so_far: bool) -> _Attempt | None:
        try:
            if isinstance(step, RunStep):
                return self._run_step(index, step)
            if isinstance(step, CheckoutStep):
                _append(
                    self.log,
                    "[cicd] checkout: the workspace is a copy of the project's tracked files\n",
                )
                return None
            if isinstance(step, SetupStep):
                self._setup(step.setup)
                return None
            if isinstance(step, CacheStep):
                self._restore_cache(step.cache)
                return None
            if isinstance(step, UploadArtifactStep):
                opts = step.upload_artifact
                if _applies(opts.when, ok_so_far):
                    self._collect(opts.paths)
                return None
            if isinstance(step, DownloadArtifactStep):
                self._download(step.download_artifact.job, step.download_artifact.path)
                return None
            if isinstance(step, UsesStep):
                return self._uses(index, step)
        except _StepFailed as exc:
            _append(self.log, f"[cicd] {exc}\n")
            return _Attempt(ok=False, reason=str(exc), kind="script")
        except (OSError, ValueError) as exc:
            _append(self.log, f"[cicd] {exc}\n")
            return _Attempt(ok=False, reason=f"runner failure: {exc}", kind="runner")
        raise TypeError(f"unknown step kind {type(step).__name__}")

    def _run_step(self, index: int, step: RunStep) -> _Attempt:
        return self._shell(
            index, step.run, step.shell, step.env, step.working_directory, step.timeout, step.id
        )

    def _shell(
        self,
        index: int,
        source: str,
        shell: str | None,
        step_env: Mapping[str, Scalar],
        working_directory: str | None,
        timeout: int | None,
        step_id: str | None,
    ) -> _Attempt:
        env = dict(self.env)
        local: dict[str, str] = {}
        for name, value in step_env.items():
            local[name] = self.text(value, local) if isinstance(value, str) else scalar_text(value)
        env.update(local)
        script, used = rewrite_for_shell(source, shell)
        for expr in used:
            env[script_var(expr)] = self.value(expr, local)
        output = self.scratch / f"{self.workspace.name}.step-{index}.out"
        output.touch()
        env["CICD_OUTPUT"] = str(output)
        cwd = self.workspace
        if working_directory:
            cwd = self.workspace / self.text(working_directory)
            if not cwd.is_dir():
                raise _StepFailed(
                    f'working_directory "{working_directory}" does not exist in the workspace'
                )
        command = SHELLS[shell or "bash"]
        if shutil.which(command[0], path=env.get("PATH")) is None:
            raise _StepFailed(f'shell "{shell}" needs {command[0]}, which is not installed')
        limit = self._time_left(timeout)
        if limit is not None and limit <= 0:
            return _Attempt(ok=False, reason="timeout: the job's time ran out", kind="timeout")
        process = ScriptProcess(
            script,
            cwd=cwd,
            log_path=self.log,
            env=env,
            masker=self.ctx.masker,
            timeout=limit,
            shell=command,
            cancel_event=self.cancel if not self.ctx.cancel.is_set() else self.ctx.cancel,
            keep_background=True,
        )
        result = process.wait()
        if process.background:
            self.background.append((index, process))
        if self.ctx.cancel.is_set() and not result.ok:
            return _Attempt(
                ok=False, exit_code=result.exit_code, reason="cancelled", kind="cancelled"
            )
        if step_id:
            self.step_outputs[step_id] = _read_outputs(output)
        return _judge(result, timeout, self.deadline)

    def _time_left(self, step_timeout: int | None) -> float | None:
        limits = []
        if step_timeout:
            limits.append(float(step_timeout))
        if self.deadline is not None:
            limits.append(self.deadline - time.monotonic())
        return min(limits) if limits else None

    def _setup(self, options: SetupOptions) -> None:
        for tool in ("python", "node", "go"):
            wanted = getattr(options, tool)
            if wanted is None:
                continue
            found = _installed_version(tool, str(wanted), self.env.get("PATH"))
            if found is None:
                raise _StepFailed(
                    f"setup: {tool} {wanted} is requested but {tool} is not installed"
                )
            version, program = found
            if not _version_fits(str(wanted), version):
                raise _StepFailed(
                    f"setup: {tool} {wanted} is requested but {program} is {version}; "
                    f"install {tool} {wanted} or change the version"
                )
            _append(self.log, f"[cicd] setup: {tool} {version} ({program}) fits {wanted}\n")

    def _uses(self, index: int, step: UsesStep) -> _Attempt | None:
        action = step.uses.split("@", 1)[0]
        if step.gitlab is not None:
            _append(self.log, f"[cicd] {step.uses}: running its gitlab override\n")
            return self._shell(index, step.gitlab.run, None, step.env, None, None, step.id)
        if action == "actions/checkout":
            _append(
                self.log,
                "[cicd] checkout: the workspace is a copy of the project's tracked files\n",
            )
            return None
        if action in _SETUP_ACTIONS:
            tool = _SETUP_ACTIONS[action]
            wanted = step.with_.get(_SETUP_INPUTS[tool])
            if wanted is not None:
                self._setup(SetupOptions(**{tool: scalar_text(wanted)}))
                return None
        message = f"uses: {step.uses} is skipped: the local runner has no local equivalent"
        _append(self.log, f"[cicd] {message}\n")
        self.ctx.notice(f"{self.instance.name}: {message}")
        return None

    # --- cache, artifacts, outputs ---------------------------------------------------------

    def _restore_cache(self, cache: Cache) -> None:
        key = self.text(cache.key)
        if cache.policy in ("pull-push", "pull"):
            restore_keys = [self.text(k) for k in cache.restore_keys]
            hit = self.ctx.cache.restore(key, restore_keys, cache.paths, self.workspace)
            _append(
                self.log, f"[cicd] cache {key!r}: " + (f"restored {hit!r}\n" if hit else "miss\n")
            )
        if cache.policy in ("pull-push", "push"):
            # The key is fixed when the cache is restored (as actions/cache does): files the
            # job changes later (a lock file it writes) do not move the save to another key.
            self.saves.append((key, cache))

    def _collect(self, paths: tuple[str, ...]) -> list[str]:
        dest = self.ctx.run_dir / "artifacts" / _file_stem(self.instance.id)
        expanded = [self.text(p) for p in paths]
        copied = collect(self.workspace, expanded, dest)
        with self.ctx.lock:
            self.ctx.artifacts[self.instance.id] = dest
        for pattern in unmatched(self.workspace, expanded):
            _append(self.log, f"[cicd] artifacts: nothing matched {pattern!r}\n")
        return copied

    def _download(self, job_name: str, path: str | None) -> None:
        target = self.workspace / self.text(path) if path else self.workspace
        target.mkdir(parents=True, exist_ok=True)
        found = False
        with self.ctx.lock:
            folders = [
                self.ctx.artifacts[iid]
                for iid in self.ctx.instances_of.get(job_name, ())
                if iid in self.ctx.artifacts
            ]
        for folder in folders:
            if folder.is_dir():
                restore(folder, target)
                found = True
        if not found:
            raise _StepFailed(f'download_artifact: job "{job_name}" left no artifacts in this run')

    def _finish(self, result: _Attempt) -> None:
        job = self.instance.resolved.job
        if job.artifacts is not None and _applies(job.artifacts.when, result.ok):
            try:
                result.artifacts = self._collect(job.artifacts.paths)
            except (OSError, ValueError) as exc:
                _append(self.log, f"[cicd] artifacts: {exc}\n")
                if result.ok:
                    result.ok, result.reason, result.kind = (
                        False,
                        f"runner failure: {exc}",
                        "runner",
                    )
        if result.ok:
            for key, cache in self.saves:
                saved = self.ctx.cache.save(key, cache.paths, self.workspace)
                _append(
                    self.log,
                    f"[cicd] cache {key!r}: " + ("saved\n" if saved else "nothing to save\n"),
                )
        outputs = {name: self.text(value) for name, value in job.outputs.items()}
        if outputs:
            with self.ctx.lock:
                self.ctx.outputs[self.instance.id] = outputs


def _job_output(ctx: RunContext, job: str, name: str) -> str:
    """Output ``name`` of ``job``: for a matrix job, the last leg in declaration order that
    set it (whatever order the legs finished in). Call with ``ctx.lock`` held."""
    value = ""
    for iid in ctx.instances_of.get(job, ()):
        value = ctx.outputs.get(iid, {}).get(name, value)
    return value


def _judge(result: ProcessResult, step_timeout: int | None, deadline: float | None) -> _Attempt:
    if result.ok:
        return _Attempt(ok=True, exit_code=0)
    if result.cancelled:
        return _Attempt(ok=False, exit_code=result.exit_code, reason="cancelled", kind="cancelled")
    if result.timed_out:
        job_ran_out = deadline is not None and time.monotonic() >= deadline - 0.05
        what = (
            "the job's timeout"
            if job_ran_out or not step_timeout
            else f"the step's timeout ({step_timeout}s)"
        )
        return _Attempt(ok=False, reason=f"timeout: {what} expired", kind="timeout")
    if result.signal is not None:
        return _Attempt(ok=False, reason=f"killed by signal {result.signal}", kind="script")
    return _Attempt(
        ok=False, exit_code=result.exit_code, reason=f"exit code {result.exit_code}", kind="script"
    )


def _retried(on: tuple[str, ...], kind: str) -> bool:
    wanted = {"script": "script_failure", "timeout": "timeout", "runner": "runner_failure"}.get(
        kind
    )
    return "any" in on or (wanted is not None and wanted in on)


def _applies(when: str, ok: bool) -> bool:
    return when == "always" or (when == "on_success") == ok


def checks_out(steps: tuple[object, ...]) -> bool:
    """Whether a job's steps check out (its workspace then starts as a copy of the project)."""
    return any(
        isinstance(s, CheckoutStep)
        or (isinstance(s, UsesStep) and s.uses.split("@", 1)[0] == "actions/checkout")
        for s in steps
    )


def _describe(step: object) -> str:
    if isinstance(step, RunStep):
        first = step.run.strip().splitlines()[0] if step.run.strip() else ""
        return "run: " + (first[:60] + "..." if len(first) > 60 else first)
    if isinstance(step, UsesStep):
        return f"uses: {step.uses}"
    for kind in ("checkout", "setup", "cache", "upload_artifact", "download_artifact"):
        if hasattr(step, kind):
            return kind
    return type(step).__name__


def _read_outputs(path: Path) -> dict[str, str]:
    """``key=value`` lines and ``key<<DELIM`` ... ``DELIM`` blocks; the last value wins."""
    out: dict[str, str] = {}
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return out
    i = 0
    while i < len(lines):
        line = lines[i]
        heredoc = re.match(r"^([A-Za-z_][\w-]*)<<(.+)$", line)
        if heredoc:
            key, delim = heredoc.group(1), heredoc.group(2)
            body: list[str] = []
            i += 1
            while i < len(lines) and lines[i] != delim:
                body.append(lines[i])
                i += 1
            out[key] = "\n".join(body)
        elif "=" in line:
            key, _, value = line.partition("=")
            if key.strip():
                out[key.strip()] = value
        i += 1
    return out


def _installed_version(tool: str, wanted: str, path: str | None) -> tuple[str, str] | None:
    """The version of ``tool`` on PATH and the program that has it, preferring a program
    named for the wanted version (``python3.12``)."""
    major_minor = re.match(r"^(\d+\.\d+)", wanted)
    programs = {
        "python": [f"python{major_minor.group(1)}"] if major_minor else [],
        "node": [],
        "go": [],
    }[tool] + {"python": ["python3", "python"], "node": ["node"], "go": ["go"]}[tool]
    for program in programs:
        exe = shutil.which(program, path=path)
        if exe is None:
            continue
        args = ["version"] if tool == "go" else ["--version"]
        try:
            done = subprocess.run(
                [exe, *args], capture_output=True, text=True, timeout=10, check=False
            )
        except (OSError, subprocess.TimeoutExpired):
            continue
        match = re.search(r"(\d+(?:\.\d+)+)", done.stdout + done.stderr)
        if match:
            return match.group(1), program
    return None


def _version_fits(wanted: str, found: str) -> bool:
    """``3.12`` fits 3.12.x; ``3.x`` and ``3`` fit any 3.x; ``lts/*``, ``stable`` fit all."""
    wanted = wanted.strip().lstrip("v")
    if not re.match(r"^\d", wanted):
        return True
    want = [p for p in re.split(r"\.", wanted) if p not in ("x", "*", "")]
    have = found.split(".")
    return all(i < len(have) and have[i] == w for i, w in enumerate(want) if w.isdigit())


def _append(log: Path, text: str) -> None:
    with open(log, "a", encoding="utf-8") as handle:
        handle.write(text)


def _file_stem(instance_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", instance_id)
