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
"""

from __future__ import annotations

import msgspec
from msgspec import Struct, field

__all__ = ["TASK_END", "TaskEnd"]


class _ShuffleRead(Struct, gc=False):
    remote_bytes: int = field(name="Remote Bytes Read", default=0)
    local_bytes: int = field(name="Local Bytes Read", default=0)


class _ShuffleWrite(Struct, gc=False):
    bytes_written: int = field(name="Shuffle Bytes Written", default=0)


class _Input(Struct, gc=False):
    bytes_read: int = field(name="Bytes Read", default=0)


class _Output(Struct, gc=False):
    bytes_written: int = field(name="Bytes Written", default=0)


class TaskMetrics(Struct, gc=False):
    run_ms: int = field(name="Executor Run Time", default=0)
    cpu_ns: int = field(name="Executor CPU Time", default=0)
    gc_ms: int = field(name="JVM GC Time", default=0)
    peak_execution_memory: int | None = field(name="Peak Execution Memory", default=None)
    memory_spilled: int = field(name="Memory Bytes Spilled", default=0)
    disk_spilled: int = field(name="Disk Bytes Spilled", default=0)
    shuffle_read: _ShuffleRead | None = field(name="Shuffle Read Metrics", default=None)
    shuffle_write: _ShuffleWrite | None = field(name="Shuffle Write Metrics", default=None)
    input: _Input | None = field(name="Input Metrics", default=None)
    output: _Output | None = field(name="Output Metrics", default=None)


class TaskInfo(Struct, gc=False):
    launch_ms: int = field(name="Launch Time")
    finish_ms: int = field(name="Finish Time")
    executor_id: str = field(name="Executor ID", default="")


class TaskEndReason(Struct, gc=False):
    """``Task End Reason``: which fields are set depends on ``Reason``."""

    kind: str = field(name="Reason", default="Success")
    class_name: str | None = field(name="Class Name", default=None)
    description: str | None = field(name="Description", default=None)
    loss_reason: str | None = field(name="Loss Reason", default=None)
    message: str | None = field(name="Message", default=None)
    kill_reason: str | None = field(name="Kill Reason", default=None)


class TaskEnd(Struct, kw_only=True, gc=False):
    stage_id: int = field(name="Stage ID")
    stage_attempt: int = field(name="Stage Attempt ID", default=0)
    reason: TaskEndReason | None = field(name="Task End Reason", default=None)
    info: TaskInfo = field(name="Task Info")
    metrics: TaskMetrics | None = field(name="Task Metrics", default=None)


TASK_END = msgspec.json.Decoder(TaskEnd)
