"""A resolved GitLab CI document -> neutral pipeline file data, with notes.

The last pass of the GitLab importer (``gitlab_resolve`` reads the YAML and resolves includes,
``extends`` and ``!reference``; ``gitlab_rules`` folds ``rules``). What this module owns: the
pipeline-level mapping (defaults, variables, workflow, stages, job and stage names, and what
spans jobs: stage order, dotenv consumers, verbatim jobs) and, per job, its inheritance, script
and conditions; ``gitlab_keywords`` maps the job's other keywords. ``import_gitlab`` returns
plain data in the neutral pipeline file shape plus one note for every construct that was kept
in an escape hatch or changed; ``_Importer.build`` lists its steps in the order they run. What
folds, and why: docs/importing.md.

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
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import PipelineImportError
from ..model.pipeline import GITLAB_RESERVED_JOB_NAMES, IDENT_PATTERN, RESERVED_VARIABLE_PREFIXES
from .gitlab import PRELUDE
from .gitlab_keywords import JobKeywords, flatten
from .gitlab_resolve import Resolver
from .gitlab_rules import RuleFolder, try_rules
from .reader import NoteLog, ReaderResult

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


# --- the importer ---------------------------------------------------------------------


class _Importer:
    def __init__(
        self,
        name: str,
        base_dir: Path | None,
        include_resolver: Callable[[str], str | None] | None = None,
    ) -> None:
        self.file = name
        self.notes = NoteLog()
        self.note = self.notes.add
        self.hatch: dict[str, Any] = {}
        self.resolver = Resolver(name, base_dir, include_resolver, self.notes, self.hatch)
        self.missing_parents = self.resolver.missing_parents
        self.trees = self.resolver.trees  # the main file's round-trip tree, for positions
        self.rules = RuleFolder()
        self.global_variables: dict[str, Any] = {}
        self.dotenv: dict[str, list[str]] = {}  # neutral producer job -> its dotenv keys
        self.doc_jobs: set[str] = set()

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
        variables = self.variables(self.doc.get("variables"), ("variables",), self.hatch)
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
        stage_names = [str(s) for s in flatten(raw_stages)]
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

    def variables(self, raw: Any, path: tuple[Any, ...], hatch: dict[str, Any]) -> dict[str, Any]:
        """The neutral variables of a ``variables:`` mapping; the others go to ``hatch``."""
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
            hatch.setdefault("variables", {}).update(kept)
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
        keywords = JobKeywords(
            self.file,
            self.notes,
            names=names,
            doc_jobs=self.doc_jobs,
            global_variables=self.global_variables,
            unread_includes="include" in self.hatch,
        )
        hatch = keywords.hatch
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
        before = [str(x) for x in flatten(job.pop("before_script", None) or [])]
        script = [str(x) for x in flatten(job.pop("script", None) or job.pop("run", []))]
        lines = [line for line in before + script if line.strip()]
        lines = keywords.predefined(lines, path)
        if not lines:
            raise self.fail(f'job "{key}" has an empty script')
        out["steps"] = [{"run": "\n".join(lines)}]
        after = job.pop("after_script", None)
        if after:
            hatch["after_script"] = list(flatten(after))
            self.note((*path, "after_script"), "after_script has no neutral form", "after-script")
        env = self.variables(job.pop("variables", None), (*path, "variables"), hatch)
        env.pop("CICD_JOB", None)
        env.pop("CICD_ENVIRONMENT", None)
        checkout = keywords.checkout(env)
        if checkout is not None:
            # GitLab clones the repository before every job unless GIT_STRATEGY says not to;
            # a neutral job has sources only after a checkout step.
            out["steps"].insert(0, {"checkout": checkout})
        if env:
            out["env"] = env
        job, dotenv_keys = keywords.dotenv_outputs(job, lines, out, path)
        if dotenv_keys:
            self.dotenv[out["name"]] = dotenv_keys
        handlers = keywords.handlers()
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
    return ReaderResult(data, importer.notes.items(), tree, pipeline)
