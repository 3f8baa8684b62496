"""Times in Spark's REST answers, and durations as a sentence says them.

The application list (:mod:`.apps`, :mod:`.app_state`) and the running-application status
(:mod:`.running`) read the same fields (``startTime``, ``submissionTime``, ``launchTime``), so they parse
them here, once: a listing and a status call on the same application agree on how long it has run.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

__all__ = ["rest_date", "rest_time", "seconds_since", "span"]

_FORMAT = "%Y-%m-%dT%H:%M:%S.%f%z"


def rest_time(value: Any) -> datetime | None:
    """Spark's REST times (``2026-12-07T14:47:09.309GMT``) or epoch milliseconds, as aware UTC datetimes.

    None for a missing or unreadable time, and for 1970: Spark writes an unset time as -1 ms
    (``1969-12-31T23:59:59.999GMT``), which is no moment anything ran."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.fromtimestamp(value / 1000, UTC) if value > 0 else None
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.strptime(value.replace("GMT", "+0000"), _FORMAT)
    except ValueError:
        return None
    return parsed if parsed.year > 1970 else None


def rest_date(moment: datetime) -> str:
    """A moment as Spark's REST parameters take it (``minEndDate``): ``2026-12-07T14:47:09.309GMT``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}GMT"


def seconds_since(value: Any, now: datetime | None = None) -> float | None:
    """Seconds from ``value`` (a datetime, or a REST time :func:`rest_time` reads) to ``now`` (default: now);
    never negative (a server's clock a little ahead of this one's), None when there is no time."""
    moment = value if isinstance(value, datetime) else rest_time(value)
    if moment is None:
        return None
    return max(0.0, ((now or datetime.now(UTC)) - moment).total_seconds())


def span(seconds: float | None) -> str:
    """A duration for a sentence: 45 s, 40 min, 2 h 5 min, 3 d; ``?`` when it is not known."""
    if seconds is None:
        return "?"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60)} min"
    return f"{seconds / 86400:.0f} d"
