"""Cross-provider output over the corpus: every corpus file that imports is
generated for the OTHER provider, and the target's judges read all of it in batches.

* GitHub output (from GitLab files): check-jsonschema (vendor.github-workflows), actionlint
  with shellcheck, zizmor --offline.
* GitLab output (from GitHub files): check-jsonschema (vendor.gitlab-ci, gitlab-ci data
  transform) and gitlab-ci-local --list.

A judge finding fails the test unless it is about the input itself, carried over verbatim,
and the fidelity report says so where it can:

* actionlint ``runner-label``: GitLab tags name self-hosted runners, so the actionlint config
  declares the labels the generated workflows use (what a user of those runners would
  write); a label with an unexpandable ``$VAR`` must come with a ``runner-label`` loss.
* shellcheck findings in the corpus authors' own scripts (quoting style and the like) are
  counted and printed, not failed; one in a script the generator wrote fails.
* zizmor ``unpinned-images`` must come with an ``image-unpinned`` loss; ``adhoc-packages``
  and ``use-trusted-publishing`` are about the authors' scripts and steps.

The losses are spot-checked as well: a GitHub construct kept in a step's ``github:`` escape
hatch (an untranslatable step ``if:``) gives a ``step-github`` loss on GitLab.
"""

from __future__ import annotations

import bisect
import collections
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from codomyrmex.ci_cd_automation.model.loader import pipeline_from_data
from codomyrmex.ci_cd_automation.translators import Rendering, render
from codomyrmex.ci_cd_automation.translators.github_import import import_github
from testing.judges import (
    Finding,
    findings_actionlint,
    findings_github_schema,
    findings_gitlab_ci_local,
    findings_gitlab_schema,
    findings_zizmor,
)
from testing.roundtrip import CORPUS, corpus_repo_trees, import_corpus

needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"corpus not found at {CORPUS}")

# Step names of the scripts the generator writes itself (translators/github.py).
GENERATED_STEPS = re.compile(r"^(Pack artifacts \(|Unpack artifacts)")
# shellcheck findings in generated scripts that are known and harmless (none today).
KNOWN_GENERATED: frozenset[str] = frozenset()
# zizmor audits about the authors' own scripts and steps, carried over verbatim.
AUTHORED_AUDITS = frozenset({"adhoc-packages", "use-trusted-publishing"})


@dataclass(frozen=True)
class Output:
    """One generated file of the other provider, with its rendering."""

    source: str  # the corpus file, relative to the corpus
    file: Path
    rendering: Rendering


def _generate(provider: str, folder: Path, trees: dict[str, Path]) -> list[Output]:
    target = "gitlab" if provider == "github" else "github"
    out: list[Output] = []
    for item in import_corpus(provider, trees):
        if item.result is None:
            continue
        rendering = render(pipeline_from_data(item.result.data), target)
        (text,) = rendering.files.values()
        file = folder / (item.label.replace("/", "__").rsplit(".", 1)[0] + ".yml")
        file.write_text(text, encoding="utf-8")
        out.append(Output(item.label, file, rendering))
    return out


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Output]]:
    """Target provider -> the generated files (GitHub from GitLab sources and back)."""
    base = tmp_path_factory.mktemp("cross")
    trees = corpus_repo_trees(base / "repos")
    result = {}
    for provider, target in (("gitlab", "github"), ("github", "gitlab")):
        folder = base / target
        folder.mkdir()
        result[target] = _generate(provider, folder, trees if provider == "gitlab" else {})
        assert result[target], f"no {provider} corpus file imported"
    return result


def _by_file(outputs: list[Output]) -> dict[Path, Output]:
    return {o.file: o for o in outputs}


def _rules(output: Output) -> set[str]:
    return {loss.rule for loss in output.rendering.losses}


def _fail_on(label: str, findings: list[Finding]) -> None:
    counts = collections.Counter(f.rule for f in findings)
    assert not findings, f"{label}: {len(findings)} finding(s) {dict(counts)}\n" + "\n".join(
        str(f)[:300] for f in findings[:40]
    )


@needs_corpus
def test_github_output_is_schema_valid(outputs: dict[str, list[Output]]) -> None:
    _fail_on("check-jsonschema", findings_github_schema([o.file for o in outputs["github"]]))


@needs_corpus
def test_gitlab_output_is_schema_valid(outputs: dict[str, list[Output]]) -> None:
    _fail_on("check-jsonschema", findings_gitlab_schema([o.file for o in outputs["gitlab"]]))


@needs_corpus
def test_gitlab_output_is_read_by_gitlab_ci_local(outputs: dict[str, list[Output]]) -> None:
    _fail_on("gitlab-ci-local", findings_gitlab_ci_local([o.file for o in outputs["gitlab"]]))


def _runner_labels(files: list[Path]) -> list[str]:
    """The runner labels the workflows name: GitLab tags, verbatim, which name self-hosted
    runners (declaring a GitHub-hosted label as well changes nothing for actionlint)."""
    labels: set[str] = set()
    reader = YAML(typ="safe", pure=True)
    for file in files:
        doc = reader.load(file.read_text(encoding="utf-8"))
        for job in (doc.get("jobs") or {}).values():
            runs_on = job.get("runs-on") if isinstance(job, dict) else None
            for label in [runs_on] if isinstance(runs_on, str) else runs_on or []:
                if "$" not in str(label):
                    labels.add(str(label))
    return sorted(labels)


def _step_lines(file: Path) -> tuple[list[int], list[bool]]:
    """First line of every step in the file, sorted, and whether the generator wrote it."""
    doc: Any = YAML(typ="rt").load(file.read_text(encoding="utf-8"))
    starts: list[tuple[int, bool]] = []
    for job in (doc.get("jobs") or {}).values():
        for step in job.get("steps") or []:
            env = step.get("env") or {}
            owned = bool(GENERATED_STEPS.match(str(step.get("name", "")))) or "CICD_SCRIPT" in env
            starts.append((step.lc.line + 1, owned))
    starts.sort()
    return [s for s, _ in starts], [o for _, o in starts]


@needs_corpus
def test_github_output_passes_actionlint(outputs: dict[str, list[Output]], tmp_path: Path) -> None:
    files = [o.file for o in outputs["github"]]
    labels = _runner_labels(files)
    config = tmp_path / "actionlint.yaml"
    config.write_text(
        "self-hosted-runner:\n  labels:\n" + "".join(f"    - {label!r}\n" for label in labels)
        if labels
        else "{}\n"
    )
    by_file = _by_file(outputs["github"])
    steps = {f: _step_lines(f) for f in files}
    failing: list[Finding] = []
    authored: collections.Counter[str] = collections.Counter()
    for finding in findings_actionlint(files, config_file=config):
        output = by_file[finding.file]
        if finding.rule == "runner-label" and "runner-label" in _rules(output):
            continue
        if finding.rule == "shellcheck":
            line = int(finding.message.split(":", 1)[0])
            starts, owned = steps[finding.file]
            at = bisect.bisect_right(starts, line) - 1
            match = re.search(r"SC\d+", finding.message)
            code = match.group(0) if match else "?"
            if at >= 0 and not owned[at]:
                authored[code] += 1
                continue
            if code in KNOWN_GENERATED:
                authored[f"{code} (generated)"] += 1
                continue
        failing.append(finding)
    print(
        f"actionlint: {len(files)} workflows, {len(labels)} self-hosted labels declared; "
        f"shellcheck findings in the authors' scripts: {sum(authored.values())} "
        f"{dict(authored.most_common(8))}"
    )
    _fail_on("actionlint", failing)


@needs_corpus
def test_github_output_passes_zizmor(outputs: dict[str, list[Output]]) -> None:
    by_file = _by_file(outputs["github"])
    failing: list[Finding] = []
    authored: collections.Counter[str] = collections.Counter()
    for finding in findings_zizmor(list(by_file)):
        output = by_file.get(finding.file)
        if output is None:
            output = next((o for o in by_file.values() if o.file.name == finding.file.name), None)
        assert output is not None, f"zizmor named an unknown file: {finding}"
        if finding.rule == "unpinned-images" and "image-unpinned" in _rules(output):
            authored[finding.rule] += 1
            continue
        if finding.rule in AUTHORED_AUDITS:
            authored[finding.rule] += 1
            continue
        failing.append(finding)
    print(f"zizmor: findings about the authors' input, reported: {dict(authored)}")
    _fail_on("zizmor", failing)


# --- losses ----------------------------------------------------------------------------------

STEP_IF = """\
on: push
jobs:
  a:
    runs-on: ubuntu-latest
    steps:
      - id: probe
        run: echo "ok=yes" >> "$GITHUB_OUTPUT"
      - run: echo only when probed
        if: steps.probe.outputs.ok == 'yes' && hashFiles('x') != ''
"""


def test_untranslatable_step_if_is_a_gitlab_loss() -> None:
    data = import_github(STEP_IF, "step-if.yml").data
    losses = render(pipeline_from_data(data), "gitlab").losses
    assert [(loss.path, loss.rule) for loss in losses if loss.rule == "step-github"] == [
        (("stages", 0, "jobs", 0, "steps", 1, "github"), "step-github")
    ]


@needs_corpus
def test_every_github_only_step_is_a_gitlab_loss() -> None:
    """Across the corpus: each step kept for GitHub (a ``github:`` hatch, or an action with no
    GitLab replacement) is named in the GitLab rendering's losses."""
    missing: list[str] = []
    for item in import_corpus("github"):
        if item.result is None:
            continue
        losses = {
            (loss.path, loss.rule)
            for loss in render(pipeline_from_data(item.result.data), "gitlab").losses
        }
        for si, stage in enumerate(item.result.data["stages"]):
            for ji, job in enumerate(stage["jobs"]):
                for i, step in enumerate(job.get("steps") or []):
                    path = ("stages", si, "jobs", ji, "steps", i)
                    if "github" in step and ((*path, "github"), "step-github") not in losses:
                        missing.append(f"{item.label}: {path} github")
                    if "uses" in step and "gitlab" not in step and (path, "uses") not in losses:
                        missing.append(f"{item.label}: {path} uses")
    assert not missing, "\n".join(missing[:40])
