"""The RAPIDS Accelerator block: every key that actually turns the GPU plugin on, sized to the GPUs.

The earlier TypeScript tool emitted GPU "hints" without ``spark.plugins`` or GPU resource
amounts, so RAPIDS never ran.  A block from here sets the plugin, the resource amounts, the
discovery (script or vendor), concurrency from GPU memory, the pinned pool and spill inside
the overhead, the allocator, and the version-matched shuffle manager.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .builder import ConfigBuilder
from .models import DeployMode, ExecutorPlan
from .sizes import spark_size
from .sizing import GpuNode, concurrent_gpu_tasks, constants

__all__ = ["RapidsInputs", "block", "concurrency", "shuffle_manager_class", "task_gpu_amount", "unified_alloc_fraction"]


@dataclass(frozen=True)
class RapidsInputs:
    plan: ExecutorPlan
    gpus: GpuNode
    concurrency: int
    pinned_mib: int
    spill_mib: int
    deploy: DeployMode
    version: tuple[int, int, int]
    version_text: str


def unified_alloc_fraction() -> float:
    """Share of a unified-memory GPU's (= the node's) memory RMM may take, rounded down to 0.01."""
    c = constants()
    usable = 1 - c.os_reserve_fraction.value
    return math.floor(usable * c.unified_gpu_share.value * 100) / 100


def _gpu_budget_mib(gpus: GpuNode) -> int:
    """GPU memory one executor can use: all of a dedicated GPU, the RMM share of unified memory."""
    if gpus.unified:
        return int(gpus.memory_mib * unified_alloc_fraction())
    return gpus.memory_mib


def concurrency(gpus: GpuNode, warnings: list[str]) -> int:
    """concurrentGpuTasks = min(4, GPU memory ÷ 7500 MiB); 1 when the memory is unknown."""
    if gpus.memory_mib <= 0:
        warnings.append(
            f"GPU memory of {gpus.name!r} is unknown: spark.rapids.sql.concurrentGpuTasks is set to 1, the value "
            "that cannot run out of GPU memory from concurrency; give the GPU memory to size it"
        )
        return 1
    return concurrent_gpu_tasks(_gpu_budget_mib(gpus))


def task_gpu_amount(executor_cores: int) -> str:
    """1 / cores, rounded *down* so Spark's floor(1 / amount) gives exactly ``executor_cores`` tasks per GPU."""
    if executor_cores <= 1:
        return "1"
    amount = math.floor(1_000_000 / executor_cores) / 1_000_000
    return f"{amount:.6f}".rstrip("0")


def shuffle_manager_class(version: tuple[int, int, int]) -> str:
    """``com.nvidia.spark.rapids.spark351.RapidsShuffleManager`` for Spark 3.5.1: one shim per release."""
    return f"com.nvidia.spark.rapids.spark{version[0]}{version[1]}{version[2]}.RapidsShuffleManager"


def _resources(b: ConfigBuilder, r: RapidsInputs) -> None:
    c = constants()
    b.set("spark.executor.resource.gpu.amount", 1,
          "one executor per GPU: RAPIDS shares a GPU between an executor's tasks, never between executors",
          "rapids-tuning")
    b.set("spark.task.resource.gpu.amount", task_gpu_amount(r.plan.executor_cores),
          f"1/{r.plan.executor_cores}: all {r.plan.executor_cores} task slots of the executor share its GPU "
          "(concurrentGpuTasks decides how many run on it at once)", "rapids-tuning")
    if r.deploy is DeployMode.KUBERNETES:
        b.set("spark.executor.resource.gpu.vendor", "nvidia.com",
              "Kubernetes requests GPUs from the NVIDIA device plugin as nvidia.com/gpu", "rapids-k8s")
    b.set("spark.executor.resource.gpu.discoveryScript", c.gpu_discovery_script.value,
          "the executor runs it to learn its GPU addresses; Spark ships it under $SPARK_HOME/examples/src/main/"
          "scripts and does not expand variables here: adjust the path if SPARK_HOME is not /opt/spark",
          "rapids-gpu-scheduling")


def _memory(b: ConfigBuilder, r: RapidsInputs, warnings: list[str]) -> None:
    b.set("spark.rapids.sql.concurrentGpuTasks", r.concurrency,
          (f"min(4, {_gpu_budget_mib(r.gpus)} MiB of GPU memory / 7500 MiB per task)" if r.gpus.memory_mib
           else "GPU memory unknown: 1 cannot exhaust it"), "rapids-autotuner")
    if r.pinned_mib > 0:
        b.set("spark.rapids.memory.pinnedPool.size", spark_size(r.pinned_mib),
              "page-locked host memory for fast host<->GPU copies; counted inside spark.executor.memoryOverhead",
              "rapids-tuning")
        b.set("spark.rapids.memory.host.offHeapLimit.enabled", True,
              "bounds all host memory the plugin uses (pinned pool and spill), replacing spillStorageSize",
              "rapids-config")
        b.set("spark.rapids.memory.host.offHeapLimit.size", spark_size(r.pinned_mib + r.spill_mib),
              f"pinned pool + {spark_size(r.spill_mib)} of host spill before disk, inside the overhead",
              "rapids-config")
    else:
        warnings.append(
            f"no room for a pinned host pool in a {r.plan.container_mib} MiB container: host<->GPU copies will be "
            "slower; give the node more memory or fewer GPUs per node"
        )
    b.set("spark.rapids.memory.gpu.pool", "ASYNC",
          "CUDA's asynchronous pool allocator: least fragmentation, shares the GPU with other processes",
          "rapids-config")
    if r.gpus.unified:
        fraction = unified_alloc_fraction()
        reason = (f"unified memory: the GPU pool comes from the same RAM as the heaps, so RMM may take at most "
                  f"{fraction:.2f} of it (the rest holds executors and the OS)")
        b.set("spark.rapids.memory.gpu.allocFraction", f"{fraction:.2f}", reason, "rapids-config")
        b.set("spark.rapids.memory.gpu.maxAllocFraction", f"{fraction:.2f}", reason, "rapids-config")
        b.set("spark.rapids.memory.gpu.minAllocFraction", f"{min(0.25, fraction):.2f}",
              "must not exceed allocFraction", "rapids-config")


def _threads_and_shuffle(b: ConfigBuilder, r: RapidsInputs, warnings: list[str]) -> None:
    c = constants()
    threads = max(1, r.plan.node_cores // max(1, r.plan.executors_per_node))
    b.set("spark.rapids.shuffle.multiThreaded.reader.threads", threads,
          "node cores / executors per node, as the RAPIDS shuffle guide advises", "rapids-shuffle")
    b.set("spark.rapids.shuffle.multiThreaded.writer.threads", threads,
          "node cores / executors per node, as the RAPIDS shuffle guide advises", "rapids-shuffle")
    read_threads = min(1000, max(c.multithreaded_read_min_threads.value, 2 * r.plan.executor_cores))
    b.set("spark.rapids.sql.multiThreadedRead.numThreads", read_threads,
          "clamp(2 x executor cores, 20, 1000) threads prefetch Parquet/ORC from cloud or network storage",
          "rapids-autotuner")
    dotted = ".".join(map(str, r.version))
    if dotted in c.rapids_shims.value:
        b.set("spark.shuffle.manager", shuffle_manager_class(r.version),
              f"the multithreaded RAPIDS shuffle, built for Spark {dotted} (shim spark{dotted.replace('.', '')})",
              "rapids-shuffle")
    else:
        warnings.append(
            f"Spark {r.version_text} is not in the RAPIDS shim list this server knows "
            f"({c.rapids_shims.value[0]}..{c.rapids_shims.value[-1]}): spark.shuffle.manager is left unset and the "
            "plugin itself must have a shim for this release, or it refuses to start; check the plugin's "
            "release notes, then set spark.shuffle.manager=" + shuffle_manager_class(r.version)
        )


def block(b: ConfigBuilder, r: RapidsInputs, warnings: list[str], notes: list[str]) -> None:
    """Add the RAPIDS keys to ``b``; setup the keys cannot express goes to ``notes``."""
    c = constants()
    b.set("spark.plugins", "com.nvidia.spark.SQLPlugin", "loads the RAPIDS Accelerator", "rapids-tuning")
    b.set("spark.rapids.sql.enabled", True, "runs supported SQL/DataFrame operators on the GPU", "rapids-config")
    if r.deploy is DeployMode.LOCAL:
        notes.append("local mode: the plugin uses the first visible GPU; select it with CUDA_VISIBLE_DEVICES "
                     "(GPU resource amounts apply only under a cluster manager)")
    else:
        _resources(b, r)
    _memory(b, r, warnings)
    _threads_and_shuffle(b, r, warnings)
    b.set("spark.kryo.registrator", "com.nvidia.spark.rapids.GpuKryoRegistrator",
          "registers the plugin's GPU classes with Kryo", "rapids-autotuner")
    b.set("spark.rapids.sql.explain", c.rapids_explain.value,
          "logs every operator that falls back to the CPU, so slow spots can be found", "rapids-config")
    scala = "2.13" if r.version >= (4, 0, 0) else "2.12"
    notes.append(
        f"supply the RAPIDS Accelerator jar yourself: rapids-4-spark_{scala}-<release>.jar built for Spark "
        f"{r.version_text} (spark-submit --jars, or spark.jars / the executor class path); this server does not "
        "download it"
    )
    if r.deploy is DeployMode.STANDALONE:
        notes.append("standalone: each worker needs spark.worker.resource.gpu.amount and "
                     "spark.worker.resource.gpu.discoveryScript in its own spark-defaults.conf/spark-env.sh")
    elif r.deploy is DeployMode.YARN:
        notes.append("YARN: enable GPU scheduling (yarn.io/gpu resource type, GPU isolation in the NodeManager)")
    elif r.deploy is DeployMode.KUBERNETES:
        notes.append("Kubernetes: the NVIDIA device plugin must run on the GPU nodes, and the image must contain "
                     "the discovery script at the path above")
