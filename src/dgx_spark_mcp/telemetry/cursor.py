"""Cursors of the telemetry answers: :mod:`dgx_spark_mcp.paging`'s, with the 'now' of their window.

The position is an offset, or a key (uuid, metric, time) after which the next page starts, so a
page of points is found by the store's sort order instead of by counting rows.  A relative window
('last 1h') is fingerprinted as written and the cursor carries the 'now' it was counted from, so
every page reads the same window however long the agent takes between pages (a fingerprint of the
resolved times refused the second page a second later).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from ..errors import BadInputError
from ..paging import decode_cursor, encode_cursor, fingerprint, offset_of
from .window import EPOCH, micros_of

__all__ = ["Position", "decode", "encode", "fingerprint", "offset_of"]

Position = list[Any]


def encode(print_: str, position: Position, now: datetime | None) -> str:
    return encode_cursor(print_, position, micros_of(now) if now is not None else None)


def decode(cursor: str, print_: str) -> tuple[Position, datetime | None]:
    """The position a cursor points at and the 'now' of its window."""
    position, now_us = decode_cursor(cursor, print_)
    try:
        return position, None if now_us is None else EPOCH + timedelta(microseconds=int(now_us))
    except (ValueError, TypeError, OverflowError):
        raise BadInputError(f"cursor {cursor[:40]!r} is not one this tool returned; pass next_cursor unchanged, "
                            "or leave it out for the first page") from None
