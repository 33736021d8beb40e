"""GitHub plan and sync against recorded-shape payloads (fixtures/api/github/), no network.

Each test name or docstring gives the number of requests the scenario costs; every test
asserts that number, that every registered call fired, and the bodies of the writes.
"""

from __future__ import annotations

import copy
import json
import traceback
from pathlib import Path
from typing import Any

import pytest
import requests
import responses
from responses import matchers

from codomyrmex.ci_cd_automation.backends.base import Plan, compare
from codomyrmex.ci_cd_automation.backends.credentials import Credentials
from codomyrmex.ci_cd_automation.backends.github import GitHubBackend, blob_sha
from codomyrmex.ci_cd_automation.backends.transport import Policy
from codomyrmex.ci_cd_automation.errors import ProviderError, SyncConflictError

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "api" / "github"
API = "https://api.github.com"
REPO = f"{API}/repos/octo-org/octo-repo"
TOKEN = "ghp_N0tARealTokenButTreatedAsOne1234567"
HEAD = "6dcb09b5b57875f334f61aebed695e2e4193db5e"
TREE = "9fb037999f264ba9a7cd8274d15fa3ae2ab98312"
NEW = "7638417db6d59f3c431d3e1f261cc637155684cd"
HEAD2 = "e2b5c4d1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5"
TREE2 = "0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c"
NEW2 = "c0ffee5b57875f334f61aebed695e2e4193db5ee"
RELEASE_BLOB = "/git/blobs/" + blob_sha("name: release\non:\n  push:\n    tags: [v*]\n")

GENERATED = {
    ".github/workflows/ci.yml": "name: ci\non: push\n",
    ".github/workflows/release.yml": (
        "name: release\non:\n  push:\n    tags: [v*]\n  workflow_dispatch:\n"
    ),
    ".github/workflows/nightly.yml": "name: nightly\non:\n  schedule: [{cron: '0 3 * * *'}]\n",
}
NO_QUERY = matchers.query_param_matcher({})
RECURSIVE = matchers.query_param_matcher({"recursive": "1"})


def load(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def credentials(url: str = API) -> Credentials:
    return Credentials("github", url, TOKEN)


def backend(*, attempts: int = 3, waits: list[float] | None = None) -> GitHubBackend:
    """The backend on the project's transport, with a fake sleep: no test waits."""
    sleeps = waits if waits is not None else []
    policy = Policy(max_attempts=attempts, sleep=sleeps.append, jitter=lambda: 0.0)
    return GitHubBackend("octo-org/octo-repo", credentials(), policy=policy)


def mock() -> responses.RequestsMock:
    return responses.RequestsMock(assert_all_requests_are_fired=True)


def body(call: Any) -> Any:
    return json.loads(call.request.body)


def branch_at(head: str, tree: str) -> Any:
    payload = load("branch")
    payload["commit"]["sha"] = head
    payload["commit"]["commit"]["tree"]["sha"] = tree
    return payload


def tree_with(tree: str, files: dict[str, str]) -> Any:
    """The recursive listing of ``tree``: the fixture's files, then ``files`` over them."""
    payload = copy.deepcopy(load("tree_recursive"))
    payload["sha"] = tree
    entries = {e["path"]: e for e in payload["tree"]}
    for path, text in files.items():
        sha = blob_sha(text)
        entries[path] = {"path": path, "mode": "100644", "type": "blob", "sha": sha, "size": 1}
    payload["tree"] = list(entries.values())
    return payload


def add_reads(
    rsps: responses.RequestsMock,
    *,
    head: str = HEAD,
    tree: str = TREE,
    listing: Any = None,
    blob: bool = True,
) -> None:
    rsps.get(f"{REPO}/branches/main", json=branch_at(head, tree))
    rsps.get(f"{REPO}/git/trees/{tree}", json=listing or load("tree_recursive"), match=[RECURSIVE])
    if blob:
        rsps.get(REPO + RELEASE_BLOB, json=load("blob_release"))


def add_commit(
    rsps: responses.RequestsMock, *, head: str = HEAD, tree: str = TREE, new: str = NEW
) -> None:
    parent = load("git_commit")
    parent["sha"] = head
    parent["tree"]["sha"] = tree
    created = load("commit_created")
    created["sha"] = new
    created["html_url"] = f"https://github.com/octo-org/octo-repo/commit/{new}"
    rsps.get(f"{REPO}/git/commits/{head}", json=parent)
    rsps.post(f"{REPO}/git/trees", json=load("tree_created"), status=201)
    rsps.post(f"{REPO}/git/commits", json=created, status=201)


def planned(head: str = HEAD) -> Plan:
    remote = {
        ".github/workflows/ci.yml": GENERATED[".github/workflows/ci.yml"],
        ".github/workflows/release.yml": "name: release\non:\n  push:\n    tags: [v*]\n",
    }
    return compare("github", "octo-org/octo-repo", "main", head, GENERATED, remote)


def calls(rsps: responses.RequestsMock, method: str, suffix: str) -> list[Any]:
    return [c for c in rsps.calls if c.request.method == method and c.request.url.endswith(suffix)]


def assert_commit_bodies(rsps: responses.RequestsMock, *, tree: str, parent: str) -> None:
    (tree_call,) = calls(rsps, "POST", "/git/trees")[-1:]
    assert body(tree_call) == {
        "base_tree": tree,
        "tree": [
            {
                "path": ".github/workflows/nightly.yml",
                "mode": "100644",
                "type": "blob",
                "content": GENERATED[".github/workflows/nightly.yml"],
            },
            {
                "path": ".github/workflows/release.yml",
                "mode": "100644",
                "type": "blob",
                "content": GENERATED[".github/workflows/release.yml"],
            },
        ],
    }
    (commit_call,) = calls(rsps, "POST", "/git/commits")[-1:]
    assert body(commit_call) == {
        "message": "cicd: sync generated CI files",
        "tree": load("tree_created")["sha"],
        "parents": [parent],
    }


# plan


def test_plan_on_the_default_branch_create_update_unchanged_in_4_requests() -> None:
    """repo (default branch) + branch + recursive tree + 1 blob (only the file that differs)."""
    with mock() as rsps:
        rsps.get(REPO, json=load("repo"))
        add_reads(rsps)
        plan = backend().plan(GENERATED)
        assert len(rsps.calls) == 4
    assert (plan.provider, plan.target, plan.branch, plan.head) == (
        "github",
        "octo-org/octo-repo",
        "main",
        HEAD,
    )
    assert [(c.path, c.action) for c in plan.changes] == [
        (".github/workflows/ci.yml", "unchanged"),
        (".github/workflows/nightly.yml", "create"),
        (".github/workflows/release.yml", "update"),
    ]
    unchanged, create, update = plan.changes
    assert unchanged.diff == "" and unchanged.remote == unchanged.content
    assert create.remote is None and create.diff.startswith("--- /dev/null\n")
    assert update.diff.splitlines()[-1] == "+  workflow_dispatch:"
    assert update.remote == "name: release\non:\n  push:\n    tags: [v*]\n"


def test_plan_unchanged_files_cost_2_requests_and_sync_makes_none() -> None:
    files = {".github/workflows/ci.yml": GENERATED[".github/workflows/ci.yml"]}
    gh = backend()
    with mock() as rsps:
        add_reads(rsps, blob=False)
        plan = gh.plan(files, branch="main")
        assert len(rsps.calls) == 2
    assert plan.changed == ()
    with mock() as rsps:
        result = gh.sync(plan, message="cicd: sync generated CI files")
        assert len(rsps.calls) == 0
    assert (result.commit, result.branch, result.replanned) == (None, "main", False)


def test_plan_of_a_truncated_tree_walks_only_the_needed_directories_in_6_requests() -> None:
    """branch + truncated recursive tree + root, .github, workflows (non-recursive) + 1 blob."""
    with mock() as rsps:
        rsps.get(f"{REPO}/branches/main", json=load("branch"))
        rsps.get(f"{REPO}/git/trees/{TREE}", json=load("tree_truncated"), match=[RECURSIVE])
        rsps.get(f"{REPO}/git/trees/{TREE}", json=load("tree_root"), match=[NO_QUERY])
        github_dir = load("tree_dot_github")
        rsps.get(f"{REPO}/git/trees/{github_dir['sha']}", json=github_dir, match=[NO_QUERY])
        workflows = load("tree_workflows")
        rsps.get(f"{REPO}/git/trees/{workflows['sha']}", json=workflows, match=[NO_QUERY])
        rsps.get(REPO + RELEASE_BLOB, json=load("blob_release"))
        plan = backend().plan({**GENERATED, "docs/new.md": "x\n"}, branch="main")
        assert len(rsps.calls) == 6
    assert [c.action for c in plan.changes] == ["unchanged", "create", "update", "create"]


def test_plan_refuses_to_put_a_file_where_a_directory_is() -> None:
    with mock() as rsps:
        add_reads(rsps, blob=False)
        with pytest.raises(ProviderError, match=r'"\.github/workflows" is a directory'):
            backend().plan({".github/workflows": "x\n"}, branch="main")


def test_github_enterprise_base_url_is_used_for_every_request() -> None:
    ghe = "https://ghe.example.com/api/v3"
    gh = GitHubBackend("octo-org/octo-repo", credentials(ghe))
    base = f"{ghe}/repos/octo-org/octo-repo"
    with mock() as rsps:
        rsps.get(f"{base}/branches/main", json=load("branch"))
        rsps.get(f"{base}/git/trees/{TREE}", json=load("tree_recursive"), match=[RECURSIVE])
        rsps.get(base + RELEASE_BLOB, json=load("blob_release"))
        plan = gh.plan(GENERATED, branch="main")
        assert [c.request.url.split("?")[0][: len(base)] for c in rsps.calls] == [base] * 3
    assert len(plan.changed) == 2
    assert TOKEN not in repr(gh)


def test_a_missing_repository_is_one_line_with_status_and_request_id() -> None:
    """1 request: GET /repos/{o}/{r} answers 404."""
    with mock() as rsps:
        rsps.get(
            REPO,
            json=load("not_found"),
            status=404,
            headers={"X-GitHub-Request-Id": "CAFE:1234:5678:9ABC:66A0B1C2"},
        )
        with pytest.raises(ProviderError) as info:
            backend().plan(GENERATED)
        assert len(rsps.calls) == 1
    error = info.value
    assert str(error) == "github octo-org/octo-repo: read the repository: 404 Not Found"
    assert (error.provider, error.status_code) == ("github", 404)
    assert error.request_id == "CAFE:1234:5678:9ABC:66A0B1C2"


def test_the_token_is_in_no_exception_text() -> None:
    """1 request: 401 Bad credentials; also a network error (1 request)."""
    with mock() as rsps:
        rsps.get(f"{REPO}/branches/main", json=load("bad_credentials"), status=401)
        with pytest.raises(ProviderError) as info:
            backend().plan(GENERATED, branch="main")
    assert "401 Bad credentials" in str(info.value)
    with mock() as rsps:
        rsps.get(f"{REPO}/branches/main", body=requests.ConnectionError("connection refused"))
        with pytest.raises(ProviderError) as network:
            backend().plan(GENERATED, branch="main")
    for error in (info.value, network.value):
        text = "".join(traceback.format_exception(error)) + repr(error)
        assert TOKEN not in text and TOKEN[4:] not in text
        assert "\n" not in str(error)


# sync


def test_sync_happy_path_is_one_commit_in_4_requests() -> None:
    """git commit (parent + tree) + tree + commit + ref update (force false)."""
    with mock() as rsps:
        add_commit(rsps)
        rsps.patch(f"{REPO}/git/refs/heads/main", json=load("ref_updated"))
        result = backend().sync(planned(), message="cicd: sync generated CI files")
        assert len(rsps.calls) == 4
        assert_commit_bodies(rsps, tree=TREE, parent=HEAD)
        (update,) = calls(rsps, "PATCH", "/git/refs/heads/main")
        assert body(update) == {"sha": NEW, "force": False}
    assert (result.commit, result.branch, result.replanned) == (NEW, "main", False)
    assert result.url == f"https://github.com/octo-org/octo-repo/commit/{NEW}"
    assert result.pull_request_url is None


def test_plan_then_sync_on_a_fresh_backend_costs_4_plus_4_requests() -> None:
    gh = backend()
    with mock() as rsps:
        rsps.get(REPO, json=load("repo"))
        add_reads(rsps)
        add_commit(rsps)
        rsps.patch(f"{REPO}/git/refs/heads/main", json=load("ref_updated"))
        plan = gh.plan(GENERATED)
        result = gh.sync(plan, message="cicd: sync generated CI files")
        assert len(rsps.calls) == 8
    assert result.commit == NEW


def test_ref_moved_once_replans_and_commits_on_the_new_head_in_11_requests() -> None:
    """4 (commit, refused 422) + branch + tree + blob (re-plan) + 4 (commit on HEAD2, accepted)."""
    with mock() as rsps:
        add_commit(rsps)
        rsps.patch(f"{REPO}/git/refs/heads/main", json=load("ref_not_fast_forward"), status=422)
        # Someone changed README.md meanwhile: the generated files still differ.
        add_reads(rsps, head=HEAD2, tree=TREE2, listing=tree_with(TREE2, {"README.md": "hi\n"}))
        add_commit(rsps, head=HEAD2, tree=TREE2, new=NEW2)
        rsps.patch(f"{REPO}/git/refs/heads/main", json=load("ref_updated"))
        result = backend().sync(planned(), message="cicd: sync generated CI files")
        assert len(rsps.calls) == 11
        assert_commit_bodies(rsps, tree=TREE2, parent=HEAD2)
        first, second = calls(rsps, "PATCH", "/git/refs/heads/main")
        assert body(first) == {"sha": NEW, "force": False}
        assert body(second) == {"sha": NEW2, "force": False}
    assert (result.commit, result.replanned, result.plan.head) == (NEW2, True, HEAD2)


def test_ref_moved_to_the_same_files_makes_no_second_commit_in_6_requests() -> None:
    """4 (commit, refused) + branch + tree; every blob sha already matches: no blob, no commit."""
    with mock() as rsps:
        add_commit(rsps)
        rsps.patch(f"{REPO}/git/refs/heads/main", json=load("ref_not_fast_forward"), status=422)
        add_reads(rsps, head=HEAD2, tree=TREE2, listing=tree_with(TREE2, GENERATED), blob=False)
        result = backend().sync(planned(), message="cicd: sync generated CI files")
        assert len(rsps.calls) == 6
        assert len(calls(rsps, "POST", "/git/commits")) == 1
    assert (result.commit, result.replanned, result.plan.head) == (None, True, HEAD2)
    assert result.plan.changed == ()


def test_ref_moved_twice_raises_sync_conflict_in_11_requests_and_overwrites_nothing() -> None:
    with mock() as rsps:
        add_commit(rsps)
        rsps.patch(f"{REPO}/git/refs/heads/main", json=load("ref_not_fast_forward"), status=422)
        add_reads(rsps, head=HEAD2, tree=TREE2, listing=tree_with(TREE2, {"README.md": "hi\n"}))
        add_commit(rsps, head=HEAD2, tree=TREE2, new=NEW2)
        with pytest.raises(SyncConflictError) as info:
            backend().sync(planned(), message="cicd: sync generated CI files")
        assert len(rsps.calls) == 11
        updates = calls(rsps, "PATCH", "/git/refs/heads/main")
        assert [body(u) for u in updates] == [
            {"sha": NEW, "force": False},
            {"sha": NEW2, "force": False},
        ]
        assert all(u.response.status_code == 422 for u in updates)
    assert "moved twice" in str(info.value) and "\n" not in str(info.value)
    assert info.value.provider == "github"


def test_a_refusal_while_the_branch_did_not_move_is_reported_as_is_in_7_requests() -> None:
    """4 (commit, refused: protected branch) + branch + tree + blob: same head, so no retry."""
    with mock() as rsps:
        add_commit(rsps)
        rsps.patch(f"{REPO}/git/refs/heads/main", json=load("ref_protected"), status=422)
        add_reads(rsps)
        with pytest.raises(ProviderError) as info:
            backend().sync(planned(), message="cicd: sync generated CI files")
        assert len(rsps.calls) == 7
    assert not isinstance(info.value, SyncConflictError)
    assert str(info.value) == (
        'github octo-org/octo-repo: update branch "main": 422 '
        "Changes must be made through a pull request."
    )


def test_pull_request_commits_on_a_new_branch_in_5_requests() -> None:
    """git commit + tree + commit + create ref at the commit + create pull; main untouched."""
    with mock() as rsps:
        add_commit(rsps)
        rsps.post(f"{REPO}/git/refs", json=load("ref_created"), status=201)
        rsps.post(f"{REPO}/pulls", json=load("pull_created"), status=201)
        result = backend().sync(
            planned(), message="cicd: sync generated CI files", pull_request=True
        )
        assert len(rsps.calls) == 5
        assert_commit_bodies(rsps, tree=TREE, parent=HEAD)
        (ref,) = calls(rsps, "POST", "/git/refs")
        assert body(ref) == {"ref": "refs/heads/cicd/sync-6dcb09b5", "sha": NEW}
        (pull,) = calls(rsps, "POST", "/pulls")
        sent = body(pull)
        assert (sent["base"], sent["head"], sent["title"]) == (
            "main",
            "cicd/sync-6dcb09b5",
            "cicd: sync generated CI files",
        )
        assert "  create    .github/workflows/nightly.yml" in sent["body"]
        assert HEAD in sent["body"]
    assert (result.commit, result.branch) == (NEW, "cicd/sync-6dcb09b5")
    assert result.pull_request_url == "https://github.com/octo-org/octo-repo/pull/1347"


def test_pull_request_branch_left_by_an_earlier_sync_is_one_clear_line() -> None:
    with mock() as rsps:
        add_commit(rsps)
        rsps.post(f"{REPO}/git/refs", json=load("ref_exists"), status=422)
        with pytest.raises(ProviderError) as info:
            backend().sync(planned(), message="m", pull_request=True)
        assert len(rsps.calls) == 4
    assert str(info.value) == (
        'github octo-org/octo-repo: create branch "cicd/sync-6dcb09b5" (left by an earlier '
        "sync from the same head?): 422 Reference already exists"
    )


def test_a_timeout_on_the_commit_post_is_repeated_once_and_commits_once_in_5_requests() -> None:
    """git commit + tree + commit (times out) + commit again (repeatable POST) + ref update."""
    waits: list[float] = []
    with mock() as rsps:
        rsps.get(f"{REPO}/git/commits/{HEAD}", json=load("git_commit"))
        rsps.post(f"{REPO}/git/trees", json=load("tree_created"), status=201)
        rsps.post(f"{REPO}/git/commits", body=requests.ReadTimeout("read timed out"))
        rsps.post(f"{REPO}/git/commits", json=load("commit_created"), status=201)
        rsps.patch(f"{REPO}/git/refs/heads/main", json=load("ref_updated"))
        result = backend(waits=waits).sync(planned(), message="cicd: sync generated CI files")
        assert len(rsps.calls) == 5
        first, second = calls(rsps, "POST", "/git/commits")
        assert body(first) == body(second)
        (update,) = calls(rsps, "PATCH", "/git/refs/heads/main")
        assert body(update) == {"sha": NEW, "force": False}
    assert result.commit == NEW
    assert waits and all(w >= 0 for w in waits)


def test_timeouts_on_every_commit_post_move_nothing_and_a_retried_sync_commits_once() -> None:
    """5 requests (3 commit POSTs time out, no ref update); the retry: plan (3) + sync (4)."""
    gh = backend(attempts=3)
    with mock() as rsps:
        rsps.get(f"{REPO}/git/commits/{HEAD}", json=load("git_commit"))
        rsps.post(f"{REPO}/git/trees", json=load("tree_created"), status=201)
        rsps.post(f"{REPO}/git/commits", body=requests.ReadTimeout("read timed out"))
        with pytest.raises(ProviderError) as info:
            gh.sync(planned(), message="cicd: sync generated CI files")
        assert len(rsps.calls) == 5
        assert len(calls(rsps, "POST", "/git/commits")) == 3
        assert calls(rsps, "PATCH", "/git/refs/heads/main") == []
    assert str(info.value) == (
        "github octo-org/octo-repo: create the commit: no answer from api.github.com in time "
        "(ReadTimeout)"
    )
    with mock() as rsps:
        add_reads(rsps)
        add_commit(rsps)
        rsps.patch(f"{REPO}/git/refs/heads/main", json=load("ref_updated"))
        result = gh.sync(gh.plan(GENERATED, branch="main"), message="cicd: sync generated CI files")
        assert len(rsps.calls) == 7
        assert len(calls(rsps, "POST", "/git/commits")) == 1
        assert len(calls(rsps, "PATCH", "/git/refs/heads/main")) == 1
    assert result.commit == NEW
    assert gh.budget is not None and gh.budget.used == 12


def test_timeouts_on_the_ref_update_say_so_and_the_next_plan_shows_what_happened() -> None:
    """6 requests (the PATCH, idempotent, tried 3 times); the retry's plan (2): no commit."""
    gh = backend(attempts=3)
    with mock() as rsps:
        add_commit(rsps)
        rsps.patch(f"{REPO}/git/refs/heads/main", body=requests.ReadTimeout("timed out"))
        with pytest.raises(ProviderError, match="may or may not have moved; plan again"):
            gh.sync(planned(), message="cicd: sync generated CI files")
        assert len(rsps.calls) == 6
        assert len(calls(rsps, "POST", "/git/commits")) == 1
    with mock() as rsps:
        # The update had landed: the branch is at the new commit with the generated files.
        add_reads(rsps, head=NEW, tree=TREE2, listing=tree_with(TREE2, GENERATED), blob=False)
        again = gh.plan(GENERATED, branch="main")
        assert gh.sync(again, message="cicd: sync generated CI files").commit is None
        assert len(rsps.calls) == 2


def test_a_plan_for_another_repository_is_refused() -> None:
    other = compare("github", "someone/else", "main", HEAD, GENERATED, {})
    with pytest.raises(ValueError, match="not github octo-org/octo-repo"):
        backend().sync(other, message="m")
    with pytest.raises(ValueError, match='"owner/name"'):
        GitHubBackend("not-a-repo", credentials())


def test_a_secondary_rate_limit_on_the_tree_post_waits_and_commits_once_in_5_requests() -> None:
    """git commit + tree (403 retry-after: 30) + tree again + commit + ref update."""
    waits: list[float] = []
    limited = {"message": "You have exceeded a secondary rate limit. Please wait a few minutes."}
    with mock() as rsps:
        rsps.get(f"{REPO}/git/commits/{HEAD}", json=load("git_commit"))
        rsps.post(f"{REPO}/git/trees", json=limited, status=403, headers={"retry-after": "30"})
        rsps.post(f"{REPO}/git/trees", json=load("tree_created"), status=201)
        rsps.post(f"{REPO}/git/commits", json=load("commit_created"), status=201)
        rsps.patch(f"{REPO}/git/refs/heads/main", json=load("ref_updated"))
        result = backend(waits=waits).sync(planned(), message="cicd: sync generated CI files")
        assert len(rsps.calls) == 5
        assert len(calls(rsps, "POST", "/git/commits")) == 1
    assert result.commit == NEW
    assert 30.0 in waits
