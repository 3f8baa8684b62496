"""``optimize_spark_config``: a complete, explained Spark configuration for one job on one cluster.

The sizing (how executors fill a node) comes from :mod:`.sizing`; this module turns the
plan into keys, each with its value, a one-line reason and the document behind it, and
adds what the plan does not decide: partitions, AQE, serialization, dynamic allocation,
speculation, locality, streaming state and, on GPUs, the RAPIDS Accelerator block.
"""

from __future__ import annotations

import importlib.metadata
import math
import re
from typing import Any

from pydantic import BaseModel, Field

from ..errors import BadInputError
from . import rapids
from .builder import ConfigBuilder
from .gpu_choice import gpu_wanted
from .models import (ConfigChange, ConfigEntry, ConfiguredKey, DeployMode, ExecutorPlan, GpuChoice, OutputForm,
                     SparkConfig, Workload)
from .output import render_output
from .sizes import parse_size, spark_size
from .sizing import constants, size_cpu, size_gpu
from .target import HardwareSpec, Target, resolve_target

__all__ = ["TuneRequest", "installed_spark_version", "optimize"]

_MIB = 1024**2
_DEFAULT_SPARK_VERSION = "3.5.1"
_VERSION = re.compile(r"^(\d+)\.(\d+)(?:\.(\d+))?")


class TuneRequest(BaseModel):
    """What ``optimize_spark_config`` is asked: the job, the data and the cluster."""

    workload: Workload = Workload.ETL
    data_size: str | int = Field(description="Input size: bytes, or a string such as '800MB', '500GiB', '1.5TB'.")
    hardware: str | HardwareSpec | None = Field(
        default=None, description="None: this machine; a profile name; or an explicit per-node spec."
    )
    nodes: int = Field(default=1, ge=1, le=10000)
    deploy_mode: DeployMode = DeployMode.STANDALONE
    gpu: GpuChoice = GpuChoice.AUTO
    spark_version: str | None = Field(default=None, description="Default: the installed PySpark's version.")
    current_config: dict[str, str] | None = Field(
        default=None, description="An existing configuration to start from: its other keys are kept."
    )


def installed_spark_version() -> str | None:
    """The installed PySpark's version, read from package metadata (no JVM, no import of pyspark)."""
    try:
        return importlib.metadata.version("pyspark")
    except importlib.metadata.PackageNotFoundError:
        return None


def _version(text: str | None, notes: list[str]) -> tuple[str, tuple[int, int, int]]:
    if text is None:
        text = installed_spark_version()
        if text is None:
            text = _DEFAULT_SPARK_VERSION
            notes.append(f"PySpark is not installed here, so the configuration targets Spark {text}; pass spark_version")
    match = _VERSION.match(text.strip())
    if match is None:
        raise BadInputError(f"spark_version {text!r} is not a version; expected e.g. '3.5.1' or '4.0'")
    version = (int(match[1]), int(match[2]), int(match[3] or 0))
    if version < (3, 0, 0):
        raise BadInputError(
            f"spark_version {text!r} is before Spark 3.0, which has no adaptive execution or GPU scheduling; "
            "this optimizer produces configurations for Spark 3.0 and later"
        )
    return text.strip(), version


def _partitions(data_bytes: int, plan: ExecutorPlan, gpu: bool, concurrency: int) -> tuple[int, int, int]:
    """(shuffle partitions, maxPartitionBytes MiB, default parallelism), all ≥ 1.

    Shuffle partitions are max(a floor from the slots, data ÷ target size), so they never
    decrease as the data grows; AQE coalesces the surplus on small inputs.
    """
    c = constants()
    target_mib = c.target_partition_mib_gpu.value if gpu else c.target_partition_mib_cpu.value
    if gpu:
        floor = plan.executors_total * concurrency * c.tasks_per_core.value
    else:
        floor = plan.task_slots_total * c.tasks_per_core.value
    by_size = math.ceil(data_bytes / (target_mib * _MIB))
    shuffle = max(1, min(c.max_shuffle_partitions.value, max(floor, by_size)))
    # Small inputs: smaller splits so every task slot gets work, but never below the open cost.
    per_slot_mib = data_bytes / _MIB / max(1, plan.task_slots_total)
    split_mib = int(max(c.min_partition_mib.value, min(target_mib, per_slot_mib)))
    return shuffle, split_mib, max(1, plan.task_slots_total * c.tasks_per_core.value)


def _executors(b: ConfigBuilder, request: TuneRequest, plan: ExecutorPlan, gpu: bool, notes: list[str]) -> None:
    c = constants()
    if request.deploy_mode is DeployMode.LOCAL:
        b.set("spark.master", f"local[{plan.executor_cores}]",
              f"local mode: one JVM runs every task; {plan.executor_cores} task slots = usable cores", "spark-config")
        b.set("spark.driver.memory", spark_size(plan.heap_mib),
              f"local mode: the driver JVM is the executor; {spark_size(plan.heap_mib)} of the node's usable "
              f"{plan.usable_memory_mib // 1024} GiB, the rest left for off-heap, overhead and the OS", "spark-config")
        notes.append("local mode: spark.driver.memory must be set before the JVM starts (spark-submit or "
                     "spark-defaults.conf), not on an already running SparkSession")
        return
    if request.deploy_mode is DeployMode.KUBERNETES:
        b.set("spark.submit.deployMode", "cluster",
              "on Kubernetes the driver runs in its own pod next to the executors, as spark-operator does",
              "spark-k8s")
    b.set("spark.executor.cores", plan.executor_cores,
          (f"one executor per GPU with {plan.executor_cores} cores (RAPIDS: about 2x concurrentGpuTasks or more)"
           if gpu else f"{plan.executors_per_node} executors x {plan.executor_cores} cores fill the node's "
           f"{plan.usable_cores} usable cores (about 5 per executor keeps I/O clients efficient)"),
          "rapids-tuning" if gpu else "cloudera-sizing")
    b.set("spark.executor.memory", spark_size(plan.heap_mib),
          f"{plan.executors_per_node} containers of {plan.container_mib} MiB (heap + overhead"
          f"{' + PySpark' if plan.pyspark_mib else ''}) fit the node's {plan.usable_memory_mib} MiB usable memory",
          "spark-config")
    b.set("spark.executor.memoryOverhead", spark_size(plan.overhead_mib),
          ("max(384m, 10% of heap) plus the pinned pool and spill storage RAPIDS allocates outside the heap"
           if gpu else "max(384m, factor x heap): native memory, thread stacks and netty buffers outside the heap"),
          "rapids-autotuner" if gpu else "spark-config")
    if plan.offheap_mib:
        b.set("spark.memory.offHeap.enabled", True,
              "the node has more memory than a GC-friendly heap uses: the rest serves execution and caching off-heap",
              "spark-config")
        b.set("spark.memory.offHeap.size", spark_size(plan.offheap_mib),
              f"what remains of the {plan.container_mib} MiB container after heap and overhead; Spark adds it to "
              "the container request", "spark-config")
    if plan.pyspark_mib:
        b.set("spark.executor.pyspark.memory", spark_size(plan.pyspark_mib),
              "Python workers of ML jobs get their own budget inside the container instead of growing unbounded",
              "spark-config")
    driver_gib = (c.driver_memory_gib_large.value
                  if request.workload in (Workload.ML_TRAINING, Workload.ML_INFERENCE)
                  or parse_size(request.data_size) >= 1024**4 else c.driver_memory_gib.value)
    driver_mib = int(min(driver_gib * 1024, max(1024, plan.usable_memory_mib // 2)))
    b.set("spark.driver.memory", spark_size(driver_mib),
          "plans, broadcast build sides and collected results live in the driver; the 1g default is too small",
          "spark-config")
    b.set("spark.driver.maxResultSize", spark_size(int(driver_mib * c.max_result_fraction.value)),
          "half the driver heap: a larger collect() fails cleanly instead of killing the driver", "spark-config")


def _dynamic_allocation(b: ConfigBuilder, request: TuneRequest, plan: ExecutorPlan) -> None:
    deploy = request.deploy_mode
    wants = (deploy in (DeployMode.YARN, DeployMode.KUBERNETES)
             or (deploy is DeployMode.STANDALONE and request.nodes > 1))
    if deploy is DeployMode.LOCAL:
        return
    if not wants or request.workload in (Workload.STREAMING, Workload.ML_TRAINING):
        if deploy is DeployMode.STANDALONE:
            b.set("spark.cores.max", plan.task_slots_total,
                  f"standalone hands an application executors until it holds this many cores: "
                  f"{plan.executors_total} executors x {plan.executor_cores}", "spark-config")
        else:
            b.set("spark.executor.instances", plan.executors_total,
                  f"fixed {plan.executors_total} executors ({plan.executors_per_node} per node x {request.nodes})"
                  + (": streaming and ML training keep long-lived executors" if wants else ""), "spark-config")
        return
    b.set("spark.dynamicAllocation.enabled", True,
          "batch stages vary in width; idle executors are released and come back for wide stages", "spark-dynalloc")
    b.set("spark.dynamicAllocation.minExecutors", 1,
          "one executor stays for the next stage; more would hold resources while the application idles",
          "spark-dynalloc")
    b.set("spark.dynamicAllocation.maxExecutors", plan.executors_total,
          f"the cluster holds {plan.executors_total} executors of this size; asking for more only queues",
          "spark-dynalloc")
    if deploy is DeployMode.KUBERNETES:
        b.set("spark.dynamicAllocation.shuffleTracking.enabled", True,
              "Kubernetes has no external shuffle service: executors holding shuffle data are kept until "
              "it is no longer needed", "spark-dynalloc")
    else:
        b.set("spark.shuffle.service.enabled", True,
              f"{deploy} keeps shuffle files in the external shuffle service, so removed executors lose nothing "
              "(the service must run on every worker/NodeManager)", "spark-dynalloc")


def _security(b: ConfigBuilder, request: TuneRequest, notes: list[str]) -> None:
    """Authentication and RPC encryption where Spark can create the shared secret itself."""
    if request.deploy_mode is DeployMode.LOCAL:
        return  # one JVM: no executor or shuffle traffic crosses the network
    if request.deploy_mode in (DeployMode.YARN, DeployMode.KUBERNETES):
        b.set("spark.authenticate", True,
              f"{request.deploy_mode} generates the shared secret per application: only this job's processes can "
              "talk to its driver and executors", "spark-security")
        b.set("spark.network.crypto.enabled", True,
              "RPC and shuffle traffic is encrypted (AES) between authenticated processes", "spark-security")
    else:
        notes.append(
            "standalone: turn on spark.authenticate and spark.network.crypto.enabled once a shared secret "
            "(spark.authenticate.secret) is in every worker's and the application's configuration; without one "
            "the application cannot start, so it is not set here"
        )


def _sql(b: ConfigBuilder, request: TuneRequest, plan: ExecutorPlan, gpu: bool, concurrency: int,
         version: tuple[int, int, int]) -> None:
    c = constants()
    data_bytes = parse_size(request.data_size)
    shuffle, split_mib, parallelism = _partitions(data_bytes, plan, gpu, concurrency)
    target_mib = c.target_partition_mib_gpu.value if gpu else c.target_partition_mib_cpu.value
    b.set("spark.sql.shuffle.partitions", shuffle,
          f"max({'GPUs x concurrency' if gpu else 'task slots'} x {c.tasks_per_core.value}, input / {target_mib} MiB)"
          f" for {data_bytes / 1024**3:.3g} GiB; AQE coalesces what turns out too small", "spark-sql-perf")
    b.set("spark.default.parallelism", parallelism,
          f"{c.tasks_per_core.value} tasks per core over {plan.task_slots_total} slots for RDD operations",
          "spark-tuning")
    b.set("spark.sql.files.maxPartitionBytes", spark_size(split_mib),
          f"{split_mib} MiB input splits: " + (
              "small input spread over every task slot" if split_mib < target_mib
              else "GPUs want large batches (256-512 MB)" if gpu else "the documented default suits columnar scans"),
          "rapids-tuning" if gpu else "spark-sql-perf")
    b.set("spark.sql.adaptive.enabled", True, "re-plans joins and partition counts from real shuffle sizes",
          "spark-sql-perf")
    b.set("spark.sql.adaptive.coalescePartitions.enabled", True,
          "merges small shuffle partitions, so the partition count above is a ceiling, not a cost", "spark-sql-perf")
    if version >= (3, 2, 0):
        b.set("spark.sql.adaptive.coalescePartitions.parallelismFirst", False,
              "coalesce to the advisory size, not to the default parallelism (the docs recommend false)",
              "spark-sql-perf")
    advisory = c.advisory_partition_mib_gpu.value if gpu else c.advisory_partition_mib_cpu.value
    b.set("spark.sql.adaptive.advisoryPartitionSizeInBytes", spark_size(advisory),
          f"target size of coalesced shuffle partitions ({advisory} MiB{' for GPU batches' if gpu else ''})",
          "rapids-autotuner" if gpu else "spark-sql-perf")
    b.set("spark.sql.adaptive.skewJoin.enabled", True,
          "splits partitions 5x larger than the median (and above 256 MB) so one key cannot stall a join",
          "spark-sql-perf")
    broadcast_mib = int(min(c.broadcast_mib_max.value,
                            max(c.broadcast_mib_min.value, plan.heap_mib / c.broadcast_heap_divisor.value)))
    b.set("spark.sql.autoBroadcastJoinThreshold", spark_size(broadcast_mib),
          f"about 1% of the {spark_size(plan.heap_mib)} heap: a broadcast table is copied whole into every executor",
          "spark-sql-perf")
    b.set("spark.serializer", "org.apache.spark.serializer.KryoSerializer",
          "Kryo is often as much as 10x faster and more compact than Java serialization", "spark-tuning")
    b.set("spark.kryoserializer.buffer.max", spark_size(c.kryo_buffer_max_mib.value),
          "large records (vectors, wide rows) otherwise fail with 'Buffer overflow'", "rapids-autotuner")


def _workload_keys(b: ConfigBuilder, request: TuneRequest, version: tuple[int, int, int], gpu: bool) -> None:
    c = constants()
    deploy = request.deploy_mode
    batch = request.workload in (Workload.ETL, Workload.SQL_ANALYTICS, Workload.GRAPH)
    if batch and not gpu and deploy is not DeployMode.LOCAL and request.nodes > 1:
        b.set("spark.speculation", True,
              "on a multi-node cluster a slow node or disk makes stragglers; a speculative copy finishes them",
              "spark-scheduling")
        b.set("spark.speculation.multiplier", c.speculation_multiplier.value,
              "a task is speculated when 1.5x slower than the median", "spark-scheduling")
        b.set("spark.speculation.quantile", c.speculation_quantile.value,
              "speculate only once 90% of a stage's tasks are done", "spark-scheduling")
    if gpu or deploy is DeployMode.KUBERNETES:
        b.set("spark.locality.wait", "0s",
              ("GPU tasks should start at once rather than wait 3s for a data-local slot"
               if gpu else "on Kubernetes data sits in object storage: no slot is data-local, waiting only delays"),
              "rapids-autotuner" if gpu else "spark-scheduling")
    if request.workload is Workload.STREAMING and version >= (3, 2, 0):
        b.set("spark.sql.streaming.stateStore.providerClass",
              "org.apache.spark.sql.execution.streaming.state.RocksDBStateStoreProvider",
              "keeps streaming state in RocksDB off the JVM heap: large state without GC pauses", "spark-streaming")
        if version >= (3, 4, 0):
            b.set("spark.sql.streaming.stateStore.rocksdb.changelogCheckpointing.enabled", True,
                  "checkpoints write only the changes, cutting micro-batch latency", "spark-streaming")
    if request.workload in (Workload.ML_TRAINING, Workload.ML_INFERENCE):
        b.set("spark.sql.execution.arrow.pyspark.enabled", True,
              "Arrow moves data between the JVM and pandas/NumPy in columnar batches instead of row by row",
              "spark-arrow")


def _warnings(request: TuneRequest, plan: ExecutorPlan, target: Target, warnings: list[str], notes: list[str]) -> None:
    c = constants()
    data_bytes = parse_size(request.data_size)
    if plan.usable_memory_mib < 2048:
        warnings.append(
            f"{target.label} leaves {plan.usable_memory_mib} MiB for Spark after the OS reserve; executors get "
            f"{spark_size(plan.heap_mib)} heaps and will spill or fail on anything but small inputs"
        )
    storage_mib = plan.executors_total * plan.heap_mib * 0.6 * 0.5
    if request.workload in (Workload.ML_TRAINING, Workload.GRAPH) and data_bytes / _MIB > storage_mib:
        warnings.append(
            f"{request.workload} caches its input, but {data_bytes / 1024**3:.3g} GiB exceeds the cluster's "
            f"~{storage_mib / 1024:.3g} GiB of storage memory: cached partitions will be evicted and recomputed; "
            "add nodes or cache a projection"
        )
    if plan.offheap_mib:
        notes.append(
            f"executor heap capped at {c.cpu_max_heap_gib.value:g} GiB ({c.cpu_max_heap_gib.source}); "
            f"the other {plan.offheap_mib} MiB of each container is off-heap memory"
        )


def _merge_current(b: ConfigBuilder, current: dict[str, str] | None) -> list[ConfigChange]:
    """Start from the user's configuration: changed keys are listed, unmanaged keys are kept as they were."""
    if not current:
        return []
    changes: list[ConfigChange] = []
    managed = set(b.entries)
    for key, raw in current.items():
        value = str(raw)
        entry = b.entries.get(key)
        if entry is not None:
            if entry.value != value:
                changes.append(ConfigChange(key=key, current_value=value, recommended_value=entry.value,
                                            reason=entry.reason, reference=b.references[entry.ref]))
        elif key in _MANAGED and key not in managed:
            changes.append(ConfigChange(
                key=key, current_value=value, recommended_value=None,
                reason="not wanted for this deploy mode and workload (e.g. fixed instances under dynamic allocation)",
                reference=b.references["spark-config"]))
        else:
            b.entries[key] = ConfigEntry(key=key, value=value, reason="kept from the current configuration",
                                         ref=CURRENT)
    return changes


_MANAGED = frozenset({
    "spark.executor.instances", "spark.cores.max", "spark.dynamicAllocation.enabled",
    "spark.dynamicAllocation.minExecutors", "spark.dynamicAllocation.maxExecutors",
    "spark.dynamicAllocation.shuffleTracking.enabled", "spark.shuffle.service.enabled", "spark.speculation",
    "spark.executor.pyspark.memory", "spark.locality.wait", "spark.plugins", "spark.rapids.sql.enabled",
    "spark.executor.resource.gpu.amount", "spark.task.resource.gpu.amount", "spark.shuffle.manager",
})


def _explained(entries: list[ConfigEntry]) -> dict[str, ConfiguredKey]:
    """The key map; a reason given for an earlier key is pointed at, not repeated."""
    first: dict[str, str] = {}
    out = {}
    for e in entries:
        reason = e.reason if e.reason not in first else f"as for {first[e.reason]}"
        first.setdefault(e.reason, e.key)
        out[e.key] = (e.value, reason, e.ref)
    return out


CURRENT = "current"
"""The reference id of a key kept from the user's own configuration."""


def optimize(request: TuneRequest, nvml: Any | None = None, output: OutputForm = "conf") -> SparkConfig:
    """The configuration for ``request``, with every key explained."""
    notes: list[str] = []
    warnings: list[str] = []
    data_bytes = parse_size(request.data_size)
    if request.deploy_mode is DeployMode.LOCAL and request.nodes != 1:
        raise BadInputError(
            f"nodes={request.nodes} with deploy_mode='local': local mode runs on one machine; "
            "use nodes=1, or deploy_mode 'standalone', 'yarn' or 'kubernetes' for a cluster"
        )
    version_text, version = _version(request.spark_version, notes)
    target = resolve_target(request.hardware, nvml=nvml)
    warnings += target.warnings
    gpu = gpu_wanted(request.gpu, target, request.workload, notes)
    b = ConfigBuilder()
    concurrency = 1
    if gpu:
        assert target.gpus is not None
        plan, pinned, spill = size_gpu(target.snapshot, target.gpus, request.nodes, request.workload,
                                       request.deploy_mode)
        concurrency = rapids.concurrency(target.gpus, warnings)
        if plan.executors_per_node < target.gpus.count and request.deploy_mode is not DeployMode.LOCAL:
            warnings.append(
                f"only {plan.executors_per_node} of the node's {target.gpus.count} GPUs get an executor: each needs "
                f"at least one core and a 1 GiB heap, and the node has {plan.usable_cores} usable cores and "
                f"{plan.usable_memory_mib} MiB usable memory"
            )
    else:
        plan = size_cpu(target.snapshot, request.nodes, request.workload, request.deploy_mode)
    _executors(b, request, plan, gpu, notes)
    _dynamic_allocation(b, request, plan)
    _security(b, request, notes)
    _sql(b, request, plan, gpu, concurrency, version)
    _workload_keys(b, request, version, gpu)
    if gpu:
        assert target.gpus is not None
        rapids.block(b, rapids.RapidsInputs(
            plan=plan, gpus=target.gpus, concurrency=concurrency, pinned_mib=pinned, spill_mib=spill,
            deploy=request.deploy_mode, version=version, version_text=version_text,
        ), warnings, notes)
    _warnings(request, plan, target, warnings, notes)
    changes = _merge_current(b, request.current_config)
    entries = list(b.entries.values())
    if output == "k8s" and request.deploy_mode is not DeployMode.KUBERNETES:
        raise BadInputError(f"output 'k8s' is a SparkApplication for deploy_mode 'kubernetes', not "
                            f"{request.deploy_mode.value!r}; ask for output 'conf' or 'submit', or deploy_mode 'kubernetes'")
    used = dict.fromkeys(e.ref for e in entries)
    references = {ref: ("your current configuration" if ref == CURRENT else b.references[ref]) for ref in used}
    return SparkConfig(
        workload=request.workload,
        data_size_bytes=data_bytes,
        hardware=target.label,
        nodes=request.nodes,
        deploy_mode=request.deploy_mode,
        gpu_enabled=gpu,
        spark_version=version_text,
        plan=plan,
        config=_explained(entries),
        references=references,
        changes=changes,
        output=output,
        rendered=render_output(output, entries, request.deploy_mode, plan, gpu, version_text),
        warnings=warnings,
        notes=notes,
    )

