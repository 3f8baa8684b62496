"""diagnose_log: kinds, chains, Airflow unwrapping, codecs, bad input, the store, the tool and the CLI."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path
from typing import Any

import pytest

from dgx_spark_mcp.cli import main
from dgx_spark_mcp.diagnosis.logs.diagnose import DiagnoseResult, diagnose_log
from dgx_spark_mcp.diagnosis.reading import parallel
from dgx_spark_mcp.errors import BadInputError
from dgx_spark_mcp.settings import Settings
from dgx_spark_mcp.tools.answers import compact

from ..conftest import REPO, structured

LOGS = REPO / "tests" / "fixtures" / "diagnosis" / "logs"
CORPUS_DRIVER_LOG = LOGS / "spark_rapids_tools_driverlog_spark330_rapids2310.log"
EVENTLOGS = REPO / "tests" / "fixtures" / "eventlogs" / "corpus"

INFO = "\n".join(
    f"24/07/08 04:0{i % 10}:1{i % 10} INFO Executor: Finished task {i}.0 in stage 1.0 (TID {i}). 2087 bytes result sent to driver"
    for i in range(50)
)

PY4J_CHAIN = """Traceback (most recent call last):
  File "/jobs/etl.py", line 42, in <module>
    df.write.parquet(out)
py4j.protocol.Py4JJavaError: An error occurred while calling o88.parquet.
: org.apache.spark.SparkException: Job aborted due to stage failure: Task 7 in stage 3.0 failed 4 times, most recent failure: Lost task 7.3 in stage 3.0 (TID 95) (10.0.0.7 executor 3): org.apache.spark.SparkException: Task failed while writing rows.
\tat org.apache.spark.sql.execution.datasources.FileFormatWriter$.executeTask(FileFormatWriter.scala:296)
\tat org.apache.spark.scheduler.Task.run(Task.scala:131)
Caused by: java.lang.OutOfMemoryError: Java heap space
\tat java.util.Arrays.copyOf(Arrays.java:3236)
\t... 12 more
"""

UDF_LOG = INFO + """
24/07/08 04:03:25 ERROR Executor: Exception in task 2.0 in stage 5.0 (TID 41)
org.apache.spark.api.python.PythonException: Traceback (most recent call last):
  File "/opt/spark/python/lib/pyspark.zip/pyspark/worker.py", line 1247, in main
    process()
  File "/jobs/etl.py", line 17, in parse_amount
    return float(value)
ValueError: could not convert string to float: 'n/a'

\tat org.apache.spark.api.python.BasePythonRunner$ReaderIterator.handlePythonException(PythonRunner.scala:572)
\tat org.apache.spark.sql.execution.python.PythonUDFRunner$$anon$2.read(PythonUDFRunner.scala:94)
24/07/08 04:03:26 INFO Executor: Running task 3.0 in stage 5.0 (TID 42)
"""

YARN_LOG = INFO + """
24/07/08 04:05:00 WARN TaskSetManager: Lost task 3.0 in stage 2.0 (TID 30) (node7 executor 4): ExecutorLostFailure (executor 4 exited caused by one of the running tasks) Reason: Container killed by YARN for exceeding physical memory limits. 5.5 GB of 5.5 GB physical memory used. Consider boosting spark.executor.memoryOverhead.
24/07/08 04:05:09 WARN TaskSetManager: Lost task 9.0 in stage 2.0 (TID 36) (node2 executor 7): ExecutorLostFailure (executor 7 exited caused by one of the running tasks) Reason: Container killed by YARN for exceeding physical memory limits. 5.6 GB of 5.5 GB physical memory used. Consider boosting spark.executor.memoryOverhead.
24/07/08 04:05:10 WARN TaskSetManager: Lost task 1.0 in stage 3.0 (TID 40) (node3 executor 2): FetchFailed(BlockManagerId(4, node7, 7337, None), shuffleId=1, mapIndex=3, mapId=30, reduceId=1, message=
org.apache.spark.shuffle.FetchFailedException: Failed to connect to node7/10.0.0.7:7337
\tat org.apache.spark.storage.ShuffleBlockFetcherIterator.throwFetchFailedException(ShuffleBlockFetcherIterator.scala:1166)
"""

AIRFLOW2 = """[2024-07-08, 04:03:20 UTC] {taskinstance.py:1157} INFO - Dependencies all met for dep_context=non-requeueable deps ti=<TaskInstance: etl.load manual__2024-07-08 [queued]>
[2024-07-08, 04:03:20 UTC] {taskinstance.py:1359} INFO - Starting attempt 1 of 2
[2024-07-08, 04:03:21 UTC] {spark_submit.py:351} INFO - Spark-Submit cmd: spark-submit --master yarn --name etl job.py
[2024-07-08, 04:03:24 UTC] {spark_submit.py:502} INFO - 24/07/08 04:03:24 INFO SparkContext: Running Spark version 3.5.1
[2024-07-08, 04:03:29 UTC] {spark_submit.py:502} INFO - 24/07/08 04:03:29 ERROR ApplicationMaster: User class threw exception: org.apache.spark.sql.AnalysisException: [TABLE_OR_VIEW_NOT_FOUND] The table or view `sales`.`orders` cannot be found. Verify the spelling and correctness of the schema and catalog. SQLSTATE: 42P01; line 1 pos 14
[2024-07-08, 04:03:29 UTC] {spark_submit.py:502} INFO - \tat org.apache.spark.sql.catalyst.analysis.package$AnalysisErrorAt.tableNotFound(package.scala:87)
[2024-07-08, 04:03:30 UTC] {taskinstance.py:2905} ERROR - Task failed with exception
Traceback (most recent call last):
  File "/home/airflow/.local/lib/python3.11/site-packages/airflow/providers/apache/spark/operators/spark_submit.py", line 174, in execute
    self._hook.submit(self.application)
airflow.exceptions.AirflowException: Cannot execute: spark-submit --master yarn --name etl job.py. Error code is: 1.
[2024-07-08, 04:03:30 UTC] {taskinstance.py:1206} INFO - Marking task as UP_FOR_RETRY. dag_id=etl, task_id=load
"""

AIRFLOW3 = "\n".join(json.dumps(r) for r in [
    {"timestamp": "2025-08-02T13:40:00.118204Z", "level": "info", "event": "DAG bundles loaded: dags-folder", "logger": "airflow.dag_processing"},
    {"timestamp": "2025-08-02T13:40:00.541917Z", "level": "info", "event": "Reading 38 GB of parquet into memory", "logger": "train_model"},
    {"timestamp": "2025-08-02T13:43:12.700145Z", "level": "error", "event": "Process terminated by signal", "signal": -9, "signal_name": "SIGKILL", "logger": "task"},
]) + "\n"


@pytest.fixture
def settings_here(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home", allowed_roots=[str(tmp_path), str(LOGS), str(EVENTLOGS)], log_level="WARNING")


def _write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def _categories(result: DiagnoseResult) -> list[str]:
    return [f.category for f in result.findings]


def _warnings(result: DiagnoseResult) -> list[str]:
    return [f.category for f in result.findings if f.severity in ("warning", "error", "critical")]


def test_corpus_driver_log_is_healthy_with_cpu_fallbacks(settings_here: Settings) -> None:
    result = diagnose_log(CORPUS_DRIVER_LOG, settings_here)
    assert result.kind == "spark_driver"
    assert result.lines_read == len(CORPUS_DRIVER_LOG.read_bytes().splitlines())
    assert _warnings(result) == []
    assert "cpu_fallback" in _categories(result)


def test_py4j_and_job_aborted_wrappers_are_evidence_and_the_innermost_cause_is_the_finding(settings_here: Settings) -> None:
    result = diagnose_log("", settings_here, text=PY4J_CHAIN)
    top = result.findings[0]
    # Thread "main" is not named, and the abort says the OOM hit a task on executor 3.
    assert (top.category, top.rule_id) == ("executor_oom", "JVM_OOM")
    roles = {e.role for e in top.evidence}
    assert roles == {"cause", "wrapper"}
    wrapped = " ".join(line for e in top.evidence if e.role == "wrapper" for line in e.lines)
    assert "Py4JJavaError" in wrapped and "Job aborted" in wrapped
    assert any("OutOfMemoryError" in line for line in top.evidence[0].lines)


def test_python_udf_traceback_is_read_to_the_last_frame(settings_here: Settings, tmp_path: Path) -> None:
    result = diagnose_log(_write(tmp_path, "executor.log", UDF_LOG), settings_here)
    top = result.findings[0]
    assert top.category == "python_udf_error"
    assert "ValueError: could not convert string to float" in top.root_cause
    assert 'File "/jobs/etl.py", line 17, in parse_amount' in top.root_cause
    cause = top.evidence[0]
    assert cause.line_numbers[0] == 51  # the ERROR line after 50 INFO lines


def test_repeated_errors_are_grouped_by_template_with_first_and_last_line(settings_here: Settings, tmp_path: Path) -> None:
    result = diagnose_log(_write(tmp_path, "driver.log", YARN_LOG), settings_here)
    assert _categories(result)[:2] == ["container_memory_exceeded", "fetch_failed"]  # the cause before its consequence
    evidence = result.findings[0].evidence[0]
    assert (evidence.occurrences, evidence.first_line, evidence.last_line) == (2, 51, 52)
    assert evidence.template is not None and "<*>" in evidence.template
    change = result.findings[0].fix.changes[0]
    assert change.key == "spark.executor.memoryOverhead"


def test_fixes_are_sized_to_the_hardware_given(settings_here: Settings, tmp_path: Path) -> None:
    path = _write(tmp_path, "driver.log", YARN_LOG)
    plain = diagnose_log(path, settings_here)
    sized = diagnose_log(path, settings_here, hardware="dgx-spark")
    assert sized.hardware == "profile dgx-spark"
    plain_change, sized_change = plain.findings[0].fix.changes[0], sized.findings[0].fix.changes[0]
    assert "fit this node's" in sized_change.reason and "fit this node's" not in plain_change.reason
    assert sized_change.recommended_value != plain_change.recommended_value


def test_airflow2_log_with_nested_spark_submit_is_unwrapped(settings_here: Settings, tmp_path: Path) -> None:
    result = diagnose_log(_write(tmp_path, "attempt=1.log", AIRFLOW2), settings_here)
    assert result.kind == "airflow"
    assert result.nested_spark_lines == 3
    assert _categories(result)[:2] == ["table_not_found", "airflow_spark_submit_failed"]
    assert "nested spark-submit" in result.findings[0].root_cause


def test_airflow3_json_log(settings_here: Settings) -> None:
    result = diagnose_log("", settings_here, text=AIRFLOW3)
    assert result.kind == "airflow3_json"
    assert _categories(result) == ["airflow_oom_killed"]


@pytest.mark.parametrize("codec", ["gzip", "zstd"])
def test_compressed_logs_read_like_plain_ones(settings_here: Settings, tmp_path: Path, codec: str) -> None:
    import zstandard

    raw = UDF_LOG.encode()
    packed = gzip.compress(raw) if codec == "gzip" else zstandard.ZstdCompressor().compress(raw)
    plain = diagnose_log(_write(tmp_path, "executor.log", raw), settings_here)
    packed_result = diagnose_log(_write(tmp_path, f"executor.log.{'gz' if codec == 'gzip' else 'zst'}", packed), settings_here)
    assert packed_result.codec == codec
    def shape(result: DiagnoseResult) -> list[tuple[str, str, list[int], int]]:
        return [(f.category, f.root_cause, f.evidence[0].line_numbers, f.evidence[0].occurrences) for f in result.findings]

    assert shape(packed_result) == shape(plain)
    assert packed_result.lines_read == plain.lines_read


def test_truncated_gzip_gives_the_findings_it_can_and_says_so(settings_here: Settings, tmp_path: Path) -> None:
    packed = gzip.compress((UDF_LOG + INFO * 20).encode())
    result = diagnose_log(_write(tmp_path, "cut.log.gz", packed[: len(packed) * 3 // 4]), settings_here)
    assert result.unreadable.stream_complete is False
    assert "python_udf_error" in _categories(result)
    assert any("truncated" in note for note in result.notes)


def test_non_utf8_bytes_are_replaced_and_counted(settings_here: Settings, tmp_path: Path) -> None:
    data = UDF_LOG.encode().replace(b"could not convert", b"could not \xff\xfe convert")
    result = diagnose_log(_write(tmp_path, "latin.log", data), settings_here)
    assert result.unreadable.non_utf8_lines == 1
    assert "\ufffd" in result.findings[0].root_cause
    assert any("not UTF-8" in note for note in result.notes)


def test_empty_log_has_no_findings(settings_here: Settings, tmp_path: Path) -> None:
    result = diagnose_log(_write(tmp_path, "empty.log", b""), settings_here)
    assert (result.findings, result.lines_read) == ([], 0)
    assert "the log is empty" in result.notes


def test_binary_file_is_refused(settings_here: Settings, tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="binary"):
        diagnose_log(_write(tmp_path, "core.dump", bytes(range(256)) * 64), settings_here)


def test_file_above_the_size_limit_is_refused(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", allowed_roots=[str(tmp_path)], max_file_mib=1)
    path = _write(tmp_path, "huge.log", (INFO + "\n").encode() * (2 * 1024**2 // len(INFO) + 1))
    with pytest.raises(BadInputError, match="above the 1 MiB limit"):
        diagnose_log(path, settings)
    with pytest.raises(BadInputError, match="above the 1 MiB limit"):
        diagnose_log("", settings, text=path.read_text())


def test_symlink_out_of_the_roots_is_refused(settings_here: Settings, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    outside = tmp_path_factory.mktemp("outside") / "secret.log"
    outside.write_text(UDF_LOG)
    (tmp_path / "link.log").symlink_to(outside)
    with pytest.raises(BadInputError, match="outside the allowed roots"):
        diagnose_log(tmp_path / "link.log", settings_here)


def test_fifo_directory_and_device_are_refused(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", allowed_roots=[str(tmp_path), "/dev"])
    os.mkfifo(tmp_path / "pipe.log")
    with pytest.raises(BadInputError, match="not a regular file"):
        diagnose_log(tmp_path / "pipe.log", settings)
    (tmp_path / "logs").mkdir()
    with pytest.raises(BadInputError, match="is a directory"):
        diagnose_log(tmp_path / "logs", settings)
    with pytest.raises(BadInputError, match="not a regular file"):
        diagnose_log("/dev/zero", settings)


def test_rolling_event_log_directory_is_read_as_an_event_log(settings_here: Settings) -> None:
    folder = next(EVENTLOGS.glob("eventlog_v2_*"))
    result = diagnose_log(folder, settings_here)
    assert result.kind == "spark_event_log"
    assert result.lines_read > 0


def test_event_log_task_failures_become_findings(settings_here: Settings) -> None:
    result = diagnose_log(EVENTLOGS / "gpu_oom_eventlog.zstd", settings_here)
    assert result.kind == "spark_event_log"
    assert result.findings[0].category == "gpu_oom"
    assert result.findings[0].fix is not None and result.findings[0].fix.changes


def test_event_log_plans_add_findings_after_the_failures(settings_here: Settings) -> None:
    healthy_run = diagnose_log(EVENTLOGS / "python_udf_eventlog", settings_here)
    assert [f.category for f in healthy_run.findings if f.severity != "info"][:1] == ["python_udf"]
    assert "BatchEvalPython" in str(healthy_run.findings[0].evidence)
    failed_run = diagnose_log(EVENTLOGS / "gpu_oom_eventlog.zstd", settings_here)
    assert failed_run.findings[0].category == "gpu_oom"
    from_plans = [f.category for f in failed_run.findings if f.evidence and f.evidence[0].plan_node is not None]
    assert len(from_plans) == len(set(from_plans))  # one finding per plan category, however many queries


def test_big_logs_are_hashed_beside_the_scan_and_still_served_from_the_store(
    settings_here: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dgx_spark_mcp.diagnosis.logs import diagnose

    monkeypatch.setattr(diagnose, "HASH_BESIDE_SCAN_BYTES", 1)  # every file counts as big
    path = _write(tmp_path, "executor.log", UDF_LOG)
    first = diagnose_log(path, settings_here)
    second = diagnose_log(path, settings_here)
    assert (first.from_store, second.from_store) == (False, True)
    assert first.content_hash == second.content_hash
    assert [f.category for f in second.findings] == [f.category for f in first.findings] != []


def test_an_unchanged_file_is_answered_before_it_is_read_a_changed_one_is_read_anew(
    settings_here: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dgx_spark_mcp.diagnosis.logs import diagnose

    path = _write(tmp_path, "executor.log", UDF_LOG)
    first = diagnose_log(path, settings_here)

    def no_reading(*args: object, **kwargs: object) -> None:
        raise AssertionError("an unchanged file was read again")

    with monkeypatch.context() as m:
        m.setattr(diagnose, "_parallel_scan", no_reading)
        m.setattr(diagnose, "store_key", no_reading)  # not even hashed
        again = diagnose_log(path, settings_here)
    assert again.from_store and again.content_hash == first.content_hash

    with path.open("a") as f:  # appended to (a log still being written): size and mtime change
        f.write(YARN_LOG)
    changed = diagnose_log(path, settings_here)
    assert changed.from_store is False and changed.content_hash != first.content_hash
    assert "container_memory_exceeded" in {f.category for f in changed.findings}


def test_second_call_is_served_from_the_store(settings_here: Settings, tmp_path: Path) -> None:
    path = _write(tmp_path, "executor.log", UDF_LOG)
    first = diagnose_log(path, settings_here)
    copy = _write(tmp_path, "copy.log", UDF_LOG)  # same content under another name: same key
    second = diagnose_log(copy, settings_here)
    assert (first.from_store, second.from_store) == (False, True)
    assert second.source == str(copy)
    assert [f.model_dump(exclude={"evidence"}) for f in second.findings] == [
        f.model_dump(exclude={"evidence"}) for f in first.findings]
    assert {e.file for f in second.findings for e in f.evidence} == {str(copy)}
    import duckdb

    with duckdb.connect(str(settings_here.home / "store.duckdb"), read_only=True) as con:
        rows = con.execute("SELECT category, occurrences FROM spark_errors WHERE content_hash = ?", [first.content_hash]).fetchall()
    assert ("python_udf_error", 1) in rows


@pytest.mark.slow
def test_parallel_scan_gives_the_same_records_as_one_process(settings_here: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write(tmp_path, "big.log", (UDF_LOG + YARN_LOG + "\n") * 400)
    sequential = diagnose_log(path, settings_here)
    monkeypatch.setattr(parallel, "PARALLEL_MIN_BYTES", 64 * 1024)
    monkeypatch.setattr(parallel.os, "cpu_count", lambda: 4)  # three workers, whatever this machine has
    assert parallel.workers_for(path.stat().st_size) == 3
    split = diagnose_log(path, settings_here, limit=19)  # other options: not served from the store
    assert split.from_store is False
    assert split.lines_read == sequential.lines_read
    assert split.findings == sequential.findings


@pytest.mark.anyio
async def test_tool_through_the_mcp_client(client: Any, tmp_path: Path) -> None:
    path = _write(tmp_path, "executor.log", UDF_LOG)
    data = structured(await client.call_tool("diagnose_log", {"path": str(path), "hardware": "dgx-spark"}))
    assert data["findings"][0]["category"] == "python_udf_error"
    refused = await client.call_tool("diagnose_log", {"path": str(path), "text": "x"})
    assert refused.is_error and "exactly one" in refused.content[0].text


def test_cli_json_equals_the_tool_result(settings_here: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, "driver.log", YARN_LOG)
    home = tmp_path / "cli-home"
    argv = ["diagnose", str(path), "--json", "--home", str(home), "--allowed-roots", str(tmp_path)]
    assert main(argv) == 0
    printed = json.loads(capsys.readouterr().out)
    direct = diagnose_log(path, Settings(home=tmp_path / "other-home", allowed_roots=[str(tmp_path)]), detail="summary")
    assert printed == compact(direct)
    assert main(["diagnose", str(path), "--home", str(home), "--allowed-roots", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    assert "container_memory_exceeded" in text and "context store" in text
    assert main(["diagnose", str(tmp_path / "missing.log"), "--home", str(home), "--allowed-roots", str(tmp_path)]) == 2


def test_cli_reads_stdin(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO(PY4J_CHAIN))
    assert main(["diagnose", "-", "--json", "--home", str(tmp_path / "h"), "--allowed-roots", str(tmp_path)]) == 0
    assert json.loads(capsys.readouterr().out)["findings"][0]["category"] == "executor_oom"


def test_unknown_kind_and_limit_are_refused(settings_here: Settings) -> None:
    with pytest.raises(BadInputError, match="kind 'nginx' is not known"):
        diagnose_log("", settings_here, text=PY4J_CHAIN, kind="nginx")
    with pytest.raises(BadInputError, match="limit 0"):
        diagnose_log("", settings_here, text=PY4J_CHAIN, limit=0)


def test_corpus_copy_is_unchanged() -> None:
    shared = REPO.parent / "shared" / "corpus" / "spark_logs" / CORPUS_DRIVER_LOG.name
    if not shared.exists():
        pytest.skip("the shared corpus is not next to this checkout")
    assert shared.read_bytes() == CORPUS_DRIVER_LOG.read_bytes()


AIRFLOW_RELAYED_TRACEBACK = """[2024-07-08T04:03:05.004+0000] {spark_submit.py:521} INFO - 24/07/08 04:03:05 INFO SparkContext: Running Spark version 3.5.1
[2024-07-08T04:03:09.871+0000] {spark_submit.py:521} INFO - 24/07/08 04:03:09 INFO SharedState: Warehouse path is 'file:/opt/airflow/spark-warehouse'.
[2024-07-08T04:03:11.201+0000] {spark_submit.py:521} INFO - Traceback (most recent call last):
[2024-07-08T04:03:11.201+0000] {spark_submit.py:521} INFO - File "/opt/jobs/build_marts.py", line 17, in <module>
[2024-07-08T04:03:11.202+0000] {spark_submit.py:521} INFO - orders = spark.table("raw.orders_v2")
[2024-07-08T04:03:11.202+0000] {spark_submit.py:521} INFO - pyspark.errors.exceptions.captured.AnalysisException: [TABLE_OR_VIEW_NOT_FOUND] The table or view `raw`.`orders_v2` cannot be found. SQLSTATE: 42P01
[2024-07-08T04:03:11.640+0000] {taskinstance.py:1937} ERROR - Task failed with exception
airflow.exceptions.AirflowException: Cannot execute: spark-submit --master local[*] --name build_marts /opt/jobs/build_marts.py. Error code is: 1.
[2024-07-08T04:03:11.651+0000] {taskinstance.py:1400} INFO - Marking task as FAILED. dag_id=lake_refresh, task_id=build_marts
[2024-07-08T04:03:11.702+0000] {standard_task_runner.py:104} ERROR - Failed to execute job 812 for task build_marts (Cannot execute: spark-submit --master local[*] --name build_marts /opt/jobs/build_marts.py. Error code is: 1.; 4411)
"""


def test_relayed_driver_traceback_starts_its_own_record_and_wrappers_step_back(settings_here: Settings) -> None:
    result = diagnose_log("", settings_here, text=AIRFLOW_RELAYED_TRACEBACK)
    top = result.findings[0]
    assert top.category == "table_not_found"
    assert top.evidence[0].line_numbers[0] == 3  # the Traceback line, not the INFO line before it
    by_rule = {f.rule_id: f for f in result.findings}
    assert by_rule["AIRFLOW_SPARK_SUBMIT"].evidence[0].occurrences == 2  # one finding however Airflow worded it
    assert by_rule["AIRFLOW_TASK_FAILED"].severity == "info"  # a wrapper next to a cause


def test_one_error_seen_in_a_log_line_and_in_a_wrapper_is_one_finding(tmp_path: Path) -> None:
    labelled = REPO / "tests" / "fixtures" / "diagnosis" / "labelled"
    settings = Settings(home=tmp_path / "home", allowed_roots=[str(labelled)], log_level="WARNING")
    result = diagnose_log(labelled / "pyspark" / "max_result_size.driver.log", settings)
    same = [f for f in result.findings if f.category == "max_result_size_exceeded"]
    assert len(same) == 1 and result.findings[0] is same[0]
    assert len(same[0].evidence) >= 2  # the scheduler's line and the Py4J chain that carried it
    sized = diagnose_log(labelled / "pyspark" / "max_result_size.driver.log", settings, hardware="dgx-spark")
    (change,) = sized.findings[0].fix.changes  # type: ignore[union-attr]
    assert change.key == "spark.driver.maxResultSize" and change.recommended_value == "2g"  # half of a 4g driver
    (unsized,) = same[0].fix.changes  # type: ignore[union-attr]
    assert unsized.recommended_value == "2m"  # twice the 1 MiB that failed, when the machine is unknown


def test_pasted_event_log_text_is_diagnosed_like_the_file(settings_here: Settings) -> None:
    log = EVENTLOGS / "python_udf_eventlog"
    from_file = diagnose_log(log, settings_here)
    pasted = diagnose_log("", settings_here, text=log.read_text(encoding="utf-8"))
    assert pasted.kind == "spark_event_log"
    assert [f.category for f in pasted.findings] == [f.category for f in from_file.findings] != []
    assert all(e.file is None for f in pasted.findings for e in f.evidence)
    assert not any(p.name.startswith("pasted-eventlog-") for p in settings_here.home.iterdir())


def test_a_diagnosis_stands_when_the_context_store_cannot_keep_it(tmp_path: Path) -> None:
    # A store that cannot be opened (here: a directory where the file should be) loses the instant
    # repeat, not the answer.
    home = tmp_path / "home"
    (home / "store.duckdb").mkdir(parents=True)
    log = tmp_path / "driver.log"
    log.write_text("24/07/08 04:03:25 ERROR Executor: Exception in task 3.0 in stage 0.0 (TID 3)\n"
                   "java.lang.OutOfMemoryError: Java heap space\n")
    settings = Settings(home=home, allowed_roots=[tmp_path], log_level="WARNING")
    result = diagnose_log(log, settings)
    assert result.findings and result.findings[0].category == "executor_oom"
    assert any("could not be kept in the context store" in n for n in result.notes)


def test_concurrent_diagnoses_in_one_process_do_not_race_the_store(tmp_path: Path) -> None:
    # Threads share one DuckDB instance: opening while another closes, and two rewrites of one content
    # hash, failed 1 call in 12 before the store serialised them (bench/load.py found it).
    from concurrent.futures import ThreadPoolExecutor

    log = tmp_path / "driver.log"
    log.write_text("24/07/08 04:03:25 ERROR Executor: Exception in task 3.0 in stage 0.0 (TID 3)\n"
                   "java.lang.OutOfMemoryError: Java heap space\n")
    settings = Settings(home=tmp_path / "home", allowed_roots=[tmp_path], log_level="WARNING")
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: diagnose_log(log, settings), range(48)))
    assert all(r.findings[0].category == "executor_oom" for r in results)
    assert not any("could not be kept" in n for r in results for n in r.notes)


def test_a_driver_oom_recommends_driver_memory_sized_to_the_hardware(tmp_path: Path) -> None:
    labelled = REPO / "tests" / "fixtures" / "diagnosis" / "labelled"
    settings = Settings(home=tmp_path / "home", allowed_roots=[str(labelled)], log_level="WARNING")
    path = labelled / "pyspark" / "driver_oom.driver.log"
    sized = diagnose_log(path, settings, hardware="dgx-spark")
    top = sized.findings[0]
    assert (top.category, top.rule_id) == ("driver_oom", "JVM_OOM")
    assert top.fix is not None and "driver" in top.fix.summary and "executor" not in top.fix.summary
    (change,) = top.fix.changes
    # optimize_spark_config's collect-heavy driver: 8g, well under half of the GB10's memory
    assert (change.key, change.recommended_value) == ("spark.driver.memory", "8g")
    assert "profile dgx-spark" in change.reason
    unsized = diagnose_log(path, settings, limit=5).findings[0]
    assert unsized.fix is not None
    assert [(c.key, c.recommended_value) for c in unsized.fix.changes] == [("spark.driver.memory", "2g")]  # twice 1g


def test_evidence_lines_with_replaced_bytes_say_so(settings_here: Settings, tmp_path: Path) -> None:
    data = (UDF_LOG + YARN_LOG).encode().replace(b"could not convert", b"could not \xff\xfe convert")
    result = diagnose_log(_write(tmp_path, "latin.log", data), settings_here)
    udf = next(f for f in result.findings if f.category == "python_udf_error")
    cause = udf.evidence[0]
    replaced = next(n for n, line in zip(cause.line_numbers, cause.lines, strict=True) if "\ufffd" in line)
    assert cause.note is not None and f"line(s) {replaced} held bytes that are not UTF-8" in cause.note
    clean = next(f for f in result.findings if f.category == "container_memory_exceeded")
    assert all(e.note is None for e in clean.evidence)
    assert result.unreadable.non_utf8_lines == 1
