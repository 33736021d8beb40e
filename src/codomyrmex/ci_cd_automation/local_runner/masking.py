"""Secret masking of log output, one-shot or streamed in arbitrary chunks.

Every occurrence of every value, overlapping ones included, is hidden; each run of covered
characters becomes one ``***``. ``MaskingStream`` in any chunking, then closed, yields exactly
``SecretMasker.mask`` of the whole text. See docs/local-runner.md (secret masking).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

MASK = "***"
"""What every run of secret characters is replaced with."""

MIN_SECRET_LENGTH = 4
"""Registered values (after stripping whitespace) shorter than this are not masked."""

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def _registered_values(secrets: Iterable[str]) -> tuple[str, ...]:
    values: set[str] = set()
    for secret in secrets:
        for candidate in (secret, *_LINE_BREAK.split(secret)):
            stripped = candidate.strip()
            if len(stripped) >= MIN_SECRET_LENGTH:
                values.add(stripped)
    # Longest first, then alphabetical: deterministic, and the order the docs describe.
    return tuple(sorted(values, key=lambda v: (-len(v), v)))


class SecretMasker:
    """The set of secret values to hide; immutable and safe to share between threads.

    Args:
        secrets: secret values; empty, whitespace-only and short ones are ignored.
    """

    def __init__(self, secrets: Iterable[str]) -> None:
        self._patterns = _registered_values(secrets)
        self._longest = len(self._patterns[0]) if self._patterns else 0
        by_first: dict[str, list[str]] = {}
        for pattern in self._patterns:
            by_first.setdefault(pattern[0], []).append(pattern)
        self._by_first = {first: tuple(group) for first, group in by_first.items()}

    @property
    def patterns(self) -> tuple[str, ...]:
        """The registered values, longest first."""
        return self._patterns

    @property
    def longest(self) -> int:
        """Length of the longest registered value (0 without secrets)."""
        return self._longest

    def mask(self, text: str) -> str:
        """Mask a complete text in one go."""
        stream = self.stream()
        return stream.feed(text) + stream.close()

    def stream(self) -> MaskingStream:
        """A new stream for one output channel (a process's merged stdout and stderr)."""
        return MaskingStream(self)

    def _covered(self, buf: str) -> list[tuple[int, int]]:
        """Occurrences in ``buf`` as ``(start, end)``, sorted by start."""
        spans: list[tuple[int, int]] = []
        for pattern in self._patterns:
            start = buf.find(pattern)
            while start >= 0:
                spans.append((start, start + len(pattern)))
                start = buf.find(pattern, start + 1)
        spans.sort()
        return spans

    def _first_open_prefix(self, buf: str) -> int:
        """The first index whose suffix of ``buf`` is a proper prefix of a value, else len."""
        end = len(buf)
        for index in range(max(0, end - self._longest + 1), end):
            for pattern in self._by_first.get(buf[index], ()):
                if len(pattern) > end - index and pattern.startswith(buf[index:]):
                    return index
        return end


class MaskingStream:
    """Masks one stream of text chunks; see the module docstring for the guarantees.

    Not thread-safe: one reader feeds it.
    """

    def __init__(self, masker: SecretMasker) -> None:
        self._masker = masker
        self._held = ""
        # Characters of ``_held`` before this index are covered by an occurrence that started
        # in text already released.
        self._covered_to = 0
        # Whether the last released character was covered, so that a run continuing across
        # releases yields a single ``***``.
        self._in_run = False
        self._closed = False

    @property
    def held(self) -> int:
        """How many characters are held back waiting for the next chunk."""
        return len(self._held)

    def feed(self, chunk: str) -> str:
        """Take the next chunk; return the masked text that is now final."""
        if self._closed:
            raise ValueError("feed() after close()")
        if not self._masker.patterns:
            return chunk
        return self._release(self._held + chunk, final=False)

    def close(self) -> str:
        """Signal the end of the stream; return whatever was still held back, masked."""
        if self._closed:
            return ""
        self._closed = True
        if not self._masker.patterns:
            return ""
        return self._release(self._held, final=True)

    def _release(self, buf: str, *, final: bool) -> str:
        masker = self._masker
        spans = masker._covered(buf)
        if self._covered_to > 0:
            spans.insert(0, (0, self._covered_to))
        # Characters before ``cut`` can no longer be covered by an occurrence that starts later:
        # any such occurrence would start at an index whose suffix is a proper prefix of a value.
        cut = len(buf) if final else masker._first_open_prefix(buf)
        out: list[str] = []
        pos = 0
        reach = 0
        for start, end in spans:
            if start >= cut:
                break
            if start > pos:
                out.append(buf[pos:start])
                self._in_run = False
            if not self._in_run:
                out.append(MASK)
                self._in_run = True
            pos = max(pos, min(end, cut))
        for _, end in spans:
            reach = max(reach, end)
        if pos < cut:
            out.append(buf[pos:cut])
            self._in_run = False
        self._held = buf[cut:]
        self._covered_to = max(0, reach - cut)
        return "".join(out)
