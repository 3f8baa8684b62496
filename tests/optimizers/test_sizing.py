"""The node memory model: executors always fit the node, never zero, never NaN."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dgx_spark_mcp.errors import BadInputError
from dgx_spark_mcp.hardware import get_profile, profile_snapshot
from dgx_spark_mcp.hardware.models import HardwareSnapshot
from dgx_spark_mcp.hardware.profiles import Sourced
from dgx_spark_mcp.optimizers.models import DeployMode, ExecutorPlan, Workload
from dgx_spark_mcp.optimizers.sizes import parse_size, spark_size
from dgx_spark_mcp.optimizers.sizing import GpuNode, concurrent_gpu_tasks, constants, size_cpu, size_gpu


def _machine(cores: float, memory_gib: float) -> HardwareSnapshot:
    snap = profile_snapshot(get_profile("generic-cpu-server"))
    snap.host.effective_cpu_cores = cores
    snap.host.effective_memory_gib = memory_gib
    return snap


def _fits(plan: ExecutorPlan) -> None:
    for value in plan.model_dump().values():
        assert isinstance(value, int) and not math.isnan(value) and value >= 0
    assert plan.executors_per_node >= 1 and plan.executors_total >= 1 and plan.executor_cores >= 1
    assert plan.heap_mib >= 256 and plan.task_slots_total >= 1
    assert plan.executor_cores <= plan.usable_cores <= plan.node_cores
    assert plan.executors_per_node * plan.executor_cores <= max(plan.usable_cores, 1)


def test_every_sizing_constant_carries_its_source() -> None:
    c = constants()
    sourced = [getattr(c, name) for name in type(c).model_fields if isinstance(getattr(c, name), Sourced)]
    assert len(sourced) >= 20 and all(s.source for s in sourced)


@settings(max_examples=300, deadline=None)
@given(
    cores=st.floats(min_value=0.5, max_value=256),
    memory_gib=st.floats(min_value=0.5, max_value=4096),
    nodes=st.integers(min_value=1, max_value=64),
    workload=st.sampled_from(list(Workload)),
    deploy=st.sampled_from(list(DeployMode)),
)
def test_cpu_executors_fit_any_node(cores: float, memory_gib: float, nodes: int, workload: Workload, deploy: DeployMode) -> None:
    plan = size_cpu(_machine(cores, memory_gib), nodes, workload, deploy)
    _fits(plan)
    if plan.usable_memory_mib >= 2048:  # below that the 256 MiB heap floor and 384 MiB overhead dominate
        assert plan.executors_per_node * plan.container_mib <= plan.usable_memory_mib


def test_two_core_machine_gets_a_real_configuration() -> None:
    plan = size_cpu(_machine(2, 8), 1, Workload.ETL, DeployMode.STANDALONE)
    assert (plan.executors_total, plan.executor_cores) == (1, 2)
    assert plan.heap_mib > 4096


def test_dgx_h100_cpu_executors_use_the_node_not_4g() -> None:
    plan = size_cpu(profile_snapshot(get_profile("dgx-h100")), 1, Workload.ETL, DeployMode.STANDALONE)
    assert plan.executor_cores == 5 and plan.executors_per_node == 44  # (224 threads - 1) // 5
    # The heap stops below Dr. Elephant's severe band; the rest of the node's share is off-heap memory.
    assert plan.heap_mib == int(constants().cpu_max_heap_gib.value * 1024)
    assert plan.offheap_mib > 16 * 1024
    assert plan.executors_per_node * plan.container_mib > 0.8 * plan.usable_memory_mib


@pytest.mark.parametrize(
    ("profile", "concurrency"), [("dgx-h100", 4), ("dgx-a100-40gb", 4), ("dgx-spark", 4)]
)
def test_gpu_executor_per_gpu_and_concurrency_from_memory(profile: str, concurrency: int) -> None:
    snap = profile_snapshot(get_profile(profile))
    spec = get_profile(profile).gpu
    assert spec is not None
    gpus = GpuNode(count=spec.count.value, memory_mib=int(spec.memory_per_gpu_gib.value * 1024),
                   unified=spec.memory_kind == "lpddr5x-unified", name=spec.model)
    plan, pinned, spill = size_gpu(snap, gpus, 1, Workload.ETL, DeployMode.STANDALONE)
    _fits(plan)
    assert plan.executors_per_node == gpus.count and plan.gpus_per_executor == 1
    assert plan.executors_per_node * plan.container_mib <= plan.usable_memory_mib
    assert 0 < pinned <= 8192 and spill <= pinned
    assert concurrent_gpu_tasks(gpus.memory_mib) == concurrency


def test_unified_memory_leaves_the_gpu_its_share() -> None:
    snap = profile_snapshot(get_profile("dgx-spark"))
    gpus = GpuNode(count=1, memory_mib=119 * 1024, unified=True, name="NVIDIA GB10")
    plan, _, _ = size_gpu(snap, gpus, 1, Workload.ETL, DeployMode.LOCAL)
    cpu = size_cpu(snap, 1, Workload.ETL, DeployMode.LOCAL)
    assert plan.usable_memory_mib < cpu.usable_memory_mib * 0.61


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1.5TB", 1_500_000_000_000), ("500GiB", 500 * 1024**3), ("800 MB", 800_000_000), (1024, 1024), ("42", 42)],
)
def test_parse_size(text: str | int, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize("bad", ["lots", "5 parsecs", "-3GB", True, -1])
def test_parse_size_rejects_with_an_example(bad: object) -> None:
    with pytest.raises(BadInputError, match="500GiB|bytes"):
        parse_size(bad)  # type: ignore[arg-type]


def test_spark_size_strings() -> None:
    assert (spark_size(4096), spark_size(1536), spark_size(0.2)) == ("4g", "1536m", "1m")
