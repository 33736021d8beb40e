"""Golden validation fixtures, in the manner of actionlint's testdata.

``fixtures/pipelines/ok/*.yaml`` load with no diagnostic; ``fixtures/pipelines/err/X.yaml``
makes ``cicd validate`` (run from the repository root) print exactly the lines of ``X.out``
on stderr and exit 2, and ``load_pipeline`` raise one ``PipelineValidationError`` holding the
same diagnostics. After a deliberate change of messages, regenerate the ``.out`` files with

    CICD_REGEN_GOLDEN=1 python -m pytest tests/model/test_fixtures.py

and review them as a diff.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from codomyrmex.ci_cd_automation import PipelineValidationError, load_pipeline
from codomyrmex.ci_cd_automation.cli import main
from codomyrmex.ci_cd_automation.model import rules

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures" / "pipelines"
OK = sorted((FIXTURES / "ok").glob("*.yaml"))
ERR = sorted((FIXTURES / "err").glob("*.yaml"))
REGEN = os.environ.get("CICD_REGEN_GOLDEN") == "1"

# FILE:LINE:COL: message [rule-id]
LINE_RE = re.compile(
    r"^(?P<file>[^:]+):(?P<line>\d+):(?P<col>\d+): (?P<msg>.+) \[(?P<rule>[a-z-]+)\]$"
)
# Rules that no file in err/ can show: they are about reading the file, not its content.
# tests/model/test_loader.py and tests/test_cli.py cover them.
NOT_IN_FIXTURES = {"file-read", "file-size"}


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _golden(path: Path) -> list[str]:
    return path.with_suffix(".out").read_text(encoding="utf-8").splitlines()


def test_there_are_enough_fixtures() -> None:
    assert len(OK) >= 8
    assert len(ERR) >= 30
    assert not sorted(
        p.name for p in (FIXTURES / "err").glob("*.out") if not p.with_suffix(".yaml").exists()
    )


@pytest.mark.parametrize("path", OK, ids=lambda p: p.stem)
def test_ok_pipeline_loads_without_diagnostics(
    path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    pipeline = load_pipeline(_rel(path))
    assert pipeline.status == "draft"
    assert pipeline.source is not None and pipeline.source.file == _rel(path)
    assert main(["validate", _rel(path)]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert out.startswith(f"{_rel(path)}: ok (")


@pytest.mark.parametrize("path", ERR, ids=lambda p: p.stem)
def test_err_pipeline_prints_the_golden_lines(
    path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    code = main(["validate", _rel(path)])
    out, err = capsys.readouterr()
    lines = err.splitlines()
    if REGEN:
        path.with_suffix(".out").write_text("".join(f"{line}\n" for line in lines), "utf-8")
    assert code == 2
    assert out == ""
    assert lines == _golden(path)

    with pytest.raises(PipelineValidationError) as info:
        load_pipeline(_rel(path))
    assert isinstance(info.value, ValueError)
    assert [d.format() for d in info.value.diagnostics] == lines


@pytest.mark.parametrize("path", ERR, ids=lambda p: p.stem)
def test_err_lines_follow_the_house_style(path: Path) -> None:
    """One line each, 1-based positions inside the file, lowercase, values in double quotes."""
    text_lines = path.read_bytes().decode("utf-8", errors="replace").split("\n")
    golden = _golden(path)
    assert golden, "an err fixture must produce at least one diagnostic"
    for line in golden:
        match = LINE_RE.match(line)
        assert match, line
        assert match["file"] == _rel(path)
        row, col = int(match["line"]), int(match["col"])
        assert 1 <= row <= len(text_lines), line
        assert 1 <= col <= len(text_lines[row - 1]) + 1, line
        message = match["msg"]
        assert not message[0].isupper(), line
        # Nothing of pydantic's or ruamel's own wording, no unfilled message templates.
        for leak in ("Input should", "{name", "{default", "<stream end>", "Value error"):
            assert leak not in message, line
    assert golden == sorted(golden, key=_position_key), "diagnostics are sorted by position"


def _position_key(line: str) -> tuple[int, int]:
    match = LINE_RE.match(line)
    assert match
    return int(match["line"]), int(match["col"])


def _rule_of(line: str) -> str:
    match = LINE_RE.match(line)
    assert match, line
    return match["rule"]


def _documented_rule_ids() -> set[str]:
    assert rules.__doc__
    return set(re.findall(r"``([a-z]+(?:-[a-z]+)+)``", rules.__doc__)) - {"model-rules"}


def test_every_rule_id_is_shown_by_a_fixture() -> None:
    documented = _documented_rule_ids()
    seen = {_rule_of(line) for path in ERR for line in _golden(path)}
    assert documented - seen == NOT_IN_FIXTURES
    assert seen <= documented, "a rule id is used but not documented in model/rules.py"


def test_every_template_context_error_has_a_fixture() -> None:
    names = {p.stem for p in ERR}
    for context in ("matrix", "vars", "inputs", "ci", "env", "needs", "steps", "unknown", "config"):
        assert f"template-context-{context}" in names
