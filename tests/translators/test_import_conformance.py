"""Import conformance: a GitLab file and its re-generated form give the same job outcomes.

Each ``fixtures/import-conformance/<case>/.gitlab-ci.yml`` is a shell-only pipeline. The
test runs it in gitlab-ci-local, imports it (``import_gitlab`` -> ``pipeline_from_data`` ->
``render(pipeline, "gitlab")``), runs the generated file the same way, and compares the
outcome of every job (success, failed, skipped; a failure that was allowed counts as
"warning"). Jobs the importer renamed are mapped back to their original names; matrix jobs
are compared by their expanded names (``suite: [3.11, sqlite]``), which both files share.

gitlab-ci-local never starts a job whose ``needs`` job was skipped, even an ``always`` or
``on_failure`` one (real GitLab does); the cases avoid that shape. A missing
gitlab-ci-local fails the test (judges.JudgeToolMissing), it never skips.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from codomyrmex.ci_cd_automation.model.loader import pipeline_from_data
from codomyrmex.ci_cd_automation.translators import render
from codomyrmex.ci_cd_automation.translators.gitlab_import import import_gitlab
from testing.judges import RunResult, run_gitlab_ci_local

CASES_DIR = Path(__file__).resolve().parents[2] / "fixtures" / "import-conformance"
CASES = sorted(p.name for p in CASES_DIR.iterdir() if (p / ".gitlab-ci.yml").is_file())


def _outcomes(result: RunResult) -> dict[str, str]:
    return {
        name: "warning" if name in result.allowed_failures else outcome
        for name, outcome in result.outcomes.items()
    }


def _map_back(outcomes: dict[str, str], renames: dict[str, str]) -> dict[str, str]:
    """Generated job names (``build_linux: [a]``) as the original ones (``build:linux: [a]``)."""
    out = {}
    for name, outcome in outcomes.items():
        base, sep, rest = name.partition(": [")
        original = renames.get(base, base)
        out[f"{original}{sep}{rest}"] = outcome
    return out


def test_there_are_enough_cases() -> None:
    assert len(CASES) >= 6, CASES


@pytest.mark.parametrize("case", CASES)
def test_generated_file_gives_the_same_outcomes(case: str, tmp_path: Path) -> None:
    source = CASES_DIR / case / ".gitlab-ci.yml"
    original = run_gitlab_ci_local(source.parent)

    result = import_gitlab(source.read_text(encoding="utf-8"), ".gitlab-ci.yml")
    pipeline = pipeline_from_data(result.data)
    generated = render(pipeline, "gitlab").files[".gitlab-ci.yml"]
    (tmp_path / ".gitlab-ci.yml").write_text(generated, encoding="utf-8")
    again = run_gitlab_ci_local(tmp_path)

    renames = {
        n.renamed_to: str(n.path[-1])
        for n in result.notes
        if n.rule == "job-rename" and n.renamed_to is not None
    }
    want = _outcomes(original)
    got = _map_back(_outcomes(again), renames)
    assert want, f"{case}: gitlab-ci-local reported no job"
    assert got == want, f"{case}: generated file:\n{generated}"
