"""Dependency graph and inherited settings."""

from __future__ import annotations

from codomyrmex.ci_cd_automation import create_pipeline
from codomyrmex.ci_cd_automation.model.graph import (
    ancestors,
    direct_needs,
    find_cycle,
    needs_for,
    resolve_jobs,
)

RUN = [{"run": "true"}]


def build() -> object:
    return create_pipeline(
        "g",
        [
            {"name": "a", "jobs": [{"name": "a1", "steps": RUN}, {"name": "a2", "steps": RUN}]},
            {
                "name": "b",
                "dependencies": ["a"],
                "environment": "staging",
                "timeout": 120,
                "retry_policy": {"max_attempts": 2},
                "jobs": [{"name": "b1", "steps": RUN, "timeout": 60}],
            },
            {
                "name": "c",
                "jobs": [
                    {"name": "c1", "needs": ["b1"], "steps": RUN},
                    {"name": "c2", "needs": ["c1"], "when": {"status": "on_failure"}, "steps": RUN},
                ],
            },
        ],
        {"defaults": {"runs_on": "windows", "image": "alpine:3"}},
    )


def test_stage_dependencies_expand_to_every_upstream_job() -> None:
    graph = direct_needs(build())  # type: ignore[arg-type]
    assert graph == {"a1": (), "a2": (), "b1": ("a1", "a2"), "c1": ("b1",), "c2": ("c1",)}
    assert ancestors(graph, "c2") == ["c1", "b1", "a1", "a2"]


def test_stage_order_alone_creates_no_dependency() -> None:
    graph = direct_needs(build())  # type: ignore[arg-type]
    assert graph["a1"] == ()


def test_jobs_inherit_stage_and_default_settings() -> None:
    jobs = {r.name: r for r in resolve_jobs(build())}  # type: ignore[arg-type]
    b1 = jobs["b1"]
    assert b1.environment is not None and b1.environment.name == "staging"
    assert b1.timeout == 60  # the job's own value wins
    assert b1.retry_policy is not None and b1.retry_policy.max_attempts == 2
    assert b1.runs_on == "windows" and b1.image == "alpine:3"
    assert jobs["a1"].environment is None and jobs["a1"].timeout is None


def test_on_failure_jobs_list_every_ancestor() -> None:
    pipeline = build()
    graph = direct_needs(pipeline)  # type: ignore[arg-type]
    jobs = {r.name: r for r in resolve_jobs(pipeline)}  # type: ignore[arg-type]
    assert needs_for(jobs["c2"], graph) == ("c1", "b1", "a1", "a2")
    assert needs_for(jobs["c1"], graph) == ("b1",)


def test_find_cycle_names_the_cycle() -> None:
    assert find_cycle({"a": ["b"], "b": ["c"], "c": ["a"]}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": ["b"], "b": []}) is None


def test_image_null_opts_out_of_the_default_image() -> None:
    pipeline = create_pipeline(
        "p",
        [
            {
                "name": "s",
                "jobs": [
                    {"name": "bare", "image": None, "steps": RUN},
                    {"name": "boxed", "steps": RUN},
                ],
            }
        ],
        {"defaults": {"image": "alpine:3"}},
    )
    images = {r.name: r.image for r in resolve_jobs(pipeline)}
    assert images == {"bare": None, "boxed": "alpine:3"}
