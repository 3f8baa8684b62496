"""What kind of log a file is, from its first lines, and how to take a line apart.

Kinds: a Spark driver or executor log (log4j lines), a Spark event log (SparkListener JSON
lines), an Airflow task log (1.10-2.x ``[ts] {file:line} LEVEL - msg`` lines, or Airflow 3's
JSON lines), or plain text (a pasted stack trace).  An Airflow line whose message is itself a
log4j line (``{spark_submit.py:NNN} INFO - 24/07/08 04:03:25 INFO ...``) carries a nested
spark-submit log: :func:`unwrap_airflow` hands its message on to the Spark parser.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from enum import StrEnum

from .spark_json import parse_spark_json

__all__ = ["LogKind", "ParsedLine", "detect_kind", "parse_airflow", "parse_airflow3", "parse_log4j"]


class LogKind(StrEnum):
    SPARK_DRIVER = "spark_driver"
    SPARK_EXECUTOR = "spark_executor"
    SPARK_EVENT_LOG = "spark_event_log"
    AIRFLOW = "airflow"
    AIRFLOW3 = "airflow3_json"
    TEXT = "text"

    @property
    def spark(self) -> bool:
        return self in (LogKind.SPARK_DRIVER, LogKind.SPARK_EXECUTOR)

    @property
    def airflow(self) -> bool:
        return self in (LogKind.AIRFLOW, LogKind.AIRFLOW3)


# The knowledge file's log4j regex, with millis and an optional thread; ISO dates (Spark 3.3+
# log4j2 templates, YARN aggregated logs) are accepted too.
_LOG4J = re.compile(
    r"^(?:\d{2}/\d{2}/\d{2}|\d{4}-\d{2}-\d{2})[ T]\d{2}:\d{2}:\d{2}(?:[.,]\d{3})?\s+(?:(\S.*?)\s+)?"
    r"(TRACE|DEBUG|INFO|WARN|WARNING|ERROR|FATAL)\s+([\w.$\-]+):\s?(.*)$"
)
_AIRFLOW = re.compile(r"^\[(?P<ts>[^\]]+)\] \{\{?(?P<file>[\w.\-]+):(?P<line>\d+)\}\}? (?P<level>[A-Z]+) - (?P<msg>.*)$")
# The same lines as quoted or printed elsewhere: without the timestamp or the {file:line} (an excerpt in an
# issue, ``airflow tasks test`` output), behind a component prefix (``scheduler  | `` in ``airflow standalone``),
# or in structlog's console layout (Airflow 3 consoles: ``2026-12-07T18:36:31Z [error    ] event [logger] k=v``).
_COMPONENT = r"(?:[a-z][\w-]*\s*\| )?"
_AIRFLOW_LOOSE = re.compile(_COMPONENT + r"(?:\[(?P<ts>[^\]]+)\] )?(?:\{\{?(?P<file>[\w.\-]+):(?P<line>\d+)\}\}? )?"
                            r"(?P<level>DEBUG|INFO|WARNING|ERROR|CRITICAL) - (?P<msg>.*)$")
_AIRFLOW_CONSOLE = re.compile(_COMPONENT + r"\s*(?P<ts>\d{4}-\d{2}-\d{2}[T ][\d:.,]+Z?) \[(?P<level>debug|info|warning|error|"
                              r"critical)\s*\[?\] (?P<msg>.*)$")
_AIRFLOW3_META = {"timestamp", "level", "event", "logger", "error_detail", "exc_info", "exception", "filename", "lineno"}
"""Fields said elsewhere: the level, the message, the traceback; ``filename`` (the module that logged, as Airflow 2's
``{file:line}``) becomes the record's source file."""
_SUBTASK = re.compile(r"^Job \d+: Subtask \S+ ")  # Airflow <= 2.2 relays the task's own output this way
# What only an executor prints: its backend, its task runner's log lines and thread names.  A
# driver in local mode runs tasks too (and prints all of these), so a driver marker wins.
_EXECUTOR_MARKERS = ("CoarseGrainedExecutorBackend", "Executor: Starting executor", "Started daemon with process name",
                     "Executor: Running task", "Executor: Exception in task", "Executor task launch worker")
_DRIVER_MARKERS = ("SparkContext: Running Spark version", "DAGScheduler", "SparkContext:", "SparkUI")


@dataclass(frozen=True)
class ParsedLine:
    level: str | None
    thread: str | None
    logger: str | None
    message: str
    source_file: str | None = None  # Airflow's {file:line}


def parse_log4j(line: str) -> ParsedLine | None:
    match = _LOG4J.match(line)
    if match is None:
        return None
    thread, level, logger, message = match.groups()
    return ParsedLine(level="WARN" if level == "WARNING" else level, thread=thread, logger=logger, message=message)


def parse_airflow(line: str) -> ParsedLine | None:
    match = _AIRFLOW.match(line) or _AIRFLOW_LOOSE.match(line)
    if match is None:
        console = _AIRFLOW_CONSOLE.match(line)
        if console is None:
            return None
        level = console["level"].upper()
        return ParsedLine(level="WARN" if level == "WARNING" else level, thread=None, logger=None, message=console["msg"])
    message = _SUBTASK.sub("", match["msg"], count=1)
    return ParsedLine(level=match["level"], thread=None, logger=None, message=message, source_file=match["file"])


_FRAMES = 10
"""Frames of each exception kept when a structured traceback is written out (the last ones: where it was raised)."""


def _traceback(detail: object) -> str:
    """Airflow 3's ``error_detail`` (structlog: the raised exception first, then its causes, each with its frames)
    as Python prints a traceback, innermost cause first; anything else as JSON."""
    if not isinstance(detail, list) or not detail or not all(isinstance(e, dict) and "exc_type" in e for e in detail):
        return json.dumps(detail)
    blocks = []
    for exc in reversed(detail):
        frames = [f for f in exc.get("frames") or [] if isinstance(f, dict)][-_FRAMES:]
        lines = ["Traceback (most recent call last):"]
        lines += [f'  File "{f.get("filename")}", line {f.get("lineno")}, in {f.get("name")}' for f in frames]
        value = exc.get("exc_value")
        lines.append(f"{exc['exc_type']}: {value}" if value not in (None, "") else str(exc["exc_type"]))
        blocks.append("\n".join(lines))
    return "\n\nThe above exception was the direct cause of the following exception:\n\n".join(blocks)


def parse_airflow3(line: str) -> ParsedLine | None:
    """One Airflow 3 JSON log line: ``{"timestamp": ..., "level": "error", "event": ..., "logger": ...}``."""
    if not line.startswith("{"):
        return None
    try:
        record = json.loads(line)
    except ValueError:
        return None
    if not isinstance(record, dict) or "event" not in record:
        return None
    event = str(record.get("event", ""))
    extra = record.get("error_detail") or record.get("exc_info") or record.get("exception")
    if extra:
        # Airflow 3 puts the traceback in a structured field; keep its text with the event, as Python prints it.
        event = f"{event}\n{extra if isinstance(extra, str) else _traceback(extra)}"
    # Structured fields (signal=-9, exit_code=...) carry the cause; keep them with the event.
    fields = " ".join(f"{k}={v}" for k, v in record.items() if k not in _AIRFLOW3_META and not isinstance(v, (dict, list)))
    if fields:
        event = f"{event} {fields}" if "\n" not in event else event.replace("\n", f" {fields}\n", 1)
    level = str(record.get("level", "")).upper() or None
    return ParsedLine(level="WARN" if level == "WARNING" else level, thread=None, logger=record.get("logger"),
                      message=event, source_file=record.get("filename") or record.get("logger"))


def detect_kind(head: list[str]) -> LogKind:
    """The kind of log whose first lines are ``head`` (a few hundred lines are plenty)."""
    log4j = airflow = airflow3 = events = 0
    executor = driver = False
    for line in head:
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("{"):
            if '"Event"' in stripped and "SparkListener" in stripped:
                events += 1
            elif parse_airflow3(stripped) is not None:
                airflow3 += 1
            elif (spark := parse_spark_json(stripped)) is not None:  # Spark 4's structured logging
                log4j += 1
                said = f"{spark.logger}: {spark.lines[0]}"
                executor = executor or any(m in said for m in _EXECUTOR_MARKERS)
                driver = driver or any(m in said for m in _DRIVER_MARKERS)
            continue
        if _AIRFLOW.match(stripped) or _AIRFLOW_LOOSE.match(stripped) or _AIRFLOW_CONSOLE.match(stripped):
            airflow += 1
        elif _LOG4J.match(stripped):
            log4j += 1
            executor = executor or any(m in stripped for m in _EXECUTOR_MARKERS)
            driver = driver or any(m in stripped for m in _DRIVER_MARKERS)
    if events and events >= max(airflow3, airflow, log4j):
        return LogKind.SPARK_EVENT_LOG
    if airflow3 and airflow3 >= max(airflow, log4j):
        return LogKind.AIRFLOW3
    if airflow and airflow >= log4j:
        return LogKind.AIRFLOW
    if log4j:
        return LogKind.SPARK_EXECUTOR if executor and not driver else LogKind.SPARK_DRIVER
    return LogKind.TEXT
