"""Plans of generated files against remote contents, and where credentials come from."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from codomyrmex.ci_cd_automation.backends.base import compare
from codomyrmex.ci_cd_automation.backends.credentials import config_path, load_credentials
from codomyrmex.ci_cd_automation.errors import CICDError

TOKEN = "ghp_secretsecretsecret"


def test_compare_sorts_files_and_tells_create_update_unchanged() -> None:
    plan = compare(
        "github",
        "o/r",
        "main",
        "a" * 40,
        {"b.yml": "x: 2\n", "a.yml": "same\n", "c.yml": "new\n"},
        {"a.yml": "same\n", "b.yml": "x: 1\n"},
    )
    assert [(c.path, c.action) for c in plan.changes] == [
        ("a.yml", "unchanged"),
        ("b.yml", "update"),
        ("c.yml", "create"),
    ]
    assert [c.path for c in plan.changed] == ["b.yml", "c.yml"]
    update, create = plan.changed
    assert update.diff.splitlines()[:2] == ["--- a/b.yml", "+++ b/b.yml"]
    assert "-x: 1" in update.diff.splitlines() and "+x: 2" in update.diff.splitlines()
    assert create.diff.startswith("--- /dev/null\n+++ b/c.yml\n")
    assert plan.changes[0].diff == ""
    text = plan.format()
    assert text.splitlines()[0] == "github o/r@main (aaaaaaaaaaaa):"
    assert "  unchanged a.yml" in text and "2 files to change" in text


def test_an_explicit_none_is_a_missing_remote_file() -> None:
    plan = compare("gitlab", "g/p", "main", "b" * 40, {"x": "1\n"}, {"x": None})
    assert plan.changes[0].action == "create"
    assert compare("gitlab", "g/p", "main", "b" * 40, {"x": "1\n"}, {"x": "1\n"}).changed == ()


def test_credentials_come_from_the_environment_first(tmp_path: Path) -> None:
    env = {"GITHUB_TOKEN": TOKEN, "CICD_CONFIG": str(tmp_path / "none.toml")}
    creds = load_credentials("github", environ=env)
    assert (creds.url, creds.token) == ("https://api.github.com", TOKEN)
    assert TOKEN not in repr(creds) and TOKEN not in str(creds)
    ghe = load_credentials("github", url="https://ghe.example.com/api/v3/", environ=env)
    assert ghe.url == "https://ghe.example.com/api/v3"


def test_credentials_from_a_private_config_file(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[gitlab]\ntoken = "glpat-abcdefabcdef"\nurl = "https://git.example.com"\n')
    config.chmod(0o600)
    creds = load_credentials("gitlab", environ={"CICD_CONFIG": str(config)})
    assert (creds.url, creds.token) == ("https://git.example.com", "glpat-abcdefabcdef")


def test_a_config_file_others_can_read_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[github]\ntoken = "ghp_abc"\n')
    config.chmod(0o644)
    with pytest.raises(CICDError, match="chmod 600") as info:
        load_credentials("github", environ={"CICD_CONFIG": str(config)})
    assert "ghp_abc" not in str(info.value)


def test_no_token_anywhere_says_where_to_put_one(tmp_path: Path) -> None:
    env = {"XDG_CONFIG_HOME": str(tmp_path)}
    assert config_path(env) == tmp_path / "cicd" / "config.toml"
    with pytest.raises(CICDError, match=r"set GITLAB_TOKEN or put token"):
        load_credentials("gitlab", environ=env)


def test_a_broken_config_file_is_one_line(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[github\n")
    with pytest.raises(CICDError) as info:
        load_credentials("github", environ={"CICD_CONFIG": str(config)})
    assert "not a valid TOML" in str(info.value) and "\n" not in str(info.value)
    assert os.fspath(config) in str(info.value)
