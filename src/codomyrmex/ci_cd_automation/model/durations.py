"""Durations read and written in one place: neutral ``7d``, GitLab's ``1h 30m``, ``--since``."""

from __future__ import annotations

import re

__all__ = ["compact", "gitlab_duration", "gitlab_words", "parse_duration"]

# Unit words read in durations (a subset of what GitLab's parser accepts), in seconds.
_UNITS = {
    "s": 1, "sec": 1, "second": 1, "seconds": 1,
    "m": 60, "min": 60, "mins": 60, "minute": 60, "minutes": 60,
    "h": 3600, "hr": 3600, "hour": 3600, "hours": 3600,
    "d": 86400, "day": 86400, "days": 86400,
    "w": 604800, "week": 604800, "weeks": 604800,
}  # fmt: skip
_PART = re.compile(r"(\d+)\s*([A-Za-z]+)")
_FILLER = re.compile(r"(\d+)\s*([A-Za-z]+)|\s|and|,")
_WORDS = {"m": "minute", "h": "hour", "d": "day", "w": "week"}


def parse_duration(value: object) -> int | None:
    """Seconds in ``value``, or ``None`` when it is not a duration.

    An integer is seconds already; text is one or more ``<number><unit>`` parts (spaces,
    ``,`` and ``and`` between them allowed): ``30m``, ``1h 30m``, ``2 days and 3 hours``.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if not isinstance(value, str):
        return None
    parts = _PART.findall(value)
    if not parts or _FILLER.sub("", value):
        return None
    total = 0
    for number, unit in parts:
        size = _UNITS.get(unit.lower())
        if size is None:
            return None
        total += int(number) * size
    return total


def compact(seconds: int) -> str | None:
    """``seconds`` in the neutral form with the largest exact unit (``7d``), or ``None`` when
    no whole number of minutes, hours, days or weeks is exact (or it is not positive)."""
    if seconds <= 0:
        return None
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return None


def gitlab_duration(seconds: int) -> str:
    """Seconds as a GitLab duration: ``1h 30m``, ``45m``, ``90`` -> ``1m 30s``."""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{n}{u}" for n, u in ((hours, "h"), (minutes, "m"), (secs, "s")) if n]
    return " ".join(parts)


def gitlab_words(text: str) -> str:
    """A neutral duration in GitLab's words: ``7d`` -> ``7 days``, ``1w`` -> ``1 week``."""
    number, unit = int(text[:-1]), text[-1]
    return f"{number} {_WORDS[unit]}{'s' if number != 1 else ''}"
