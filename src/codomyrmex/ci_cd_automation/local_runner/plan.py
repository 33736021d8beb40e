"""What a local run consists of: the job instances of a pipeline for one simulated event.

Matrix expansion, instance dependencies, ``when`` exclusions, ``--only`` and the check of inputs,
with no side effect, before anything runs. Ids are the job name, or ``name.N`` for matrix legs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ..errors import UsageError
from ..model.conditions import trigger_reason, when_reason
from ..model.graph import ResolvedJob, ancestors, direct_needs, resolve_jobs
from ..model.matrix import expand_matrix
from ..model.pipeline import Pipeline, Scalar, scalar_text
from .event import SimulatedEvent
from .scheduler import Instance


def label(name: str, matrix: Mapping[str, Scalar] | None) -> str:
    """A job instance as a person reads it: ``unit (python=3.12, os=linux)``, or ``unit``."""
    if not matrix:
        return name
    values = ", ".join(f"{k}={scalar_text(v)}" for k, v in matrix.items())
    return f"{name} ({values})"


@dataclass(frozen=True)
class JobInstance:
    """One job, or one matrix leg of it, as the runner executes it."""

    id: str
    resolved: ResolvedJob
    matrix: dict[str, Scalar] | None
    needs: tuple[str, ...]
    excluded: str | None = None

    @property
    def name(self) -> str:
        return self.resolved.name

    @property
    def label(self) -> str:
        """The name a person reads: ``unit (python=3.12, os=linux)``."""
        return label(self.name, self.matrix)

    def scheduled(self) -> Instance:
        when = self.resolved.job.when
        return Instance(
            id=self.id,
            needs=self.needs,
            when=when.status if when is not None else "on_success",
            allow_failure=self.resolved.job.allow_failure,
            excluded=self.excluded,
        )


@dataclass(frozen=True)
class RunPlan:
    """The instances of one run, in declaration order, and the values conditions read.

    Attributes:
        not_triggered: why the pipeline's triggers do not start a run for the event, or None.
        values: pipeline variables and manual inputs after overrides, as text.
        inputs: the manual inputs alone (they also become environment variables).
    """

    pipeline: Pipeline
    event: SimulatedEvent
    instances: tuple[JobInstance, ...]
    not_triggered: str | None
    values: dict[str, str] = field(default_factory=dict)
    inputs: dict[str, str] = field(default_factory=dict)

    def by_id(self) -> dict[str, JobInstance]:
        return {i.id: i for i in self.instances}


def build_plan(
    pipeline: Pipeline,
    event: SimulatedEvent,
    *,
    variables: Mapping[str, str] | None = None,
    inputs: Mapping[str, str] | None = None,
    only: Sequence[str] = (),
) -> RunPlan:
    """Expand ``pipeline`` into job instances for ``event``.

    Raises:
        UsageError: an unknown ``--only`` job, ``--var`` or ``--input`` name, or an input value
            its declaration refuses (one line each, naming what is known).
    """
    values = _variables(pipeline, variables or {})
    given_inputs = _inputs(pipeline, inputs or {}, event)
    values.update(given_inputs)
    resolved = resolve_jobs(pipeline)
    keep = _selected(pipeline, only)
    expanded: dict[str, list[tuple[str, dict[str, Scalar] | None]]] = {}
    for r in resolved:
        if r.name not in keep:
            continue
        if r.job.matrix is None:
            expanded[r.name] = [(r.name, None)]
        else:
            combos = expand_matrix(r.job.matrix)
            expanded[r.name] = [(f"{r.name}.{n}", c) for n, c in enumerate(combos, 1)]
    instances: list[JobInstance] = []
    for r in resolved:
        if r.name not in keep:
            continue
        needs = tuple(iid for dep in r.needs for iid, _ in expanded.get(dep, ()))
        excluded = when_reason(r.job.when, event, values)
        if not expanded[r.name]:
            continue  # a matrix whose exclude removed every combination runs nothing
        for iid, combo in expanded[r.name]:
            instances.append(JobInstance(iid, r, combo, needs, excluded))
    return RunPlan(
        pipeline=pipeline,
        event=event,
        instances=tuple(instances),
        not_triggered=trigger_reason(pipeline.config, event),
        values=values,
        inputs=given_inputs,
    )


def _selected(pipeline: Pipeline, only: Sequence[str]) -> set[str]:
    graph = direct_needs(pipeline)
    if not only:
        return set(graph)
    keep: set[str] = set()
    for name in only:
        if name not in graph:
            known = ", ".join(f'"{n}"' for n in graph)
            raise UsageError(f'--only: no job "{name}" in the pipeline (jobs: {known})')
        keep.add(name)
        keep.update(ancestors(graph, name))
    return keep


def _variables(pipeline: Pipeline, overrides: Mapping[str, str]) -> dict[str, str]:
    values = {k: scalar_text(v) for k, v in pipeline.config.variables.items()}
    for name, value in overrides.items():
        if name not in values:
            known = ", ".join(f'"{n}"' for n in values) or "none"
            raise UsageError(
                f'--var: the pipeline declares no variable "{name}" (declared: {known})'
            )
        values[name] = value
    return values


def _inputs(pipeline: Pipeline, given: Mapping[str, str], event: SimulatedEvent) -> dict[str, str]:
    """Manual inputs: the given value on a manual run, else the default (as GitLab's
    variables and the GitHub translation do on every event)."""
    manual = pipeline.config.triggers.manual
    declared = manual.inputs if manual is not None else {}
    for name in given:
        if name not in declared:
            known = ", ".join(f'"{n}"' for n in declared) or "none"
            raise UsageError(
                f'--input: the pipeline declares no input "{name}" (declared: {known})'
            )
    out: dict[str, str] = {}
    for name, spec in declared.items():
        if name in given:
            value = given[name]
            if spec.options and value not in spec.options:
                options = ", ".join(f'"{o}"' for o in spec.options)
                raise UsageError(f'--input {name}: "{value}" is not one of {options}')
            if spec.kind == "boolean" and value not in ("true", "false"):
                raise UsageError(f'--input {name}: "{value}" is not a boolean (true or false)')
            if spec.kind == "number" and not _is_number(value):
                raise UsageError(f'--input {name}: "{value}" is not a number')
        elif spec.default is not None:
            value = scalar_text(spec.default)
        elif spec.required and event.event == "manual":
            raise UsageError(
                f"--input {name}: required by the manual trigger; give --input {name}=VALUE"
            )
        else:
            value = ""
        out[name] = value
    return out


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
