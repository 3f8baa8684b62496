"""Recommendations and metric findings: each rule fires on the condition it names, and only then."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dgx_spark_mcp.diagnosis.eventlogs.analysis import analyze_event_log
from dgx_spark_mcp.diagnosis.eventlogs.models import EventLogAnalysis
from dgx_spark_mcp.diagnosis.eventlogs.tuning import (
    EventLogThresholds,
    failure_category,
    ladder_severity,
    thresholds,
)
from dgx_spark_mcp.hardware.profiles import Sourced
from dgx_spark_mcp.settings import Settings

from .eventlogs import SyntheticLog

MIB, GIB = 1024**2, 1024**3
HEALTHY = {"spark.serializer": "org.apache.spark.serializer.KryoSerializer", "spark.sql.adaptive.enabled": "true",
           "spark.executor.cores": "4", "spark.executor.memory": "8g"}


def _analyze(log: SyntheticLog, tmp_path: Path, settings: Settings) -> EventLogAnalysis:
    return analyze_event_log(log.write(tmp_path / "app_eventlog"), settings)


def _changes(result: EventLogAnalysis) -> dict[str, str | None]:
    return {c.key: c.recommended_value for c in result.recommendations}


# ---- the thresholds file as a registry ----------------------------------------------------------


def test_every_threshold_carries_its_source_and_ladders_rise() -> None:
    th = thresholds()
    sourced = [getattr(th, name) for name in EventLogThresholds.model_fields if isinstance(getattr(th, name), Sourced)]
    assert len(sourced) >= 25
    for item in sourced:
        assert item.source.split()[0].strip(":") in th.references or item.source.startswith(("Spark's", "log-"))
    for ladder in (th.skew_ratio_ladder, th.gc_share_ladder, th.failure_rate_ladder):
        assert len(ladder.value) == 4 and ladder.value == sorted(ladder.value)
    assert th.task_input_min_bytes.value < th.task_input_max_bytes.value <= th.max_partition_bytes_cap.value


def test_failure_categories_are_distinct_snake_case_with_markers() -> None:
    categories = [c.category for c in thresholds().task_failure_categories]
    assert len(categories) == len(set(categories))
    for entry in thresholds().task_failure_categories:
        assert re.fullmatch(r"[a-z][a-z_]+", entry.category) and entry.markers and entry.source.startswith("log-signatures")


@pytest.mark.parametrize(
    ("reason", "error_class", "message", "category"),
    [
        ("ExceptionFailure", "com.nvidia.spark.rapids.jni.GpuRetryOOM", "GPU OutOfMemory: retry", "gpu_oom"),
        ("ExecutorLostFailure", None, "Container killed by YARN for exceeding memory limits. 9.1 GB of 9 GB",
         "container_memory_exceeded"),
        ("ExceptionFailure", "java.lang.OutOfMemoryError", "Java heap space", "executor_oom"),
        ("FetchFailed", None, "Failed to connect to host:7337", "fetch_failed"),
        ("ExecutorLostFailure", None, "Remote RPC client disassociated.", "executor_lost"),
        ("ExceptionFailure", "java.lang.ArithmeticException", "/ by zero", "task_failure"),
    ],
)
def test_task_failures_fall_into_the_log_signature_categories(
    reason: str, error_class: str | None, message: str, category: str
) -> None:
    assert failure_category(reason, error_class, message) == category


def test_dr_elephant_ladder_maps_to_severities() -> None:
    ladder = [0.08, 0.1, 0.15, 0.2]
    assert [ladder_severity(v, ladder) for v in (0.05, 0.08, 0.12, 0.15, 0.5)] == [None, "info", "warning", "error", "critical"]


# ---- rules on synthetic logs --------------------------------------------------------------------


def test_a_healthy_run_gets_no_warnings_and_no_changes(tmp_path: Path, log_settings: Settings) -> None:
    log = SyntheticLog(properties=HEALTHY)
    log.stage(0, [{"ms": 20_000, "input": 120 * MIB, "shuffle_write": 10 * MIB} for _ in range(8)])
    log.stage(1, [{"ms": 15_000, "shuffle_read": 10 * MIB} for _ in range(8)], parents=(0,))
    result = _analyze(log, tmp_path, log_settings)
    assert result.recommendations == []
    assert [f for f in result.findings if f.severity != "info"] == []


def test_a_straggler_over_a_skewed_shuffle_asks_for_aqe_skew_join(tmp_path: Path, log_settings: Settings) -> None:
    log = SyntheticLog(properties={**HEALTHY, "spark.sql.adaptive.enabled": "false",
                                   "spark.sql.adaptive.skewJoin.enabled": "false"})
    tasks = [{"ms": 10_000, "shuffle_read": 20 * MIB} for _ in range(20)] + [{"ms": 400_000, "shuffle_read": 2 * GIB}]
    log.stage(0, tasks)
    result = _analyze(log, tmp_path, log_settings)
    (stage,) = result.stages
    assert stage.task_skew == 40.0 and stage.task_time_max_ms == 400_000
    skew = [f for f in result.findings if f.rule_id == "eventlog.task-skew"]
    assert len(skew) == 1 and skew[0].severity == "critical"  # 40x is past Dr. Elephant's 10x step
    assert any(f.rule_id == "eventlog.shuffle-skew" for f in result.findings)
    assert _changes(result)["spark.sql.adaptive.enabled"] == "true"
    assert _changes(result)["spark.sql.adaptive.skewJoin.enabled"] == "true"
    assert "spark.sql.shuffle.partitions" not in _changes(result)  # skew: more partitions would not help


def test_spill_without_skew_doubles_the_shuffle_partitions(tmp_path: Path, log_settings: Settings) -> None:
    log = SyntheticLog(properties={**HEALTHY, "spark.sql.shuffle.partitions": "300"})
    log.stage(0, [{"ms": 5_000, "shuffle_read": 100 * MIB, "memory_spilled": 400 * MIB, "disk_spilled": 90 * MIB}
                  for _ in range(10)])
    result = _analyze(log, tmp_path, log_settings)
    change = next(c for c in result.recommendations if c.key == "spark.sql.shuffle.partitions")
    assert (change.current_value, change.recommended_value) == ("300", "600")
    spill = next(f for f in result.findings if f.rule_id == "eventlog.spill")
    assert spill.severity == "warning" and "100% of executors" in spill.message


def test_heavy_gc_halves_the_cores_first(tmp_path: Path, log_settings: Settings) -> None:
    log = SyntheticLog(properties={**HEALTHY, "spark.executor.cores": "8"}, cores=8)
    log.stage(0, [{"ms": 60_000, "run_ms": 60_000, "gc_ms": 20_000} for _ in range(8)])  # 480 s run, GC 33%
    result = _analyze(log, tmp_path, log_settings)
    gc = next(f for f in result.findings if f.rule_id == "eventlog.gc-share")
    assert gc.severity == "critical" and "33%" in gc.message  # over AutoTuner's 30% alert
    assert _changes(result)["spark.executor.cores"] == "4"


def test_heavy_gc_in_a_short_run_is_not_flagged(tmp_path: Path, log_settings: Settings) -> None:
    log = SyntheticLog(properties=HEALTHY)
    log.stage(0, [{"ms": 6_000, "run_ms": 6_000, "gc_ms": 3_000} for _ in range(8)])  # 48 s: under Dr. Elephant's 5 min
    result = _analyze(log, tmp_path, log_settings)
    assert result.totals.gc_share == 0.5 and not any(f.category == "gc_pressure" for f in result.findings)


def test_a_container_killed_for_memory_gets_a_gigabyte_more_overhead(tmp_path: Path, log_settings: Settings) -> None:
    log = SyntheticLog(properties=HEALTHY)
    lost = {"Reason": "ExecutorLostFailure", "Executor ID": "1", "Exit Caused By App": True,
            "Loss Reason": "Container killed by YARN for exceeding memory limits. 9.5 GB of 9 GB physical memory used."}
    log.stage(0, [{"ms": 1_000}, {"ms": 2_000, "reason": lost}], failure="Job aborted due to stage failure: lost")
    result = _analyze(log, tmp_path, log_settings)
    (group,) = result.task_failures
    assert group.category == "container_memory_exceeded" and group.count == 1
    overhead = max(384, int(0.1 * 8 * 1024)) + 1024  # Spark's default overhead for 8g, plus Dr. Elephant's 1g
    assert _changes(result)["spark.executor.memoryOverhead"] == f"{overhead}m"
    assert any(f.category == "job_aborted" and f.severity == "error" for f in result.findings)


def test_many_small_scan_tasks_raise_max_partition_bytes_but_keep_every_core_busy(tmp_path: Path, log_settings: Settings) -> None:
    log = SyntheticLog(properties=HEALTHY)  # 2 executors x 4 cores
    log.stage(0, [{"ms": 500, "input": 1 * MIB} for _ in range(2000)])
    result = _analyze(log, tmp_path, log_settings)
    # AutoTuner would scale 128m by 128/1 (capped at 4g); 2000 MiB over 8 cores caps it at 250 MiB per task.
    assert _changes(result)["spark.sql.files.maxPartitionBytes"] == f"{2000 // 8}m"


def test_small_input_leaves_max_partition_bytes_alone(tmp_path: Path, log_settings: Settings) -> None:
    log = SyntheticLog(properties=HEALTHY)
    log.stage(0, [{"ms": 500, "input": 1 * MIB} for _ in range(100)])  # 100 MiB < 128 MiB x 8 cores
    assert "spark.sql.files.maxPartitionBytes" not in _changes(_analyze(log, tmp_path, log_settings))


def test_a_gpu_run_missing_rapids_keys_gets_them(tmp_path: Path, log_settings: Settings) -> None:
    log = SyntheticLog(properties={**HEALTHY, "spark.plugins": "com.nvidia.spark.SQLPlugin"})
    log.stage(0, [{"ms": 1_000} for _ in range(4)])
    result = _analyze(log, tmp_path, log_settings)
    assert result.app.gpu.rapids_detected
    changes = _changes(result)
    assert changes["spark.rapids.memory.pinnedPool.size"] == thresholds().pinned_pool.value
    assert changes["spark.locality.wait"] == "0"
    assert changes["spark.sql.files.maxPartitionBytes"] == "512m"
    assert changes["spark.kryo.registrator"] == "com.nvidia.spark.rapids.GpuKryoRegistrator"


def test_java_serialization_is_flagged_kryo_is_not(tmp_path: Path, log_settings: Settings) -> None:
    log = SyntheticLog(properties={k: v for k, v in HEALTHY.items() if k != "spark.serializer"})
    log.stage(0, [{"ms": 1_000}])
    change = next(c for c in _analyze(log, tmp_path, log_settings).recommendations if c.key == "spark.serializer")
    assert change.current_value is None and change.recommended_value == "org.apache.spark.serializer.KryoSerializer"
