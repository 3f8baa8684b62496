"""The node memory model and executor sizing, for CPU and for RAPIDS GPU executors.

One node: usable = RAM − OS/daemon reserve (− the GPU's share on unified memory);
container = heap + overhead (max(384 MiB, factor × heap)) + off-heap + PySpark memory;
executors_per_node × container ≤ usable.  Every figure is an integer ≥ 1, so no
NaN, Infinity or zero executors can come out of any machine, however small.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

from ..hardware.models import HardwareSnapshot
from ..knowledge import load_knowledge
from .models import DeployMode, ExecutorPlan, SizingConstants, Workload

__all__ = ["GpuNode", "constants", "size_cpu", "size_gpu"]


_MIN_HEAP_MIB = 1024  # below this an executor spends its time in GC


@cache
def constants() -> SizingConstants:
    return load_knowledge("spark-sizing.json", SizingConstants)


@dataclass(frozen=True)
class GpuNode:
    """The GPUs of one node, as the sizer needs them."""

    count: int
    memory_mib: int
    unified: bool
    name: str


def _node(snapshot: HardwareSnapshot) -> tuple[int, int]:
    cores = max(1, int(snapshot.host.effective_cpu_cores))
    memory_mib = max(256, int(snapshot.host.effective_memory_gib * 1024))
    return cores, memory_mib


def _reserve(cores: int, memory_mib: int, deploy: DeployMode) -> tuple[int, int]:
    c = constants()
    reserve_mib = max(c.os_reserve_min_gib.value * 1024, c.os_reserve_fraction.value * memory_mib)
    usable_mib = max(256, int(memory_mib - reserve_mib))
    reserve_cores = c.os_reserve_cores.value if cores > 4 and deploy is not DeployMode.LOCAL else 0
    return max(1, cores - reserve_cores), usable_mib


def _overhead(heap_mib: int, non_jvm: bool) -> int:
    c = constants()
    factor = c.overhead_factor_non_jvm.value if non_jvm else c.overhead_factor.value
    return max(c.overhead_min_mib.value, math.ceil(factor * heap_mib))


def _plan(
    node: tuple[int, int, int, int],
    nodes: int,
    per_node: int,
    executor_cores: int,
    heap_mib: int,
    overhead_mib: int,
    pyspark_mib: int,
    gpus: int,
    offheap_mib: int = 0,
) -> ExecutorPlan:
    cores, memory_mib, usable_cores, usable_mib = node
    return ExecutorPlan(
        node_cores=cores,
        node_memory_mib=memory_mib,
        usable_cores=usable_cores,
        usable_memory_mib=usable_mib,
        executors_per_node=per_node,
        executors_total=per_node * nodes,
        executor_cores=executor_cores,
        heap_mib=heap_mib,
        overhead_mib=overhead_mib,
        pyspark_mib=pyspark_mib,
        offheap_mib=offheap_mib,
        container_mib=heap_mib + overhead_mib + pyspark_mib + offheap_mib,
        gpus_per_executor=gpus,
        task_slots_total=per_node * nodes * executor_cores,
    )


def _uses_python(workload: Workload) -> bool:
    return workload in (Workload.ML_TRAINING, Workload.ML_INFERENCE)


def size_cpu(snapshot: HardwareSnapshot, nodes: int, workload: Workload, deploy: DeployMode) -> ExecutorPlan:
    """CPU executors: ~5 cores each (fewer on small nodes), memory split evenly, overhead inside."""
    c = constants()
    cores, memory_mib = _node(snapshot)
    usable_cores, usable_mib = _reserve(cores, memory_mib, deploy)
    if deploy is DeployMode.LOCAL:
        # One JVM holds driver and executors: the heap is the driver's, task slots are local[N].
        nodes, per_node, executor_cores = 1, 1, usable_cores
    else:
        wanted = c.cpu_executor_cores.value - (1 if workload is Workload.GRAPH else 0)
        executor_cores = max(1, min(wanted, usable_cores))
        per_node = max(1, usable_cores // executor_cores)
        # Little memory for many cores: fewer, wider executors, each with a usable heap.
        by_memory = max(1, usable_mib // (_MIN_HEAP_MIB + c.overhead_min_mib.value))
        if by_memory < per_node:
            per_node = by_memory
            executor_cores = max(1, usable_cores // per_node)
    container_mib = usable_mib // per_node
    non_jvm = _uses_python(workload) and deploy is DeployMode.KUBERNETES
    pyspark_mib = int(container_mib * c.pyspark_memory_fraction.value) if _uses_python(workload) else 0
    # Solve heap + overhead(heap) + pyspark = container for the heap, then apply the cap.
    factor = c.overhead_factor_non_jvm.value if non_jvm else c.overhead_factor.value
    heap_mib = int((container_mib - pyspark_mib) / (1 + factor))
    if heap_mib * factor < c.overhead_min_mib.value:
        heap_mib = container_mib - pyspark_mib - c.overhead_min_mib.value
    heap_mib = max(256, min(heap_mib, int(c.cpu_max_heap_gib.value * 1024)))
    overhead_mib = _overhead(heap_mib, non_jvm)
    # Memory the heap cap leaves over becomes off-heap execution/storage memory: no GC scans it.
    leftover = container_mib - heap_mib - overhead_mib - pyspark_mib
    offheap_mib = leftover if leftover >= c.offheap_min_mib.value and deploy is not DeployMode.LOCAL else 0
    node = (cores, memory_mib, usable_cores, usable_mib)
    return _plan(node, nodes, per_node, executor_cores, heap_mib, overhead_mib, pyspark_mib, gpus=0,
                 offheap_mib=offheap_mib)


def concurrent_gpu_tasks(gpu_memory_mib: int) -> int:
    c = constants()
    return max(1, min(c.gpu_max_concurrent_tasks.value, gpu_memory_mib // c.gpu_mem_per_task_mib.value))


def size_gpu(
    snapshot: HardwareSnapshot, gpus: GpuNode, nodes: int, workload: Workload, deploy: DeployMode
) -> tuple[ExecutorPlan, int, int]:
    """One executor per GPU; returns the plan, the pinned pool and the spill storage (MiB)."""
    c = constants()
    cores, memory_mib = _node(snapshot)
    usable_cores, usable_mib = _reserve(cores, memory_mib, deploy)
    if gpus.unified:
        # The GPU's RMM pool is carved from the same memory as the heaps.
        usable_mib = max(256, int(usable_mib * (1 - c.unified_gpu_share.value)))
    # One executor per GPU, but never more executors than cores or than memory can hold:
    # a GPU without a core or a usable heap to feed it would only fail.
    by_memory = max(1, usable_mib // (_MIN_HEAP_MIB + c.overhead_min_mib.value))
    per_node = min(gpus.count, usable_cores, by_memory) if deploy is not DeployMode.LOCAL else 1
    executor_cores = max(1, min(c.gpu_executor_max_cores.value, usable_cores // per_node))
    container_mib = usable_mib // per_node
    pyspark_mib = int(container_mib * c.pyspark_memory_fraction.value) if _uses_python(workload) else 0
    heap_mib = min(c.gpu_heap_per_core_mib.value * executor_cores, int(c.max_heap_gib.value * 1024))
    # AutoTuner's budget: what heap and PySpark leave goes to pinned memory and spill storage.
    left = container_mib - pyspark_mib - heap_mib
    if left < 0.1 * heap_mib + c.overhead_min_mib.value:
        heap_mib = max(256, int((container_mib - pyspark_mib) * 0.6))
        left = container_mib - pyspark_mib - heap_mib
    pinned = max(0, min(c.gpu_pinned_max_mib.value, int((left - 0.1 * heap_mib) / 2)))
    spill = max(0, min(c.gpu_spill_mib.value, pinned))
    overhead_mib = max(c.overhead_min_mib.value, math.ceil(0.1 * heap_mib) + pinned + spill)
    node = (cores, memory_mib, usable_cores, usable_mib)
    return _plan(node, nodes, per_node, executor_cores, heap_mib, overhead_mib, pyspark_mib, gpus=1), pinned, spill
