"""The words the layers share: each literal type that more than one layer speaks, defined once.

Each tuple is derived from its type, so the two cannot drift; ``parse_*`` turn user text into
the type or raise ``UsageError``, instead of a ``cast``. The store's CHECK constraints spell
their lists out on purpose: a migration must not change with this module.
"""

from __future__ import annotations

from typing import Literal, TypeVar, get_args

from .errors import UsageError

Provider = Literal["github", "gitlab"]
"""A provider of native CI files and of runs."""

RunProvider = Literal["local", "github", "gitlab"]
"""Where a run ran: this machine (the local runner) or a provider."""

RunStatus = Literal["queued", "running", "success", "failed", "cancelled", "skipped"]
"""A run's or a job's status, the same for every backend (the normalised ``Run``/``JobRun``)."""

JobStatus = Literal["success", "failed", "skipped", "cancelled"]
"""The final status of a job instance in a local run (the scheduler's verdict)."""

Outcome = Literal["success", "failed"]
"""What running one job instance came to, before the scheduler's verdict (which may still
say ``cancelled``)."""

Target = Literal["github", "gitlab", "all"]
"""What to render: one provider's files, or both."""

PROVIDERS: tuple[Provider, ...] = get_args(Provider)
RUN_PROVIDERS: tuple[RunProvider, ...] = get_args(RunProvider)
RUN_STATUSES: tuple[RunStatus, ...] = get_args(RunStatus)
JOB_STATUSES: tuple[JobStatus, ...] = get_args(JobStatus)
OUTCOMES: tuple[Outcome, ...] = get_args(Outcome)
TARGETS: tuple[Target, ...] = get_args(Target)

OPEN_STATUSES: tuple[RunStatus, ...] = ("queued", "running")
"""The statuses of a run or job that has not ended."""
FINISHED_STATUSES: tuple[RunStatus, ...] = tuple(s for s in RUN_STATUSES if s not in OPEN_STATUSES)
"""The statuses of a run or job that has ended."""

_Word = TypeVar("_Word", bound=str)


def parse_provider(text: str) -> Provider:
    """``github`` or ``gitlab``; anything else is a ``UsageError``."""
    return _one_of(text, PROVIDERS, "provider")


def parse_run_provider(text: str) -> RunProvider:
    """``local``, ``github`` or ``gitlab``; anything else is a ``UsageError``."""
    return _one_of(text, RUN_PROVIDERS, "provider")


def parse_target(text: str) -> Target:
    """``github``, ``gitlab`` or ``all``; anything else is a ``UsageError``."""
    return _one_of(text, TARGETS, "target")


def _one_of(text: str, words: tuple[_Word, ...], what: str) -> _Word:
    for word in words:
        if word == text:
            return word
    allowed = ", ".join(words[:-1]) + f" or {words[-1]}"
    raise UsageError(f'unknown {what} "{text}": use {allowed}')
