"""The executors of a running application: GC share, memory, failed tasks, and the ones it lost.

``/allexecutors`` holds every executor the application ever had (the driver too).  Their counters
cover the whole run so far, which is what "is this executor healthy" needs; the thresholds are the
event-log analysis' (Dr. Elephant's GC ladder, the removals Spark makes on purpose), so the live answer
and the log's analysis of the same run agree.
"""

from __future__ import annotations

from typing import Any

from .running_models import Executors, ExecutorStatus, StatusFinding
from .running_stages import MIB, round3

__all__ = ["GC_MIN_TASK_S", "MEMORY_FULL", "executors_status"]

GC_MIN_TASK_S = 60.0
"""An executor's GC share counts once its tasks ran this long: a young JVM's first collections are no signal."""
MEMORY_FULL = 0.9
"""Storage memory this full evicts cached blocks (recomputed or read back from disk)."""
LISTED = (3, 30)
"""Executors listed: summary, full."""


def _status(e: dict[str, Any], full: bool) -> ExecutorStatus:
    task_ms, gc_ms = float(e.get("totalDuration") or 0), float(e.get("totalGCTime") or 0)
    used, most = e.get("memoryUsed"), e.get("maxMemory")
    peak = (e.get("peakMemoryMetrics") or {}).get("JVMHeapMemory")
    host = str(e.get("hostPort") or "").rsplit(":", 1)[0] or None
    return ExecutorStatus(
        id=str(e.get("id")), host=host, active=bool(e.get("isActive", True)), cores=e.get("totalCores"),
        running=int(e.get("activeTasks") or 0), failed=int(e.get("failedTasks") or 0),
        done=int(e.get("completedTasks") or 0), gc_share=round3(gc_ms / task_ms) if task_ms > 0 else None,
        memory_mib=[round3(float(used) / MIB) or 0.0, round3(float(most) / MIB) or 0.0]
        if isinstance(used, int | float) and isinstance(most, int | float) and most else [],
        peak_heap_mib=round3(float(peak) / MIB) if full and isinstance(peak, int | float) and peak else None,
        removed=str(e.get("removeReason"))[:100] if not e.get("isActive", True) and e.get("removeReason") else None)


def executors_status(raw: list[dict[str, Any]], *, full: bool) -> tuple[Executors, list[StatusFinding]]:
    """The executors' totals, the notable ones, and the GC, memory and lost-executor findings."""
    from ..diagnosis.eventlogs.tuning import ladder_severity, thresholds

    th = thresholds()
    every = [e for e in raw if isinstance(e, dict)]
    # In local mode the driver runs the tasks; on a cluster it runs none and would only dilute the figures.
    workers = [e for e in every if str(e.get("id")) != "driver"] or every
    statuses = {str(e.get("id")): _status(e, full) for e in workers}
    active = [s for s in statuses.values() if s.active]
    findings: list[StatusFinding] = []

    gc_hits = []
    for e in workers:
        task_ms, gc_ms = float(e.get("totalDuration") or 0), float(e.get("totalGCTime") or 0)
        if e.get("isActive", True) and task_ms >= GC_MIN_TASK_S * 1000:
            severity = ladder_severity(gc_ms / task_ms, th.gc_share_ladder.value)
            if severity in ("warning", "error", "critical"):
                gc_hits.append((gc_ms / task_ms, str(e.get("id"))))
    if gc_hits:
        gc_hits.sort(reverse=True)
        worst = gc_hits[0][0]
        findings.append(StatusFinding(
            severity="critical" if worst >= th.gc_alert_share.value else ladder_severity(worst, th.gc_share_ladder.value)
            or "warning", category="gc_pressure", executors=[i for _, i in gc_hits[:5]],
            what=f"{len(gc_hits)} of {len(active)} executor(s) spend over {th.gc_share_ladder.value[1]:.0%} of task "
                 f"time in JVM GC (worst: executor {gc_hits[0][1]}, {worst:.0%})",
            fix="more heap per task: fewer spark.executor.cores or more spark.executor.memory (local mode: "
                "spark.driver.memory)"))

    full_memory = [s for s in active if len(s.memory_mib) == 2 and s.memory_mib[1] and
                   s.memory_mib[0] >= MEMORY_FULL * s.memory_mib[1]]
    if full_memory:
        findings.append(StatusFinding(
            severity="warning", category="memory_pressure", executors=[s.id for s in full_memory[:5]],
            what=f"{len(full_memory)} executor(s) hold over {MEMORY_FULL:.0%} of their storage memory in cached blocks "
                 f"(executor {full_memory[0].id}: {full_memory[0].memory_mib[0]:g} of {full_memory[0].memory_mib[1]:g} "
                 "MiB); older blocks are evicted and recomputed",
            fix="unpersist what is no longer used, persist MEMORY_AND_DISK_SER, or more executor memory"))

    benign = [reason.lower() for reason in th.benign_executor_removals.value]
    lost = [s for s in statuses.values() if not s.active and s.removed
            and not any(b in s.removed.lower() for b in benign)]
    if lost:
        findings.append(StatusFinding(
            severity="error", category="executor_lost", executors=[s.id for s in lost[:5]],
            what=f"{len(lost)} executor(s) lost: {lost[0].id} on {lost[0].host}: {lost[0].removed}",
            fix="its tasks and shuffle output are redone: check for container memory kills "
                "(spark.executor.memoryOverhead), node failures or preemption"))

    named = {i for f in findings for i in f.executors}
    ranked = sorted(statuses.values(), key=lambda s: (s.id not in named, -s.failed, -(s.gc_share or 0.0), s.id))
    task_ms = sum(float(e.get("totalDuration") or 0) for e in workers)
    gc_ms = sum(float(e.get("totalGCTime") or 0) for e in workers)
    summary = Executors(
        active=len(active), dead=len(statuses) - len(active), cores=sum(s.cores or 0 for s in active),
        running=sum(s.running for s in active), failed=sum(s.failed for s in statuses.values()),
        gc_share=round3(gc_ms / task_ms) if task_ms > 0 else None,
        listed=ranked[: LISTED[1] if full else LISTED[0]])
    return summary, findings
