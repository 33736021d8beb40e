"""Running one script: real subprocesses, short timeouts, no assertion on elapsed time."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from codomyrmex.ci_cd_automation.local_runner.masking import SecretMasker
from codomyrmex.ci_cd_automation.local_runner.process import (
    ProcessResult,
    ScriptProcess,
    run_script,
)
from testing.runs import alive, pids_in

# Upper bound for a test's run, a guard against hangs and never a speed assertion.
GUARD = 20.0


def finishes(call: Callable[[], ProcessResult]) -> ProcessResult:
    """Run ``call`` in a thread and fail, rather than hang, if it does not return."""
    results: list[ProcessResult] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            results.append(call())
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(GUARD)
    assert not thread.is_alive(), "did not finish"
    if errors:
        raise errors[0]
    return results[0]


def run(tmp_path: Path, script: str, **kwargs: Any) -> ProcessResult:
    log = tmp_path / "job.log"
    return finishes(lambda: run_script(script, cwd=tmp_path, log_path=log, **kwargs))


def test_exit_codes_pass_through(tmp_path: Path) -> None:
    ok = run(tmp_path, "true")
    assert (ok.exit_code, ok.signal, ok.ok) == (0, None, True)
    assert not ok.timed_out
    assert not ok.cancelled
    failed = run(tmp_path, "echo before; exit 42")
    assert (failed.exit_code, failed.ok) == (42, False)
    # -e and pipefail, as GitHub runs bash: a failing command in a pipe fails the script.
    assert run(tmp_path, "false | true; echo not reached").exit_code == 1
    assert "not reached" not in (tmp_path / "job.log").read_text()


def test_killed_by_signal_is_reported_as_signal(tmp_path: Path) -> None:
    result = run(tmp_path, "kill -KILL $$")
    assert (result.exit_code, result.signal) == (None, signal.SIGKILL)


def test_cwd_and_env(tmp_path: Path) -> None:
    (tmp_path / "work").mkdir()
    env = {"PATH": os.environ["PATH"], "GREETING": "hello"}
    lines: list[str] = []
    result = finishes(
        lambda: run_script(
            'echo "$GREETING from $(basename "$PWD")"; echo "HOME=${HOME:-unset}"',
            cwd=tmp_path / "work",
            env=env,
            log_path=tmp_path / "job.log",
            on_line=lines.append,
        )
    )
    assert result.ok
    assert lines == ["hello from work", "HOME=unset"]


def test_timeout_kills_the_whole_group(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    script = f"sleep 30 & echo $! >> {pids}; (sleep 30; echo late) & echo $! >> {pids}; sleep 30"
    result = run(tmp_path, script, timeout=0.5, grace=1.0)
    assert result.timed_out
    assert not result.cancelled
    assert result.exit_code is None
    assert result.signal == signal.SIGTERM
    for pid in [*pids_in(pids), result.pid]:
        assert not alive(pid)
    assert "late" not in (tmp_path / "job.log").read_text()


def test_sigkill_after_grace_for_members_that_ignore_sigterm(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    script = f"(trap '' TERM; sleep 30) & echo $! >> {pids}; trap '' TERM; sleep 30"
    result = run(tmp_path, script, timeout=0.3, grace=0.3)
    assert result.timed_out
    assert result.signal == signal.SIGKILL
    for pid in [*pids_in(pids), result.pid]:
        assert not alive(pid)


def test_background_processes_do_not_outlive_a_normal_exit(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    # One keeps the output pipe open, one does not: neither may survive, neither may hang us.
    script = f"sleep 30 & echo $! >> {pids}; sleep 30 >/dev/null 2>&1 & echo $! >> {pids}; exit 0"
    result = run(tmp_path, script, grace=1.0)
    assert result.ok
    for pid in pids_in(pids):
        assert not alive(pid)


def test_kept_background_processes_run_and_log_until_stopped(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    log = tmp_path / "job.log"
    script = (
        f"(sleep 0.3; echo later; sleep 30) & echo $! >> {pids}; "
        f"sleep 30 >/dev/null 2>&1 & echo $! >> {pids}; echo now"
    )
    process = ScriptProcess(script, cwd=tmp_path, log_path=log, grace=1.0, keep_background=True)
    result = finishes(process.wait)
    assert result.ok and process.background
    assert "now" in log.read_text()
    assert all(alive(pid) for pid in pids_in(pids))
    end = time.monotonic() + 10
    while "later" not in log.read_text():  # the reader goes on logging them
        assert time.monotonic() < end, log.read_text()
        time.sleep(0.05)
    assert process.stop_background() is True
    assert not process.background
    for pid in pids_in(pids):
        assert not alive(pid)
    assert process.stop_background() is False  # once is enough


def test_a_shell_without_leftovers_has_no_background_to_stop(tmp_path: Path) -> None:
    process = ScriptProcess(
        "echo done", cwd=tmp_path, log_path=tmp_path / "l", keep_background=True
    )
    assert finishes(process.wait).ok
    assert not process.background and process.stop_background() is False


def test_cancel_method_from_another_thread(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    started = tmp_path / "started"
    process = ScriptProcess(
        f"sleep 30 & echo $! >> {pids}; touch {started}; sleep 30",
        cwd=tmp_path,
        log_path=tmp_path / "job.log",
        grace=1.0,
    )
    canceller = threading.Thread(target=when_exists, args=(started, process.cancel))
    canceller.start()
    result = finishes(process.wait)
    canceller.join()
    assert result.cancelled
    assert not result.timed_out
    for pid in [*pids_in(pids), result.pid]:
        assert not alive(pid)
    assert process.wait() is result  # waiting again returns the same result


def test_cancel_event(tmp_path: Path) -> None:
    started = tmp_path / "started"
    event = threading.Event()
    setter = threading.Thread(target=when_exists, args=(started, event.set))
    setter.start()
    result = run(tmp_path, f"touch {started}; sleep 30", cancel_event=event, timeout=GUARD)
    setter.join()
    assert result.cancelled
    assert not result.timed_out


def test_cancel_after_exit_changes_nothing(tmp_path: Path) -> None:
    process = ScriptProcess("exit 3", cwd=tmp_path, log_path=tmp_path / "job.log")
    result = finishes(process.wait)
    process.cancel()
    assert process.wait() == result
    assert (result.exit_code, result.cancelled) == (3, False)


def test_output_order_is_preserved_across_stdout_and_stderr(tmp_path: Path) -> None:
    lines: list[str] = []
    script = "for i in $(seq 1 200); do echo out $i; echo err $i >&2; done; printf 'no newline'"
    result = run(tmp_path, script, on_line=lines.append)
    assert result.ok
    expected = [f"{kind} {i}" for i in range(1, 201) for kind in ("out", "err")] + ["no newline"]
    assert lines == expected
    log = (tmp_path / "job.log").read_text()
    assert log == "\n".join(expected)


def test_masking_applies_to_log_and_lines_also_across_writes(tmp_path: Path) -> None:
    masker = SecretMasker(["s3cr3t-value", "line-one\nline-two"])
    lines: list[str] = []
    script = (
        "printf 'token=s3cr'; sleep 0.05; printf '3t-val'; sleep 0.05; echo 'ue end'\n"
        "echo 'line-two alone' >&2\n"
        "printf 'line-one\\nline-two\\n'\n"
        "echo s3cr3t-values3cr3t-value"
    )
    result = run(tmp_path, script, masker=masker, on_line=lines.append)
    assert result.ok
    assert lines == ["token=*** end", "*** alone", "***", "***"]
    log = (tmp_path / "job.log").read_text()
    assert log == "token=*** end\n*** alone\n***\n***\n"
    assert "s3cr" not in log


def test_log_is_appended_to(tmp_path: Path) -> None:
    run(tmp_path, "echo first")
    run(tmp_path, "echo second")
    assert (tmp_path / "job.log").read_text() == "first\nsecond\n"


def test_undecodable_bytes_are_replaced(tmp_path: Path) -> None:
    lines: list[str] = []
    assert run(tmp_path, r"printf 'caf\303\251 \377\n'", on_line=lines.append).ok
    assert lines == ["café \ufffd"]


def test_large_output_does_not_deadlock(tmp_path: Path) -> None:
    count = 0

    def on_line(line: str) -> None:
        nonlocal count
        count += 1

    # About 5 MB through the pipe, far beyond its buffer, with a secret to mask in every line.
    script = 'awk \'BEGIN { for (i = 0; i < 200000; i++) print "padding " i " hunter22" }\''
    result = run(
        tmp_path, script, masker=SecretMasker(["hunter22"]), on_line=on_line, timeout=GUARD
    )
    assert result.ok
    assert count == 200_000
    log = (tmp_path / "job.log").read_text()
    assert "hunter22" not in log
    assert log.count("***") == 200_000


def test_callback_error_stops_the_process_and_is_raised(tmp_path: Path) -> None:
    pids = tmp_path / "pids"

    def on_line(line: str) -> None:
        raise RuntimeError(f"cannot show {line!r}")

    process = ScriptProcess(
        f"sleep 30 & echo $! >> {pids}; echo hello; sleep 30",
        cwd=tmp_path,
        log_path=tmp_path / "job.log",
        on_line=on_line,
        grace=1.0,
    )
    with pytest.raises(RuntimeError, match="cannot show 'hello'"):
        finishes(process.wait)
    for pid in pids_in(pids):
        assert not alive(pid)


def test_missing_shell_is_an_oserror(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        run_script("true", cwd=tmp_path, log_path=tmp_path / "job.log", shell=("no-such-shell",))


def when_exists(path: Path, action: Callable[[], None]) -> None:
    """Call ``action`` once the script has created ``path`` (it is running by then)."""
    deadline = time.monotonic() + GUARD
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    action()
