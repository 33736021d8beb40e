"""What every provider backend shares: plans of file changes, sync results, normalised runs.

``sync`` applies a plan as one commit, never over a commit it did not plan against (the branch
moved: plan again once, then ``SyncConflictError``), and makes no commit when nothing changed.
Provider vocabulary stays in the provider modules. See docs/sync-and-polling.md.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, Protocol

from ..literals import FINISHED_STATUSES, Provider, RunProvider, RunStatus

Action = Literal["create", "update", "unchanged"]


@dataclass(frozen=True)
class FileChange:
    """One generated file against the remote branch."""

    path: str
    action: Action
    content: str
    remote: str | None
    diff: str


@dataclass(frozen=True)
class Plan:
    """The changes that would bring ``branch`` of ``target`` to the generated files.

    Attributes:
        provider: ``github`` or ``gitlab``.
        target: ``owner/name`` (GitHub) or ``group/name`` (GitLab).
        branch: the branch compared with.
        head: the commit of ``branch`` the comparison was made against.
        changes: one entry per generated file, sorted by path.
    """

    provider: Provider
    target: str
    branch: str
    head: str
    changes: tuple[FileChange, ...]

    @property
    def changed(self) -> tuple[FileChange, ...]:
        """The changes that need a commit (create or update)."""
        return tuple(c for c in self.changes if c.action != "unchanged")

    def format(self) -> str:
        """The plan as a person reads it: a line per file, then the diffs."""
        lines = [f"{self.provider} {self.target}@{self.branch} ({self.head[:12]}):"]
        for change in self.changes:
            lines.append(f"  {change.action:<9} {change.path}")
        count = len(self.changed)
        lines.append(f"{count} file{'s' if count != 1 else ''} to change")
        text = "\n".join(lines) + "\n"
        return text + "".join(c.diff for c in self.changed)


@dataclass(frozen=True)
class SyncResult:
    """What a sync did: the commit made (None when nothing changed) and where to see it.

    Attributes:
        plan: the plan that was applied (the second one when the branch had moved).
        commit: the new commit's id, or None when there was nothing to change.
        branch: the branch the commit is on (a new one with ``pull_request``).
        url: the commit's web page.
        pull_request_url: the pull/merge request opened, if one was asked for.
        replanned: the branch had moved after the first plan and was planned again.
    """

    plan: Plan
    commit: str | None
    branch: str
    url: str | None = None
    pull_request_url: str | None = None
    replanned: bool = False


def compare(
    provider: Provider,
    target: str,
    branch: str,
    head: str,
    generated: Mapping[str, str],
    remote: Mapping[str, str | None],
) -> Plan:
    """The plan for ``generated`` files against the ``remote`` contents (None: missing)."""
    changes = []
    for path in sorted(generated):
        content = generated[path]
        old = remote.get(path)
        if old is None:
            action: Action = "create"
        elif old == content:
            action = "unchanged"
        else:
            action = "update"
        diff = (
            ""
            if action == "unchanged"
            else "".join(
                difflib.unified_diff(
                    (old or "").splitlines(keepends=True),
                    content.splitlines(keepends=True),
                    fromfile="/dev/null" if old is None else f"a/{path}",
                    tofile=f"b/{path}",
                )
            )
        )
        changes.append(FileChange(path, action, content, old, diff))
    return Plan(provider, target, branch, head, tuple(changes))


class Backend(Protocol):
    """Plan and sync of generated files on one provider repository."""

    provider: Provider

    def plan(self, files: Mapping[str, str], *, branch: str | None = None) -> Plan:
        """Compare ``files`` (path -> text) with ``branch`` (default: the default branch)."""
        ...

    def sync(self, plan: Plan, *, message: str, pull_request: bool = False) -> SyncResult:
        """Apply ``plan`` as one commit (on a new branch with a pull/merge request)."""
        ...


# --- runs ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RemoteJob:
    """One job of a provider run, normalised to the shape every backend reports.

    Attributes:
        provider_job_id: the provider's id of this job (attempt) as text.
        name: the job's name as the provider shows it (``unit (3.12)``, ``unit: [3.12]``).
        status: normalised status.
        attempt: 1 for the first try; GitHub ``run_attempt``, GitLab the n-th retry of the name.
        allowed_failure: GitLab ``allow_failure``; GitHub: False (continue-on-error is not
            reported by the API).
        queued_at, started_at, finished_at: aware datetimes, or None.
        url: the job's web page.
    """

    provider_job_id: str
    name: str
    status: RunStatus
    attempt: int = 1
    allowed_failure: bool = False
    queued_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    url: str | None = None


@dataclass(frozen=True)
class RemoteRun:
    """One provider run (GitHub workflow run, GitLab pipeline), normalised.

    Attributes:
        provider: ``local``, ``github`` or ``gitlab``.
        target: ``owner/name``, ``group/name``, or the project folder of a local run.
        provider_run_id: the provider's run id (the store's run id for a local run) as text.
        pipeline: the workflow's name (GitHub) or the project path (GitLab).
        status: normalised status.
        event: ``push``, ``pull_request``, ``schedule``, ``manual`` or the provider's own word.
        ref: the branch or tag name; sha: the commit.
        attempt: GitHub ``run_attempt``; GitLab 1.
        created_at, started_at, finished_at: aware datetimes, or None.
        url: the run's web page.
        jobs: the jobs, when they were fetched.
    """

    provider: RunProvider
    target: str
    provider_run_id: str
    pipeline: str
    status: RunStatus
    event: str | None = None
    ref: str | None = None
    sha: str | None = None
    attempt: int = 1
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    url: str | None = None
    jobs: tuple[RemoteJob, ...] = ()

    @property
    def finished(self) -> bool:
        return self.status in FINISHED_STATUSES


def api_time(value: object) -> datetime | None:
    """A provider's ISO 8601 time (``2024-05-01T10:00:04Z``, ``...085Z``, ``...+01:00``) as an
    aware datetime (UTC when it names no zone); None for anything else."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class RunBackend(Protocol):
    """Runs on one provider repository (or this machine): start, read, list, cancel, logs."""

    @property
    def provider(self) -> RunProvider: ...

    def trigger(
        self,
        *,
        ref: str | None = None,
        inputs: Mapping[str, str] | None = None,
        workflow: str | None = None,
    ) -> RemoteRun:
        """Start a run (GitHub workflow_dispatch of ``workflow``; GitLab a pipeline with
        ``inputs`` as variables) and return it as soon as the provider knows it."""
        ...

    def get_run(self, run_id: str, *, jobs: bool = True) -> RemoteRun:
        """The run now; with ``jobs`` its jobs too (every page)."""
        ...

    def poll_run(self, run: RemoteRun) -> RemoteRun | None:
        """The run again if it changed since ``run`` was read, else None; a conditional request
        (ETag) so that an unchanged run costs one request and no quota where the provider
        allows it, and jobs are fetched only when the run changed."""
        ...

    def list_runs(self, *, since: datetime | None = None) -> Iterator[RemoteRun]:
        """Runs created (GitHub) or updated (GitLab) at or after ``since``, newest first,
        every page, without jobs."""
        ...

    def cancel(self, run_id: str) -> None:
        """Ask the provider to cancel the run."""
        ...

    def logs(self, run_id: str, *, job: str | None = None) -> str:
        """The log text of one job (by name or id) or of every job, in job order."""
        ...
