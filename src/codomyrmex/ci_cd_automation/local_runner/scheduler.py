"""The DAG scheduler of the local runner: which job instance starts when, and its final status.

This module owns the order of a run, not what a job does: ``Scheduler`` calls the caller's
``run(instance)`` from a pool of worker threads, and ``plan`` replays the same book (``_Book``)
with one worker for ``--dry-run``, so the two agree. Only the thread in ``Scheduler.run``
touches the book and calls ``on_event`` and ``stop``. A failed job is data; an exception stops
the running instances, waits for them and is re-raised without further events.
See docs/local-runner.md and docs/patterns-and-conditions.md (``when.status``).
"""

from __future__ import annotations

import contextlib
import heapq
import queue
import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal, get_args

from ..literals import OUTCOMES, JobStatus, Outcome
from ..model.graph import find_cycle
from ..model.pipeline import Status as When

EventKind = Literal["started", "finished"]
EventStatus = Literal["running"] | JobStatus
"""``running`` with a ``started`` event, the final status with a ``finished`` one."""

RunJob = Callable[[str], Outcome]
StopJob = Callable[[str], None]
OnEvent = Callable[[str, EventKind, EventStatus], None]

_WHENS = get_args(When)


@dataclass(frozen=True)
class Instance:
    """One job instance to schedule: its id, direct dependencies and status condition."""

    id: str
    needs: tuple[str, ...] = ()
    when: When = "on_success"
    allow_failure: bool = False
    excluded: str | None = None
    """Why the instance is left out before its dependencies are even asked (its ``when``
    filters do not admit the event); it is then ``skipped`` whatever its status condition."""

    def __post_init__(self) -> None:
        if self.when not in _WHENS:
            expected = ", ".join(f'"{w}"' for w in _WHENS)
            raise ValueError(f'job instance "{self.id}": when {self.when!r}, expected {expected}')


@dataclass(frozen=True)
class ScheduleResult:
    """What a run came to.

    Attributes:
        statuses: every instance's final status, in declaration order.
        started: the instances ``run`` was started for, in start order.
        reasons: why each ``skipped`` instance was skipped.
    """

    statuses: dict[str, JobStatus]
    started: tuple[str, ...]
    reasons: dict[str, str]

    @property
    def cancelled(self) -> bool:
        return "cancelled" in self.statuses.values()


@dataclass(frozen=True)
class Plan:
    """What a run would do with one worker, given assumed outcomes.

    Attributes:
        order: the instances that would run, in the order they would start.
        statuses: every instance's final status, in declaration order.
        reasons: why each ``skipped`` instance would be skipped.
    """

    order: tuple[str, ...]
    statuses: dict[str, JobStatus]
    reasons: dict[str, str]


def plan(instances: Sequence[Instance], outcomes: Mapping[str, Outcome] | None = None) -> Plan:
    """Simulate a run with one worker; nothing is executed.

    Args:
        instances: the job instances, in declaration order.
        outcomes: the assumed outcome of instances that run; missing ones succeed.

    Raises:
        ValueError: the graph is invalid, or ``outcomes`` names an unknown instance or
            holds something else than ``"success"``/``"failed"``.
    """
    book = _Book(instances)
    assumed = dict(outcomes or {})
    for given, outcome in assumed.items():
        if given not in book.instances:
            raise ValueError(f'outcome given for unknown job instance "{given}"')
        _check_outcome(given, outcome)
    book.begin()
    while (name := book.pop_ready()) is not None:
        book.end(name, assumed.get(name, "success"))
    return Plan(order=tuple(book.started), statuses=book.statuses(), reasons=dict(book.reasons))


class Scheduler:
    """Runs job instances over their dependency graph in a pool of worker threads.

    ``run()`` blocks in the calling thread and may be called once; ``cancel()`` may be
    called from any thread at any time.
    """

    def __init__(
        self,
        instances: Sequence[Instance],
        run: RunJob,
        *,
        workers: int = 1,
        stop: StopJob | None = None,
        on_event: OnEvent | None = None,
    ) -> None:
        """Check the graph; nothing starts before ``run()``.

        Args:
            instances: the job instances, in declaration order (the tie-break among ready ones).
            run: executes one instance and returns its outcome; called from worker threads.
            workers: the most instances running at once.
            stop: asks a running instance to stop; called on cancellation. Make it sticky (set
                an event that ``run`` checks): it may come just before ``run`` begins, or for
                an instance whose ``run`` is never called.
            on_event: receives ``(instance, event, status)`` in order: ``("started",
                "running")`` before ``run`` is called, ``("finished", <final status>)`` after;
                skipped and never-started instances get ``finished`` only.

        Raises:
            ValueError: duplicate ids, an unknown dependency, a cycle, or ``workers < 1``.
        """
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        self._book = _Book(instances)
        self._run = run
        self._workers = workers
        self._stop = stop
        self._on_event = on_event
        self._cancel = threading.Event()
        self._inbox: queue.SimpleQueue[_Message] = queue.SimpleQueue()
        self._running: dict[str, None] = {}  # in start order
        self._used = False

    @property
    def reasons(self) -> dict[str, str]:
        """Why each instance skipped so far was skipped (read it from ``on_event``)."""
        return dict(self._book.reasons)

    def cancel(self) -> None:
        """Start no new instance; stop the running ones. Never blocks; safe in a signal handler.

        Once it returned no ``run`` call begins, and the instances still running are recorded
        ``cancelled`` whatever they return.
        """
        self._cancel.set()
        self._inbox.put(_CANCEL)

    def run(self) -> ScheduleResult:
        """Run every instance that its condition lets run, and return the final statuses."""
        if self._used:
            raise RuntimeError("a Scheduler runs once; make a new one")
        self._used = True
        book = self._book
        with ThreadPoolExecutor(self._workers, thread_name_prefix="cicd-job") as pool:
            try:
                for name in book.begin():
                    self._emit(name, "finished", "skipped")
                self._drive(pool)
                if self._cancel.is_set():
                    self._wind_down()
            except BaseException:
                self._cancel.set()
                self._abandon()
                raise
        return ScheduleResult(
            statuses=book.statuses(), started=tuple(book.started), reasons=dict(book.reasons)
        )

    def _drive(self, pool: ThreadPoolExecutor) -> None:
        """Start ready instances while workers are free; record outcomes; stop on cancel."""
        book = self._book
        while not self._cancel.is_set():
            while len(self._running) < self._workers and (name := book.pop_ready()) is not None:
                self._running[name] = None
                self._emit(name, "started", "running")
                pool.submit(self._work, name)
            if not self._running:
                return
            message = self._inbox.get()
            if isinstance(message, _Cancel):
                continue
            name, outcome, error = message
            del self._running[name]
            if error is not None:
                raise error
            if outcome is None:  # cancel() came before run(); the loop ends next turn
                book.cancel(name)
                self._emit(name, "finished", "cancelled")
                continue
            self._emit(name, "finished", outcome)
            for skipped in book.end(name, outcome):
                self._emit(skipped, "finished", "skipped")

    def _wind_down(self) -> None:
        """After cancel(): stop the running, cancel the rest, wait, record all as cancelled."""
        book = self._book
        for name in self._running:
            if self._stop is not None:
                self._stop(name)
        for name in book.pending():
            if name not in self._running:
                book.cancel(name)
                self._emit(name, "finished", "cancelled")
        first_error: BaseException | None = None
        while self._running:
            message = self._inbox.get()
            if isinstance(message, _Cancel):
                continue
            name, _outcome, error = message
            del self._running[name]
            first_error = first_error or error
            book.cancel(name)
            self._emit(name, "finished", "cancelled")
        if first_error is not None:
            raise first_error

    def _abandon(self) -> None:
        """The scheduler cannot go on: stop what runs and wait for it, without events."""
        for name in self._running:
            if self._stop is not None:
                with contextlib.suppress(Exception):
                    self._stop(name)
        while self._running:
            message = self._inbox.get()
            if not isinstance(message, _Cancel):
                del self._running[message[0]]

    def _work(self, name: str) -> None:
        """In a worker thread: run one instance unless cancelled, and post what came of it."""
        try:
            outcome: Outcome | None = None
            if not self._cancel.is_set():
                outcome = self._run(name)
                _check_outcome(name, outcome)
            self._inbox.put((name, outcome, None))
        except BaseException as exc:
            self._inbox.put((name, None, exc))

    def _emit(self, name: str, event: EventKind, status: EventStatus) -> None:
        if self._on_event is not None:
            self._on_event(name, event, status)


class _Cancel:
    """The message cancel() posts; it only wakes the loop."""


_CANCEL = _Cancel()
_Message = tuple[str, Outcome | None, BaseException | None] | _Cancel


def _check_outcome(name: str, outcome: object) -> None:
    if outcome not in OUTCOMES:
        raise ValueError(
            f'job instance "{name}" ended with {outcome!r}, expected "success" or "failed"'
        )


_WHICH = {"failed": "failed", "skipped": "was skipped", "cancelled": "was cancelled"}


class _Book:
    """The statuses so far and the ready set, shared by Scheduler and plan so both agree.

    Not thread-safe: only the thread in ``Scheduler.run`` (or ``plan``) touches it.
    """

    def __init__(self, instances: Sequence[Instance]) -> None:
        self.instances: dict[str, Instance] = {}
        for inst in instances:
            if inst.id in self.instances:
                raise ValueError(f'duplicate job instance "{inst.id}"')
            self.instances[inst.id] = inst
        self.needs = {i.id: tuple(dict.fromkeys(i.needs)) for i in instances}
        for name, needs in self.needs.items():
            for dep in needs:
                if dep not in self.instances:
                    raise ValueError(f'job instance "{name}" needs unknown instance "{dep}"')
        cycle = find_cycle(self.needs)
        if cycle is not None:
            raise ValueError("dependency cycle: " + " -> ".join(f'"{n}"' for n in cycle))
        self.position = {name: n for n, name in enumerate(self.instances)}
        self.dependents: dict[str, list[str]] = {name: [] for name in self.instances}
        for name, needs in self.needs.items():
            for dep in needs:
                self.dependents[dep].append(name)
        self.waiting = {name: len(needs) for name, needs in self.needs.items()}
        self.status: dict[str, JobStatus] = {}
        self.reasons: dict[str, str] = {}
        self.started: list[str] = []
        # True when the instance or one of its ancestors failed without allow_failure.
        self._tainted: dict[str, bool] = {}
        self._ready: list[tuple[int, str]] = []

    def begin(self) -> list[str]:
        """Decide the instances without dependencies; returns those skipped, in order."""
        roots = [name for name, count in self.waiting.items() if count == 0]
        return self._decide(roots)

    def pop_ready(self) -> str | None:
        """The ready instance declared first, now counted as started; ``None`` if none."""
        if not self._ready:
            return None
        _, name = heapq.heappop(self._ready)
        self.started.append(name)
        return name

    def end(self, name: str, outcome: Outcome) -> list[str]:
        """Record a started instance's outcome; returns the instances skipped in consequence."""
        self._record(name, outcome)
        released = []
        for dep in self.dependents[name]:
            self.waiting[dep] -= 1
            if self.waiting[dep] == 0:
                released.append(dep)
        return self._decide(released)

    def cancel(self, name: str) -> None:
        self.status[name] = "cancelled"

    def pending(self) -> list[str]:
        """Instances without a final status, in declaration order."""
        return [name for name in self.instances if name not in self.status]

    def statuses(self) -> dict[str, JobStatus]:
        return {name: self.status[name] for name in self.instances if name in self.status}

    def _decide(self, names: list[str]) -> list[str]:
        """Queue the released instances that run; skip the others and what that releases."""
        skipped: list[str] = []
        todo = deque(names)
        while todo:
            name = todo.popleft()
            reason = self._skip_reason(name)
            if reason is None:
                heapq.heappush(self._ready, (self.position[name], name))
                continue
            skipped.append(name)
            self.reasons[name] = reason
            self._record(name, "skipped")
            for dep in self.dependents[name]:
                self.waiting[dep] -= 1
                if self.waiting[dep] == 0:
                    todo.append(dep)
        return skipped

    def _record(self, name: str, status: JobStatus) -> None:
        self.status[name] = status
        hard_failure = status == "failed" and not self.instances[name].allow_failure
        self._tainted[name] = hard_failure or self._upstream_failure(name)

    def _upstream_failure(self, name: str) -> bool:
        return any(self._tainted[dep] for dep in self.needs[name])

    def _succeeded(self, name: str) -> bool:
        status = self.status[name]
        return status == "success" or (status == "failed" and self.instances[name].allow_failure)

    def _skip_reason(self, name: str) -> str | None:
        """Why an instance whose dependencies all ended is skipped, or ``None`` if it runs."""
        instance = self.instances[name]
        if instance.excluded is not None:
            return instance.excluded
        when = instance.when
        if when == "always":
            return None
        if when == "on_failure":
            return None if self._upstream_failure(name) else "on_failure: no job upstream failed"
        for dep in self.needs[name]:
            if not self._succeeded(dep):
                return f'dependency "{dep}" {_WHICH[self.status[dep]]}'
        return None
