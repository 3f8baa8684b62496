"""Findings and AutoTuner-style recommendations from what an event log measured.

Each rule reads the measured figures (stage summaries, totals, failures, the properties the
run had) and the thresholds of ``data/eventlog-thresholds.json``, and adds findings and
:class:`~dgx_spark_mcp.optimizers.models.ConfigChange` items whose reason quotes the figure
that triggered them.  The rules follow NVIDIA's AutoTuner (spark-rapids-tools) and LinkedIn's
Dr. Elephant as summarised in ``knowledge/spark-tuning.md`` sections 3 and 4:

- maxPartitionBytes from the scan stages' input per task (AutoTuner), halved after a GPU OOM;
- shuffle partitions ×2 when shuffle stages spilled without skew, or after a GPU OOM (AutoTuner);
- AQE skew join when a shuffle read is skewed and AQE or its skew join is off (Spark docs);
- fewer cores per executor, then more memory, when GC is a large share of run time or executors
  ran out of heap (Dr. Elephant's GC/OOM ladder); +1g overhead after container memory kills;
- RAPIDS keys a GPU run misses (pinned pool, locality wait 0, GPU maxPartitionBytes);
- Kryo instead of Java serialization (Spark tuning guide, Dr. Elephant).

A key is recommended once: the first rule that sets it wins, in the order above.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache

from pydantic import BaseModel

from ...errors import BadInputError
from ...hardware.profiles import Sourced
from ...knowledge import load_knowledge
from ...optimizers.models import ConfigChange
from ...optimizers.sizes import parse_spark_size, spark_size
from .models import FailureSummary, Finding, Severity, StageSummary, Totals

__all__ = ["EventLogThresholds", "TuningInput", "failure_category", "ladder_severity", "thresholds", "tune"]

_MIB = 1024**2
_KRYO = "org.apache.spark.serializer.KryoSerializer"
_GPU_KRYO = "com.nvidia.spark.rapids.GpuKryoRegistrator"


class FailureCategory(BaseModel):
    category: str
    markers: list[str]
    source: str


class EventLogThresholds(BaseModel):
    """``data/eventlog-thresholds.json``."""

    about: str
    references: dict[str, str]
    skew_ratio_ladder: Sourced[list[float]]
    skew_min_task_ms: Sourced[int]
    slow_stage_min_ms: Sourced[int]
    slow_stage_app_share: Sourced[float]
    slow_task_skew: Sourced[float]
    slow_task_stage_share: Sourced[float]
    slow_skew_min_bytes: Sourced[int]
    slow_straggler_standout: Sourced[float]
    slow_gc_share: Sourced[float]
    slow_full_gc_count: Sourced[int]
    slow_full_gc_heap_share: Sourced[float]
    slow_spill_disk_bytes: Sourced[int]
    slow_spill_memory_bytes: Sourced[int]
    skew_stage_share: Sourced[float]
    shuffle_skew_factor: Sourced[float]
    gc_share_ladder: Sourced[list[float]]
    gc_alert_share: Sourced[float]
    min_executor_run_ms: Sourced[int]
    spill_executor_share: Sourced[float]
    failure_rate_ladder: Sourced[list[float]]
    task_input_min_bytes: Sourced[int]
    task_input_max_bytes: Sourced[int]
    max_partition_bytes_default: Sourced[int]
    max_partition_bytes_cap: Sourced[int]
    max_partition_bytes_gpu: Sourced[int]
    shuffle_partitions_default: Sourced[int]
    shuffle_partitions_multiplier: Sourced[int]
    skew_join_factor: Sourced[float]
    skew_join_threshold_bytes: Sourced[int]
    overhead_factor: Sourced[float]
    overhead_min_mib: Sourced[int]
    overhead_step_mib: Sourced[int]
    executor_memory_default_mib: Sourced[int]
    gc_ladder_min_cores: Sourced[int]
    pinned_pool: Sourced[str]
    kryo_buffer_max: Sourced[str]
    whatif_percentages: Sourced[list[int]]
    task_failure_categories: list[FailureCategory]
    benign_executor_removals: Sourced[list[str]]


@cache
def thresholds() -> EventLogThresholds:
    return load_knowledge("eventlog-thresholds.json", EventLogThresholds)


def failure_category(reason: str, error_class: str | None, message: str) -> str:
    """The log-signatures category of one task failure; 'task_failure' when none matches."""
    text = f"{reason} {error_class or ''} {message}"
    for entry in thresholds().task_failure_categories:
        if any(marker in text for marker in entry.markers):
            return entry.category
    return "task_failure"


_LADDER: tuple[Severity, ...] = ("info", "warning", "error", "critical")


def ladder_severity(value: float, ladder: Sequence[float]) -> Severity | None:
    """Dr. Elephant's low/moderate/severe/critical as info/warning/error/critical; None below the first step."""
    severity: Severity | None = None
    for step, name in zip(ladder, _LADDER, strict=True):
        if value >= step:
            severity = name
    return severity


@dataclass(frozen=True)
class TuningInput:
    properties: Mapping[str, str]
    spark_version: str | None
    stages: Sequence[StageSummary]
    totals: Totals
    failures: Sequence[FailureSummary]
    gpu_run: bool
    slots: int
    executor_cores: int | None
    executors: int
    executors_spilling: int
    local_mode: bool


@dataclass
class _Advice:
    changes: dict[str, ConfigChange] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)

    def change(self, key: str, current: str | None, value: str, reason: str, reference: str) -> None:
        if key not in self.changes:
            self.changes[key] = ConfigChange(
                key=key, current_value=current, recommended_value=value, reason=reason, reference=reference
            )

    def finding(self, severity: Severity, category: str, rule_id: str, message: str) -> None:
        self.findings.append(Finding(severity=severity, category=category, rule_id=rule_id, message=message))


def _size(value: str | None, unit: str = "b") -> int | None:
    if value is None:
        return None
    try:
        return parse_spark_size(value, default_unit=unit)
    except BadInputError:
        return None


def _gib(size: int) -> str:
    return f"{size / 1024**3:.1f} GiB" if size >= 1024**3 else f"{size / _MIB:.0f} MiB"


def _version_at_least(version: str | None, major: int, minor: int) -> bool | None:
    try:
        parts = [int(p) for p in (version or "").split(".")[:2]]
    except ValueError:
        return None
    return tuple(parts) >= (major, minor) if len(parts) == 2 else None


def _has_gpu_oom(failures: Sequence[FailureSummary], stage_ids: set[int] | None = None) -> bool:
    return any(f.category == "gpu_oom" and (stage_ids is None or stage_ids & set(f.stage_ids)) for f in failures)


def _max_partition_bytes(t: TuningInput, th: EventLogThresholds, advice: _Advice) -> None:
    """AutoTuner's calculateMaxPartitionBytesInMB, kept to where the key has an effect.

    Spark splits files at min(maxPartitionBytes, max(openCostInBytes, input / cores))
    (FilePartition.maxSplitBytes): when the input is under maxPartitionBytes × cores, Spark
    already spreads it over the cores and raising the key changes nothing.  Small tasks beyond
    that come from many small files, which a larger value packs together, up to the point where
    every core still gets a task.
    """
    key, props = "spark.sql.files.maxPartitionBytes", t.properties
    current = _size(props.get(key)) or th.max_partition_bytes_default.value
    scans = [s for s in t.stages if s.input_bytes > 0 and s.tasks_ended > 0]
    scan_ids = {s.stage_id for s in scans}
    if scans and _has_gpu_oom(t.failures, scan_ids):
        advice.change(key, props.get(key), spark_size(current / 2 / _MIB),
                      f"a GPU ran out of memory in a scan stage (stages {sorted(scan_ids)[:5]}): halve the input per task",
                      th.references["autotuner"])
        return
    if not scans:
        return
    tasks = sum(s.tasks_ended for s in scans)
    total = sum(s.input_bytes for s in scans)
    per_task = total / tasks
    low, high = th.task_input_min_bytes.value, th.task_input_max_bytes.value
    if per_task < low:
        if total <= current * t.slots:
            return
        wanted = min(th.max_partition_bytes_cap.value, int(current * low / per_task), total // t.slots)
    elif per_task > high:
        wanted = int(current * high / per_task)
    else:
        return
    if abs(wanted - current) >= _MIB:
        advice.change(key, props.get(key), spark_size(wanted / _MIB),
                      f"scan tasks read {_gib(int(per_task))} each on average ({tasks} tasks, {_gib(total)} in all, "
                      f"{t.slots} cores); AutoTuner aims at {_gib(low)}–{_gib(high)} per task", th.references["autotuner"])


def _shuffle(t: TuningInput, th: EventLogThresholds, advice: _Advice) -> None:
    key, props = "spark.sql.shuffle.partitions", t.properties
    raw = props.get(key)
    current = th.shuffle_partitions_default.value if raw is None else int(raw) if raw.strip().isdigit() else None
    shuffle_stages = [s for s in t.stages if s.shuffle_read_bytes > 0 or s.shuffle_write_bytes > 0]
    spilled = [s for s in shuffle_stages if s.memory_spilled_bytes or s.disk_spilled_bytes]
    factor = th.shuffle_skew_factor.value
    skewed = [s for s in spilled if s.shuffle_read_skew is not None and s.shuffle_read_skew > factor]
    why = None
    if _has_gpu_oom(t.failures):
        why = "a GPU ran out of memory: smaller shuffle partitions lower the memory per task"
    elif spilled and not skewed:
        total = sum(s.memory_spilled_bytes + s.disk_spilled_bytes for s in spilled)
        why = (f"{len(spilled)} shuffle stage(s) spilled {_gib(total)} with no task reading over {factor:g}x "
               "its stage's average: more, smaller partitions fit in memory")
    if why and current is not None:
        advice.change(key, props.get(key), str(current * th.shuffle_partitions_multiplier.value),
                      f"{why} (current {current})", th.references["autotuner"])


def _skew(t: TuningInput, th: EventLogThresholds, advice: _Advice) -> None:
    factor, threshold = th.skew_join_factor.value, th.skew_join_threshold_bytes.value
    aqe_skew = [
        s for s in t.stages
        if s.shuffle_read_max_bytes > threshold and s.shuffle_read_max_bytes > factor * max(s.shuffle_read_median_bytes, 1)
    ]
    for s in t.stages:
        slow = s.task_skew is not None and s.task_time_max_ms >= th.skew_min_task_ms.value and (
            s.duration_ms is None or s.task_time_max_ms >= th.skew_stage_share.value * s.duration_ms
        )
        severity = ladder_severity(s.task_skew or 0.0, th.skew_ratio_ladder.value) if slow else None
        if severity in ("error", "critical"):
            advice.finding(severity, "data_skew", "eventlog.task-skew",
                           f"stage {s.stage_id} ({s.name[:60]}): the longest task ran {s.task_time_max_ms / 1000:.0f} s, "
                           f"{s.task_skew:.1f}x the median ({s.task_time_median_ms / 1000:.1f} s); one partition holds "
                           "far more data or work than the others")
    if not aqe_skew:
        return
    worst = max(aqe_skew, key=lambda s: s.shuffle_read_max_bytes)
    advice.finding("warning", "data_skew", "eventlog.shuffle-skew",
                   f"{len(aqe_skew)} stage(s) read a skewed shuffle partition; stage {worst.stage_id}'s largest task read "
                   f"{_gib(worst.shuffle_read_max_bytes)} against a median of {_gib(worst.shuffle_read_median_bytes)}")
    props, reference = t.properties, th.references["spark-sql-perf"]
    if _version_at_least(t.spark_version, 3, 0) is False:
        return  # Spark 2.x has no adaptive skew join to turn on
    aqe_default = _version_at_least(t.spark_version, 3, 2)
    for key, default in (("spark.sql.adaptive.enabled", aqe_default), ("spark.sql.adaptive.skewJoin.enabled", True)):
        value = props.get(key)
        if (value or str(default)).lower() != "true":
            advice.change(key, value, "true",
                          f"stage {worst.stage_id} read {_gib(worst.shuffle_read_max_bytes)} in one task, over "
                          f"{factor:g}x the median and {_gib(threshold)}: AQE's skew join splits such partitions", reference)


def _memory(t: TuningInput, th: EventLogThresholds, advice: _Advice) -> None:
    props, totals = t.properties, t.totals
    heap_oom = [f for f in t.failures if f.category == "executor_oom"]
    gc = totals.gc_share
    severity = ladder_severity(gc, th.gc_share_ladder.value) if gc is not None else None
    long_enough = totals.executor_run_time_ms >= th.min_executor_run_ms.value
    if gc is not None and long_enough and severity is not None and severity != "info":
        alert = gc >= th.gc_alert_share.value
        advice.finding("critical" if alert else severity, "gc_pressure", "eventlog.gc-share",
                       f"JVM GC took {gc:.0%} of executor run time ({totals.gc_time_ms / 1000:.0f} s of "
                       f"{totals.executor_run_time_ms / 1000:.0f} s); over {th.gc_share_ladder.value[1]:.0%} means the "
                       "heap is too small for the tasks sharing it")
    why = None
    if heap_oom:
        why = f"{sum(f.count for f in heap_oom)} task(s) ran out of JVM heap"
    elif gc is not None and long_enough and severity in ("warning", "error", "critical"):
        why = f"GC took {gc:.0%} of executor run time"
    if why and t.local_mode:
        memory = _size(props.get("spark.driver.memory"), "m") or th.executor_memory_default_mib.value * _MIB
        advice.change("spark.driver.memory", props.get("spark.driver.memory"), spark_size(memory * 2 / _MIB),
                      f"{why}: in local mode the tasks share the driver's heap; double it", th.references["dr-elephant"])
    elif why:
        cores = t.executor_cores
        if cores is not None and cores // 2 >= th.gc_ladder_min_cores.value:
            advice.change("spark.executor.cores", props.get("spark.executor.cores"), str(cores // 2),
                          f"{why}: halving the cores doubles the heap per task (Dr. Elephant's first step)",
                          th.references["dr-elephant"])
        else:
            memory = _size(props.get("spark.executor.memory"), "m") or th.executor_memory_default_mib.value * _MIB
            advice.change("spark.executor.memory", props.get("spark.executor.memory"), spark_size(memory * 2 / _MIB),
                          f"{why}: double the executor heap (Dr. Elephant's step after the cores)", th.references["dr-elephant"])
    killed = [f for f in t.failures if f.category in ("container_memory_exceeded", "offheap_oom")]
    if killed:
        memory_mib = (_size(props.get("spark.executor.memory"), "m") or th.executor_memory_default_mib.value * _MIB) / _MIB
        overhead_mib = (_size(props.get("spark.executor.memoryOverhead"), "m") or 0) / _MIB or max(
            th.overhead_min_mib.value, th.overhead_factor.value * memory_mib
        )
        advice.change("spark.executor.memoryOverhead", props.get("spark.executor.memoryOverhead"),
                      spark_size(overhead_mib + th.overhead_step_mib.value),
                      f"{sum(f.count for f in killed)} task(s) failed because the container went over its memory "
                      f"({killed[0].message[:120]}): add {th.overhead_step_mib.value} MiB of overhead",
                      th.references["dr-elephant"])


def _spill(t: TuningInput, th: EventLogThresholds, advice: _Advice) -> None:
    totals = t.totals
    spilled = totals.memory_spilled_bytes + totals.disk_spilled_bytes
    if not spilled:
        return
    share = t.executors_spilling / t.executors if t.executors else None
    many = share is not None and share > th.spill_executor_share.value
    stages = sum(1 for s in t.stages if s.memory_spilled_bytes or s.disk_spilled_bytes)
    advice.finding("warning" if many else "info", "spill", "eventlog.spill",
                   f"{stages} stage(s) spilled {_gib(totals.memory_spilled_bytes)} from memory "
                   f"({_gib(totals.disk_spilled_bytes)} written to disk)"
                   + (f" on {share:.0%} of executors" if share is not None else ""))


def _rapids(t: TuningInput, th: EventLogThresholds, advice: _Advice) -> None:
    if not t.gpu_run:
        return
    props, reference = t.properties, th.references["autotuner"]
    pinned = props.get("spark.rapids.memory.pinnedPool.size")
    if not _size(pinned):
        advice.change("spark.rapids.memory.pinnedPool.size", pinned, th.pinned_pool.value,
                      "no pinned host memory pool: host-GPU copies go through pageable memory", reference)
    wait = props.get("spark.locality.wait")
    if wait not in ("0", "0s", "0ms"):
        advice.change("spark.locality.wait", wait, "0",
                      "GPU tasks should not wait for data locality: AutoTuner always sets it to 0", reference)
    key = "spark.sql.files.maxPartitionBytes"
    if key not in props:
        advice.change(key, None, spark_size(th.max_partition_bytes_gpu.value / _MIB),
                      "GPU runs read larger partitions than Spark's 128m default to keep the GPU busy", reference)
    if props.get("spark.serializer") == _KRYO and _GPU_KRYO not in props.get("spark.kryo.registrator", ""):
        advice.change("spark.kryo.registrator", props.get("spark.kryo.registrator"), _GPU_KRYO,
                      "Kryo is on: register the RAPIDS classes with it", reference)


def _serializer(t: TuningInput, th: EventLogThresholds, advice: _Advice) -> None:
    value = t.properties.get("spark.serializer")
    if value != _KRYO:
        advice.change("spark.serializer", value, _KRYO,
                      f"{'Java serialization (the default)' if value is None else value} is in use; Kryo is often "
                      "much faster and more compact for RDD shuffles and cached objects (DataFrame operators use "
                      "their own encoders either way)", th.references["spark-tuning"])


_RULES = (_max_partition_bytes, _shuffle, _skew, _memory, _spill, _rapids, _serializer)


def tune(t: TuningInput) -> tuple[list[ConfigChange], list[Finding]]:
    """Recommendations (one per key) and metric findings for one application."""
    th, advice = thresholds(), _Advice()
    if t.totals.tasks == 0:
        return [], []
    for rule in _RULES:
        rule(t, th, advice)
    return list(advice.changes.values()), advice.findings
