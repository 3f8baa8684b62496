"""The fixed call set of bench/agent_tokens.py, and the inputs it reads, at two scales.

``full`` is the issue's set: a 1 GiB executor log, a 100,000-task event log, a 1,000-operator plan, a
telemetry store of 100 M rows (1,000 GPUs), a 2,000-line PySpark file.  ``small`` has the same shapes
(many findings, many stages, many GPUs, long windows) at sizes a test can afford; the size test in
tests/test_agent_tokens.py runs it.  Every input is generated into a work directory (never the
repository) or read from the committed fixtures.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
FIXTURES = REPO / "tests" / "fixtures"
for where in (BENCH, REPO):
    if str(where) not in sys.path:
        sys.path.insert(0, str(where))

from diagnose_throughput import write_log  # noqa: E402
from plan_analysis import generated_plan  # noqa: E402
from telemetry_data import generate, gpu_uuid  # noqa: E402

from tests.diagnosis.eventlogs import many_stage_log  # noqa: E402
from tests.live.history_process import history_server_process  # noqa: E402

__all__ = ["SCALES", "Call", "Inputs", "Scale", "calls", "history_server", "prepare"]

HISTORY = FIXTURES / "eventlogs" / "history"
"""Real local PySpark runs (two runs of one job, a skewed one, a failing one, one still running) replayed by
a real History Server for the live tools' calls."""
APPS = {"fast": "local-1796655153929", "slow": "local-1796655171518", "failing": "local-1796655261813",
        "running": "local-1796655326677"}
AIRFLOW_LOGS = FIXTURES / "airflow" / "logs-3.1.8"
"""$AIRFLOW_HOME/logs of a real Apache Airflow 3.1.8 run of the live tests' failing DAGs."""
START = "2026-03-02T00:00:00Z"
HOUR_END = "2026-03-02T01:00:00Z"
INTERVAL_S = 10


@dataclass(frozen=True)
class Scale:
    name: str
    log_mib: int
    error_log_mib: int
    stages: int
    tasks_per_stage: int
    plan_joins: int
    gpus: int
    timestamps: int
    fill_rows: int


SCALES = {
    "full": Scale("full", log_mib=1024, error_log_mib=60, stages=200, tasks_per_stage=500, plan_joins=500,
                  gpus=1000, timestamps=360, fill_rows=100_000_000),
    "small": Scale("small", log_mib=2, error_log_mib=2, stages=40, tasks_per_stage=50, plan_joins=60,
                   gpus=64, timestamps=360, fill_rows=0),
}


@dataclass(frozen=True)
class Call:
    label: str
    tool: str
    arguments: dict[str, Any]
    server: str = "here"
    """'here' (this machine: no GPU) or a recorded NVML machine replayed ('dgx-h100')."""
    expect_error: bool = False
    """A call the tool must refuse: its error is what the agent reads, and it is counted like an answer."""


@dataclass(frozen=True)
class Inputs:
    work: Path
    scale: Scale
    big_log: Path
    error_log: Path
    event_log: Path
    plan: Path
    pyspark: Path
    csv: Path
    prom: Path


def prepare(work: Path, scale: Scale) -> Inputs:
    """Write every generated input under ``work``."""
    work.mkdir(parents=True, exist_ok=True)
    inputs = Inputs(work=work, scale=scale, big_log=work / "executor.log", error_log=work / "errors.log",
                    event_log=work / "app-many-stages", plan=work / "plan-1000-operators.txt", pyspark=work / "job.py",
                    csv=work / "dcgm-long.csv", prom=work / "dcgm.prom")
    write_log(inputs.big_log, scale.log_mib << 20)
    write_log(inputs.error_log, scale.error_log_mib << 20, failure_every=40)
    many_stage_log(inputs.event_log, scale.stages, scale.tasks_per_stage)
    inputs.plan.write_text(generated_plan(scale.plan_joins), encoding="utf-8")
    from check_config import PYSPARK

    inputs.pyspark.write_text(PYSPARK, encoding="utf-8")
    generate(inputs.csv, gpus=scale.gpus, timestamps=scale.timestamps, start=_naive(START), interval_s=INTERVAL_S)
    shutil.copy(FIXTURES / "telemetry" / "dcgm_exporter.prom", inputs.prom)
    return inputs


@contextmanager
def history_server(work: Path) -> Iterator[str]:
    """A real Spark History Server over the history fixtures (copied under ``work``); yields its URL."""
    logs = work / "shs-logs"
    shutil.copytree(HISTORY, logs, dirs_exist_ok=True)
    with history_server_process(logs, expected_ids=set(APPS.values()), work_dir=work) as (url, _):
        yield url


def _naive(iso: str) -> Any:
    from datetime import datetime

    return datetime.fromisoformat(iso.removesuffix("Z"))


def fill_store(settings: Any, inputs: Inputs) -> int:
    """After the ingest call: more generated hours of the same GPUs, up to ``fill_rows`` stored samples."""
    if not inputs.scale.fill_rows:
        return 0
    from telemetry import fill_store as fill

    stored = inputs.scale.gpus * inputs.scale.timestamps * 10
    return int(fill(settings, inputs.scale.gpus, inputs.scale.timestamps, inputs.scale.fill_rows, stored)["stored_rows"])


def calls(inputs: Inputs) -> list[Call]:
    """The calls, in order: ingests first (the telemetry calls read what they stored)."""
    corpus = FIXTURES / "eventlogs" / "corpus"
    logs = FIXTURES / "diagnosis" / "labelled" / "handwritten"
    plans = FIXTURES / "plans"
    host0 = "node-0000"
    conf = (FIXTURES / "diagnosis" / "labelled" / "pyspark" / "healthy.driver.log")
    return [
        Call("ingest a DCGM long CSV", "ingest_telemetry", {"path": str(inputs.csv)}),
        Call("ingest Prometheus text", "ingest_telemetry", {"path": str(inputs.prom)}),
        Call("this machine (no GPU)", "detect_hardware", {}),
        Call("a recorded DGX H100", "detect_hardware", {}, server="dgx-h100"),
        Call("profile dgx-spark", "detect_hardware", {"profile": "dgx-spark"}),
        Call("all profiles", "list_hardware_profiles", {}),
        Call("free GPUs on a DGX H100", "check_gpu_availability", {}, server="dgx-h100"),
        Call("1.5 TB ETL on DGX Spark", "optimize_spark_config", {"data_size": "1.5TB", "hardware": "dgx-spark"}),
        Call("4 DGX H100 on Kubernetes, GPU", "optimize_spark_config",
             {"data_size": "20TB", "hardware": "dgx-h100", "nodes": 4, "deploy_mode": "kubernetes", "gpu": "on"}),
        Call("800 MB local, CPU", "optimize_spark_config", {"data_size": "800MB", "deploy_mode": "local", "gpu": "off"}),
        Call("2,000-line PySpark file", "check_spark_config", {"path": str(inputs.pyspark)}),
        Call("spark-submit with problems", "check_spark_config",
             {"config": "spark-submit --master yarn --executor-memory 64g --executor-cores 16 --conf "
                        "spark.sql.shuffle.partitions=10 --conf spark.serializer=org.apache.spark.serializer.JavaSerializer"
                        " --conf spark.sql.adaptive.enabled=false --conf spark.dynamicAllocation.enabled=true job.py",
              "hardware": "dgx-h100"}),
        Call("a driver log as config (no keys)", "check_spark_config", {"path": str(conf)}, expect_error=True),
        Call("estimate from words", "estimate_resources",
             {"description": "nightly join of 2 TB of clickstream with a 50 GB dimension table, then aggregate",
              "data_size": "2TB", "hardware": "dgx-h100", "nodes": 2}),
        Call("estimate an infeasible deadline", "estimate_resources",
             {"data_size": "50TB", "operations": ["scan", "join", "sort", "write"], "deadline": "10m",
              "hardware": "dgx-spark"}),
        Call("corpus GPU OOM event log (35 MB)", "analyze_event_log", {"path": str(corpus / "gpu_oom_eventlog.zstd")}),
        Call(f"{inputs.scale.stages * inputs.scale.tasks_per_stage:,}-task event log", "analyze_event_log",
             {"path": str(inputs.event_log)}),
        Call("rolling event log directory", "analyze_event_log", {"path": str(corpus / "eventlog_v2_local-1623876083964")}),
        Call(f"{inputs.scale.log_mib:,} MiB executor log", "diagnose_log", {"path": str(inputs.big_log)}),
        Call("error-heavy executor log", "diagnose_log", {"path": str(inputs.error_log)}),
        Call("many-stage event log", "diagnose_log", {"path": str(inputs.event_log)}),
        Call("Airflow task log", "diagnose_log", {"path": str(logs / "airflow" / "af27_spark_submit_table_not_found.log")}),
        Call("RAPIDS driver log", "diagnose_log", {"path": str(FIXTURES / "diagnosis" / "logs" /
                                                                "spark_rapids_tools_driverlog_spark330_rapids2310.log")}),
        Call("pasted stack trace", "diagnose_log",
             {"text": (logs / "spark" / "executor_oom_heap_spark24.executor.log").read_text(encoding="utf-8")}),
        Call(f"{2 * inputs.scale.plan_joins + 1:,}-operator plan", "analyze_query_plan", {"path": str(inputs.plan)}),
        Call("corpus formatted plan", "analyze_query_plan", {"path": str(plans / "formatted" / "spark355_python_udf__sql0.txt")}),
        Call("sparkPlanInfo JSON", "analyze_query_plan",
             {"path": str(plans / "json" / "spark355_python_udf__sql0.sparkPlanInfo.json")}),
        Call("sample (no GPU here)", "sample_gpus", {"duration_s": 1, "interval_s": 0.5}),
        Call("sample a recorded DGX H100", "sample_gpus", {"duration_s": 1, "interval_s": 0.5}, server="dgx-h100"),
        Call("every GPU", "list_gpus", {}),
        Call("one host's GPUs", "list_gpus", {"host": host0}),
        Call("every host", "list_gpus", {"by": "host"}),
        Call("one GPU, one hour, defaults", "query_telemetry", {"gpus": gpu_uuid(0), "start": START, "end": HOUR_END}),
        Call("one host, one hour, 1m buckets", "query_telemetry",
             {"gpus": host0, "start": START, "end": HOUR_END, "bucket": "1m"}),
        Call("fleet report, by GPU", "telemetry_report", {}),
        Call("fleet report, by host", "telemetry_report", {"group_by": "host"}),
        Call("a chart of one host", "query_telemetry", {"metrics": ["gpu_util", "power"], "gpus": host0,
                                                          "start": START, "end": HOUR_END, "chart": True}),
        Call("ask with a log and an event log", "ask",
             {"question": "Why did the job fail and what should I change?", "log_path": str(inputs.error_log),
              "event_log_path": str(corpus / "gpu_oom_eventlog.zstd")}),
        Call("engine status", "engine_status", {}),
        Call("applications on a History Server", "list_spark_apps", {}),
        Call("a failed app's event log through the History Server", "analyze_event_log",
             {"app": f"shs/{APPS['failing']}"}),
        Call("a failed app diagnosed by its id", "diagnose_log", {"app": APPS["failing"]}),
        Call("two runs of one job", "compare_spark_apps", {"a": APPS["fast"], "b": APPS["slow"]}),
        Call("an incomplete app on a History Server", "spark_app_status", {"app": f"shs/{APPS['running']}"}),
        Call("nothing running on this machine", "spark_app_status", {}),
        Call("no Airflow configured", "list_dag_runs", {}, expect_error=True),
        Call("a folder of Airflow task logs", "diagnose_dag_run", {"path": str(AIRFLOW_LOGS)}),
        Call("a spark-submit task's logs", "diagnose_dag_run", {"dag_id": "etl_spark", "path": str(AIRFLOW_LOGS)}),
    ]
