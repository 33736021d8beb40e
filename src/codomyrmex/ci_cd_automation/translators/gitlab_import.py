"""A resolved GitLab CI document -> neutral pipeline file data, with notes.

The last pass of the GitLab importer (``gitlab_resolve`` reads the YAML and resolves includes,
``extends`` and ``!reference``; ``gitlab_rules`` folds ``rules``). ``import_gitlab`` returns
plain data in the neutral pipeline file shape plus one note for every construct that was kept
in an escape hatch or changed; ``_Importer.build`` lists its steps in the order they run.

Invariants:

* Nothing is dropped silently: what has no neutral form is kept verbatim in the job's
  ``gitlab:`` escape hatch (or ``config.gitlab``) with a note, so same-provider output keeps it.
* Stage order: a job without ``needs`` waits for every job of every earlier stage (the
  stage's ``dependencies`` when no job of the stage lists ``needs``, else job ``needs``).
* ``before_script`` and ``script`` become one run step: GitLab runs them in one shell.
* Invalid neutral names are renamed deterministically, with a note; every ``needs`` follows.
* The result is validated; a file that cannot become a valid pipeline raises
  ``PipelineImportError`` with one line naming the file. No other exception escapes.
* Notes carry native paths whose first element is the top-level key as written.
"""

from __future__ import annotations

import copy
import itertools
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import PipelineImportError
from ..model.durations import compact, parse_duration
from ..model.notes import Note
from ..model.notes import Path as NotePath
from ..model.pipeline import (
    GITLAB_RESERVED_JOB_NAMES,
    IDENT_PATTERN,
    JOB_NAME_PATTERN,
    RESERVED_VARIABLE_PREFIXES,
)
from .gitlab import PRELUDE, RETRY_WHEN
from .gitlab_resolve import Resolver
from .gitlab_rules import RuleFolder, try_rules
from .reader import ReaderResult
from .shell import rewrite_unquoted

__all__ = ["import_gitlab"]

# Top-level keys GitLab reads as keywords, never as jobs (CI/CD YAML syntax reference).
GLOBAL_KEYS = frozenset(
    {"stages", "types", "variables", "include", "workflow", "default", "spec"}
    | {"image", "services", "before_script", "after_script", "cache"}
)
# Keys `default:` may set, which jobs inherit ("default", CI/CD YAML syntax reference).
DEFAULT_KEYS = frozenset(
    {"after_script", "artifacts", "before_script", "cache", "hooks", "id_tokens", "image"}
    | {"interruptible", "retry", "services", "tags", "timeout"}
)
DEFAULT_STAGES = ["build", "test", "deploy"]
RETRY_REASONS = {w: k for k, ws in RETRY_WHEN.items() for w in ws}


# --- the importer ---------------------------------------------------------------------


class _Importer:
    def __init__(
        self,
        name: str,
        base_dir: Path | None,
        include_resolver: Callable[[str], str | None] | None = None,
    ) -> None:
        self.file = name
        self.notes: list[Note] = []
        self.hatch: dict[str, Any] = {}
        self.resolver = Resolver(name, base_dir, include_resolver, self.notes, self.hatch)
        self.missing_parents = self.resolver.missing_parents
        self.trees = self.resolver.trees  # the main file's round-trip tree, for positions
        self.rules = RuleFolder()
        self._job_hatch: dict[str, Any] = {}
        self.global_variables: dict[str, Any] = {}
        self.dotenv: dict[str, list[str]] = {}  # neutral producer job -> its dotenv keys
        self.doc_jobs: set[str] = set()

    def note(
        self,
        path: NotePath,
        message: str,
        rule: str,
        *,
        renamed_to: str | None = None,
        kept_verbatim: bool = False,
    ) -> None:
        self.notes.append(
            Note(message, rule, path, renamed_to=renamed_to, kept_verbatim=kept_verbatim)
        )

    def fail(self, reason: str) -> PipelineImportError:
        return PipelineImportError(self.file, reason)

    def run(self, text: str) -> dict[str, Any]:
        return self.build(self.resolver.resolve(text))

    def build(self, doc: dict[str, Any]) -> dict[str, Any]:
        """The neutral pipeline file data of a resolved document.

        The steps run in this order; each reads what the earlier ones left on ``self``.
        """
        self.doc = doc
        self.config: dict[str, Any] = {}
        for step in (
            self.read_defaults,
            self.read_variables,
            self.read_workflow,
            self.read_spec,
            self.sort_jobs_into_stages,
            self.map_jobs,
            self.keep_matrix_variables_native,
            self.verbatim_jobs_follow,
            self.consume_dotenv,
            self.note_conditional_upstream,
        ):
            step()
        if self.hatch:
            self.config["gitlab"] = self.hatch
        data: dict[str, Any] = {"name": self.pipeline_name(), "stages": self.stages}
        if self.config:
            data["config"] = self.config
        return data

    def read_defaults(self) -> None:
        """``default:`` and the legacy global keywords, which every job inherits."""
        doc = self.doc
        default = doc.get("default") or {}
        if not isinstance(default, dict):
            raise self.fail("default: must be a mapping")
        default = dict(default)
        # Our own generator's prelude (translators.gitlab.PRELUDE) is not user content.
        if default.get("before_script") == list(PRELUDE):
            del default["before_script"]
        for key in ("image", "services", "before_script", "after_script", "cache"):
            if key in doc and key not in default:
                default[key] = doc[key]  # legacy global keywords act as defaults
        for key in set(default) - DEFAULT_KEYS:
            self.note(("default", key), f'unknown default keyword "{key}" ignored', "unknown")
            del default[key]
        self.default: dict[str, Any] = default

    def read_variables(self) -> None:
        """Global ``variables:`` as pipeline variables (what has options stays native)."""
        variables = self.variables(self.doc.get("variables"), ("variables",))
        for key in ("CICD_PIPELINE", "CICD_SHA", "CICD_RUN_ID", "CICD_WORKSPACE"):
            variables.pop(key, None)  # set by our generator, not user content
        if variables:
            self.config["variables"] = variables
        self.rules.config_variables = set(variables)
        self.global_variables = dict(variables)

    def read_workflow(self) -> None:
        """``workflow:rules`` as neutral triggers when they fold exactly, else kept native."""
        workflow = self.doc.get("workflow")
        if isinstance(workflow, dict) and "rules" in workflow:
            triggers = self.rules.fold_workflow({"rules": workflow["rules"]})
            if triggers is not None and self.rules.exotic_sources:
                self.note(
                    ("workflow", "rules"),
                    "pipelines started by triggers, other pipelines or chat have no neutral "
                    "trigger; they do not run",
                    "workflow-sources",
                )
            rest = {k: v for k, v in workflow.items() if k != "rules"}
            if triggers is not None:
                self.config["triggers"] = triggers
            else:
                rest = dict(workflow)
                self.note(
                    ("workflow", "rules"),
                    "workflow:rules kept verbatim: they do not fold exactly into neutral "
                    "triggers (push, pull_request, manual)",
                    "workflow-rules",
                    kept_verbatim=True,
                )
            if rest:
                self.hatch["workflow"] = rest
                for name in rest if triggers is not None else ():
                    why = f"workflow:{name} kept verbatim"
                    self.note(("workflow", name), why, "workflow", kept_verbatim=True)
        elif workflow is not None:
            self.hatch["workflow"] = workflow
            self.note(("workflow",), "workflow kept verbatim", "workflow", kept_verbatim=True)
        else:
            # Without workflow:rules GitLab runs the file for every pipeline source (push,
            # schedules, web, API, triggers); `when: always` says the same to GitLab, and
            # the neutral triggers keep what other providers can express.
            rules: list[dict[str, Any]] = [{"when": "always"}]
            if not _mentions_merge_requests(self.doc):
                # ...and for merge requests only when a job asks for them (rules or only).
                # When none does, saying so keeps plain jobs free of a default-only rule.
                rules.insert(
                    0, {"if": '$CI_PIPELINE_SOURCE == "merge_request_event"', "when": "never"}
                )
            self.hatch["workflow"] = {"rules": rules}
            self.rules.workflow_rules = try_rules(rules)
            self.config["triggers"] = {"push": {}, "manual": {}}
            self.note(
                (),
                "no workflow:rules: GitLab runs the pipeline for every source, kept for GitLab "
                "as workflow:rules [when: always]; the neutral triggers are push and manual "
                "(schedules and API or trigger pipelines do not carry over)",
                "workflow-default",
            )

    def read_spec(self) -> None:
        """A ``spec:`` header (inputs) is kept for GitLab."""
        if "spec" in self.doc:
            self.hatch["spec"] = self.doc["spec"]
            path = ("config", "gitlab", "spec")
            self.note(path, "spec:inputs kept verbatim", "spec", kept_verbatim=True)

    def sort_jobs_into_stages(self) -> None:
        """The stage order, each job in its stage, and the neutral names of both.

        Trigger jobs and jobs without a script are kept whole for GitLab.
        """
        doc = self.doc
        raw_stages = doc.get("stages", doc.get("types"))
        if raw_stages is None:
            raw_stages = list(DEFAULT_STAGES)
        if not isinstance(raw_stages, list):
            raise self.fail("stages: must be a list")
        stage_names = [str(s) for s in _flatten(raw_stages)]
        # .pre and .post always exist, first and last (GitLab "stages").
        stage_names = [
            ".pre",
            *[s for s in stage_names if s not in (".pre", ".post")],
            ".post",
        ]
        jobs: dict[str, list[tuple[str, dict[str, Any]]]] = {s: [] for s in stage_names}
        for key, value in doc.items():
            if key in GLOBAL_KEYS or key.startswith("."):
                continue
            if not isinstance(value, dict):
                raise self.fail(f'job "{key}" must be a mapping')
            if "trigger" in value or not ("script" in value or "run" in value):
                for name in [k for k, v in value.items() if v is None]:
                    # `key:` with nothing unsets the key; the schema refuses a null there.
                    value = {k: v for k, v in value.items() if k != name}
                    self.note((key, name), f"{name}: null left out (it unsets the key)", "null")
                self.hatch[key] = value
                why = "a trigger job" if "trigger" in value else "a job without script"
                why = f"{why} has no neutral form; kept verbatim in config.gitlab"
                self.note((key,), why, "trigger", kept_verbatim=True)
                continue
            stage = str(value.get("stage", "test"))
            if stage not in jobs and "include" in self.hatch:
                self.note(
                    (key, "stage"),
                    f'stage "{stage}" is not listed (perhaps in an unread include); added last',
                    "stage-unknown",
                )
                jobs[stage] = []
                stage_names.insert(len(stage_names) - 1, stage)
            if stage not in jobs:
                raise self.fail(f'job "{key}" uses stage "{stage}", which stages: does not list')
            jobs[stage].append((key, value))
        self.stage_names = stage_names
        self.raw_jobs = jobs
        self.names = self.rename_jobs([k for s in jobs.values() for k, _ in s])
        self.doc_jobs = {k for k in doc if k not in GLOBAL_KEYS and not k.startswith(".")}
        self.stage_ids = self.rename_stages([s for s in stage_names if jobs[s]])

    def map_jobs(self) -> None:
        """Every job as a neutral job; stage order becomes stage dependencies or job needs."""
        jobs, names = self.raw_jobs, self.names
        stages: list[dict[str, Any]] = []
        earlier: list[str] = []
        earlier_stages: list[str] = []
        for stage in (s for s in self.stage_names if jobs[s]):
            sid = self.stage_ids[stage]
            out_jobs = []
            any_needs = any("needs" in j for _, j in jobs[stage])
            for key, job in jobs[stage]:
                out = self.job(key, job, self.default, names, (key,))
                if "needs" not in job and any_needs and earlier:
                    out["needs"] = list(earlier)
                status = (out.get("when") or {}).get("status")
                if status == "on_failure" and not earlier and not out.get("needs"):
                    # GitLab: on_failure with no earlier job never runs; the model refuses it.
                    out.setdefault("gitlab", {})["when"] = status
                    del out["when"]["status"]
                    if not out["when"]:
                        del out["when"]
                    self.note((key, "when"), "on_failure in the first stage", "when")
                out_jobs.append(out)
            entry: dict[str, Any] = {"name": sid, "jobs": out_jobs}
            if not any_needs and earlier_stages:
                entry["dependencies"] = list(earlier_stages)
            stages.append(entry)
            earlier.extend(names[k] for k, _ in jobs[stage])
            earlier_stages.append(sid)
        if not stages:
            raise self.fail(
                "the file defines no job with a script (only hidden jobs, trigger jobs or "
                "jobs completed by includes)"
            )
        self.stages = stages

    def keep_matrix_variables_native(self) -> None:
        """A global variable that is also a matrix axis stays in the escape hatch."""
        config = self.config
        axes = {
            axis
            for stage in self.stages
            for job in stage["jobs"]
            for entry in [job.get("matrix") or {}]
            for axis in [
                *(k for k in entry if k not in ("include", "exclude")),
                *(k for combo in entry.get("include", []) for k in combo),
            ]
        }
        for name in sorted(axes & set(config.get("variables", {}))):
            # GitLab: a matrix variable overrides a global one in that job; the model
            # refuses the clash (variable-collision), so the global one stays native.
            self.hatch.setdefault("variables", {})[name] = config["variables"].pop(name)
            self.note(
                ("variables", name),
                f'variable "{name}" is also a matrix axis; kept in the escape hatch',
                "variable-collision",
            )
        if "variables" in config and not config["variables"]:
            del config["variables"]

    def note_conditional_upstream(self) -> None:
        """Note the jobs whose stage-order dependencies may be left out of the pipeline.

        A GitLab job without ``needs`` waits for the earlier stages' jobs *that are in the
        pipeline*: one its rules leave out does not hold it back. The neutral model has no
        optional dependency, so the imported job depends on that job and is skipped with it
        (and the GitLab generator gives it that job's conditions). Said once per job.
        """
        stages, raw_jobs, names = self.stages, self.raw_jobs, self.names
        ordered = {names[k] for st in raw_jobs.values() for k, raw in st if "needs" not in raw}
        native = {v: k for k, v in names.items()}
        by_name = {job["name"]: job for st in stages for job in st["jobs"]}
        condition = {name: _condition_of(job) for name, job in by_name.items()}
        for st in stages:
            earlier = set(st.get("dependencies", []))
            stage_jobs = [n for s2 in stages if s2["name"] in earlier for n in _names(s2)]
            for job in st["jobs"]:
                name = job["name"]
                if name not in ordered:
                    continue
                upstream = job.get("needs") or stage_jobs
                risky = [
                    u
                    for u in upstream
                    if isinstance(u, str) and condition.get(u) and condition[u] != condition[name]
                ]
                if risky:
                    shown = ", ".join(f'"{native.get(u, u)}"' for u in risky[:3])
                    more = f" and {len(risky) - 3} more" if len(risky) > 3 else ""
                    self.note(
                        (native.get(name, name),),
                        f"GitLab runs this job also when {shown}{more} (earlier stages, with "
                        "rules of their own) are left out of the pipeline; the model has no "
                        "optional dependency, so here it is skipped with them",
                        "stage-conditional",
                    )

    def consume_dotenv(self) -> None:
        """Give each dotenv key to the jobs that receive the producer's artifacts.

        GitLab hands a job's artifacts (and dotenv variables) to the jobs that ``needs`` it,
        or, without ``needs``, to every job of a later stage (``dependencies`` narrows that);
        a dotenv variable wins over a variable of the job's own ``variables:``.
        """
        stages = self.stages
        if not self.dotenv:
            return
        stage_of = {job["name"]: st["name"] for st in stages for job in st["jobs"]}
        for st in stages:
            for job in st["jobs"]:
                if "needs" in job:
                    upstream = [n for n in job["needs"] if isinstance(n, str)]
                else:
                    earlier = set(st.get("dependencies", []))
                    upstream = [n for n, s in stage_of.items() if s in earlier]
                narrowed = (job.get("gitlab") or {}).get("dependencies")
                if isinstance(narrowed, list):
                    upstream = [n for n in upstream if n in narrowed]
                for producer in upstream:
                    for key in self.dotenv.get(producer, ()):
                        env = job.setdefault("env", {})
                        env[key] = "${{ needs." + producer + ".outputs." + key + " }}"

    def verbatim_jobs_follow(self) -> None:
        """Keep what is kept verbatim consistent with the renamed, regenerated jobs.

        Jobs kept whole in ``config.gitlab`` (trigger jobs...) and job hatches name other
        jobs in ``needs``/``dependencies`` by their native names, which renames change; and
        a verbatim job's stage must still be listed when no neutral job uses it (GitLab
        refuses a job in an unknown stage), so the whole stage order is kept then.
        """
        names, stage_ids, jobs, stages = self.names, self.stage_ids, self.raw_jobs, self.stages
        stage_names = self.stage_names
        verbatim = {
            k: v for k, v in self.hatch.items() if k not in GLOBAL_KEYS and isinstance(v, dict)
        }
        hatches = [job["gitlab"] for st in stages for job in st["jobs"] if "gitlab" in job]
        for spec in [*verbatim.values(), *hatches]:
            for key in ("needs", "dependencies"):
                if isinstance(spec.get(key), list):
                    spec[key] = [_renamed(entry, names) for entry in spec[key]]
        used = {stage_ids[s] for s in stage_names if jobs[s]}
        missing = [str(v.get("stage", "test")) for v in verbatim.values()]
        if any(stage not in used for stage in missing if stage not in (".pre", ".post")):
            order = [stage_ids.get(s, s) if jobs.get(s) else s for s in stage_names]
            self.hatch["stages"] = [s for s in order if s not in (".pre", ".post")]
            self.note(
                ("stages",),
                "stages kept verbatim: jobs kept in config.gitlab use stages no neutral job has",
                "stages",
                kept_verbatim=True,
            )

    def pipeline_name(self) -> str:
        stem = Path(self.file).name
        for suffix in (".yml", ".yaml"):
            stem = stem.removesuffix(suffix)
        stem = re.sub(r"[^A-Za-z0-9._-]", "-", stem).strip(".-") or "pipeline"
        return stem[:100]

    def rename_jobs(self, keys: list[str]) -> dict[str, str]:
        out: dict[str, str] = {}
        taken: set[str] = set()
        for key in keys:
            name = re.sub(r"[^A-Za-z0-9_-]", "_", key)[:90]
            if not re.match(r"^[A-Za-z_]", name):
                name = f"_{name}"
            if name in GITLAB_RESERVED_JOB_NAMES:
                name = f"{name}_job"
            base, n = name, 2
            while name.casefold() in taken:
                name = f"{base}_{n}"
                n += 1
            taken.add(name.casefold())
            out[key] = name
            if name != key:
                self.note((key,), f'job "{key}" renamed to "{name}"', "job-rename", renamed_to=name)
        return out

    def rename_stages(self, keys: list[str]) -> dict[str, str]:
        out: dict[str, str] = {}
        for key in keys:
            name = re.sub(r"[^A-Za-z0-9._-]", "_", key)[:100]
            base, n = name, 2
            while name in out.values():
                name = f"{base}_{n}"
                n += 1
            out[key] = name
            if name != key:
                why = f'stage "{key}" renamed to "{name}"'
                self.note(("stages", key), why, "stage-rename", renamed_to=name)
        return out

    # variables -------------------------------------------------------------------------

    def variables(self, raw: Any, path: tuple[Any, ...]) -> dict[str, Any]:
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            raise self.fail(f"{'.'.join(map(str, path))} must be a mapping")
        out: dict[str, Any] = {}
        kept: dict[str, Any] = {}
        for name, value in raw.items():
            plain = value
            if isinstance(value, dict):
                plain = value.get("value", "")
                extra = set(value) - {"value"}
                if extra:
                    kept[name] = value
                    self.note(
                        (*path, name),
                        f"variable {', '.join(sorted(extra))} kept in the escape hatch",
                        "variable-options",
                    )
                    continue
            if plain is None:
                plain = ""
            if isinstance(plain, bool | int | float | str):
                ok = re.match(IDENT_PATTERN, name) and not name.startswith(
                    RESERVED_VARIABLE_PREFIXES
                )
                if ok and len(name) <= 100 and "${{" not in str(plain):
                    out[name] = plain
                    continue
            kept[name] = value
            self.note((*path, name), f'variable "{name}" kept in the escape hatch', "variable")
        if kept:
            if len(path) == 1:
                self.hatch.setdefault("variables", {}).update(kept)
            else:
                self._job_hatch.setdefault("variables", {}).update(kept)
        return out

    # jobs ------------------------------------------------------------------------------

    def job(
        self,
        key: str,
        raw: dict[str, Any],
        default: dict[str, Any],
        names: dict[str, str],
        path: tuple[Any, ...],
    ) -> dict[str, Any]:
        self._job_hatch = {}
        hatch = self._job_hatch
        if key in self.missing_parents:
            hatch["extends"] = self.missing_parents[key]
            self.note(
                (*path, "extends"),
                f"extends {', '.join(self.missing_parents[key])}: not found (in an unread "
                "include?); kept verbatim",
                "extends-unresolved",
                kept_verbatim=True,
            )
        job = dict(raw)
        for name in [k for k, v in job.items() if v is None and k != "script"]:
            # `key:` with nothing unsets what a parent or default gave (GitLab reads it as
            # nil); the schema refuses a null there, so the key is left out.
            del job[name]
            self.note((*path, name), f"{name}: null left out (it unsets the key)", "null")
        inherit = job.pop("inherit", None) or {}
        inherit_default: Any = inherit.get("default", True) if isinstance(inherit, dict) else True
        for dkey, dvalue in default.items():
            allowed = inherit_default is True or (
                isinstance(inherit_default, list) and dkey in inherit_default
            )
            if allowed and dkey not in job:
                job[dkey] = copy.deepcopy(dvalue)
        if isinstance(inherit, dict) and "variables" in inherit:
            hatch["inherit"] = {"variables": inherit["variables"]}
            why = "inherit:variables kept verbatim"
            self.note((*path, "inherit"), why, "inherit", kept_verbatim=True)
        out: dict[str, Any] = {"name": names[key]}
        job.pop("stage", None)
        before = [str(x) for x in _flatten(job.pop("before_script", None) or [])]
        script = [str(x) for x in _flatten(job.pop("script", None) or job.pop("run", []))]
        lines = [line for line in before + script if line.strip()]
        lines = self.predefined(lines, path)
        if not lines:
            raise self.fail(f'job "{key}" has an empty script')
        out["steps"] = [{"run": "\n".join(lines)}]
        after = job.pop("after_script", None)
        if after:
            hatch["after_script"] = list(_flatten(after))
            self.note((*path, "after_script"), "after_script has no neutral form", "after-script")
        env = self.variables(job.pop("variables", None), (*path, "variables"))
        env.pop("CICD_JOB", None)
        env.pop("CICD_ENVIRONMENT", None)
        checkout = self.checkout(env)
        if checkout is not None:
            # GitLab clones the repository before every job unless GIT_STRATEGY says not to;
            # a neutral job has sources only after a checkout step.
            out["steps"].insert(0, {"checkout": checkout})
        if env:
            out["env"] = env
        job = self.dotenv_outputs(job, lines, out, path)
        handlers = {
            "image": self.image,
            "services": self.services,
            "tags": self.tags,
            "needs": lambda v, p: self.needs(v, p, names),
            "parallel": self.parallel,
            "allow_failure": self.allow_failure,
            "retry": self.retry,
            "timeout": self.timeout,
            "environment": self.environment,
            "artifacts": self.artifacts,
            "cache": self.cache,
        }
        when_parts: dict[str, Any] = {}
        if "only" in job or "except" in job:
            only, except_ = job.pop("only", None), job.pop("except", None)
            rules = RuleFolder.legacy(only, except_)
            folded = self.rules.fold_rules(rules) if rules is not None else None
            if folded is None:
                for name, value in (("only", only), ("except", except_)):
                    if value is not None:
                        hatch[name] = value
                        self.note(
                            (*path, name),
                            f"{name} kept verbatim: it does not fold exactly into one neutral "
                            "condition",
                            "only-except",
                            kept_verbatim=True,
                        )
            else:
                when_parts.update(folded)
        for name, value in job.items():
            if name in handlers:
                got = handlers[name](value, (*path, name))
                if got is not None:
                    out.update(got)
            elif name == "when":
                if value in ("on_success", "on_failure", "always"):
                    if value != "on_success":
                        when_parts["status"] = value
                else:
                    hatch["when"] = value
                    self.note((*path, "when"), f'when "{value}" has no neutral form', "when")
            elif name == "rules":
                folded = self.rules.fold_rules(value)
                if folded is None:
                    hatch[name] = value
                    self.note(
                        (*path, name),
                        "rules kept verbatim: they do not fold exactly into one neutral condition",
                        "rules",
                        kept_verbatim=True,
                    )
                else:
                    when_parts.update(folded)
            elif name == "coverage" and isinstance(value, str) and "\\%" in value:
                # `\%` is a pointless escape that GitLab's Ruby regex accepts but the
                # schema's ECMAScript (unicode) check refuses; `%` matches the same text.
                hatch[name] = value.replace("\\%", "%")
                self.note((*path, name), "coverage regex: `\\%` written as `%`", "coverage")
            else:
                hatch[name] = value
                why = f'"{name}" has no neutral form; kept verbatim'
                self.note((*path, name), why, "hatch", kept_verbatim=True)
        conditioned = {"rules", "only", "except"} & set(raw)
        if not conditioned and self.rules.merge_requests("workflow" in self.hatch):
            # A job without rules or only/except defaults to `only: [branches, tags]`
            # (only/except docs), so it stays out of merge request pipelines, which this
            # workflow admits; an unconditioned neutral job would run in them. The default
            # is spelled as the rule GitLab applies, with the job's own `when`.
            status = when_parts.pop("status", None) or hatch.pop("when", None)
            rule: dict[str, Any] = {"if": "$CI_COMMIT_BRANCH || $CI_COMMIT_TAG"}
            if status not in (None, "on_success"):
                rule["when"] = status
            hatch["rules"] = [rule]
            self.note(
                (*path,),
                "no rules: GitLab leaves the job out of merge request pipelines "
                "(default only: [branches, tags]); kept as that rule",
                "default-only",
            )
        if when_parts:
            out["when"] = when_parts
        if hatch:
            out["gitlab"] = hatch
        return out

    def predefined(self, lines: list[str], path: tuple[Any, ...]) -> list[str]:
        """GitLab's predefined variables in a script, as the neutral facts where exact.

        ``$CI_COMMIT_SHA``, ``$CI_PIPELINE_ID`` and ``$CI_PROJECT_DIR`` become ``$CICD_SHA``,
        ``$CICD_RUN_ID`` and ``$CICD_WORKSPACE``, which every backend sets (GitLab: from
        those very variables). Text in single quotes is the shell's literal and stays. Any
        other ``CI_*``/``GITLAB_*`` variable has no neutral meaning: it is noted, since on
        another provider it is empty.
        """
        out = [rewrite_unquoted(line, _PREDEFINED_RE, _predefined_sub) for line in lines]
        others = sorted(
            {
                m.group(1) or m.group(2)
                for line in out
                for part in re.split(r"'[^']*'", line)
                for m in _GITLAB_VAR_RE.finditer(part)
                if (m.group(1) or m.group(2)) not in self.rules.config_variables
            }
        )
        if others:
            shown = ", ".join(others[:6]) + (", ..." if len(others) > 6 else "")
            self.note(
                (*path, "script"),
                f"the script reads GitLab's predefined variables ({shown}), which other "
                "providers do not set",
                "gitlab-variables",
            )
        return out

    def dotenv_outputs(
        self, job: dict[str, Any], lines: list[str], out: dict[str, Any], path: tuple[Any, ...]
    ) -> dict[str, Any]:
        """An ``artifacts:reports:dotenv`` file as neutral job outputs, when exact.

        GitLab turns each ``KEY=value`` line of the file into a variable of the jobs that
        receive this job's artifacts. The neutral form: a last step appends the file to
        ``$CICD_OUTPUT`` (the same ``KEY=value`` format), the job publishes each key as an
        output, and every job that receives the artifacts gets ``KEY`` in its env from
        ``needs.<job>.outputs.KEY`` (``consume_dotenv``). Exact only when every script line
        that names the file is a recognisable ``echo``/``printf`` of one ``KEY=`` line into
        it, so that the keys are known; otherwise the report stays in the escape hatch.
        """
        artifacts = job.get("artifacts")
        if not isinstance(artifacts, dict) or not isinstance(artifacts.get("reports"), dict):
            return job
        reports: dict[str, Any] = artifacts["reports"]
        dotenv = reports.get("dotenv")
        if isinstance(dotenv, list) and len(dotenv) == 1:
            dotenv = dotenv[0]
        if not isinstance(dotenv, str) or "outputs" in out:
            return job
        keys = _dotenv_keys(lines, dotenv)
        if not keys:
            return job
        rest_reports = {k: v for k, v in reports.items() if k != "dotenv"}
        rest_artifacts = {k: v for k, v in artifacts.items() if k != "reports"}
        if rest_reports:
            rest_artifacts["reports"] = rest_reports
        job = {k: v for k, v in job.items() if k != "artifacts"}
        if rest_artifacts:
            job["artifacts"] = rest_artifacts
        out["steps"].append({"id": "dotenv", "run": f'cat {_sh_word(dotenv)} >> "$CICD_OUTPUT"'})
        out["outputs"] = {k: "${{ steps.dotenv.outputs." + k + " }}" for k in keys}
        self.dotenv[out["name"]] = keys
        self.note(
            (*path, "artifacts", "reports", "dotenv"),
            f"dotenv report became job outputs ({', '.join(keys)}) and the env of the jobs "
            "that receive this job's artifacts",
            "dotenv",
        )
        return job

    def checkout(self, env: dict[str, Any]) -> dict[str, Any] | None:
        """The neutral checkout GitLab's Git variables ask for (job over global), or None
        for GIT_STRATEGY none/empty. GIT_DEPTH and GIT_SUBMODULE_STRATEGY set on the job
        move into the step (the generator writes them back from it)."""

        def effective(name: str) -> str | None:
            value = env.get(name, self.global_variables.get(name))
            return None if value is None else str(value)

        if effective("GIT_STRATEGY") in ("none", "empty"):
            return None
        options: dict[str, Any] = {}
        depth = effective("GIT_DEPTH")
        if depth is not None and depth.isdigit():
            options["depth"] = int(depth)
            env.pop("GIT_DEPTH", None)
        submodules = {"normal": True, "recursive": "recursive", "none": False}.get(
            effective("GIT_SUBMODULE_STRATEGY") or ""
        )
        if submodules is not None:
            if submodules:
                options["submodules"] = submodules
            env.pop("GIT_SUBMODULE_STRATEGY", None)
        return options

    def _keep(self, key: str, value: Any, path: tuple[Any, ...], why: str) -> None:
        self._job_hatch[key] = value
        self.note(path, f"{why}; kept verbatim", key, kept_verbatim=True)

    def image(self, value: Any, path: tuple[Any, ...]) -> dict[str, Any] | None:
        if isinstance(value, str) and value:
            return {"image": value}
        if isinstance(value, dict) and set(value) == {"name"} and value["name"]:
            return {"image": str(value["name"])}
        self._keep("image", value, path, "image options have no neutral form")
        return None

    def services(self, value: Any, path: tuple[Any, ...]) -> dict[str, Any] | None:
        out = []
        for item in value if isinstance(value, list) else [value]:
            entry = {"name": item} if isinstance(item, str) else item
            if not isinstance(entry, dict) or set(entry) - {"name", "alias"}:
                self._keep("services", value, path, "service options have no neutral form")
                return None
            image = str(entry.get("name") or "")
            # GitLab's default alias: the image without tag, "/" as "__" (services docs).
            alias = str(entry.get("alias") or image.split(":")[0].replace("/", "__"))
            alias = alias.split(",")[0]
            if not image or not re.match(JOB_NAME_PATTERN, alias):
                self._keep("services", value, path, f'service alias "{alias}" is not neutral')
                return None
            out.append({"image": image, "alias": alias})
        return {"services": out} if out else None

    def tags(self, value: Any, path: tuple[Any, ...]) -> dict[str, Any] | None:
        tags = [str(t) for t in _flatten(value if isinstance(value, list) else [value]) if t]
        if not tags:
            return None
        return {"runs_on": tags}

    def needs(
        self, value: Any, path: tuple[Any, ...], names: dict[str, str]
    ) -> dict[str, Any] | None:
        if isinstance(value, dict):  # needs: {pipeline: ..., job: ...} forms
            self._keep("needs", value, path, "cross-pipeline needs")
            return {"needs": []}
        out: list[str] = []
        kept: list[Any] = []
        for item in value or []:
            job = item if isinstance(item, str) else None
            if (
                isinstance(item, dict)
                and "job" in item
                and not ({"pipeline", "project"} & set(item))
            ):
                job = str(item["job"])
                if item.get("artifacts") is False or item.get("optional"):
                    self.note(path, f'needs "{job}": artifacts/optional flags not kept', "needs")
            if job is None or job not in names:
                optional = isinstance(item, dict) and item.get("optional") is True
                # "build: [linux, 3.12]" names one instance of a parallel:matrix job.
                base = re.sub(r": \[[^\]]*\]$", "", job) if job is not None else None
                if base is not None and base not in self.doc_jobs and "include" not in self.hatch:
                    if optional:
                        # GitLab ignores an optional need on a job that does not exist.
                        self.note(path, f'optional needs "{job}": no such job', "needs")
                        continue
                    # GitLab refuses the pipeline ("needs ... is not defined").
                    raise self.fail(f'job "{path[0]}" needs unknown job "{job}"')
                kept.append(item)
                continue
            if names[job] not in out:
                out.append(names[job])
        if kept:
            self._keep("needs", value, path, "needs on jobs outside this pipeline model")
        return {"needs": out}

    def parallel(self, value: Any, path: tuple[Any, ...]) -> dict[str, Any] | None:
        entries = value.get("matrix") if isinstance(value, dict) else None
        if not isinstance(entries, list) or not entries:
            self._keep("parallel", value, path, "parallel: N has no neutral form")
            return None
        combos: list[dict[str, Any]] = []
        axes_list = []
        for entry in entries:
            if not isinstance(entry, dict) or not entry:
                self._keep("parallel", value, path, "an unreadable matrix entry")
                return None
            axes = {k: (v if isinstance(v, list) else [v]) for k, v in entry.items()}
            bad = [
                k
                for k in axes
                if not re.match(IDENT_PATTERN, k) or k.startswith(RESERVED_VARIABLE_PREFIXES)
            ]
            vals_ok = all(
                isinstance(x, str | int | float | bool) for vs in axes.values() for x in vs
            )
            if bad or not vals_ok or not all(axes.values()):
                self._keep("parallel", value, path, "matrix axes that are not neutral")
                return None
            axes_list.append(axes)
            for combo in itertools.product(*axes.values()):
                combos.append(dict(zip(axes, combo, strict=True)))
        if len(axes_list) == 1:
            return {"matrix": axes_list[0]}
        return {"matrix": {"include": combos}}

    def allow_failure(self, value: Any, path: tuple[Any, ...]) -> dict[str, Any] | None:
        if isinstance(value, bool):
            return {"allow_failure": value} if value else None
        self._keep("allow_failure", value, path, "allow_failure:exit_codes")
        return None

    def retry(self, value: Any, path: tuple[Any, ...]) -> dict[str, Any] | None:
        when: Any = ["always"]
        if isinstance(value, dict):
            when = value.get("when", ["always"])
            value = value.get("max", 0)
        when = when if isinstance(when, list) else [when]
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 9:
            self._keep("retry", value, path, "unreadable retry")
            return None
        if value == 0:
            return None
        on = sorted({RETRY_REASONS.get(str(w), "") for w in when})
        if "" in on:
            self.note(path, "retry reasons without a neutral name become any", "retry")
            on = ["any"]
        return {"retry_policy": {"max_attempts": value + 1, "on": on}}

    def timeout(self, value: Any, path: tuple[Any, ...]) -> dict[str, Any] | None:
        seconds = parse_duration(value)
        if seconds is None or not 0 < seconds <= 7 * 86400:
            self._keep("timeout", value, path, "unreadable timeout")
            return None
        return {"timeout": seconds}

    def environment(self, value: Any, path: tuple[Any, ...]) -> dict[str, Any] | None:
        if isinstance(value, str) and value:
            return {"environment": value}
        if isinstance(value, dict) and value.get("name"):
            url = value.get("url")
            extra = set(value) - {"name", "url"}
            if not extra and (url is None or re.match(r"^https?://.+", str(url))):
                spec = {"name": str(value["name"])}
                if url:
                    spec["url"] = str(url)
                return {"environment": spec}
        self._keep("environment", value, path, "environment options have no neutral form")
        return None

    def artifacts(self, value: Any, path: tuple[Any, ...]) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            self._keep("artifacts", value, path, "unreadable artifacts")
            return None
        rest = {k: v for k, v in value.items() if k not in ("paths", "expire_in", "when")}
        out: dict[str, Any] = {}
        paths = [str(p) for p in _flatten(value.get("paths") or []) if p]
        raw_expire = parse_duration(value.get("expire_in"))
        expire = compact(raw_expire) if raw_expire else None
        when = value.get("when", "on_success")
        ok = paths and (expire is not None or value.get("expire_in") is None)
        if ok and when in ("on_success", "on_failure", "always"):
            out = {"paths": paths}
            if expire:
                out["expire_in"] = expire
            if when != "on_success":
                out["when"] = when
        else:
            rest = dict(value)
        if rest.get("paths") == []:
            # An empty list is no paths; the schema wants at least one.
            rest = {k: v for k, v in rest.items() if k != "paths"}
            self.note((*path, "paths"), "empty artifacts:paths left out", "artifacts")
        reports = rest.get("reports")
        annotations = reports.get("annotations") if isinstance(reports, dict) else None
        if isinstance(reports, dict) and isinstance(annotations, list) and len(annotations) == 1:
            # The schema takes one annotations path as a string.
            reports = {**reports, "annotations": annotations[0]}
            rest = {**rest, "reports": reports}
        if isinstance(reports, dict) and {"cobertura", "performance"} & set(reports):
            # Removed report names (GitLab 15.0 and 16.0) that the schema refuses; these
            # are their documented replacements.
            reports = dict(reports)
            for name in ("cobertura", "performance"):
                if isinstance(reports.get(name), list) and len(reports[name]) == 1:
                    reports[name] = reports[name][0]  # one path: the new keys take a string
            if isinstance(reports.get("cobertura"), str | list):
                cobertura = reports.pop("cobertura")
                reports["coverage_report"] = {"coverage_format": "cobertura", "path": cobertura}
                self.note((*path, "reports"), "cobertura report as coverage_report", "reports")
            if "performance" in reports:
                reports["browser_performance"] = reports.pop("performance")
                self.note((*path, "reports"), "performance report renamed", "reports")
            rest = {**rest, "reports": reports}
        if rest:
            if "dotenv" in (rest.get("reports") or {}):
                self.note(
                    path,
                    "dotenv report kept verbatim: the script's writes to it are not all "
                    "plain KEY= lines, so its keys are unknown",
                    "dotenv",
                    kept_verbatim=True,
                )
            self._keep("artifacts", rest, path, "artifacts options have no neutral form")
        return {"artifacts": out} if out else None

    def cache(self, value: Any, path: tuple[Any, ...]) -> dict[str, Any] | None:
        if isinstance(value, list):
            # A list alias inside the list (`cache: [*caches]`) nests it; GitLab flattens
            # nested arrays in configuration, the schema does not take them.
            value = _flatten(value)
            if len(value) == 1:
                value = value[0]
        if isinstance(value, dict) and set(value) <= {"key", "paths", "policy"}:
            key = _files_key(value.get("key", "default"))
            paths = [str(p) for p in _flatten(value.get("paths") or []) if p]
            policy = value.get("policy", "pull-push")
            known = policy in ("pull-push", "pull", "push")
            if isinstance(key, str | int) and str(key) and paths and known:
                out: dict[str, Any] = {"key": str(key), "paths": paths}
                if policy != "pull-push":
                    out["policy"] = policy
                return {"cache": out}
        self._keep("cache", value, path, "cache options have no neutral form")
        return None

    # conditions ------------------------------------------------------------------------


def _files_key(key: Any) -> Any:
    """``key: {files, prefix}`` as the neutral ``prefix-${{ hash('f') }}`` key.

    GitLab hashes at most two files into the key after the prefix (cache:key:files), which
    is what translators.gitlab writes for a key with one ``hash()``; other keys are unchanged.
    """
    if not isinstance(key, dict) or not set(key) <= {"files", "prefix"}:
        return key
    files, prefix = key.get("files"), key.get("prefix")
    if (
        not isinstance(files, list)
        or not 1 <= len(files) <= 2
        or not all(isinstance(f, str) and f and "'" not in f and "$" not in f for f in files)
        or not (prefix is None or (isinstance(prefix, str) and "$" not in prefix))
    ):
        return key
    call = "${{ hash(" + ", ".join(f"'{f}'" for f in files) + ") }}"
    return f"{prefix}-{call}" if prefix else call


_DOTENV_WRITE = re.compile(
    r"""^\s*(?:echo|printf)\s+(?P<q>["']?)(?P<key>[A-Za-z_][A-Za-z0-9_]*)=[^"'>]*(?P=q)"""
    r"""(?:\s+|\\n)*\s*>>?\s*["']?(?P<file>[^\s"';&|]+)["']?\s*$"""
)


# GitLab predefined variables with an exact neutral fact (the CICD_* environment).
_PREDEFINED = {"CI_COMMIT_SHA": "CICD_SHA", "CI_PIPELINE_ID": "CICD_RUN_ID"}
_PREDEFINED["CI_PROJECT_DIR"] = "CICD_WORKSPACE"
_PREDEFINED_RE = re.compile(
    r"\$(?:\{(" + "|".join(_PREDEFINED) + r")\}|(" + "|".join(_PREDEFINED) + r")(?!\w))"
)
_GITLAB_VAR_RE = re.compile(r"\$(?:\{((?:CI|GITLAB)_\w+)\}|((?:CI|GITLAB)_\w+))")


def _predefined_sub(m: re.Match[str]) -> str:
    name = m.group(1) or m.group(2)
    return "${" + _PREDEFINED[name] + "}" if m.group(1) else "$" + _PREDEFINED[name]


def _dotenv_keys(lines: list[str], file: str) -> list[str]:
    """The keys script ``lines`` write into the dotenv ``file``; [] when not all are known."""
    keys: list[str] = []
    for line in lines:
        if file not in line:
            continue
        match = _DOTENV_WRITE.match(line)
        if not match or match["file"] != file:
            return []
        if match["key"] not in keys:
            keys.append(match["key"])
    return keys


def _sh_word(text: str) -> str:
    return (
        text if re.fullmatch(r"[A-Za-z0-9_./-]+", text) else "'" + text.replace("'", "'\\''") + "'"
    )


def _names(stage: dict[str, Any]) -> list[str]:
    return [job["name"] for job in stage["jobs"]]


def _condition_of(job: dict[str, Any]) -> str:
    """A job's run condition as text ('' when it runs whenever the pipeline runs)."""
    when = {k: v for k, v in (job.get("when") or {}).items() if k != "status"}
    hatch = job.get("gitlab") or {}
    native = {k: hatch[k] for k in ("rules", "only", "except") if k in hatch}
    return repr((sorted(when.items()), sorted(native.items()))) if when or native else ""


def _renamed(entry: Any, names: dict[str, str]) -> Any:
    """A ``needs``/``dependencies`` entry with the job's neutral name."""
    if isinstance(entry, str):
        return names.get(entry, entry)
    if isinstance(entry, dict) and isinstance(entry.get("job"), str):
        return {**entry, "job": names.get(entry["job"], entry["job"])}
    return entry


def _mentions_merge_requests(doc: dict[str, Any]) -> bool:
    """True when a job's rules, only or except name merge requests (their pipelines exist)."""
    for key, job in doc.items():
        if key in GLOBAL_KEYS or not isinstance(job, dict):
            continue
        for name in ("rules", "only", "except"):
            if "merge_request" in repr(job.get(name)):
                return True
    return False


def _flatten(value: Any) -> list[Any]:
    if isinstance(value, list):
        return [x for v in value for x in _flatten(v)]
    return [] if value is None else [value]


def import_gitlab(
    text: str,
    name: str,
    *,
    base_dir: Path | None = None,
    include_resolver: Callable[[str], str | None] | None = None,
) -> ReaderResult:
    """Read GitLab CI YAML text into neutral pipeline file data.

    Args:
        text: the content of a ``.gitlab-ci.yml``.
        name: the file name, used in messages and for the pipeline name.
        base_dir: the repository root that local includes are relative to; without it,
            local includes are kept in ``config.gitlab.include`` with a note.
        include_resolver: the text of a local include by its path relative to the
            repository root (no leading ``/``), or ``None`` when it is not available (the
            include is then kept in ``config.gitlab.include`` with a note). Used instead of
            ``base_dir`` when given; glob includes cannot be resolved through it.

    Raises:
        PipelineImportError: when the file cannot become a valid neutral pipeline.
    """
    from ..model.loader import pipeline_from_data

    importer = _Importer(name, base_dir, include_resolver)
    try:
        data = importer.run(text)
    except RecursionError:
        raise PipelineImportError(name, "the file nests too deeply") from None
    try:
        pipeline = pipeline_from_data(data)
    except ValueError as exc:
        first = str(exc).strip().splitlines()
        reason = first[0] if first else "invalid"
        raise PipelineImportError(name, f"the imported pipeline is not valid: {reason}") from None
    tree = importer.trees[0] if importer.trees else None
    return ReaderResult(data, importer.notes, tree, pipeline)
