"""``cicd audit`` over the whole shared corpus: every file gets a verdict, none a traceback.

The corpus (``../shared/corpus``, real workflows and GitLab files plus SchemaStore's and
GitLab's schema test files) is read in place, never copied. Provider detection is checked
against the folder each file comes from; each failure must be one line naming the file.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from codomyrmex.ci_cd_automation.audit import AuditReport, audit_paths

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"shared corpus not found at {CORPUS}")
FOLDER_PROVIDER = {"github": "github", "gitlab": "gitlab", "gitlab-schema-tests": "gitlab"}


@pytest.fixture(scope="module")
def report() -> AuditReport:
    return audit_paths([CORPUS])


def _folder(path: str) -> str:
    return Path(path).relative_to(CORPUS).parts[0]


def test_every_corpus_file_gets_a_verdict(report: AuditReport) -> None:
    ci_files = [
        p for p in CORPUS.rglob("*") if p.is_file() and p.suffix in (".yml", ".yaml", ".json")
    ]
    assert len(report.files) == len(ci_files) > 200
    for verdict in report.files:
        if verdict.status in ("failed", "skipped"):
            assert verdict.reason and "\n" not in verdict.reason, verdict
            assert "Traceback" not in verdict.reason


def test_real_files_are_detected_as_their_provider(report: AuditReport) -> None:
    for verdict in report.files:
        expected = FOLDER_PROVIDER.get(_folder(verdict.path))
        if expected and verdict.status != "skipped":
            assert verdict.provider == expected, verdict.path
        if _folder(verdict.path) == "github":
            # Every real workflow is recognised (none is skipped as "not a CI file").
            assert verdict.status != "skipped", verdict


def test_real_workflows_mostly_import(report: AuditReport) -> None:
    github = [f for f in report.files if _folder(f.path) == "github"]
    imported = [f for f in github if f.status in ("full", "partial")]
    # Floor measured when written: 52 of 53 (the one failure calls reusable workflows only).
    assert len(imported) >= 52, [f for f in github if f.status == "failed"]


def test_the_summary_adds_up(report: AuditReport) -> None:
    totals = report.totals()
    assert sum(totals.values()) == len(report.files)
    by_provider = report.by_provider()
    assert sum(sum(row.values()) for row in by_provider.values()) == sum(
        totals[s] for s in ("full", "partial", "failed")
    )
    text = report.format()
    assert "file(s) audited" in text and "most frequent reasons (files):" in text
