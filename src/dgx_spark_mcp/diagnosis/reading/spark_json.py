"""Spark 4's structured (JSON) log lines, read as the log4j records they stand for.

With ``spark.log.structuredLogging.enabled`` (Spark 4.0+; the layout is Spark's ``SparkLayout.json``), every
log4j event is one JSON object on one line, its stack trace included::

    {"ts":"2026-12-07T10:00:09.100Z","level":"ERROR","msg":"Exception in task 0.0 in stage 3.0 (TID 7)",
     "context":{"task_name":"..."},"exception":{"class":"java.lang.OutOfMemoryError","msg":"Java heap space",
     "stacktrace":"java.lang.OutOfMemoryError: Java heap space\\n\\tat ..."},"logger":"Executor"}

PySpark's own logger (``pyspark.logger``, ``DataFrameQueryContextLogger``) writes the same shape with
``"ts": "..."`` first and the exception's frames as a list.  The reader turns such a line into the record a pattern-layout log would have given: the message, then the
stack trace's lines (``Caused by:`` chain included), all at the JSON line's number.  Output that bypasses log4j
(a Python traceback on stderr, GC lines, a printed plan) stays plain text in the same file and is read as such.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

__all__ = ["JSON_START", "SparkJsonLine", "parse_spark_json"]

JSON_START = b'{"ts"'
"""How every line of Spark's JSON layout begins (``ts`` is its first field)."""


@dataclass(frozen=True)
class SparkJsonLine:
    level: str | None
    logger: str | None
    lines: list[str]
    """The message's lines, then the exception's stack trace (or its class and message when no trace was kept)."""


def parse_spark_json(text: str) -> SparkJsonLine | None:
    """One line of Spark's JSON layout; None for anything else (Airflow 3's JSON has ``event``, not ``msg``)."""
    if not text.startswith('{"ts"'):
        return None
    try:
        event = json.loads(text)
    except ValueError:
        return None
    if not isinstance(event, dict) or "msg" not in event:
        return None
    lines = str(event.get("msg") or "").split("\n")
    exception = event.get("exception")
    if isinstance(exception, dict):
        trace = exception.get("stacktrace")
        if isinstance(trace, str) and trace.strip():
            lines += trace.rstrip("\n").split("\n")
        elif exception.get("class"):
            # PySpark's logger (pyspark.logger) keeps the class and message here, its frames as a list.
            said = exception.get("msg")
            lines += (f"{exception['class']}: {said}" if said else str(exception["class"])).rstrip("\n").split("\n")
            if isinstance(trace, list):
                lines += [f"\tat {f.get('class') or ''}.{f.get('method') or ''}({f.get('file')}:{f.get('line')})"
                          for f in trace[:10] if isinstance(f, dict)]
    level = str(event.get("level") or "").upper() or None
    logger = event.get("logger")
    return SparkJsonLine(level="WARN" if level == "WARNING" else level, logger=str(logger) if logger else None,
                         lines=lines)
