"""The shell the translators generate themselves: clean for shellcheck, and correct when run."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from codomyrmex.ci_cd_automation.translators.gitlab import PRELUDE
from codomyrmex.ci_cd_automation.translators.shell import (
    glob_word,
    pack_artifacts,
    read_step_output,
    retry_loop,
    rewrite_script,
    script_var,
    unpack_artifacts,
)
from testing.judges import check_shellcheck

RETRY = retry_loop(3, 'bash -eo pipefail -c "$CICD_SCRIPT"')
PACK = pack_artifacts(
    ["dist/", "build/*.whl", "docs/user guide.pdf", "reports/${PYTHON}/**"],
    "$RUNNER_TEMP/cicd.build.a.tar",
)
UNPACK_HERE = unpack_artifacts("$RUNNER_TEMP/cicd-artifacts", None)
UNPACK_INTO = unpack_artifacts("$RUNNER_TEMP/cicd-artifacts/explicit-2", "downloaded/build output")


@pytest.mark.parametrize(
    "script",
    [RETRY, PACK, UNPACK_HERE, UNPACK_INTO],
    ids=["retry_loop", "pack_artifacts", "unpack_artifacts", "unpack_artifacts_into"],
)
def test_github_snippets_pass_shellcheck(script: str) -> None:
    check_shellcheck(script, "bash")


def test_gitlab_prelude_and_output_reading_pass_shellcheck() -> None:
    script = "\n".join([*PRELUDE, read_step_output("CICD_STEPS_META_VERSION", "version")])
    check_shellcheck(script + "\n", "sh")


# --- templates never survive in scripts ------------------------------------------------

_LITERAL = st.text(alphabet=st.characters(blacklist_characters="$"), max_size=12) | st.sampled_from(
    ["$", "${", "$HOME", "${HOME}", "{{", "}}", "$ {{", "'", '"', "\n", ": "]
)
_TEMPLATE = st.sampled_from(
    [
        "${{ matrix.python }}",
        "${{vars.APP}}",
        "${{ inputs.target }}",
        "${{ env.FOO }}",
        "${{ secrets.TOKEN }}",
        "${{ ci.sha }}",
        "${{ ci.run_id }}",
        "${{ needs.build.outputs.version }}",
        "${{ steps.meta.outputs.image-tag }}",
        "${{ hash('requirements.txt') }}",
        "${{ hash('a/**/*.lock', 'b.txt') }}",
    ]
)


@given(st.lists(_LITERAL | _TEMPLATE, max_size=8))
def test_rewrite_script_leaves_no_template(pieces: list[str]) -> None:
    text = "".join(pieces)
    try:
        out, used = rewrite_script(text)
    except ValueError:
        return  # literal pieces joined into an invalid "${{": the loader rejects those
    assert "${{" not in out
    for expr in used:
        assert "${" + script_var(expr) + "}" in out


def test_rewrite_script_examples() -> None:
    out, used = rewrite_script('echo "${{ matrix.python }}" ${{ ci.sha }} "${{ hash(\'x\') }}"')
    assert "${{" not in out
    assert out.startswith('echo "${python}" ${CICD_SHA} "${CICD_HASH_')
    assert len(used) == 3
    assert rewrite_script("plain $HOME text") == ("plain $HOME text", [])


def test_glob_word_keeps_wildcards_and_variables_live() -> None:
    assert glob_word("dist/*.whl") == "dist/*.whl"
    assert glob_word("docs/user guide.pdf") == "'docs/user guide.pdf'"
    assert glob_word("reports/${python}-${os}.xml") == 'reports/"${python}"-"${os}".xml'
    assert glob_word("$HOME/x") == "'$HOME/x'"


# --- behaviour: run the snippets ----------------------------------------------------------


def _bash(
    script: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-eo", "pipefail", "-c", script],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_retry_loop_retries_until_success(tmp_path: Path) -> None:
    # Fails on the first attempt, succeeds on the second.
    command = 'n=$(cat count 2>/dev/null || echo 0); echo $((n + 1)) > count; [ "$n" -ge 1 ]'
    proc = _bash(
        retry_loop(3, 'bash -eo pipefail -c "$CICD_SCRIPT"'), tmp_path, {"CICD_SCRIPT": command}
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "count").read_text().strip() == "2"
    assert "retrying: attempt 2 of 3" in proc.stderr


def test_retry_loop_gives_up_after_the_last_attempt(tmp_path: Path) -> None:
    command = "n=$(cat count 2>/dev/null || echo 0); echo $((n + 1)) > count; exit 3"
    proc = _bash(
        retry_loop(3, 'bash -eo pipefail -c "$CICD_SCRIPT"'), tmp_path, {"CICD_SCRIPT": command}
    )
    assert proc.returncode == 1
    assert (tmp_path / "count").read_text().strip() == "3"
    assert "step failed after 3 attempts" in proc.stderr


def _tree(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): p.read_text()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_pack_and_unpack_round_trip(tmp_path: Path) -> None:
    work, temp, dest = tmp_path / "work", tmp_path / "temp", tmp_path / "dest"
    for folder in (work, temp, dest):
        folder.mkdir()
    files = {
        "dist/app 1.0.tar.gz": "sdist",
        "dist/.hidden": "dot file",
        "dist/sub dir/.config/x y.txt": "nested",
        "build/a.whl": "wheel a",
        "build/b.whl": "wheel b",
        "build/skip.txt": "not matched",
        "docs/user guide.pdf": "pdf",
        "reports/3.12/junit.xml": "<xml/>",
        "reports/3.11/junit.xml": "other leg",
    }
    for rel, text in files.items():
        (work / rel).parent.mkdir(parents=True, exist_ok=True)
        (work / rel).write_text(text)
    paths = ["dist/", "build/*.whl", "docs/user guide.pdf", "reports/${python}/**", "missing/"]
    # One artifact per download folder, as actions/download-artifact lays them out: in a
    # folder named after the artifact, or (one artifact matched) flat in the target folder.
    nested = temp / "cicd-artifacts" / "cicd.build.a"
    nested.mkdir(parents=True)
    proc = _bash(pack_artifacts(paths, str(nested / "cicd.build.a.tar")), work, {"python": "3.12"})
    assert proc.returncode == 0, proc.stderr
    proc = _bash(unpack_artifacts(str(temp / "cicd-artifacts"), None), dest)
    assert proc.returncode == 0, proc.stderr
    expected = {
        k: v for k, v in files.items() if k not in ("build/skip.txt", "reports/3.11/junit.xml")
    }
    assert _tree(dest) == expected

    flat = temp / "flat"
    flat.mkdir()
    (nested / "cicd.build.a.tar").rename(flat / "cicd.build.a.tar")
    proc = _bash(unpack_artifacts(str(flat), "into here"), dest)
    assert proc.returncode == 0, proc.stderr
    assert _tree(dest / "into here") == expected


def test_pack_without_matches_writes_no_archive(tmp_path: Path) -> None:
    proc = _bash(pack_artifacts(["nothing/", "*.none"], str(tmp_path / "a.tar")), tmp_path)
    assert proc.returncode == 0
    assert "no artifact files matched" in proc.stderr
    assert not (tmp_path / "a.tar").exists()


def test_read_step_output_takes_the_last_value_and_exports_it(tmp_path: Path) -> None:
    output = tmp_path / "out"
    output.write_text("version=1.0\nother=x\nversion=1.1\n")
    script = (
        read_step_output("CICD_STEPS_META_VERSION", "version")
        + "\nsh -c 'echo \"$CICD_STEPS_META_VERSION\"'"
    )
    proc = subprocess.run(
        ["sh", "-ec", script],
        env={**os.environ, "CICD_OUTPUT": str(output)},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "1.1\n"
