"""Golden translation fixtures: ``fixtures/translate/<case>/``.

Each case holds ``pipeline.yaml`` and, under ``expected/``, the byte-exact files that
``cicd generate pipeline.yaml`` writes (``.github/workflows/<name>.yml``, ``.gitlab-ci.yml``)
and ``losses.txt``, the fidelity lines it prints. The expected files are regenerated only
with ``CICD_REGEN_GOLDEN=1`` and reviewed as a diff; the external judges then hold the
expected files (not the renderer's output) to the providers' schemas and linters.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from codomyrmex.ci_cd_automation import load_pipeline, render
from testing.judges import (
    check_actionlint,
    check_github_schema,
    check_gitlab_ci_local_list,
    check_gitlab_schema,
    check_zizmor,
)

ROOT = Path(__file__).resolve().parents[2]
CASES_DIR = ROOT / "fixtures" / "translate"
CASES = sorted(p.name for p in CASES_DIR.iterdir() if (p / "pipeline.yaml").is_file())
REGEN = os.environ.get("CICD_REGEN_GOLDEN") == "1"
LOSSES = "losses.txt"


def _rendered(case: str) -> dict[str, str]:
    """The files and loss lines of a case, as ``cicd generate pipeline.yaml`` makes them.

    The pipeline is loaded by its bare name from inside the case folder, so positions in
    the loss lines read ``pipeline.yaml:LINE:COL`` as they do for a user in that folder.
    """
    with contextlib.chdir(CASES_DIR / case):
        pipeline = load_pipeline("pipeline.yaml")
        rendering = render(pipeline)
        lines = [loss.format(pipeline.source) for loss in rendering.losses]
    files = dict(rendering.files)
    files[LOSSES] = "".join(line + "\n" for line in lines)
    return files


def _expected(case: str) -> dict[str, str]:
    folder = CASES_DIR / case / "expected"
    if not folder.is_dir():
        return {}
    return {
        p.relative_to(folder).as_posix(): p.read_text(encoding="utf-8")
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _write_expected(case: str, files: dict[str, str]) -> None:
    folder = CASES_DIR / case / "expected"
    shutil.rmtree(folder, ignore_errors=True)
    for rel, text in files.items():
        target = folder / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8", newline="\n")


def _workflow(case: str) -> Path:
    found = sorted((CASES_DIR / case / "expected" / ".github" / "workflows").glob("*.yml"))
    assert len(found) == 1, f"{case}: expected exactly one workflow, found {found}"
    return found[0]


def test_cases_exist() -> None:
    assert len(CASES) >= 14


@pytest.mark.parametrize("case", CASES)
def test_golden(case: str) -> None:
    files = _rendered(case)
    if REGEN:
        _write_expected(case, files)
    expected = _expected(case)
    assert sorted(files) == sorted(expected), (
        f"{case}: generated files differ from expected/ (run with CICD_REGEN_GOLDEN=1)"
    )
    for rel, text in files.items():
        assert text == expected[rel], (
            f"{case}: {rel} differs from the golden file (review, then CICD_REGEN_GOLDEN=1)"
        )


@pytest.mark.parametrize("case", CASES)
def test_deterministic(case: str) -> None:
    assert _rendered(case) == _rendered(case)


@pytest.mark.parametrize("case", CASES)
def test_cli_prints_losses_and_agrees(case: str) -> None:
    """``cicd generate --check`` in a fresh interpreter (another hash seed) prints exactly
    ``losses.txt`` and finds the expected files up to date, byte for byte."""
    env = {**os.environ, "PYTHONHASHSEED": str(1 + CASES.index(case))}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "codomyrmex.ci_cd_automation.cli",
            "generate",
            "pipeline.yaml",
            "--check",
            "--out",
            "expected",
        ],
        cwd=CASES_DIR / case,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == _expected(case)[LOSSES]


def _walk(
    node: object, path: tuple[str | int, ...] = ()
) -> Iterator[tuple[tuple[str | int, ...], str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _walk(value, (*path, str(key)))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _walk(value, (*path, i))
    elif isinstance(node, str):
        yield path, node


@pytest.mark.parametrize("case", CASES)
def test_github_templates_stay_out_of_scripts(case: str) -> None:
    """No ``${{ }}`` in a ``run:`` script (script injection), and secrets only in ``env:``
    or an action's ``with:``."""
    doc = YAML(typ="safe").load(_workflow(case).read_text(encoding="utf-8"))
    for path, text in _walk(doc):
        if path[-1] == "run":
            assert "${{" not in text, f"{case}: template in the script at {path}"
        if "secrets." in text and "${{" in text:
            assert len(path) >= 2 and path[-2] in ("env", "with"), (
                f"{case}: secret outside env/with at {path}"
            )


@pytest.mark.parametrize("case", CASES)
def test_gitlab_file_has_no_templates(case: str) -> None:
    text = (CASES_DIR / case / "expected" / ".gitlab-ci.yml").read_text(encoding="utf-8")
    assert "${{" not in text


# --- the judges, on the expected files ----------------------------------------------------


@pytest.fixture(scope="module")
def github_judges(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str | None]]:
    """Each GitHub judge run once over every case's workflow: judge name -> failure or None.

    On a failure the per-case tests run that judge again on their own file, so the report
    names the case.
    """
    folder = tmp_path_factory.mktemp("workflows")
    for case in CASES:
        shutil.copy2(_workflow(case), folder / _workflow(case).name)
    assert len(list(folder.iterdir())) == len(CASES), "workflow names must differ across cases"
    results: dict[str, str | None] = {}
    for name, judge in GITHUB_JUDGES.items():
        try:
            judge(folder)
            results[name] = None
        except AssertionError as exc:
            results[name] = str(exc)
    yield results


GITHUB_JUDGES = {
    "schema": check_github_schema,
    "actionlint": check_actionlint,
    "zizmor": check_zizmor,
}


@pytest.mark.parametrize("judge", sorted(GITHUB_JUDGES))
@pytest.mark.parametrize("case", CASES)
def test_github_judges(case: str, judge: str, github_judges: dict[str, str | None]) -> None:
    if github_judges[judge] is not None:
        GITHUB_JUDGES[judge](_workflow(case))


@pytest.mark.parametrize("case", CASES)
def test_gitlab_judges(case: str) -> None:
    folder = CASES_DIR / case / "expected"
    check_gitlab_schema(folder)
    jobs = check_gitlab_ci_local_list(folder, include_never=True)
    assert jobs, f"{case}: gitlab-ci-local lists no job"
