"""A signature's frame category: the stack frames say where an error was raised (a native engine's allocator)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from dgx_spark_mcp.diagnosis.findings.signatures import FrameCategory, categories, signatures
from dgx_spark_mcp.diagnosis.logs.diagnose import diagnose_log
from dgx_spark_mcp.settings import Settings

MESSAGE = "org.apache.spark.memory.SparkOutOfMemoryError: Unable to acquire 67108848 bytes of memory, got 65700208"
HEADER = "24/07/08 05:00:00 ERROR Executor: Exception in task 3.0 in stage 7.0 (TID 41)\n"
COMET = ("\tat org.apache.spark.shuffle.comet.CometShuffleMemoryAllocator.allocate(CometShuffleMemoryAllocator.java:132)\n"
         "\tat org.apache.spark.shuffle.ShuffleWriteProcessor.write(ShuffleWriteProcessor.scala:59)\n")
VANILLA = ("\tat org.apache.spark.memory.MemoryConsumer.throwOom(MemoryConsumer.java:157)\n"
           "\tat org.apache.spark.util.collection.unsafe.sort.UnsafeExternalSorter.acquireNewPage(UnsafeExternalSorter.java:434)\n")


def _diagnose(tmp_path: Path, text: str) -> list[tuple[str, str]]:
    log = tmp_path / "executor.log"
    log.write_text(text)
    result = diagnose_log(log, Settings(home=tmp_path / "home", allowed_roots=[tmp_path]), kind="spark_executor")
    return [(f.category, f.fix.changes[0].key if f.fix.changes else "") for f in result.findings]


def test_execution_memory_oom_in_spark_itself_is_an_executor_oom(tmp_path: Path) -> None:
    assert _diagnose(tmp_path, HEADER + MESSAGE + "\n" + VANILLA) == [("executor_oom", "spark.sql.shuffle.partitions")]


def test_raised_in_comets_allocator_it_is_off_heap_with_the_off_heap_fix(tmp_path: Path) -> None:
    assert _diagnose(tmp_path, HEADER + MESSAGE + "\n" + COMET) == [("offheap_oom", "spark.memory.offHeap.size")]


def test_a_bare_message_before_the_trace_joins_the_group_the_frames_place(tmp_path: Path) -> None:
    # How an issue report quotes it: the message alone, then the same message with its trace.
    assert _diagnose(tmp_path, MESSAGE + "\n\n" + MESSAGE + "\n" + COMET) == [("offheap_oom", "spark.memory.offHeap.size")]


def test_frame_patterns_may_not_tell_digits_apart() -> None:
    # Repeats that differ only in digits are classified once (reading/shapes.py): a digit in the regex would break that.
    with pytest.raises(ValidationError):
        FrameCategory.model_validate({"frames": r"Comet\w+\.java:13\d", "category": "offheap_oom", "why": "x",
                                      "fix": {"summary": "x", "changes": []}})


def test_every_frame_category_is_in_the_vocabulary() -> None:
    framed = [s.frame_category for s in signatures().signatures if s.frame_category is not None]
    assert framed and all(f.category in categories().names() for f in framed)
