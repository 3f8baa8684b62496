"""The input classes the blind set measures, one small real-shaped case each: Airflow 3 exceptions named with
their causes and the user's frame, failures before the work starts, console layouts, slow stages, failed SQL."""

from __future__ import annotations

import json
from pathlib import Path

from dgx_spark_mcp.diagnosis.eventlogs.models import StageSummary
from dgx_spark_mcp.diagnosis.eventlogs.slowness import slow_stage_findings
from dgx_spark_mcp.diagnosis.eventlogs.tuning import thresholds
from dgx_spark_mcp.diagnosis.logs.diagnose import DiagnoseResult, diagnose_log
from dgx_spark_mcp.diagnosis.logs.python_trace import python_failure
from dgx_spark_mcp.settings import Settings

GPU_PLAN = """== Physical Plan ==
GpuColumnarToRow false
+- GpuWindow [row_number() windowspecdefinition(id#10 ASC NULLS FIRST, specifiedwindowframe(RowFrame, unboundedpreceding$(), currentrow$())) AS rn#1], [id#10 ASC NULLS FIRST]
   +- GpuSort [id#10 ASC NULLS FIRST], false, com.nvidia.spark.rapids.OutOfCoreSort$@1
      +- GpuShuffleCoalesce 1073741824
         +- GpuColumnarExchange gpusinglepartitioning$(), ENSURE_REQUIREMENTS, [plan_id=32]
            +- GpuBroadcastNestedLoopJoin BuildRight, Inner, (amount#3 > threshold#9)
               :- GpuCartesianProduct
               :  :- GpuFileGpuScan parquet db.t[id#10,amount#3] Batched: true, DataFilters: [], Format: Parquet, Location: InMemoryFileIndex(1 paths)[file:/data/t], PartitionFilters: [], PushedFilters: [], ReadSchema: struct<id:int,amount:int>
               :  +- GpuFileGpuScan parquet db.u[k#5] Batched: true, DataFilters: [], Format: Parquet, Location: InMemoryFileIndex(1 paths)[file:/data/u], PartitionFilters: [], PushedFilters: [], ReadSchema: struct<k:int>
               +- GpuBroadcastExchange IdentityBroadcastMode, [plan_id=20]
                  +- GpuFileGpuScan parquet db.v[threshold#9] Batched: true, DataFilters: [], Format: Parquet, Location: InMemoryFileIndex(1 paths)[file:/data/v], PartitionFilters: [], PushedFilters: [], ReadSchema: struct<threshold:int>
"""

RUNNER = "/opt/airflow/venv/lib/python3.11/site-packages/airflow/sdk/execution_time/task_runner.py"


def _diagnose(tmp_path: Path, settings: Settings, name: str, text: str) -> DiagnoseResult:
    path = tmp_path / name
    path.write_text(text)
    return diagnose_log(str(path), settings)


def _serious(result: DiagnoseResult) -> list[str]:
    return [f.category for f in result.findings if f.severity in ("warning", "error", "critical")]


def _frame(filename: str, line: int, name: str) -> dict[str, object]:
    return {"filename": filename, "lineno": line, "name": name}


def test_airflow3_exception_is_named_with_its_cause_and_the_users_frame(tmp_path: Path, settings: Settings) -> None:
    detail = [
        {"exc_type": "RuntimeError", "exc_value": "could not load the partner config", "is_cause": False,
         "frames": [_frame(RUNNER, 1112, "run"), _frame("/opt/airflow/dags/partner.py", 31, "load_config")]},
        {"exc_type": "KeyError", "exc_value": "'region'", "is_cause": True,
         "frames": [_frame("/opt/airflow/dags/partner.py", 27, "load_config"),
                    _frame("/usr/lib/python3.11/json/__init__.py", 346, "loads")]},
    ]
    lines = [
        {"timestamp": "2026-12-07T10:00:00Z", "level": "info", "event": "loading config", "logger": "task.stdout"},
        {"timestamp": "2026-12-07T10:00:01Z", "level": "error", "event": "Task failed with exception", "logger": "task",
         "filename": "task_runner.py", "lineno": 1186, "error_detail": detail},
    ]
    result = _diagnose(tmp_path, settings, "attempt=1.log", "\n".join(json.dumps(x) for x in lines) + "\n")
    top = result.findings[0]
    assert top.category == "airflow_task_failed"
    assert top.title == "Airflow task failed: RuntimeError"
    assert "could not load the partner config" in top.root_cause
    assert "load_config (partner.py:31)" in top.root_cause  # the user's frame, not the runner's
    assert "task_runner" not in top.root_cause
    assert "caused by KeyError: 'region'" in top.root_cause


def test_a_library_error_points_at_the_users_call_into_the_library() -> None:
    lines = [
        "Traceback (most recent call last):",
        '  File "/opt/airflow/venv/lib/python3.11/site-packages/airflow/models/taskinstance.py", line 768, in _execute_task',
        '  File "/opt/airflow/dags/orders.py", line 14, in read_orders',
        '  File "/usr/lib/python3.11/json/decoder.py", line 355, in raw_decode',
        "json.decoder.JSONDecodeError: Expecting value: line 1 column 1 (char 0)",
    ]
    failure = python_failure(list(range(1, len(lines) + 1)), lines)
    assert failure is not None
    assert failure.exception == "JSONDecodeError"
    assert failure.frame == (3, "read_orders (orders.py:14)")
    assert failure.causes == []


def test_spark_submit_that_cannot_start_is_a_launch_failure(tmp_path: Path, settings: Settings) -> None:
    text = (
        "[2026-12-07, 10:00:00 UTC] {subprocess.py:75} INFO - Running command: ['/usr/bin/bash', '-c', 'spark-submit job.py']\n"
        "[2026-12-07, 10:00:00 UTC] {subprocess.py:93} INFO - /usr/bin/bash: line 1: spark-submit: command not found\n"
        "[2026-12-07, 10:00:00 UTC] {subprocess.py:97} INFO - Command exited with return code 127\n"
        "[2026-12-07, 10:00:00 UTC] {taskinstance.py:2905} ERROR - Task failed with exception\n"
        "Traceback (most recent call last):\n"
        '  File "/opt/airflow/venv/lib/python3.11/site-packages/airflow/operators/bash.py", line 243, in execute\n'
        "airflow.exceptions.AirflowException: Bash command failed. The command returned a non-zero exit code 127.\n"
    )
    result = _diagnose(tmp_path, settings, "submit.log", text)
    assert result.findings[0].category == "launch_failure"
    assert "spark-submit" in result.findings[0].root_cause


def test_airflow_console_layouts_are_read_as_airflow(tmp_path: Path, settings: Settings) -> None:
    text = (
        "scheduler  | 2026-12-07T18:36:29.037114Z [info     ] Run scheduled__2024-01-01 of nightly has timed-out [airflow]\n"
        "scheduler  | 2026-12-07T18:36:31.273956Z [error    ] Server indicated the task shouldn't be running anymore [supervisor]\n"
    )
    result = _diagnose(tmp_path, settings, "console.log", text)
    assert result.kind == "airflow"
    assert result.findings[0].category == "airflow_sigterm"
    killed = _diagnose(tmp_path, settings, "excerpt.log", "CRITICAL - Process terminated by signal. signal=-9: "
                       'signal_name="SIGKILL": source="task"\n')
    assert killed.findings[0].category == "airflow_oom_killed"


def test_a_successful_task_that_prints_error_stays_healthy(tmp_path: Path, settings: Settings) -> None:
    text = (
        "[2026-12-07, 10:00:00 UTC] {logging_mixin.py:190} INFO - ERROR: 0 rows rejected\n"
        "[2026-12-07, 10:00:01 UTC] {python.py:240} INFO - Done. Returned value was: None\n"
        "[2026-12-07, 10:00:01 UTC] {taskinstance.py:340} INFO - Marking task as SUCCESS. dag_id=etl, task_id=load\n"
    )
    assert _serious(_diagnose(tmp_path, settings, "ok.log", text)) == []


def _stage(stage_id: int, **given: object) -> StageSummary:
    fields: dict[str, object] = dict(
        stage_id=stage_id, attempt=0, name=f"stage {stage_id}", status="succeeded", tasks=8, tasks_ended=8,
        failed_tasks=0, killed_tasks=0, duration_ms=60_000, failure_reason=None, executor_run_time_ms=200_000,
        gc_share=0.01, peak_execution_memory_bytes=None, task_time_max_ms=9_000, task_time_median_ms=8_000,
        task_skew=1.1, shuffle_read_max_bytes=0, shuffle_read_median_bytes=0, shuffle_read_skew=None, input_bytes=0,
        output_bytes=0, shuffle_read_bytes=0, shuffle_write_bytes=0, memory_spilled_bytes=0, disk_spilled_bytes=0)
    fields.update(given)
    return StageSummary(**fields)  # type: ignore[arg-type]


class _Analysis:
    """What slow_stage_findings reads of an analysis: the application's duration and its stages."""

    def __init__(self, stages: list[StageSummary], duration_ms: int = 100_000, plan: str = "") -> None:
        self.app = type("App", (), {"duration_ms": duration_ms})()
        self.stages = stages
        self.sql = [type("Sql", (), {"execution_id": 0, "plan": plan, "funnels_into_one_partition": lambda _: False})()]
        self.jobs = [type("Job", (), {"sql_execution_id": 0, "stage_ids": [s.stage_id for s in stages]})()]

    def longest_stages(self) -> list[StageSummary]:
        return self.stages


def test_slow_stages_become_findings_with_their_figures() -> None:
    mib = 1024**2
    stages = [
        _stage(1, task_time_max_ms=50_000, task_time_median_ms=4_000, task_skew=12.5, shuffle_read_max_bytes=390 * mib,
               shuffle_read_median_bytes=3 * mib, shuffle_read_skew=7.0, shuffle_read_bytes=420 * mib,
               task_data_max_bytes=390 * mib, task_data_skew=7.0, task_time_runner_up_ms=5_000),
        _stage(2, task_time_max_ms=40_000, task_time_median_ms=2_000, task_skew=20.0, shuffle_read_max_bytes=8 * mib,
               shuffle_read_median_bytes=8 * mib, shuffle_read_skew=1.0, shuffle_read_bytes=64 * mib,
               task_data_max_bytes=8 * mib, task_data_skew=1.0, task_time_runner_up_ms=2_500),
        _stage(3, tasks=1, tasks_ended=1, task_skew=1.0, shuffle_read_bytes=200 * mib),
        _stage(4, gc_share=0.35),
        _stage(5, memory_spilled_bytes=900 * mib, disk_spilled_bytes=300 * mib),
        _stage(6, duration_ms=900, gc_share=0.9),  # too short to matter
    ]
    found = {category: message for category, _, message in slow_stage_findings(_Analysis(stages), thresholds())}  # type: ignore[arg-type]
    assert set(found) == {"data_skew", "straggler", "single_partition_exchange", "gc_pressure", "spill"}
    assert "stage 1" in found["data_skew"] and "390 MiB" in found["data_skew"] and "7.0x the stage's mean" in found["data_skew"]
    assert "stage 2" in found["straggler"] and "20.0x" in found["straggler"]
    assert "stage 3" in found["single_partition_exchange"]
    assert "35%" in found["gc_pressure"] and "stage 6" not in found["gc_pressure"]
    assert "900 MiB" in found["spill"]


def test_a_one_task_stage_under_coalesce_is_named_without_a_shuffle() -> None:
    stages = [_stage(0, tasks=1, tasks_ended=1, task_skew=1.0, duration_ms=19_000)]
    plan = "Execute InsertIntoHadoopFsRelationCommand (5)\n+- WriteFiles (4)\n   +- Coalesce (3)\n      +- * Range (1)"
    found = slow_stage_findings(_Analysis(stages, 58_000, plan), thresholds())  # type: ignore[arg-type]
    assert [(c, "Coalesce" in m) for c, _, m in found] == [("single_partition_exchange", True)]
    assert slow_stage_findings(_Analysis(stages, 58_000), thresholds()) == []  # type: ignore[arg-type]


def test_a_healthy_stage_set_has_no_slow_findings() -> None:
    assert slow_stage_findings(_Analysis([_stage(1), _stage(2)]), thresholds()) == []  # type: ignore[arg-type]


def test_a_map_task_that_writes_far_more_is_skew_and_a_slow_first_wave_is_no_straggler() -> None:
    mib = 1024**2
    # One huge row exploded: the task reads no shuffle, but writes 12 MiB against a few KiB for its peers.
    exploded = _stage(0, task_time_max_ms=34_000, task_time_median_ms=3_000, task_skew=11.3, task_time_runner_up_ms=4_000,
                      task_data_max_bytes=12 * mib, task_data_skew=8.0, shuffle_write_bytes=12 * mib)
    # The first two tasks of a fresh JVM ran 31 and 30 s against 9 s for the rest: start-up, not a straggler.
    first_wave = _stage(1, task_time_max_ms=31_000, task_time_median_ms=9_000, task_skew=3.4,
                        task_time_runner_up_ms=30_000, task_data_max_bytes=3 * mib, task_data_skew=1.1)
    found = slow_stage_findings(_Analysis([exploded, first_wave]), thresholds())  # type: ignore[arg-type]
    assert [(c, "stage 0" in m) for c, _, m in found] == [("data_skew", True)]


def test_a_failed_sql_execution_is_diagnosed_by_its_cause(tmp_path: Path, settings: Settings) -> None:
    sql = "org.apache.spark.sql.execution.ui.SparkListenerSQLExecution"
    events = [
        {"Event": "SparkListenerLogStart", "Spark Version": "4.0.1"},
        {"Event": "SparkListenerApplicationStart", "App Name": "etl", "App ID": "local-1", "Timestamp": 1000, "User": "u"},
        {"Event": sql + "Start", "executionId": 0, "description": "SELECT * FROM sales.orders_2024", "details": "",
         "physicalPlanDescription": "", "sparkPlanInfo": {"nodeName": "LocalTableScan", "simpleString": "LocalTableScan",
                                                          "children": [], "metrics": []}, "time": 1100},
        {"Event": sql + "End", "executionId": 0, "time": 1200,
         "errorMessage": "[TABLE_OR_VIEW_NOT_FOUND] The table or view `sales`.`orders_2024` cannot be found."},
        {"Event": sql + "Start", "executionId": 1, "description": "SELECT 1/0", "details": "", "physicalPlanDescription": "",
         "sparkPlanInfo": {"nodeName": "LocalTableScan", "simpleString": "LocalTableScan", "children": [], "metrics": []},
         "time": 1300},
        {"Event": sql + "End", "executionId": 1, "time": 1400, "errorMessage": "[DIVIDE_BY_ZERO] Division by zero."},
        {"Event": "SparkListenerApplicationEnd", "Timestamp": 2000},
    ]
    result = _diagnose(tmp_path, settings, "eventlog", "\n".join(json.dumps(e) for e in events) + "\n")
    by_category = {f.category: f for f in result.findings}
    assert result.findings[0].category == "table_not_found"
    assert "orders_2024" in by_category["table_not_found"].root_cause
    assert by_category["query_failed"].title == "SQL query failed: DIVIDE_BY_ZERO"


def test_resubmitted_tasks_are_counted_apart_from_failures(tmp_path: Path, settings: Settings) -> None:
    from dgx_spark_mcp.diagnosis.eventlogs.analysis import analyze_event_log

    from .eventlogs import SyntheticLog

    log = SyntheticLog()
    lost = {"Reason": "ExecutorLostFailure", "Executor ID": "1", "Exit Caused By App": True,
            "Loss Reason": "Executor Process Lost"}
    log.stage(0, [{"ms": 100} for _ in range(6)])
    # Five finished map tasks whose output was lost with executor 1 are run again: Spark posts them as Resubmitted.
    log.stage(1, [{"ms": 100, "reason": {"Reason": "Resubmitted"}} for _ in range(5)] + [{"ms": 100, "reason": lost},
                                                                                        {"ms": 100}])
    analysis = analyze_event_log(log.write(tmp_path / "eventlog"), settings)
    assert analysis.totals.failed_tasks == 1
    assert analysis.totals.resubmitted_tasks == 5
    assert [f.reason for f in analysis.task_failures] == ["ExecutorLostFailure"]
    stage = next(s for s in analysis.stages if s.stage_id == 1)
    assert (stage.failed_tasks, stage.resubmitted_tasks) == (1, 5)


def test_a_gpu_plan_gets_the_findings_of_the_same_cpu_plan(settings: Settings) -> None:
    from dgx_spark_mcp.diagnosis.plans.analysis import analyze_query_plan

    # A RAPIDS plan written for this test in the shape of GpuOverrides' output (Gpu* operators, gpusinglepartitioning).
    plan = GPU_PLAN
    found = [f.category for f in analyze_query_plan(plan, settings).findings]
    # the costliest first: a row explosion, then a nested loop join, then everything through one task
    assert found[:3] == ["cartesian_product", "broadcast_nested_loop_join", "single_partition_exchange"]


def _driver_stage(stage: int, times_ms: list[int], fetches: list[str], finished_s: float, first_wave: int = 0) -> str:
    """A stage's task lines; the first ``first_wave`` tasks start before any finishes (the rest one after another)."""
    lines = [f"26/12/07 19:08:26 INFO Executor: Running task {n}.0 in stage {stage}.0 (TID {stage * 100 + n})"
             for n in range(first_wave)]
    for n, (ms, fetch) in enumerate(zip(times_ms, fetches, strict=True)):
        if n >= first_wave:
            lines.append(f"26/12/07 19:08:26 INFO Executor: Running task {n}.0 in stage {stage}.0 (TID {stage * 100 + n})")
        lines.append(f"26/12/07 19:08:27 INFO ShuffleBlockFetcherIterator: Getting 8 ({fetch}) non-empty blocks including "
                     f"8 ({fetch}) local and 0 (0.0 B) host-local and 0 (0.0 B) remote blocks")
        lines.append(f"26/12/07 19:08:29 INFO TaskSetManager: Finished task {n}.0 in stage {stage}.0 (TID {stage * 100 + n}) "
                     f"in {ms} ms on localhost (executor driver) ({n + 1}/{len(times_ms)})")
    lines.append(f"26/12/07 19:08:40 INFO DAGScheduler: ResultStage {stage} (showString at NativeMethodAccessorImpl.java:0) "
                 f"finished in {finished_s} s")
    return "\n".join(lines) + "\n"


def test_driver_log_task_lines_tell_skew_from_a_straggler() -> None:
    from dgx_spark_mcp.diagnosis.logs.task_times import slow_stages, task_times

    th = thresholds()
    options = dict(task_skew=th.slow_task_skew.value, stage_share=th.slow_task_stage_share.value,
                   min_stage_ms=th.slow_stage_min_ms.value, fetch_skew=th.shuffle_skew_factor.value,
                   min_fetch_bytes=th.slow_skew_min_bytes.value, standout=th.slow_straggler_standout.value)
    skewed = _driver_stage(4, [900, 1000, 1100, 950, 9000, 1000], ["2.1 MiB", "2.0 MiB", "2.2 MiB", "1.9 MiB",
                                                                    "121.6 MiB", "2.0 MiB"], 10.5)
    straggling = _driver_stage(2, [1000, 1100, 12800, 900, 1000, 1050], ["2.1 MiB"] * 6, 14.0)
    warm_up = _driver_stage(3, [3000, 2600, 800, 700, 900, 1000], ["4.0 MiB", "1.0 MiB"] + ["1.1 MiB"] * 4, 4.5)
    # A later task far slower than the later ones, though close to the first wave's start-up: it held the stage up.
    behind_warm_up = _driver_stage(6, [4800, 4818, 1252, 1353, 910, 928, 1186, 5968],
                                   ["1.5 MiB"] * 7 + ["28.4 MiB"], 12.2, first_wave=2)
    single = _driver_stage(5, [19_500], ["51.5 MiB"], 19.7)
    healthy = _driver_stage(1, [1000, 1100, 1200, 900, 1000, 1050], ["2.1 MiB"] * 6, 3.0)
    found = slow_stages(task_times([(skewed + straggling + healthy).encode()]), **options)  # type: ignore[arg-type]
    assert [c for c, _ in found] == ["data_skew", "straggler"]
    assert "stage 4" in found[0][1] and "121.6 MiB" in found[0][1]
    assert "stage 2" in found[1][1] and "12.8 s" in found[1][1]
    assert slow_stages(task_times([healthy.encode()]), **options) == []  # type: ignore[arg-type]
    assert slow_stages(task_times([warm_up.encode()]), **options) == []  # type: ignore[arg-type]
    [(category, said)] = slow_stages(task_times([behind_warm_up.encode()]), **options)  # type: ignore[arg-type]
    assert category == "data_skew" and "stage 6" in said and "28.4 MiB" in said
    [(category, said)] = slow_stages(task_times([single.encode()]), **options)  # type: ignore[arg-type]
    assert category == "single_partition_exchange" and "spark.sql.shuffle.partitions=1" in said and "stage 5" in said


def _exchange_chain(count: int) -> str:
    lines = ["== Physical Plan ==", f"*({count + 1}) Project [k#0]"]
    for n in range(count):
        pad = "   " * n
        lines.append(f"{pad}+- Exchange hashpartitioning(k{n}#{n}, 200), ENSURE_REQUIREMENTS, [plan_id={n}]")
        lines.append(f"{pad}   +- *({count - n}) Project [k#0 AS k{n}#{n}]")
    lines.append(f"{'   ' * count}   +- *(1) Range (0, 100, step=1, splits=2)")
    return "\n".join(lines)


def test_many_exchanges_is_information_until_the_query_reshuffles_again_and_again(settings: Settings) -> None:
    from dgx_spark_mcp.diagnosis.plans.analysis import analyze_query_plan

    def severity(count: int) -> str | None:
        found = {f.category: f.severity for f in analyze_query_plan(_exchange_chain(count), settings).findings}
        return found.get("many_exchanges")

    assert (severity(8), severity(15), severity(30)) == (None, "info", "warning")


def test_rapids_fallbacks_are_one_finding_naming_each_operator_and_reason(tmp_path: Path, settings: Settings) -> None:
    text = (
        "25/01/03 03:18:35 WARN GpuOverrides:\n"
        "  !Exec <ShuffleExchangeExec> cannot run on GPU because Columnar exchange without columnar children is inefficient\n"
        "    !Exec <ObjectHashAggregateExec> cannot run on GPU because not all expressions can be replaced\n"
        "      ! <StringIndexerAggregator> stringindexeraggregator(input[0, string, true]) cannot run on GPU because "
        "GPU does not currently support the operator class StringIndexerAggregator\n"
        "  *Exec <ProjectExec> will run on GPU\n"
    )
    result = _diagnose(tmp_path, settings, "explain.log", text)
    fallbacks = [f for f in result.findings if f.category == "cpu_fallback"]
    assert len(fallbacks) == 1
    for name in ("ShuffleExchangeExec", "ObjectHashAggregateExec", "StringIndexerAggregator", "not all expressions"):
        assert name in fallbacks[0].root_cause
    assert "ProjectExec" not in fallbacks[0].root_cause


def test_an_event_log_stage_compares_its_longest_task_with_those_that_started_like_it() -> None:
    from array import array

    from dgx_spark_mcp.diagnosis.eventlogs.app_log import StageRun
    from dgx_spark_mcp.diagnosis.eventlogs.summaries import stage_summary

    run = StageRun(stage_id=2, attempt=0, num_tasks=6, submitted_ms=0, completed_ms=12_000)
    # Two first-wave tasks pay start-up (4.8 s); the later ones run about 1 s, but for one of 6 s that ends last.
    run.launch_ms = array("q", [0, 0, 4_800, 4_810, 5_800, 5_900])
    run.task_ms = array("q", [4_800, 4_810, 1_000, 6_000, 900, 1_100])
    summary = stage_summary(run)
    assert (summary.task_time_max_ms, summary.task_time_runner_up_ms, summary.longest_task_ended_last) == (6_000, 1_100, True)
    run.task_ms = array("q", [4_800, 4_900, 1_000, 1_200, 900, 1_100])  # the first wave alone is slow
    assert (stage_summary(run).task_time_runner_up_ms, stage_summary(run).longest_task_ended_last) == (4_800, False)
