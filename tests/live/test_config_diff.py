"""The configuration differences of two real runs of one job: what changes performance first, ids, ports, hosts, times
and temporary paths never."""

from __future__ import annotations

from dgx_spark_mcp.live.config_diff import config_differences, spark_properties

from .shs import EVENTLOGS, app_start

HISTORY = EVENTLOGS / "history"


def test_two_runs_of_one_job_differ_in_the_settings_they_were_given_and_nothing_else() -> None:
    runs = sorted((app_start(p)[1], p) for p in HISTORY.glob("local-*") if app_start(p)[0] == "nightly-sales")
    fast, slow = (spark_properties((path,)) for _, path in runs)
    assert fast["spark.app.id"] != slow["spark.app.id"] and fast["spark.driver.port"] != slow["spark.driver.port"]
    assert [(d.key, d.a, d.b) for d in config_differences(fast, slow)] == [
        ("spark.executor.memory", "2g", "1g"),
        ("spark.sql.shuffle.partitions", "8", "400"),
        ("spark.sql.adaptive.enabled", "true", "false"),
        ("spark.serializer", "org.apache.spark.serializer.KryoSerializer", None),
        ("spark.sql.autoBroadcastJoinThreshold", None, "-1"),
    ]


def test_performance_keys_rank_before_the_rest_and_noise_is_dropped() -> None:
    a = {"spark.app.id": "app-1", "spark.ui.port": "4040", "spark.local.dir": "/tmp/spark-1a2b/x",
         "spark.rapids.sql.enabled": "true", "spark.sql.files.maxPartitionBytes": "128m", "custom.flag": "on",
         "spark.executor.cores": "4", "spark.kubernetes.driver.pod.name": "job-123-driver"}
    b = {"spark.app.id": "app-2", "spark.ui.port": "4041", "spark.local.dir": "/tmp/spark-9f8e/x",
         "spark.rapids.sql.enabled": "false", "spark.sql.files.maxPartitionBytes": "256m", "custom.flag": "off",
         "spark.executor.cores": "8", "spark.kubernetes.driver.pod.name": "job-456-driver"}
    assert [d.key for d in config_differences(a, b)] == [
        "spark.executor.cores", "spark.rapids.sql.enabled", "spark.sql.files.maxPartitionBytes", "custom.flag"]
    failing = next(p for p in HISTORY.glob("local-*") if app_start(p)[0] == "failing-etl")
    assert spark_properties((failing,))["spark.app.name"] == "failing-etl"
