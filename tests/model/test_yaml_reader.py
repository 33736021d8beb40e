"""The one YAML reader: every entry point refuses what would exhaust memory or the stack."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from codomyrmex.ci_cd_automation.errors import PipelineImportError, PipelineValidationError
from codomyrmex.ci_cd_automation.model import yaml_reader
from codomyrmex.ci_cd_automation.model.loader import load_pipeline_text
from codomyrmex.ci_cd_automation.model.yaml_reader import YamlReadError, scan
from codomyrmex.ci_cd_automation.translators.importing import import_text


def _bomb(key: str = "a") -> str:
    """Nine levels of ten aliases each: 10**9 nodes once expanded, under 600 bytes."""
    lines = [f"{key}0: &{key}0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 10):
        refs = ", ".join([f"*{key}{i - 1}"] * 10)
        lines.append(f"{key}{i}: &{key}{i} [{refs}]")
    return "\n".join(lines) + "\n"


def _deep_chain(levels: int) -> str:
    """Each anchor holds the previous one: tiny, but nested ``levels`` deep once expanded."""
    lines = ["a0: &a0 [x]"]
    lines += [f"a{i}: &a{i} [*a{i - 1}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


GITLAB_BOMB = _bomb() + "job:\n  script: [echo]\n"
GITHUB_BOMB = (
    "on: push\n" + _bomb() + "jobs:\n  j:\n    runs-on: ubuntu-latest\n    steps: [{run: x}]\n"
)

READERS: dict[str, Callable[[str], Any]] = {
    "neutral loader": lambda text: load_pipeline_text(text, "p.yaml"),
    "gitlab importer": lambda text: import_text(text, ".gitlab-ci.yml", "gitlab"),
    "github importer": lambda text: import_text(text, ".github/workflows/ci.yml", "github"),
    "detection, then import": lambda text: import_text(text, "ci.yml"),
}


@pytest.mark.parametrize("reader", sorted(READERS))
@pytest.mark.parametrize(
    "text", [GITLAB_BOMB, GITHUB_BOMB, _deep_chain(300)], ids=["bomb", "gh-bomb", "deep"]
)
def test_every_entry_point_refuses_alias_bombs_at_once(reader: str, text: str) -> None:
    began = time.monotonic()
    with pytest.raises((PipelineImportError, PipelineValidationError)) as info:
        READERS[reader](text)
    assert time.monotonic() - began < 30  # generous: the bomb alone would take hours
    message = str(info.value)
    assert "\n" not in message
    assert "aliases" in message


def test_scan_positions_the_alias_that_explodes() -> None:
    with pytest.raises(YamlReadError) as info:
        scan(GITLAB_BOMB, "f.yml")
    diagnostic = info.value.diagnostic
    assert (diagnostic.file, diagnostic.rule) == ("f.yml", "yaml-alias-bomb")
    assert diagnostic.line is not None and diagnostic.line > 1


def test_expanded_depth_is_bounded_but_ordinary_reuse_is_not() -> None:
    scan(_deep_chain(50), "f.yml")  # 50 levels once expanded: fine
    with pytest.raises(YamlReadError, match="deeper than"):
        scan(_deep_chain(yaml_reader.MAX_EXPANDED_DEPTH + 5), "f.yml")


def test_strict_reading_reports_what_only_the_neutral_format_refuses() -> None:
    text = "a: 1\na: 2\nb: !reference [x, y]\n"
    assert scan(text, "f.yml") == []
    rules = sorted(d.rule for d in scan(text, "f.yml", strict=True))
    assert rules == ["yaml-duplicate-key", "yaml-tag"]


def test_parse_errors_are_positioned_and_worded_for_people() -> None:
    with pytest.raises(YamlReadError) as info:
        yaml_reader.load("jobs: [\n", "f.yml")
    d = info.value.diagnostic
    assert (d.file, d.line, d.rule) == ("f.yml", 2, "yaml-syntax")
    assert "<stream end>" not in d.message
