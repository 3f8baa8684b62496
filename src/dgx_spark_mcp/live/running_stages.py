"""A running stage's progress and what is wrong with it now: stragglers, skew, spill, waiting for slots.

Spark's taskSummary gives quantiles of the *finished* tasks only, and a running task has no run time
until it ends; the running tasks' elapsed time (taskList, ``status=running``) against the finished
median is what shows a straggler while it still holds the stage back.  Skew and GC use the event-log
analysis' thresholds (``data/eventlog-thresholds.json``) so a live answer and the analysis of the same
run's log agree.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .running_models import ActiveStage, Severity, StatusFinding, Straggler
from .spark_time import rest_time, seconds_since

__all__ = ["MIB", "QUANTILES", "STRAGGLER_MIN_S", "STRAGGLER_X", "is_straggler", "round3", "stage_status", "submitted",
           "task_elapsed_s"]

QUANTILES = "0.05,0.25,0.5,0.75,0.95,1.0"
"""taskSummary's quantiles: the five Spark's UI shows, and 1.0, the maximum."""
STRAGGLER_X = 3.0
"""A running task is a straggler past this multiple of the finished median.  Spark's speculation relaunches at
1.5x (spark.speculation.multiplier); twice that keeps ordinary task-time spread out of the answer."""
STRAGGLER_MIN_S = 10.0
"""... and at least this many seconds past the median, so millisecond tasks' jitter is no straggler."""
WAITING_MIN_S = 60.0
"""A stage with pending tasks and none running for this long is waiting for slots."""
SPILL_WARN_MIB = 1024.0
"""Disk spill above this is a warning (less is worth knowing, an info)."""
LISTED_STRAGGLERS = (1, 3)
"""Stragglers listed per stage: summary, full."""
MIB = 1024**2


def round3(value: float | None) -> float | None:
    """Three significant figures: what an agent reads of a duration or a size."""
    return None if value is None else float(f"{value:.3g}")


def is_straggler(elapsed_s: float, median_s: float) -> bool:
    """A running task this far past the stage's median finished task holds the stage back (the one definition:
    the application list's one-line state counts stragglers with it too)."""
    return elapsed_s >= STRAGGLER_X * max(median_s, 1e-3) and elapsed_s - median_s >= STRAGGLER_MIN_S


def _q(summary: dict[str, Any] | None, *path: str) -> list[float]:
    node: Any = summary or {}
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
    return [float(v) for v in node] if isinstance(node, list) and all(isinstance(v, int | float) for v in node) else []


def task_elapsed_s(task: dict[str, Any], now: datetime) -> float | None:
    """How long a running task has run: its duration as the server last updated it, else since its launch."""
    duration = task.get("duration")
    if isinstance(duration, int | float) and duration > 0:
        return duration / 1000
    return seconds_since(task.get("launchTime"), now)


def stage_status(stage: dict[str, Any], summary: dict[str, Any] | None, running: list[dict[str, Any]] | None,
                 jobs: list[int], now: datetime, *, full: bool) -> tuple[ActiveStage, list[StatusFinding]]:
    """One active stage's figures and findings; ``summary`` and ``running`` are None when they were not read."""
    from ..diagnosis.eventlogs.tuning import ladder_severity, thresholds

    th = thresholds()
    sid, attempt = int(stage.get("stageId", -1)), int(stage.get("attemptId", 0))
    name = str(stage.get("name") or stage.get("description") or "")[:60]
    label = f"stage {sid}" + (f" (attempt {attempt})" if attempt else "") + f" ({name[:40]})"
    total, done = int(stage.get("numTasks", 0)), int(stage.get("numCompleteTasks", 0))
    active = int(stage.get("numActiveTasks", 0))
    ran = seconds_since(stage.get("submissionTime"), now)
    durations = [q / 1000 for q in _q(summary, "duration")]
    reads = [q / MIB for q in _q(summary, "shuffleReadMetrics", "readBytes")]
    median = durations[2] if len(durations) == 6 else None
    findings: list[StatusFinding] = []

    stragglers: list[Straggler] = []
    longest_running = 0.0
    running_hosts = set()
    for task in running or []:
        if str(task.get("status", "RUNNING")).upper() != "RUNNING":
            continue  # a server older than Spark 3.2 ignores the status filter
        running_hosts.add(task.get("host"))
        elapsed = task_elapsed_s(task, now)
        if elapsed is None:
            continue
        longest_running = max(longest_running, elapsed)
        if median is not None and is_straggler(elapsed, median):
            stragglers.append(Straggler(
                task=int(task.get("taskId", -1)), partition=task.get("partitionId", task.get("index")),
                executor=task.get("executorId"), host=task.get("host"), running_s=round3(elapsed) or 0.0,
                x_median=round3(elapsed / max(median, 1e-3))))
    stragglers.sort(key=lambda s: -s.running_s)
    if stragglers and median is not None:
        worst = stragglers[0]
        hosts = sorted({s.host for s in stragglers if s.host})
        ratio = worst.x_median or 0.0
        severity: Severity = "error" if ratio >= th.skew_ratio_ladder.value[-1] else "warning"
        findings.append(StatusFinding(
            severity=severity, category="straggler", stage=sid, executors=sorted({s.executor for s in stragglers
                                                                                if s.executor})[:5],
            what=f"{label}: {len(stragglers)} running task(s) far behind the others; task {worst.task} (partition "
                 f"{worst.partition}, executor {worst.executor}) has run {worst.running_s:g} s, {ratio:g}x the median "
                 f"finished task ({round3(median):g} s); {done}/{total} tasks done, the stage waits on it",
            fix=("its partition holds more rows or work: salt or repartition the hot key, AQE skew join "
                 "(spark.sql.adaptive.skewJoin.enabled), cheaper per-row work (Python UDFs)"
                 + ("; all on one of several hosts: a slow node, try spark.speculation=true" if len(hosts) == 1
                    and len(stragglers) > 1 and len(running_hosts) > 1 else ""))))

    skew: dict[str, float] = {}
    if median:
        longest = max(durations[-1], longest_running)
        skew["duration"] = round3(longest / median) or 0.0
    if len(reads) == 6 and reads[-1] > 0:
        if reads[2] > 0:
            skew["shuffle_read"] = round3(reads[-1] / reads[2]) or 0.0
        big = reads[-1] * MIB > th.skew_join_threshold_bytes.value
        if big and reads[-1] > th.skew_join_factor.value * reads[2]:
            findings.append(StatusFinding(
                severity="warning", category="data_skew", stage=sid,
                what=f"{label}: the largest finished task read {round3(reads[-1]):g} MiB of shuffle, the median "
                     f"{round3(reads[2]):g} MiB (over {th.skew_join_factor.value:g}x and "
                     f"{th.skew_join_threshold_bytes.value // MIB} MiB: AQE's skewed-partition test)",
                fix="AQE skew join (spark.sql.adaptive.enabled, spark.sql.adaptive.skewJoin.enabled), or salt the hot "
                    "key"))
    if len(durations) == 6 and median and durations[-1] * 1000 >= th.skew_min_task_ms.value:
        severity_skew = ladder_severity(durations[-1] / median, th.skew_ratio_ladder.value)
        if severity_skew in ("error", "critical"):
            findings.append(StatusFinding(
                severity="warning", category="data_skew", stage=sid,
                what=f"{label}: the longest finished task took {round3(durations[-1]):g} s, "
                     f"{round3(durations[-1] / median):g}x the median ({round3(median):g} s)",
                fix="one partition holds far more data or work than the others: repartition or salt the key"))

    spill_disk = float(stage.get("diskBytesSpilled") or 0) / MIB
    spill_memory = float(stage.get("memoryBytesSpilled") or 0) / MIB
    if spill_disk > 0:
        findings.append(StatusFinding(
            severity="warning" if spill_disk >= SPILL_WARN_MIB else "info", category="spill", stage=sid,
            what=f"{label}: finished tasks spilled {round3(spill_disk):g} MiB to disk ({round3(spill_memory):g} MiB "
                 "in memory form)",
            fix="less data per task: more shuffle partitions (spark.sql.shuffle.partitions), or fewer cores per "
                "executor"))
    pending = total - done - active
    if active == 0 and pending > 0 and ran is not None and ran >= WAITING_MIN_S:
        findings.append(StatusFinding(
            severity="warning", category="waiting", stage=sid,
            what=f"{label}: {pending} task(s) pending and none running, {ran:.0f} s after submission",
            fix="no free task slot: other stages or apps hold every core, or executors were lost (see executors)"))

    run_time, gc = float(stage.get("executorRunTime") or 0), float(stage.get("jvmGcTime") or 0)
    note = None
    if summary is None and done:
        note = "task quantiles not read"
    if running is None and active:
        note = (note + "; " if note else "") + "running tasks not read"
    elif running is not None and active > len(running):
        note = (note + "; " if note else "") + f"{len(running)} of {active} running tasks examined (earliest first)"
    status = ActiveStage(
        stage=sid, attempt=attempt, name=name, jobs=jobs if full else [], tasks_done=done, tasks_total=total,
        running=active, failed=int(stage.get("numFailedTasks", 0)), running_s=round3(ran),
        task_s=[round3(d) or 0.0 for d in durations],
        shuffle_read_mib=[round3(r) or 0.0 for r in reads] if reads and reads[-1] >= 1 else [], skew=skew,
        gc_share=round3(gc / run_time) if run_time > 0 else None,
        spill_mib=round3(spill_disk) if spill_disk else None,
        stragglers=[s if full else s.model_copy(update={"host": None})  # the executor names it; its host in full
                    for s in stragglers[: LISTED_STRAGGLERS[1] if full else LISTED_STRAGGLERS[0]]],
        stragglers_total=len(stragglers), note=note)
    return status, findings


def submitted(stage: dict[str, Any]) -> float:
    """Sort key: the oldest submitted first (it holds its job back longest)."""
    when = rest_time(stage.get("submissionTime"))
    return when.timestamp() if when else float("inf")
