"""RAPIDS Accelerator consistency: GPU resources, task amounts, concurrency, pinned memory, overhead."""

from __future__ import annotations

import math

from ..check_models import Finding
from ..models import DeployMode
from ..rules import Rule
from . import Skip, check
from .context import NEEDS_HARDWARE, Context, gib, mib

_MIB = 1024**2
_EXECUTOR_GPU = "spark.executor.resource.{}.amount"
_TASK_GPU = "spark.task.resource.{}.amount"
_CONCURRENCY = "spark.rapids.sql.concurrentGpuTasks"
_PINNED = "spark.rapids.memory.pinnedPool.size"


def _gpu_keys(ctx: Context) -> tuple[str, str]:
    name = ctx.text("spark.rapids.gpu.resourceName") or "gpu"
    return _EXECUTOR_GPU.format(name), _TASK_GPU.format(name)


def _executor_cores(ctx: Context) -> int:
    return max(1, ctx.integer("spark.executor.cores") or 1)


@check("rapids-plugin-without-gpu-resources")
def plugin_without_resources(ctx: Context, rule: Rule) -> list[Finding] | Skip:
    if not ctx.rapids or ctx.local:
        return []  # local mode schedules no GPU resources: the plugin uses the GPU it finds
    executor_key, task_key = _gpu_keys(ctx)
    missing = [k for k in (executor_key, task_key) if not ctx.is_set(k)]
    if not missing:
        return []
    cores = _executor_cores(ctx)
    values = {executor_key: "1", task_key: f"{1 / cores:g}"}
    where = f"on {ctx.deploy.value}" if ctx.deploy else "when the cluster manager schedules GPUs"
    message = (f"spark.plugins loads the RAPIDS Accelerator but {', '.join(missing)} "
               f"{'is' if len(missing) == 1 else 'are'} not set: {where} executors get no GPU and tasks are not "
               "limited per GPU")
    fix = [ctx.change(rule, k, values[k], "one GPU per executor; task share = 1 / executor cores") for k in missing]
    return [ctx.finding(rule, message, ["spark.plugins", *missing], fix,
                        severity="error" if ctx.cluster else "warning")]


@check("rapids-task-gpu-amount")
def task_gpu_amount(ctx: Context, rule: Rule) -> list[Finding] | Skip:
    executor_key, task_key = _gpu_keys(ctx)
    task = ctx.number(task_key, default=False)
    if not ctx.rapids or ctx.local or task is None or task <= 0:
        return []
    per_executor = ctx.number(executor_key, default=False) or 1.0
    cores = _executor_cores(ctx)
    by_cores = cores // max(1, ctx.integer("spark.task.cpus") or 1)
    by_gpu = math.floor(per_executor / task + 1e-9)
    if by_gpu >= by_cores:
        return []
    message = (f"{task_key} is {ctx.text(task_key)} with {cores} executor cores: task amount x cores = "
               f"{task * cores:g} > {per_executor:g} GPU, so only {by_gpu} of the {by_cores} task slots can run "
               "at once and the other cores idle")
    fix = [ctx.change(rule, task_key, f"{per_executor / by_cores:g}", "the GPU share of one of the executor's tasks")]
    return [ctx.finding(rule, message, [task_key, "spark.executor.cores"], fix)]


@check("rapids-concurrency-range")
def concurrency_range(ctx: Context, rule: Rule) -> list[Finding] | Skip:
    tasks = ctx.integer(_CONCURRENCY, default=False)
    if tasks is None:
        return []
    high, low = rule.threshold("max_tasks"), rule.threshold("min_tasks")
    if tasks > high:
        message = (f"{_CONCURRENCY} is {tasks}: beyond {high:g} concurrent tasks per GPU rarely helps and risks GPU "
                   "out-of-memory errors")
        fix = [ctx.change(rule, _CONCURRENCY, f"{high:g}", "the top of the range")]
        return [ctx.finding(rule, message, [_CONCURRENCY], fix)]
    if tasks < low:
        message = (f"{_CONCURRENCY} is {tasks}: with one task on the GPU it idles while that task reads input "
                   f"and writes shuffle; {low:g}-{high:g} overlap I/O with compute")
        fix = [ctx.change(rule, _CONCURRENCY, f"{low:g}", "the bottom of the range")]
        return [ctx.finding(rule, message, [_CONCURRENCY], fix, severity="info")]
    return []


@check("rapids-concurrency-gpu-memory")
def concurrency_gpu_memory(ctx: Context, rule: Rule) -> list[Finding] | Skip:
    tasks = ctx.integer(_CONCURRENCY, default=False)
    if not ctx.rapids or tasks is None:
        return []
    if ctx.target is None:
        return Skip(NEEDS_HARDWARE)
    gpus = ctx.target.gpus
    if gpus is None:
        return Skip(f"{ctx.target.label} has no usable GPU to compare {_CONCURRENCY} with")
    if gpus.memory_mib <= 0:
        return Skip(f"the memory of {gpus.name} is unknown: pass a hardware spec with gpu_memory_gib")
    per_task = rule.threshold("gpu_mem_per_task")
    if tasks * per_task <= gpus.memory_mib:
        return []
    fits = max(1, int(gpus.memory_mib // per_task))
    message = (f"{_CONCURRENCY} is {tasks}: at about {per_task:g} MiB per task that needs {tasks * per_task:,.0f} MiB, "
               f"more than the {gpus.memory_mib:,} MiB of {gpus.name}")
    fix = [ctx.change(rule, _CONCURRENCY, str(fits), f"{gpus.memory_mib:,} MiB / {per_task:g} MiB per task")]
    return [ctx.finding(rule, message, [_CONCURRENCY], fix)]


@check("rapids-pinned-pool-host-memory")
def pinned_pool_host_memory(ctx: Context, rule: Rule) -> list[Finding] | Skip:
    pinned = ctx.size(_PINNED, default=False)
    if not ctx.rapids or not pinned or pinned <= 0:
        return []
    if ctx.target is None:
        return Skip(NEEDS_HARDWARE)
    gpus = ctx.target.gpus
    if gpus is None and not ctx.local:
        return Skip(f"{ctx.target.label} has no usable GPU, so the RAPIDS executors per node are unknown")
    per_node = 1 if ctx.local or gpus is None else gpus.count
    host = int(ctx.target.snapshot.host.effective_memory_gib * 1024**3)
    total = pinned * per_node
    hit = ctx.graded(rule, total / host)
    if hit is None:
        return []
    label, limit, severity = hit
    message = (f"{_PINNED} is {ctx.text(_PINNED)} for each of {per_node} executor(s) per node: {gib(total)} of "
               f"page-locked memory on a node with {ctx.target.snapshot.host.effective_memory_gib:g} GiB, "
               f"above {limit:.0%} of it ({label})")
    fitting = int(host * rule.threshold(rule.grades[0].threshold) / per_node / _MIB)
    fix = [ctx.change(rule, _PINNED, f"{fitting}m", "pinned memory cannot be paged out; leave the heaps and OS room")]
    return [ctx.finding(rule, message, [_PINNED], fix, severity=severity)]


@check("rapids-overhead-too-small")
def rapids_overhead(ctx: Context, rule: Rule) -> list[Finding] | Skip:
    if not ctx.rapids or ctx.deploy in (DeployMode.LOCAL, DeployMode.STANDALONE):
        return []  # only YARN and Kubernetes hold an executor to its container size
    if not (ctx.is_set(_PINNED) or ctx.is_set("spark.executor.memoryOverhead")):
        return []
    heap, overhead = ctx.heap(), ctx.overhead()
    pinned = ctx.size(_PINNED) or 0
    spill = ctx.size("spark.rapids.memory.host.spillStorageSize", default=False) or 0
    if heap is None or overhead is None:
        return []
    needed = math.ceil(rule.threshold("heap_fraction") * heap) + pinned + max(spill, 0)
    if overhead >= needed:
        return []
    parts = f"{rule.threshold('heap_fraction'):.0%} of the heap + pinned pool {mib(pinned)}"
    parts += f" + host spill {mib(spill)}" if spill > 0 else ""
    message = (f"the executor overhead is {mib(overhead)} but the RAPIDS off-heap buffers need {mib(needed)} "
               f"({parts}): YARN and Kubernetes kill executors that grow past their container")
    fix = [ctx.change(rule, "spark.executor.memoryOverhead", f"{math.ceil(needed / _MIB)}m", parts)]
    return [ctx.finding(rule, message, ["spark.executor.memoryOverhead", _PINNED], fix)]


@check("rapids-keys-without-plugin")
def keys_without_plugin(ctx: Context, rule: Rule) -> list[Finding] | Skip:
    if ctx.rapids:
        return []
    rapids_keys = [k for k in ctx.conf if k.startswith("spark.rapids.")]
    if not rapids_keys:
        return []
    explicit = ctx.is_set("spark.plugins")
    message = (f"{len(rapids_keys)} spark.rapids.* key(s) are set but spark.plugins "
               f"{'does not load' if explicit else 'is not set here to load'} com.nvidia.spark.SQLPlugin: "
               "they have no effect unless the cluster's defaults load the plugin")
    fix = [ctx.change(rule, "spark.plugins", "com.nvidia.spark.SQLPlugin", "load the RAPIDS Accelerator")]
    return [ctx.finding(rule, message, ["spark.plugins", *rapids_keys[:5]], fix,
                        severity="warning" if explicit else "info")]


@check("rapids-sql-disabled")
def sql_disabled(ctx: Context, rule: Rule) -> list[Finding] | Skip:
    if not ctx.rapids or ctx.flag("spark.rapids.sql.enabled", default=False) is not False:
        return []
    message = ("the RAPIDS plugin is loaded but spark.rapids.sql.enabled is false: every SQL operation runs on the "
               "CPU while the executors still hold their GPUs")
    fix = [ctx.change(rule, "spark.rapids.sql.enabled", "true", "run SQL on the GPU")]
    return [ctx.finding(rule, message, ["spark.rapids.sql.enabled", "spark.plugins"], fix)]
