"""Typed access to a Spark event's fields, for the handlers of :mod:`.listener`.

Each accessor raises ``TypeError``/``ValueError`` on a value of the wrong type or out of range
(``"App ID": 123``, a string ``Timestamp``, a negative count); the reader counts the whole
event as malformed and skips it, so no event is half applied.  Kept apart from the handlers so
the rule for what a field may hold is written once.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["MAX_MS", "Event", "count_or_id", "dict_field", "ms_field", "resource_amount", "shown", "text_field"]

Event = dict[str, Any]
MAX_MS = 2**53  # events.MAX_COUNT, without importing msgspec with the server


def shown(value: object) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 40 else text[:39] + '…'}"


def text_field(e: Event, key: str, default: str | None = None) -> str | None:
    """``e[key]`` when it is a string (or absent: ``default``); anything else is a shape error."""
    value = e.get(key, default)
    if value is None or isinstance(value, str):
        return value
    raise TypeError(f"{key!r} is {shown(value)}, not text")


def ms_field(e: Event, key: str) -> int | None:
    """``e[key]`` as epoch (or elapsed) milliseconds: a whole number 0..2**53, or absent."""
    value = e.get(key)
    if value is None:
        return None
    if type(value) is not int or not 0 <= value <= MAX_MS:  # bool is an int too: type(), not isinstance()
        raise ValueError(f"{key!r} is {shown(value)}, not a time in milliseconds")
    return value


def count_or_id(value: Any, what: str, most: int = 2**31 - 1) -> int:
    """A count or id Spark logs as a Java int (or its string): 0..``most``."""
    number = int(value)  # int("7") as old logs write some ids; int([]) is a TypeError, int("x") a ValueError
    if not 0 <= number <= most:
        raise ValueError(f"{what} {number} is out of range 0..{most}")
    return number


def dict_field(e: Event, key: str) -> Event:
    """``e[key]`` when it is an object (absent or null: empty)."""
    value = e.get(key) or {}
    if not isinstance(value, dict):
        raise TypeError(f"{key!r} is {shown(value)}, not an object")
    return value


def resource_amount(name: object, request: Any) -> float:
    """A resource request's ``Amount``: a finite number of at least 0 (cores, MiB, GPUs)."""
    amount = request.get("Amount", 0) if isinstance(request, dict) else None
    if type(amount) not in (int, float) or not math.isfinite(amount) or not 0 <= amount <= MAX_MS:
        raise ValueError(f"the {name} request's Amount is {shown(amount)}, not a number of at least 0")
    return float(amount)
