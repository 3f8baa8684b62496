"""The typed shape of ``SparkListenerTaskEnd``: the one event a log holds thousands of.

Decoded with msgspec into these structs, only the declared fields become Python objects;
the rest of the line (``Task Info.Accumulables``, ``Task Executor Metrics``, records
counts, ...) is checked as JSON and skipped without allocating anything.  On the corpus GPU
log that is about 1.6 µs per task-end event against about 5 µs for ``orjson.loads`` of the
same line (``bench/eventlog_parse.py`` measures the whole reader), which is what lets the
reader run several times faster than a plain ``json.loads`` loop.

The structs hold only numbers, strings and each other, so they cannot form cycles:
``gc=False`` keeps them out of the cyclic garbage collector, which otherwise runs over and
over while thousands of them are made and dropped.

Every field but the ids and times has a default, so Spark 2.x lines (no ``Peak Execution
Memory``, no ``Remote Bytes Read To Disk``) and failed tasks without metrics decode as well.
This module imports msgspec at its top: import it only where a log is actually read.

Counts, sizes and times are bounded (:data:`MAX_COUNT`): a negative byte count or one beyond
what any run moves is a corrupt line, not a fact.  The bounds are checked by msgspec in C, so
real lines pay nothing; a line that breaks one goes to :func:`decode_ignoring_impossible`,
which drops the impossible metric values (the task still counts) and says which they were.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from msgspec import Meta, Struct, field

__all__ = ["MAX_COUNT", "TASK_END", "TaskEnd", "decode_ignoring_impossible"]

MAX_COUNT = 2**53
"""Largest count, size (bytes) or time (ms, ns) believed: 8 PiB, 285,000 years of ms, 104 days of
CPU ns per task.  Below it sums over millions of tasks stay far inside a 64-bit integer, and
every JSON reader keeps the value exact."""

Count = Annotated[int, Meta(ge=0, le=MAX_COUNT)]
Id = Annotated[int, Meta(ge=0, le=2**31 - 1)]  # Spark's stage ids and attempts are Java ints


class _ShuffleRead(Struct, gc=False):
    remote_bytes: Count = field(name="Remote Bytes Read", default=0)
    local_bytes: Count = field(name="Local Bytes Read", default=0)


class _ShuffleWrite(Struct, gc=False):
    bytes_written: Count = field(name="Shuffle Bytes Written", default=0)


class _Input(Struct, gc=False):
    bytes_read: Count = field(name="Bytes Read", default=0)


class _Output(Struct, gc=False):
    bytes_written: Count = field(name="Bytes Written", default=0)


class TaskMetrics(Struct, gc=False):
    run_ms: Count = field(name="Executor Run Time", default=0)
    cpu_ns: Count = field(name="Executor CPU Time", default=0)
    gc_ms: Count = field(name="JVM GC Time", default=0)
    peak_execution_memory: Count | None = field(name="Peak Execution Memory", default=None)
    memory_spilled: Count = field(name="Memory Bytes Spilled", default=0)
    disk_spilled: Count = field(name="Disk Bytes Spilled", default=0)
    shuffle_read: _ShuffleRead | None = field(name="Shuffle Read Metrics", default=None)
    shuffle_write: _ShuffleWrite | None = field(name="Shuffle Write Metrics", default=None)
    input: _Input | None = field(name="Input Metrics", default=None)
    output: _Output | None = field(name="Output Metrics", default=None)


class TaskInfo(Struct, gc=False):
    launch_ms: Count = field(name="Launch Time")
    finish_ms: Count = field(name="Finish Time")
    executor_id: str = field(name="Executor ID", default="")
    task_id: Count = field(name="Task ID", default=0)


class TaskEndReason(Struct, gc=False):
    """``Task End Reason``: which fields are set depends on ``Reason``."""

    kind: str = field(name="Reason", default="Success")
    class_name: str | None = field(name="Class Name", default=None)
    description: str | None = field(name="Description", default=None)
    loss_reason: str | None = field(name="Loss Reason", default=None)
    message: str | None = field(name="Message", default=None)
    kill_reason: str | None = field(name="Kill Reason", default=None)


class TaskEnd(Struct, kw_only=True, gc=False):
    stage_id: Id = field(name="Stage ID")
    stage_attempt: Id = field(name="Stage Attempt ID", default=0)
    reason: TaskEndReason | None = field(name="Task End Reason", default=None)
    info: TaskInfo = field(name="Task Info")
    metrics: TaskMetrics | None = field(name="Task Metrics", default=None)


TASK_END = msgspec.json.Decoder(TaskEnd)


def _impossible(value: object) -> bool:
    return type(value) is int and not 0 <= value <= MAX_COUNT  # bool is an int too: type(), not isinstance()


def _drop_impossible(metrics: dict[str, Any], path: str) -> list[str]:
    """Remove the out-of-range integers of ``metrics`` (two levels: Spark nests one), naming each."""
    dropped: list[str] = []
    for key, value in list(metrics.items()):
        if _impossible(value):
            dropped.append(f"{path}.{key} = {value}")
            del metrics[key]
        elif isinstance(value, dict) and "." not in path:
            dropped += _drop_impossible(value, f"{path}.{key}")
    return dropped


def decode_ignoring_impossible(line: bytes | memoryview) -> tuple[TaskEnd, list[str]]:
    """A task end that broke a bound: its impossible metric values dropped (as if not logged) and named.

    Raises ``msgspec.ValidationError`` (a ValueError) when the line is wrong in another way: a
    value of the wrong type, an impossible id or time; the reader then skips it as malformed."""
    event = msgspec.json.decode(line)
    metrics = event.get("Task Metrics") if isinstance(event, dict) else None
    dropped = _drop_impossible(metrics, "Task Metrics") if isinstance(metrics, dict) else []
    return msgspec.convert(event, TaskEnd), dropped
