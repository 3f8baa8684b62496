"""The analysis of every corpus log agrees with facts counted from its raw JSON by a plain loop."""

from __future__ import annotations

import json
import os
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from dgx_spark_mcp.diagnosis.eventlogs.analysis import analyze_event_log
from dgx_spark_mcp.errors import BadInputError
from dgx_spark_mcp.settings import Settings

from .eventlogs import CORPUS, PYSPARK, ROLLING, SQL, of_type, raw_events, raw_lines

CORPUS_LOGS = [
    "aqeshuffle_eventlog.zstd", "complex_dec_eventlog.zstd", "e2e_streaming_eventlog.zstd", "empty_eventlog",
    "gpu_oom_eventlog.zstd", "java_udf_eventlog", "malformed_json_eventlog.zstd", "python_udf_eventlog",
    "spark2-eventlog.zstd", "truncated_eventlog", ROLLING.name,
]


def _metric(task_end: dict[str, Any], *keys: str) -> int:
    value: Any = task_end.get("Task Metrics") or {}
    for key in keys:
        value = (value or {}).get(key, 0)
    return int(value or 0)


@pytest.mark.parametrize("name", CORPUS_LOGS)
def test_counts_ids_and_totals_match_the_raw_json(name: str, log_settings: Settings) -> None:
    raw = raw_events(CORPUS / name)
    result = analyze_event_log(CORPUS / name, log_settings)
    task_ends = of_type(raw, "SparkListenerTaskEnd")
    start = of_type(raw, "SparkListenerApplicationStart")[0]
    assert (result.app.app_id, result.app.name) == (start["App ID"], start["App Name"])
    assert result.app.spark_version == of_type(raw, "SparkListenerLogStart")[0]["Spark Version"]
    assert result.totals.tasks == len(task_ends)
    assert result.totals.jobs == result.jobs_total == len(of_type(raw, "SparkListenerJobStart"))
    assert result.sql_total == len(of_type(raw, SQL + "SparkListenerSQLExecutionStart"))
    attempts = {(e["Stage ID"], e["Stage Attempt ID"]) for e in task_ends} | {
        (e["Stage Info"]["Stage ID"], e["Stage Info"]["Stage Attempt ID"]) for e in of_type(raw, "SparkListenerStageSubmitted")
    }
    assert result.stages_total == len(attempts)
    assert result.reading.malformed_lines == len(raw_lines(CORPUS / name)) - len(raw)
    t = result.totals
    assert t.input_bytes == sum(_metric(e, "Input Metrics", "Bytes Read") for e in task_ends)
    assert t.shuffle_read_bytes == sum(
        _metric(e, "Shuffle Read Metrics", "Remote Bytes Read") + _metric(e, "Shuffle Read Metrics", "Local Bytes Read")
        for e in task_ends
    )
    assert t.shuffle_write_bytes == sum(_metric(e, "Shuffle Write Metrics", "Shuffle Bytes Written") for e in task_ends)
    assert t.memory_spilled_bytes == sum(_metric(e, "Memory Bytes Spilled") for e in task_ends)
    assert t.executor_run_time_ms == sum(_metric(e, "Executor Run Time") for e in task_ends)
    assert t.gc_time_ms == sum(_metric(e, "JVM GC Time") for e in task_ends)
    assert t.task_time_ms == sum(e["Task Info"]["Finish Time"] - e["Task Info"]["Launch Time"] for e in task_ends)
    assert result.app.complete == bool(of_type(raw, "SparkListenerApplicationEnd"))
    if result.what_if is not None:  # the replay at the observed count is close to the real run
        assert result.what_if.model_error is not None and abs(result.what_if.model_error) < 0.25


def test_stage_skew_figures_are_the_stage_tasks_max_and_median(log_settings: Settings) -> None:
    raw = raw_events(CORPUS / "aqeshuffle_eventlog.zstd")
    result = analyze_event_log(CORPUS / "aqeshuffle_eventlog.zstd", log_settings, limit=100)
    for stage in result.stages:
        times = sorted(e["Task Info"]["Finish Time"] - e["Task Info"]["Launch Time"]
                       for e in of_type(raw, "SparkListenerTaskEnd") if e["Stage ID"] == stage.stage_id)
        assert stage.task_time_max_ms == times[-1] and stage.tasks_ended == len(times)
        lower, upper = times[(len(times) - 1) // 2], times[len(times) // 2]
        assert lower <= stage.task_time_median_ms <= upper


def test_the_gpu_oom_run_names_its_failures_and_halves_the_partition_size(log_settings: Settings) -> None:
    raw = raw_events(CORPUS / "gpu_oom_eventlog.zstd")
    result = analyze_event_log(CORPUS / "gpu_oom_eventlog.zstd", log_settings)
    failed = Counter(
        (e["Task End Reason"]["Reason"], e["Task End Reason"].get("Class Name"))
        for e in of_type(raw, "SparkListenerTaskEnd") if e["Task End Reason"]["Reason"] != "Success"
    )
    ours = Counter[tuple[str, str | None]]()
    for group in result.task_failures:
        ours[(group.reason, group.error_class)] += group.count
    assert ours == failed
    oom = next(g for g in result.task_failures if g.error_class and g.error_class.endswith("GpuSplitAndRetryOOM"))
    assert oom.category == "gpu_oom" and "GPU OutOfMemory" in oom.message
    failed_jobs = [e for e in of_type(raw, "SparkListenerJobEnd") if e["Job Result"]["Result"] != "JobSucceeded"]
    assert result.totals.failed_jobs == len(failed_jobs)
    failed_stages = [e for e in of_type(raw, "SparkListenerStageCompleted") if e["Stage Info"].get("Failure Reason")]
    assert result.totals.failed_stages == len(failed_stages)
    props = of_type(raw, "SparkListenerEnvironmentUpdate")[0]["Spark Properties"]
    assert "com.nvidia.spark.SQLPlugin" in props["spark.plugins"] and result.app.gpu.rapids_detected
    change = next(c for c in result.recommendations if c.key == "spark.sql.files.maxPartitionBytes")
    assert change.current_value == props["spark.sql.files.maxPartitionBytes"]
    assert change.recommended_value == "5g" and props["spark.sql.files.maxPartitionBytes"].lower() == "10gb"
    assert any(f.category == "gpu_oom" and f.severity == "error" for f in result.findings)


def test_the_malformed_line_is_skipped_counted_and_located(log_settings: Settings) -> None:
    lines = raw_lines(CORPUS / "malformed_json_eventlog.zstd")
    bad = [n for n, line in enumerate(lines, 1) if not _parses(line)]
    result = analyze_event_log(CORPUS / "malformed_json_eventlog.zstd", log_settings)
    assert result.reading.malformed_lines == len(bad) == 1
    assert f"line {bad[0]}:" in result.reading.malformed_examples[0]
    assert result.app.properties == {}  # the broken line was the environment
    assert any(f.rule_id == "eventlog.malformed-lines" and "environment" in f.message for f in result.findings)
    assert result.totals.tasks == sum(1 for line in lines if line.startswith(b'{"Event":"SparkListenerTaskEnd"'))


def _parses(line: bytes) -> bool:
    try:
        json.loads(line)
    except ValueError:
        return False
    return True


def test_a_truncated_log_gives_partial_results_that_say_so(log_settings: Settings) -> None:
    raw = raw_events(CORPUS / "truncated_eventlog")
    result = analyze_event_log(CORPUS / "truncated_eventlog", log_settings)
    assert not of_type(raw, "SparkListenerApplicationEnd") and not result.app.complete
    assert result.app.completeness.startswith("Partial results")
    unfinished = {e["Job ID"] for e in of_type(raw, "SparkListenerJobStart")} - {
        e["Job ID"] for e in of_type(raw, "SparkListenerJobEnd")
    }
    assert {j.job_id for j in result.jobs if j.status == "running"} == unfinished
    assert any(f.rule_id == "eventlog.incomplete" and f.severity == "warning" for f in result.findings)


def test_a_log_cut_mid_line_counts_the_piece_and_says_it_was_cut(tmp_path: Path, log_settings: Settings) -> None:
    data = b"\n".join(raw_lines(CORPUS / "python_udf_eventlog"))
    cut = tmp_path / "cut_eventlog"
    cut.write_bytes(data[: data.rindex(b'{"Event":"SparkListenerTaskEnd"') + 200])
    result = analyze_event_log(cut, log_settings)
    assert result.reading.last_line_cut and result.reading.malformed_lines == 1
    assert "stops in the middle of a line" in result.app.completeness


def test_an_app_without_jobs_is_a_clear_result(log_settings: Settings) -> None:
    raw = raw_events(CORPUS / "empty_eventlog")
    assert not of_type(raw, "SparkListenerJobStart")
    result = analyze_event_log(CORPUS / "empty_eventlog", log_settings)
    assert result.totals.jobs == 0 and result.what_if is None and result.critical_path is None
    assert [f.rule_id for f in result.findings] == ["eventlog.no-jobs"]


@pytest.mark.parametrize("content", [b"", b"\n\n", b"hello, this is not an event log\n"])
def test_a_file_without_events_is_refused_with_a_reason(tmp_path: Path, log_settings: Settings, content: bytes) -> None:
    path = tmp_path / "not_an_eventlog"
    path.write_bytes(content)
    with pytest.raises(BadInputError, match="holds no Spark events"):
        analyze_event_log(path, log_settings)


def test_spark_2_logs_without_newer_fields_read_fully(log_settings: Settings) -> None:
    raw = raw_events(CORPUS / "spark2-eventlog.zstd")
    assert all("Peak Execution Memory" not in e["Task Metrics"] for e in of_type(raw, "SparkListenerTaskEnd"))
    result = analyze_event_log(CORPUS / "spark2-eventlog.zstd", log_settings)
    assert result.app.spark_version == "2.2.3" and result.reading.malformed_lines == 0
    assert all(s.peak_execution_memory_bytes is None for s in result.stages)
    assert result.totals.tasks == len(of_type(raw, "SparkListenerTaskEnd")) > 0


def test_a_streaming_app_is_recognised(log_settings: Settings) -> None:
    raw = raw_events(CORPUS / "e2e_streaming_eventlog.zstd")
    assert any(e["Event"].startswith("org.apache.spark.sql.streaming.") for e in raw)
    assert analyze_event_log(CORPUS / "e2e_streaming_eventlog.zstd", log_settings).app.streaming
    assert not analyze_event_log(CORPUS / "java_udf_eventlog", log_settings).app.streaming


def test_a_python_udf_failure_shows_the_python_error(log_settings: Settings) -> None:
    raw = raw_events(PYSPARK / "eventlog_v2_local-1795347075943")
    description = next(e["Task End Reason"]["Description"] for e in of_type(raw, "SparkListenerTaskEnd")
                       if e["Task End Reason"]["Reason"] == "ExceptionFailure")
    raised = [line for line in description.splitlines() if line.startswith("ValueError")][-1]
    result = analyze_event_log(PYSPARK / "eventlog_v2_local-1795347075943", log_settings)
    (group,) = result.task_failures
    assert group.category == "python_udf_error" and raised in group.message
    assert group.count == sum(1 for e in of_type(raw, "SparkListenerTaskEnd") if e["Task End Reason"]["Reason"] != "Success")
    assert raised in (result.jobs[0].failure_reason or "")  # the failed job comes first


def test_rolling_files_are_read_in_numeric_order(tmp_path: Path, log_settings: Settings) -> None:
    lines = raw_lines(CORPUS / "python_udf_eventlog")
    folder = tmp_path / "eventlog_v2_local-1"
    folder.mkdir()
    (folder / "appstatus_local-1").touch()
    size = len(lines) // 11 + 1
    for n in range(11):
        (folder / f"events_{n + 1}_local-1").write_bytes(b"".join(line + b"\n" for line in lines[n * size:(n + 1) * size]))
    result = analyze_event_log(folder, log_settings)
    assert result.reading.files == [f"events_{n}_local-1" for n in range(1, 12)] and result.reading.rolling
    single = analyze_event_log(CORPUS / "python_udf_eventlog", log_settings)
    assert result.model_dump(exclude={"reading"}) == single.model_dump(exclude={"reading"})


def test_the_corpus_rolling_directory_reads_both_files(log_settings: Settings) -> None:
    result = analyze_event_log(ROLLING, log_settings)
    assert result.reading.files == sorted(p.name for p in ROLLING.glob("events_*"))
    assert result.totals.tasks == len(of_type(raw_events(ROLLING), "SparkListenerTaskEnd"))
    assert result.app.complete and not result.app.in_progress


def test_an_in_progress_rolling_directory_is_partial(tmp_path: Path, log_settings: Settings) -> None:
    folder = tmp_path / ROLLING.name
    shutil.copytree(ROLLING, folder)
    (folder / "events_2_local-1623876083964.zstd").unlink()
    status = next(folder.glob("appstatus_*"))
    status.rename(status.with_name(status.name + ".inprogress"))
    result = analyze_event_log(folder, log_settings)
    assert result.app.in_progress and not result.app.complete and "in progress" in result.app.completeness
    assert any(f.rule_id == "eventlog.incomplete" and f.severity == "info" for f in result.findings)


def test_a_plain_directory_is_refused_listing_what_it_holds(log_settings: Settings) -> None:
    with pytest.raises(BadInputError, match="not an event log") as err:
        analyze_event_log(CORPUS, log_settings)
    assert "gpu_oom_eventlog.zstd" in str(err.value) and "eventlog_v2_local-1623876083964/" in str(err.value)


def test_a_rolling_directory_with_a_link_out_of_the_roots_is_refused(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", allowed_roots=[str(tmp_path)], log_level="WARNING")
    folder = tmp_path / "eventlog_v2_local-9"
    folder.mkdir()
    os.symlink(CORPUS / "python_udf_eventlog", folder / "events_1_local-9")
    with pytest.raises(BadInputError, match="outside the allowed roots"):
        analyze_event_log(folder, settings)
