"""Plan, sync and runs on one GitLab project, through python-gitlab.

This module owns every GitLab REST call of the ``Backend`` and ``RunBackend`` protocols, and
turns python-gitlab and ``requests`` errors into ``ProviderError`` in one place
(``_translating``). The commits API cannot name a parent, so a sync makes GitLab refuse a stale
plan: the head is read right before the commit, every update carries ``last_commit_id``, every
create fails on an existing file. Those guards make the commit POST safe to repeat; the
pipeline create and the merge-request commit are sent once. See docs/sync-and-polling.md.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import gitlab as gitlab_api
import requests
from gitlab.v4.objects import Project

from ..errors import ProviderError, RateLimitError, SyncConflictError, UsageError
from ..literals import Provider, RunStatus
from .base import FileChange, Plan, RemoteJob, RemoteRun, SyncResult, api_time, compare
from .credentials import Credentials
from .transport import Policy, RequestBudget, gitlab_client, repeatable, translate_error

_SYNC_BRANCH_PREFIX = "cicd/sync-"
_PAGE = 100

# The table of docs/sync-and-polling.md. GitLab's pipeline and job statuses are the same words.
_STATUSES: dict[str, RunStatus] = {
    "created": "queued",
    "waiting_for_resource": "queued",
    "preparing": "queued",
    "pending": "queued",
    "scheduled": "queued",
    "running": "running",
    "canceling": "running",
    "success": "success",
    "failed": "failed",
    "canceled": "cancelled",
    "skipped": "skipped",
    "manual": "skipped",
}
_EVENTS = {
    "push": "push",
    "merge_request_event": "pull_request",
    "external_pull_request_event": "pull_request",
    "schedule": "schedule",
    "web": "manual",
    "api": "manual",
    "trigger": "manual",
}


@dataclass(frozen=True)
class _Head:
    """A branch's head commit, as the branches API shows it."""

    id: str
    parent_ids: tuple[str, ...]
    message: str
    web_url: str | None


@dataclass(frozen=True)
class _Seen:
    """The last read of a pipeline: its ETag, its ``updated_at`` and what it was read as."""

    etag: str | None
    updated_at: str | None
    run: RemoteRun


class GitLabBackend:
    """Plan, sync and runs on one GitLab project (``group/name``).

    Args:
        project: the project's full path, any depth of subgroups (``group/sub/name``).
        credentials: base URL (``https://gitlab.com`` or a self-managed instance) and token.
        client: a ready python-gitlab client (a caller sharing one); else one is made by
            ``transport.gitlab_client`` and its request count is ``budget``.
        policy: retries, rate-limit waits and request budget for the client made here.
    """

    provider: Provider = "gitlab"

    def __init__(
        self,
        project: str,
        credentials: Credentials,
        *,
        client: gitlab_api.Gitlab | None = None,
        policy: Policy | None = None,
    ) -> None:
        if credentials.provider != "gitlab":
            raise ValueError(f"GitLabBackend needs gitlab credentials, got {credentials}")
        self.project = project
        self.url = credentials.url
        self.budget: RequestBudget | None = None
        if client is None:
            client, self.budget = gitlab_client(credentials, policy)
        self._client = client
        self._remote: Project = self._client.projects.get(project, lazy=True)
        self._last_commits: dict[tuple[str, str], str] = {}
        self._seen: dict[str, _Seen] = {}

    def __repr__(self) -> str:
        return f"GitLabBackend({self.project!r} at {self.url})"

    def plan(self, files: Mapping[str, str], *, branch: str | None = None) -> Plan:
        """Compare ``files`` (path -> text) with ``branch`` (default: the default branch).

        Raises:
            ProviderError: the project or branch does not exist, or a request failed.
        """
        name = branch or self._default_branch()
        return self._plan_at(files, name, self._head(name).id)

    def sync(self, plan: Plan, *, message: str, pull_request: bool = False) -> SyncResult:
        """Apply ``plan`` as one commit (on a new branch with a merge request).

        Raises:
            SyncConflictError: the branch moved after the plan and again after the re-plan.
            ProviderError: a request failed; nothing was committed unless the error says so.
        """
        if plan.provider != "gitlab" or plan.target != self.project:
            raise ValueError(f"a plan for {plan.provider} {plan.target} given to {self!r}")
        if not plan.changed:
            return SyncResult(plan, None, plan.branch)
        if pull_request:
            return self._sync_merge_request(plan, message)
        return self._sync_branch(plan, message)

    # -- plan ------------------------------------------------------------------------------

    def _default_branch(self) -> str:
        with self._translating("read the project"):
            default = self._client.projects.get(self.project).default_branch
        if not default:
            raise ProviderError(
                f"gitlab {self.project}: the project has no default branch (empty repository?)",
                provider="gitlab",
            )
        return str(default)

    def _head(self, branch: str) -> _Head:
        with self._translating(f'read branch "{branch}"'):
            commit: dict[str, Any] = self._remote.branches.get(branch).commit
        return _Head(
            id=str(commit["id"]),
            parent_ids=tuple(str(p) for p in commit.get("parent_ids") or ()),
            message=str(commit.get("message") or ""),
            web_url=commit.get("web_url"),
        )

    def _plan_at(self, files: Mapping[str, str], branch: str, head: str) -> Plan:
        remote = {path: self._read(path, head) for path in sorted(files)}
        return compare("gitlab", self.project, branch, head, files, remote)

    def _read(self, path: str, ref: str) -> str | None:
        """The text of ``path`` at commit ``ref`` (None: missing); remembers its last commit."""
        try:
            with self._translating(f'read "{path}" at {ref[:12]}'):
                found = self._remote.files.get(file_path=path, ref=ref)
        except ProviderError as exc:
            if exc.status_code == 404:
                return None
            raise
        self._last_commits[(ref, path)] = str(found.last_commit_id)
        return found.decode().decode("utf-8", errors="replace")

    def _last_commit(self, head: str, path: str) -> str:
        if (head, path) not in self._last_commits:
            self._read(path, head)  # a plan made by another backend object
        return self._last_commits[(head, path)]

    # -- sync ------------------------------------------------------------------------------

    def _sync_branch(self, plan: Plan, message: str) -> SyncResult:
        files = {change.path: change.content for change in plan.changes}
        current, replanned = plan, False
        failure: ProviderError | None = None
        while True:
            head = self._head(current.branch)
            if head.id == current.head and failure is not None:
                raise ProviderError(
                    f"{failure}; the branch is still at {head.id[:12]}, so nothing was committed",
                    provider="gitlab",
                    status_code=failure.status_code,
                    request_id=failure.request_id,
                ) from failure
            if head.id != current.head:
                if replanned:
                    raise SyncConflictError(
                        f"gitlab {self.project}: branch {current.branch!r} moved again while "
                        f"syncing (planned on {plan.head[:12]}, re-planned on "
                        f"{current.head[:12]}, now at {head.id[:12]}); not committing over it: "
                        "plan and sync again",
                        provider="gitlab",
                    )
                previous, failure = current, None
                current, replanned = self._plan_at(files, plan.branch, head.id), True
                if not current.changed:
                    # Our own commit, when the answer to it was lost: report it, once.
                    ours = head.parent_ids == (previous.head,) and (
                        head.message.strip() == message.strip()
                    )
                    return SyncResult(
                        current,
                        head.id if ours else None,
                        current.branch,
                        url=head.web_url if ours else None,
                        replanned=True,
                    )
                continue
            try:
                commit = self._commit(
                    {
                        "branch": current.branch,
                        "commit_message": message,
                        "actions": [self._action(c, current.head) for c in current.changed],
                    },
                    f'commit to branch "{current.branch}"',
                    repeat=True,
                )
            except ProviderError as exc:
                if not _maybe_moved(exc):
                    raise
                failure = exc
                continue
            return SyncResult(current, commit.id, current.branch, commit.web_url, None, replanned)

    def _sync_merge_request(self, plan: Plan, message: str) -> SyncResult:
        branch = f"{_SYNC_BRANCH_PREFIX}{plan.head[:8]}"
        try:
            commit = self._commit(
                {
                    "branch": branch,
                    "start_sha": plan.head,
                    "commit_message": message,
                    "actions": [self._action(c, None) for c in plan.changed],
                },
                f'commit to new branch "{branch}"',
                repeat=False,
            )
        except ProviderError as exc:
            if exc.status_code is not None and exc.status_code < 500:
                raise
            # The answer was lost: the branch exists only if the commit landed.
            commit = self._landed(branch, plan.head, exc)
        title = message.strip().splitlines()[0] if message.strip() else "Sync generated CI files"
        description = "\n".join(f"- {c.action} `{c.path}`" for c in plan.changed)
        with self._translating(f'open a merge request from "{branch}" to "{plan.branch}"'):
            request = self._remote.mergerequests.create(
                {
                    "source_branch": branch,
                    "target_branch": plan.branch,
                    "title": title,
                    "description": f"Generated files, planned on {plan.head}:\n\n{description}\n",
                    "remove_source_branch": True,
                }
            )
        return SyncResult(plan, commit.id, branch, commit.web_url, str(request.web_url))

    def _landed(self, branch: str, start: str, failure: ProviderError) -> _Head:
        try:
            head = self._head(branch)
        except ProviderError as exc:
            if exc.status_code == 404:
                raise failure from None
            raise
        if head.parent_ids != (start,):
            raise failure
        return head

    def _action(self, change: FileChange, head: str | None) -> dict[str, str]:
        action = {"action": change.action, "file_path": change.path, "content": change.content}
        if change.action == "update" and head is not None:
            action["last_commit_id"] = self._last_commit(head, change.path)
        return action

    def _commit(self, data: dict[str, Any], doing: str, *, repeat: bool) -> _Head:
        with self._translating(doing), repeatable() if repeat else nullcontext():
            made = self._remote.commits.create(data)
        return _Head(
            id=str(made.id),
            parent_ids=tuple(str(p) for p in made.parent_ids or ()),
            message=str(made.message),
            web_url=made.web_url,
        )

    # -- runs ------------------------------------------------------------------------------

    def trigger(
        self,
        *,
        ref: str | None = None,
        inputs: Mapping[str, str] | None = None,
        workflow: str | None = None,
    ) -> RemoteRun:
        """Start a pipeline on ``ref`` (default: the default branch) with ``inputs`` as
        pipeline variables, and return it as created (no jobs yet).

        ``workflow`` is ignored: a GitLab project has one pipeline definition
        (``.gitlab-ci.yml``), there is nothing to choose.

        Raises:
            ProviderError: the ref does not exist, the variables are refused (a project may
                forbid pipeline variables to the token's role), or a request failed.
        """
        del workflow  # one pipeline definition per project on GitLab
        name = ref or self._default_branch()
        data: dict[str, Any] = {"ref": name}
        if inputs:
            data["variables"] = [{"key": key, "value": value} for key, value in inputs.items()]
        with self._translating(f'start a pipeline on "{name}"'):
            created = self._remote.pipelines.create(data)
        pipeline = dict(created.attributes)
        run = self._run(pipeline)
        self._seen[run.provider_run_id] = _Seen(None, pipeline.get("updated_at"), run)
        return run

    def get_run(self, run_id: str, *, jobs: bool = True) -> RemoteRun:
        """The pipeline ``run_id`` now; with ``jobs`` every job of it, retried ones included.

        Raises:
            UsageError: ``run_id`` is not a pipeline id (a number).
            ProviderError: no such pipeline, or a request failed.
        """
        number = _pipeline_id(run_id)
        read = self._read_pipeline(number, None)
        if read is None:  # no ETag was sent: a 304 cannot be ours
            raise ProviderError(
                f"gitlab {self.project}: pipeline {number}: 304 to an unconditional read",
                provider="gitlab",
                status_code=304,
            )
        run = self._remember(number, *read)
        return replace(run, jobs=self._jobs(number)) if jobs else run

    def poll_run(self, run: RemoteRun) -> RemoteRun | None:
        """The pipeline again, with its jobs, if it or one of its jobs changed since ``run``
        was read; else None.

        The pipeline is read conditionally (``If-None-Match``, or a ``200`` whose
        ``updated_at`` and status are as before). GitLab does not promise to touch a running
        pipeline when one of its jobs changes (a second job starting), so while the pipeline
        is unfinished its jobs are read too and compared: two requests per poll at most while
        nothing changes, one once the pipeline has finished.
        """
        if run.provider != "gitlab" or run.target != self.project:
            raise ValueError(f"a run of {run.provider} {run.target} given to {self!r}")
        number = _pipeline_id(run.provider_run_id)
        bare = replace(run, jobs=())
        seen = self._seen.get(number)
        if seen is not None and seen.run != bare:
            seen = None  # we last read it in another state: compare with the run given
        read = self._read_pipeline(number, seen.etag if seen is not None else None)
        if read is None:  # 304: the ETag of ``run``'s own read still matches
            fresh, moved = bare, False
        else:
            pipeline, _ = read
            fresh = self._remember(number, *read)
            moved = fresh != bare or (
                seen is not None and pipeline.get("updated_at") != seen.updated_at
            )
        if not moved and fresh.finished:
            return None
        jobs = self._jobs(number)
        if not moved and jobs == run.jobs:
            return None
        return replace(fresh, jobs=jobs)

    def list_runs(self, *, since: datetime | None = None) -> Iterator[RemoteRun]:
        """Pipelines updated at or after ``since`` (naive: UTC), most recently updated first,
        every page, without jobs; pages are read as the iterator is consumed.

        Offset pages of a list ordered by ``updated_at`` can shift while they are read: a
        pipeline seen twice is yielded once, and one that moved to the front meanwhile is left
        to the next listing (its newer ``updated_at`` puts it there).
        """
        query: dict[str, Any] = {"order_by": "updated_at", "sort": "desc", "per_page": _PAGE}
        floor: datetime | None = None
        if since is not None:
            floor = since if since.tzinfo is not None else since.replace(tzinfo=UTC)
            # GitLab's filter is strict (updated_at > value) and its answers show milliseconds
            # of a microsecond clock: ask from a second earlier and keep ``>= since`` here.
            query["updated_after"] = _iso(floor - timedelta(seconds=1))
        yielded: set[str] = set()
        with self._translating("list pipelines"):
            pages = self._client.http_list(self._remote.pipelines.path, query, iterator=True)
            for pipeline in pages:
                run = self._run(pipeline)
                updated = api_time(pipeline.get("updated_at"))
                if floor is not None and updated is not None and updated < floor:
                    continue
                if run.provider_run_id in yielded:
                    continue
                yielded.add(run.provider_run_id)
                yield run

    def cancel(self, run_id: str) -> None:
        """Ask GitLab to cancel the pipeline (its jobs go through ``canceling``).

        Raises:
            UsageError: ``run_id`` is not a pipeline id.
            ProviderError: no such pipeline, not allowed, or a request failed.
        """
        number = _pipeline_id(run_id)
        # Repeatable: a second cancel of a pipeline that was cancelled changes nothing.
        with self._translating(f"cancel pipeline {number}"), repeatable():
            self._remote.pipelines.get(number, lazy=True).cancel()

    def logs(self, run_id: str, *, job: str | None = None) -> str:
        """The log of one job of the pipeline (by id, or by name: its last attempt), or of
        every job, retried ones included, in the order GitLab created them, each after a
        ``== name ==`` line (``== name (attempt n) ==`` for a retry), as the GitHub backend
        writes them. A job that is queued or skipped has no log yet: it is not asked for.

        Raises:
            UsageError: ``run_id`` is not a pipeline id, or the pipeline has no such job.
            ProviderError: a request failed.
        """
        number = _pipeline_id(run_id)
        jobs = self._jobs(number)
        if job is None:
            return "".join(f"{_log_header(j)}\n{_ends_line(self._log(j))}" for j in jobs)
        chosen = [j for j in jobs if j.provider_job_id == job] or [
            j for j in jobs if j.name == job
        ][-1:]
        if not chosen:
            names = ", ".join(sorted({f'"{j.name}"' for j in jobs})) or "none"
            raise UsageError(
                f'gitlab {self.project}: pipeline {number} has no job "{job}" (jobs: {names})'
            )
        return self._log(chosen[0])

    def _read_pipeline(
        self, number: str, etag: str | None
    ) -> tuple[dict[str, Any], str | None] | None:
        """The pipeline and its ETag; None when ``etag`` still matches (304)."""
        headers = {"If-None-Match": etag} if etag else None
        with self._translating(f"read pipeline {number}"):
            try:
                response = self._client.http_request(
                    "get", f"{self._remote.pipelines.path}/{number}", extra_headers=headers
                )
            except gitlab_api.GitlabHttpError as exc:
                if etag and exc.response_code == 304:
                    return None
                raise
            pipeline = response.json()
        if not isinstance(pipeline, dict):
            raise ProviderError(
                f"gitlab {self.project}: pipeline {number} came back as something else than "
                f"a pipeline ({self.url})",
                provider="gitlab",
            )
        return pipeline, response.headers.get("ETag")

    def _remember(self, number: str, pipeline: dict[str, Any], etag: str | None) -> RemoteRun:
        run = self._run(pipeline)
        self._seen[number] = _Seen(etag, pipeline.get("updated_at"), run)
        return run

    def _jobs(self, number: str) -> tuple[RemoteJob, ...]:
        """Every job of the pipeline, retried ones included, oldest first."""
        path = f"{self._remote.pipelines.path}/{number}/jobs"
        # GitLab has no keyset pagination for jobs: offset pages, followed by ``Link: next``.
        query = {"per_page": _PAGE, "include_retried": "true"}
        with self._translating(f"list the jobs of pipeline {number}"):
            found = list(self._client.http_list(path, query, iterator=True))
        found.sort(key=lambda job: int(job["id"]))
        attempts: dict[str, int] = {}
        jobs = []
        for job in found:
            name = str(job.get("name") or "")
            attempts[name] = attempts.get(name, 0) + 1
            jobs.append(_job(job, attempts[name]))
        return tuple(jobs)

    def _log(self, job: RemoteJob) -> str:
        if job.status in ("queued", "skipped"):
            return f"(no log: the job is {job.status})\n"
        with self._translating(f'read the log of job "{job.name}" ({job.provider_job_id})'):
            text = self._remote.jobs.get(job.provider_job_id, lazy=True).trace()
        return text.decode("utf-8", errors="replace")

    def _run(self, pipeline: Mapping[str, Any]) -> RemoteRun:
        source = pipeline.get("source")
        return RemoteRun(
            provider="gitlab",
            target=self.project,
            provider_run_id=str(pipeline["id"]),
            pipeline=self.project,
            status=_status(pipeline.get("status")),
            event=_EVENTS.get(source, source) if isinstance(source, str) else None,
            ref=pipeline.get("ref"),
            sha=pipeline.get("sha"),
            created_at=api_time(pipeline.get("created_at")),
            started_at=api_time(pipeline.get("started_at")),
            finished_at=api_time(pipeline.get("finished_at")),
            url=pipeline.get("web_url"),
        )

    # -- errors ----------------------------------------------------------------------------

    @contextmanager
    def _translating(self, doing: str) -> Iterator[None]:
        """What python-gitlab or requests raised, as a one-line ``ProviderError`` in context."""
        try:
            yield
        except (gitlab_api.GitlabError, requests.RequestException) as exc:
            error = translate_error("gitlab", exc)
            detail = str(error).removeprefix("gitlab: ")
            if error.status_code == 401:
                detail += " (check GITLAB_TOKEN or the [gitlab] token of the config file)"
            text = f"gitlab {self.project}: cannot {doing}: {detail} ({self.url})"
            if isinstance(error, RateLimitError):
                raise RateLimitError(
                    text,
                    provider="gitlab",
                    status_code=error.status_code,
                    request_id=error.request_id,
                    retry_after=error.retry_after,
                ) from exc
            raise ProviderError(
                text, provider="gitlab", status_code=error.status_code, request_id=error.request_id
            ) from exc


def _maybe_moved(exc: ProviderError) -> bool:
    """Whether a failed commit may mean a moved branch or a commit whose answer was lost.

    400 is GitLab refusing a stale action (``last_commit_id`` or an existing file); no status
    (connection error, timeout) and 5xx may have reached the server.
    """
    if isinstance(exc, RateLimitError):
        return False
    return exc.status_code is None or exc.status_code == 400 or exc.status_code >= 500


def _pipeline_id(run_id: str) -> str:
    text = str(run_id).strip()
    if not text.isdigit():
        raise UsageError(f"a GitLab pipeline id is a number, not {run_id!r}")
    return text


def _status(value: object) -> RunStatus:
    return _STATUSES.get(value, "running") if isinstance(value, str) else "running"


def _job(job: Mapping[str, Any], attempt: int) -> RemoteJob:
    started = api_time(job.get("started_at"))
    waited = job.get("queued_duration")
    queued: datetime | None
    if started is not None and isinstance(waited, int | float):
        queued = started - timedelta(seconds=waited)
    else:
        queued = api_time(job.get("created_at"))
    return RemoteJob(
        provider_job_id=str(job["id"]),
        name=str(job.get("name") or ""),
        status=_status(job.get("status")),
        attempt=attempt,
        allowed_failure=bool(job.get("allow_failure")),
        queued_at=queued,
        started_at=started,
        finished_at=api_time(job.get("finished_at")),
        url=job.get("web_url"),
    )


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _log_header(job: RemoteJob) -> str:
    return f"== {job.name} ==" if job.attempt == 1 else f"== {job.name} (attempt {job.attempt}) =="


def _ends_line(text: str) -> str:
    return text if not text or text.endswith("\n") else text + "\n"
