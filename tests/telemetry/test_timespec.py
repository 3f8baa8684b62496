"""Times and durations as agents write them."""

from __future__ import annotations

from datetime import datetime

import pytest

from dgx_spark_mcp.errors import BadInputError
from dgx_spark_mcp.telemetry.timespec import is_relative, parse_duration, parse_time

NOW = datetime(2025, 6, 1, 12, 0)


@pytest.mark.parametrize(("text", "seconds"), [
    ("10s", 10), ("5m", 300), ("5 minutes", 300), ("1.5h", 5400), ("2 days", 172800), ("250ms", 0.25), ("1w", 604800),
])
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text, "bucket") == seconds


@pytest.mark.parametrize("text", ["5 fortnights", "ms", "5", "-5m", "0s"])
def test_bad_durations_say_what_to_write(text: str) -> None:
    with pytest.raises(BadInputError, match=r"bucket .*(duration|longer than zero)"):
        parse_duration(text, "bucket")


def test_times_are_utc_whatever_the_zone_written() -> None:
    assert parse_time("2025-06-01T14:00:00+02:00", "start", NOW) == datetime(2025, 6, 1, 12, 0)
    assert parse_time("2025-06-01T12:00:00Z", "start", NOW) == datetime(2025, 6, 1, 12, 0)
    assert parse_time("2025-06-01 12:00", "start", NOW) == datetime(2025, 6, 1, 12, 0)  # no zone = UTC
    assert parse_time("last 90m", "start", NOW) == datetime(2025, 6, 1, 10, 30)
    assert parse_time("now", "end", NOW) == NOW
    assert parse_time(None, "end", NOW) is None
    assert is_relative("last 1h") and is_relative("now") and not is_relative("2025-06-01") and not is_relative(None)


def test_a_bad_time_names_the_value_and_the_forms_accepted() -> None:
    with pytest.raises(BadInputError, match=r"start 'yesterday' is neither an ISO 8601 time .* 'last 1h'"):
        parse_time("yesterday", "start", NOW)
