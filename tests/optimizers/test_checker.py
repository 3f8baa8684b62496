"""check_config: what a careful engineer writes passes; findings carry values, locations and fixes."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings as hypothesis_settings
from hypothesis import strategies as st

from dgx_spark_mcp.optimizers.checker import check_config
from dgx_spark_mcp.optimizers.config_sources import ConfigFormat
from dgx_spark_mcp.optimizers.models import DeployMode
from dgx_spark_mcp.optimizers.rules import SEVERITY_RANK

KRYO = "org.apache.spark.serializer.KryoSerializer"
SECURE = {"spark.authenticate": "true", "spark.network.crypto.enabled": "true", "spark.io.encryption.enabled": "true",
          "spark.acls.enable": "true"}

CAREFUL_CPU_ON_YARN = """\
spark.master                        yarn
spark.submit.deployMode             cluster
spark.executor.instances            10
spark.executor.cores                4
spark.executor.memory               14g
spark.executor.memoryOverhead       2g
spark.driver.memory                 4g
spark.driver.maxResultSize          1g
spark.sql.shuffle.partitions        200
spark.serializer                    org.apache.spark.serializer.KryoSerializer
spark.sql.adaptive.enabled          true
spark.sql.adaptive.coalescePartitions.parallelismFirst false
spark.authenticate                  true
spark.network.crypto.enabled        true
spark.io.encryption.enabled         true
spark.acls.enable                   true
spark.eventLog.enabled              true
"""

CAREFUL_RAPIDS_ON_K8S = {
    "spark.master": "k8s://https://k8s.example:6443",
    "spark.plugins": "com.nvidia.spark.SQLPlugin",
    "spark.executor.instances": 8,
    "spark.executor.cores": 16,
    "spark.executor.memory": "32g",
    "spark.executor.memoryOverhead": "16g",
    "spark.executor.resource.gpu.amount": 1,
    "spark.executor.resource.gpu.discoveryScript": "/opt/spark/examples/src/main/scripts/getGpusResources.sh",
    "spark.executor.resource.gpu.vendor": "nvidia.com",
    "spark.task.resource.gpu.amount": 0.0625,
    "spark.rapids.sql.concurrentGpuTasks": 4,
    "spark.rapids.memory.pinnedPool.size": "8g",
    "spark.sql.shuffle.partitions": 64,
    "spark.sql.adaptive.enabled": True,
    "spark.serializer": KRYO,
    "spark.driver.memory": "8g",
    **SECURE,
}


def _loud(result: Any) -> list[str]:
    return [f"{f.rule_id}: {f.message}" for f in result.findings if SEVERITY_RANK[f.severity] >= 1]


def test_a_careful_cpu_config_on_yarn_draws_no_warning() -> None:
    result = check_config(CAREFUL_CPU_ON_YARN)
    assert result.format is ConfigFormat.CONF and result.deploy_mode == "yarn"
    assert _loud(result) == []
    assert result.counts.warning == result.counts.error == result.counts.critical == 0


def test_a_careful_rapids_config_on_a_dgx_h100_draws_no_warning() -> None:
    result = check_config(CAREFUL_RAPIDS_ON_K8S, hardware="dgx-h100", language="scala")
    assert result.hardware == "profile dgx-h100" and result.deploy_mode == "kubernetes"
    assert _loud(result) == []
    assert result.skipped == []


def test_a_careless_config_is_reported_worst_first_with_values_and_lines() -> None:
    text = CAREFUL_CPU_ON_YARN.replace("14g", "30g").replace("spark.authenticate                  true",
                                                           "spark.authenticate false") + "spark.executor.memroy 8g\n"
    result = check_config(text)
    ranks = [SEVERITY_RANK[f.severity] for f in result.findings]
    assert ranks == sorted(ranks, reverse=True)
    by_rule = {f.rule_id: f for f in result.findings}
    band = by_rule["executor-memory-band"]
    assert "30g" in band.message and "25g critical band" in band.message
    assert band.keys[0].line == 5 and band.keys[0].origin == "spark-defaults.conf"
    assert band.fix[0].key == "spark.executor.memory" and band.fix[0].current_value == "30g"
    typo = by_rule["unknown-key"]
    assert typo.suggestions[0] == "spark.executor.memory" and typo.keys[0].line == 18
    assert result.counts.warning == sum(f.severity == "warning" for f in result.findings)


def test_secrets_never_leave_in_the_result() -> None:
    result = check_config({"spark.authenticate.secret": "hunter2", "spark.hadoop.fs.s3a.secret.key": "AKIAXXXX"})
    dumped = result.model_dump_json()
    assert "hunter2" not in dumped and "AKIAXXXX" not in dumped
    assert {f.rule_id for f in result.findings} >= {"secret-in-config"}
    conf = check_config("spark.authenticate.secret  s3cr3t-value\nspark.authenticate.secret  other\n")
    dumped = conf.model_dump_json()
    assert "s3cr3t-value" not in dumped and "other" not in dumped
    assert conf.parsed[0].text == "spark.authenticate.secret  *********(redacted)"


def test_hardware_rules_are_skipped_only_when_they_apply() -> None:
    bare = check_config({"spark.sql.shuffle.partitions": 200, "spark.sql.adaptive.enabled": True})
    assert [s.rule_id for s in bare.skipped] == ["partitions-vs-cores"] and bare.findings == []
    sized = check_config({"spark.executor.memory": "200g", "spark.master": "spark://h:7077"})
    assert "executor-fits-node" in {s.rule_id for s in sized.skipped}
    on_spark = check_config({"spark.executor.memory": "200g", "spark.master": "spark://h:7077"}, hardware="dgx-spark")
    assert "executor-fits-node" in {f.rule_id for f in on_spark.findings}


def test_a_hardware_spec_is_accepted_like_a_profile() -> None:
    spec = {"cpu_cores": 8, "memory_gib": 32, "gpu_count": 1, "gpu_memory_gib": 16}
    result = check_config({"spark.plugins": "com.nvidia.spark.SQLPlugin", "spark.rapids.sql.concurrentGpuTasks": 3,
                           "spark.sql.shuffle.partitions": 4}, hardware=spec, deploy_mode=DeployMode.LOCAL)
    assert result.hardware and result.hardware.startswith("spec (8 cores")
    memory = next(f for f in result.findings if f.rule_id == "rapids-concurrency-gpu-memory")
    assert "16,384 MiB" in memory.message and memory.fix[0].recommended_value == "2"


def test_a_pyspark_source_enables_the_python_rules_and_keeps_locations() -> None:
    source = (
        "from pyspark.sql import SparkSession\n"
        "spark = (SparkSession.builder\n"
        "    .master('yarn')\n"
        "    .config('spark.executor.memory', '16g')\n"
        "    .getOrCreate())\n"
    )
    result = check_config(source, filename="etl.py")
    assert result.language == "python"
    overhead = next(f for f in result.findings if f.rule_id == "pyspark-overhead-too-small")
    assert overhead.keys[0].line == 4 and overhead.keys[0].origin == ".config()"


def test_a_source_without_spark_config_gives_no_findings_and_a_note() -> None:
    result = check_config("def add(a, b):\n    return a + b\n", filename="util.py")
    assert result.findings == [] and result.parsed == []
    assert any("no Spark configuration found" in note for note in result.notes)


def test_non_literal_values_are_not_guessed() -> None:
    result = check_config("import os\nspark.conf.set('spark.executor.memory', os.environ['MEM'])\n", filename="a.py")
    assert result.parsed[0].value is None
    assert not [f for f in result.findings if f.rule_id in ("executor-memory-band", "invalid-value")]
    assert any("not known here" in note for note in result.notes)


KEYS = ["spark.executor.memory", "spark.executor.cores", "spark.executor.instances", "spark.driver.memory",
        "spark.executor.memoryOverhead", "spark.sql.shuffle.partitions", "spark.sql.autoBroadcastJoinThreshold",
        "spark.driver.maxResultSize", "spark.dynamicAllocation.enabled", "spark.plugins", "spark.master",
        "spark.rapids.sql.concurrentGpuTasks", "spark.rapids.memory.pinnedPool.size", "spark.task.resource.gpu.amount",
        "spark.executor.pyspark.memory", "spark.sql.adaptive.enabled", "spark.memory.offHeap.enabled"]
VALUES = st.one_of(
    st.sampled_from(["0", "-1", "1", "4g", "512m", "1.5g", "true", "false", "yes", "yarn", "local[*]", "k8s://x",
                     "com.nvidia.spark.SQLPlugin", "99999999999999999999t", "nan", "inf", ""]),
    st.integers(min_value=-5, max_value=10**12), st.booleans(),
    st.text(max_size=8),
)


@hypothesis_settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=10),
       st.sampled_from([None, "dgx-spark", "dgx-h100"]), st.sampled_from([None, "python"]))
def test_any_config_gives_a_json_answer_without_nan(
    conf: dict[str, Any], hardware: str | None, language: str | None
) -> None:
    result = check_config(conf, hardware=hardware, language=language)
    json.dumps(result.model_dump(mode="json"), allow_nan=False)
    assert sum(result.counts.model_dump().values()) == len(result.findings)


def test_a_real_rapids_benchmark_config_is_read_as_rapids() -> None:
    """The NDS power run of NVIDIA/spark-rapids-tools' gpu_oom_eventlog (standalone, 16 cores, 8g pinned)."""
    from .test_keys import CORPUS, _spark_properties

    log = CORPUS / "gpu_oom_eventlog.zstd"
    result = check_config(_spark_properties(log), hardware="dgx-a100-40gb", language="python")
    rules = {f.rule_id for f in result.findings}
    assert result.deploy_mode == "standalone" and "unknown-key" not in rules
    assert "deprecated-key" in rules  # spark.rapids.memory.host.spillStorageSize, as the RAPIDS pages say
    assert not rules & {"rapids-plugin-without-gpu-resources", "rapids-task-gpu-amount", "rapids-overhead-too-small",
                        "rapids-concurrency-gpu-memory", "executor-cores-band", "executor-memory-band"}
