"""Pages of a list an agent reads a part at a time: ``limit`` items, and a cursor for the rest.

A cursor is opaque to the agent.  It carries a fingerprint of the arguments that made the list,
so a cursor handed back with other arguments (a different host, another window) is refused
instead of silently paging through a different list; the position of the next page (an offset,
or a key of the store's sort order after which the page starts); and, where a list needs it, one
more value (the telemetry answers keep the 'now' a relative window was counted from).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from typing import Any, TypeVar

from .errors import BadInputError

__all__ = ["decode_cursor", "encode_cursor", "fingerprint", "offset_of", "page"]

T = TypeVar("T")
_OTHER_ARGUMENTS = ("cursor belongs to a call with other arguments; repeat the same arguments with it, or leave it "
                    "out for the first page")


def fingerprint(**arguments: object) -> str:
    """A short hash of the arguments that define a list (not the limit, not the cursor)."""
    return hashlib.sha256(json.dumps(arguments, sort_keys=True, default=str).encode()).hexdigest()[:12]


def encode_cursor(print_: str, position: list[Any], extra: Any = None) -> str:
    raw = json.dumps([print_, position, extra], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, print_: str) -> tuple[list[Any], Any]:
    """The position (and the extra value) a cursor carries; an error the agent can act on when it is not this list's."""
    try:
        given, position, extra = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(given, str) or not isinstance(position, list):
            raise ValueError(cursor)
    except (ValueError, TypeError, UnicodeDecodeError):
        raise BadInputError(f"cursor {cursor[:40]!r} is not one this tool returned; pass next_cursor unchanged, "
                            "or leave it out for the first page") from None
    if given != print_:
        raise BadInputError(_OTHER_ARGUMENTS)
    return position, extra


def offset_of(position: list[Any]) -> int:
    """The offset of an offset cursor; a cursor of another kind of page is refused."""
    if len(position) != 1 or not isinstance(position[0], int) or isinstance(position[0], bool) or position[0] < 0:
        raise BadInputError(_OTHER_ARGUMENTS)
    return position[0]


def page(items: Sequence[T], limit: int, cursor: str | None, print_: str) -> tuple[list[T], str | None]:
    """``limit`` items from the cursor's offset (the start without one), and the cursor of the next page."""
    start = offset_of(decode_cursor(cursor, print_)[0]) if cursor else 0
    chosen = list(items[start:start + limit])
    following = start + len(chosen)
    return chosen, encode_cursor(print_, [following]) if following < len(items) else None
