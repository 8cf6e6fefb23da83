"""Durations as operators type them on the command line: ``90m``, ``6h``, ``7d``, ``2w``.

One helper shared by every command that takes an age or an idle time, so that they all accept
the same spellings and refuse the same mistakes.
"""

from __future__ import annotations

import re
from datetime import timedelta

UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}

# Far enough for any retention policy, near enough that "now minus it" is still a valid date.
MAX_DURATION = timedelta(days=100 * 366)

_PART = re.compile(r"(\d+)([smhdw])")
_WHOLE = re.compile(r"(?:\d+[smhdw])+")


def parse_duration(text: str) -> timedelta:
    """``90m``, ``6h``, ``7d``, ``2w`` (also ``45s`` and combinations such as ``1d12h``) as a
    timedelta. Raises ValueError, with a message fit to show an operator, for anything else: a
    missing or unknown unit, a zero or negative length, or more than a hundred years."""
    value = str(text).strip().lower()
    if not _WHOLE.fullmatch(value):
        raise ValueError(
            f"{text!r} is not a duration: write a whole number and a unit, such as 90m, 6h, 7d or 2w "
            "(units: s, m, h, d, w)."
        )
    total = timedelta()
    try:
        for amount, unit in _PART.findall(value):
            total += timedelta(**{UNITS[unit]: int(amount)})
    except OverflowError:
        total = MAX_DURATION + timedelta(days=1)
    if total <= timedelta():
        raise ValueError(f"{text!r} is not a duration: it must be longer than zero.")
    if total > MAX_DURATION:
        raise ValueError(f"{text!r} is too long: at most {MAX_DURATION.days} days.")
    return total


def format_duration(value: timedelta) -> str:
    """A timedelta the way ``parse_duration`` reads it back (``7d``, ``1d12h``, ``90m`` -> ``1h30m``)."""
    seconds = int(value.total_seconds())
    parts = []
    for unit, size in (("w", 604_800), ("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"
