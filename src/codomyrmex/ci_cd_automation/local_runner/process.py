"""Run one shell script as a child process: own process group, timeout, cancel, masked log.

This module owns the life of one child and all it starts: ``DEFAULT_SHELL`` in a new session;
the group stopped (SIGTERM, SIGKILL after ``grace``) on timeout, cancel, or the shell's exit
unless ``keep_background``; one pipe drained by a reader thread, decoded, masked and logged as
it arrives. A failing script is data (``ProcessResult``); an exception kills the group and is
re-raised from ``wait``. See docs/local-runner.md (timeouts and cancellation).
"""

from __future__ import annotations

import codecs
import contextlib
import os
import select
import signal as signals
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from .masking import SecretMasker

DEFAULT_SHELL: tuple[str, ...] = ("bash", "--noprofile", "--norc", "-eo", "pipefail", "-c")
"""GitHub's documented invocation for ``shell: bash``; the script follows as one argument."""

DEFAULT_GRACE = 5.0
"""Seconds between SIGTERM and SIGKILL."""

CANCEL_POLL = 0.05
"""Seconds between looks at an external ``cancel_event``."""

DRAIN_TIMEOUT = 1.0
"""Seconds to wait for end-of-output once the group is gone (an escaped process may hold it)."""

BACKGROUND_DRAIN = 0.05
"""Seconds given to read a shell's last output when background members keep the pipe open."""

_READ_SIZE = 1 << 16


@dataclass(frozen=True)
class ProcessResult:
    """How a script ended.

    Attributes:
        exit_code: the shell's exit status, or None when a signal ended it.
        signal: the signal number that ended the shell, or None when it exited.
        timed_out: the timeout expired and the group was killed.
        cancelled: ``cancel()`` or the cancel event stopped it (and not the timeout first).
        duration: seconds from spawn until the group was gone and the output drained.
        pid: the shell's process id, which is also the process group id.
    """

    exit_code: int | None
    signal: int | None
    timed_out: bool
    cancelled: bool
    duration: float
    pid: int

    @property
    def ok(self) -> bool:
        """Exited with 0, neither timed out nor cancelled."""
        return self.exit_code == 0 and not self.timed_out and not self.cancelled


class ScriptProcess:
    """A running shell script; constructing it spawns the child (like ``subprocess.Popen``).

    Call ``wait`` from one thread; ``cancel`` from any thread, any number of times.

    Args:
        script: shell source, passed to the shell as its ``-c`` argument.
        cwd: working directory of the child.
        env: the child's complete environment (None inherits this process's environment).
        log_path: file the masked output is appended to (created if missing).
        masker: secrets to hide in the log and in ``on_line``; None hides nothing.
        on_line: called from the reader thread with each masked output line.
        timeout: seconds before the group is killed; None waits forever.
        grace: seconds between SIGTERM and SIGKILL.
        shell: the shell command; the script is appended as the last argument.
        cancel_event: when set (by anyone), the group is killed as by ``cancel``.
        keep_background: leave members the shell left behind running after it exited; the
            caller stops them with ``stop_background``.
    """

    def __init__(
        self,
        script: str,
        *,
        cwd: str | os.PathLike[str],
        log_path: str | os.PathLike[str],
        env: Mapping[str, str] | None = None,
        masker: SecretMasker | None = None,
        on_line: Callable[[str], None] | None = None,
        timeout: float | None = None,
        grace: float = DEFAULT_GRACE,
        shell: Sequence[str] = DEFAULT_SHELL,
        cancel_event: threading.Event | None = None,
        keep_background: bool = False,
    ) -> None:
        self._timeout = timeout
        self._keep_background = keep_background
        self.background = False
        self._grace = grace
        self._cancel_event = cancel_event
        self._on_line = on_line
        self._masker = masker
        self._wake = threading.Event()
        self._cancel_requested = False
        self._stop_reading = threading.Event()
        self._reader_error: BaseException | None = None
        self._result: ProcessResult | None = None
        # Open for the life of the child, not of this call: ``wait`` closes it.
        self._log = Path(log_path).open("a", encoding="utf-8", newline="")  # noqa: SIM115
        self._started = time.monotonic()
        try:
            self._proc = subprocess.Popen(
                [*shell, script],
                cwd=cwd,
                env=None if env is None else dict(env),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except BaseException:
            self._log.close()
            raise
        self.pid = self._proc.pid
        self._waiter = threading.Thread(target=self._wait_leader, daemon=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._waiter.start()
        self._reader.start()

    def cancel(self) -> None:
        """Ask for the group to be stopped; ``wait`` then returns with ``cancelled``."""
        self._cancel_requested = True
        self._wake.set()

    def wait(self) -> ProcessResult:
        """Block until the script ended (or was stopped) and every group member is gone."""
        if self._result is not None:
            return self._result
        timed_out = cancelled = False
        try:
            reason = self._wait_for_end()
            if reason == "timeout":
                timed_out = True
            elif reason == "cancel":
                cancelled = True
            if reason != "exit":
                _terminate_group(self.pid, self._grace)
            self._waiter.join()
            if reason == "exit" and self._keep_background and _group_exists(self.pid):
                # Members keep the pipe open: read what the shell wrote before it exited, then
                # leave the reader logging the rest until ``stop_background``.
                self.background = True
                self._reader.join(BACKGROUND_DRAIN)
            elif _group_exists(self.pid):
                # The shell is gone but left members behind: they must not outlive it.
                _terminate_group(self.pid, self._grace)
            if not self.background:
                self._reader.join(DRAIN_TIMEOUT)
            if self._reader.is_alive() and not self.background:
                self._stop_reading.set()
                self._reader.join()
                self._write_notice("output still held open by a process outside the group")
        except BaseException:
            # Interrupted while waiting (KeyboardInterrupt): leave nothing running behind.
            _signal_group(self.pid, signals.SIGKILL)
            self._stop_reading.set()
            raise
        finally:
            if not self._reader.is_alive():
                self._log.close()
        if self._reader_error is not None:
            raise self._reader_error
        code = self._proc.returncode
        self._result = ProcessResult(
            exit_code=code if code >= 0 else None,
            signal=-code if code < 0 else None,
            timed_out=timed_out,
            cancelled=cancelled,
            duration=time.monotonic() - self._started,
            pid=self.pid,
        )
        return self._result

    def stop_background(self) -> bool:
        """Stop what the shell left running (``keep_background``) and finish its log; returns
        whether anything was still running. Safe to call more than once."""
        if not self.background:
            return False
        alive = _group_exists(self.pid)
        if alive:
            _terminate_group(self.pid, self._grace)
        self._reader.join(DRAIN_TIMEOUT)
        if self._reader.is_alive():
            self._stop_reading.set()
            self._reader.join()
        self.background = False
        self._log.close()
        return alive

    def _wait_for_end(self) -> str:
        deadline = None if self._timeout is None else self._started + self._timeout
        while True:
            if self._proc.returncode is not None:
                return "exit"
            if self._cancel_requested or (self._cancel_event and self._cancel_event.is_set()):
                return "cancel"
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                return "timeout"
            slice_: float | None = None if deadline is None else deadline - now
            if self._cancel_event is not None:
                slice_ = CANCEL_POLL if slice_ is None else min(slice_, CANCEL_POLL)
            self._wake.wait(slice_)
            self._wake.clear()

    def _wait_leader(self) -> None:
        # A blocking waitpid: the shell's end is seen at once, without a polling delay.
        self._proc.wait()
        self._wake.set()

    def _read(self) -> None:
        pipe = self._proc.stdout
        if pipe is None:  # pragma: no cover - Popen was given stdout=PIPE
            return
        fd = pipe.fileno()
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        stream = self._masker.stream() if self._masker is not None else None
        partial: list[str] = []
        poller = select.poll()
        poller.register(fd, select.POLLIN | select.POLLHUP | select.POLLERR)
        try:
            while not self._stop_reading.is_set():
                if not poller.poll(100):
                    continue
                data = os.read(fd, _READ_SIZE)
                if not data:
                    break
                text = decoder.decode(data)
                self._emit(stream.feed(text) if stream is not None else text, partial)
            text = decoder.decode(b"", final=True)
            if stream is not None:
                text = stream.feed(text) + stream.close()
            self._emit(text, partial)
            if partial:
                line = "".join(partial)
                self._call_on_line(line[:-1] if line.endswith("\r") else line)
        finally:
            pipe.close()

    def _emit(self, text: str, partial: list[str]) -> None:
        if not text or self._reader_error is not None:
            # After a failure keep draining so the child never blocks on a full pipe.
            return
        try:
            self._log.write(text)
            self._log.flush()
            if self._on_line is None:
                return
            lines = text.split("\n")
            for piece in lines[:-1]:
                partial.append(piece)
                line = "".join(partial)
                partial.clear()
                self._on_line(line[:-1] if line.endswith("\r") else line)
            if lines[-1]:
                partial.append(lines[-1])
        except Exception as exc:
            self._fail(exc)

    def _call_on_line(self, line: str) -> None:
        if self._on_line is None or self._reader_error is not None:
            return
        try:
            self._on_line(line)
        except Exception as exc:
            self._fail(exc)

    def _fail(self, exc: BaseException) -> None:
        if self._reader_error is None:
            self._reader_error = exc
            self.cancel()

    def _write_notice(self, message: str) -> None:
        with contextlib.suppress(OSError):
            self._log.write(f"\n[cicd] {message}\n")
            self._log.flush()


def run_script(
    script: str,
    *,
    cwd: str | os.PathLike[str],
    log_path: str | os.PathLike[str],
    env: Mapping[str, str] | None = None,
    masker: SecretMasker | None = None,
    on_line: Callable[[str], None] | None = None,
    timeout: float | None = None,
    grace: float = DEFAULT_GRACE,
    shell: Sequence[str] = DEFAULT_SHELL,
    cancel_event: threading.Event | None = None,
) -> ProcessResult:
    """Run a script to its end; the arguments are those of ``ScriptProcess``."""
    return ScriptProcess(
        script,
        cwd=cwd,
        log_path=log_path,
        env=env,
        masker=masker,
        on_line=on_line,
        timeout=timeout,
        grace=grace,
        shell=shell,
        cancel_event=cancel_event,
    ).wait()


def _signal_group(pgid: int, sig: int) -> bool:
    """Send ``sig`` to the group; False when no member could be signalled."""
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _group_exists(pgid: int) -> bool:
    """Whether a live (not zombie) member of the group remains.

    Killed orphans become zombies of init; an init that does not reap (some containers and
    micro-VMs) would keep ``killpg(pgid, 0)`` succeeding forever, so on Linux the group's
    members are read from /proc and zombies do not count.
    """
    if not _signal_group(pgid, 0):
        return False
    if not sys.platform.startswith("linux"):
        return True
    try:
        entries = os.listdir("/proc")
    except OSError:
        return True
    for name in entries:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        # Fields after the command name, which may itself contain spaces or ")".
        fields = stat[stat.rfind(b")") + 2 :].split()
        if len(fields) > 2 and int(fields[2]) == pgid and fields[0] != b"Z":
            return True
    return False


def _terminate_group(pgid: int, grace: float) -> None:
    """SIGTERM the group, then SIGKILL whatever is left after ``grace`` seconds."""
    if not _signal_group(pgid, signals.SIGTERM):
        return
    deadline = time.monotonic() + grace
    delay = 0.005
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        time.sleep(min(delay, remaining))
        delay = min(delay * 2, 0.1)
        if not _group_exists(pgid):
            return
    _signal_group(pgid, signals.SIGKILL)
