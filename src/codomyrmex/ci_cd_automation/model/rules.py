"""Semantic validation rules: the checks that need the whole pipeline, after the structural ones.

One function per rule family, yielding diagnostics with model paths and stable rule ids, never
renamed. Here: ``duplicate-stage``, ``duplicate-job``, ``duplicate-service-alias``, ``empty-stage``,
``stage-dependencies``, ``job-needs``, ``stage-cycle``, ``job-cycle``, ``duplicate-step-id``,
``template-syntax``, ``template-context``, ``secret-undeclared``, ``secret-outside-env``,
``reserved-name``, ``variable-collision``, ``matrix-exclude``, ``output-source``, ``artifact-job``,
``when-variables``, ``when-status``, ``when-negation``, ``no-triggers``, ``permission-level``.
Elsewhere: ``unknown-key``, ``missing-key``, ``wrong-type``, ``invalid-value``, ``invalid-name``,
``step-kind`` (``model.messages``); ``file-read``, ``file-size``, ``yaml-encoding``,
``yaml-syntax``, ``yaml-duplicate-key``, ``yaml-alias-bomb``, ``yaml-tag``, ``float-version``
(the loader and ``model.yaml_reader``). See docs/model.md (diagnostics).
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass

from .conditions import has_native_triggers
from .diagnostics import Diagnostic, Path
from .graph import direct_needs, find_cycle
from .pipeline import (
    GITLAB_RESERVED_JOB_NAMES,
    RESERVED_VARIABLE_PREFIXES,
    CacheStep,
    DownloadArtifactStep,
    Job,
    PermissionLevel,
    PermissionScope,
    Pipeline,
    RunStep,
    SetupStep,
    Stage,
    UploadArtifactStep,
    UsesStep,
)
from .templates import CI_FACTS, CONTEXTS, HashCall, Ref, TemplateSyntaxError, split_template_spans

Rule = Callable[[Pipeline], Iterable[Diagnostic]]
# Names the runners set: CICD_ by every backend, the others by GitHub and GitLab; a pipeline
# that sets them is overridden (or overrides the runner) depending on the provider.
RESERVED_ENV_PREFIXES = RESERVED_VARIABLE_PREFIXES


def _hint(name: str, known: Iterable[str]) -> tuple[str, ...]:
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return (f'did you mean "{close[0]}"?',) if close else ()


def _case_note(first: str, again: str) -> str:
    """Explain a clash of names that differ only in case (GitHub ignores case)."""
    return "" if first == again else f' (as "{first}": GitHub ignores case)'


def _job_path(si: int, ji: int, *rest: str | int) -> Path:
    return ("stages", si, "jobs", ji, *rest)


def check_names(pipeline: Pipeline) -> Iterator[Diagnostic]:
    """duplicate-stage, duplicate-job, duplicate-service-alias, empty-stage, reserved-name."""
    seen_stages: dict[str, int] = {}
    for si, stage in enumerate(pipeline.stages):
        if stage.name in seen_stages:
            yield Diagnostic(
                f'stage "{stage.name}" is defined twice '
                f"(first as stages[{seen_stages[stage.name]}])",
                "duplicate-stage",
                ("stages", si, "name"),
            )
        seen_stages.setdefault(stage.name, si)
        if not stage.jobs:
            yield Diagnostic(
                f'stage "{stage.name}" has no jobs',
                "empty-stage",
                ("stages", si),
                hints=("add a job or remove the stage",),
            )
    seen_jobs: dict[str, str] = {}
    folded: dict[str, str] = {}
    for si, ji, stage, job in pipeline.iter_jobs():
        other = folded.get(job.name.casefold())
        if job.name not in seen_jobs and other is not None:
            # GitHub compares job ids case-insensitively: "build" and "Build" are one job.
            yield Diagnostic(
                f'job "{job.name}" differs from job "{other}" only in case',
                "duplicate-job",
                _job_path(si, ji, "name"),
                hints=("GitHub job ids ignore case; choose another name",),
            )
        folded.setdefault(job.name.casefold(), job.name)
        if job.name in seen_jobs and seen_jobs[job.name] == stage.name:
            yield Diagnostic(
                f'job "{job.name}" is defined twice in stage "{stage.name}"',
                "duplicate-job",
                _job_path(si, ji, "name"),
            )
        elif job.name in seen_jobs:
            yield Diagnostic(
                f'job "{job.name}" in stage "{stage.name}" is already defined in stage '
                f'"{seen_jobs[job.name]}"',
                "duplicate-job",
                _job_path(si, ji, "name"),
                hints=("job names are unique across the whole pipeline",),
            )
        seen_jobs.setdefault(job.name, stage.name)
        if job.name in GITLAB_RESERVED_JOB_NAMES:
            yield Diagnostic(
                f'job name "{job.name}" is a GitLab CI keyword',
                "reserved-name",
                _job_path(si, ji, "name"),
                hints=("choose another name",),
            )
    for si, ji, _stage, job in pipeline.iter_jobs():
        aliases: dict[str, str] = {}
        for vi, service in enumerate(job.services):
            # GitHub reads service keys without regard to case.
            first = aliases.get(service.alias.lower())
            if first is not None:
                yield Diagnostic(
                    f'service alias "{service.alias}" is used twice in job "{job.name}"'
                    + _case_note(first, service.alias),
                    "duplicate-service-alias",
                    _job_path(si, ji, "services", vi, "alias"),
                    hints=("each service needs its own alias: it is the service's host name",),
                )
            aliases.setdefault(service.alias.lower(), service.alias)
    for path, names in _env_maps(pipeline):
        what = {"matrix": "matrix axis", "inputs": "manual input"}.get(str(path[-1]), "variable")
        for name in names:
            if name.startswith(RESERVED_ENV_PREFIXES):
                yield Diagnostic(
                    f'{what} "{name}" uses a reserved prefix ({", ".join(RESERVED_ENV_PREFIXES)})',
                    "reserved-name",
                    (*path, name),
                    hints=("these are set by the runners",),
                    at_key=True,
                )


def _env_maps(pipeline: Pipeline) -> Iterator[tuple[Path, Iterable[str]]]:
    yield ("config", "variables"), pipeline.config.variables
    manual = pipeline.config.triggers.manual
    if manual is not None:
        yield ("config", "triggers", "manual", "inputs"), manual.inputs
    for si, ji, _stage, job in pipeline.iter_jobs():
        yield _job_path(si, ji, "env"), job.env
        if job.matrix is not None:
            yield _job_path(si, ji, "matrix"), job.matrix.axes
        for vi, service in enumerate(job.services):
            yield _job_path(si, ji, "services", vi, "env"), service.env
        for ki, step in enumerate(job.steps):
            if isinstance(step, RunStep | UsesStep):
                yield _job_path(si, ji, "steps", ki, "env"), step.env


def check_variable_names(pipeline: Pipeline) -> Iterator[Diagnostic]:
    """variable-collision: one name for two things that all become environment variables."""
    owners: dict[str, tuple[str, Path]] = {}
    config = pipeline.config
    manual = config.triggers.manual
    pipeline_wide: list[tuple[str, str, Path]] = [
        *(("config variable", n, ("config", "variables", n)) for n in config.variables),
        *(
            ("manual input", n, ("config", "triggers", "manual", "inputs", n))
            for n in (manual.inputs if manual else {})
        ),
        *(("secret", n, ("config", "secrets", i)) for i, n in enumerate(config.secrets)),
    ]
    for what, name, path in pipeline_wide:
        if name in owners and owners[name][0] != what:
            yield _collision(what, name, path, owners[name][0], at_key=what != "secret")
        owners.setdefault(name, (what, path))
    for si, ji, _stage, job in pipeline.iter_jobs():
        if job.matrix is None:
            continue
        axes = {name: _job_path(si, ji, "matrix", name) for name in job.matrix.axes}
        for ei, entry in enumerate(job.matrix.include):
            for name in entry:
                axes.setdefault(name, _job_path(si, ji, "matrix", "include", ei, name))
        step_env = {n for s in job.steps if isinstance(s, RunStep | UsesStep) for n in s.env}
        for name, path in axes.items():
            if name in owners:
                yield _collision("matrix axis", name, path, owners[name][0])
            elif name in job.env or name in step_env:
                yield _collision(
                    "matrix axis", name, path, f'variable in the env of job "{job.name}"'
                )


def _collision(what: str, name: str, path: Path, other: str, *, at_key: bool = True) -> Diagnostic:
    return Diagnostic(
        f'{what} "{name}" has the same name as a {other}; both reach scripts as the '
        f'variable "{name}", so one hides the other',
        "variable-collision",
        path,
        hints=("rename one of them",),
        at_key=at_key,
    )


def check_dependencies(pipeline: Pipeline) -> Iterator[Diagnostic]:
    """stage-dependencies, job-needs, stage-cycle, job-cycle."""
    stage_names = [s.name for s in pipeline.stages]
    job_names = [j.name for _, _, _, j in pipeline.iter_jobs()]
    bad = False
    for si, stage in enumerate(pipeline.stages):
        for di, dep in enumerate(stage.dependencies):
            if dep == stage.name:
                bad = True
                yield Diagnostic(
                    f'stage "{stage.name}" depends on itself',
                    "stage-dependencies",
                    ("stages", si, "dependencies", di),
                )
            elif dep not in stage_names:
                bad = True
                yield Diagnostic(
                    f'stage "{stage.name}" depends on unknown stage "{dep}"',
                    "stage-dependencies",
                    ("stages", si, "dependencies", di),
                    hints=_hint(dep, stage_names),
                )
    for si, ji, _stage, job in pipeline.iter_jobs():
        for ni, dep in enumerate(job.needs):
            if dep == job.name:
                bad = True
                yield Diagnostic(
                    f'job "{job.name}" needs itself', "job-needs", _job_path(si, ji, "needs", ni)
                )
            elif dep not in job_names:
                bad = True
                yield Diagnostic(
                    f'job "{job.name}" needs unknown job "{dep}"',
                    "job-needs",
                    _job_path(si, ji, "needs", ni),
                    hints=_hint(dep, job_names),
                )
    if bad:
        return
    stage_graph = {s.name: s.dependencies for s in pipeline.stages}
    cycle = find_cycle(stage_graph)
    if cycle:
        # Point at the first edge of the cycle: where cycle[0] names cycle[1].
        si = stage_names.index(cycle[0])
        di = pipeline.stages[si].dependencies.index(cycle[1])
        yield Diagnostic(
            "stage dependencies form a cycle: " + _chain(cycle),
            "stage-cycle",
            ("stages", si, "dependencies", di),
            hints=("remove one of these dependencies",),
        )
        return
    cycle = find_cycle(direct_needs(pipeline))
    if cycle:
        yield Diagnostic(
            "jobs depend on each other in a cycle: " + _chain(cycle),
            "job-cycle",
            _edge_path(pipeline, cycle[0], cycle[1]),
            hints=("remove one of these needs or stage dependencies",),
        )


def _chain(names: Iterable[str]) -> str:
    return " -> ".join(f'"{n}"' for n in names)


def _edge_path(pipeline: Pipeline, job_name: str, dep: str) -> Path:
    """Where job ``job_name`` comes to depend on ``dep``: its needs entry, or its stage's."""
    si, ji, stage, job = next(t for t in pipeline.iter_jobs() if t[3].name == job_name)
    if dep in job.needs:
        return _job_path(si, ji, "needs", job.needs.index(dep))
    dep_stage = next(s.name for s in pipeline.stages if any(j.name == dep for j in s.jobs))
    if dep_stage in stage.dependencies:
        return ("stages", si, "dependencies", stage.dependencies.index(dep_stage))
    return _job_path(si, ji, "name")


@dataclass(frozen=True)
class TemplateSite:
    """A string field that may hold templates, and what may appear there."""

    path: Path
    text: str
    kind: str  # run, env, with, output, job (image, runs_on, services...), config


def template_sites(pipeline: Pipeline) -> Iterator[TemplateSite]:
    """Every string of the pipeline in which ``${{ }}`` is meaningful."""
    for name, value in pipeline.config.variables.items():
        if isinstance(value, str):
            yield TemplateSite(("config", "variables", name), value, "config")
    for si, ji, stage, job in pipeline.iter_jobs():
        yield from _job_sites(si, ji, stage, job)


def _job_sites(si: int, ji: int, stage: Stage, job: Job) -> Iterator[TemplateSite]:
    base = _job_path(si, ji)
    if job.image:
        yield TemplateSite((*base, "image"), job.image, "job")
    runs_on = (job.runs_on,) if isinstance(job.runs_on, str) else job.runs_on or ()
    for i, label in enumerate(runs_on):
        path = (*base, "runs_on") if isinstance(job.runs_on, str) else (*base, "runs_on", i)
        yield TemplateSite(path, label, "job")
    for name, value in job.env.items():
        if isinstance(value, str):
            yield TemplateSite((*base, "env", name), value, "env")
    for i, service in enumerate(job.services):
        yield TemplateSite((*base, "services", i, "image"), service.image, "job")
        for name, value in service.env.items():
            if isinstance(value, str):
                yield TemplateSite((*base, "services", i, "env", name), value, "job")
    # An inherited environment is checked for every job of the stage (matrix axes and
    # needs differ per job) but reported where it is written.
    env = job.environment if job.environment is not None else stage.environment
    env_path = (
        (*base, "environment") if job.environment is not None else ("stages", si, "environment")
    )
    if isinstance(env, str):
        yield TemplateSite(env_path, env, "job")
    elif env is not None:
        yield TemplateSite((*env_path, "name"), env.name, "job")
        if env.url:
            yield TemplateSite((*env_path, "url"), env.url, "job")
    if job.cache:
        yield TemplateSite((*base, "cache", "key"), job.cache.key, "job")
        for i, text in enumerate(job.cache.paths):
            yield TemplateSite((*base, "cache", "paths", i), text, "job")
    if job.artifacts:
        for i, text in enumerate(job.artifacts.paths):
            yield TemplateSite((*base, "artifacts", "paths", i), text, "job")
    for name, value in job.outputs.items():
        yield TemplateSite((*base, "outputs", name), value, "output")
    for ki, step in enumerate(job.steps):
        spath = (*base, "steps", ki)
        if isinstance(step, RunStep):
            yield TemplateSite((*spath, "run"), step.run, "run")
        if isinstance(step, RunStep | UsesStep):
            for name, value in step.env.items():
                if isinstance(value, str):
                    yield TemplateSite((*spath, "env", name), value, "env")
        if isinstance(step, UsesStep):
            for name, value in step.with_.items():
                if isinstance(value, str):
                    yield TemplateSite((*spath, "with", name), value, "with")
            if step.gitlab:
                yield TemplateSite((*spath, "gitlab", "run"), step.gitlab.run, "run")
        if isinstance(step, CacheStep):
            yield TemplateSite((*spath, "cache", "key"), step.cache.key, "job")
            for i, text in enumerate(step.cache.paths):
                yield TemplateSite((*spath, "cache", "paths", i), text, "job")
        if isinstance(step, SetupStep):
            for tool, version in step.setup.tools().items():
                yield TemplateSite((*spath, "setup", tool), version, "job")
        if isinstance(step, UploadArtifactStep):
            for i, text in enumerate(step.upload_artifact.paths):
                yield TemplateSite((*spath, "upload_artifact", "paths", i), text, "job")


_STEP_ONLY = {"run", "env", "with"}


def check_templates(pipeline: Pipeline) -> Iterator[Diagnostic]:
    """template-syntax, template-context, secret-undeclared, secret-outside-env."""
    graph = direct_needs(pipeline)
    jobs = {j.name: j for _, _, _, j in pipeline.iter_jobs()}
    inputs = pipeline.config.triggers.manual.inputs if pipeline.config.triggers.manual else {}
    declared_secrets = set(pipeline.config.secrets)
    for site, job in _sites_with_jobs(pipeline):
        if "${{" not in site.text:
            continue
        try:
            parts = split_template_spans(site.text)
        except TemplateSyntaxError as exc:
            yield Diagnostic(str(exc), "template-syntax", site.path, offset=exc.offset)
            continue
        for offset, part in parts:
            if isinstance(part, str):
                continue
            if isinstance(part, HashCall):
                if site.kind in ("config", "output"):
                    yield Diagnostic(
                        "hash() is not available here",
                        "template-context",
                        site.path,
                        hints=("hash() works in job and step fields such as cache keys",),
                        offset=offset,
                    )
                continue
            for diag in _check_ref(
                part, site, job, graph, jobs, inputs, declared_secrets, pipeline
            ):
                yield dataclasses.replace(diag, offset=offset)


def _sites_with_jobs(pipeline: Pipeline) -> Iterator[tuple[TemplateSite, Job | None]]:
    for name, value in pipeline.config.variables.items():
        if isinstance(value, str):
            yield TemplateSite(("config", "variables", name), value, "config"), None
    for si, ji, stage, job in pipeline.iter_jobs():
        for site in _job_sites(si, ji, stage, job):
            yield site, job


def _check_ref(
    ref: Ref,
    site: TemplateSite,
    job: Job | None,
    graph: dict[str, tuple[str, ...]],
    jobs: dict[str, Job],
    inputs: Mapping[str, object],
    declared_secrets: set[str],
    pipeline: Pipeline,
) -> Iterator[Diagnostic]:
    ctx = ref.context
    parts: tuple[str, ...] = ref.parts
    where = site.path
    if ctx not in CONTEXTS:
        yield Diagnostic(
            f'unknown template context "{ctx}" in "${{{{ {ref.dotted()} }}}}"',
            "template-context",
            where,
            hints=_hint(ctx, CONTEXTS) or (f"contexts are {', '.join(CONTEXTS)}",),
        )
        return
    if site.kind == "config":
        yield Diagnostic(
            "config.variables are plain values; templates are not expanded here",
            "template-context",
            where,
        )
        return
    if site.kind == "output" and ctx != "steps":
        yield Diagnostic(
            f'job outputs come from steps: "${{{{ steps.<id>.outputs.<name> }}}}", '
            f'found "{ref.dotted()}"',
            "output-source",
            where,
        )
        return
    if ctx in ("needs", "steps"):
        if len(parts) != 3 or parts[1] != "outputs":
            yield Diagnostic(
                f'"{ref.dotted()}" must read {ctx}.<name>.outputs.<output>',
                "template-context",
                where,
            )
            return
    elif len(parts) != 1:
        yield Diagnostic(f'"{ref.dotted()}" must read {ctx}.<name>', "template-context", where)
        return
    name = parts[0]
    assert_job = job
    if ctx == "matrix":
        axes = _matrix_keys(assert_job)
        if assert_job is not None and assert_job.matrix is None:
            yield Diagnostic(
                f'"matrix.{name}" is used but job "{assert_job.name}" has no matrix',
                "template-context",
                where,
            )
        elif name not in axes:
            yield Diagnostic(
                f'"matrix.{name}" is not an axis of the matrix of job "{assert_job.name}"'
                if assert_job is not None
                else f'"matrix.{name}" is not a matrix axis',
                "template-context",
                where,
                hints=_hint(name, axes),
            )
    elif ctx == "vars":
        if name not in pipeline.config.variables:
            yield Diagnostic(
                f'"vars.{name}" is not declared in config.variables',
                "template-context",
                where,
                hints=_hint(name, pipeline.config.variables),
            )
    elif ctx == "inputs":
        if name not in inputs:
            yield Diagnostic(
                f'"inputs.{name}" is not an input of the manual trigger',
                "template-context",
                where,
                hints=_hint(name, inputs),
            )
    elif ctx == "ci":
        if name not in CI_FACTS:
            yield Diagnostic(
                f'"ci.{name}" is not a ci fact',
                "template-context",
                where,
                hints=_hint(name, CI_FACTS) or (f"facts are {', '.join(CI_FACTS)}",),
            )
    elif ctx == "secrets":
        if name not in declared_secrets:
            yield Diagnostic(
                f'secret "{name}" is used but not declared in config.secrets',
                "secret-undeclared",
                where,
                hints=_hint(name, declared_secrets),
            )
        if site.kind not in ("run", "env", "with"):
            yield Diagnostic(
                f'secret "{name}" may only be used in run, env or with',
                "secret-outside-env",
                where,
            )
    elif ctx == "env":
        # GitHub has no env context in a job's own env (nor outside steps at all).
        in_job_env = len(where) == 6 and where[4] == "env"
        if site.kind not in _STEP_ONLY or in_job_env:
            yield Diagnostic(
                '"env" templates are only available in steps', "template-context", where
            )
    elif ctx == "needs":
        assert assert_job is not None
        deps = graph.get(assert_job.name, ())
        if name not in deps:
            yield Diagnostic(
                f'"needs.{name}" is not a direct dependency of job "{assert_job.name}"',
                "template-context",
                where,
                hints=_hint(name, deps) or ("add it to needs",),
            )
        elif ref.parts[2] not in jobs[name].outputs:
            yield Diagnostic(
                f'job "{name}" has no output "{ref.parts[2]}"',
                "template-context",
                where,
                hints=_hint(ref.parts[2], jobs[name].outputs),
            )
        elif site.kind not in _STEP_ONLY:
            yield Diagnostic(
                '"needs" outputs are only available in steps and env', "template-context", where
            )
    elif ctx == "steps":
        assert assert_job is not None
        yield from _check_step_ref(assert_job, name, site)


def _matrix_keys(job: Job | None) -> list[str]:
    if job is None or job.matrix is None:
        return []
    keys = dict.fromkeys(job.matrix.axes)
    for entry in job.matrix.include:
        keys.update(dict.fromkeys(entry))
    return list(keys)


def _check_step_ref(job: Job, step_id: str, site: TemplateSite) -> Iterator[Diagnostic]:
    ids = [s.id for s in job.steps if s.id]
    if step_id not in ids:
        yield Diagnostic(
            f'"steps.{step_id}" names no step of job "{job.name}"',
            "template-context",
            site.path,
            hints=_hint(step_id, ids),
        )
        return
    if site.kind == "output":
        return
    if site.kind not in _STEP_ONLY or len(site.path) < 7:
        yield Diagnostic(
            '"steps" outputs are only available in later steps', "template-context", site.path
        )
        return
    here = int(site.path[5])
    there = next(i for i, s in enumerate(job.steps) if s.id == step_id)
    if there >= here:
        yield Diagnostic(
            f'step "{step_id}" does not run before this step', "template-context", site.path
        )


def check_job_parts(pipeline: Pipeline) -> Iterator[Diagnostic]:
    """duplicate-step-id, matrix-exclude, artifact-job, secret-undeclared, when-variables,
    when-negation."""
    graph = direct_needs(pipeline)
    inputs = pipeline.config.triggers.manual.inputs if pipeline.config.triggers.manual else {}
    known_vars = [*pipeline.config.variables, *inputs]
    for si, ji, _stage, job in pipeline.iter_jobs():
        seen: dict[str, str] = {}
        for ki, step in enumerate(job.steps):
            # GitHub step ids, like job ids, ignore case.
            if step.id and step.id.lower() in seen:
                yield Diagnostic(
                    f'step id "{step.id}" is used twice in job "{job.name}"'
                    + _case_note(seen[step.id.lower()], step.id),
                    "duplicate-step-id",
                    _job_path(si, ji, "steps", ki, "id"),
                )
            if step.id:
                seen.setdefault(step.id.lower(), step.id)
            if isinstance(
                step, DownloadArtifactStep
            ) and step.download_artifact.job not in graph.get(job.name, ()):
                yield Diagnostic(
                    f'job "{job.name}" downloads artifacts of "{step.download_artifact.job}", '
                    "which is not a direct dependency",
                    "artifact-job",
                    _job_path(si, ji, "steps", ki, "download_artifact", "job"),
                    hints=("add it to needs",),
                )
        if job.matrix:
            for ei, entry in enumerate(job.matrix.exclude):
                for key in entry:
                    if key not in job.matrix.axes:
                        yield Diagnostic(
                            f'matrix exclude names unknown axis "{key}"',
                            "matrix-exclude",
                            _job_path(si, ji, "matrix", "exclude", ei, key),
                            hints=_hint(key, job.matrix.axes),
                            at_key=True,
                        )
        for i, secret in enumerate(job.secrets):
            if secret not in pipeline.config.secrets:
                yield Diagnostic(
                    f'job "{job.name}" uses secret "{secret}", which is not declared in '
                    "config.secrets",
                    "secret-undeclared",
                    _job_path(si, ji, "secrets", i),
                    hints=_hint(secret, pipeline.config.secrets),
                )
        if job.when and job.when.status == "on_failure" and not graph.get(job.name):
            yield Diagnostic(
                f'job "{job.name}" runs on_failure but depends on no job',
                "when-status",
                _job_path(si, ji, "when", "status"),
                hints=("add needs or stage dependencies",),
            )
        if job.when:
            for key in ("branches", "tags"):
                for pi, pattern in enumerate(getattr(job.when, key) or ()):
                    if pattern.startswith("!"):
                        # A job condition is an if: expression on GitHub and a rules: test on
                        # GitLab, neither of which reads an ordered pattern list with
                        # negations: GitHub's would match every branch, GitLab's the literal.
                        yield Diagnostic(
                            f'job "{job.name}": when.{key} pattern "{pattern}" negates, which '
                            "job conditions cannot do on GitHub or GitLab",
                            "when-negation",
                            _job_path(si, ji, "when", key, pi),
                            hints=(
                                f"list the {key} the job runs on, or negate in "
                                f"config.triggers.push.{key}",
                            ),
                        )
            for name in job.when.variables:
                if name not in known_vars:
                    yield Diagnostic(
                        f'condition on "{name}", which is neither a config variable nor a '
                        "manual input",
                        "when-variables",
                        _job_path(si, ji, "when", "variables", name),
                        hints=_hint(name, known_vars),
                        at_key=True,
                    )


def check_config(pipeline: Pipeline) -> Iterator[Diagnostic]:
    """no-triggers, permission-level."""
    config = pipeline.config
    # Triggers written in a provider's own terms (an imported `on: workflow_call`, GitLab
    # workflow:rules that fold into no neutral trigger) count: the generators report that
    # the other provider gets none.
    if not config.triggers.any() and not has_native_triggers(config):
        yield Diagnostic(
            "the pipeline has no trigger",
            "no-triggers",
            ("config", "triggers"),
            hints=("add push, pull_request, schedule or manual",),
        )
    scopes: list[tuple[Path, Mapping[PermissionScope, PermissionLevel]]] = [
        (("config", "permissions"), pipeline.config.permissions)
    ]
    for si, ji, _stage, job in pipeline.iter_jobs():
        if job.permissions is not None:
            scopes.append((_job_path(si, ji, "permissions"), job.permissions))
    for path, permissions in scopes:
        # GitHub documents id-token as write or none only: a token is minted, never read.
        if permissions.get("id-token") == "read":
            yield Diagnostic(
                '"id-token" can only be "write" or "none", found "read"',
                "permission-level",
                (*path, "id-token"),
            )


RULES: tuple[Rule, ...] = (
    check_names,
    check_variable_names,
    check_dependencies,
    check_templates,
    check_job_parts,
    check_config,
)


def run_rules(pipeline: Pipeline) -> list[Diagnostic]:
    """Every semantic diagnostic of the pipeline (unpositioned, unsorted)."""
    out: list[Diagnostic] = []
    for rule in RULES:
        out.extend(rule(pipeline))
    return out
