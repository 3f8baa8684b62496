"""Executor and driver sizing: Dr. Elephant's bands, overhead, giant/tiny executors, fit on the node."""

from __future__ import annotations

import math

from ..check_models import Finding
from ..models import DeployMode
from ..rules import Rule
from . import Skip, check
from .context import NEEDS_HARDWARE, Context, gib, mib

_GIB = 1024**3


def _below_band_value(rule: Rule) -> str:
    """The largest value that draws at most an info finding: where the warning bands start."""
    loud = next((g for g in rule.grades if g.severity != "info"), rule.grades[0])
    limit = rule.thresholds[loud.threshold]
    return f"{limit.value:g}g" if limit.unit == "GiB" else f"{limit.value:g}"


def _band(ctx: Context, rule: Rule, key: str, value: float | None) -> list[Finding]:
    """The Dr. Elephant band ``value`` (bytes for sizes, else a count) of ``key`` falls in, if any."""
    hit = None if value is None else ctx.graded(rule, value)
    if hit is None:
        return []
    label, limit, severity = hit
    limit_text = gib(limit) if rule.thresholds[rule.grades[0].threshold].unit in ("GiB", "MiB") else f"{limit:g}"
    message = f"{key} is {ctx.text(key)}, above the {limit_text} {label} (Dr. Elephant's graded thresholds)"
    recommended = _below_band_value(rule)
    fix = [ctx.change(rule, key, recommended, f"at most {recommended}, where the warning bands start")]
    return [ctx.finding(rule, message, [key], fix, severity=severity)]


@check("executor-memory-band")
def executor_memory_band(ctx: Context, rule: Rule) -> list[Finding] | Skip:
    # A RAPIDS executor is sized to its GPU (heap per core x up to 16 cores), not to these bands.
    if ctx.rapids or not ctx.is_set("spark.executor.memory"):
        return []
    return _band(ctx, rule, "spark.executor.memory", ctx.heap())


@check("driver-memory-band")
def driver_memory_band(ctx: Context, rule: Rule) -> list[Finding] | Skip:
    # In local mode the driver JVM also runs every task: its size is the whole job's.
    if ctx.local or not ctx.is_set("spark.driver.memory"):
        return []
    return _band(ctx, rule, "spark.driver.memory", ctx.size("spark.driver.memory", "m"))


@check("executor-cores-band")
def executor_cores_band(ctx: Context, rule: Rule) -> list[Finding] | Skip:
    if ctx.rapids or not ctx.is_set("spark.executor.cores"):
        return []
    return _band(ctx, rule, "spark.executor.cores", ctx.integer("spark.executor.cores"))


@check("yarn-overhead-band")
def yarn_overhead_band(ctx: Context, rule: Rule) -> list[Finding] | Skip:
    key = "spark.executor.memoryOverhead"
    if ctx.deploy is not None and ctx.deploy.value != "yarn":
        return []
    # RAPIDS puts its pinned pool and spill buffer in the overhead on purpose.
    if ctx.rapids or not ctx.is_set(key):
        return []
    return _band(ctx, rule, key, ctx.overhead())


@check("pyspark-overhead-too-small")
def pyspark_overhead(ctx: Context, rule: Rule) -> list[Finding] | Skip:
    if not ctx.is_set("spark.executor.memory") or ctx.deploy in (DeployMode.LOCAL, DeployMode.STANDALONE):
        return []  # only YARN and Kubernetes hold an executor to its container size
    if ctx.language is None:
        return Skip("the job's language is unknown: pass language='python' (or a .py source, or a spark-submit "
                    "with a .py application) to check the room left for Python workers")
    if ctx.language != "python" or ctx.is_set("spark.executor.pyspark.memory"):
        return []
    heap, overhead = ctx.heap(), ctx.overhead()
    if heap is None or overhead is None:
        return []
    factor = rule.threshold("non_jvm_factor")
    needed = math.ceil(factor * heap)
    if overhead >= needed:
        return []
    message = (f"this PySpark job leaves its Python workers {mib(overhead)} of overhead per executor "
               f"({overhead / heap:.0%} of the {gib(heap)} heap) and no spark.executor.pyspark.memory; "
               f"Spark sizes non-JVM jobs at {factor:.0%} of the heap ({mib(needed)})")
    fix = [ctx.change(rule, "spark.executor.memoryOverhead", f"{math.ceil(needed / 1024**2)}m",
                      f"Python workers live outside the JVM heap: {factor:.0%} of {gib(heap)}")]
    return [ctx.finding(rule, message, ["spark.executor.memory", "spark.executor.memoryOverhead"], fix)]


@check("giant-executor")
def giant_executor(ctx: Context, rule: Rule) -> list[Finding] | Skip:
    if not ctx.is_set("spark.executor.memory"):
        return []
    heap = ctx.heap()
    if heap is None:
        return []
    hit = ctx.graded(rule, heap)
    if hit is None:
        return []
    label, limit, severity = hit
    message = (f"spark.executor.memory is {ctx.text('spark.executor.memory')}, above {gib(limit)} ({label}): "
               "one JVM heap this large pauses long in garbage collection")
    suggested = gib(rule.threshold_bytes(rule.grades[0].threshold))
    fix = [ctx.change(rule, "spark.executor.memory", suggested,
                      "split the memory over more executors with fewer cores each")]
    return [ctx.finding(rule, message, ["spark.executor.memory"], fix, severity=severity)]


@check("tiny-executor")
def tiny_executor(ctx: Context, rule: Rule) -> list[Finding] | Skip:
    found: list[Finding] = []
    heap = ctx.heap() if ctx.is_set("spark.executor.memory") else None
    minimum = rule.threshold_bytes("min_heap")
    if heap is not None and heap < minimum and not ctx.local:
        message = (f"spark.executor.memory is {ctx.text('spark.executor.memory')}: after Spark's reserved "
                   f"{rule.threshold('reserved'):g} MiB little is left for execution and storage")
        fix = [ctx.change(rule, "spark.executor.memory", gib(minimum) if minimum % _GIB == 0 else mib(minimum),
                          "at least the minimum heap")]
        found.append(ctx.finding(rule, message, ["spark.executor.memory"], fix))
    cores = ctx.integer("spark.executor.cores", default=False)
    instances = ctx.integer("spark.executor.instances", default=False)
    if cores == 1 and (instances or 0) > 1 and not ctx.rapids:
        message = (f"{instances} executors with 1 core each: every executor pays its own JVM, overhead and copy "
                   "of each broadcast, and tasks cannot share cached data")
        fix = [ctx.change(rule, "spark.executor.cores", f"{int(rule.threshold('cores_per_executor'))}",
                          "fewer, wider executors share broadcasts and caches")]
        found.append(ctx.finding(rule, message, ["spark.executor.cores", "spark.executor.instances"], fix,
                                 severity="info"))
    return found


@check("executor-fits-node")
def executor_fits_node(ctx: Context, rule: Rule) -> list[Finding] | Skip:
    sizing = ("spark.driver.memory",) if ctx.local else (
        "spark.executor.memory", "spark.executor.memoryOverhead", "spark.executor.cores")
    if not any(ctx.is_set(k) for k in sizing):
        return []
    if ctx.target is None:
        return Skip(NEEDS_HARDWARE)
    host = ctx.target.snapshot.host
    node_bytes = int(host.effective_memory_gib * _GIB)
    node_cores = int(host.effective_cpu_cores)
    found: list[Finding] = []
    if ctx.local:
        memory = ctx.size("spark.driver.memory", "m")
        keys, what = ["spark.driver.memory"], "the local-mode driver (it runs every task)"
    else:
        memory = ctx.container()
        keys, what = ["spark.executor.memory", "spark.executor.memoryOverhead"], "one executor container"
    if memory is not None and any(ctx.is_set(k) for k in keys):
        hit = ctx.graded(rule, memory / node_bytes)
        if hit is not None:
            label, limit, severity = hit
            message = (f"{what} needs {gib(memory)} (heap, overhead, off-heap and PySpark memory) on a node with "
                       f"{host.effective_memory_gib:g} GiB: above {limit:.0%} of its memory ({label})")
            fix = [ctx.change(rule, keys[0], gib(int(node_bytes * rule.threshold("spark_share") * 0.9)),
                              f"keep Spark within {rule.threshold('spark_share'):.0%} of {ctx.target.label}")]
            found.append(ctx.finding(rule, message, keys, fix, severity=severity))
    cores = ctx.integer("spark.executor.cores", default=False)
    if cores is not None and not ctx.local and cores > node_cores:
        message = f"spark.executor.cores is {cores} but {ctx.target.label} has {node_cores} cores: no node can host it"
        fix = [ctx.change(rule, "spark.executor.cores", str(node_cores), "at most the cores of one node")]
        found.append(ctx.finding(rule, message, ["spark.executor.cores"], fix, severity="error"))
    return found


@check("local-mode-executor-settings")
def local_mode_executor_settings(ctx: Context, rule: Rule) -> list[Finding] | Skip:
    if not ctx.local:
        return []
    ignored = [k for k in ("spark.executor.memory", "spark.executor.instances", "spark.executor.memoryOverhead")
               if ctx.is_set(k)]
    if not ignored:
        return []
    message = (f"{', '.join(ignored)} {'has' if len(ignored) == 1 else 'have'} no effect with master "
               f"{ctx.text('spark.master') or 'local'}: one JVM runs the driver and every task, sized by "
               "spark.driver.memory")
    fix = [ctx.change(rule, k, None, "ignored in local mode") for k in ignored]
    if "spark.executor.memory" in ignored and not ctx.is_set("spark.driver.memory"):
        fix.append(ctx.change(rule, "spark.driver.memory", ctx.text("spark.executor.memory"),
                              "the local JVM's heap is the driver's"))
    return [ctx.finding(rule, message, ignored, fix)]


@check("driver-memory-set-in-code")
def driver_memory_in_code(ctx: Context, rule: Rule) -> list[Finding] | Skip:
    entry = ctx.conf.get("spark.driver.memory")
    if entry is None or ctx.parsed.format.value != "source" or entry.origin in ("%%configure",):
        return []
    if ctx.text("spark.submit.deployMode") == "cluster":
        return []
    message = (f"spark.driver.memory is set in code ({entry.origin}, line {entry.line}): in client mode the driver "
               "JVM is already running when this line executes, so the setting is ignored")
    fix = [ctx.change(rule, "spark.driver.memory", None,
                      "set it with spark-submit --driver-memory or in spark-defaults.conf instead")]
    return [ctx.finding(rule, message, ["spark.driver.memory"], fix)]
