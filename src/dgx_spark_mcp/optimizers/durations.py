"""Durations as people write them: '2h', '30m', '1h30m', '90 s', '3600', or seconds."""

from __future__ import annotations

import math
import re

from ..errors import BadInputError

__all__ = ["parse_duration"]

_UNITS = {
    "": 1, "s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1,
    "m": 60, "min": 60, "mins": 60, "minute": 60, "minutes": 60,
    "h": 3600, "hr": 3600, "hrs": 3600, "hour": 3600, "hours": 3600,
    "d": 86400, "day": 86400, "days": 86400,
}
_PART = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([a-z]*)", re.IGNORECASE)


def parse_duration(value: str | int | float, what: str = "duration") -> float:
    """Seconds (> 0) in ``value``; ``what`` names the argument in the error message."""
    hint = "give seconds or a duration like '2h', '30m', '1h30m', '45s'"
    if isinstance(value, bool) or (isinstance(value, (int, float)) and not math.isfinite(value)):
        raise BadInputError(f"{what} {value!r} is not a duration; {hint}")
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        text, seconds, pos = value.strip(), 0.0, 0
        if not text:
            raise BadInputError(f"{what} is empty; {hint}")
        while pos < len(text):
            match = _PART.match(text, pos)
            if match is None or match.group(2).lower() not in _UNITS:
                raise BadInputError(f"{what} {value!r} is not understood; {hint}")
            seconds += float(match.group(1)) * _UNITS[match.group(2).lower()]
            pos = match.end()
    if seconds <= 0:
        raise BadInputError(f"{what} {value!r} must be more than zero seconds")
    return seconds
