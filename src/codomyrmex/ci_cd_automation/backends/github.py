"""Plan, sync and runs on one GitHub repository, through PyGithub.

This module owns every GitHub REST call of the ``Backend`` and ``RunBackend`` protocols, and
turns PyGithub and ``requests`` errors into ``ProviderError`` in one place (``_api``). Only the
``force: false`` ref update moves a branch; the tree and commit POSTs are repeatable, the
dispatch never is. Repository and ref objects are built unfetched, so request counts do not
depend on the client's laziness. See docs/sync-and-polling.md.
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import json
import posixpath
import re
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import github
import requests
from github.GitCommit import GitCommit
from github.GithubException import GithubException
from github.GitRef import GitRef
from github.InputGitTreeElement import InputGitTreeElement
from github.Repository import Repository

from ..errors import ProviderError, RateLimitError, SyncConflictError, UsageError
from ..literals import Provider, RunStatus
from . import transport
from .base import Plan, RemoteJob, RemoteRun, SyncResult, api_time, compare
from .credentials import Credentials

_FILE_MODE = "100644"
_KINDS = {"tree": "directory", "commit": "submodule"}  # git object type -> what a user calls it
_REPO_NAME = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")
# path -> (git object type, sha) as a tree lists them
_Entries = dict[str, tuple[str, str]]

_PER_PAGE = 100  # the most GitHub gives per page
_KEPT_RUNS = 256  # runs whose last ETag and state the backend remembers
_FIND_LISTINGS = 10  # listings after a dispatch without run details, before giving up
_FIND_WAIT_MAX = 10.0  # seconds between two of them: 1, 2, 4, 8, then 10
_DISPATCH_SKEW = timedelta(seconds=10)  # created_at may precede the dispatch answer's Date
_QUEUED = frozenset({"queued", "requested", "pending"})
_CONCLUSIONS: dict[str, RunStatus] = {
    "success": "success",
    "neutral": "success",
    "failure": "failed",
    "timed_out": "failed",
    "startup_failure": "failed",
    "action_required": "failed",
    "cancelled": "cancelled",
    "stale": "cancelled",
    "skipped": "skipped",
}
_EVENTS = {"workflow_dispatch": "manual"}  # GitHub's event words that the model names otherwise


@dataclass(frozen=True)
class _RunState:
    """What the backend last read of one run: the answer's ETag, ``updated_at``, the run."""

    etag: str | None
    updated_at: str | None
    run: RemoteRun  # without jobs
    jobs: tuple[RemoteJob, ...] | None  # None: not read with that answer


class GitHubBackend:
    """Plan and sync generated files on ``repo`` (``owner/name``)."""

    provider: Provider = "github"

    def __init__(
        self,
        repo: str,
        credentials: Credentials,
        *,
        client: github.Github | None = None,
        policy: transport.Policy | None = None,
    ) -> None:
        if not _REPO_NAME.fullmatch(repo):
            raise ValueError(f'github repository must be "owner/name", got "{repo}"')
        self.repo = repo
        self.url = credentials.url
        #: requests sent so far and left (None with an injected client)
        self.budget: transport.RequestBudget | None = None
        if client is None:
            client, self.budget = transport.github_client(credentials, policy)
        self._gh = client
        self._policy = policy or transport.Policy()
        # Built unfetched whatever the client's laziness: it is only read for default_branch.
        self._repository = Repository(client.requester, url=f"/repos/{repo}", completed=False)
        self._runs: OrderedDict[str, _RunState] = OrderedDict()
        self._claimed: set[str] = set()  # run ids returned by trigger
        # Signed log URLs are not GitHub's API: no token, no netrc; the same policy and budget.
        self._downloads = transport.download_session(
            "github",
            self._policy,
            self.budget or transport.RequestBudget(self._policy.budget),
            scrub=credentials.token,
        )

    def __repr__(self) -> str:
        return f"GitHubBackend({self.repo!r} at {self.url!r})"

    def plan(self, files: Mapping[str, str], *, branch: str | None = None) -> Plan:
        """Compare ``files`` (path -> text) with ``branch`` (default: the default branch)."""
        repo = self._repo()
        if branch is None:
            with self._api("read the repository"):
                branch = repo.default_branch
        with self._api(f'read branch "{branch}"'):
            head = repo.get_branch(branch).commit
            head_sha, tree_sha = head.sha, head.commit.tree.sha
        remote = self._remote(repo, tree_sha, files)
        return compare("github", self.repo, branch, head_sha, files, remote)

    def sync(self, plan: Plan, *, message: str, pull_request: bool = False) -> SyncResult:
        """Apply ``plan`` as one commit on its branch, or on a new branch with a pull request.

        Raises:
            SyncConflictError: the branch moved after the plan, and again after a second plan.
            ProviderError: GitHub refused or could not be reached; docs/sync-and-polling.md says
                what is left behind in each case (never a moved branch without the commit).
        """
        if (plan.provider, plan.target) != ("github", self.repo):
            raise ValueError(f"plan is for {plan.provider} {plan.target}, not github {self.repo}")
        if not plan.changed:
            return SyncResult(plan, None, plan.branch)
        repo = self._repo()
        if pull_request:
            return self._sync_pull_request(repo, plan, message)
        commit = self._commit(repo, plan, message)
        refusal = self._advance(repo, plan.branch, commit.sha)
        if refusal is None:
            return SyncResult(plan, commit.sha, plan.branch, url=commit.html_url)
        again = self.plan({c.path: c.content for c in plan.changes}, branch=plan.branch)
        if again.head == plan.head:
            raise self._error(f'update branch "{plan.branch}"', refusal)
        if not again.changed:
            return SyncResult(again, None, plan.branch, replanned=True)
        commit = self._commit(repo, again, message)
        if self._advance(repo, again.branch, commit.sha) is None:
            return SyncResult(again, commit.sha, plan.branch, url=commit.html_url, replanned=True)
        raise SyncConflictError(
            f'github {self.repo}: branch "{plan.branch}" moved twice while syncing '
            f"(planned on {plan.head[:12]}, then {again.head[:12]}); nothing was committed, "
            "run the sync again",
            provider="github",
            status_code=422,
        )

    # reading

    def _repo(self) -> Repository:
        return self._repository

    def _remote(
        self, repo: Repository, tree_sha: str, files: Mapping[str, str]
    ) -> dict[str, str | None]:
        entries = self._entries(repo, tree_sha, files)
        remote: dict[str, str | None] = {}
        for path, content in files.items():
            entry = entries.get(path)
            if entry is None:
                remote[path] = None
                continue
            kind, sha = entry
            if kind != "blob":
                raise ProviderError(
                    f'github {self.repo}: "{path}" is a {_KINDS.get(kind, kind)} on the '
                    "branch; a generated file cannot replace it",
                    provider="github",
                )
            remote[path] = content if sha == blob_sha(content) else self._blob(repo, path, sha)
        return remote

    def _entries(self, repo: Repository, tree_sha: str, files: Mapping[str, str]) -> _Entries:
        with self._api("read the file tree"):
            tree = repo.get_git_tree(tree_sha, recursive=True)
            if not tree.truncated:
                return {e.path: (e.type, e.sha) for e in tree.tree}
        # Too large to list at once: walk only the directories leading to the generated files.
        listings: dict[str, _Entries | None] = {}
        entries: _Entries = {}
        for path in files:
            listing = self._listing(repo, tree_sha, posixpath.dirname(path), listings)
            entry = listing.get(posixpath.basename(path)) if listing else None
            if entry is not None:
                entries[path] = entry
        return entries

    def _listing(
        self,
        repo: Repository,
        root: str,
        directory: str,
        listings: dict[str, _Entries | None],
    ) -> _Entries | None:
        """The entries of ``directory`` (None: no such directory), one request per directory."""
        if directory in listings:
            return listings[directory]
        sha: str | None = root
        if directory:
            parent = self._listing(repo, root, posixpath.dirname(directory), listings)
            entry = parent.get(posixpath.basename(directory)) if parent else None
            sha = entry[1] if entry is not None and entry[0] == "tree" else None
        listing = None
        if sha is not None:
            with self._api(f'read directory "{directory or "/"}"'):
                listing = {e.path: (e.type, e.sha) for e in repo.get_git_tree(sha).tree}
        listings[directory] = listing
        return listing

    def _blob(self, repo: Repository, path: str, sha: str) -> str:
        with self._api(f'read "{path}"'):
            blob = repo.get_git_blob(sha)
            content, encoding = blob.content, blob.encoding
        data = base64.b64decode(content) if encoding == "base64" else content.encode("utf-8")
        # Only shown in a diff: the sha already says the file differs.
        return data.decode("utf-8", errors="replace")

    # writing

    def _commit(self, repo: Repository, plan: Plan, message: str) -> GitCommit:
        """One commit with the changed files of ``plan`` on top of ``plan.head``; no ref moves."""
        with self._api(f"read commit {plan.head[:12]}"):
            parent = repo.get_git_commit(plan.head)
        elements = [
            InputGitTreeElement(c.path, _FILE_MODE, "blob", content=c.content) for c in plan.changed
        ]
        # Trees and commits are new unreferenced objects: sending one twice after a lost answer
        # leaves at most an unreachable duplicate, so the transport may repeat these POSTs.
        with self._api("create the tree"), transport.repeatable():
            tree = repo.create_git_tree(elements, base_tree=parent.tree)
        with self._api("create the commit"), transport.repeatable():
            return repo.create_git_commit(message, tree, [parent])

    def _advance(self, repo: Repository, branch: str, sha: str) -> GithubException | None:
        """Fast-forward ``branch`` to ``sha``; the 422 refusal when it is not one."""
        with self._api(
            f'update branch "{branch}"',
            unsure="the branch may or may not have moved; plan again to see",
        ):
            # Built unfetched, at the documented PATCH address (``get_git_ref`` would fetch it
            # first on a non-lazy client, and aims at ``git/ref/``).
            url = f"{repo.url}/git/refs/heads/{quote(branch)}"
            ref = GitRef(repo.requester, url=url, completed=False)
            try:
                ref.edit(sha, force=False)
            except GithubException as exc:
                if exc.status == 422:
                    return exc
                raise
        return None

    def _sync_pull_request(self, repo: Repository, plan: Plan, message: str) -> SyncResult:
        name = f"cicd/sync-{plan.head[:8]}"
        commit = self._commit(repo, plan, message)
        with self._api(f'create branch "{name}" (left by an earlier sync from the same head?)'):
            repo.create_git_ref(f"refs/heads/{name}", commit.sha)
        title, _, rest = message.strip().partition("\n")
        lines = [f"  {c.action:<9} {c.path}" for c in plan.changes]
        body = (
            (rest.strip() + "\n\n" if rest.strip() else "")
            + f"Generated by `cicd sync` against `{plan.branch}` at {plan.head}:\n\n"
            + "```\n"
            + "\n".join(lines)
            + "\n```\n"
        )
        with self._api(f'open a pull request from "{name}" to "{plan.branch}"'):
            pull = repo.create_pull(base=plan.branch, head=name, title=title, body=body)
        return SyncResult(
            plan, commit.sha, name, url=commit.html_url, pull_request_url=pull.html_url
        )

    # runs

    def trigger(
        self,
        *,
        ref: str | None = None,
        inputs: Mapping[str, str] | None = None,
        workflow: str | None = None,
    ) -> RemoteRun:
        """Dispatch ``workflow`` (a file name, e.g. ``ci.yml``) on ``ref`` (default: the default
        branch) with ``inputs``; the run as soon as GitHub lists it, without jobs.

        Raises:
            ValueError: no workflow given.
            ProviderError: GitHub refused the dispatch (the workflow has no
                ``workflow_dispatch`` trigger, an unknown input...), or no run appeared.
        """
        if not workflow:
            raise ValueError(
                "github: trigger needs the workflow file, .github/workflows/<pipeline>.yml"
            )
        name = posixpath.basename(workflow)
        if ref is None:
            with self._api("read the repository"):
                ref = self._repo().default_branch
        url = f"/repos/{self.repo}/actions/workflows/{quote(name)}"
        body: dict[str, Any] = {"ref": ref, "inputs": dict(inputs or {})}
        with self._api(f'dispatch "{name}" on "{ref}"'):
            status, headers, data = self._send(
                "POST", f"{url}/dispatches", body={**body, "return_run_details": True}
            )
            if status in (400, 422) and "return_run_details" in json.dumps(data):
                # A server older than the run details (GitHub Enterprise) refuses the field.
                status, headers, data = self._send("POST", f"{url}/dispatches", body=body)
            self._check(status, headers, data)
        if isinstance(data, dict) and data.get("workflow_run_id") is not None:
            run = self.get_run(str(data["workflow_run_id"]), jobs=False)
        else:
            run = self._find_dispatched(url, name, ref, _server_time(headers, self._policy))
        self._claimed.add(run.provider_run_id)
        return run

    def get_run(self, run_id: str, *, jobs: bool = True) -> RemoteRun:
        """The workflow run now; with ``jobs`` its latest attempt's jobs, every page."""
        with self._api(f"read run {run_id}"):
            status, headers, data = self._send("GET", self._run_url(run_id))
            self._check(status, headers, data)
        run = self._to_run(data)
        found = self._jobs(run_id) if jobs else None
        self._remember(run_id, headers.get("etag"), data.get("updated_at"), run, found)
        return replace(run, jobs=found) if found is not None else run

    def poll_run(self, run: RemoteRun) -> RemoteRun | None:
        """``run`` again if it changed since it was read, else None (docs/sync-and-polling.md)."""
        run_id = run.provider_run_id
        state = self._runs.get(run_id)
        conditional = {"If-None-Match": state.etag} if state and state.etag else None
        with self._api(f"read run {run_id}"):
            status, headers, data = self._send("GET", self._run_url(run_id), headers=conditional)
            if status != 304:
                self._check(status, headers, data)
        bare = replace(run, jobs=())
        if status == 304 and state is None:
            return None  # not asked conditionally; nothing to compare with but the caller's copy
        if status == 304 and state is not None:
            self._runs.move_to_end(run_id)
            if state.run == bare:
                return None
            # The caller holds an older copy than the one this answer confirms.
            jobs = state.jobs if state.jobs is not None else self._jobs(run_id)
            self._remember(run_id, state.etag, state.updated_at, state.run, jobs)
            return replace(state.run, jobs=jobs)
        now = self._to_run(data)
        updated = data.get("updated_at")
        moved = state is None or updated != state.updated_at
        if now == bare and (now.finished or not moved):
            self._remember(run_id, headers.get("etag"), updated, now, state.jobs if state else None)
            return None
        jobs = self._jobs(run_id)
        self._remember(run_id, headers.get("etag"), updated, now, jobs)
        return replace(now, jobs=jobs)

    def list_runs(self, *, since: datetime | None = None) -> Iterator[RemoteRun]:
        """Runs created at or after ``since`` (aware), newest first, without jobs; one page
        is read at a time, as the caller iterates."""
        params = {"per_page": str(_PER_PAGE), "exclude_pull_requests": "true"}
        if since is not None:
            params["created"] = f">={_iso(since)}"
        for item in self._pages(f"/repos/{self.repo}/actions/runs", params, "workflow_runs"):
            yield self._to_run(item)

    def cancel(self, run_id: str) -> None:
        """Ask GitHub to cancel the run (a finished run is refused with 409)."""
        with self._api(f"cancel run {run_id}"), transport.repeatable():
            status, headers, data = self._send("POST", f"{self._run_url(run_id)}/cancel")
            self._check(status, headers, data)

    def logs(self, run_id: str, *, job: str | None = None) -> str:
        """The log of one job (its id, digits only, or its name as GitHub shows it), or of every
        job in the order GitHub lists them, each after a ``== name ==`` line.

        Raises:
            UsageError: no job of that name in the run.
        """
        if job is not None and job.isdigit():
            return self._job_log(job)
        jobs = self._jobs(run_id)
        if job is not None:
            for candidate in jobs:
                if candidate.name == job:
                    return self._job_log(candidate.provider_job_id)
            names = ", ".join(f'"{j.name}"' for j in jobs) or "none"
            raise UsageError(f'github run {run_id} has no job "{job}" (jobs: {names})')
        parts = []
        for entry in jobs:
            if entry.status in ("queued", "skipped"):
                text = f"(no log: the job is {entry.status})\n"
            else:
                text = self._job_log(entry.provider_job_id)
            parts.append(f"== {entry.name} ==\n{text}{'' if text.endswith(chr(10)) else chr(10)}")
        return "".join(parts)

    # runs: reading

    def _run_url(self, run_id: str) -> str:
        if not run_id.isdigit():
            raise UsageError(f'github run id must be a number, got "{run_id}"')
        return f"/repos/{self.repo}/actions/runs/{run_id}"

    def _find_dispatched(self, url: str, name: str, ref: str, dispatched: datetime) -> RemoteRun:
        params = {
            "event": "workflow_dispatch",
            "branch": ref,
            "created": f">={_iso(dispatched - _DISPATCH_SKEW)}",
            "per_page": str(_PER_PAGE),
            "exclude_pull_requests": "true",
        }
        for attempt in range(_FIND_LISTINGS):
            if attempt:
                self._policy.sleep(min(2.0 ** (attempt - 1), _FIND_WAIT_MAX))
            with self._api(f'list the runs of "{name}"'):
                status, headers, data = self._send("GET", f"{url}/runs", params=params)
                self._check(status, headers, data)
            candidates = [
                item
                for item in data.get("workflow_runs", [])
                if str(item.get("id")) not in self._claimed
                and item.get("event") == "workflow_dispatch"
                and item.get("head_branch") == ref
            ]
            if candidates:
                # Newest first: the last one is the closest after the dispatch.
                return self._to_run(candidates[-1])
        raise ProviderError(
            f'github {self.repo}: dispatched "{name}" on "{ref}", but no run of it appeared '
            f"after {_FIND_LISTINGS} listings; see the repository's Actions tab",
            provider="github",
        )

    def _jobs(self, run_id: str) -> tuple[RemoteJob, ...]:
        params = {"filter": "latest", "per_page": str(_PER_PAGE)}
        items = self._pages(f"{self._run_url(run_id)}/jobs", params, "jobs")
        return tuple(_to_job(item) for item in items)

    def _pages(self, url: str, params: dict[str, str] | None, key: str) -> Iterator[Any]:
        """The ``key`` items of every page, following ``Link: rel="next"``."""
        next_url: str | None = url
        page = 0
        while next_url is not None:
            page += 1
            with self._api(f"read {url.rpartition('/')[2]} (page {page})"):
                status, headers, data = self._send("GET", next_url, params=params)
                self._check(status, headers, data)
            yield from data.get(key, [])
            next_url, params = _next_link(headers.get("link")), None

    def _job_log(self, job_id: str) -> str:
        with self._api(f"read the log of job {job_id}"):
            status, headers, data = self._send(
                "GET", f"/repos/{self.repo}/actions/jobs/{job_id}/logs", raw=True
            )
            if status == 200:
                return str(data)  # a server that answers with the text itself
            if status != 302 or not headers.get("location"):
                self._check(status, headers, data if status >= 400 else {"message": "no log"})
                raise ProviderError(
                    f"github {self.repo}: job {job_id}: no log address in the answer ({status})",
                    provider="github",
                    status_code=status,
                )
            response = self._downloads.get(headers["location"], timeout=transport.TIMEOUT)
            response.raise_for_status()
        return response.content.decode("utf-8", errors="replace").removeprefix("\ufeff")

    def _send(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        raw: bool = False,
    ) -> tuple[int, dict[str, Any], Any]:
        """One request through the client's requester: status, headers (lower case), JSON."""
        status, answered, text = self._gh.requester.requestJson(
            method,
            url,
            parameters=dict(params) if params else None,
            headers=dict(headers) if headers else None,
            input=body,
        )
        if raw and status < 300:
            return status, answered, text
        try:
            data = json.loads(text) if text else None
        except ValueError:
            data = {"message": text[:200]}
        return status, answered, data

    def _check(self, status: int, headers: dict[str, Any], data: Any) -> None:
        if status >= 400:
            output = data if isinstance(data, dict) else {"message": str(data or "")}
            raise self._gh.requester.createException(status, headers, output)

    def _remember(
        self,
        run_id: str,
        etag: str | None,
        updated_at: str | None,
        run: RemoteRun,
        jobs: tuple[RemoteJob, ...] | None,
    ) -> None:
        self._runs[run_id] = _RunState(etag, updated_at, replace(run, jobs=()), jobs)
        self._runs.move_to_end(run_id)
        while len(self._runs) > _KEPT_RUNS:
            self._runs.popitem(last=False)

    def _to_run(self, data: Mapping[str, Any]) -> RemoteRun:
        status = normalise_status(data.get("status"), data.get("conclusion"))
        event = data.get("event")
        return RemoteRun(
            provider="github",
            target=self.repo,
            provider_run_id=str(data["id"]),
            pipeline=str(data.get("name") or data.get("path") or ""),
            status=status,
            event=_EVENTS.get(event, event) if isinstance(event, str) else None,
            ref=data.get("head_branch"),
            sha=data.get("head_sha"),
            attempt=int(data.get("run_attempt") or 1),
            created_at=api_time(data.get("created_at")),
            started_at=api_time(data.get("run_started_at")),
            # A run has no completed_at: its last update is when it finished.
            finished_at=api_time(data.get("updated_at"))
            if data.get("status") == "completed"
            else None,
            url=data.get("html_url"),
        )

    # errors

    @contextmanager
    def _api(self, doing: str, *, unsure: str | None = None) -> Iterator[None]:
        """Translate every PyGithub and ``requests`` error raised inside into ``ProviderError``."""
        try:
            yield
        except (GithubException, requests.RequestException) as exc:
            note = unsure if unsure and isinstance(exc, requests.RequestException) else None
            raise self._error(doing, exc, note) from exc

    def _error(self, doing: str, exc: Exception, note: str | None = None) -> ProviderError:
        """``transport.translate_error``, with the repository and the step in the message."""
        error = transport.translate_error("github", exc)
        said = str(error).removeprefix("github: ")
        text = f"github {self.repo}: {doing}: {said}" + (f"; {note}" if note else "")
        if isinstance(error, RateLimitError):
            return RateLimitError(
                text,
                provider="github",
                status_code=error.status_code,
                request_id=error.request_id,
                retry_after=error.retry_after,
            )
        return ProviderError(
            text, provider="github", status_code=error.status_code, request_id=error.request_id
        )


def blob_sha(text: str) -> str:
    """The git blob id of ``text`` stored as UTF-8: what a tree lists for that file."""
    data = text.encode("utf-8")
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


def normalise_status(status: str | None, conclusion: str | None, *, job: bool = False) -> RunStatus:
    """A GitHub run's (or, with ``job``, a job's) status and conclusion as a ``RunStatus``;
    the table is in docs/sync-and-polling.md."""
    if status == "completed":
        return _CONCLUSIONS.get(conclusion or "", "failed")
    if status in _QUEUED or (status == "waiting" and job):
        return "queued"
    return "running"


def _to_job(data: Mapping[str, Any]) -> RemoteJob:
    return RemoteJob(
        provider_job_id=str(data["id"]),
        name=str(data.get("name") or ""),
        status=normalise_status(data.get("status"), data.get("conclusion"), job=True),
        attempt=int(data.get("run_attempt") or 1),
        queued_at=api_time(data.get("created_at")),
        started_at=api_time(data.get("started_at")),
        finished_at=api_time(data.get("completed_at")),
        url=data.get("html_url"),
    )


def _iso(when: datetime) -> str:
    if when.tzinfo is None:
        raise ValueError(f"github: a time filter must carry its time zone, got {when.isoformat()}")
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _server_time(headers: Mapping[str, Any], policy: transport.Policy) -> datetime:
    """When GitHub answered (its ``Date``), or our clock when it did not say."""
    try:
        return email.utils.parsedate_to_datetime(str(headers["date"])).astimezone(UTC)
    except (KeyError, TypeError, ValueError):
        return datetime.fromtimestamp(policy.clock(), UTC)


def _next_link(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    for link in requests.utils.parse_header_links(value):
        if link.get("rel") == "next" and link.get("url"):
            return link["url"]
    return None


def _no_auth(request: requests.PreparedRequest) -> requests.PreparedRequest:
    return request
