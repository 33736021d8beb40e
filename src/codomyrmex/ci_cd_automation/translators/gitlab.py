"""Neutral pipeline -> GitLab CI (``.gitlab-ci.yml``).

The neutral semantics held on GitLab: explicit ``needs:`` (the DAG decides), conditions
inherited from conditional upstream jobs, templates as ``${VAR}`` with the ``CICD_*`` prelude,
YAML 1.1 quoting, no secret in the file. See docs/generators.md.
"""

from __future__ import annotations

import re
from typing import Any

from ..model.durations import gitlab_duration, gitlab_words
from ..model.graph import (
    Ancestry,
    ResolvedJob,
    direct_needs,
    needs_for,
    resolve_jobs,
)
from ..model.matrix import expand_matrix, is_plain
from ..model.patterns import glob_regex, is_literal, literal_text
from ..model.pipeline import Cache as CacheSpec
from ..model.pipeline import (
    CacheStep,
    CheckoutStep,
    DownloadArtifactStep,
    Pipeline,
    RunStep,
    Scalar,
    SetupStep,
    UploadArtifactStep,
    UsesStep,
    When,
    scalar_text,
)
from ..model.templates import Expr, HashCall, Ref, split_template
from .fidelity import LossLog, Rendering, report_other_hatches
from .merge import deep_merge
from .shell import (
    PYTHON_TEMPLATE_LOSS,
    read_step_output,
    rewrite_for_shell,
    script_var,
    sh_double_quote,
    sh_quote,
)
from .yamlout import dump_yaml, generated_header

TARGET = "gitlab"
FILE = ".gitlab-ci.yml"
OUTPUTS_FILE = ".cicd-outputs.env"
RUNNER_TAGS: dict[str, list[str]] = {
    "linux": [],
    "windows": ["saas-windows-medium-amd64"],
    "macos": ["saas-macos-medium-m1"],
}
# ci.* facts where only GitLab's own variables can be used (variables:, image:, ...).
CI_NATIVE = {
    "sha": "${CI_COMMIT_SHA}",
    "ref": "${CI_COMMIT_REF_NAME}",
    "branch": "${CI_COMMIT_BRANCH}",
    "event": "${CI_PIPELINE_SOURCE}",
    "run_id": "${CI_PIPELINE_ID}",
    "workspace": "${CI_PROJECT_DIR}",
    "job": "${CICD_JOB}",
    "pipeline": "${CICD_PIPELINE}",
    "environment": "${CICD_ENVIRONMENT}",
}
# The pipeline sources (CI_PIPELINE_SOURCE) each neutral event stands for; "web" is a run
# started from the UI, "api" one started through the API (GitLab "predefined variables").
EVENT_SOURCES: dict[str, tuple[str, ...]] = {
    "push": ("push",),
    "pull_request": ("merge_request_event",),
    "schedule": ("schedule",),
    "manual": ("web", "api"),
}
EVENT_TESTS = {
    event: " || ".join(f'$CI_PIPELINE_SOURCE == "{source}"' for source in sources)
    for event, sources in EVENT_SOURCES.items()
}
# POSIX sh run before every job's script: the CICD_* facts GitLab has no variable for.
PRELUDE = (
    'CICD_BRANCH="${CI_COMMIT_BRANCH:-${CI_MERGE_REQUEST_SOURCE_BRANCH_NAME:-}}"',
    'if [ -n "${CI_COMMIT_TAG:-}" ]; then CICD_REF="refs/tags/$CI_COMMIT_TAG"; '
    'elif [ -n "${CI_MERGE_REQUEST_IID:-}" ]; then '
    'CICD_REF="refs/merge-requests/$CI_MERGE_REQUEST_IID/head"; '
    'else CICD_REF="refs/heads/$CI_COMMIT_REF_NAME"; fi',
    'case "$CI_PIPELINE_SOURCE" in merge_request_event) CICD_EVENT=pull_request ;; '
    'web|api|trigger) CICD_EVENT=manual ;; *) CICD_EVENT="$CI_PIPELINE_SOURCE" ;; esac',
    'CICD_OUTPUT="$(mktemp)"',
    "export CICD_BRANCH CICD_REF CICD_EVENT CICD_OUTPUT",
)
RETRY_WHEN = {
    "any": ["always"],
    "script_failure": ["script_failure"],
    "timeout": ["job_execution_timeout", "stuck_or_timeout_failure"],
    "runner_failure": ["runner_system_failure"],
}


def render_gitlab(
    pipeline: Pipeline, source_name: str | None = None, *, dump: bool = True
) -> Rendering:
    """Translate ``pipeline`` into ``.gitlab-ci.yml`` and its fidelity losses."""
    return _GitLabTranslator(pipeline).render(source_name, dump)


def gitlab_regex(pattern: str) -> str:
    """A neutral ref glob as a GitLab ``/^...$/`` regular expression (``model.patterns``)."""
    return "/^" + glob_regex(pattern).replace("/", r"\/") + "$/"


def quote(text: str) -> str:
    """A GitLab expression string literal."""
    return f"'{text}'" if '"' in text else f'"{text}"'


def _ref_test(variable: str, pattern: str) -> str:
    if not is_literal(pattern):
        return f"{variable} =~ {gitlab_regex(pattern)}"
    return f"{variable} == {quote(literal_text(pattern))}"


def _any(tests: list[str]) -> str:
    if len(tests) == 1:
        return tests[0]
    return "(" + " || ".join(tests) + ")"


def _all(tests: list[str]) -> str:
    """Tests joined by ``&&``; one that holds a bare ``||`` (the manual event) is grouped.

    GitLab evaluates ``&&`` before ``||`` (rules:if, "Join variable expressions"), so
    ``a && b || c`` would read as ``(a && b) || c``.
    """
    if len(tests) == 1:
        return tests[0]
    return " && ".join(f"({t})" if " || " in t and not _grouped(t) else t for t in tests)


def _grouped(test: str) -> bool:
    """True when ``test`` is one parenthesised group, ``(a || b)``."""
    if not test.startswith("("):
        return False
    depth = 0
    for i, char in enumerate(test):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth == 0:
            return i == len(test) - 1
    return False


class _GitLabTranslator:
    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.losses = LossLog(TARGET)
        self.graph = direct_needs(pipeline)
        self.ancestry = Ancestry(self.graph)
        self.resolved = resolve_jobs(pipeline)
        self.jobs = {r.name: r for r in self.resolved}

    def render(self, source_name: str | None, dump: bool = True) -> Rendering:
        p = self.pipeline
        doc: dict[str, Any] = {"workflow": {"rules": self._workflow_rules()}}
        doc["stages"] = self._stage_order()
        doc["variables"] = self._variables()
        doc["default"] = {"before_script": list(PRELUDE)}
        for r in self.resolved:
            doc[r.name] = self._job(r)
        if p.config.secrets:
            self.losses.add(
                ("config", "secrets"),
                "GitLab secrets are project CI/CD variables, visible to every job; define "
                + ", ".join(p.config.secrets)
                + " as masked (and protected) variables",
                "secret-scope",
            )
        if any(level == "write" for level in p.config.permissions.values()):
            self.losses.add(
                ("config", "permissions"),
                "GitLab has no per-pipeline token permissions; the job token's project "
                "settings apply",
                "permissions",
            )
        report_other_hatches(p, "github", "GitLab", self.losses)
        if p.config.gitlab:
            if "before_script" in (p.config.gitlab.get("default") or {}):
                self.losses.add(
                    ("config", "gitlab", "default", "before_script"),
                    "a default before_script replaces the generated prelude; CICD_REF, "
                    "CICD_BRANCH, CICD_EVENT and CICD_OUTPUT are not set",
                    "prelude",
                )
            doc = deep_merge(doc, p.config.gitlab)
        if not dump:  # the fidelity report only (cicd audit): no YAML text
            return Rendering({}, self.losses.items())
        header = generated_header(p.name, source_name, "GitLab CI")
        # GitLab parses .gitlab-ci.yml as YAML 1.1 (Ruby Psych): "on" or "no" are booleans.
        return Rendering({FILE: dump_yaml(doc, header, yaml11=True)}, self.losses.items())

    # --- pipeline level -----------------------------------------------------------------

    def _workflow_rules(self) -> list[dict[str, Any]]:
        t = self.pipeline.config.triggers
        rules: list[dict[str, Any]] = []
        if t.push is not None:
            refs = [_ref_test("$CI_COMMIT_BRANCH", b) for b in t.push.branches or ()]
            refs += [_ref_test("$CI_COMMIT_TAG", tag) for tag in t.push.tags or ()]
            test = EVENT_TESTS["push"]
            if refs:
                test += " && " + _any(refs)
            elif t.push.branches is not None or t.push.tags is not None:
                test += " && $CI_COMMIT_REF_NAME == null"  # an empty filter list matches nothing
            rule: dict[str, Any] = {"if": test}
            if t.push.paths:
                rule["changes"] = list(t.push.paths)
            rules.append(rule)
        if t.pull_request is not None:
            test = EVENT_TESTS["pull_request"]
            refs = [
                _ref_test("$CI_MERGE_REQUEST_TARGET_BRANCH_NAME", b)
                for b in t.pull_request.branches or ()
            ]
            if refs:
                test += " && " + _any(refs)
            rule = {"if": test}
            if t.pull_request.paths:
                rule["changes"] = list(t.pull_request.paths)
            rules.append(rule)
        if t.schedule:
            rules.append({"if": EVENT_TESTS["schedule"]})
            self.losses.add(
                ("config", "triggers", "schedule"),
                "GitLab keeps schedules outside the file; create a pipeline schedule for "
                + ", ".join(f'"{c}"' for c in t.schedule),
                "schedule",
            )
        if t.manual is not None:
            rules.append({"if": EVENT_TESTS["manual"]})
        for key in ("push", "pull_request"):
            trig = getattr(t, key)
            patterns = [
                *(getattr(trig, "branches", None) or ()),
                *(getattr(trig, "tags", None) or ()),
            ]
            if trig is not None and any(p.startswith("!") for p in patterns):
                self.losses.add(
                    ("config", "triggers", key),
                    "negated filters (!pattern) are matched literally on GitLab",
                    "trigger-negation",
                )
        hatch = self.pipeline.config.gitlab.get("workflow")
        if not rules and not (isinstance(hatch, dict) and "rules" in hatch):
            # No rule would let every pipeline run; `when: never` keeps what GitHub starts
            # (workflow_call, release...) from becoming a run on every GitLab push.
            rules.append({"when": "never"})
            self.losses.add(
                ("config", "triggers"),
                "the pipeline's triggers exist only in the github: escape hatch (on:); "
                "GitLab never starts it (workflow:rules when: never)",
                "triggers-native",
            )
        return rules

    def _merge_request_pipelines(self) -> bool:
        """True when the pipeline may run as a merge request pipeline: it has a pull_request
        trigger, or its workflow rules come verbatim from the escape hatch (an imported
        file's), where the generator cannot tell."""
        if self.pipeline.config.triggers.pull_request is not None:
            return True
        return "workflow" in (self.pipeline.config.gitlab or {})

    def _stage_order(self) -> list[str]:
        """Stage names in file order, moved only as far as job needs require."""
        names = list(dict.fromkeys(s.name for s in self.pipeline.stages))
        before: dict[str, set[str]] = {n: set() for n in names}
        for r in self.resolved:
            for dep in needs_for(r, self.graph):
                dep_stage = self.jobs[dep].stage.name
                if dep_stage != r.stage.name:
                    before[r.stage.name].add(dep_stage)
        order: list[str] = []
        remaining = list(names)
        while remaining:
            ready = next((n for n in remaining if before[n] <= set(order)), None)
            if ready is None:
                self.losses.add(
                    ("stages",),
                    "jobs need each other across stages in both directions; GitLab needs "
                    "jobs in earlier stages, so stages keep file order and some needs may "
                    "be rejected",
                    "stage-order",
                )
                return names
            order.append(ready)
            remaining.remove(ready)
        return order

    def _variables(self) -> dict[str, Any]:
        p = self.pipeline
        out: dict[str, Any] = {
            "CICD_PIPELINE": p.name,
            "CICD_SHA": "$CI_COMMIT_SHA",
            "CICD_RUN_ID": "$CI_PIPELINE_ID",
            "CICD_WORKSPACE": "$CI_PROJECT_DIR",
        }
        for name, value in p.config.variables.items():
            text = scalar_text(value)
            # Neutral variables are plain values; GitLab expands "$NAME" in variable values
            # unless told not to (variables:expand).
            out[name] = {"value": text, "expand": False} if "$" in text else text
        manual = p.config.triggers.manual
        for name, spec in (manual.inputs if manual else {}).items():
            # Only variables with a description are shown on the "Run pipeline" form
            # (variables:description, "prefill variables in manual pipelines").
            entry: dict[str, Any] = {
                "value": scalar_text(spec.default) if spec.default is not None else "",
                "description": spec.description or name,
            }
            if spec.required:
                self.losses.add(
                    ("config", "triggers", "manual", "inputs", name, "required"),
                    "GitLab cannot require a value on the run pipeline form; the default "
                    "applies when none is given",
                    "input-required",
                )
            options = list(spec.options or ())
            if spec.kind == "boolean":
                options = ["true", "false"]
                entry["value"] = entry["value"] or "false"
            if options:
                entry["options"] = options
                if entry["value"] not in options:
                    entry["value"] = options[0]
            out[name] = entry
        return out

    # --- values -------------------------------------------------------------------------

    def _expr(self, expr: Expr, path: tuple[Any, ...]) -> str:
        """A neutral expression as GitLab variable text (``${VAR}``), outside scripts."""
        if isinstance(expr, HashCall):
            self.losses.add(
                path,
                "GitLab has no hash() outside cache keys; the commit SHA is used instead",
                "hash",
            )
            return "${CI_COMMIT_SHA}"
        if expr.context == "ci":
            fact = expr.parts[0]
            if fact in ("ref", "branch", "event"):
                self.losses.add(
                    path,
                    f"ci.{fact} is only exact inside scripts on GitLab; here it is "
                    f"{CI_NATIVE[fact]}",
                    "ci-fact",
                )
            return CI_NATIVE[fact]
        return "${" + script_var(expr) + "}"

    def _value(self, text: str, path: tuple[Any, ...]) -> str:
        if "${{" not in text:
            return text
        return "".join(
            part if isinstance(part, str) else self._expr(part, path)
            for part in split_template(text)
        )

    def _scalar(self, value: Scalar, path: tuple[Any, ...]) -> str:
        return self._value(value, path) if isinstance(value, str) else scalar_text(value)

    # --- jobs ---------------------------------------------------------------------------

    def _job(self, r: ResolvedJob) -> dict[str, Any]:
        job = r.job
        base = r.path
        out: dict[str, Any] = {"stage": r.stage.name}
        hosted = r.runs_on if r.runs_on in ("windows", "macos") else None
        if r.image and hosted:
            # GitLab's hosted Windows and macOS runners run VMs, not Docker images
            # ("Hosted runners on Windows/macOS"); an image there fails or is ignored.
            self.losses.add(
                (*base, "image"),
                f"GitLab's hosted {hosted} runners do not run container images; this job "
                "runs without its image",
                "container-os",
            )
        elif r.image:
            out["image"] = self._value(r.image, (*base, "image"))
        tags = self._tags(r)
        if tags:
            out["tags"] = tags
        if job.services:
            out["services"] = [
                {
                    "name": self._value(s.image, (*base, "services", i)),
                    "alias": s.alias,
                    **(
                        {"variables": {k: self._scalar(v, base) for k, v in s.env.items()}}
                        if s.env
                        else {}
                    ),
                }
                for i, s in enumerate(job.services)
            ]
        out["needs"] = self._needs(r)
        if job.matrix:
            out["parallel"] = {"matrix": self._matrix(r)}
        variables = self._job_variables(r)
        if variables:
            out["variables"] = variables
        rules, when = self._rules(r)
        if not rules and self._merge_request_pipelines():
            # A job without rules (or only) defaults to `only: [branches, tags]`, which leaves
            # it out of merge request pipelines; an unconditioned neutral job runs on every
            # event the pipeline runs for, pull requests included.
            rules, when = [{"when": when or "on_success"}], None
        if rules:
            out["rules"] = rules
        elif when:
            out["when"] = when
        if job.allow_failure:
            out["allow_failure"] = True
        if r.timeout:
            out["timeout"] = gitlab_duration(r.timeout)
        retry = self._retry(r)
        if retry:
            out["retry"] = retry
        if r.environment:
            env: dict[str, Any] = {"name": self._value(r.environment.name, (*base, "environment"))}
            if r.environment.url:
                url = self._value(r.environment.url, (*base, "environment"))
                # GitLab's schema takes a URL starting with http(s):// or a bare $VARIABLE,
                # not ${VAR}: drop the braces where the next character cannot extend the name.
                if not re.match(r"^https?://.", url):
                    url = re.sub(r"\$\{(\w+)\}(?!\w)", r"$\1", url)
                if re.match(r"^(https?://.+|\$[A-Za-z]+)", url):
                    env["url"] = url
                else:
                    self.losses.add(
                        (*base, "environment", "url"),
                        f"GitLab needs an environment URL that starts with http(s):// or a "
                        f'$VARIABLE; "{url}" is left out',
                        "environment-url",
                    )
            out["environment"] = env
        caches = self._caches(r)
        if caches:
            out["cache"] = caches[0] if len(caches) == 1 else caches
        out["script"] = self._script(r)
        artifacts = self._artifacts(r)
        if artifacts:
            out["artifacts"] = artifacts
        if job.permissions and "write" in job.permissions.values():
            self.losses.add(
                (*base, "permissions"),
                "GitLab has no per-job token permissions; the job token's project settings apply",
                "permissions",
            )
        if job.gitlab:
            if "before_script" in job.gitlab:
                self.losses.add(
                    (*base, "gitlab", "before_script"),
                    "a job before_script replaces the generated prelude; CICD_REF, "
                    "CICD_BRANCH, CICD_EVENT and CICD_OUTPUT are not set in this job",
                    "prelude",
                )
            if {"only", "except"} & set(job.gitlab) and ("rules" in out or "when" in out):
                # GitLab refuses a job with both rules and only/except ("rules", CI/CD YAML
                # syntax reference): the escape hatch's filters decide alone.
                out.pop("rules", None)
                out.pop("when", None)
                self.losses.add(
                    (*base, "gitlab"),
                    "GitLab cannot combine only/except (from the escape hatch) with rules; "
                    "the job's generated rules are left out and only/except decide",
                    "rules-only",
                )
            hatch = job.gitlab
            if "when" in hatch and "rules" in out and "rules" not in hatch:
                # GitLab refuses a job-level `when` beside `rules` ("config key may not be
                # used with rules"): the hatch's `when` (manual, delayed...) moves into every
                # rule that runs the job on success.
                out["rules"] = [
                    {**rule, "when": hatch["when"]}
                    if rule.get("when", "on_success") == "on_success"
                    else rule
                    for rule in out["rules"]
                ]
                hatch = {k: v for k, v in hatch.items() if k != "when"}
            out = deep_merge(out, hatch)
        return out

    def _tags(self, r: ResolvedJob) -> list[str]:
        if isinstance(r.runs_on, str) and r.runs_on in RUNNER_TAGS:
            if r.runs_on == "windows":
                # GitLab's hosted Windows runners use the PowerShell shell ("Hosted runners on
                # Windows"), so POSIX scripts and the prelude do not run there as written.
                self.losses.add(
                    (*r.path, "runs_on"),
                    "GitLab's hosted Windows runners run scripts in PowerShell, not a POSIX "
                    "shell; the scripts and the generated prelude need rewriting for them",
                    "windows-shell",
                )
            return list(RUNNER_TAGS[r.runs_on])
        # A list selects a runner with all of these tags (GitLab docs, tags): a self-hosted
        # one, whose own "linux" tag is kept verbatim.
        labels = [r.runs_on] if isinstance(r.runs_on, str) else list(r.runs_on)
        tags = []
        for i, label in enumerate(labels):
            where = (*r.path, "runs_on") if isinstance(r.runs_on, str) else (*r.path, "runs_on", i)
            if "${{" in label and self._template_may_be_neutral(r, label):
                self.losses.add(
                    where,
                    "a runner label from a template becomes a GitLab tag as it is; the neutral "
                    f"labels ({', '.join(RUNNER_TAGS)}) are not mapped to hosted runner tags",
                    "runner-label",
                )
            tags.append(self._value(label, where))
        return tags

    def _template_may_be_neutral(self, r: ResolvedJob, label: str) -> bool:
        """True when a templated runner label may take a neutral value (``linux``...)."""
        matrix = r.job.matrix
        for part in split_template(label):
            if isinstance(part, Ref) and part.context == "matrix" and matrix is not None:
                axis = part.parts[0]
                values = [
                    *matrix.axes.get(axis, ()),
                    *(e[axis] for e in matrix.include if axis in e),
                ]
                if any(scalar_text(v) in RUNNER_TAGS for v in values):
                    return True
            elif isinstance(part, Ref) and part.context == "inputs":
                return True
        return False

    def _needs(self, r: ResolvedJob) -> list[Any]:
        listed = needs_for(r, self.graph)
        status = (r.job.when or When()).status
        out: list[Any] = []
        for dep in listed:
            conditional = self._conditional_upstream(dep)
            entry: dict[str, Any] = {"job": dep}
            if dep not in r.needs:
                entry["artifacts"] = False  # listed for its status only (on_failure)
            # Only on_success jobs inherit upstream conditions (see _rules); the others
            # run whatever happened upstream, so a filtered-out upstream is optional.
            if conditional and (status != "on_success" or conditional == "paths"):
                entry["optional"] = True
                if status == "on_success":
                    self.losses.add(
                        (*r.path, "needs"),
                        f'"{dep}" or a job before it filters on changed paths; GitLab cannot '
                        "combine path filters, so this job may run when it is left out",
                        "needs-optional",
                    )
            out.append(entry if len(entry) > 1 else dep)
        return out

    def _conditional_upstream(self, name: str) -> str | None:
        """ "paths" if ``name`` or an ancestor filters on paths, "filters" for other filters."""
        found: str | None = None
        for job_name in [name, *self.ancestry.of(name)]:
            when = self.jobs[job_name].job.when
            if when is None:
                continue
            if when.paths is not None:
                return "paths"
            if when.has_filters():
                found = "filters"
        return found

    def _matrix(self, r: ResolvedJob) -> list[dict[str, Any]]:
        matrix = r.job.matrix
        assert matrix is not None
        if is_plain(matrix):
            return [{k: [scalar_text(v) for v in values] for k, values in matrix.axes.items()}]
        combos = expand_matrix(matrix)
        if len(combos) > 200:
            self.losses.add(
                (*r.path, "matrix"),
                f"GitLab allows 200 jobs per parallel:matrix; this matrix has {len(combos)}",
                "matrix-size",
            )
        # include/exclude have no GitLab form: each instance is listed with its own values.
        return [{k: scalar_text(v) for k, v in combo.items()} for combo in combos]

    def _job_variables(self, r: ResolvedJob) -> dict[str, Any]:
        job = r.job
        out: dict[str, Any] = {"CICD_JOB": job.name}
        if r.environment:
            out["CICD_ENVIRONMENT"] = self._value(r.environment.name, (*r.path, "environment"))
        for name, value in job.env.items():
            out[name] = self._scalar(value, (*r.path, "env", name))
        checkouts = [(i, s) for i, s in enumerate(job.steps) if isinstance(s, CheckoutStep)]
        if not checkouts:
            # GitLab clones by default; a neutral job without checkout has no sources.
            out["GIT_STRATEGY"] = "none"
            return out
        index, step = checkouts[0]
        if index != 0:
            self.losses.add(
                (*r.path, "steps", index),
                "GitLab checks out before the first script line, not at this step",
                "checkout-position",
            )
        opts = step.checkout
        if opts.depth is not None:
            out["GIT_DEPTH"] = str(opts.depth)
        if opts.submodules:
            out["GIT_SUBMODULE_STRATEGY"] = (
                "recursive" if opts.submodules == "recursive" else "normal"
            )
        return out

    # --- conditions ---------------------------------------------------------------------

    def _filter_tests(self, when: When) -> list[str]:
        groups: list[str] = []
        refs = [
            _any(
                [
                    _ref_test("$CI_COMMIT_BRANCH", b),
                    _ref_test("$CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", b),
                ]
            )
            for b in when.branches or ()
        ]
        refs += [_ref_test("$CI_COMMIT_TAG", tag) for tag in when.tags or ()]
        if refs:
            groups.append(_any(refs))
        if when.events:
            groups.append(_any([EVENT_TESTS[e] for e in when.events]))
        for name, value in when.variables.items():
            groups.append(f"${name} == {quote(value)}")
        return groups

    def _rules(self, r: ResolvedJob) -> tuple[list[dict[str, Any]], str | None]:
        when = r.job.when or When()
        status = {"on_success": None, "on_failure": "on_failure", "always": "always"}[when.status]
        tests = self._filter_tests(when)
        if when.status == "on_success":
            for name in self.ancestry.of(r.name):
                upstream = self.jobs[name].job.when
                if upstream is not None:
                    for test in self._filter_tests(upstream):
                        if test not in tests:
                            tests.append(test)
        if not tests and when.paths is None:
            return [], status
        rule: dict[str, Any] = {}
        if tests:
            rule["if"] = _all(tests)
        if when.paths is not None:
            rule["changes"] = list(when.paths)
        if status:
            rule["when"] = status
        return [rule], None

    def _retry(self, r: ResolvedJob) -> dict[str, Any] | None:
        policy = r.retry_policy
        if policy is None or policy.max_attempts <= 1:
            return None
        retries = policy.max_attempts - 1
        where = (
            (*r.path, "retry_policy")
            if r.job.retry_policy
            else (
                "stages",
                r.stage_index,
                "retry_policy",
            )
        )
        if retries > 2:
            # GitLab: retry:max is at most 2.
            self.losses.add(
                where,
                f"GitLab retries a job at most 2 times; max_attempts {policy.max_attempts} "
                "became 3",
                "retry-max",
            )
            retries = 2
        when: list[str] = []
        for cause in policy.on:
            when.extend(RETRY_WHEN[cause])
        if "always" in when:
            return {"max": retries, "when": "always"}
        return {"max": retries, "when": when}

    # --- caches, artifacts, scripts -----------------------------------------------------

    def _cache(self, cache: CacheSpec, path: tuple[Any, ...]) -> dict[str, Any]:
        out: dict[str, Any] = {"key": self._cache_key(cache.key, (*path, "key"))}
        out["paths"] = [self._value(p, (*path, "paths")) for p in cache.paths]
        if cache.restore_keys:
            out["fallback_keys"] = [
                self._value(k, (*path, "restore_keys")) for k in cache.restore_keys
            ]
        if cache.policy != "pull-push":
            out["policy"] = cache.policy
        return out

    def _cache_key(self, key: str, path: tuple[Any, ...]) -> Any:
        parts: list[str | Expr] = split_template(key) if "${{" in key else [key]
        if any(isinstance(p, str) and "/" in p for p in parts):
            # GitLab: a cache key "can't contain the / character" (cache:key).
            self.losses.add(
                path, 'GitLab cache keys cannot contain "/"; it is written as "-"', "cache-key"
            )
            parts = [p.replace("/", "-") if isinstance(p, str) else p for p in parts]
        hashes = [p for p in parts if isinstance(p, HashCall)]
        if len(hashes) == 1 and len(hashes[0].globs) <= 2:
            # GitLab: cache:key:files hashes up to two files into the key, after an optional
            # prefix. A key is only compared for equality, so text around the hash moves
            # into the prefix: the key still changes exactly when the files or text change.
            at = parts.index(hashes[0])
            before, after = (
                "".join(p if isinstance(p, str) else self._expr(p, path) for p in side)
                for side in (parts[:at], parts[at + 1 :])
            )
            prefix = "-".join(x for x in (before.rstrip("-_"), after.lstrip("-_")) if x)
            out: dict[str, Any] = {"files": list(hashes[0].globs)}
            if prefix:
                out["prefix"] = prefix
            return out
        return "".join(p if isinstance(p, str) else self._expr(p, path) for p in parts)

    def _caches(self, r: ResolvedJob) -> list[dict[str, Any]]:
        caches = []
        if r.job.cache:
            caches.append(self._cache(r.job.cache, (*r.path, "cache")))
        for i, step in enumerate(r.job.steps):
            if isinstance(step, CacheStep):
                caches.append(self._cache(step.cache, (*r.path, "steps", i, "cache")))
        if len(caches) > 4:
            self.losses.add(
                (*r.path, "cache"), "GitLab allows at most 4 caches per job", "cache-count"
            )
        return caches

    def _artifacts(self, r: ResolvedJob) -> dict[str, Any] | None:
        job = r.job
        paths: list[str] = []
        settings: list[tuple[str | None, str, tuple[Any, ...]]] = []
        if job.artifacts:
            paths += [self._value(p, (*r.path, "artifacts")) for p in job.artifacts.paths]
            settings.append((job.artifacts.expire_in, job.artifacts.when, (*r.path, "artifacts")))
        for i, step in enumerate(job.steps):
            if isinstance(step, UploadArtifactStep):
                spec = step.upload_artifact
                where = (*r.path, "steps", i, "upload_artifact")
                paths += [self._value(p, where) for p in spec.paths if p not in paths]
                settings.append((spec.expire_in, spec.when, where))
        out: dict[str, Any] = {}
        if paths:
            out["paths"] = list(dict.fromkeys(paths))
            expire, when, _ = settings[0]
            if len({(s[0], s[1]) for s in settings}) > 1:
                self.losses.add(
                    settings[1][2],
                    "GitLab keeps one set of artifacts per job; the first expire_in and when "
                    "apply to all uploads",
                    "artifact-merge",
                )
            if expire:
                out["expire_in"] = gitlab_words(expire)
            if when != "on_success":
                out["when"] = when
        if job.outputs:
            out.setdefault("reports", {})["dotenv"] = OUTPUTS_FILE
        return out or None

    def _script(self, r: ResolvedJob) -> list[str]:
        job = r.job
        wanted = self._step_outputs_read(r)
        lines: list[str] = []
        for index, step in enumerate(job.steps):
            path = (*r.path, "steps", index)
            if step.github:
                keys = ", ".join(sorted(step.github))
                self.losses.add(
                    (*path, "github"),
                    f"GitHub-only step settings ({keys}) have no GitLab form; the step runs "
                    "without them (an `if:` here does not guard it)",
                    "step-github",
                )
            if isinstance(step, RunStep):
                lines.extend(self._run(r, step, path, wanted))
            elif isinstance(step, UsesStep):
                if step.gitlab:
                    lines.extend(
                        self._run(
                            r,
                            RunStep(run=step.gitlab.run, env=step.env, id=step.id, name=step.name),
                            path,
                            wanted,
                        )
                    )
                else:
                    self.losses.add(
                        path,
                        f'GitHub action "{step.uses}" has no GitLab equivalent; the step is '
                        "left out (give it a gitlab: {run: ...} replacement)",
                        "uses",
                    )
            elif isinstance(step, SetupStep):
                tools = ", ".join(f"{k} {v}" for k, v in step.setup.tools().items())
                self.losses.add(
                    path,
                    f"GitLab has no setup step; the job image must provide {tools}",
                    "setup",
                )
            elif isinstance(step, DownloadArtifactStep) and step.download_artifact.path:
                self.losses.add(
                    path,
                    "GitLab restores artifacts at their original paths before the script; "
                    f'"{step.download_artifact.path}" is not used',
                    "artifact-path",
                )
        for name, value in job.outputs.items():
            var = f"CICD_NEEDS_{_token(job.name)}_{_token(name)}"
            word = sh_double_quote(split_template(value), script_var)
            # Script lines share one shell, so an earlier step may have changed directory;
            # artifacts:reports:dotenv is read relative to the project directory.
            lines.append(f"printf '{var}=%s\\n' {word} >> \"$CI_PROJECT_DIR/{OUTPUTS_FILE}\"")
        if not lines:
            lines.append("true")
        # An entry of several lines ends its last one (written as a plain `|` block).
        return [line + "\n" if "\n" in line.rstrip("\n") else line for line in lines]

    def _step_outputs_read(self, r: ResolvedJob) -> dict[str, list[str]]:
        """Output keys of each step id that later steps or job outputs read."""
        wanted: dict[str, list[str]] = {}
        texts = [v for v in r.job.outputs.values()]
        for step in r.job.steps:
            if isinstance(step, RunStep | UsesStep):
                texts += [v for v in step.env.values() if isinstance(v, str)]
            if isinstance(step, RunStep):
                texts.append(step.run)
            if isinstance(step, UsesStep) and step.gitlab:
                texts.append(step.gitlab.run)
        for text in texts:
            if "${{" not in text:
                continue
            for part in split_template(text):
                if isinstance(part, Ref) and part.context == "steps":
                    keys = wanted.setdefault(part.parts[0], [])
                    if part.parts[2] not in keys:
                        keys.append(part.parts[2])
        return wanted

    def _run(
        self,
        r: ResolvedJob,
        step: RunStep,
        path: tuple[Any, ...],
        wanted: dict[str, list[str]],
    ) -> list[str]:
        script, used = rewrite_for_shell(step.run, step.shell)
        if used and step.shell == "python":
            self.losses.add((*path, "run"), PYTHON_TEMPLATE_LOSS, "step-template-shell")
        lines: list[str] = []
        for expr in used:
            if isinstance(expr, HashCall):
                self.losses.add(
                    (*path, "run"),
                    "GitLab has no hash() for scripts; the commit SHA is used instead",
                    "hash",
                )
                # Exported: a continue_on_error step runs in a child shell.
                lines.append(f'export {script_var(expr)}="$CI_COMMIT_SHA"')
        if step.shell in ("pwsh", "python"):
            self.losses.add(
                (*path, "shell"),
                f"GitLab runs scripts in the runner's shell; this step runs through {step.shell} "
                f"from there, so the job image must provide {step.shell}",
                "step-shell",
            )
        if step.timeout:
            self.losses.add(
                (*path, "timeout"),
                "GitLab has no step timeout; the job timeout applies",
                "step-timeout",
            )
        if step.id and step.id in wanted:
            lines.append('CICD_OUTPUT="$(mktemp)"')
        body: list[str] = []
        for name, value in step.env.items():
            text = value if isinstance(value, str) else scalar_text(value)
            parts = split_template(text) if "${{" in text else [text]
            body.append(f"export {name}={sh_double_quote(parts, script_var)}")
        if step.working_directory:
            body.append(f"cd {sh_quote(step.working_directory)}")
        command = script.rstrip("\n")
        if step.shell == "python":
            # GitHub runs `python {0}` for shell: python (jobs.<job_id>.steps[*].shell).
            command = f"python -c {sh_quote(command)}"
        elif step.shell == "pwsh":
            # GitHub prepends $ErrorActionPreference = 'stop' to pwsh scripts (same docs).
            command = "pwsh -NoProfile -NonInteractive -Command " + sh_quote(
                f'$ErrorActionPreference = "Stop"\n{command}'
            )
        body.append(command)
        text = "\n".join(body)
        if step.continue_on_error:
            shell = "bash" if step.shell == "bash" else "sh"
            text = (
                f"if ! {shell} -ec {sh_quote(text)}; then\n"
                f'  echo "step failed; continuing (continue_on_error)" >&2\n'
                "fi"
            )
        elif len(body) > 1:
            # Step env and working directory must not leak into the next step.
            text = (
                "(\n"
                + "\n".join("  " + line if line else line for line in text.split("\n"))
                + "\n)"
            )
        if step.name:
            text = f"# step: {step.name}\n{text}"
        lines.append(text)
        if step.id and step.id in wanted:
            for key in wanted[step.id]:
                var = f"CICD_STEPS_{_token(step.id)}_{_token(key)}"
                lines.append(read_step_output(var, key))
        return lines


def _token(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", text).upper()
