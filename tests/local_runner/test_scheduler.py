"""The DAG scheduler: fake jobs held by ``threading.Event``s, no assertion on elapsed time."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping

import pytest

from codomyrmex.ci_cd_automation.local_runner.scheduler import (
    EventKind,
    EventStatus,
    Instance,
    Outcome,
    Scheduler,
    ScheduleResult,
    plan,
)

# Upper bound for any wait, a guard against hangs and never a speed assertion.
GUARD = 10.0


class Fakes:
    """Fake jobs: a gated one waits for its gate; each returns its outcome (default success).

    Counts how many run at once and records every call, thread-safely.
    """

    def __init__(self, outcomes: Mapping[str, Outcome] | None = None, gated: Iterable[str] = ()):
        self.outcomes = dict(outcomes or {})
        self.gates = {name: threading.Event() for name in gated}
        self.lock = threading.Lock()
        self.began: dict[str, threading.Event] = {}
        self.calls: list[str] = []
        self.running = 0
        self.peak = 0

    def began_event(self, name: str) -> threading.Event:
        with self.lock:
            return self.began.setdefault(name, threading.Event())

    def wait_began(self, name: str) -> None:
        assert self.began_event(name).wait(GUARD), f"{name} never started"

    def open(self, *names: str) -> None:
        for name in names or tuple(self.gates):
            self.gates[name].set()

    def __call__(self, name: str) -> Outcome:
        with self.lock:
            self.calls.append(name)
            self.running += 1
            self.peak = max(self.peak, self.running)
        self.began_event(name).set()
        try:
            gate = self.gates.get(name)
            if gate is not None:
                assert gate.wait(GUARD), f"{name} was never let go"
            return self.outcomes.get(name, "success")
        finally:
            with self.lock:
                self.running -= 1


class Log:
    """The event callback: a list of ``(instance, event, status)``."""

    def __init__(self) -> None:
        self.events: list[tuple[str, EventKind, EventStatus]] = []

    def __call__(self, name: str, event: EventKind, status: EventStatus) -> None:
        self.events.append((name, event, status))


class Background:
    """``Scheduler.run`` in a thread, so a test can act while it runs."""

    def __init__(self, scheduler: Scheduler) -> None:
        self.result: ScheduleResult | None = None
        self.error: BaseException | None = None

        def target() -> None:
            try:
                self.result = scheduler.run()
            except BaseException as exc:
                self.error = exc

        self.thread = threading.Thread(target=target, daemon=True)
        self.thread.start()

    def join(self) -> ScheduleResult:
        self.thread.join(GUARD)
        assert not self.thread.is_alive(), "the scheduler hung"
        if self.error is not None:
            raise self.error
        assert self.result is not None
        return self.result


def run(instances: list[Instance], fakes: Fakes, workers: int = 1) -> ScheduleResult:
    background = Background(Scheduler(instances, fakes, workers=workers))
    return background.join()


def test_ready_job_starts_before_a_slow_unrelated_job_ends() -> None:
    # Layer by layer, "b" would wait for "slow" (both come after layer 0).
    instances = [Instance("slow"), Instance("a"), Instance("b", needs=("a",))]
    fakes = Fakes(gated=["slow"])
    log = Log()
    background = Background(Scheduler(instances, fakes, workers=2, on_event=log))
    fakes.wait_began("b")
    assert not fakes.gates["slow"].is_set()
    fakes.open("slow")
    result = background.join()
    assert result.statuses == {"slow": "success", "a": "success", "b": "success"}
    events = log.events
    assert events.index(("b", "started", "running")) < events.index(("slow", "finished", "success"))


def test_failure_skips_on_success_dependents_transitively() -> None:
    instances = [
        Instance("build"),
        Instance("test", needs=("build",)),
        Instance("deploy", needs=("test",)),
        Instance("docs"),
    ]
    fakes = Fakes(outcomes={"build": "failed"})
    result = run(instances, fakes, workers=2)
    assert result.statuses == {
        "build": "failed",
        "test": "skipped",
        "deploy": "skipped",
        "docs": "success",
    }
    assert sorted(fakes.calls) == ["build", "docs"]
    assert result.reasons == {
        "test": 'dependency "build" failed',
        "deploy": 'dependency "test" was skipped',
    }


def test_allowed_failure_counts_as_success_and_triggers_no_on_failure_job() -> None:
    instances = [
        Instance("lint", allow_failure=True),
        Instance("test", needs=("lint",)),
        Instance("alert", needs=("test",), when="on_failure"),
    ]
    result = run(instances, Fakes(outcomes={"lint": "failed"}))
    assert result.statuses == {"lint": "failed", "test": "success", "alert": "skipped"}
    assert result.reasons == {"alert": "on_failure: no job upstream failed"}


def test_always_and_on_failure_see_failures_of_every_ancestor() -> None:
    instances = [
        Instance("build"),
        Instance("test", needs=("build",)),
        # Only "test" is a direct dependency; "build" failed two levels up.
        Instance("notify", needs=("test",), when="on_failure"),
        Instance("report", needs=("test",), when="always"),
        Instance("after-report", needs=("report",)),
        Instance("after-notify", needs=("notify",)),
    ]
    fakes = Fakes(outcomes={"build": "failed"})
    result = run(instances, fakes, workers=3)
    assert result.statuses == {
        "build": "failed",
        "test": "skipped",
        "notify": "success",
        "report": "success",
        "after-report": "success",
        "after-notify": "success",
    }
    assert sorted(fakes.calls) == ["after-notify", "after-report", "build", "notify", "report"]


def test_on_failure_is_skipped_when_all_went_well_and_skips_propagate() -> None:
    instances = [
        Instance("build"),
        Instance("rollback", needs=("build",), when="on_failure"),
        Instance("after-rollback", needs=("rollback",)),
        Instance("cleanup", needs=("rollback",), when="always"),
    ]
    fakes = Fakes()
    result = run(instances, fakes, workers=2)
    assert result.statuses == {
        "build": "success",
        "rollback": "skipped",
        "after-rollback": "skipped",
        "cleanup": "success",
    }
    assert fakes.calls == ["build", "cleanup"]


def test_worker_limit_is_respected() -> None:
    names = [f"job{i}" for i in range(6)]
    fakes = Fakes(gated=names)
    background = Background(Scheduler([Instance(n) for n in names], fakes, workers=2))
    fakes.wait_began("job0")
    fakes.wait_began("job1")
    fakes.open()
    result = background.join()
    assert set(result.statuses.values()) == {"success"}
    assert fakes.peak == 2
    assert fakes.calls == names


def test_cancel_stops_new_starts_and_marks_cancelled() -> None:
    instances = [
        Instance("a"),
        Instance("c"),
        Instance("d", needs=("a",)),
        Instance("e"),
        Instance("f", needs=("d",), when="always"),
    ]
    fakes = Fakes(gated=["a", "c"])
    stopped: list[str] = []

    def stop(name: str) -> None:
        stopped.append(name)
        fakes.open(name)

    log = Log()
    scheduler = Scheduler(instances, fakes, workers=2, stop=stop, on_event=log)
    background = Background(scheduler)
    fakes.wait_began("a")
    fakes.wait_began("c")
    scheduler.cancel()
    result = background.join()
    assert result.statuses == dict.fromkeys(["a", "c", "d", "e", "f"], "cancelled")
    assert result.cancelled
    assert result.started == ("a", "c")
    assert sorted(fakes.calls) == ["a", "c"]
    assert stopped == ["a", "c"]
    finished = [(n, s) for n, e, s in log.events if e == "finished"]
    assert sorted(finished) == [(n, "cancelled") for n in ["a", "c", "d", "e", "f"]]


def test_cancel_before_run_runs_nothing() -> None:
    fakes = Fakes()
    scheduler = Scheduler([Instance("a"), Instance("b", needs=("a",))], fakes)
    scheduler.cancel()
    result = scheduler.run()
    assert result.statuses == {"a": "cancelled", "b": "cancelled"}
    assert fakes.calls == []


def test_one_worker_starts_in_declaration_order_with_an_exact_event_log() -> None:
    instances = [
        Instance("z-build"),
        Instance("a-lint"),
        Instance("test", needs=("z-build",)),
        Instance("pack", needs=("z-build",)),
        Instance("deploy", needs=("test", "pack")),
        Instance("alert", needs=("deploy",), when="on_failure"),
    ]
    logs = []
    for _ in range(3):
        log = Log()
        result = Background(Scheduler(instances, Fakes(), on_event=log)).join()
        logs.append(log.events)
        assert result.started == ("z-build", "a-lint", "test", "pack", "deploy")
    assert logs[0] == logs[1] == logs[2]
    assert logs[0][:4] == [
        ("z-build", "started", "running"),
        ("z-build", "finished", "success"),
        ("a-lint", "started", "running"),
        ("a-lint", "finished", "success"),
    ]
    assert logs[0][-1] == ("alert", "finished", "skipped")


def test_a_skip_frees_an_earlier_declared_job_before_the_next_start() -> None:
    # "report" comes first in the file; it becomes ready when "b" is skipped, at once.
    instances = [
        Instance("report", needs=("b",), when="always"),
        Instance("a"),
        Instance("b", needs=("a",), when="on_failure"),
        Instance("c"),
    ]
    result = run(instances, Fakes())
    assert result.started == ("a", "report", "c")


def test_cycle_unknown_dependency_and_duplicates_raise_value_error() -> None:
    fakes = Fakes()
    with pytest.raises(ValueError, match='dependency cycle: "a" -> "b" -> "a"'):
        Scheduler([Instance("a", needs=("b",)), Instance("b", needs=("a",))], fakes)
    with pytest.raises(ValueError, match="cycle"):
        plan([Instance("a", needs=("a",))])
    with pytest.raises(ValueError, match='job instance "a" needs unknown instance "x"'):
        Scheduler([Instance("a", needs=("x",))], fakes)
    with pytest.raises(ValueError, match='duplicate job instance "a"'):
        Scheduler([Instance("a"), Instance("a")], fakes)
    with pytest.raises(ValueError, match="workers must be at least 1"):
        Scheduler([Instance("a")], fakes, workers=0)


def test_plan_matches_a_one_worker_run_and_runs_nothing() -> None:
    instances = [
        Instance("build"),
        Instance("unit", needs=("build",)),
        Instance("lint", allow_failure=True),
        Instance("deploy", needs=("unit", "lint")),
        Instance("rollback", needs=("deploy",), when="on_failure"),
        Instance("report", needs=("deploy",), when="always"),
    ]
    outcomes: dict[str, Outcome] = {"unit": "failed", "lint": "failed"}
    planned = plan(instances, outcomes)
    assert planned.order == ("build", "unit", "lint", "rollback", "report")
    assert planned.statuses == {
        "build": "success",
        "unit": "failed",
        "lint": "failed",
        "deploy": "skipped",
        "rollback": "success",
        "report": "success",
    }
    assert planned.reasons == {"deploy": 'dependency "unit" failed'}

    fakes = Fakes(outcomes=outcomes)
    result = run(instances, fakes)
    assert result.started == planned.order
    assert result.statuses == planned.statuses
    assert result.reasons == planned.reasons

    assert plan(instances).order == ("build", "unit", "lint", "deploy", "report")
    with pytest.raises(ValueError, match='unknown job instance "nope"'):
        plan(instances, {"nope": "failed"})


def test_an_exception_in_run_stops_the_others_and_is_raised() -> None:
    fakes = Fakes(gated=["slow"])
    stopped: list[str] = []

    def job(name: str) -> Outcome:
        if name == "broken":
            fakes.wait_began("slow")
            raise RuntimeError("the runner broke")
        return fakes(name)

    def stop(name: str) -> None:
        stopped.append(name)
        fakes.open(name)

    scheduler = Scheduler(
        [Instance("slow"), Instance("broken"), Instance("later", needs=("broken",))],
        job,
        workers=2,
        stop=stop,
    )
    with pytest.raises(RuntimeError, match="the runner broke"):
        Background(scheduler).join()
    assert stopped == ["slow"]
    assert fakes.calls == ["slow"]


def test_an_outcome_that_is_no_outcome_is_an_error() -> None:
    def job(name: str) -> Outcome:
        return "passed"  # type: ignore[return-value]

    with pytest.raises(ValueError, match="job instance \"a\" ended with 'passed'"):
        Scheduler([Instance("a")], job).run()
