"""Native GitHub Actions workflow -> neutral pipeline file data (issue 3).

What this module owns: reading one workflow file (ruamel round-trip, so anchors and aliases
resolve and every node keeps its line) and producing the plain data of a neutral pipeline
FILE (``name``, ``config``, ``stages``) together with notes on everything that did not map
exactly. Invariants:

* Nothing is dropped silently. A construct without a neutral form is kept verbatim in the
  escape hatch the GitHub generator deep-merges back (``config.github`` for the workflow,
  the job's ``github:`` for a job, the step's ``github:`` for a step), and a ``Note``
  (native path as ``jobs.<id>.steps[<n>].<key>``, why, rule id) says so.
* As little as possible goes to a hatch: one step key, one ``env``/``with`` entry (a
  ``GITHUB_*`` name, ``secrets.GITHUB_TOKEN``, an expression without a neutral template),
  one job key. A step ``if:`` always goes to the step's hatch: the model has no step
  condition, by design. A ``run`` script that cannot be neutral (an expression without a
  neutral template, a shell such as ``cmd``) is kept in the hatch and the neutral step
  becomes a script that fails loudly for other targets, keeping its ``id`` so that outputs
  still resolve. Only jobs holding ``parallel``/``wait``/``wait-all``/``cancel`` steps (which
  a step hatch cannot produce) keep their whole ``steps`` list in the job's hatch.
* The result is valid: ``import_github`` runs ``pipeline_from_data`` on what it built. When a
  validation rule objects to a translated part (a step's env entry, a job field), that part
  is moved to its escape hatch and the data is rebuilt; when the pipeline still cannot be
  valid, or GitHub itself would refuse the file (a step with neither ``run`` nor ``uses``),
  one ``GitHubImportError`` (a ``ValueError``) with a one-line reason is raised. No ruamel
  or pydantic exception escapes.
* Layout: every job goes into ONE neutral stage, ``jobs``, with job-level ``needs``. Stages
  by dependency depth would add stage dependencies, i.e. edges the workflow does not have;
  one stage keeps the dependency graph exactly.
* Expressions: only the forms with an exact neutral template are translated (``matrix``,
  ``env``, ``secrets``, ``inputs``, ``needs``/``steps`` outputs, ``github.sha|ref|run_id|
  workspace`` -> ``ci.*``, ``hashFiles`` -> ``hash``); anything else makes its field
  untranslatable. ``$GITHUB_OUTPUT`` in scripts becomes ``$CICD_OUTPUT`` (the generator
  exports one as the other), ``$GITHUB_SHA|REF|RUN_ID|WORKSPACE`` the neutral ``$CICD_*``
  facts; other runner variables are noted (other providers leave them empty). Values kept
  in hatches have renamed matrix axes and job ids written anew, so they still mean the same
  on GitHub.
* ``defaults.run`` (workflow, then job) becomes each run step's ``shell`` and
  ``working_directory``; a step without a shell on a Windows-only job gets ``pwsh``,
  GitHub's default there. ``bash -el {0}``-style shells are neutral ``bash`` with the exact
  command kept in the step's hatch.
* Well-known actions become neutral step kinds only when their inputs map exactly
  (checkout: fetch-depth, submodules, lfs; setup-python/node/go: the version; cache:
  path, key, restore-keys; upload-artifact: path, retention-days, no name). Named artifacts
  and download-artifact (which works by artifact name, not by job) stay ``uses:``.
* Matrix axis names with ``-`` are renamed with ``_`` (neutral axes are identifiers, since
  GitLab exposes them as variables) and every ``matrix.`` reference is rewritten.
* ``concurrency``, ``run-name`` and the workflow's display ``name`` are kept in
  ``config.github`` (``concurrency`` also in a job's hatch) with a note: GitLab has no
  equivalent of concurrency, and its ``workflow:name`` (nearest to run-name) is not generated.
* When no event has a neutral trigger (``workflow_call`` only...), the neutral triggers stay
  empty and the events live in ``config.github.on``; GitLab then never starts the pipeline.
"""

from __future__ import annotations

import re
import typing
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from ..errors import CICDError, PipelineValidationError
from ..model.loader import pipeline_from_data
from ..model.pipeline import (
    GITLAB_RESERVED_JOB_NAMES,
    IDENT_PATTERN,
    JOB_NAME_PATTERN,
    NAME_PATTERN,
    RESERVED_VARIABLE_PREFIXES,
    URL_PATTERN,
    PermissionScope,
    Pipeline,
    cron_problem,
)
from .shell import rewrite_unquoted

STAGE = "jobs"
# GitHub default environment variables with an exact neutral fact (the CICD_* environment).
_RUNNER_FACTS = {
    "GITHUB_SHA": "CICD_SHA",
    "GITHUB_REF": "CICD_REF",
    "GITHUB_RUN_ID": "CICD_RUN_ID",
    "GITHUB_WORKSPACE": "CICD_WORKSPACE",
}
_RUNNER_FACT_RE = re.compile(r"\$(\{?)(" + "|".join(_RUNNER_FACTS) + r")(?!\w)(\}?)")
_RUNNER_VAR_RE = re.compile(r"\$\{?((?:GITHUB|RUNNER)_\w+)")
_NOTED_ELSEWHERE = frozenset({"GITHUB_OUTPUT", "GITHUB_ENV", "GITHUB_PATH", "GITHUB_STEP_SUMMARY"})


def _runner_fact(m: re.Match[str]) -> str:
    return "$" + m.group(1) + _RUNNER_FACTS[m.group(2)] + m.group(3)


MAX_NODES = 200_000
MAX_REPAIRS = 50
_TEMPLATE = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)
_IDENT = re.compile(IDENT_PATTERN)
_JOB = re.compile(JOB_NAME_PATTERN)
_NEUTRAL_EVENTS = {"push", "pull_request", "schedule", "workflow_dispatch"}
# github.* facts whose neutral ci.* fact means exactly the same thing.
_FACTS = {
    "github.sha": "ci.sha",
    "github.ref": "ci.ref",
    "github.run_id": "ci.run_id",
    "github.workspace": "ci.workspace",
}
_RUNNERS = {"ubuntu-latest": "linux", "windows-latest": "windows", "macos-latest": "macos"}
_SHELLS = {"bash", "sh", "pwsh", "python"}
_GITHUB_ONLY = "this step has no neutral form; it runs on GitHub only (see its github: hatch)"
# A script that fails loudly, per neutral shell, where a step's script is GitHub-only.
_PLACEHOLDERS = {
    None: f"echo '{_GITHUB_ONLY}' >&2\nexit 1",
    "bash": f"echo '{_GITHUB_ONLY}' >&2\nexit 1",
    "sh": f"echo '{_GITHUB_ONLY}' >&2\nexit 1",
    "pwsh": f"Write-Error '{_GITHUB_ONLY}'\nexit 1",
    "python": f"import sys\nsys.exit('{_GITHUB_ONLY}')",
}
# GitHub's own `bash` command lines (`bash -el {0}`...): bash with options, for other targets.
_BASH_COMMAND = re.compile(r"bash(\s+-[-\w]+)*\s+\{0\}")
_USES = re.compile(r"^(\./\S+|docker://\S+|[\w.-]+/[\w./-]+@\S+)$")
_PERMISSION_SCOPES = frozenset(typing.get_args(PermissionScope))
# Neutral job field -> the native job key whose value goes to the escape hatch instead.
_FIELD_KEYS = {
    "env": "env",
    "secrets": "env",
    "outputs": "outputs",
    "services": "services",
    "matrix": "strategy",
    "image": "container",
    "runs_on": "runs-on",
    "when": "if",
    "environment": "environment",
    "permissions": "permissions",
    "timeout": "timeout-minutes",
    "allow_failure": "continue-on-error",
}

_CONCURRENCY = (
    "concurrency groups have no neutral form and GitLab has no equivalent (resource_group "
    "queues jobs, it never cancels one); kept for GitHub"
)
# Workflow keys kept in config.github: why, and the note rule.
_WORKFLOW_KEY_NOTES = {
    "concurrency": (f"{_CONCURRENCY} in config.github", "concurrency"),
    "run-name": (
        "the run name has no neutral form (GitLab's nearest, workflow:name, is not generated); "
        "kept for GitHub in config.github",
        "run-name",
    ),
    "name": (
        "the workflow's display name differs from the pipeline name (the file name); kept for "
        "GitHub in config.github",
        "workflow-name",
    ),
    "defaults": (
        "defaults other than run.shell / run.working-directory have no neutral form; kept "
        "in config.github",
        "defaults-run",
    ),
}
# Job keys kept in the job's github: hatch when they have no neutral form.
_JOB_KEY_NOTES = {
    "concurrency": (f"{_CONCURRENCY} in the job's github: hatch", "job-concurrency"),
    "name": (
        "a job display name has no neutral form (the job id is its name); kept for GitHub",
        "job-name",
    ),
    "defaults": (
        "defaults other than run.shell / run.working-directory have no neutral form; kept "
        "for GitHub",
        "defaults-run",
    ),
}

# GitHub step kinds without run/uses (parallel steps, background step control).
_CONTROL = frozenset({"parallel", "wait", "wait-all", "cancel"})
_STEP_KEY_NOTES = {
    "background": (
        "a background step has no neutral form (other targets run it in the foreground and "
        "wait for it to end)"
    ),
    "continue-on-error": "continue-on-error is neutral only as true/false on a run step",
    "timeout-minutes": "timeout-minutes is neutral only as whole minutes on a run step",
}


class GitHubImportError(CICDError, ValueError):
    """Raised when a workflow file cannot become a neutral pipeline; one line, file first."""


class Note(NamedTuple):
    """A construct kept in an escape hatch or changed on import: native path, why, rule."""

    path: str
    message: str
    rule: str


@dataclass
class ImportResult:
    """Neutral pipeline file data (what ``pipeline_from_data`` reads) and the import notes."""

    data: dict[str, Any]
    notes: list[Note] = field(default_factory=list)
    tree: Any = None  # ruamel's round-trip tree of the workflow (line/column of nodes)
    pipeline: Pipeline | None = None  # the validated model of ``data``


def import_github(text: str, name: str) -> ImportResult:
    """Read a GitHub Actions workflow into neutral pipeline file data.

    Args:
        text: the workflow YAML.
        name: the file name, used in messages and (sanitised) as the pipeline name.

    Raises:
        GitHubImportError: the text is not a workflow, or has no neutral form at all.
    """
    doc, tree = _read_yaml(text, name)
    importer = _Importer(doc, name)
    for _ in range(MAX_REPAIRS):
        data = importer.build()
        try:
            pipeline = pipeline_from_data(data)
        except PipelineValidationError as exc:
            if not importer.repair(exc):
                first = exc.diagnostics[0] if exc.diagnostics else None
                reason = first.format() if first else str(exc).splitlines()[0]
                raise GitHubImportError(f"{name}: no valid neutral form: {reason}") from None
            continue
        return ImportResult(data, importer.final_notes(), tree, pipeline)
    raise GitHubImportError(f"{name}: no valid neutral form after {MAX_REPAIRS} repairs")


# --- reading ------------------------------------------------------------------------------


def _read_yaml(text: str, name: str) -> tuple[dict[str, Any], Any]:
    """The workflow as plain data, and ruamel's round-trip tree of it (for positions)."""
    from ruamel.yaml import YAML

    yaml = YAML(typ="rt")
    try:
        tree = yaml.load(text)
    except RecursionError:
        raise GitHubImportError(f"{name}: YAML nested too deeply") from None
    except Exception as exc:  # ruamel raises many unrelated types; translated once, here
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise GitHubImportError(f"{name}: invalid YAML: {first}") from None
    budget = [MAX_NODES]
    try:
        data = _plain(tree, budget)
    except RecursionError:
        raise GitHubImportError(f"{name}: YAML nested too deeply") from None
    if not isinstance(data, dict):
        raise GitHubImportError(f"{name}: a workflow is a mapping; found {type(data).__name__}")
    if "jobs" not in data or not isinstance(data["jobs"], dict) or not data["jobs"]:
        raise GitHubImportError(f'{name}: a workflow needs a non-empty "jobs" mapping')
    if "on" not in data:
        raise GitHubImportError(f'{name}: a workflow needs "on:" (its triggers)')
    return data, tree


def _plain(node: Any, budget: list[int]) -> Any:
    """ruamel's tree as plain dicts, lists and scalars (aliases expanded, within a budget)."""
    budget[0] -= 1
    if budget[0] < 0:
        raise GitHubImportError("workflow expands to too many nodes (alias bomb?)")
    if isinstance(node, dict):
        return {str(k): _plain(v, budget) for k, v in node.items()}
    if isinstance(node, list | tuple):
        return [_plain(v, budget) for v in node]
    if node is None or isinstance(node, bool | int | float):
        return node if not isinstance(node, bool) else bool(node)
    if isinstance(node, int):
        return int(node)
    return str(node)


# --- expressions --------------------------------------------------------------------------


@dataclass
class _Scope:
    """What a translated value may reference where it stands."""

    matrix: dict[str, str] = field(default_factory=dict)  # native axis -> neutral axis
    step: bool = False  # in a step's run/env/with
    secrets_ok: bool = False  # secrets allowed (run, env, with)
    outputs_only: bool = False  # job outputs: steps.* only


class _Untranslatable(Exception):
    """An expression without a neutral template (internal: the field falls back)."""


def _quoted_args(text: str) -> list[str] | None:
    args = [a.strip() for a in text.split(",")] if text.strip() else []
    out = []
    for arg in args:
        if len(arg) >= 2 and arg[0] == arg[-1] == "'" and "'" not in arg[1:-1]:
            out.append(arg[1:-1])
        else:
            return None
    return out or None


class _Importer:
    def __init__(self, doc: dict[str, Any], file: str) -> None:
        self.doc = doc
        self.file = file
        self.notes: dict[tuple[str, str], Note] = {}
        # Step parts validation refused: (job id, step index, native part) -> the reason.
        self.forced_parts: dict[tuple[str, int, tuple[str, ...]], str] = {}
        self.forced_fields: set[tuple[str, str]] = set()
        self.secrets: set[str] = set()
        self.variables: dict[str, Any] = {}
        self.inputs: set[str] = set()
        self.renames = self._job_names()

    # --- notes ------------------------------------------------------------------------

    def runner_facts(self, script: str, path: str) -> str:
        """GitHub's default environment variables in a script, as the neutral facts.

        ``$GITHUB_SHA``, ``$GITHUB_REF``, ``$GITHUB_RUN_ID`` and ``$GITHUB_WORKSPACE`` become
        ``$CICD_SHA``, ``$CICD_REF``, ``$CICD_RUN_ID`` and ``$CICD_WORKSPACE``, which every
        backend sets (GitHub: from those very values). Single-quoted text stays literal.
        Other ``GITHUB_*``/``RUNNER_*`` variables are noted: other providers leave them
        empty (``GITHUB_OUTPUT``/``ENV``/``PATH``/``STEP_SUMMARY`` have their own notes).
        """
        lines = [
            rewrite_unquoted(line, _RUNNER_FACT_RE, _runner_fact) for line in script.split("\n")
        ]
        others = sorted(
            {
                m.group(1)
                for line in lines
                for part in re.split(r"'[^']*'", line)
                for m in _RUNNER_VAR_RE.finditer(part)
                if m.group(1) not in _NOTED_ELSEWHERE
            }
        )
        if others:
            self.note(
                path,
                f"the script reads GitHub's runner variables ({', '.join(others)}), which "
                "other providers do not set",
                "github-variables",
            )
        return "\n".join(lines)

    def note(self, path: str, message: str, rule: str) -> None:
        self.notes.setdefault((path, rule), Note(path, message, rule))

    def final_notes(self) -> list[Note]:
        return sorted(self.notes.values())

    # --- expressions ------------------------------------------------------------------

    def expr(self, body: str, scope: _Scope) -> str:
        body = body.strip()
        hashed = re.fullmatch(r"hashFiles\((.*)\)", body, re.DOTALL)
        if hashed:
            globs = _quoted_args(hashed.group(1))
            if globs is None or scope.outputs_only:
                raise _Untranslatable(body)
            return "hash(" + ", ".join(f"'{g}'" for g in globs) + ")"
        if body in _FACTS and not scope.outputs_only:
            return _FACTS[body]
        parts = body.split(".")
        if not all(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", p) for p in parts):
            raise _Untranslatable(body)
        ctx = parts[0]
        if scope.outputs_only and ctx != "steps":
            raise _Untranslatable(body)
        if ctx == "matrix" and len(parts) == 2 and parts[1] in scope.matrix:
            return f"matrix.{scope.matrix[parts[1]]}"
        if ctx == "env" and len(parts) == 2 and _IDENT.match(parts[1]):
            if parts[1] in self.variables:
                return f"vars.{parts[1]}"
            if scope.step:
                return body
        secret = ctx == "secrets" and len(parts) == 2 and _IDENT.match(parts[1]) is not None
        if secret and scope.secrets_ok and not parts[1].startswith(RESERVED_VARIABLE_PREFIXES):
            # GITHUB_TOKEN and friends are provided by GitHub, not declared secrets.
            self.secrets.add(parts[1])
            return body
        if ctx == "inputs" and len(parts) == 2 and parts[1] in self.inputs:
            return body
        if parts[:3] == ["github", "event", "inputs"] and parts[3:] and parts[3] in self.inputs:
            return f"inputs.{parts[3]}"
        needs = ctx == "needs" and len(parts) == 4 and parts[2] == "outputs"
        if needs and scope.step and parts[1] in self.renames:
            return f"needs.{self.renames[parts[1]]}.outputs.{parts[3]}"
        if ctx == "steps" and len(parts) == 4 and parts[2] == "outputs":
            return body
        raise _Untranslatable(body)

    def value(self, value: Any, scope: _Scope) -> Any:
        """A scalar with its templates translated; raises _Untranslatable."""
        if isinstance(value, bool | int | float):
            return value
        if not isinstance(value, str):
            raise _Untranslatable(repr(value))
        if "${{" not in value:
            return value
        out = []
        pos = 0
        for match in _TEMPLATE.finditer(value):
            out.append(value[pos : match.start()])
            out.append("${{ " + self.expr(match.group(1), scope) + " }}")
            pos = match.end()
        rest = value[pos:]
        if "${{" in rest:
            raise _Untranslatable(rest)
        return "".join(out) + rest

    def try_value(self, value: Any, scope: _Scope) -> tuple[bool, Any]:
        try:
            return True, self.value(value, scope)
        except _Untranslatable:
            return False, None

    # --- names --------------------------------------------------------------------------

    def _job_names(self) -> dict[str, str]:
        renames: dict[str, str] = {}
        taken: set[str] = set()
        for job_id in self.doc["jobs"]:
            new = re.sub(r"[^A-Za-z0-9_-]", "_", job_id) or "job"
            if not re.match(r"[A-Za-z_]", new):
                new = "_" + new
            if new in GITLAB_RESERVED_JOB_NAMES:
                new += "_job"
            base, n = new, 2
            while new.lower() in taken:
                new, n = f"{base}_{n}", n + 1
            taken.add(new.lower())
            renames[job_id] = new
            if new != job_id:
                self.note(
                    f"jobs.{job_id}",
                    f'job id "{job_id}" is not a valid neutral job name (or a GitLab keyword); '
                    f'renamed "{new}"',
                    "job-renamed",
                )
        return renames

    def pipeline_name(self) -> str:
        """The file's stem; for text without a file name (``<text>``), the workflow's name."""
        base = self.file.rsplit("/", 1)[-1]
        stem = re.sub(r"\.ya?ml$", "", base)
        if stem == base and isinstance(self.doc.get("name"), str) and self.doc["name"].strip():
            stem = self.doc["name"].strip()
        name = re.sub(r"[^A-Za-z0-9._-]", "-", stem)[:100] or "workflow"
        return name if re.match(NAME_PATTERN, name) else "workflow"

    # --- building ---------------------------------------------------------------------

    def build(self) -> dict[str, Any]:
        self.notes = {k: v for k, v in self.notes.items() if v.rule == "job-renamed"}
        self.secrets = set()
        github: dict[str, Any] = {}
        config: dict[str, Any] = {}
        config["triggers"] = self.triggers(self.doc["on"], github)
        self.variables = self.workflow_env(github)
        if self.variables:
            config["variables"] = self.variables
        if "permissions" in self.doc:
            perms = _permissions(self.doc["permissions"])
            if perms is None:
                github["permissions"] = self.doc["permissions"]
                self.note(
                    "permissions",
                    "permissions other than a map of known scopes (read-all, write-all...) "
                    "have no neutral form; kept verbatim in config.github",
                    "permissions",
                )
            else:
                config["permissions"] = perms
        else:
            self.note(
                "permissions",
                "the workflow sets no permissions (GitHub's default token scope); the neutral "
                "default, contents: read, applies",
                "permissions-default",
            )
        for key in self.doc:
            if key in ("on", "env", "permissions", "jobs"):
                continue
            if key == "defaults" and _run_defaults(self.doc[key]) is not None:
                continue  # applied to the run steps (run_defaults)
            if key == "name" and self.doc[key] == self.pipeline_name():
                continue
            github[key] = self.doc[key]
            why, rule = _WORKFLOW_KEY_NOTES.get(
                key, (f'"{key}" has no neutral form; kept in config.github', "workflow-key")
            )
            self.note(key, why, rule)
        jobs = []
        for job_id, job in self.doc["jobs"].items():
            built = self.job(job_id, job, github)
            if built is not None:
                jobs.append(built)
        if not jobs:
            raise GitHubImportError(
                f"{self.file}: no job has a neutral form "
                "(only reusable workflow calls or jobs without steps)"
            )
        if self.secrets:
            config["secrets"] = sorted(self.secrets)
        if github:
            config["github"] = github
        return {
            "name": self.pipeline_name(),
            "config": config,
            "stages": [{"name": STAGE, "jobs": jobs}],
        }

    # --- triggers -----------------------------------------------------------------------

    def triggers(self, on: Any, github: dict[str, Any]) -> dict[str, Any]:
        if isinstance(on, str):
            on = {on: None}
        elif isinstance(on, list):
            on = {str(e): None for e in on}
        if not isinstance(on, dict):
            raise GitHubImportError(f'{self.file}: "on" must be an event, a list or a mapping')
        triggers: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        self.inputs = set()
        for event, spec in on.items():
            path = f"on.{event}"
            if event not in _NEUTRAL_EVENTS:
                extra[event] = spec
                self.note(path, f'event "{event}" has no neutral trigger; kept', "trigger-event")
                continue
            if spec is not None and not isinstance(spec, dict | list):
                extra[event] = spec
                self.note(path, "unexpected trigger value; kept verbatim", "trigger-event")
                continue
            if event == "schedule":
                crons = [e.get("cron") for e in spec or [] if isinstance(e, dict)]
                ok = (
                    bool(crons)
                    and all(
                        isinstance(c, str)
                        and len(c.split(" ")) == 5
                        and cron_problem(c) is None
                        and len(e) == 1
                        for c, e in zip(crons, spec or [], strict=False)
                    )
                    and len(crons) == len(spec or [])
                )
                if ok:
                    triggers["schedule"] = crons
                else:
                    extra[event] = spec
                    self.note(path, "schedule kept verbatim (not plain crons)", "trigger-filter")
                continue
            if not isinstance(spec, dict | None):
                extra[event] = spec
                self.note(path, "unexpected trigger value; kept verbatim", "trigger-event")
                continue
            spec = spec or {}
            if event == "workflow_dispatch":
                triggers["manual"] = self.manual(spec, extra)
                continue
            known = ("branches", "tags", "paths") if event == "push" else ("branches", "paths")
            neutral: dict[str, Any] = {}
            rest: dict[str, Any] = {}
            for key, val in spec.items():
                if key in known and _patterns(val):
                    neutral[key] = [str(v) for v in val]
                else:
                    rest[key] = val
                    self.note(
                        f"{path}.{key}",
                        f'"{key}" has no neutral filter; kept for GitHub in config.github '
                        "(other targets do not filter on it)",
                        "trigger-filter",
                    )
            triggers[event] = neutral
            if rest:
                extra[event] = rest
        if extra:
            github["on"] = extra
        if not triggers:
            # Every event is GitHub-only (workflow_call, release...): the neutral triggers
            # stay empty (the model accepts that when config.github has `on:`), so the
            # workflow gains no event and GitLab gets `when: never` with a loss.
            self.note(
                "on",
                "no event has a neutral trigger; the events are kept for GitHub only and "
                "GitLab never starts the pipeline",
                "trigger-none",
            )
        return triggers

    def manual(self, spec: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
        inputs: dict[str, Any] = {}
        kept: dict[str, Any] = {}
        raw = spec.get("inputs") or {}
        for key in spec:
            if key != "inputs":
                extra.setdefault("workflow_dispatch", {})[key] = spec[key]
        for name, entry in raw.items() if isinstance(raw, dict) else []:
            neutral = _manual_input(name, entry)
            if neutral is None:
                kept[name] = entry
                self.note(
                    f"on.workflow_dispatch.inputs.{name}",
                    "input has no neutral form; kept",
                    "trigger-input",
                )
            else:
                inputs[name] = neutral
                self.inputs.add(name)
        if kept:
            extra.setdefault("workflow_dispatch", {})["inputs"] = kept
        return {"inputs": inputs} if inputs else {}

    def workflow_env(self, github: dict[str, Any]) -> dict[str, Any]:
        env = self.doc.get("env")
        if env is None:
            return {}
        if not isinstance(env, dict):
            github["env"] = env
            self.note("env", "workflow env is an expression; kept verbatim", "env")
            return {}
        out: dict[str, Any] = {}
        for key, val in env.items():
            plain = isinstance(val, bool | int | float) or (
                isinstance(val, str) and "${{" not in val
            )
            if plain and _IDENT.match(key) and not key.startswith(RESERVED_VARIABLE_PREFIXES):
                out[key] = val
            else:
                github.setdefault("env", {})[key] = val
                self.note(
                    f"env.{key}",
                    "workflow env with an expression or reserved name; kept verbatim",
                    "env",
                )
        return out

    # --- jobs ---------------------------------------------------------------------------

    def job(self, job_id: str, job: Any, github: dict[str, Any]) -> dict[str, Any] | None:
        path = f"jobs.{job_id}"
        name = self.renames[job_id]
        if not isinstance(job, dict) or "uses" in job or not isinstance(job.get("steps"), list):
            verbatim = dict(job) if isinstance(job, dict) else job
            if isinstance(verbatim, dict) and "needs" in verbatim:
                needs = verbatim["needs"]
                needs = [needs] if isinstance(needs, str) else needs
                if isinstance(needs, list):
                    verbatim["needs"] = [self.renames.get(str(n), n) for n in needs]
            github.setdefault("jobs", {})[name] = verbatim
            self.note(
                path,
                "reusable workflow call (or job without steps) kept verbatim in config.github",
                "job-reusable",
            )
            return None
        out: dict[str, Any] = {"name": name}
        hatch: dict[str, Any] = {}
        scope = _Scope()
        forced = {f for j, f in self.forced_fields if j == job_id}

        def keep(key: str, why: str, rule: str) -> None:
            hatch[key] = self.native(job[key], scope, expression=key == "if")
            self.note(f"{path}.{key}", why, rule)

        if "strategy" in job:
            self.strategy(job_id, job["strategy"], out, hatch, scope, "matrix" in forced)
        needs = job.get("needs")
        if needs is not None:
            needs = [needs] if isinstance(needs, str) else needs
            ok_needs = [n for n in needs if isinstance(n, str) and n in self.renames]
            if len(ok_needs) == len(needs) and self._neutral_job(ok_needs):
                out["needs"] = [self.renames[n] for n in ok_needs]
            else:
                keep("needs", "needs a job without neutral form; kept verbatim", "job-needs")
        for key, val in job.items():
            if key in ("steps", "strategy", "needs"):
                continue
            if key == "env" and isinstance(val, dict) and "env" not in forced_keys(forced):
                self.job_env(job_id, val, out, hatch, scope)
                continue
            if key == "defaults" and _run_defaults(val) is not None:
                continue
            done = key not in forced_keys(forced) and self.job_field(key, val, out, scope, job_id)
            if not done:
                why, rule = _JOB_KEY_NOTES.get(
                    key, (f'"{key}" has no exact neutral form here; kept verbatim', "job-" + key)
                )
                keep(key, why, rule)
        defaults = self.run_defaults(job_id, job)
        step_scope = _Scope(matrix=scope.matrix, step=True, secrets_ok=True)
        out["steps"] = []
        control = False
        for index, step in enumerate(job["steps"]):
            spath = f"{path}.steps[{index}]"
            if isinstance(step, dict) and not {"run", "uses"} & set(step) and _CONTROL & set(step):
                # parallel / wait / wait-all / cancel: GitHub step kinds that a step hatch
                # cannot produce (the generated step would also carry a run:).
                control = True
                inner = step.get("parallel")
                for k, nested in enumerate(inner if isinstance(inner, list) else []):
                    out["steps"].append(
                        self.step(
                            job_id,
                            len(out["steps"]),
                            nested,
                            step_scope,
                            defaults,
                            f"{spath}.parallel[{k}]",
                        )
                    )
                continue
            out["steps"].append(
                self.step(job_id, len(out["steps"]), step, step_scope, defaults, spath)
            )
        if control:
            hatch["steps"] = self.native(job["steps"], scope)
            self.note(
                f"{path}.steps",
                "parallel / wait / wait-all / cancel steps have no neutral form: the job's "
                "steps are kept verbatim for GitHub; other targets run the steps one after "
                "another",
                "job-steps",
            )
        if not out["steps"]:
            raise GitHubImportError(f"{self.file}: {path}: a job needs at least one step")
        if hatch:
            out["github"] = hatch
        return out

    def job_env(
        self,
        job_id: str,
        env: dict[str, Any],
        out: dict[str, Any],
        hatch: dict[str, Any],
        scope: _Scope,
    ) -> None:
        """A job's env entry by entry: neutral ones, ``secrets``, the rest in the hatch."""
        env_scope = _Scope(matrix=scope.matrix, secrets_ok=True)
        neutral: dict[str, Any] = {}
        secrets: list[str] = []
        for name, item in env.items():
            where = f"jobs.{job_id}.env.{name}"
            if not _IDENT.match(name) or name.startswith(RESERVED_VARIABLE_PREFIXES):
                why, rule = _reserved_name(name)
            elif item == "${{ secrets." + name + " }}":
                secrets.append(name)
                self.secrets.add(name)
                continue
            else:
                try:
                    neutral[name] = self.value(item, env_scope)
                    continue
                except _Untranslatable as exc:
                    why, rule = _reason(exc, "job-env")
            hatch.setdefault("env", {})[name] = self.native(item, scope)
            self.note(where, f"{why}; kept for GitHub in the job's github: env", rule)
        if neutral:
            out["env"] = neutral
        if secrets:
            out["secrets"] = secrets

    def run_defaults(self, job_id: str, job: dict[str, Any]) -> _RunDefaults:
        """The ``defaults.run`` settings a run step of the job inherits (job over workflow)."""
        found = _RunDefaults(windows=_windows_only(job.get("runs-on")))
        if "${{" in str(job.get("runs-on")) and "windows" in str(job.get("strategy")).lower():
            found.some_windows = f"jobs.{job_id}"
        for where, source in (("defaults.run", self.doc), (f"jobs.{job_id}.defaults.run", job)):
            run = _run_defaults(source.get("defaults"))
            if run is None:
                continue
            if "shell" in run:
                found.shell, found.shell_path = run["shell"], f"{where}.shell"
            if "working-directory" in run:
                found.working_directory = run["working-directory"]
                found.wd_path = f"{where}.working-directory"
            self.note(
                where,
                "defaults.run became the shell / working directory of each run step that sets none",
                "defaults-run",
            )
        return found

    def native(self, value: Any, scope: _Scope, *, expression: bool = False) -> Any:
        """A value kept for GitHub, with renamed matrix axes and job ids written anew.

        ``expression``: the whole text is an expression (an ``if:``), not only ``${{ }}``.
        """
        if isinstance(value, dict):
            return {k: self.native(v, scope) for k, v in value.items()}
        if isinstance(value, list):
            return [self.native(v, scope) for v in value]
        if not isinstance(value, str):
            return value
        if expression and "${{" not in value:
            return self._renamed(value, scope)
        return _TEMPLATE.sub(lambda m: "${{" + self._renamed(m.group(1), scope) + "}}", value)

    def _renamed(self, text: str, scope: _Scope) -> str:
        for old, new in scope.matrix.items():
            if old != new:
                text = re.sub(rf"\bmatrix\.{re.escape(old)}(?![\w-])", f"matrix.{new}", text)
        for old, new in self.renames.items():
            if old != new:
                text = re.sub(rf"\bneeds\.{re.escape(old)}(?=\.)", f"needs.{new}", text)
        return text

    def _neutral_job(self, ids: list[str]) -> bool:
        jobs = self.doc["jobs"]
        return all(
            isinstance(jobs[i], dict)
            and "uses" not in jobs[i]
            and isinstance(jobs[i].get("steps"), list)
            for i in ids
        )

    def strategy(
        self,
        job_id: str,
        strategy: Any,
        out: dict[str, Any],
        hatch: dict[str, Any],
        scope: _Scope,
        forced: bool,
    ) -> None:
        path = f"jobs.{job_id}.strategy"
        if not isinstance(strategy, dict):
            hatch["strategy"] = strategy
            self.note(path, "strategy is an expression; kept verbatim", "job-strategy")
            return
        if "matrix" not in strategy:
            # fail-fast and max-parallel only act on matrix instances (GitHub's schema even
            # requires a matrix), so without one the strategy does nothing.
            self.note(path, "strategy without a matrix has no effect; left out", "job-strategy")
            return
        rest = {k: v for k, v in strategy.items() if k != "matrix"}
        matrix = None if forced else _matrix(strategy.get("matrix"))
        if "matrix" in strategy and matrix is None:
            rest["matrix"] = strategy["matrix"]
            self.note(
                f"{path}.matrix",
                "matrix has no neutral form (fromJSON, objects, or clashing axis names); "
                "kept verbatim",
                "job-matrix",
            )
        elif matrix is not None:
            data, renamed = matrix
            out["matrix"] = data
            scope.matrix.update(renamed)
            for native, neutral in renamed.items():
                if native != neutral:
                    self.note(
                        f"{path}.matrix.{native}",
                        f'matrix axis "{native}" renamed "{neutral}" (axes are identifiers)',
                        "matrix-axis-renamed",
                    )
            # GitHub's fail-fast defaults to true; neutral matrix instances are independent.
            rest.setdefault("fail-fast", True)
        if rest:
            hatch["strategy"] = rest
            self.note(path, "fail-fast / max-parallel kept verbatim", "job-strategy")

    def job_field(
        self, key: str, val: Any, out: dict[str, Any], scope: _Scope, job_id: str
    ) -> bool:
        """Set the neutral form of one job key; False when it has none (kept verbatim)."""
        if key == "runs-on":
            if isinstance(val, str):
                ok, text = self.try_value(_RUNNERS.get(val, val), scope)
                if ok:
                    out["runs_on"] = text
                return ok
            if isinstance(val, list) and val and all(isinstance(v, str) and v for v in val):
                labels = [self.try_value(v, scope) for v in val]
                if all(ok for ok, _ in labels):
                    out["runs_on"] = [t for _, t in labels]
                    return True
            return False
        if key == "container":
            image = val if isinstance(val, str) else None
            if isinstance(val, dict) and set(val) == {"image"}:
                image = val["image"]
            ok, text = self.try_value(image, scope) if image else (False, None)
            if ok and text:
                out["image"] = text
            return bool(ok and text)
        if key == "env" and isinstance(val, dict):
            env_scope = _Scope(matrix=scope.matrix, secrets_ok=True)
            env: dict[str, Any] = {}
            secrets: list[str] = []
            for name, item in val.items():
                if not _IDENT.match(name) or name.startswith(RESERVED_VARIABLE_PREFIXES):
                    return False
                if item == "${{ secrets." + name + " }}":
                    secrets.append(name)
                    self.secrets.add(name)
                    continue
                ok, text = self.try_value(item, env_scope)
                if not ok:
                    return False
                env[name] = text
            if env:
                out["env"] = env
            if secrets:
                out["secrets"] = secrets
            return True
        if key == "timeout-minutes" and isinstance(val, int) and not isinstance(val, bool):
            if 0 < val <= 7 * 24 * 60:
                out["timeout"] = val * 60
                return True
            return False
        if key == "continue-on-error" and isinstance(val, bool):
            out["allow_failure"] = val
            return True
        if key == "permissions":
            perms = _permissions(val)
            if perms is not None:
                out["permissions"] = perms
            return perms is not None
        if key == "environment":
            if isinstance(val, str):
                ok, text = self.try_value(val, scope)
                if ok and text:
                    out["environment"] = text
                return bool(ok and text)
            if isinstance(val, dict) and "name" in val and set(val) <= {"name", "url"}:
                ok, text = self.try_value(val["name"], scope)
                spec: dict[str, Any] = {"name": text}
                if "url" in val:
                    ok2, url = self.try_value(val["url"], scope)
                    ok = ok and ok2 and isinstance(url, str) and bool(re.match(URL_PATTERN, url))
                    spec["url"] = url
                if ok and text:
                    out["environment"] = spec
                return bool(ok and text)
            return False
        if key == "outputs" and isinstance(val, dict):
            outputs = {}
            for name, item in val.items():
                ok, text = self.try_value(item, _Scope(outputs_only=True))
                if not ok or not _IDENT.match(name) or not isinstance(text, str):
                    return False
                outputs[name] = text
            out["outputs"] = outputs
            return True
        if key == "services" and isinstance(val, dict):
            services = [_service(alias, spec) for alias, spec in val.items()]
            if all(s is not None for s in services):
                out["services"] = services
                return True
            return False
        if key == "if":
            when = _condition(val)
            if when is not None:
                out["when"] = when
            return when is not None
        return False

    # --- steps --------------------------------------------------------------------------

    def step(
        self,
        job_id: str,
        index: int,
        step: Any,
        scope: _Scope,
        shell_default: _RunDefaults,
        path: str,
    ) -> dict[str, Any]:
        """The neutral form of one step; what has none goes to the step's ``github:`` hatch.

        Only a step GitHub itself refuses (not a mapping, neither or both of ``run`` and
        ``uses``, a malformed action reference) makes the import fail.
        """
        if not isinstance(step, dict):
            raise GitHubImportError(f"{self.file}: {path}: a step is a mapping")
        kinds = [k for k in ("run", "uses") if k in step]
        if len(kinds) != 1:
            raise GitHubImportError(
                f'{self.file}: {path}: a step needs exactly one of "run" or "uses" (or '
                "parallel, wait, wait-all, cancel)"
            )
        forced = {
            part: why
            for (j, i, part), why in self.forced_parts.items()
            if (j, i) == (job_id, index)
        }
        build = _StepBuild(self, step, scope, path, forced)
        build.head()
        build.env()
        if "run" in step:
            build.run(shell_default)
        else:
            build.uses()
        build.rest()
        return build.result()

    def translate_tree(self, spec: Any, scope: _Scope) -> Any:
        """Every scalar of ``spec`` translated; raises _Untranslatable."""
        if isinstance(spec, dict):
            return {k: self.translate_tree(v, scope) for k, v in spec.items()}
        if isinstance(spec, list):
            return [self.translate_tree(v, scope) for v in spec]
        return self.value(spec, scope)

    # --- repair -------------------------------------------------------------------------

    def repair(self, exc: PipelineValidationError) -> bool:
        """Move the parts the diagnostics point at to escape hatches; False if none can be."""
        job_ids = [j for j in self.doc["jobs"] if self._neutral_job([j])]
        changed = False
        for diag in exc.diagnostics:
            p = diag.path
            if len(p) < 5 or p[0] != "stages" or p[2] != "jobs" or not isinstance(p[3], int):
                continue
            if p[3] >= len(job_ids):
                continue
            job_id = job_ids[p[3]]
            if p[4] == "steps" and len(p) > 5 and isinstance(p[5], int):
                key = (job_id, p[5], _native_part(p[6:]))
                if key not in self.forced_parts:
                    self.forced_parts[key] = diag.message
                    changed = True
            elif str(p[4]) in _FIELD_KEYS and (job_id, str(p[4])) not in self.forced_fields:
                self.forced_fields.add((job_id, str(p[4])))
                changed = True
        return changed


@dataclass
class _RunDefaults:
    """What a run step inherits: ``defaults.run`` (job over workflow) and the runner's OS."""

    shell: Any = None
    shell_path: str = ""
    working_directory: Any = None
    wd_path: str = ""
    windows: bool = False  # every runner is Windows, whose default shell is pwsh
    some_windows: str = ""  # the job's path when only some matrix runners are Windows


class _StepBuild:
    """One step being translated: its neutral fields and its own ``github:`` hatch.

    A part without a neutral form goes to the hatch (deep-merged into the GitHub step by the
    generator, reported as a ``step-github`` loss on GitLab); the rest is still translated.
    """

    def __init__(
        self,
        importer: _Importer,
        step: dict[str, Any],
        scope: _Scope,
        path: str,
        forced: dict[tuple[str, ...], str],
    ) -> None:
        self.imp = importer
        self.step = step
        self.scope = scope
        self.path = path
        self.forced = forced  # native parts whose neutral form did not validate -> why
        self.out: dict[str, Any] = {}
        self.hatch: dict[str, Any] = {}
        self.seen: set[str] = set()

    def result(self) -> dict[str, Any]:
        if self.hatch:
            self.out["github"] = self.hatch
        return self.out

    def refused(self, *part: str) -> str | None:
        """Why validation refused the neutral form of ``part`` (or of the whole step)."""
        reason = self.forced.get(part) or self.forced.get(())
        return f"its neutral form did not validate ({reason})" if reason else None

    def keep(self, key: str, why: str, rule: str, sub: str | None = None) -> None:
        """Keep ``step[key]`` (or ``step[key][sub]``) verbatim for GitHub, with a note."""
        self.seen.add(key)
        value = self.step[key] if sub is None else self.step[key][sub]
        native = self.imp.native(value, self.scope, expression=key == "if")
        if sub is None:
            self.hatch[key] = native
            where = f"{self.path}.{key}"
        else:
            self.hatch.setdefault(key, {})[sub] = native
            where = f"{self.path}.{key}.{sub}"
        self.imp.note(where, f"{why}; kept for GitHub in the step's github: hatch", rule)

    def translate(self, value: Any, part: tuple[str, ...], rule: str) -> tuple[Any, str, str]:
        """(neutral value or None, why not, note rule)."""
        refused = self.refused(*part)
        if refused:
            return None, refused, rule
        try:
            return self.imp.value(value, self.scope), "", rule
        except _Untranslatable as exc:
            why, rule = _reason(exc, rule)
            return None, why, rule

    # --- the parts ------------------------------------------------------------------------

    def head(self) -> None:
        step = self.step
        self.seen.update(("name", "id", "if"))
        if "name" in step:
            name = step["name"]
            if isinstance(name, bool | int | float):
                name = str(name)
            if isinstance(name, str) and "${{" not in name and not self.refused("name"):
                self.out["name"] = name
            else:
                self.keep("name", "a step name with an expression has no neutral form", "step-name")
        if "id" in step:
            sid = step["id"]
            if isinstance(sid, str) and _JOB.match(sid) and not self.refused("id"):
                self.out["id"] = sid
            else:
                why = self.refused("id") or "the step id is not a valid neutral id"
                self.keep("id", why, "step-id")
        if "if" in step:
            # A step condition has no neutral form (the model has none, by design).
            self.keep(
                "if",
                "a step condition has no neutral form (other targets run the step unconditionally)",
                "step-if",
            )

    def env(self) -> None:
        self.seen.add("env")
        env = self.step.get("env")
        if env is None:
            return
        if not isinstance(env, dict):
            self.keep("env", "a step env that is an expression has no neutral form", "step-env")
            return
        neutral: dict[str, Any] = {}
        for name, item in env.items():
            if not _IDENT.match(name) or name.startswith(RESERVED_VARIABLE_PREFIXES):
                why, rule = _reserved_name(name)
            elif not isinstance(item, str | bool | int | float):
                why, rule = "a value that is not text, a number or a boolean", "step-env"
            else:
                text, why, rule = self.translate(item, ("env", name), "step-env")
                if text is not None:
                    neutral[name] = text
                    continue
            self.keep("env", why, rule, sub=name)
        if neutral:
            self.out["env"] = neutral

    def run(self, defaults: _RunDefaults) -> None:
        step = self.step
        self.seen.update(("run", "shell", "working-directory"))
        reasons: list[str] = []
        hatch: dict[str, Any] = {}
        shell, shell_path = step.get("shell"), f"{self.path}.shell"
        if "shell" not in step and defaults.shell is not None:
            shell, shell_path = defaults.shell, defaults.shell_path
        neutral_shell = None
        if shell is None and defaults.windows:
            neutral_shell = "pwsh"  # GitHub's default shell on Windows runners
        elif shell is None and defaults.some_windows:
            self.imp.note(
                defaults.some_windows,
                "GitHub runs steps without a shell in pwsh on Windows runners and bash on "
                "others; the neutral steps run bash on every runner (no neutral form for a "
                "per-runner default)",
                "windows-default-shell",
            )
        elif shell is not None and (self.refused("shell") or not isinstance(shell, str)):
            reasons.append(self.refused("shell") or "the shell is not text")
            hatch["shell"] = shell
        elif isinstance(shell, str) and shell in _SHELLS:
            neutral_shell = shell
        elif isinstance(shell, str) and _BASH_COMMAND.fullmatch(shell):
            neutral_shell = "bash"
            hatch["shell"] = shell
            self.imp.note(
                shell_path,
                f'shell "{shell}" is bash with options; other targets run plain bash',
                "step-shell",
            )
        elif shell is not None:
            reasons.append(f'shell "{shell}" has no neutral form')
            hatch["shell"] = shell
        wd = step.get("working-directory", defaults.working_directory)
        if wd is not None:
            # The neutral working_directory is a plain path (templates are not expanded
            # there), so one with an expression is GitHub-only, and so is the script.
            text, why, _rule = self.translate(wd, ("working-directory",), "step-run")
            if isinstance(wd, str) and "${{" in wd:
                text, why = None, f'the working directory "{wd}" holds an expression'
            if isinstance(text, str) and text:
                self.out["working_directory"] = text
            else:
                reasons.append(why or "the working directory is empty or not text")
                hatch["working-directory"] = self.imp.native(wd, self.scope)
        script = step["run"]
        neutral_script = None
        if isinstance(script, str) and script.strip():
            for var in ("GITHUB_ENV", "GITHUB_PATH", "GITHUB_STEP_SUMMARY"):
                if var in script:
                    self.imp.note(
                        f"{self.path}.run", f"script writes ${var}, which only GitHub reads", var
                    )
            rewritten = re.sub(r"\$\{?GITHUB_OUTPUT\}?", "$CICD_OUTPUT", script)
            rewritten = self.imp.runner_facts(rewritten, f"{self.path}.run")
            neutral_script, why, _rule = self.translate(rewritten, ("run",), "step-run")
            if neutral_script is None:
                reasons.append(why)
        else:
            reasons.append("the script is empty or not text")
        if neutral_shell is not None:
            self.out["shell"] = neutral_shell
        if reasons:
            self.out["run"] = _PLACEHOLDERS[neutral_shell]
            hatch["run"] = self.imp.native(script, self.scope)
            self.imp.note(
                f"{self.path}.run",
                "the script has no neutral form (" + "; ".join(dict.fromkeys(reasons)) + "); "
                "it is kept for GitHub in the step's github: hatch and fails loudly elsewhere",
                "step-run",
            )
        else:
            self.out["run"] = neutral_script
        self.hatch.update(hatch)
        minutes = step.get("timeout-minutes")
        if isinstance(minutes, int) and self._whole_minutes(minutes):
            self.seen.add("timeout-minutes")
            self.out["timeout"] = minutes * 60
        flag = step.get("continue-on-error")
        if isinstance(flag, bool) and not self.refused("continue-on-error"):
            self.seen.add("continue-on-error")
            self.out["continue_on_error"] = flag

    def _whole_minutes(self, value: Any) -> bool:
        if self.refused("timeout-minutes") or isinstance(value, bool):
            return False
        return isinstance(value, int) and 0 < value <= 7 * 24 * 60

    def uses(self) -> None:
        step = self.step
        self.seen.update(("uses", "with"))
        uses = step["uses"]
        if not isinstance(uses, str) or not _USES.match(uses):
            raise GitHubImportError(
                f'{self.imp.file}: {self.path}.uses: "{uses}" is not an action reference '
                "(owner/repo@ref, ./path or docker://image)"
            )
        with_ = step.get("with")
        if isinstance(with_, dict | None) and "env" not in step and not self.refused("kind"):
            kind = _neutral_kind(uses.partition("@")[0].lower(), with_ or {})
            try:
                spec = self.imp.translate_tree(kind[1], self.scope) if kind else None
            except _Untranslatable:
                kind = None
            if kind is not None:
                self.imp.note(
                    f"{self.path}.uses",
                    f'"{uses}" became the neutral {kind[0]} step (the generator pins its own '
                    "version)",
                    "uses-neutral",
                )
                self.out[kind[0]] = spec
                return
        self.out["uses"] = uses
        if uses.startswith("./"):
            self.imp.note(
                f"{self.path}.uses", "local or composite action kept as uses:", "uses-local"
            )
        if with_ is None:
            return
        if not isinstance(with_, dict):
            self.keep("with", "inputs given as an expression have no neutral form", "step-with")
            return
        neutral: dict[str, Any] = {}
        for key, item in with_.items():
            if not isinstance(item, str | bool | int | float):
                why, rule = "a value that is not text, a number or a boolean", "step-with"
            else:
                text, why, rule = self.translate(item, ("with", key), "step-with")
                if text is not None:
                    neutral[key] = text
                    continue
            self.keep("with", why, rule, sub=key)
        if neutral:
            self.out["with"] = neutral

    def rest(self) -> None:
        """Every key no neutral field took (an expression, or a uses step's settings)."""
        for key in self.step:
            if key not in self.seen:
                why = self.refused(key) or _STEP_KEY_NOTES.get(
                    key, f'"{key}" has no neutral form on this step'
                )
                self.keep(key, why, f"step-{key}")


def _reason(exc: _Untranslatable, rule: str) -> tuple[str, str]:
    """Why an expression did not translate, and the note rule."""
    body = str(exc.args[0]) if exc.args else ""
    if "secrets.GITHUB_TOKEN" in body or body.strip() == "github.token":
        return (
            "the GITHUB_TOKEN secret is GitHub's own token, with no neutral equivalent",
            "github-token",
        )
    return f'the expression "{body}" has no neutral form', rule


def _reserved_name(name: str) -> tuple[str, str]:
    if not _IDENT.match(name):
        return f'"{name}" is not a neutral variable name', "env-name"
    return (
        f'"{name}" is reserved in the neutral model (the providers and the runner set '
        f"{name.split('_', 1)[0]}_* variables themselves)",
        "env-reserved",
    )


def _run_defaults(value: Any) -> dict[str, Any] | None:
    """``defaults`` as ``{shell, working-directory}`` when that is all it holds."""
    if not isinstance(value, dict) or set(value) != {"run"}:
        return None
    run = value["run"]
    if not isinstance(run, dict) or not run or set(run) - {"shell", "working-directory"}:
        return None
    return run


def _windows_only(runs_on: Any) -> bool:
    """True when every runner the job may get is a Windows one (default shell pwsh)."""
    labels = [runs_on] if isinstance(runs_on, str) else runs_on
    if not isinstance(labels, list) or not labels:
        return False
    names = [str(x).lower() for x in labels]
    if any("${{" in n for n in names):
        return False
    return names[0].startswith("windows") or "windows" in names


def _native_part(path: tuple[Any, ...]) -> tuple[str, ...]:
    """The native part of a step that a neutral diagnostic path names (``()``: all of it)."""
    if not path:
        return ()
    head = str(path[0])
    if head in ("env", "with") and len(path) > 1:
        return (head, str(path[1]))
    native = {
        "run": "run",
        "shell": "shell",
        "working_directory": "working-directory",
        "timeout": "timeout-minutes",
        "continue_on_error": "continue-on-error",
        "name": "name",
        "id": "id",
    }
    if head in native:
        return (native[head],)
    if head in ("checkout", "setup", "cache", "upload_artifact", "download_artifact"):
        return ("kind",)
    return ()


def forced_keys(fields: set[str]) -> set[str]:
    """The native job keys whose neutral fields validation refused."""
    return {_FIELD_KEYS[f] for f in fields if f != "matrix"}


# --- pure helpers -----------------------------------------------------------------------------


def _patterns(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, str) and v for v in value)


def _manual_input(name: str, entry: Any) -> dict[str, Any] | None:
    if not _IDENT.match(name) or name.startswith(RESERVED_VARIABLE_PREFIXES):
        return None
    entry = entry or {}
    allowed = {"description", "type", "default", "options", "required"}
    if not isinstance(entry, dict) or set(entry) - allowed:
        return None
    out: dict[str, Any] = {}
    kind = entry.get("type")
    if kind is not None and kind not in ("string", "boolean", "choice", "number"):
        return None
    if kind is not None:
        out["type"] = kind
    if "description" in entry:
        if not isinstance(entry["description"], str):
            return None
        out["description"] = entry["description"]
    if "required" in entry:
        if not isinstance(entry["required"], bool):
            return None
        out["required"] = entry["required"]
    if "options" in entry:
        if not isinstance(entry["options"], list):
            return None
        out["options"] = [str(o) for o in entry["options"]]
    default = entry.get("default")
    if default is not None:
        if kind == "boolean" and isinstance(default, str):
            if default.lower() not in ("true", "false"):
                return None
            default = default.lower() == "true"
        if kind == "number" and isinstance(default, str):
            try:
                default = float(default) if "." in default else int(default)
            except ValueError:
                return None
        if isinstance(default, str) and "${{" in default:
            return None
        if not isinstance(default, str | bool | int | float):
            return None
        if kind in (None, "string", "choice") and not isinstance(default, str):
            default = str(default).lower() if isinstance(default, bool) else str(default)
        if kind == "boolean" and not isinstance(default, bool):
            return None
        if kind == "number" and (isinstance(default, bool) or not isinstance(default, int | float)):
            return None
        if "options" in out and str(default) not in out["options"]:
            return None
        out["default"] = default
    if kind == "choice" and not out.get("options"):
        return None
    return out


def _permissions(value: Any) -> dict[str, str] | None:
    if not isinstance(value, dict):
        return None
    if not all(
        k in _PERMISSION_SCOPES and v in ("read", "write", "none") for k, v in value.items()
    ):
        return None
    return {str(k): str(v) for k, v in value.items()}


def _matrix(value: Any) -> tuple[dict[str, Any], dict[str, str]] | None:
    """A neutral matrix and the axis renames, or None when it has no neutral form."""
    if not isinstance(value, dict):
        return None
    renames: dict[str, str] = {}

    def axis(name: str) -> str | None:
        new = name.replace("-", "_")
        if not _IDENT.match(new) or new in ("include", "exclude"):
            return None
        if renames.get(name, new) != new or (new in renames.values() and renames.get(name) != new):
            return None
        renames[name] = new
        return new

    def scalar(v: Any) -> bool:
        return isinstance(v, str | bool | int | float) and not (isinstance(v, str) and "${{" in v)

    out: dict[str, Any] = {}
    for key, val in value.items():
        if key in ("include", "exclude"):
            if not isinstance(val, list) or not all(isinstance(e, dict) for e in val):
                return None
            entries = []
            for entry in val:
                new_entry = {}
                for k, v in entry.items():
                    new = axis(k)
                    if new is None or not scalar(v):
                        return None
                    new_entry[new] = v
                entries.append(new_entry)
            if entries:
                out[key] = entries
            continue
        new = axis(key)
        if new is None or not isinstance(val, list) or not val or not all(map(scalar, val)):
            return None
        out[new] = val
    if not any(k not in ("include", "exclude") for k in out) and not out.get("include"):
        return None
    return out, renames


def _service(alias: str, spec: Any) -> dict[str, Any] | None:
    if not _JOB.match(alias) or not isinstance(spec, dict):
        return None
    if set(spec) - {"image", "env", "ports"}:
        return None
    image = spec.get("image")
    if not isinstance(image, str) or not image or "${{" in image:
        return None
    out: dict[str, Any] = {"image": image, "alias": alias}
    env = spec.get("env") or {}
    if not isinstance(env, dict):
        return None
    for key, val in env.items():
        if not _IDENT.match(key) or key.startswith(RESERVED_VARIABLE_PREFIXES):
            return None
        if not isinstance(val, str | bool | int | float) or "${{" in str(val):
            return None
    if env:
        out["env"] = env
    ports = []
    for port in spec.get("ports") or []:
        text = str(port)
        host, _, container = text.partition(":")
        if not host.isdigit() or (container and container != host) or not 0 < int(host) < 65536:
            return None
        ports.append(int(host))
    if ports:
        out["ports"] = ports
    return out


_STATUS = {
    "success()": "on_success",
    "failure()": "on_failure",
    "always()": "always",
    "!cancelled()": "always",
}
_EVENTS = {
    "push": "push",
    "pull_request": "pull_request",
    "schedule": "schedule",
    "workflow_dispatch": "manual",
}


def _condition(value: Any) -> dict[str, Any] | None:
    """A neutral ``when`` for the common ``if:`` forms (a conjunction of known tests)."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    match = re.fullmatch(r"\$\{\{(.*)\}\}", text, re.DOTALL)
    if match:
        text = match.group(1).strip()
    if "||" in text or "(" in text.replace("()", "").replace("startsWith(", ""):
        return None
    when: dict[str, Any] = {}
    for raw in text.split("&&"):
        part = raw.strip()
        if part in _STATUS:
            if "status" in when:
                return None
            when["status"] = _STATUS[part]
            continue
        m = re.fullmatch(r"github\.ref\s*==\s*'refs/heads/([^']+)'", part)
        if m and "branches" not in when:
            when["branches"] = [m.group(1)]
            continue
        m = re.fullmatch(r"github\.ref\s*==\s*'refs/tags/([^']+)'", part)
        if m and "tags" not in when:
            when["tags"] = [m.group(1)]
            continue
        m = re.fullmatch(r"startsWith\(\s*github\.ref\s*,\s*'refs/tags/([^'*]*)'\s*\)", part)
        if m and "tags" not in when:
            when["tags"] = [m.group(1) + "**"]
            continue
        m = re.fullmatch(r"github\.event_name\s*==\s*'([a-z_]+)'", part)
        if m and m.group(1) in _EVENTS and "events" not in when:
            when["events"] = [_EVENTS[m.group(1)]]
            continue
        return None
    return when or None


def _neutral_kind(action: str, with_: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """The neutral step kind of a well-known action whose inputs map exactly."""
    keys = set(with_)
    if action == "actions/checkout" and keys <= {
        "fetch-depth",
        "submodules",
        "lfs",
        "persist-credentials",
    }:
        if with_.get("persist-credentials", False) not in (False, "false"):
            return None
        opts: dict[str, Any] = {}
        depth = with_.get("fetch-depth")
        if depth is not None:
            if isinstance(depth, bool) or not isinstance(depth, int) or depth < 0:
                return None
            opts["depth"] = depth
        sub = with_.get("submodules")
        if sub is not None:
            sub = {"true": True, "false": False}.get(str(sub).lower(), sub)
            if sub not in (True, False, "recursive"):
                return None
            opts["submodules"] = sub
        lfs = with_.get("lfs")
        if lfs is not None:
            if lfs not in (True, False, "true", "false"):
                return None
            opts["lfs"] = lfs in (True, "true")
        return "checkout", opts
    for tool in ("python", "node", "go"):
        if action == f"actions/setup-{tool}" and keys == {f"{tool}-version"}:
            version = with_[f"{tool}-version"]
            if isinstance(version, bool | list | dict) or version is None:
                return None
            return "setup", {tool: str(version)}
    policies = {
        "actions/cache": "pull-push",
        "actions/cache/restore": "pull",
        "actions/cache/save": "push",
    }
    if action in policies and {"path", "key"} <= keys <= {"path", "key", "restore-keys"}:
        paths = [p.strip() for p in str(with_["path"]).splitlines() if p.strip()]
        if not paths or not isinstance(with_["key"], str) or not with_["key"]:
            return None
        cache: dict[str, Any] = {"key": with_["key"], "paths": paths}
        restore = [k.strip() for k in str(with_.get("restore-keys", "")).splitlines()]
        if any(restore):
            cache["restore_keys"] = [k for k in restore if k]
        if policies[action] != "pull-push":
            cache["policy"] = policies[action]
        return "cache", cache
    if action == "actions/upload-artifact" and "path" in keys <= {"path", "retention-days"}:
        paths = [p.strip() for p in str(with_["path"]).splitlines() if p.strip()]
        if not paths or any(p.startswith("!") for p in paths):
            return None
        spec: dict[str, Any] = {"paths": paths}
        days = with_.get("retention-days")
        if days is not None:
            if isinstance(days, bool) or not isinstance(days, int) or days < 1:
                return None
            spec["expire_in"] = f"{days}d"
        return "upload_artifact", spec
    return None
