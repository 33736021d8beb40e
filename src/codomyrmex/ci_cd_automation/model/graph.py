"""The job dependency graph of a pipeline, and each job's effective settings.

Translators and runners read these resolved values, never the raw inheritance chain. Names are
assumed checked (``model.rules``): unknown ones are ignored. See docs/model.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .pipeline import EnvironmentSpec, Job, Pipeline, RetryPolicy, Stage


@dataclass(frozen=True)
class ResolvedJob:
    """A job with its inherited settings filled in and its direct dependencies listed."""

    job: Job
    stage: Stage
    stage_index: int
    job_index: int
    needs: tuple[str, ...]
    environment: EnvironmentSpec | None
    timeout: int | None
    retry_policy: RetryPolicy | None
    runs_on: str | tuple[str, ...]
    image: str | None

    @property
    def name(self) -> str:
        return self.job.name

    @property
    def path(self) -> tuple[str | int, ...]:
        return ("stages", self.stage_index, "jobs", self.job_index)


def direct_needs(pipeline: Pipeline) -> dict[str, tuple[str, ...]]:
    """Each job's direct dependencies, in file order, without repeats."""
    jobs_of_stage: dict[str, list[str]] = {}
    for stage in pipeline.stages:
        jobs_of_stage.setdefault(stage.name, []).extend(j.name for j in stage.jobs)
    graph: dict[str, tuple[str, ...]] = {}
    for _si, _ji, stage, job in pipeline.iter_jobs():
        seen: dict[str, None] = {}
        for dep_stage in stage.dependencies:
            for name in jobs_of_stage.get(dep_stage, ()):
                seen.setdefault(name, None)
        for name in job.needs:
            seen.setdefault(name, None)
        seen.pop(job.name, None)
        graph[job.name] = tuple(seen)
    return graph


def resolve_jobs(pipeline: Pipeline) -> list[ResolvedJob]:
    """All jobs with inherited settings, in file order."""
    graph = direct_needs(pipeline)
    defaults = pipeline.config.defaults
    out: list[ResolvedJob] = []
    for si, ji, stage, job in pipeline.iter_jobs():
        env = job.environment if job.environment is not None else stage.environment
        out.append(
            ResolvedJob(
                job=job,
                stage=stage,
                stage_index=si,
                job_index=ji,
                needs=graph.get(job.name, ()),
                environment=EnvironmentSpec(name=env) if isinstance(env, str) else env,
                timeout=job.timeout or stage.timeout or defaults.timeout,
                retry_policy=job.retry_policy or stage.retry_policy,
                runs_on=job.runs_on or defaults.runs_on,
                # `image: null` written on a job opts out of defaults.image.
                image=job.image if "image" in job.model_fields_set else defaults.image,
            )
        )
    return out


def find_cycle(graph: Mapping[str, Sequence[str]]) -> list[str] | None:
    """A dependency cycle as ``[a, b, ..., a]``, or ``None``; deterministic for a given graph."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for dep in graph.get(node, ()):
            if dep not in graph:
                continue
            if state.get(dep) == 1:
                return [*stack[stack.index(dep) :], dep]
            if dep not in state:
                found = visit(dep)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in graph:
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def ancestors(graph: Mapping[str, Sequence[str]], name: str) -> list[str]:
    """Every job ``name`` depends on directly or transitively, nearest first, no repeats."""
    seen: dict[str, None] = {}
    frontier = list(graph.get(name, ()))
    while frontier:
        nxt: list[str] = []
        for dep in frontier:
            if dep not in seen and dep != name:
                seen[dep] = None
                nxt.extend(graph.get(dep, ()))
        frontier = nxt
    return list(seen)


def needs_for(resolved: ResolvedJob, graph: Mapping[str, Sequence[str]]) -> tuple[str, ...]:
    """The jobs a translator lists as dependencies of ``resolved``.

    Direct dependencies, plus every transitive ancestor for an ``on_failure`` job: such a
    job runs when any job upstream failed, and both providers only report the status of
    the jobs listed, so they must all be listed.
    """
    when = resolved.job.when
    if when is not None and when.status == "on_failure":
        return tuple(dict.fromkeys([*resolved.needs, *ancestors(graph, resolved.name)]))
    return resolved.needs


def has_artifacts(job: Job) -> bool:
    """True when a job publishes files for the jobs after it."""
    from .pipeline import UploadArtifactStep

    return job.artifacts is not None or any(
        isinstance(step, UploadArtifactStep) for step in job.steps
    )


class Ancestry:
    """``ancestors`` of every job of one graph, each computed once (translators ask often)."""

    def __init__(self, graph: Mapping[str, Sequence[str]]) -> None:
        self.graph = graph
        self._memo: dict[str, list[str]] = {}

    def of(self, name: str) -> list[str]:
        found = self._memo.get(name)
        if found is None:
            found = self._memo[name] = ancestors(self.graph, name)
        return found
