"""A driver log's account of a slow run: slow stages from its task lines, and the plans it printed.

Only driver logs carry these: the driver logs each finished task with its time, and a job's
``df.explain()`` output lands on the driver's stdout.  Both are read from the log's bytes in one pass
after the signature scan, for driver logs up to :data:`.task_times.MAX_BYTES` (decompressed).  They rank
after every failure: a slow stage explains a slow run, not a failed one.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from ..findings.model import DiagnosisFinding, Evidence
from ..findings.signatures import categories
from ..reading.codecs import LogLines
from .gc_log import gc_pressure
from .printed_plans import printed_plan_findings
from .task_times import MAX_BYTES, slow_stages, task_times

__all__ = ["SLOW_PRIORITY", "driver_log_findings"]

SLOW_PRIORITY = 65
"""After every failure signature (the plan findings of a printed plan come after these, at 90)."""


def _content(path: Path | None, data: bytes | None) -> bytes | None:
    if data is not None:
        return data if len(data) <= MAX_BYTES else None
    assert path is not None
    parts: list[bytes] = []
    size = 0
    for buf, start, end in LogLines(path).blocks():
        size += end - start
        if size > MAX_BYTES:
            return None
        parts.append(buf[start:end])
    return b"".join(parts)


def driver_log_findings(path: Path | None, data: bytes | None, source: str | None,
                        covered: Iterable[str]) -> list[tuple[int, DiagnosisFinding]]:
    """(priority, finding) of the slow stages and printed plans of a driver log, in categories not found already."""
    from ..eventlogs.tuning import thresholds

    content = _content(path, data)
    if content is None:
        return []
    seen = set(covered)
    th = thresholds()
    vocabulary = categories()
    found: list[tuple[int, DiagnosisFinding]] = []
    for category, message in slow_stages(
        task_times([content]), task_skew=th.slow_task_skew.value, stage_share=th.slow_task_stage_share.value,
        min_stage_ms=th.slow_stage_min_ms.value, fetch_skew=th.shuffle_skew_factor.value,
        min_fetch_bytes=th.slow_skew_min_bytes.value, standout=th.slow_straggler_standout.value,
    ):
        if category in seen:
            continue
        seen.add(category)
        found.append((SLOW_PRIORITY, DiagnosisFinding(
            category=category, rule_id=f"driverlog.slow.{category.replace('_', '-')}", severity="warning",
            title=vocabulary.title(category), root_cause=message[0].upper() + message[1:] + ".",
            evidence=[Evidence(file=source, lines=[message[:1_000]], role="cause")])))
    if "gc_pressure" not in seen and (gc := gc_pressure(
            content, gc_share=th.slow_gc_share.value, min_span_ms=th.slow_stage_min_ms.value,
            full_count=th.slow_full_gc_count.value, full_heap_share=th.slow_full_gc_heap_share.value)) is not None:
        message, offset = gc
        seen.add("gc_pressure")
        lines, numbers = [message[:1_000]], []
        if offset is not None:  # the fullest full collection's own line
            start = content.rfind(b"\n", 0, offset) + 1
            end = content.find(b"\n", offset)
            lines = [content[start : end if end >= 0 else len(content)].decode("utf-8", "replace")[:1_000]]
            numbers = [content.count(b"\n", 0, start) + 1]
        found.append((SLOW_PRIORITY, DiagnosisFinding(
            category="gc_pressure", rule_id="driverlog.slow.gc", severity="warning", title=vocabulary.title("gc_pressure"),
            root_cause=message[0].upper() + message[1:] + ".",
            evidence=[Evidence(file=source, lines=lines, line_numbers=numbers, role="cause")])))
    if b"== Physical Plan ==" in content:
        for finding in printed_plan_findings(content.decode("utf-8", "replace").splitlines(), source):
            if finding.category not in seen:
                seen.add(finding.category)
                found.append((90, finding))
    return found
