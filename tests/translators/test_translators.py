"""Translator behaviours that the golden cases do not show, one test per past bug."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from codomyrmex.ci_cd_automation import Rendering, create_pipeline, render
from codomyrmex.ci_cd_automation.model.loader import load_pipeline
from codomyrmex.ci_cd_automation.translators import fidelity_losses

WORKFLOW = ".github/workflows/p.yml"
GITLAB = ".gitlab-ci.yml"


def _render(job: dict[str, Any], **config: Any) -> Rendering:
    stages = [{"name": "s", "jobs": [{"name": "j", "steps": [{"run": "true"}], **job}]}]
    return render(create_pipeline("p", stages, config))


def _load(text: str, version: tuple[int, int] | None = None) -> Any:
    yaml = YAML(typ="safe", pure=True)
    if version:
        yaml.version = version
    return yaml.load(text)


def _rules(rendering: Rendering) -> list[str]:
    return [loss.rule for loss in rendering.losses]


def test_gitlab_file_reads_the_same_as_yaml_1_1() -> None:
    # GitLab's parser is YAML 1.1: plain on, no, y and 1:20 are booleans and numbers there.
    rendering = _render({"env": {"A": "on", "B": "no", "C": "1:20", "D": "0777"}})
    variables = _load(rendering.files[GITLAB], (1, 1))["j"]["variables"]
    assert {k: variables[k] for k in "ABCD"} == {"A": "on", "B": "no", "C": "1:20", "D": "0777"}


def test_values_keep_their_bytes() -> None:
    values = {"A": "a\nb", "B": "a\nb\n\n", "C": "a\r\nb\n", "D": "x\u2028y", "E": "a\x1bb"}
    rendering = _render({"env": values})
    github = _load(rendering.files[WORKFLOW])["jobs"]["j"]["env"]
    gitlab = _load(rendering.files[GITLAB], (1, 1))["j"]["variables"]
    for name, value in values.items():
        assert github[name] == value
        assert gitlab[name] == value


def test_gitlab_cache_key_has_no_slash() -> None:
    rendering = _render({"cache": {"key": "pip/linux", "paths": [".cache"]}})
    assert _load(rendering.files[GITLAB])["j"]["cache"]["key"] == "pip-linux"
    assert "cache-key" in _rules(rendering)


def test_gitlab_cache_key_keeps_text_after_the_hash_in_the_prefix() -> None:
    key = "go-${{ hash('go.sum') }}-v2"
    rendering = _render({"cache": {"key": key, "paths": [".gocache"]}})
    cache = _load(rendering.files[GITLAB])["j"]["cache"]
    assert cache["key"] == {"files": ["go.sum"], "prefix": "go-v2"}
    assert "hash" not in _rules(rendering)


def test_a_default_before_script_is_reported() -> None:
    rendering = _render({}, gitlab={"default": {"before_script": ["echo hi"]}})
    assert "prelude" in _rules(rendering)


def test_github_hash_outside_steps_becomes_the_commit_sha() -> None:
    rendering = _render({"image": "app:${{ hash('Dockerfile') }}"})
    job = _load(rendering.files[WORKFLOW])["jobs"]["j"]
    assert job["container"] == "app:${{ github.sha }}"
    assert "hash" in _rules(rendering)


def test_github_ci_environment_is_translated_too() -> None:
    rendering = _render(
        {"environment": "review-${{ vars.V }}", "env": {"E": "${{ ci.environment }}"}},
        variables={"V": "x"},
    )
    job = _load(rendering.files[WORKFLOW])["jobs"]["j"]
    assert job["environment"] == "review-x"
    assert job["env"]["E"] == "review-x"


def test_a_runner_label_list_is_kept_verbatim() -> None:
    rendering = _render({"runs_on": ["self-hosted", "linux", "arm64"]})
    assert _load(rendering.files[WORKFLOW])["jobs"]["j"]["runs-on"] == [
        "self-hosted",
        "linux",
        "arm64",
    ]
    assert _load(rendering.files[GITLAB])["j"]["tags"] == ["self-hosted", "linux", "arm64"]


def test_manual_event_keeps_its_parentheses_next_to_other_tests() -> None:
    rendering = _render(
        {"when": {"events": ["manual"], "variables": {"V": "x"}}}, variables={"V": "x"}
    )
    rule = _load(rendering.files[GITLAB])["j"]["rules"][0]["if"]
    assert rule == '($CI_PIPELINE_SOURCE == "web" || $CI_PIPELINE_SOURCE == "api") && $V == "x"'


def test_gitlab_environment_url_from_one_template_is_a_bare_variable() -> None:
    # GitLab's schema: environment:url is http(s)://... or $VARIABLE; ${VARIABLE} is refused.
    rendering = _render(
        {"environment": {"name": "prod", "url": "${{ vars.URL }}"}},
        variables={"URL": "https://example.com"},
    )
    assert _load(rendering.files[GITLAB])["j"]["environment"]["url"] == "$URL"


def test_unpinned_user_actions_are_reported_for_github() -> None:
    # zizmor's unpinned-uses flags actions referenced by tag or branch.
    rendering = _render({"steps": [{"uses": "someone/thing@main"}, {"uses": "./local"}]})
    assert _rules(rendering).count("uses-unpinned") == 1


def test_the_fidelity_report_alone_equals_the_one_render_gives() -> None:
    cases = sorted((Path(__file__).resolve().parents[2] / "fixtures" / "translate").glob("*"))
    assert len(cases) > 10
    for case in cases:
        pipeline = load_pipeline(case / "pipeline.yaml")
        for target in ("github", "gitlab", "all"):
            assert fidelity_losses(pipeline, target) == render(pipeline, target).losses, case


def test_rendering_from_many_threads_at_once_gives_the_same_files() -> None:
    from concurrent.futures import ThreadPoolExecutor

    from codomyrmex.ci_cd_automation import create_pipeline, render

    pipeline = create_pipeline(
        "threads",
        [
            {
                "name": "s",
                "jobs": [
                    {"name": f"j{n}", "matrix": {"py": ["3.11", "3.12"]}, "steps": [{"run": "x"}]}
                    for n in range(20)
                ],
            }
        ],
    )
    expected = render(pipeline).files
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: render(pipeline).files, range(64)))
    assert all(files == expected for files in results)
