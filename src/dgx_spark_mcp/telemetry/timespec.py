"""Times and durations as agents write them: ISO 8601 (no zone = UTC), 'now', 'last 1h', '30s', '5m'.

Every telemetry function reads its window and bucket through here, so the CLI, the tools and the
charts accept the same words.  Times come back as naive datetimes in UTC, as the store keeps them.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from ..errors import BadInputError

__all__ = ["is_relative", "parse_duration", "parse_time"]

_UNITS_S = {"ms": 0.001, "s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hr": 3600,
            "hour": 3600, "d": 86400, "day": 86400, "w": 604800, "week": 604800}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|[a-z]+?)s?\s*$", re.IGNORECASE)
_LAST = re.compile(r"^\s*last\s+(.+)$", re.IGNORECASE)


def parse_duration(text: str, what: str, shown: str | None = None) -> float:
    """Seconds in '30s', '1.5m', '2h', '7d', '250ms'."""
    match = _DURATION.match(text)
    if not match or match.group(2).lower() not in _UNITS_S:
        raise BadInputError(
            f"{what} {shown or repr(text)} does not give a duration; write a number and a unit, e.g. '30s', '5m', '1h', '2d'"
        )
    seconds = float(match.group(1)) * _UNITS_S[match.group(2).lower()]
    if seconds <= 0:
        raise BadInputError(f"{what} {text!r} must be longer than zero")
    return seconds


def is_relative(value: str | None) -> bool:
    return bool(value) and (_LAST.match(value or "") is not None or (value or "").strip().lower() == "now")


def parse_time(value: str | datetime | None, what: str, now: datetime) -> datetime | None:
    """A UTC naive datetime from ISO 8601 (a zone-less time is UTC), 'now', or 'last 1h' (now minus 1 h)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, datetime):
        parsed = value
    else:
        text = value.strip()
        last = _LAST.match(text)
        if last:
            return now - timedelta(seconds=parse_duration(last.group(1), what, repr(text)))
        if text.lower() == "now":
            return now
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise BadInputError(
                f"{what} {value!r} is neither an ISO 8601 time ('2025-06-01T12:00:00Z'; an offset like +02:00 is fine, "
                "no zone means UTC) nor a relative one ('last 30m', 'last 1h', 'last 7d', 'now')"
            ) from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed
