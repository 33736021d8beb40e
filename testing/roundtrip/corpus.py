"""The shared corpus of real-world CI files, and importing all of it.

The corpus lives beside the checkout (``../shared/corpus``); tests that read it skip when it is
absent. ``SOURCES.tsv`` names each flattened GitLab file's repository and path, so that
``corpus_repo_trees`` can lay the files out again and local includes resolve.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The shared corpus sits beside the checkout (../shared/corpus), in CI as on a laptop.
CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus"
GITHUB_DIRS = ("github", "schemastore/github-workflow/valid")
GITLAB_DIRS = ("gitlab", "schemastore/gitlab-ci/valid", "gitlab-schema-tests/valid")


@dataclass(frozen=True)
class CorpusImport:
    """One corpus file and what importing it gave: the result, or the one-line error."""

    provider: str
    path: Path
    text: str
    result: Any  # an ImportResult, or None when the import failed
    error: str | None
    base_dir: Path | None

    @property
    def label(self) -> str:
        return str(self.path.relative_to(CORPUS))


def corpus_files(provider: str) -> list[Path]:
    dirs = GITHUB_DIRS if provider == "github" else GITLAB_DIRS
    return [p for d in dirs for p in sorted((CORPUS / d).glob("*")) if p.is_file()]


def corpus_repo_trees(dest: Path) -> dict[str, Path]:
    """Lay the flattened GitLab corpus files out as their repositories (SOURCES.tsv gives
    each file's repository and path) under ``dest``, so that local includes resolve.
    Returns the corpus-relative path of each file -> its repository root."""
    out: dict[str, Path] = {}
    for line in (CORPUS / "SOURCES.tsv").read_text(encoding="utf-8").splitlines()[1:]:
        cols = line.split("\t")
        if len(cols) < 3 or not cols[0].startswith("gitlab/"):
            continue
        local, repo, path = cols[0], cols[1], cols[2]
        root = dest / repo.replace("/", "__")
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes((CORPUS / local).read_bytes())
        out[local] = root
    return out


def import_corpus(provider: str, trees: Mapping[str, Path] | None = None) -> list[CorpusImport]:
    """Import every corpus file of ``provider``; GitLab files with their repository tree as
    the base folder when the includes resolve there, else without one."""
    from codomyrmex.ci_cd_automation.translators.github_import import import_github
    from codomyrmex.ci_cd_automation.translators.gitlab_import import import_gitlab

    out: list[CorpusImport] = []
    for path in corpus_files(provider):
        text = path.read_text(encoding="utf-8", errors="replace")
        label = str(path.relative_to(CORPUS))
        base = (trees or {}).get(label)
        attempts: list[Path | None] = [base, None] if base else [None]
        result, error, used = None, None, None
        for base_dir in attempts:
            try:
                if provider == "github":
                    result = import_github(text, path.name)
                else:
                    result = import_gitlab(text, path.name, base_dir=base_dir)
            except ValueError as exc:
                error = str(exc)
                continue
            error, used = None, base_dir
            break
        out.append(CorpusImport(provider, path, text, result, error, used))
    return out
