"""Neutral pipeline -> GitHub Actions workflow (``.github/workflows/<name>.yml``).

Every guarantee of a generated workflow is kept here: no template inside a ``run:`` script,
secrets only in the ``env:`` that declares them, pinned actions, least privilege, explicit
status conditions, POSIX shells. See docs/generators.md.
"""

from __future__ import annotations

import math
import re
from typing import Any

from ..model.graph import (
    Ancestry,
    ResolvedJob,
    direct_needs,
    has_artifacts,
    needs_for,
    resolve_jobs,
)
from ..model.patterns import literal_prefix
from ..model.pipeline import Cache as CacheSpec
from ..model.pipeline import (
    CacheStep,
    CheckoutStep,
    DownloadArtifactStep,
    EnvironmentSpec,
    Pipeline,
    RetryPolicy,
    RunStep,
    Scalar,
    SetupStep,
    UploadArtifactStep,
    UsesStep,
    When,
    duration_seconds,
    scalar_text,
)
from ..model.templates import Expr, HashCall, Ref, split_template
from . import pins
from .fidelity import LossLog, Rendering, report_other_hatches
from .github_words import CI_FACTS, EVENT_NAMES, RUNNER_LABELS
from .merge import deep_merge
from .shell import (
    PYTHON_TEMPLATE_LOSS,
    pack_artifacts,
    retry_loop,
    rewrite_for_shell,
    rewrite_script,
    script_var,
    unpack_artifacts,
)
from .yamlout import Commented, dump_yaml, generated_header

TARGET = "github"
ARTIFACT_DIR = "${{ runner.temp }}/cicd-artifacts"


def workflow_path(pipeline: Pipeline) -> str:
    return f".github/workflows/{pipeline.name}.yml"


def render_github(
    pipeline: Pipeline, source_name: str | None = None, *, dump: bool = True
) -> Rendering:
    """Translate ``pipeline`` into one workflow file and its fidelity losses."""
    return _GitHubTranslator(pipeline).render(source_name, dump)


def quote_literal(text: str) -> str:
    """A GitHub expression string literal."""
    return "'" + text.replace("'", "''") + "'"


class _GitHubTranslator:
    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.losses = LossLog(TARGET)
        self.graph = direct_needs(pipeline)
        self.ancestry = Ancestry(self.graph)
        self.resolved = resolve_jobs(pipeline)
        self.jobs = {r.name: r for r in self.resolved}

    # --- workflow level ---------------------------------------------------------------

    def render(self, source_name: str | None, dump: bool = True) -> Rendering:
        p = self.pipeline
        doc: dict[str, Any] = {"name": p.name, "on": self._on()}
        doc["permissions"] = dict(p.config.permissions)
        doc["env"] = self._workflow_env()
        doc["jobs"] = {r.name: self._job(r) for r in self.resolved}
        report_other_hatches(p, "gitlab", "GitHub", self.losses)
        if p.config.github:
            doc = deep_merge(doc, p.config.github)
        if not dump:  # the fidelity report only (cicd audit): no YAML text
            return Rendering({}, self.losses.items())
        header = generated_header(p.name, source_name, "GitHub Actions")
        return Rendering({workflow_path(p): dump_yaml(doc, header)}, self.losses.items())

    def _on(self) -> dict[str, Any]:
        t = self.pipeline.config.triggers
        on: dict[str, Any] = {}
        if t.push is not None:
            on["push"] = _drop_none(
                {"branches": t.push.branches, "tags": t.push.tags, "paths": t.push.paths}
            )
        if t.pull_request is not None:
            on["pull_request"] = _drop_none(
                {"branches": t.pull_request.branches, "paths": t.pull_request.paths}
            )
        if t.schedule:
            on["schedule"] = [{"cron": cron} for cron in t.schedule]
        if t.manual is not None:
            inputs: dict[str, Any] = {}
            for name, spec in t.manual.inputs.items():
                entry: dict[str, Any] = {
                    "description": spec.description or name,
                    "required": spec.required,
                    "type": spec.kind,
                }
                if spec.default is not None:
                    entry["default"] = spec.default
                if spec.options:
                    entry["options"] = list(spec.options)
                inputs[name] = entry
            on["workflow_dispatch"] = {"inputs": inputs} if inputs else {}
        if not on and "on" not in self.pipeline.config.github:
            # A workflow must have `on:`; by hand is the only start that adds no run.
            on["workflow_dispatch"] = {}
            self.losses.add(
                ("config", "triggers"),
                "the pipeline's triggers exist only in the gitlab: escape hatch; the "
                "workflow runs only when started by hand (workflow_dispatch)",
                "triggers-native",
            )
        return on

    def _workflow_env(self) -> dict[str, Any]:
        p = self.pipeline
        env: dict[str, Any] = {"CICD_PIPELINE": p.name}
        for fact in ("sha", "ref", "branch", "event", "run_id", "workspace"):
            env[f"CICD_{fact.upper()}"] = "${{ " + CI_FACTS[fact] + " }}"
        for name, value in p.config.variables.items():
            env[name] = scalar_text(value)
        manual = p.config.triggers.manual
        for name in manual.inputs if manual else {}:
            env[name] = "${{ " + self._input(name) + " }}"
        return env

    def _input(self, name: str) -> str:
        """The value of manual input ``name`` as a GitHub expression, on every event.

        GitHub fills ``inputs`` only for workflow_dispatch (elsewhere it is empty), while the
        neutral input (like the GitLab variable it becomes) holds its default on every event.
        Boolean inputs are booleans in the ``inputs`` context, so ``inputs.x || 'true'`` would
        turn false into true; they are written with the event test instead.
        """
        manual = self.pipeline.config.triggers.manual
        assert manual is not None
        spec = manual.inputs[name]
        ref = f"inputs.{name}"
        if spec.kind == "boolean":
            if spec.default is True:
                return f"github.event_name != 'workflow_dispatch' || {ref}"
            return f"github.event_name == 'workflow_dispatch' && {ref}"
        if spec.default is not None:
            return f"{ref} || {quote_literal(scalar_text(spec.default))}"
        return ref

    # --- values -----------------------------------------------------------------------

    def _expr(self, expr: Expr, r: ResolvedJob | None, step: bool = False) -> str:
        """A neutral expression as GitHub text (a literal or a ``${{ }}`` expression).

        ``step`` tells whether the text lands in a step, where more functions are available.
        """
        if isinstance(expr, HashCall) and not step:
            # hashFiles() is only available in steps (GitHub docs, context availability).
            self.losses.add(
                r.path if r else ("config",),
                "GitHub evaluates hashFiles() only inside steps; outside them the commit SHA "
                "is used instead",
                "hash",
            )
            return "${{ github.sha }}"
        if isinstance(expr, HashCall):
            return "${{ hashFiles(" + ", ".join(quote_literal(g) for g in expr.globs) + ") }}"
        ctx, parts = expr.context, expr.parts
        name = parts[0]
        if ctx == "vars":
            return scalar_text(self.pipeline.config.variables[name])
        if ctx == "ci":
            if name == "job":
                return r.name if r else ""
            if name == "pipeline":
                return self.pipeline.name
            if name == "environment":
                if not (r and r.environment):
                    return ""
                # The environment name may hold templates itself (not this one again).
                own = [
                    "" if p == Ref("ci", ("environment",)) else p
                    for p in split_template(r.environment.name)
                ]
                return "".join(p if isinstance(p, str) else self._expr(p, r, step) for p in own)
            return "${{ " + CI_FACTS[name] + " }}"
        if ctx in ("needs", "steps"):
            return "${{ " + f"{ctx}.{name}.outputs.{parts[2]}" + " }}"
        if ctx == "inputs":
            return "${{ " + self._input(name) + " }}"
        return "${{ " + expr.dotted() + " }}"

    def _value(self, text: str, r: ResolvedJob | None, step: bool = False) -> str:
        if "${{" not in text:
            return text
        return "".join(
            part if isinstance(part, str) else self._expr(part, r, step)
            for part in split_template(text)
        )

    def _scalar(self, value: Scalar, r: ResolvedJob | None, step: bool = False) -> Scalar:
        return self._value(value, r, step) if isinstance(value, str) else value

    # --- jobs ---------------------------------------------------------------------------

    def _job(self, r: ResolvedJob) -> dict[str, Any]:
        job = r.job
        base = r.path
        out: dict[str, Any] = {}
        needs = needs_for(r, self.graph)
        if needs:
            out["needs"] = list(needs)
        condition = self._condition(r, needs)
        if condition:
            out["if"] = condition
        out["runs-on"] = self._runs_on(r)
        if r.image and self._hosted_os(r) in ("windows", "macos"):
            # GitHub runs job containers on Linux runners only (jobs.<job_id>.container).
            self.losses.add(
                (*base, "image"),
                f"GitHub runs containers only on Linux runners; this {self._hosted_os(r)} job "
                "runs without its image",
                "container-os",
            )
        elif r.image:
            out["container"] = self._value(r.image, r)
            self._image_pin_loss(out["container"], (*base, "image"))
        if job.permissions is not None:
            # Job-level permissions replace the workflow's for this job (GitHub docs,
            # jobs.<job_id>.permissions), so write scopes stay on the jobs that need them.
            out["permissions"] = dict(job.permissions)
        if r.environment:
            out["environment"] = self._environment(r.environment, r)
        if r.timeout:
            out["timeout-minutes"] = math.ceil(r.timeout / 60)
            if r.timeout % 60:
                self.losses.add(
                    (*base, "timeout"),
                    f"GitHub timeouts are whole minutes; {r.timeout}s rounded up to "
                    f"{out['timeout-minutes']} min",
                    "timeout-minutes",
                )
        if job.allow_failure:
            out["continue-on-error"] = True
        if job.matrix:
            matrix: dict[str, Any] = {k: list(v) for k, v in job.matrix.axes.items()}
            if job.matrix.include:
                matrix["include"] = [dict(e) for e in job.matrix.include]
            if job.matrix.exclude:
                matrix["exclude"] = [dict(e) for e in job.matrix.exclude]
            # Neutral matrix instances are independent, as on GitLab: no fail-fast.
            out["strategy"] = {"fail-fast": False, "matrix": matrix}
        if job.services:
            out["services"] = self._services(r)
        if self._may_run_on_windows(r):
            # Windows runners run `run:` steps in PowerShell unless told otherwise
            # (jobs.<job_id>.defaults.run.shell); neutral scripts are POSIX, and `bash` there
            # is Git Bash.
            out["defaults"] = {"run": {"shell": "bash"}}
        out["env"] = self._job_env(r)
        if job.outputs:
            out["outputs"] = {k: self._value(v, r) for k, v in job.outputs.items()}
        out["steps"] = self._steps(r)
        if job.retry_policy or r.retry_policy:
            self._retry_loss(r)
        if job.github:
            out = deep_merge(out, job.github)
        return out

    def _runs_on(self, r: ResolvedJob) -> Any:
        labels = [r.runs_on] if isinstance(r.runs_on, str) else list(r.runs_on)
        for label in labels:
            if "$" in label.replace("${{", ""):
                # GitHub evaluates only ${{ }} expressions in runs-on, with no env context
                # (contexts available per key, jobs.<job_id>.runs-on); "$VAR" stays literal.
                self.losses.add(
                    (*r.path, "runs_on"),
                    f'GitHub does not expand "{label}" in runs-on; the runner label is that '
                    "literal text",
                    "runner-label",
                )
        if len(labels) > 1:
            # A list selects a runner that has every label (GitHub docs, jobs.<job_id>.runs-on),
            # i.e. a self-hosted one: "linux" there is the runner's own label, kept verbatim.
            return [self._value(x, r) for x in labels]
        label = labels[0]
        if label in RUNNER_LABELS:
            return RUNNER_LABELS[label]
        axis = self._label_template(label)
        if axis is None:
            return self._value(label, r)
        # A label from the matrix or an input: map the neutral names when the job runs.
        tests = [f"{axis} == '{name}' && '{hosted}'" for name, hosted in RUNNER_LABELS.items()]
        return "${{ " + " || ".join([*tests, axis]) + " }}"

    def _image_pin_loss(self, image: str, path: tuple[Any, ...]) -> None:
        """Report an image that names no tag or ``latest``: the image can change under the
        workflow, and zizmor (unpinned-images) flags it. The generator cannot pin it for the
        user (that needs the registry), so the report is how the user learns of it."""
        if "${{" in image or "@" in image:
            return
        name = image.rsplit("/", 1)[-1]
        tag = name.partition(":")[2]
        if tag and tag != "latest":
            return
        self.losses.add(
            path,
            f'image "{image}" names no tag or "latest", so it can change under the workflow; '
            "pin it to a version or a digest (image@sha256:...)",
            "image-unpinned",
        )

    def _label_template(self, label: str) -> str | None:
        """The expression of a runner label that is one ``matrix`` or ``inputs`` template."""
        parts = split_template(label) if "${{" in label else []
        if len(parts) != 1 or not isinstance(parts[0], Ref):
            return None
        ref = parts[0]
        if ref.context == "matrix":
            return f"matrix.{ref.parts[0]}"
        if ref.context == "inputs":
            return f"({self._input(ref.parts[0])})"
        return None

    def _label_values(self, r: ResolvedJob) -> list[str]:
        """Every neutral runner label the job may get (matrix values of a templated label)."""
        labels = [r.runs_on] if isinstance(r.runs_on, str) else list(r.runs_on)
        values: list[str] = []
        for label in labels:
            parts = split_template(label) if "${{" in label else [label]
            ref = parts[0] if len(parts) == 1 else None
            if isinstance(ref, Ref) and ref.context == "matrix" and r.job.matrix:
                axis = ref.parts[0]
                values += [scalar_text(v) for v in r.job.matrix.axes.get(axis, ())]
                values += [scalar_text(e[axis]) for e in r.job.matrix.include if axis in e]
            elif isinstance(ref, Ref) and ref.context == "inputs":
                manual = self.pipeline.config.triggers.manual
                spec = manual.inputs[ref.parts[0]] if manual else None
                values += list(spec.options or ()) if spec else []
            else:
                values.append(label)
        return values

    def _hosted_os(self, r: ResolvedJob) -> str | None:
        """``windows``/``macos``/``linux`` when the job names one neutral runner label."""
        labels = [r.runs_on] if isinstance(r.runs_on, str) else list(r.runs_on)
        return labels[0] if len(labels) == 1 and labels[0] in RUNNER_LABELS else None

    def _may_run_on_windows(self, r: ResolvedJob) -> bool:
        return any(v == "windows" or v.startswith("windows-") for v in self._label_values(r))

    def _environment(self, env: EnvironmentSpec, r: ResolvedJob) -> Any:
        if env.url:
            return {"name": self._value(env.name, r), "url": self._value(env.url, r)}
        return self._value(env.name, r)

    def _services(self, r: ResolvedJob) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for i, svc in enumerate(r.job.services):
            entry: dict[str, Any] = {"image": self._value(svc.image, r)}
            self._image_pin_loss(entry["image"], (*r.path, "services", i, "image"))
            if svc.env:
                entry["env"] = {k: self._scalar(v, r) for k, v in svc.env.items()}
            if svc.ports:
                entry["ports"] = [f"{p}:{p}" for p in svc.ports]
            if not r.image:
                self.losses.add(
                    (*r.path, "services", i),
                    f'without a job image GitHub reaches service "{svc.alias}" at localhost '
                    "on its mapped ports, not by its alias",
                    "service-alias",
                )
            out[svc.alias] = entry
        return out

    def _job_env(self, r: ResolvedJob) -> dict[str, Any]:
        job = r.job
        env: dict[str, Any] = {"CICD_JOB": job.name}
        if r.environment:
            env["CICD_ENVIRONMENT"] = self._value(r.environment.name, r)
        if job.matrix:
            keys = dict.fromkeys(job.matrix.axes)
            for entry in job.matrix.include:
                keys.update(dict.fromkeys(entry))
            for key in keys:
                env[key] = "${{ matrix." + key + " }}"
        for name, value in job.env.items():
            env[name] = self._scalar(value, r)
        for name in job.secrets:
            env[name] = "${{ secrets." + name + " }}"
        return env

    # --- conditions ---------------------------------------------------------------------

    def _condition(self, r: ResolvedJob, needs: tuple[str, ...]) -> str | None:
        when = r.job.when or When()
        parts = self._filters(when, r)
        if when.status == "always":
            parts.insert(0, "!cancelled()")
        elif when.status == "on_failure":
            counted = [n for n in needs if not self.jobs[n].job.allow_failure]
            failed = " || ".join(f"needs.{n}.result == 'failure'" for n in counted) or "false"
            parts.insert(0, "!cancelled()")
            parts.insert(1, f"({failed})" if len(counted) > 1 else failed)
        elif needs and self._chain_may_go_on(r):
            # GitHub's implied success() skips a job when any job up its chain failed or
            # was skipped ("a failure or skip applies to all jobs in the dependency chain",
            # jobs.<job_id>.needs), but the neutral job only asks its own dependencies: an
            # allowed failure, or an always/on_failure job that ran, must not stop it.
            checks = ["!cancelled()"]
            for n in needs:
                if self.jobs[n].job.allow_failure:
                    checks.append(
                        f"(needs.{n}.result == 'success' || needs.{n}.result == 'failure')"
                    )
                else:
                    checks.append(f"needs.{n}.result == 'success'")
            parts = checks + parts
        return " && ".join(parts) if parts else None

    def _chain_may_go_on(self, r: ResolvedJob) -> bool:
        """True when a job up the chain may fail while the chain still reaches ``r``."""
        for name in self.ancestry.of(r.name):
            job = self.jobs[name].job
            if job.allow_failure or (job.when is not None and job.when.status != "on_success"):
                return True
        return False

    def _filters(self, when: When, r: ResolvedJob) -> list[str]:
        base = (*r.path, "when")
        groups: list[str] = []
        refs: list[str] = []
        for pattern in when.branches or ():
            refs.append(self._ref_test("refs/heads/", pattern, True, (*base, "branches")))
        for pattern in when.tags or ():
            refs.append(self._ref_test("refs/tags/", pattern, False, (*base, "tags")))
        if refs:
            groups.append(_any(refs))
        if when.events:
            groups.append(_any([f"github.event_name == '{EVENT_NAMES[e]}'" for e in when.events]))
        manual = self.pipeline.config.triggers.manual
        inputs = manual.inputs if manual else {}
        for name, value in when.variables.items():
            if name in inputs and inputs[name].kind == "boolean":
                # A boolean input compared with the string 'true' is coerced to a number on
                # both sides (GitHub docs, expression operators), so it never equals it.
                test = self._input(name)
                if value in ("true", "false"):
                    groups.append(f"({test})" if value == "true" else f"!({test})")
                else:
                    groups.append("false")
            elif name in inputs:
                groups.append(f"({self._input(name)}) == {quote_literal(value)}")
            else:
                declared = scalar_text(self.pipeline.config.variables[name])
                holds = declared == value
                if not holds:
                    groups.append("false")
                self.losses.add(
                    (*base, "variables", name),
                    "GitHub cannot read workflow variables in a job condition; decided when "
                    f'generating from the declared value "{declared}" ({str(holds).lower()})',
                    "when-variables",
                )
        if when.paths is not None:
            self.losses.add(
                (*base, "paths"),
                "GitHub has no job-level path filter; the job runs whatever changed "
                "(use trigger paths instead)",
                "when-paths",
            )
        return groups

    def _ref_test(self, prefix: str, pattern: str, branch: bool, path: tuple[Any, ...]) -> str:
        stem, rest = literal_prefix(pattern)
        if not rest:
            tests = [f"github.ref == {quote_literal(prefix + stem)}"]
            if branch:
                tests.append(f"github.head_ref == {quote_literal(stem)}")
            return " || ".join(tests)
        if rest != "**":
            # Expressions have startsWith but no glob or regex match (GitHub docs, expression
            # functions): only a trailing "**" is exact; "*" would also match deeper names.
            self.losses.add(
                path,
                f'GitHub expressions have no glob match; "{pattern}" is tested as the prefix '
                f'"{stem}"',
                "when-glob",
            )
        tests = [f"startsWith(github.ref, {quote_literal(prefix + stem)})"]
        if branch:
            # head_ref is empty outside pull requests, and every text starts with ''.
            head = f"startsWith(github.head_ref, {quote_literal(stem)})" if stem else None
            tests.append(head or "github.head_ref != ''")
        return " || ".join(tests)

    # --- steps --------------------------------------------------------------------------

    def _steps(self, r: ResolvedJob) -> list[dict[str, Any]]:
        job = r.job
        steps: list[dict[str, Any]] = []
        preamble = self._downloads(r) + self._job_cache(r, "start")
        first_checkout = next(
            (i for i, s in enumerate(job.steps) if isinstance(s, CheckoutStep)), None
        )
        if first_checkout is None:
            steps.extend(preamble)
        for index, step in enumerate(job.steps):
            steps.extend(self._step(r, index, step))
            if index == first_checkout:
                # Checkout cleans the workspace, so restored files must come after it.
                steps.extend(preamble)
        steps.extend(self._job_cache(r, "end"))
        for index, step in enumerate(job.steps):
            if isinstance(step, CacheStep) and step.cache.policy == "push":
                # A neutral cache step saves "when the job ends"; actions/cache/save saves at
                # its own position, so the push-only ones move to the end (actions/cache
                # saves the pull-push ones itself in its post step).
                head = {k: v for k, v in (("name", step.name), ("id", step.id)) if v}
                steps.append(
                    self._cache_step(step.cache, r, head, (*r.path, "steps", index, "cache"))
                )
        if job.artifacts:
            steps.extend(
                self._upload(
                    r,
                    job.artifacts.paths,
                    job.artifacts.expire_in,
                    job.artifacts.when,
                    "a",
                    (*r.path, "artifacts"),
                )
            )
        return steps

    def _step(self, r: ResolvedJob, index: int, step: Any) -> list[dict[str, Any]]:
        entries = self._step_entries(r, index, step)
        if step.github:
            # The step's escape hatch applies to every GitHub step it became (an ``if:``
            # must guard the tar step of an upload as well as the upload itself).
            entries = [deep_merge(entry, step.github) for entry in entries]
        return entries

    def _step_entries(self, r: ResolvedJob, index: int, step: Any) -> list[dict[str, Any]]:
        path = (*r.path, "steps", index)
        head: dict[str, Any] = {}
        if step.name:
            head["name"] = step.name
        if step.id:
            head["id"] = step.id
        if isinstance(step, RunStep):
            return [self._run_step(r, step, head, path)]
        if isinstance(step, CheckoutStep):
            opts = step.checkout
            with_: dict[str, Any] = {"persist-credentials": False}
            if opts.depth is not None:
                with_["fetch-depth"] = opts.depth
            if opts.submodules:
                with_["submodules"] = opts.submodules
            if opts.lfs:
                with_["lfs"] = True
            return [{**head, **_uses(pins.CHECKOUT), "with": with_}]
        if isinstance(step, SetupStep):
            out: list[dict[str, Any]] = []
            for tool, version in step.setup.tools().items():
                entry = dict(head) if not out else {}
                entry.update(_uses(pins.SETUP[tool]))
                entry["with"] = {f"{tool}-version": self._value(version, r, step=True)}
                out.append(entry)
            return out
        if isinstance(step, CacheStep):
            if step.cache.policy == "push":
                return []  # saved at the end of the job (see _steps)
            return [self._cache_step(step.cache, r, head, (*path, "cache"))]
        if isinstance(step, UploadArtifactStep):
            upload = step.upload_artifact
            steps = self._upload(r, upload.paths, upload.expire_in, upload.when, f"s{index}", path)
            # The upload action is the step whose outputs (artifact-id, artifact-url) the
            # neutral step's id and name stand for.
            steps[1] = {**head, **{k: v for k, v in steps[1].items() if k != "name"}}
            if "name" not in head:
                steps[1] = {"name": f"Upload artifacts (s{index})", **steps[1]}
            return steps
        if isinstance(step, DownloadArtifactStep):
            spec = step.download_artifact
            folder = f"{ARTIFACT_DIR}/explicit-{index}"
            return [
                {**head, **self._download(spec.job, folder)},
                {
                    "name": f"Unpack artifacts of {spec.job}",
                    "shell": "bash",
                    "run": unpack_artifacts(
                        "$RUNNER_TEMP/cicd-artifacts/explicit-" + str(index), spec.path
                    ),
                },
            ]
        if isinstance(step, UsesStep):
            entry = {**head, "uses": step.uses}
            if not re.search(r"@[0-9a-f]{40}$", step.uses) and not step.uses.startswith(
                ("./", "docker://")
            ):
                # A tag or branch can be moved under the workflow; zizmor (unpinned-uses)
                # flags any action not pinned to a full commit SHA.
                self.losses.add(
                    (*path, "uses"),
                    f'"{step.uses}" is not pinned to a full commit SHA; pin it so the action '
                    "cannot change under the workflow",
                    "uses-unpinned",
                )
            if step.with_:
                entry["with"] = {k: self._scalar(v, r, True) for k, v in step.with_.items()}
            if step.env:
                entry["env"] = {k: self._scalar(v, r, True) for k, v in step.env.items()}
            return [entry]
        raise TypeError(f"unknown step kind {type(step).__name__}")

    def _run_step(
        self, r: ResolvedJob, step: RunStep, head: dict[str, Any], path: tuple[Any, ...]
    ) -> dict[str, Any]:
        script, used = rewrite_for_shell(step.run, step.shell)
        if used and step.shell == "python":
            self.losses.add((*path, "run"), PYTHON_TEMPLATE_LOSS, "step-template-shell")
        env: dict[str, Any] = {k: self._scalar(v, r, True) for k, v in step.env.items()}
        for expr in used:
            self._define(expr, r, env)
        prelude: list[str] = []
        posix = step.shell in (None, "bash", "sh")
        if posix and (step.id or "CICD_OUTPUT" in step.run):
            prelude.append('export CICD_OUTPUT="$GITHUB_OUTPUT"')
        if posix and r.image:
            # github.workspace names the host path; inside a container it differs.
            prelude.append('export CICD_WORKSPACE="$GITHUB_WORKSPACE"')
        if not posix and (step.id or "CICD_OUTPUT" in step.run):
            self.losses.add(
                (*path, "shell"),
                f"$CICD_OUTPUT is only set for POSIX shells, not {step.shell}",
                "step-output-shell",
            )
        body = "\n".join([*prelude, script]) if prelude else script
        if "\n" in body.rstrip("\n"):
            body = body.rstrip("\n") + "\n"  # a script of several lines ends its last one
        entry = dict(head)
        retry = r.retry_policy
        if retry and _retries_scripts(retry) and step.shell in (None, "bash"):
            env["CICD_SCRIPT"] = body
            entry["shell"] = "bash"
            entry["run"] = retry_loop(retry.max_attempts, 'bash -eo pipefail -c "$CICD_SCRIPT"')
        else:
            if step.shell:
                entry["shell"] = step.shell
            entry["run"] = body
        if step.working_directory:
            entry["working-directory"] = step.working_directory
        if env:
            entry["env"] = env
        if step.timeout:
            entry["timeout-minutes"] = math.ceil(step.timeout / 60)
            if step.timeout % 60:
                self.losses.add(
                    (*path, "timeout"),
                    f"GitHub timeouts are whole minutes; {step.timeout}s rounded up to "
                    f"{entry['timeout-minutes']} min",
                    "timeout-minutes",
                )
        if step.continue_on_error:
            entry["continue-on-error"] = True
        return entry

    def _define(self, expr: Expr, r: ResolvedJob, env: dict[str, Any]) -> None:
        """Make the variable a script template was rewritten to exist for the step."""
        if isinstance(expr, Ref):
            if expr.context in ("matrix", "vars", "inputs", "env", "ci"):
                return  # workflow or job env already holds these (see _workflow_env, _job_env)
            if expr.context == "secrets" and expr.parts[0] in r.job.secrets:
                return
        env[script_var(expr)] = self._expr(expr, r, step=True)

    def _retry_loss(self, r: ResolvedJob) -> None:
        policy = r.retry_policy
        if not policy or policy.max_attempts <= 1:
            return
        where = (
            (*r.path, "retry_policy")
            if r.job.retry_policy
            else (
                "stages",
                r.stage_index,
                "retry_policy",
            )
        )
        if _retries_scripts(policy):
            message = (
                "GitHub has no job retry; each bash run step is retried in a loop of up to "
                f"{policy.max_attempts} attempts when its script fails (other steps, timeouts "
                "and runner failures are not retried)"
            )
        else:
            message = (
                "GitHub has no job retry and a step cannot retry "
                + " or ".join(c.replace("_", " ") + "s" for c in policy.on)
                + "; the job is not retried"
            )
        self.losses.add(where, message, "retry-policy")

    # --- caches and artifacts -----------------------------------------------------------

    def _cache_step(
        self, cache: CacheSpec, r: ResolvedJob, head: dict[str, Any], path: tuple[Any, ...]
    ) -> dict[str, Any]:
        pin = {"pull-push": pins.CACHE, "pull": pins.CACHE_RESTORE, "push": pins.CACHE_SAVE}[
            cache.policy
        ]
        with_: dict[str, Any] = {
            "path": "\n".join(self._value(p, r, step=True) for p in cache.paths),
            "key": self._value(cache.key, r, step=True),
        }
        if cache.restore_keys and cache.policy != "push":
            with_["restore-keys"] = "\n".join(
                self._value(k, r, step=True) for k in cache.restore_keys
            )
        push = self.pipeline.config.triggers.push
        if cache.policy != "push" and push is not None and (push.tags or push.branches is None):
            # A release build must not restore a cache that another ref may have written
            # (cache poisoning): on tag pushes the step only looks the key up.
            with_["lookup-only"] = "${{ startsWith(github.ref, 'refs/tags/') }}"
            self.losses.add(
                path,
                "caches are not restored on tag pushes, so release builds cannot be fed a "
                "poisoned cache",
                "cache-tags",
            )
        return {**head, **_uses(pin), "with": with_}

    def _job_cache(self, r: ResolvedJob, where: str) -> list[dict[str, Any]]:
        cache = r.job.cache
        if cache is None:
            return []
        if (cache.policy == "push") != (where == "end"):
            return []
        return [self._cache_step(cache, r, {"name": "Cache"}, (*r.path, "cache"))]

    def _artifact_name(self, r: ResolvedJob, kind: str) -> str:
        # Job names cannot contain ".", so "cicd.<job>." never prefixes another job's names.
        name = f"cicd.{r.name}.{kind}"
        return name + ".${{ strategy.job-index }}" if r.job.matrix else name

    def _upload(
        self,
        r: ResolvedJob,
        paths: tuple[str, ...],
        expire_in: str | None,
        when: str,
        kind: str,
        path: tuple[Any, ...],
    ) -> list[dict[str, Any]]:
        condition = {"on_success": None, "on_failure": "failure()", "always": "!cancelled()"}[when]
        # Unique per job and upload, so archives of several artifacts extracted into one
        # folder (see shell.unpack_artifacts) never overwrite each other.
        archive_name = f"cicd.{r.name}.{kind}.tar"
        archive = f"$RUNNER_TEMP/{archive_name}"
        env: dict[str, Any] = {}
        words = []
        for p in paths:
            text, used = rewrite_script(p)
            for expr in used:
                self._define(expr, r, env)
            words.append(_env_refs(text))
        pack: dict[str, Any] = {"name": f"Pack artifacts ({kind})"}
        if condition:
            pack["if"] = condition
        pack["shell"] = "bash"
        pack["run"] = pack_artifacts(words, archive)
        if env:
            pack["env"] = env
        upload: dict[str, Any] = {"name": f"Upload artifacts ({kind})"}
        if condition:
            upload["if"] = condition
        upload.update(_uses(pins.UPLOAD_ARTIFACT))
        with_: dict[str, Any] = {
            "name": self._artifact_name(r, kind),
            "path": "${{ runner.temp }}/" + archive_name,
            "if-no-files-found": "ignore",
        }
        if expire_in:
            seconds = duration_seconds(expire_in)
            days = min(90, max(1, math.ceil(seconds / 86400)))
            with_["retention-days"] = days
            if seconds != days * 86400:
                self.losses.add(
                    (*path, "expire_in"),
                    f"GitHub keeps artifacts for whole days (1 to 90); {expire_in} became "
                    f"{days} day(s)",
                    "artifact-retention",
                )
        upload["with"] = with_
        return [pack, upload]

    def _download(self, job_name: str, folder: str) -> dict[str, Any]:
        return {
            **_uses(pins.DOWNLOAD_ARTIFACT),
            "with": {"pattern": f"cicd.{job_name}.*", "path": folder},
        }

    def _downloads(self, r: ResolvedJob) -> list[dict[str, Any]]:
        deps = [n for n in r.needs if has_artifacts(self.jobs[n].job)]
        if not deps:
            return []
        steps: list[dict[str, Any]] = [
            {"name": f"Download artifacts of {dep}", **self._download(dep, ARTIFACT_DIR)}
            for dep in deps
        ]
        steps.append(
            {
                "name": "Unpack artifacts",
                "shell": "bash",
                "run": unpack_artifacts("$RUNNER_TEMP/cicd-artifacts", None),
            }
        )
        return steps


def _env_refs(path: str) -> str:
    """An artifact path whose ``$VAR`` references expand in the pack step, as GitLab expands
    variables in ``artifacts:paths``: ``$VAR`` becomes ``${VAR}``, which ``glob_word``
    leaves live. Backslashes become ``/``: GitLab matches Windows paths either way, while
    bash (Git Bash on Windows runners too) only knows ``/``."""
    return re.sub(r"\$([A-Za-z_][A-Za-z0-9_]*)", r"${\1}", path.replace("\\", "/"))


def _uses(pin: pins.Pin) -> dict[str, Any]:
    return {"uses": Commented(pin.uses(), pin.tag)}


def _retries_scripts(policy: RetryPolicy) -> bool:
    """True when ``policy`` retries failed scripts, the only failures a step loop can see."""
    return policy.max_attempts > 1 and bool({"any", "script_failure"} & set(policy.on))


def _any(tests: list[str]) -> str:
    if len(tests) == 1 and " || " not in tests[0]:
        return tests[0]
    return "(" + " || ".join(tests) + ")"


def _drop_none(mapping: dict[str, Any]) -> dict[str, Any]:
    return {k: list(v) for k, v in mapping.items() if v is not None}
