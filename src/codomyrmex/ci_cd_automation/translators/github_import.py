"""Native GitHub Actions workflow -> neutral pipeline file data.

Triggers, workflow keys, jobs and the repair loop (a part a rule refuses moves to its hatch and
the data is rebuilt); expressions are ``github_expressions``'s, steps ``github_steps``'s.
Nothing is dropped silently; only ``PipelineImportError`` escapes. See docs/importing.md.
"""

from __future__ import annotations

import re
import typing
from typing import Any

from ..errors import PipelineImportError, PipelineValidationError
from ..model import yaml_reader
from ..model.loader import pipeline_from_data
from ..model.notes import Note, format_path
from ..model.notes import Path as NotePath
from ..model.pipeline import (
    GITLAB_RESERVED_JOB_NAMES,
    IDENT_PATTERN,
    JOB_NAME_PATTERN,
    NAME_PATTERN,
    RESERVED_VARIABLE_PREFIXES,
    URL_PATTERN,
    PermissionScope,
    cron_problem,
)
from ..model.yaml_reader import YamlReadError
from .github_expressions import ExpressionTranslator, Scope, Untranslatable, condition, reason
from .github_steps import (
    ACTION_REF,
    CONTROL,
    RunDefaults,
    StepBuild,
    defaults_run,
    native_part,
    reserved_name,
    run_defaults,
)
from .github_words import EVENT_NAMES, RUNNER_LABELS
from .reader import NoteLog, ReaderResult

STAGE = "jobs"
MAX_NODES = 200_000
MAX_REPAIRS = 50
_IDENT = re.compile(IDENT_PATTERN)
_JOB = re.compile(JOB_NAME_PATTERN)
# The generator's tables read backwards: the GitHub events with a neutral trigger, and
# hosted runner label -> neutral label.
_NEUTRAL_EVENTS = frozenset(EVENT_NAMES.values())
_RUNNERS = {native: neutral for neutral, native in RUNNER_LABELS.items()}
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
_UNEXPECTED = "unexpected trigger value; kept verbatim"
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


def import_github(text: str, name: str) -> ReaderResult:
    """Read a GitHub Actions workflow into neutral pipeline file data.

    Args:
        text: the workflow YAML.
        name: the file name, used in messages and (sanitised) as the pipeline name.

    Raises:
        PipelineImportError: the text is not a workflow, or has no neutral form at all.
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
                raise PipelineImportError(name, f"no valid neutral form: {reason}") from None
            continue
        return ReaderResult(data, importer.final_notes(), tree, pipeline)
    raise PipelineImportError(name, f"no valid neutral form after {MAX_REPAIRS} repairs")


# --- reading ------------------------------------------------------------------------------


def _read_yaml(text: str, name: str) -> tuple[dict[str, Any], Any]:
    """The workflow as plain data, and ruamel's round-trip tree of it (for positions)."""
    try:
        docs, _ = yaml_reader.load(text, name, single=True)
    except YamlReadError as exc:
        raise exc.import_error() from None
    tree = docs[0]
    data = _plain(tree)
    if not isinstance(data, dict):
        raise PipelineImportError(name, f"a workflow is a mapping; found {type(data).__name__}")
    if "jobs" not in data or not isinstance(data["jobs"], dict) or not data["jobs"]:
        raise PipelineImportError(name, 'a workflow needs a non-empty "jobs" mapping')
    if "on" not in data:
        raise PipelineImportError(name, 'a workflow needs "on:" (its triggers)')
    return data, tree


def _plain(node: Any) -> Any:
    """ruamel's tree as plain dicts, lists and scalars (aliases expanded: the reader bounds
    how far)."""
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list | tuple):
        return [_plain(v) for v in node]
    if node is None or isinstance(node, bool | int | float):
        return node if not isinstance(node, bool) else bool(node)
    return str(node)


class _Importer:
    """One workflow being imported; ``build`` runs once per repair round."""

    def __init__(self, doc: dict[str, Any], file: str) -> None:
        self.doc = doc
        self.file = file
        self.notes = NoteLog(unique=True)
        self.note = self.notes.add
        # Step parts validation refused: (job id, step index, native part) -> the reason.
        self.forced_parts: dict[tuple[str, int, tuple[str, ...]], str] = {}
        self.forced_fields: set[tuple[str, str]] = set()
        self.renames = self._job_names()
        # Reads the workflow variables, manual inputs and job renames found here; collects
        # the secrets the translated values use.
        self.exprs = ExpressionTranslator(self.renames, self.note)

    # --- notes ------------------------------------------------------------------------

    def final_notes(self) -> list[Note]:
        return sorted(self.notes.items(), key=lambda n: (n.where, n.message, n.rule))

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
                    ("jobs", job_id),
                    f'job id "{job_id}" is not a valid neutral job name (or a GitLab keyword); '
                    f'renamed "{new}"',
                    "job-renamed",
                    renamed_to=new,
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
        """The neutral file data, with this round's forced parts in their hatches."""
        self.notes.keep(lambda n: n.rule == "job-renamed")
        self.exprs.secrets = set()
        github: dict[str, Any] = {}
        config: dict[str, Any] = {}
        config["triggers"] = self.triggers(self.doc["on"], github)
        self.exprs.variables = self.workflow_env(github)
        if self.exprs.variables:
            config["variables"] = self.exprs.variables
        self.workflow_permissions(config, github)
        self.workflow_keys(github)
        jobs = []
        for job_id, job in self.doc["jobs"].items():
            built = self.job(job_id, job, github)
            if built is not None:
                jobs.append(built)
        if not jobs:
            raise PipelineImportError(
                self.file,
                "no job has a neutral form (only reusable workflow calls or jobs without steps)",
            )
        if self.exprs.secrets:
            config["secrets"] = sorted(self.exprs.secrets)
        if github:
            config["github"] = github
        return {
            "name": self.pipeline_name(),
            "config": config,
            "stages": [{"name": STAGE, "jobs": jobs}],
        }

    def workflow_permissions(self, config: dict[str, Any], github: dict[str, Any]) -> None:
        """The workflow's permissions when they are a map of known scopes, else kept."""
        if "permissions" in self.doc:
            perms = _permissions(self.doc["permissions"])
            if perms is None:
                github["permissions"] = self.doc["permissions"]
                self.note(
                    ("permissions",),
                    "permissions other than a map of known scopes (read-all, write-all...) "
                    "have no neutral form; kept verbatim in config.github",
                    "permissions",
                    kept_verbatim=True,
                )
            else:
                config["permissions"] = perms
        else:
            self.note(
                ("permissions",),
                "the workflow sets no permissions (GitHub's default token scope); the neutral "
                "default, contents: read, applies",
                "permissions-default",
            )

    def workflow_keys(self, github: dict[str, Any]) -> None:
        """Workflow keys without a neutral form, kept in ``config.github``."""
        for key in self.doc:
            if key in ("on", "env", "permissions", "jobs"):
                continue
            if key == "defaults" and defaults_run(self.doc[key]) is not None:
                continue  # applied to the run steps (run_defaults)
            if key == "name" and self.doc[key] == self.pipeline_name():
                continue
            github[key] = self.doc[key]
            why, rule = _WORKFLOW_KEY_NOTES.get(
                key, (f'"{key}" has no neutral form; kept in config.github', "workflow-key")
            )
            self.note((key,), why, rule)

    # --- triggers -----------------------------------------------------------------------

    def triggers(self, on: Any, github: dict[str, Any]) -> dict[str, Any]:
        if isinstance(on, str):
            on = {on: None}
        elif isinstance(on, list):
            on = {str(e): None for e in on}
        if not isinstance(on, dict):
            raise PipelineImportError(self.file, '"on" must be an event, a list or a mapping')
        triggers: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        self.exprs.inputs = set()
        for event, spec in on.items():
            path: NotePath = ("on", event)
            if event not in _NEUTRAL_EVENTS:
                extra[event] = spec
                self.note(path, f'event "{event}" has no neutral trigger; kept', "trigger-event")
                continue
            if spec is not None and not isinstance(spec, dict | list):
                extra[event] = spec
                self.note(
                    path,
                    "unexpected trigger value; kept verbatim",
                    "trigger-event",
                    kept_verbatim=True,
                )
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
                    self.note(
                        path,
                        "schedule kept verbatim (not plain crons)",
                        "trigger-filter",
                        kept_verbatim=True,
                    )
                continue
            if not isinstance(spec, dict | None):
                extra[event] = spec
                self.note(
                    path,
                    "unexpected trigger value; kept verbatim",
                    "trigger-event",
                    kept_verbatim=True,
                )
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
                        (*path, key),
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
                ("on",),
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
                    ("on", "workflow_dispatch", "inputs", name),
                    "input has no neutral form; kept",
                    "trigger-input",
                )
            else:
                inputs[name] = neutral
                self.exprs.inputs.add(name)
        if kept:
            extra.setdefault("workflow_dispatch", {})["inputs"] = kept
        return {"inputs": inputs} if inputs else {}

    def workflow_env(self, github: dict[str, Any]) -> dict[str, Any]:
        env = self.doc.get("env")
        if env is None:
            return {}
        if not isinstance(env, dict):
            github["env"] = env
            self.note(
                ("env",), "workflow env is an expression; kept verbatim", "env", kept_verbatim=True
            )
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
                    ("env", key),
                    "workflow env with an expression or reserved name; kept verbatim",
                    "env",
                    kept_verbatim=True,
                )
        return out

    # --- jobs ---------------------------------------------------------------------------

    def job(self, job_id: str, job: Any, github: dict[str, Any]) -> dict[str, Any] | None:
        """The neutral job, or None when the job is kept whole in ``config.github``."""
        if not isinstance(job, dict) or "uses" in job or not isinstance(job.get("steps"), list):
            self.kept_job(job_id, job, github)
            return None
        out: dict[str, Any] = {"name": self.renames[job_id]}
        hatch: dict[str, Any] = {}
        scope = Scope()
        self.job_keys(job_id, job, out, hatch, scope)
        self.job_steps(job_id, job, out, hatch, scope)
        if hatch:
            out["github"] = hatch
        return out

    def kept_job(self, job_id: str, job: Any, github: dict[str, Any]) -> None:
        """A reusable workflow call (or a job without steps), verbatim in ``config.github``."""
        verbatim = dict(job) if isinstance(job, dict) else job
        if isinstance(verbatim, dict) and "needs" in verbatim:
            needs = verbatim["needs"]
            needs = [needs] if isinstance(needs, str) else needs
            if isinstance(needs, list):
                verbatim["needs"] = [self.renames.get(str(n), n) for n in needs]
        github.setdefault("jobs", {})[self.renames[job_id]] = verbatim
        self.note(
            ("jobs", job_id),
            "reusable workflow call (or job without steps) kept verbatim in config.github",
            "job-reusable",
            kept_verbatim=True,
        )

    def job_keys(
        self,
        job_id: str,
        job: dict[str, Any],
        out: dict[str, Any],
        hatch: dict[str, Any],
        scope: Scope,
    ) -> None:
        """Every job key but ``steps``: its neutral field, or verbatim in the job's hatch."""
        path: NotePath = ("jobs", job_id)
        forced = {f for j, f in self.forced_fields if j == job_id}
        forced_native = forced_keys(forced)

        def keep(key: str, why: str, rule: str, verbatim: bool = True) -> None:
            hatch[key] = self.exprs.native(job[key], scope, expression=key == "if")
            self.note((*path, key), why, rule, kept_verbatim=verbatim)

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
            if key == "env" and isinstance(val, dict) and "env" not in forced_native:
                self.job_env(job_id, val, out, hatch, scope)
                continue
            if key == "defaults" and defaults_run(val) is not None:
                continue
            done = key not in forced_native and self.job_field(key, val, out, scope, job_id)
            if not done and key in _JOB_KEY_NOTES:
                keep(key, *_JOB_KEY_NOTES[key], verbatim=False)
            elif not done:
                keep(key, f'"{key}" has no exact neutral form here; kept verbatim', "job-" + key)

    def job_steps(
        self,
        job_id: str,
        job: dict[str, Any],
        out: dict[str, Any],
        hatch: dict[str, Any],
        scope: Scope,
    ) -> None:
        """The job's steps, one neutral step each (a ``parallel`` step's steps in turn)."""
        path: NotePath = ("jobs", job_id)
        defaults = run_defaults(self.doc, job_id, job, self.note)
        step_scope = Scope(matrix=scope.matrix, step=True, secrets_ok=True)
        out["steps"] = []
        control = False
        for index, step in enumerate(job["steps"]):
            spath: NotePath = (*path, "steps", index)
            if isinstance(step, dict) and not {"run", "uses"} & set(step) and CONTROL & set(step):
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
                            (*spath, "parallel", k),
                        )
                    )
                continue
            out["steps"].append(
                self.step(job_id, len(out["steps"]), step, step_scope, defaults, spath)
            )
        if control:
            hatch["steps"] = self.exprs.native(job["steps"], scope)
            self.note(
                (*path, "steps"),
                "parallel / wait / wait-all / cancel steps have no neutral form: the job's "
                "steps are kept verbatim for GitHub; other targets run the steps one after "
                "another",
                "job-steps",
                kept_verbatim=True,
            )
        if not out["steps"]:
            where = format_path(path)
            raise PipelineImportError(self.file, f"{where}: a job needs at least one step")

    def job_env(
        self,
        job_id: str,
        env: dict[str, Any],
        out: dict[str, Any],
        hatch: dict[str, Any],
        scope: Scope,
    ) -> None:
        """A job's env entry by entry: neutral ones, ``secrets``, the rest in the hatch."""
        env_scope = Scope(matrix=scope.matrix, secrets_ok=True)
        neutral: dict[str, Any] = {}
        secrets: list[str] = []
        for name, item in env.items():
            where: NotePath = ("jobs", job_id, "env", name)
            if not _IDENT.match(name) or name.startswith(RESERVED_VARIABLE_PREFIXES):
                why, rule = reserved_name(name)
            elif item == "${{ secrets." + name + " }}":
                secrets.append(name)
                self.exprs.secrets.add(name)
                continue
            else:
                try:
                    neutral[name] = self.exprs.value(item, env_scope)
                    continue
                except Untranslatable as exc:
                    why, rule = reason(exc, "job-env")
            hatch.setdefault("env", {})[name] = self.exprs.native(item, scope)
            self.note(where, f"{why}; kept for GitHub in the job's github: env", rule)
        if neutral:
            out["env"] = neutral
        if secrets:
            out["secrets"] = secrets

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
        scope: Scope,
        forced: bool,
    ) -> None:
        path: NotePath = ("jobs", job_id, "strategy")
        if not isinstance(strategy, dict):
            hatch["strategy"] = strategy
            self.note(
                path, "strategy is an expression; kept verbatim", "job-strategy", kept_verbatim=True
            )
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
                (*path, "matrix"),
                "matrix has no neutral form (fromJSON, objects, or clashing axis names); "
                "kept verbatim",
                "job-matrix",
                kept_verbatim=True,
            )
        elif matrix is not None:
            data, renamed = matrix
            out["matrix"] = data
            scope.matrix.update(renamed)
            for native, neutral in renamed.items():
                if native != neutral:
                    self.note(
                        (*path, "matrix", native),
                        f'matrix axis "{native}" renamed "{neutral}" (axes are identifiers)',
                        "matrix-axis-renamed",
                        renamed_to=neutral,
                    )
            # GitHub's fail-fast defaults to true; neutral matrix instances are independent.
            rest.setdefault("fail-fast", True)
        if rest:
            hatch["strategy"] = rest
            self.note(
                path, "fail-fast / max-parallel kept verbatim", "job-strategy", kept_verbatim=True
            )

    def job_field(self, key: str, val: Any, out: dict[str, Any], scope: Scope, job_id: str) -> bool:
        """Set the neutral form of one job key; False when it has none (kept verbatim)."""
        if key == "runs-on":
            if isinstance(val, str):
                ok, text = self.exprs.try_value(_RUNNERS.get(val, val), scope)
                if ok:
                    out["runs_on"] = text
                return ok
            if isinstance(val, list) and val and all(isinstance(v, str) and v for v in val):
                labels = [self.exprs.try_value(v, scope) for v in val]
                if all(ok for ok, _ in labels):
                    out["runs_on"] = [t for _, t in labels]
                    return True
            return False
        if key == "container":
            image = val if isinstance(val, str) else None
            if isinstance(val, dict) and set(val) == {"image"}:
                image = val["image"]
            ok, text = self.exprs.try_value(image, scope) if image else (False, None)
            if ok and text:
                out["image"] = text
            return bool(ok and text)
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
                ok, text = self.exprs.try_value(val, scope)
                if ok and text:
                    out["environment"] = text
                return bool(ok and text)
            if isinstance(val, dict) and "name" in val and set(val) <= {"name", "url"}:
                ok, text = self.exprs.try_value(val["name"], scope)
                spec: dict[str, Any] = {"name": text}
                if "url" in val:
                    ok2, url = self.exprs.try_value(val["url"], scope)
                    ok = ok and ok2 and isinstance(url, str) and bool(re.match(URL_PATTERN, url))
                    spec["url"] = url
                if ok and text:
                    out["environment"] = spec
                return bool(ok and text)
            return False
        if key == "outputs" and isinstance(val, dict):
            outputs = {}
            for name, item in val.items():
                ok, text = self.exprs.try_value(item, Scope(outputs_only=True))
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
            when = condition(val)
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
        scope: Scope,
        shell_default: RunDefaults,
        path: NotePath,
    ) -> dict[str, Any]:
        """The neutral form of one step; what has none goes to the step's ``github:`` hatch.

        Only a step GitHub itself refuses (not a mapping, neither or both of ``run`` and
        ``uses``, a malformed action reference) makes the import fail.
        """
        where = format_path(path)
        if not isinstance(step, dict):
            raise PipelineImportError(self.file, f"{where}: a step is a mapping")
        kinds = [k for k in ("run", "uses") if k in step]
        if len(kinds) != 1:
            raise PipelineImportError(
                self.file,
                f'{where}: a step needs exactly one of "run" or "uses" (or '
                "parallel, wait, wait-all, cancel)",
            )
        uses = step.get("uses")
        if "uses" in step and (not isinstance(uses, str) or not ACTION_REF.match(uses)):
            raise PipelineImportError(
                self.file,
                f'{where}.uses: "{uses}" is not an action reference '
                "(owner/repo@ref, ./path or docker://image)",
            )
        forced = {
            part: why
            for (j, i, part), why in self.forced_parts.items()
            if (j, i) == (job_id, index)
        }
        build = StepBuild(self.exprs, self.note, step, scope, path, forced)
        build.head()
        build.env()
        if "run" in step:
            build.run(shell_default)
        else:
            build.uses()
        build.rest()
        return build.result()

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
                key = (job_id, p[5], native_part(p[6:]))
                if key not in self.forced_parts:
                    self.forced_parts[key] = diag.message
                    changed = True
            elif str(p[4]) in _FIELD_KEYS and (job_id, str(p[4])) not in self.forced_fields:
                self.forced_fields.add((job_id, str(p[4])))
                changed = True
        return changed


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
