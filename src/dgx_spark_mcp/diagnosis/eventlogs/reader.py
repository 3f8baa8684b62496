"""Read a Spark event log in one streaming pass into an :class:`AppLog`.

Each line is one ``SparkListener*`` event as JSON.  Spark writes ``"Event"`` as the first key,
so the event type is read from the line's first bytes and only the types the analysis needs
are parsed; task starts, block updates, metric updates and the like are counted and skipped.
Task-end events are most of a log's bytes: they are decoded into typed structs that keep only
the fields the analysis reads (:mod:`.events`), the other events into plain dicts.
``bench/eventlog_parse.py`` measures the whole reader against a plain ``json.loads`` loop.

Memory stays bounded: per task only a few integers are kept (in ``array('q')`` columns per
stage attempt), failures are grouped by their normalised message, plan texts are cut to
:data:`PLAN_CHARS_KEPT`.  Spark 2.x and 3.x/4.x field differences are absorbed here
(missing ``Peak Execution Memory``, ``Remote Bytes Read To Disk``, executor metrics, resource
profiles).  A line that is not valid JSON, or an event of a known type with an unexpected
shape (a missing key, a value of the wrong type: ``"App ID": 123``, a string ``Timestamp``),
is counted as malformed and skipped whole, so no event is half applied; a few of them are kept
as examples with their file and line number.  A task metric that no run can have (a negative
or beyond-8-PiB byte count) is dropped and counted, and the task still counts.

This module is the loop: it finds each line's event type and hands the event to its handler
in :mod:`.listener` (typed field access in :mod:`.event_fields`), and counts what it skips.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..reading.codecs import LogLines
from ..reading.failure_text import first_line
from .event_fields import Event
from .files import EventLogSource
from .listener import PLAN_CHARS_KEPT, AppLogListener, ReadLog, plan_outline

__all__ = ["PLAN_CHARS_KEPT", "ReadLog", "plan_outline", "read_event_log"]

_EXAMPLES_KEPT = 5


def _short(exc: BaseException) -> str:
    return first_line(f"{type(exc).__name__}: {exc}", 200)


# ---- the reader ---------------------------------------------------------------------------------

_PREFIX = b'{"Event":"'
_TASK_END = b"SparkListenerTaskEnd"
# RecursionError: a line nested thousands deep (msgspec, like json, gives up with it)
_SHAPE_ERRORS = (KeyError, TypeError, AttributeError, ValueError, IndexError, OverflowError, RecursionError)


class _Reader(AppLogListener):
    """The driver loop over the lines: the handlers it calls are :class:`AppLogListener`'s."""

    def __init__(self, app: ReadLog) -> None:
        import msgspec

        from .events import TASK_END, decode_ignoring_impossible

        super().__init__(app)
        self.loads: Callable[[bytes], Any] = msgspec.json.Decoder().decode
        self.task_end = TASK_END.decode
        self.task_end_checked = decode_ignoring_impossible
        self.out_of_bounds = msgspec.ValidationError
        self.counts: dict[bytes, int] = {}  # by the type's raw bytes: no decoding per line

    # -- the loop --

    def read(self, lines: LogLines, label: str) -> None:
        """Every line of one file.  Lines are looked at in place in the decoder's buffer: only
        the events that are parsed are sliced out (task ends as a copy-free memoryview)."""
        app, handlers, counts = self.app, self.handlers, self.counts
        decode_task_end, on_task_end, out_of_bounds = self.task_end, self.on_task_end, self.out_of_bounds
        number = 0
        for buffer, start, end in lines.blocks():
            view, find, startswith = memoryview(buffer), buffer.find, buffer.startswith
            pos = start
            while pos < end:
                stop = find(b"\n", pos, end)
                if stop < 0:
                    stop = end  # the last line of a file that stops mid-line
                number += 1
                quote = find(b'"', pos + 10, stop) if startswith(_PREFIX, pos, stop) else -1
                if quote > 0:
                    name = buffer[pos + 10 : quote]
                    counts[name] = counts.get(name, 0) + 1
                    if name == _TASK_END:
                        self.at = (label, number)
                        try:
                            on_task_end(decode_task_end(view[pos:stop]))
                        except out_of_bounds:  # a bound or a type broken: the rare path sorts out which
                            self._task_end_checked(view[pos:stop], label, number)
                        except _SHAPE_ERRORS as exc:
                            self._malformed(label, number, f"SparkListenerTaskEnd is not readable ({_short(exc)})")
                    elif (handler := handlers.get(name)) is not None:
                        self._dispatch(buffer[pos:stop], handler, label, number)
                    elif not buffer[pos:stop].rstrip().endswith(b"}"):
                        self._malformed(label, number, f"a {name.decode(errors='replace')} line is cut off")
                elif not buffer[pos:stop].strip():
                    app.blank_lines += 1
                else:
                    self._other(buffer[pos:stop], label, number)
                pos = stop + 1
        app.lines += number

    def _dispatch(self, line: bytes, handler: Callable[[Event], None], label: str, number: int) -> None:
        self.at = (label, number)
        try:
            event = self.loads(line)
        except (ValueError, RecursionError) as exc:
            self._malformed(label, number, f"not valid JSON ({_short(exc)})")
            return
        try:
            handler(event)
        except _SHAPE_ERRORS as exc:
            self._malformed(label, number, f"{event.get('Event')} has an unexpected shape ({_short(exc)})")

    def _other(self, line: bytes, label: str, number: int) -> None:
        """A line not in Spark's key order: parse it whole and dispatch by its ``Event``."""
        try:
            name = self.loads(line)["Event"]
        except (ValueError, KeyError, TypeError, RecursionError) as exc:
            self._malformed(label, number, f"not a Spark event ({_short(exc)})")
            return
        key = str(name).encode()
        self.counts[key] = self.counts.get(key, 0) + 1
        if key == _TASK_END:
            self._task_end_checked(line, label, number)
        elif (handler := self.handlers.get(key)) is not None:
            self._dispatch(line, handler, label, number)

    def _task_end_checked(self, line: bytes | memoryview, label: str, number: int) -> None:
        """A task end off the fast path: impossible metric values dropped and counted, other faults malformed."""
        self.at = (label, number)
        try:
            event, dropped = self.task_end_checked(line)
            self.on_task_end(event)
        except _SHAPE_ERRORS as exc:
            self._malformed(label, number, f"SparkListenerTaskEnd is not readable ({_short(exc)})")
            return
        self.app.ignored_values += len(dropped)
        if dropped and len(self.app.ignored_examples) < _EXAMPLES_KEPT:
            self.app.ignored_examples.append(f"{label} line {number}: {', '.join(dropped)[:200]}")

    def _malformed(self, label: str, number: int, why: str) -> None:
        self.app.malformed_lines += 1
        if len(self.app.malformed_examples) < _EXAMPLES_KEPT:
            self.app.malformed_examples.append(f"{label} line {number}: {why}")


def read_event_log(source: EventLogSource) -> ReadLog:
    """Every file of ``source`` in order, read in one pass (a rolling log's files are one stream)."""
    app = ReadLog(source=source)
    reader = _Reader(app)
    for path in source.files:
        lines = LogLines(path)
        reader.read(lines, path.name)
        app.decode.append(lines.stats)
        app.oversized_lines += lines.oversized_lines
        app.unterminated_last_line = lines.unterminated_last_line  # only the last file's counts
    app.event_counts = {name.decode(errors="replace"): n for name, n in reader.counts.items()}
    for stage in app.stages.values():  # kept per stage on the hot path, summed once here
        app.tasks += len(stage.task_ms)
        app.seen(stage.first_launch_ms)
        app.seen(stage.last_finish_ms)
    return app
