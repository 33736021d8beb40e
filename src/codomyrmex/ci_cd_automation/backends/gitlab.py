"""Plan and sync of generated files on a GitLab project, through python-gitlab.

This module owns every GitLab REST call of plan and sync, and the translation of
python-gitlab and ``requests`` errors into ``ProviderError`` (one place: ``_translating``);
nothing from python-gitlab leaves it.

Plan: the default branch from the project (``GET /projects/:id``, skipped when a branch is
given), the head from the branch (``GET /projects/:id/repository/branches/:branch``), then each
generated path from the repository files API at exactly that commit (``ref=<commit id>``, so a
push during the reads cannot mix two states; 404 means missing). The files API also answers
each file's ``last_commit_id`` (the last commit that changed it as of the head); the backend
keeps it, keyed by head and path, for the sync.

Sync, and why it cannot overwrite a commit made after ``Plan.head``. GitLab's commits API
(``POST /projects/:id/repository/commits`` with ``actions``) makes one commit for all files
but has no "parent must be X" field, and the obvious stand-ins fail: ``start_sha`` on an
existing branch is refused ("A branch called ... already exists") unless ``force``, and
``force`` *replaces* the branch, dropping whatever was pushed meanwhile; a temporary branch
merged back by a merge request is not a fast-forward unless the project's merge method says
so, and drags pipelines and approvals in. So the sync commits on top of the branch and makes
GitLab itself refuse to apply a stale plan:

* the branch head is read right before the commit; if it is not ``Plan.head`` the branch
  moved, and the files are planned again once on the new head;
* every ``update`` action carries ``last_commit_id`` = the file's last commit as of the planned
  head. GitLab compares it with the last commit that touched the path on the branch and
  answers 400 ("The file has changed since you started editing it") when they differ;
* every ``create`` action is refused (400) when the file exists by then.

A commit that lands between the head check and the POST can therefore only have touched
other files: ours then sits on top of it (its parent is then not ``Plan.head``, the one
departure from ``base``'s rule that GitLab's API leaves open), and nothing of it is overwritten.

Lost answers. The same guards make the commit POST safe to repeat, so it is sent inside
``transport.repeatable()``: after a 5xx or a timeout the transport sends it again, and if the
first one had landed the repeat is refused (400) instead of committing twice. When a POST
finally fails with a 400, a 5xx or no answer, the head is read again: if it moved, the files
are planned again on it, which finds a landed commit's changes ``unchanged`` (no duplicate;
that head is reported as the sync's commit when its parent is the planned head and its
message ours) or commits what is still needed; a second move raises ``SyncConflictError``; a
failure with the branch unmoved raises the ``ProviderError``. So a sync decides to commit at
most twice, and reads the head at most four times.

With ``pull_request`` the commit goes on a new branch ``cicd/sync-<head[:8]>`` created by
the same call from exactly ``Plan.head`` (``start_sha``, so its parent is exactly the planned
head), and a merge request to the planned branch is opened; its web URL is returned. That POST
is not repeated (a repeat after a landed commit would only say the branch exists); when its
answer is lost, the new branch is read instead and used if its head's parent is ``Plan.head``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any

import gitlab as gitlab_api
import requests
from gitlab.v4.objects import Project

from ..errors import ProviderError, RateLimitError, SyncConflictError
from .base import FileChange, Plan, ProviderName, SyncResult, compare
from .credentials import Credentials
from .transport import Policy, RequestBudget, gitlab_client, repeatable, translate_error

_SYNC_BRANCH_PREFIX = "cicd/sync-"


@dataclass(frozen=True)
class _Head:
    """A branch's head commit, as the branches API shows it."""

    id: str
    parent_ids: tuple[str, ...]
    message: str
    web_url: str | None


class GitLabBackend:
    """Plan and sync of generated files on one GitLab project (``group/name``).

    Args:
        project: the project's full path, any depth of subgroups (``group/sub/name``).
        credentials: base URL (``https://gitlab.com`` or a self-managed instance) and token.
        client: a ready python-gitlab client (a caller sharing one); else one is made by
            ``transport.gitlab_client`` and its request count is ``budget``.
        policy: retries, rate-limit waits and request budget for the client made here.
    """

    provider: ProviderName = "gitlab"

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
