"""``cicd plan`` and ``cicd sync`` end to end against recorded-shape payloads, no network."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import responses
from responses import matchers

from codomyrmex.ci_cd_automation.cli import main

ROOT = Path(__file__).resolve().parents[1]
GH = ROOT / "fixtures" / "api" / "github"
GL = ROOT / "fixtures" / "api" / "gitlab"
TOKEN = "ghp_N0tARealTokenButTreatedAsOne1234567"
GL_TOKEN = "glpat-N0tARealTokenEither12"
REPO = "https://api.github.com/repos/octo-org/octo-repo"
PROJECT = "https://gitlab.com/api/v4/projects/" + quote("group/app", safe="")
HEAD = "6dcb09b5b57875f334f61aebed695e2e4193db5e"
TREE = "9fb037999f264ba9a7cd8274d15fa3ae2ab98312"

PIPELINE = """\
name: demo
config:
  triggers: {push: {branches: [main]}}
stages:
  - name: test
    jobs:
      - name: unit
        steps: [{checkout: {}}, {run: pytest -q}]
"""


def load(folder: Path, name: str) -> Any:
    return json.loads((folder / f"{name}.json").read_text())


@pytest.fixture
def pipeline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    monkeypatch.setenv("GITLAB_TOKEN", GL_TOKEN)
    monkeypatch.setenv("CICD_CONFIG", str(tmp_path / "no-config.toml"))
    for name in ("GITHUB_API_URL", "GITLAB_URL"):
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "pipeline.yaml"
    path.write_text(PIPELINE)
    return path


def github_reads(rsps: responses.RequestsMock) -> None:
    branch = load(GH, "branch")
    branch["commit"]["sha"] = HEAD
    branch["commit"]["commit"]["tree"]["sha"] = TREE
    empty = {"sha": TREE, "url": f"{REPO}/git/trees/{TREE}", "tree": [], "truncated": False}
    rsps.get(REPO, json=load(GH, "repo"))
    rsps.get(f"{REPO}/branches/main", json=branch)
    rsps.get(
        f"{REPO}/git/trees/{TREE}",
        json=empty,
        match=[matchers.query_param_matcher({"recursive": "1"})],
    )


def test_plan_on_github_lists_the_file_to_create_with_its_diff(
    pipeline: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        github_reads(rsps)
        code = main(["plan", str(pipeline), "--provider", "github", "--repo", "octo-org/octo-repo"])
        assert len(rsps.calls) == 3
    out, err = capsys.readouterr()
    assert code == 0, err
    assert out.splitlines()[0] == f"github octo-org/octo-repo@main ({HEAD[:12]}):"
    assert "  create    .github/workflows/demo.yml" in out
    assert "+++ b/.github/workflows/demo.yml" in out
    assert TOKEN not in out + err


def test_sync_on_github_makes_one_commit_with_the_default_message(
    pipeline: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    created = load(GH, "commit_created")
    parent = load(GH, "git_commit")
    parent["sha"], parent["tree"]["sha"] = HEAD, TREE
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        github_reads(rsps)
        rsps.get(f"{REPO}/git/commits/{HEAD}", json=parent)
        rsps.post(f"{REPO}/git/trees", json=load(GH, "tree_created"), status=201)
        commit = rsps.post(f"{REPO}/git/commits", json=created, status=201)
        ref = rsps.patch(f"{REPO}/git/refs/heads/main", json=load(GH, "ref_updated"))
        code = main(["sync", str(pipeline), "--provider", "github", "--repo", "octo-org/octo-repo"])
        sent = json.loads(commit.calls[0].request.body)
        assert json.loads(ref.calls[0].request.body)["force"] is False
    out, err = capsys.readouterr()
    assert code == 0, err
    assert sent["message"] == "cicd: sync CI files generated from demo"
    assert sent["parents"] == [HEAD]
    assert out.startswith(f"github octo-org/octo-repo: committed {created['sha'][:12]} on main")


def test_sync_on_gitlab_with_nothing_to_change_commits_nothing(
    pipeline: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from codomyrmex.ci_cd_automation import load_pipeline, render

    text = render(load_pipeline(pipeline), "gitlab").files[".gitlab-ci.yml"]
    branch = load(GL, "branch")
    file = load(GL, "file")
    import base64

    file.update(content=base64.b64encode(text.encode()).decode(), encoding="base64")
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        rsps.get(PROJECT, json=load(GL, "project"))
        rsps.get(f"{PROJECT}/repository/branches/main", json=branch)
        rsps.get(f"{PROJECT}/repository/files/{quote('.gitlab-ci.yml', safe='')}", json=file)
        code = main(["sync", str(pipeline), "--provider", "gitlab", "--project", "group/app"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert out.strip() == "gitlab group/app@main: nothing to change"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--provider", "github"], 'GitHub needs a repository "OWNER/NAME"'),
        (["--provider", "both", "--repo", "o/r"], 'GitLab needs a project "GROUP/NAME"'),
        (["--provider", "gitlab", "--project", "nogroup"], 'GitLab needs a project "GROUP/NAME"'),
        (["--provider", "github", "--repo", "o/r", "--budget", "0"], "--budget must be at least 1"),
    ],
)
def test_bad_flags_are_one_line_and_exit_2_before_any_request(
    pipeline: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=True):
        code = main(["plan", str(pipeline), *args])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1


def test_a_missing_token_says_where_to_put_one(
    pipeline: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITHUB_TOKEN")
    with responses.RequestsMock(assert_all_requests_are_fired=True):
        code = main(["plan", str(pipeline), "--provider", "github", "--repo", "o/r"])
    err = capsys.readouterr().err
    assert code == 1
    assert "no github token: set GITHUB_TOKEN" in err and len(err.strip().splitlines()) == 1


def test_a_missing_repository_is_one_line_without_the_token(
    pipeline: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        rsps.get(REPO, status=404, json=load(GH, "not_found"))
        code = main(["plan", str(pipeline), "--provider", "github", "--repo", "octo-org/octo-repo"])
    err = capsys.readouterr().err
    assert code == 1
    assert "404" in err and TOKEN not in err and len(err.strip().splitlines()) == 1


def test_debug_traces_every_request_with_the_token_redacted(
    pipeline: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        github_reads(rsps)
        code = main(
            [
                "--debug",
                "plan",
                str(pipeline),
                "--provider",
                "github",
                "--repo",
                "octo-org/octo-repo",
            ]
        )
    err = capsys.readouterr().err
    assert code == 0
    sent = [line for line in err.splitlines() if line.startswith("github: > GET")]
    assert len(sent) == 3
    assert all("Authorization: token ***" in line for line in sent)
    assert TOKEN not in err
