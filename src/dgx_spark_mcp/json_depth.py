"""How deep a caller's JSON nests, checked before anything parses or walks it.

Plans (sparkPlanInfo trees), configurations and notebooks arrive as JSON text or, through MCP,
as objects the client already decoded.  Python's parsers and any recursive walk give up near
1,000 levels with a RecursionError, which is no answer for an agent: every reader calls
:func:`check_json_depth` first, and the check itself never recurses.
"""

from __future__ import annotations

import re
from itertools import accumulate
from typing import Any

from .errors import BadInputError

__all__ = ["MAX_JSON_DEPTH", "check_json_depth"]

MAX_JSON_DEPTH = 400
"""Deepest JSON nesting read.  Python's parsers give up near 1,000 levels with a RecursionError (fewer
when called deep in a server), which is no answer for an agent; a sparkPlanInfo tree takes two levels
per operator, so this is a plan 200 operators deep, and no configuration nests at all."""

_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_BRACKET_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


def _text_deeper_than(text: str, limit: int) -> bool:
    if text.count("[") + text.count("{") <= limit:
        return False  # cannot nest deeper than it opens: the common case costs two counts
    brackets = _NOT_BRACKET.sub("", _JSON_STRING.sub("", text))  # brackets inside strings are text
    return max(accumulate(map(_BRACKET_STEP.__getitem__, brackets)), default=0) > limit


def _value_deeper_than(value: Any, limit: int) -> bool:
    stack = [(value, 1)]
    while stack:  # iterative: the point is not to recurse
        item, depth = stack.pop()
        inner = item.values() if isinstance(item, dict) else item
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in inner if isinstance(child, dict | list))
    return False


def check_json_depth(value: Any, what: str) -> None:
    """BadInputError when ``value`` (JSON text, or the object an MCP client already decoded) nests
    deeper than :data:`MAX_JSON_DEPTH`; call it before ``json.loads`` or any walk of the object."""
    deep = _text_deeper_than(value, MAX_JSON_DEPTH) if isinstance(value, str) else (
        isinstance(value, dict | list) and _value_deeper_than(value, MAX_JSON_DEPTH))
    if deep:
        raise BadInputError(
            f"{what} is JSON nested more than {MAX_JSON_DEPTH} levels deep, deeper than any Spark plan, configuration "
            "or notebook nests; give the JSON as Spark, Jupyter or your tool wrote it"
        )
