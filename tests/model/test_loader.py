"""The loader: hostile YAML, encodings, input formats, and pipelines built from Python data."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from types import FrameType

import pytest

from codomyrmex.ci_cd_automation import (
    Pipeline,
    PipelineValidationError,
    create_pipeline,
    load_pipeline,
)
from codomyrmex.ci_cd_automation.model import loader
from codomyrmex.ci_cd_automation.model.loader import load_pipeline_text, parse_yaml_bytes

MINIMAL = "name: p\nstages:\n  - name: s\n    jobs:\n      - name: j\n        steps: [{run: x}]\n"
STAGES = [{"name": "build", "jobs": [{"name": "compile", "steps": [{"run": "make"}]}]}]


class Hung(Exception):
    """The code under test ran past its deadline."""


@contextmanager
def deadline(seconds: int = 10) -> Iterator[None]:
    """Fail instead of hanging: a generous bound, not a timing assertion."""

    def expire(signum: int, frame: FrameType | None) -> None:
        raise Hung(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def diagnostics_of(text: str | bytes, name: str = "p.yaml") -> list[str]:
    raw = text.encode() if isinstance(text, str) else text
    with pytest.raises(PipelineValidationError) as info:
        data, source = parse_yaml_bytes(raw, name)
        loader.pipeline_from_data(data, source)
    return [d.format() for d in info.value.diagnostics]


def rules_of(text: str | bytes) -> list[str]:
    return [line.rsplit("[", 1)[1].rstrip("]") for line in diagnostics_of(text)]


# --- aliases ----------------------------------------------------------------------------


def billion_laughs(levels: int = 10, width: int = 10) -> str:
    lines = ["name: lol", "l0: &l0 [" + ", ".join(['"lol"'] * width) + "]"]
    for level in range(1, levels):
        lines.append(f"l{level}: &l{level} [" + ", ".join([f"*l{level - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


def test_billion_laughs_fails_fast() -> None:
    with deadline():
        found = diagnostics_of(billion_laughs())
    assert len(found) == 1
    assert found[0].startswith("p.yaml:")
    assert "aliases expand this file to more than 2000000 nodes" in found[0]
    assert found[0].endswith("[yaml-alias-bomb]")


def test_a_wide_bomb_under_the_absolute_limit_is_caught_by_the_expansion_factor() -> None:
    # 2 000 scalars reused 100 times: 200 000 nodes from about 2 100 written ones.
    text = "name: wide\nbase: &b [" + ", ".join(["x"] * 2000) + "]\n"
    text += "uses: [" + ", ".join(["*b"] * 100) + "]\n"
    with deadline():
        found = diagnostics_of(text)
    assert len(found) == 1 and found[0].endswith("[yaml-alias-bomb]")
    assert found[0].startswith("p.yaml:3:")  # the alias that expands most, on line 3


def test_recursive_aliases_are_refused_where_the_alias_is() -> None:
    with deadline():
        assert diagnostics_of("a: &a [1, *a]\n") == [
            'p.yaml:1:11: alias "*a" refers to a node that contains it; '
            "a recursive structure cannot be a pipeline [yaml-alias-bomb]"
        ]
        assert rules_of("a: &a\n  b:\n    c: *a\n") == ["yaml-alias-bomb"]
        assert rules_of("a: &a {<<: *a}\n") == ["yaml-alias-bomb"]


def test_ordinary_anchors_and_merge_keys_load() -> None:
    text = (
        "name: p\nstages:\n  - name: s\n    jobs:\n"
        "      - &j {name: a, image: img, steps: [{run: x}]}\n"
        "      - {<<: *j, name: b}\n"
    )
    pipeline = load_pipeline_text(text)
    assert [j.image for j in pipeline.stages[0].jobs] == ["img", "img"]


# --- nesting ----------------------------------------------------------------------------


def test_deep_nesting_is_refused_at_the_level_that_is_too_deep() -> None:
    text = "name: " + "[" * 150 + "]" * 150 + "\n"
    # The pipeline mapping itself is the first level.
    assert diagnostics_of(text) == ["p.yaml:1:106: nesting is deeper than 100 levels [yaml-syntax]"]


def test_absurd_nesting_neither_hangs_nor_overflows_the_stack() -> None:
    for text in (
        "a: " + "[" * 100_000 + "]" * 100_000,
        "a:\n" + "".join(" " * i + "- \n" for i in range(3000)),
    ):
        with deadline():
            assert rules_of(text) == ["yaml-syntax"]


def test_nesting_within_the_limit_loads_in_an_escape_hatch() -> None:
    deep = "{a: " * 60 + "1" + "}" * 60
    pipeline = load_pipeline_text(MINIMAL + f"        github: {{x: {deep}}}\n")
    node = pipeline.stages[0].jobs[0].github["x"]
    for _ in range(60):
        node = node["a"]
    assert node == 1


# --- encodings and formats ----------------------------------------------------------------


def test_invalid_utf8_names_the_byte_and_a_character_column() -> None:
    raw = "name: ça-".encode() + b"\xff\n"
    assert diagnostics_of(raw) == [
        "p.yaml:1:10: file is not valid UTF-8 (byte 0xff at offset 10) [yaml-encoding]"
    ]


def test_utf16_gets_a_hint() -> None:
    found = diagnostics_of(MINIMAL.encode("utf-16"))
    assert found == [
        "p.yaml:1:1: file is not valid UTF-8 (byte 0xff at offset 0); "
        "the file looks like UTF-16: save it as UTF-8 [yaml-encoding]"
    ]


def test_a_bom_is_allowed_and_does_not_shift_columns(tmp_path: Path) -> None:
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + MINIMAL.encode())
    assert load_pipeline(path).name == "p"
    bad = b"\xef\xbb\xbf" + b'name: "a b"\n' + MINIMAL.split("\n", 1)[1].encode()
    assert diagnostics_of(bad)[0].startswith('p.yaml:1:7: invalid name "a b"')


def test_crlf_line_ends_give_the_same_positions() -> None:
    text = MINIMAL + "        bogus: 1\n"
    assert diagnostics_of(text.replace("\n", "\r\n")) == diagnostics_of(text)


def test_json_input_loads_and_is_positioned(tmp_path: Path) -> None:
    path = tmp_path / "pipeline.json"
    path.write_text(
        '{"name": "p", "stages": [{"name": "s", "jobs": '
        '[{"name": "j", "steps": [{"run": "x"}]}]}]}',
        encoding="utf-8",
    )
    assert load_pipeline(path).stages[0].jobs[0].name == "j"
    path.write_text('{"name": "p",\n "stages": [], "stages": []}', encoding="utf-8")
    with pytest.raises(PipelineValidationError) as info:
        load_pipeline(path)
    assert [d.format() for d in info.value.diagnostics] == [
        f'{path}:2:16: duplicate key "stages" (first defined on line 2) [yaml-duplicate-key]'
    ]


def test_every_duplicate_key_is_reported_with_its_first_line() -> None:
    text = "name: a\nstages: []\nname: b\nconfig:\n  secrets: []\n  secrets: [X]\n"
    assert diagnostics_of(text) == [
        'p.yaml:3:1: duplicate key "name" (first defined on line 1) [yaml-duplicate-key]',
        'p.yaml:6:3: duplicate key "secrets" (first defined on line 5) [yaml-duplicate-key]',
    ]


def test_keys_are_the_text_written_even_when_yaml_reads_them_as_other_types() -> None:
    pipeline = load_pipeline_text(MINIMAL + "        env: {true: a, NULL: b}\n", "p")
    assert pipeline.stages[0].jobs[0].env == {"true": "a", "NULL": "b"}
    # As YAML types 1 and true would even be one key (1 == True in Python).
    hatch = load_pipeline_text(MINIMAL + "        github: {1: a, true: b}\n").stages[0].jobs[0]
    assert hatch.github == {"1": "a", "true": "b"}
    found = diagnostics_of(MINIMAL + "        env: {1x: a, 3.10: b}\n")
    assert found == [
        "p.yaml:7:15: invalid name \"1x\"; start with a letter or '_', then letters, digits and "
        "'_' [invalid-name]",
        "p.yaml:7:22: invalid name \"3.10\"; start with a letter or '_', then letters, digits "
        "and '_' [invalid-name]",
    ]
    assert rules_of("? [a, b]\n: 1\n") == ["wrong-type"]


def test_unsupported_tags_are_refused() -> None:
    assert rules_of(MINIMAL + "        image: !custom x\n") == ["yaml-tag"]
    assert load_pipeline_text(MINIMAL + "        image: !!str 3\n").stages[0].jobs[0].image == "3"


def test_syntax_errors_are_one_clean_line() -> None:
    for text in (
        "name: [\n",
        "a: b: c\n",
        "- a\nb: c\n",
        "name: 'x\n",
        "*nothing\n",
        "%YAML 9\n---\na\n",
    ):
        found = diagnostics_of(text)
        assert len(found) == 1, found
        assert found[0].startswith("p.yaml:")
        assert found[0].endswith("[yaml-syntax]"), found
        assert "\n" not in found[0]


def test_float_versions_are_caught_only_when_digits_are_lost() -> None:
    text = MINIMAL.replace("steps:", 'matrix: {py: [3.10, "3.10", 3.11, 2.0, 1e3]}\n        steps:')
    assert diagnostics_of(text) == [
        'p.yaml:6:23: 3.10 is read as the number 3.1; quote it to keep it as written: "3.10" '
        "[float-version]"
    ]


def test_file_problems(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(PipelineValidationError) as info:
        load_pipeline(tmp_path)
    assert [d.format() for d in info.value.diagnostics] == [
        f"{tmp_path}: cannot read file: is a directory [file-read]"
    ]
    with pytest.raises(PipelineValidationError) as info:
        load_pipeline(tmp_path / "missing.yaml")
    assert info.value.diagnostics[0].rule == "file-read"
    monkeypatch.setattr(loader, "MAX_FILE_BYTES", 10)
    path = tmp_path / "big.yaml"
    path.write_text(MINIMAL, encoding="utf-8")
    with pytest.raises(PipelineValidationError) as info:
        load_pipeline(path)
    assert [d.format() for d in info.value.diagnostics] == [
        f"{path}: file is larger than 10 bytes [file-size]"
    ]


def test_a_loaded_pipeline_knows_its_source(tmp_path: Path) -> None:
    path = tmp_path / "pipeline.yaml"
    path.write_text(MINIMAL, encoding="utf-8")
    pipeline = load_pipeline(path)
    assert pipeline.source is not None
    assert pipeline.source.file == str(path)
    assert pipeline.source.position(("stages", 0, "jobs", 0, "name")) == (5, 15)


def test_template_positions_fall_back_to_the_value_where_columns_are_not_exact() -> None:
    folded = MINIMAL.replace(
        "steps: [{run: x}]", "steps:\n          - run: >\n              ${{ vars.X }}"
    )
    assert diagnostics_of(folded)[0].startswith("p.yaml:7:18:")
    escaped = MINIMAL.replace("{run: x}", '{run: "a\\tb ${{ vars.X }}"}')
    assert diagnostics_of(escaped)[0].startswith("p.yaml:6:23:")
    plain = MINIMAL.replace("steps: [{run: x}]", "steps:\n          - run: a ${{ vars.X }}")
    assert diagnostics_of(plain)[0].startswith("p.yaml:7:20:")


# --- create_pipeline ----------------------------------------------------------------------


def test_create_pipeline_has_identity_and_draft_status() -> None:
    pipeline = create_pipeline("web-app", STAGES)
    assert isinstance(pipeline, Pipeline)
    assert len(pipeline.id) == 32 and int(pipeline.id, 16) >= 0
    assert isinstance(pipeline.created_at, datetime) and pipeline.created_at.tzinfo is not None
    assert pipeline.status == "draft"
    assert pipeline.source is None
    assert create_pipeline("web-app", STAGES).id != pipeline.id


def test_create_pipeline_takes_identity_and_config_keywords() -> None:
    when = datetime(2024, 1, 2, 3, 4, 5).astimezone()
    pipeline = create_pipeline(
        "web-app",
        STAGES,
        {"variables": {"A": "1"}},
        id="fixed",
        status="active",
        created_at=when,
        secrets=["TOKEN"],
        triggers={"manual": {}},
    )
    assert (pipeline.id, pipeline.status, pipeline.created_at) == ("fixed", "active", when)
    assert pipeline.config.variables == {"A": "1"}
    assert pipeline.config.secrets == ("TOKEN",)
    assert pipeline.config.triggers.manual is not None
    assert pipeline.config.triggers.push is None


def test_create_pipeline_diagnostics_carry_model_paths() -> None:
    stages = [
        *STAGES,
        {"name": "test", "jobs": [{"name": "unit", "needs": ["compil"], "steps": [{"run": "x"}]}]},
    ]
    with pytest.raises(ValueError) as info:
        create_pipeline("web-app", stages)
    assert isinstance(info.value, PipelineValidationError)
    assert [d.format() for d in info.value.diagnostics] == [
        'stages[1].jobs[0].needs[0]: job "unit" needs unknown job "compil"; '
        'did you mean "compile"? [job-needs]'
    ]
    with pytest.raises(PipelineValidationError) as info:
        create_pipeline("web-app", STAGES, trigers={})
    assert [d.format() for d in info.value.diagnostics] == [
        'config.trigers: unknown key "trigers" in "config"; did you mean "triggers"? [unknown-key]'
    ]


def test_create_pipeline_reports_bad_identity_as_diagnostics() -> None:
    with pytest.raises(PipelineValidationError) as info:
        create_pipeline("web-app", STAGES, status="paused", created_at="yesterday")
    found = [d.format() for d in info.value.diagnostics]
    assert found[0].startswith('created_at: "created_at" must be a valid datetime')
    assert found[1] == (
        'status: "status" must be one of "draft", "active" or "archived", '
        'found string "paused" [invalid-value]'
    )


def test_create_pipeline_reports_python_keys_that_are_not_strings() -> None:
    with pytest.raises(PipelineValidationError) as info:
        create_pipeline("web-app", STAGES, variables={1: "x"})
    assert [d.format() for d in info.value.diagnostics] == [
        'config.variables[1]: "variables" keys must be strings, found number 1 [wrong-type]'
    ]
