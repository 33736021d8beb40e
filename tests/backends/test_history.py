"""pull_runs and save_run against a fake RunBackend: incremental, idempotent, interruptible."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from codomyrmex.ci_cd_automation.backends.base import RemoteJob, RemoteRun, RunProvider
from codomyrmex.ci_cd_automation.backends.history import pull_runs, save_run
from codomyrmex.ci_cd_automation.errors import ProviderError
from codomyrmex.ci_cd_automation.store import Store

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def remote(rid: str, minute: float, status: str = "success") -> RemoteRun:
    done = status not in ("queued", "running")
    return RemoteRun(
        provider="gitlab",
        target="grp/app",
        provider_run_id=rid,
        pipeline="grp/app",
        status=status,  # type: ignore[arg-type]
        ref="main",
        created_at=at(minute),
        started_at=at(minute + 1),
        finished_at=at(minute + 5) if done else None,
        jobs=(
            RemoteJob(
                f"{rid}01",
                "test",
                status,  # type: ignore[arg-type]
                queued_at=at(minute),
                started_at=at(minute + 1),
                finished_at=at(minute + 5) if done else None,
            ),
        ),
    )


@dataclass
class Budget:
    used: int = 0
    limit: int | None = 500

    @property
    def remaining(self) -> int | None:
        return None if self.limit is None else self.limit - self.used


@dataclass
class FakeBackend:
    runs: dict[str, RemoteRun]
    project: str = "grp/app"
    fail_after: int | None = None
    provider: RunProvider = "gitlab"
    budget: Budget = field(default_factory=Budget)
    listed_since: list[datetime | None] = field(default_factory=list)
    fetched: list[str] = field(default_factory=list)

    def list_runs(self, *, since: datetime | None = None) -> Iterator[RemoteRun]:
        self.listed_since.append(since)
        self.budget.used += 1
        newest = sorted(self.runs.values(), key=lambda r: r.created_at or T0, reverse=True)
        for n, run in enumerate(
            r for r in newest if since is None or (r.created_at or T0) >= since
        ):
            if self.fail_after is not None and n == self.fail_after:
                raise ProviderError("gitlab: 502 Bad Gateway", provider="gitlab", status_code=502)
            yield replace(run, jobs=())

    def get_run(self, run_id: str, *, jobs: bool = True) -> RemoteRun:
        self.fetched.append(run_id)
        self.budget.used += 1
        run = self.runs[run_id]
        return run if jobs else replace(run, jobs=())

    def trigger(
        self,
        *,
        ref: str | None = None,
        inputs: Mapping[str, str] | None = None,
        workflow: str | None = None,
    ) -> RemoteRun:
        raise NotImplementedError

    def poll_run(self, run: RemoteRun) -> RemoteRun | None:
        raise NotImplementedError

    def cancel(self, run_id: str) -> None:
        raise NotImplementedError

    def logs(self, run_id: str, *, job: str | None = None) -> str:
        raise NotImplementedError


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "state.db", clock=lambda: at(1000)) as s:
        yield s


def test_a_second_pull_fetches_only_what_is_new(store: Store) -> None:
    backend = FakeBackend({r.provider_run_id: r for r in (remote("1", 0), remote("2", 10))})
    first = pull_runs(backend, store, since=None)
    assert (first.seen, first.new, first.updated, first.jobs_fetched) == (2, 2, 0, 2)
    assert first.cursor == at(10)
    assert first.requests == 3
    assert sorted(backend.fetched) == ["1", "2"]

    backend.runs["3"] = remote("3", 20)
    backend.fetched.clear()
    second = pull_runs(backend, store, since=at(-60))
    assert backend.listed_since[-1] == at(10)  # max(since, cursor)
    assert (second.seen, second.new, second.unchanged, second.jobs_fetched) == (2, 1, 1, 1)
    assert backend.fetched == ["3"]  # run 2 is finished and unchanged: no job request
    assert second.cursor == at(20)
    stored = store.find_run("gitlab", "3")
    assert stored is not None and [j.name for j in stored.jobs] == ["test"]
    quota = store.latest_quota("gitlab", "grp/app")
    assert quota is not None and (quota.remaining, quota.limit) == (500 - 5, 500)


def test_since_later_than_the_cursor_wins(store: Store) -> None:
    backend = FakeBackend({"1": remote("1", 0)})
    pull_runs(backend, store, since=at(30))
    assert backend.listed_since == [at(30)]


def test_an_interrupted_pull_keeps_what_it_read_and_not_the_cursor(store: Store) -> None:
    backend = FakeBackend(
        {r.provider_run_id: r for r in (remote("1", 0), remote("2", 10), remote("3", 20))},
        fail_after=2,
    )
    with pytest.raises(ProviderError, match="502"):
        pull_runs(backend, store, since=None)
    assert [store.find_run("gitlab", i) is not None for i in "123"] == [False, True, True]
    assert store.get_cursor("gitlab", "grp/app") is None
    backend.fail_after = None
    backend.fetched.clear()
    again = pull_runs(backend, store, since=None)
    assert (again.new, again.unchanged) == (1, 2)
    assert backend.fetched == ["1"]
    assert again.cursor == at(20)


def test_unfinished_runs_are_read_until_they_end(store: Store) -> None:
    backend = FakeBackend({"1": remote("1", 0, "running"), "2": remote("2", 10)})
    pull_runs(backend, store, since=None)
    backend.runs["1"] = remote("1", 0, "failed")
    backend.fetched.clear()
    report = pull_runs(backend, store, since=None)
    # Run 1 was created before the cursor: the listing misses it, the refresh does not.
    assert backend.listed_since[-1] == at(10)
    assert (report.refreshed, report.updated) == (1, 1)
    assert backend.fetched == ["1"]
    stored = store.find_run("gitlab", "1")
    assert stored is not None
    assert (stored.status, stored.jobs[0].status) == ("failed", "failed")


def test_a_changed_run_gets_its_jobs_read_again(store: Store) -> None:
    backend = FakeBackend({"1": remote("1", 0)})
    pull_runs(backend, store, since=None)
    retried = remote("1", 0)
    backend.runs["1"] = replace(
        retried,
        finished_at=at(9),
        jobs=(*retried.jobs, RemoteJob("102", "test", "success", attempt=2)),
    )
    backend.fetched.clear()
    report = pull_runs(backend, store, since=None)
    assert (backend.fetched, report.updated) == (["1"], 1)
    stored = store.find_run("gitlab", "1")
    assert stored is not None and stored.jobs[0].attempts == 2


def test_without_jobs_no_run_is_read_twice(store: Store) -> None:
    backend = FakeBackend({"1": remote("1", 0)})
    report = pull_runs(backend, store, since=None, jobs=False)
    assert (report.new, report.jobs_fetched, backend.fetched) == (1, 0, [])
    stored = store.find_run("gitlab", "1")
    assert stored is not None and stored.jobs == ()


def test_local_backends_are_refused_and_targets_must_be_known(store: Store) -> None:
    with pytest.raises(ValueError, match="local runs"):
        pull_runs(FakeBackend({}, provider="local"), store, since=None)
    with pytest.raises(ValueError, match="pass target="):
        pull_runs(FakeBackend({}, project=""), store, since=None)
    report = pull_runs(FakeBackend({}, project=""), store, since=None, target="grp/app")
    assert (report.seen, report.cursor) == (0, None)


def test_save_run_is_idempotent(store: Store) -> None:
    assert save_run(store, remote("9", 0)).created
    again = save_run(store, remote("9", 0))
    assert (again.created, again.changed) == (False, False)
