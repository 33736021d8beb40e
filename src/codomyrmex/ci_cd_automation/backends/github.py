"""Plan and sync of generated files on one GitHub repository, through PyGithub.

This module owns the GitHub half of ``base.Backend``: reading a branch's files at one commit
and writing generated files back as one commit that can never overwrite someone else's work.

Plan, in the fewest requests: ``GET /repos/{o}/{r}`` only when no branch is given (for
``default_branch``); ``GET /repos/{o}/{r}/branches/{b}``, whose ``commit`` carries both the
head sha and its root tree sha; one ``GET .../git/trees/{tree}?recursive=1`` listing every
path with its blob sha; then ``GET .../git/blobs/{sha}`` only for files that exist and differ.
A generated file's git blob sha is computed locally (``sha1("blob <len>\\0" + bytes)``), so
an unchanged file costs no request at all. Per-file contents requests (``ref=<sha>``) would
cost one request per file, unchanged ones included. GitHub truncates recursive listings past
100,000 entries or 7 MB; then the documented fallback is used: non-recursive trees, one per
directory on the way to the generated paths. Blobs and trees are addressed by sha, so every
read is exactly at ``Plan.head``.

Sync: ``GET .../git/commits/{head}`` (the parent and its tree, so any plan can be applied,
not only one made by this instance), ``POST .../git/trees`` with ``base_tree`` = the head's
tree and the changed files inline (``content``, mode 100644: no blob requests), ``POST
.../git/commits`` with ``parents = [head]``, then ``PATCH .../git/refs/heads/{b}`` with
``force: false``. Only that last request changes what anyone sees, and GitHub refuses it
(422) unless it is a fast-forward from the planned head: a commit made after the plan is
never overwritten. On a refusal the branch is planned again; if it did not move, the refusal
is reported as it is (a protected branch, say); if files still differ, one more commit is
made on the new head; a second refusal raises ``SyncConflictError``. The commits left behind
by refusals are unreachable objects, invisible and collected by GitHub.

Requests go through ``transport`` (retries, rate limits, budget). The tree and commit POSTs
are marked repeatable: a lost answer leaves at most an unreachable duplicate object. If they
still fail, the branch is untouched (a retried sync plans again and commits once). The ref
update (PATCH, repeated by the transport like any PATCH: setting a ref to the sha it already
holds is a no-op) is the one step whose failure may or may not have moved the branch; the
message says so, and the next plan shows it (files already there: nothing to commit).

With ``pull_request=True`` the commit (parent ``Plan.head``) gets a new branch
``cicd/sync-<head[:8]>`` created directly at it (``POST .../git/refs``: the branch never
exists without the commit) and a pull request to the planned branch.

Every PyGithub and ``requests`` error is translated once, in ``_api`` (through
``transport.translate_error``), into ``ProviderError`` naming the repository and the step;
tokens never appear in messages. The repository and ref objects are built unfetched, so the
request counts above hold whether or not the client is lazy.
"""

from __future__ import annotations

import base64
import hashlib
import posixpath
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from urllib.parse import quote

import github
import requests
from github.GitCommit import GitCommit
from github.GithubException import GithubException
from github.GitRef import GitRef
from github.InputGitTreeElement import InputGitTreeElement
from github.Repository import Repository

from ..errors import ProviderError, RateLimitError, SyncConflictError
from . import transport
from .base import Plan, ProviderName, SyncResult, compare
from .credentials import Credentials

_FILE_MODE = "100644"
_KINDS = {"tree": "directory", "commit": "submodule"}  # git object type -> what a user calls it
_REPO_NAME = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")
# path -> (git object type, sha) as a tree lists them
_Entries = dict[str, tuple[str, str]]


class GitHubBackend:
    """Plan and sync generated files on ``repo`` (``owner/name``)."""

    provider: ProviderName = "github"

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
        # Built unfetched whatever the client's laziness: it is only read for default_branch.
        self._repository = Repository(client.requester, url=f"/repos/{repo}", completed=False)

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
            ProviderError: GitHub refused or could not be reached; see the module note for
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
