"""optimize_spark_config: complete, explained, consistent, and within the hardware on any input."""

from __future__ import annotations

import math
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from dgx_spark_mcp.errors import BadInputError
from dgx_spark_mcp.hardware import list_profiles
from dgx_spark_mcp.optimizers.checker import check_config
from dgx_spark_mcp.optimizers.config import TuneRequest, optimize
from dgx_spark_mcp.optimizers.config_sources import parse_conf_text, parse_submit
from dgx_spark_mcp.optimizers.models import ConfigEntry, DeployMode, OutputForm, SparkConfig, Workload
from dgx_spark_mcp.optimizers.output import render_output
from dgx_spark_mcp.optimizers.rapids import shuffle_manager_class, task_gpu_amount
from dgx_spark_mcp.optimizers.sizes import parse_spark_size

PROFILES = [p.name for p in list_profiles()]
GPU_PROFILES = [p.name for p in list_profiles() if p.gpu is not None]
RAPIDS_REQUIRED = {
    "spark.plugins", "spark.rapids.sql.enabled", "spark.executor.resource.gpu.amount",
    "spark.task.resource.gpu.amount", "spark.executor.resource.gpu.discoveryScript",
    "spark.rapids.sql.concurrentGpuTasks", "spark.rapids.memory.pinnedPool.size",
}

specs = st.builds(
    dict,
    cpu_cores=st.integers(1, 512),
    memory_gib=st.floats(1, 4096),
    gpu_count=st.integers(0, 8),
    gpu_memory_gib=st.one_of(st.none(), st.floats(4, 192)),
    unified_memory=st.booleans(),
)
hardware = st.one_of(st.sampled_from(PROFILES), specs)
sizes = st.integers(0, 5 * 1024**5)


def tune(**kwargs: Any) -> SparkConfig:
    kwargs.setdefault("spark_version", "3.5.1")
    return optimize(TuneRequest(**kwargs))


def _mib(value: str) -> float:
    return parse_spark_size(value) / 1024**2


def check_within_hardware(c: SparkConfig) -> None:
    p = c.plan
    for name, value in p.model_dump().items():
        assert isinstance(value, int) and value >= 0, name
    assert p.executors_per_node >= 1 and p.executor_cores >= 1 and p.task_slots_total >= 1
    assert p.executors_per_node * p.executor_cores <= p.node_cores
    assert p.container_mib == p.heap_mib + p.overhead_mib + p.pyspark_mib + p.offheap_mib
    if p.usable_memory_mib >= 2048:
        assert p.executors_per_node * p.container_mib <= p.usable_memory_mib <= p.node_memory_mib
    for key, value in c.conf.items():
        assert value and value.lower() not in ("nan", "inf", "infinity", "-inf") and "nan" not in value.split("."), key
    if c.deploy_mode is not DeployMode.LOCAL:
        assert _mib(c.conf["spark.executor.memory"]) == pytest.approx(p.heap_mib, abs=1)
        assert _mib(c.conf["spark.executor.memoryOverhead"]) >= 384
        assert int(c.conf["spark.executor.cores"]) == p.executor_cores
    if c.gpu_enabled:
        if c.deploy_mode is not DeployMode.LOCAL:
            assert float(c.conf["spark.task.resource.gpu.amount"]) * p.executor_cores <= 1.0
            assert math.floor(1 / float(c.conf["spark.task.resource.gpu.amount"])) == p.executor_cores
        pinned = _mib(c.conf.get("spark.rapids.memory.pinnedPool.size", "0m"))
        host_limit = _mib(c.conf.get("spark.rapids.memory.host.offHeapLimit.size", "0m"))
        assert pinned <= host_limit <= p.overhead_mib
        assert 1 <= int(c.conf["spark.rapids.sql.concurrentGpuTasks"]) <= 4


def form(c: SparkConfig, output: OutputForm) -> str:
    """The configuration in another form, rendered from its key map as the tool renders the one asked for."""
    entries = [ConfigEntry(key=k, value=value, reason=reason, ref=ref) for k, (value, reason, ref) in c.config.items()]
    return render_output(output, entries, c.deploy_mode, c.plan, c.gpu_enabled, c.spark_version)


def check_forms_agree(c: SparkConfig) -> None:
    """spark-defaults.conf, spark-submit and the manifest each carry exactly the key map."""
    assert all(reason and ref in c.references for _, reason, ref in c.config.values())
    assert c.rendered == form(c, c.output)
    as_conf = {k: e.value for k, e in parse_conf_text(form(c, "conf")).winners().items()}
    assert as_conf == c.conf
    submitted = {k: e.value for k, e in parse_submit(form(c, "submit")).winners().items()}
    if c.deploy_mode is not DeployMode.LOCAL:  # the cluster manager's URL, a placeholder to fill in
        assert submitted.pop("spark.master")
    if c.gpu_enabled:  # the plugin jar the user supplies, named in the command but not a tuned key
        assert submitted.pop("spark.jars") == "rapids-4-spark.jar"
    assert submitted == c.conf
    if c.deploy_mode is DeployMode.KUBERNETES:
        spec = yaml.safe_load(form(c, "k8s"))["spec"]
        typed = {
            "spark.driver.memory": spec["driver"].get("memory"),
            "spark.executor.cores": spec["executor"].get("cores"),
            "spark.executor.instances": spec["executor"].get("instances"),
            "spark.executor.memory": spec["executor"].get("memory"),
            "spark.executor.memoryOverhead": spec["executor"].get("memoryOverhead"),
        }
        merged = dict(spec["sparkConf"]) | {k: str(v) for k, v in typed.items() if v is not None}
        assert merged == c.conf
        assert ("gpu" in spec["executor"]) == c.gpu_enabled


@settings(max_examples=250, deadline=None)
@given(
    hw=hardware,
    data=sizes,
    workload=st.sampled_from(list(Workload)),
    deploy=st.sampled_from(list(DeployMode)),
    nodes=st.integers(1, 64),
)
def test_any_request_fits_its_hardware(hw: Any, data: int, workload: Workload, deploy: DeployMode, nodes: int) -> None:
    if deploy is DeployMode.LOCAL:
        nodes = 1
    c = tune(workload=workload, data_size=data, hardware=hw, nodes=nodes, deploy_mode=deploy)
    check_within_hardware(c)
    check_forms_agree(c)


@settings(max_examples=80, deadline=None)
@given(
    hw=hardware,
    a=sizes,
    b=sizes,
    workload=st.sampled_from(list(Workload)),
    nodes=st.integers(1, 16),
)
def test_shuffle_partitions_never_decrease_as_data_grows(hw: Any, a: int, b: int, workload: Workload, nodes: int) -> None:
    small, large = sorted((a, b))
    p_small = int(tune(workload=workload, data_size=small, hardware=hw, nodes=nodes).conf["spark.sql.shuffle.partitions"])
    p_large = int(tune(workload=workload, data_size=large, hardware=hw, nodes=nodes).conf["spark.sql.shuffle.partitions"])
    assert 1 <= p_small <= p_large


def test_a_two_core_machine_gets_a_working_configuration() -> None:
    spec = {"cpu_cores": 2, "memory_gib": 4}
    for deploy in DeployMode:
        c = tune(data_size="10GB", hardware=spec, deploy_mode=deploy)
        check_within_hardware(c)
        assert "Infinity" not in c.model_dump_json() and "NaN" not in c.model_dump_json()


@pytest.mark.parametrize("profile", GPU_PROFILES)
@pytest.mark.parametrize("deploy", [DeployMode.STANDALONE, DeployMode.YARN, DeployMode.KUBERNETES])
def test_gpu_profiles_get_a_complete_rapids_block(profile: str, deploy: DeployMode) -> None:
    c = tune(data_size="2TB", hardware=profile, deploy_mode=deploy, nodes=2)
    assert c.gpu_enabled
    assert RAPIDS_REQUIRED <= set(c.conf), RAPIDS_REQUIRED - set(c.conf)
    assert c.conf["spark.plugins"] == "com.nvidia.spark.SQLPlugin" and c.conf["spark.rapids.sql.enabled"] == "true"
    assert c.conf["spark.executor.resource.gpu.amount"] == "1"
    assert c.conf["spark.shuffle.manager"] == "com.nvidia.spark.rapids.spark351.RapidsShuffleManager"
    assert ("spark.executor.resource.gpu.vendor" in c.conf) == (deploy is DeployMode.KUBERNETES)
    assert c.conf["spark.locality.wait"] == "0s"
    assert any("rapids-4-spark" in n for n in c.notes), "the plugin jar note is missing"
    check_within_hardware(c)


def test_h100_sizing_follows_the_rapids_rules() -> None:
    c = tune(data_size="1TB", hardware="dgx-h100", deploy_mode=DeployMode.YARN)
    assert c.plan.executors_per_node == 8  # one executor per GPU
    assert c.conf["spark.rapids.sql.concurrentGpuTasks"] == "4"  # 80 GiB // 7500 MiB, capped at 4
    assert c.conf["spark.task.resource.gpu.amount"] == task_gpu_amount(c.plan.executor_cores)


def test_unified_memory_caps_the_gpu_pool() -> None:
    c = tune(data_size="100GB", hardware="dgx-spark")
    fraction = float(c.conf["spark.rapids.memory.gpu.allocFraction"])
    assert 0 < fraction < 0.5
    assert float(c.conf["spark.rapids.memory.gpu.minAllocFraction"]) <= fraction
    # Heaps plus the GPU's share stay inside the one pool of memory.
    gpu_share_mib = fraction * c.plan.node_memory_mib
    assert c.plan.container_mib + gpu_share_mib <= c.plan.node_memory_mib


def test_unknown_gpu_model_is_reported_not_guessed() -> None:
    spec = {"cpu_cores": 32, "memory_gib": 256, "gpu_count": 2, "gpu_model": "Mystery Accelerator 9000"}
    c = tune(data_size="1TB", hardware=spec, gpu="on")
    assert c.conf["spark.rapids.sql.concurrentGpuTasks"] == "1"
    assert any("Mystery Accelerator 9000" in w for w in c.warnings)
    known = tune(data_size="1TB", hardware=spec | {"gpu_model": "NVIDIA H100 80GB HBM3"}, gpu="on")
    assert known.conf["spark.rapids.sql.concurrentGpuTasks"] == "4" and not known.warnings


def test_spark_version_without_a_known_shim_warns_instead_of_inventing_a_class() -> None:
    c = tune(data_size="1TB", hardware="dgx-h100", spark_version="4.3.0")
    assert "spark.shuffle.manager" not in c.conf
    assert any(shuffle_manager_class((4, 3, 0)) in w for w in c.warnings)


@pytest.mark.parametrize(
    ("deploy", "nodes", "expect"),
    [
        (DeployMode.KUBERNETES, 3, "spark.dynamicAllocation.shuffleTracking.enabled"),
        (DeployMode.YARN, 3, "spark.shuffle.service.enabled"),
        (DeployMode.STANDALONE, 3, "spark.shuffle.service.enabled"),
    ],
)
def test_dynamic_allocation_brings_what_its_deploy_mode_needs(deploy: DeployMode, nodes: int, expect: str) -> None:
    c = tune(data_size="500GB", hardware="generic-cpu-server", deploy_mode=deploy, nodes=nodes)
    assert c.conf["spark.dynamicAllocation.enabled"] == "true" and c.conf[expect] == "true"
    assert "spark.executor.instances" not in c.conf and "spark.cores.max" not in c.conf
    assert int(c.conf["spark.dynamicAllocation.maxExecutors"]) == c.plan.executors_total


def test_streaming_keeps_fixed_executors_and_rocksdb_state() -> None:
    c = tune(data_size="50GB", hardware="generic-cpu-server", workload="streaming", deploy_mode="yarn", nodes=2)
    assert "spark.dynamicAllocation.enabled" not in c.conf
    assert int(c.conf["spark.executor.instances"]) == c.plan.executors_total
    assert c.conf["spark.sql.streaming.stateStore.providerClass"].endswith("RocksDBStateStoreProvider")


def test_local_mode_sets_the_master_and_driver_only() -> None:
    c = tune(data_size="5GB", hardware={"cpu_cores": 8, "memory_gib": 32}, deploy_mode="local")
    assert c.conf["spark.master"] == "local[8]"
    assert not any(k.startswith("spark.executor.") for k in c.conf)


def test_current_config_is_the_starting_point() -> None:
    current = {"spark.executor.memory": "4g", "spark.executor.instances": "30", "spark.app.name": "nightly"}
    c = tune(data_size="500GB", hardware="generic-cpu-server", deploy_mode="yarn", nodes=3, current_config=current)
    changes = {ch.key: ch for ch in c.changes}
    assert changes["spark.executor.memory"].current_value == "4g"
    assert changes["spark.executor.memory"].recommended_value == c.conf["spark.executor.memory"]
    assert changes["spark.executor.instances"].recommended_value is None  # dynamic allocation replaces it
    assert c.conf["spark.app.name"] == "nightly" and "spark.executor.instances" not in c.conf


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"hardware": "generic-cpu-server", "gpu": "on"}, "no usable NVIDIA GPU"),
        ({"deploy_mode": "local", "nodes": 3}, "local mode runs on one machine"),
        ({"spark_version": "2.4.8"}, "before Spark 3.0"),
        ({"spark_version": "latest"}, "is not a version"),
        ({"hardware": "dgx-h9000"}, "unknown hardware profile 'dgx-h9000'"),
        ({"data_size": "lots"}, "data size 'lots' is not understood"),
    ],
)
def test_bad_requests_say_what_to_do(kwargs: dict[str, Any], message: str) -> None:
    kwargs = {"data_size": "1TB", "hardware": "generic-cpu-server"} | kwargs
    with pytest.raises(BadInputError, match=message):
        tune(**kwargs)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"data_size": "3TB", "hardware": "generic-cpu-server", "deploy_mode": "yarn", "nodes": 8},
        {"data_size": "3TB", "hardware": "dgx-h100", "deploy_mode": "yarn", "nodes": 8},
        {"data_size": "1.5TB", "hardware": "dgx-h100", "deploy_mode": "kubernetes", "nodes": 4, "workload": "ml-training"},
        {"data_size": "200GB", "hardware": "generic-cpu-server", "deploy_mode": "kubernetes", "workload": "streaming"},
        {"data_size": "100GB", "hardware": "dgx-spark", "deploy_mode": "local"},
        {"data_size": "800GB", "hardware": "dgx-b200", "deploy_mode": "standalone", "nodes": 2},
    ],
)
def test_the_checker_finds_nothing_to_fix_in_what_the_optimizer_emits(kwargs: dict[str, Any]) -> None:
    c = tune(**kwargs)
    result = check_config(c.conf, hardware=kwargs["hardware"], deploy_mode=kwargs["deploy_mode"])
    serious = [(f.rule_id, f.message) for f in result.findings if f.severity not in ("info",)]
    if kwargs["deploy_mode"] == "standalone":
        # Standalone needs a shared secret the optimizer cannot make; it says so instead.
        serious = [s for s in serious if s[0] not in ("authentication-disabled", "encryption-disabled")]
        assert any("spark.authenticate.secret" in n for n in c.notes)
    assert serious == []
