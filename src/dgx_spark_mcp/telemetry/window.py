"""The time window of a telemetry answer, and how its times and numbers are written.

Every telemetry answer writes times the same way (ISO 8601 in UTC with ``Z``, from epoch
microseconds, so DuckDB and Spark give identical text) and rounds floats the same way, so the
two engines answer identically and a cursor made on one continues on the other.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, Field

from ..errors import BadInputError
from .engines import Engine
from .timespec import is_relative, parse_time

__all__ = ["DECIMALS", "EPOCH", "TimeWindow", "iso", "iso_dt", "micros_of", "parse_window", "rounded", "short_number",
           "time_filter", "utc_now"]

DECIMALS = 6
EPOCH = datetime(1970, 1, 1)


def iso(micros: int | None) -> str | None:
    if micros is None:
        return None
    return (EPOCH + timedelta(microseconds=int(micros))).strftime("%Y-%m-%dT%H:%M:%S.%fZ").replace(".000000Z", "Z")


def iso_dt(when: datetime | None) -> str | None:
    return None if when is None else iso(micros_of(when))


def micros_of(when: datetime) -> int:
    return int((when - EPOCH) / timedelta(microseconds=1))


def rounded(value: float | int | None, decimals: int = DECIMALS) -> float | None:
    return None if value is None else round(float(value), decimals)


def short_number(value: float | int | None, decimals: int = 3) -> float | int | None:
    """A value as an agent reads it cheaply: rounded, and a whole number written without '.0'."""
    if value is None:
        return None
    number = round(float(value), decimals)
    return int(number) if number.is_integer() and abs(number) < 2**53 else number


def utc_now(now: datetime | None = None) -> datetime:
    """'now' as the store keeps times: naive UTC, whole seconds (so a window read twice is the same window)."""
    when = now or datetime.now(UTC)
    return (when.astimezone(UTC).replace(tzinfo=None) if when.tzinfo else when).replace(microsecond=0)


class TimeWindow(BaseModel):
    """The time range a result covers, in UTC: start inclusive, end exclusive; null = unbounded."""

    start: str | None = None
    end: str | None = None
    relative_to: str | None = Field(default=None, description="The 'now' a relative start/end ('last 1h') was counted from.")


def parse_window(start: str | None, end: str | None, now: datetime | None = None) -> tuple[datetime | None, datetime | None, TimeWindow]:
    now = utc_now(now)
    lo = parse_time(start, "start", now)
    hi = parse_time(end, "end", now)
    if hi is None and is_relative(start):
        hi = now  # 'last 1h' means up to now
    if lo is not None and hi is not None and hi <= lo:
        raise BadInputError(f"end {end!r} is not after start {start!r} ({iso_dt(hi)} <= {iso_dt(lo)}); swap them or widen the window")
    relative = is_relative(start) or is_relative(end)
    window = TimeWindow(start=iso_dt(lo), end=iso_dt(hi), relative_to=iso_dt(now) if relative else None)
    return lo, hi, window


def time_filter(engine: Engine, lo: datetime | None, hi: datetime | None) -> str:
    # Bare ts bounds (no function around the column): the files are sorted by (uuid, metric, ts), so
    # Parquet row-group statistics skip everything outside the window.
    parts = []
    if lo is not None:
        parts.append(f"ts >= {engine.timestamp(lo)}")
    if hi is not None:
        parts.append(f"ts < {engine.timestamp(hi)}")
    return " AND ".join(parts) or "TRUE"
