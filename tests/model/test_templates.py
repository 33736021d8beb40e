"""Neutral templates: parsing references and hash() calls, and rejecting everything else."""

from __future__ import annotations

import pytest

from codomyrmex.ci_cd_automation.model.templates import (
    HashCall,
    Ref,
    TemplateSyntaxError,
    expressions,
    split_template,
)


def test_split_keeps_literal_text_and_parses_references() -> None:
    parts = split_template("python:${{ matrix.python }}-slim")
    assert parts == ["python:", Ref("matrix", ("python",)), "-slim"]


def test_needs_and_steps_references_keep_all_parts() -> None:
    assert expressions("${{ needs.build.outputs.version }}") == [
        Ref("needs", ("build", "outputs", "version"))
    ]
    assert expressions("a${{steps.ver.outputs.v}}b") == [Ref("steps", ("ver", "outputs", "v"))]


def test_hash_takes_quoted_globs() -> None:
    assert expressions("pip-${{ hash('requirements*.txt', 'setup.cfg') }}") == [
        HashCall(("requirements*.txt", "setup.cfg"))
    ]


@pytest.mark.parametrize(
    "text",
    [
        "${{ matrix.python == '3.12' }}",
        "${{ hashFiles('x') }}",
        "${{ hash() }}",
        "${{ hash(x) }}",
        "${{ 1 }}",
        "${{ matrix }}",
        "unclosed ${{ matrix.python",
    ],
)
def test_anything_else_is_a_syntax_error(text: str) -> None:
    with pytest.raises(TemplateSyntaxError):
        split_template(text)


def test_text_without_templates_is_untouched() -> None:
    assert split_template("echo $HOME") == ["echo $HOME"]
    assert expressions("echo $HOME") == []
