"""Failure messages made short and comparable: first lines, Python errors, numbers blanked.

Spark failure texts are long (a whole stack trace in one string) and full of values that differ
between occurrences of one cause (addresses, task ids, sizes).  These helpers give the line a
reader needs and a key under which the same cause groups as one.
"""

from __future__ import annotations

import re

__all__ = ["MESSAGE_CHARS", "exception_at", "exception_message", "first_line", "flattened_cause", "message_key", "quoted_at",
           "short_class"]

MESSAGE_CHARS = 1_000

_HEX = re.compile(r"0x[0-9a-fA-F]+")
_PYTHON_ERROR = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt)\b")
_NUMBER = re.compile(r"\d+")
# A Java class (java.lang.ArithmeticException, Outer$InnerError) or a Python one (ValueError) that
# names an exception; the bare words "Exception" and "Error" of log prose ("Error initializing") do not.
_EXCEPTION_CLASS = re.compile(r"(?<![\w$.])(?:[a-z_$][\w$]*\.)*[A-Z][\w$]*(?:Exception|Error|Throwable)(?![\w$])")


def first_line(text: str | None, limit: int = MESSAGE_CHARS) -> str:
    if not text:
        return ""
    line = text.strip().split("\n", 1)[0].strip()
    return line if len(line) <= limit else line[: limit - 1] + "…"


def message_key(text: str) -> str:
    """The message with addresses and numbers blanked, so one cause with many values groups as one."""
    return _NUMBER.sub("N", _HEX.sub("0x…", text))[:300]


def exception_message(description: str | None) -> str:
    """The first line of an exception's text, plus the Python error at the end of a Python traceback."""
    head = first_line(description)
    if description and "Traceback (most recent call last)" in description:
        raised = [line.strip() for line in description.splitlines() if _PYTHON_ERROR.match(line)]
        if raised and raised[-1] not in head:
            return f"{head[:300]} … {first_line(raised[-1], 500)}"
    return head


def exception_at(text: str) -> str | None:
    """``text`` from the exception class it names on ("... (TID 19): java.lang.X: msg" -> "java.lang.X: msg"), or None."""
    found = _EXCEPTION_CLASS.search(text)
    return text[found.start():].strip() if found else None


def flattened_cause(text: str) -> str | None:
    """The last exception a one-line chain names (``X: msg: com.y.ZException: Forbidden (...)`` -> ``com.y.ZException:
    Forbidden (...)``), when the line names more than one; None otherwise.  Wrappers that quote their cause in their
    own message put the innermost detail at the end of a long line."""
    line = text.strip().split("\n", 1)[0]
    found = [m for m in _EXCEPTION_CLASS.finditer(line) if line.startswith(":", m.end())]
    return line[found[-1].start():].strip() if len(found) > 1 else None


def quoted_at(text: str, start: int, limit: int = 400) -> str:
    """The first line of ``text`` quoted so that the part at ``start`` (a signature's match) is in the quote."""
    line = text.strip().split("\n", 1)[0].strip()
    if start < limit - 100 or start >= len(line):
        return first_line(line, limit)
    return "…" + first_line(line[start - 60 :], limit - 1)


def short_class(text: str) -> str:
    """The short name of the first exception class in ``text`` (java.lang.ArithmeticException -> ArithmeticException)."""
    found = _EXCEPTION_CLASS.search(text)
    return found.group(0).rsplit(".", 1)[-1] if found else "exception"
