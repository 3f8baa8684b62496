"""Parallelism, serialization, AQE, dynamic allocation, joins and the driver's result limit."""

from __future__ import annotations

import math
import re

from ..check_models import Finding
from ..rules import Rule
from . import Skip, check
from .context import Context, gib, mib

_MIB = 1024**2


def _task_slots(ctx: Context) -> tuple[int, str] | Skip:
    """Tasks that can run at once, and how that number was found."""
    per_task = max(1, ctx.integer("spark.task.cpus") or 1)
    instances = ctx.integer("spark.executor.instances", default=False)
    cores = ctx.integer("spark.executor.cores", default=False)
    if instances and cores:
        return max(1, instances * cores // per_task), f"{instances} executors x {cores} cores"
    most = ctx.integer("spark.dynamicAllocation.maxExecutors", default=False)
    if cores and most and ctx.flag("spark.dynamicAllocation.enabled"):
        return max(1, most * cores // per_task), f"at most {most} dynamic executors x {cores} cores"
    master = ctx.text("spark.master", default=False) or ""
    local = re.match(r"local\[(\d+|\*)", master.strip())
    if ctx.local and local and local.group(1) != "*":
        return int(local.group(1)), f"master {master}"
    if ctx.local and master.strip() == "local":
        return 1, "master local (one thread)"
    if ctx.target is not None:
        node = int(ctx.target.snapshot.host.effective_cpu_cores)
        return max(1, node // per_task), f"the {node} cores of {ctx.target.label}"
    return Skip("the number of task slots is unknown: set spark.executor.instances and spark.executor.cores, "
                "or pass hardware (one node's cores are used)")


@check("partitions-vs-cores")
def partitions_vs_cores(ctx: Context, rule: Rule) -> list[Finding] | Skip:
    if ctx.rapids:
        return []  # the RAPIDS guide wants few, large partitions: about GPUs x concurrent tasks
    keys = [k for k in ("spark.sql.shuffle.partitions", "spark.default.parallelism") if ctx.is_set(k)]
    if not keys and not ctx.sizes_cluster:
        return []
    slots = _task_slots(ctx)
    if isinstance(slots, Skip):
        return slots
    count, how = slots
    wanted = math.ceil(rule.threshold("tasks_per_core") * count)
    found = []
    for key in keys or ["spark.sql.shuffle.partitions"]:
        value = ctx.integer(key)
        if value is None or value >= wanted:
            continue
        written = "is" if ctx.is_set(key) else "defaults to"
        message = (f"{key} {written} {value} for {count} task slots ({how}): fewer than "
                   f"{rule.threshold('tasks_per_core'):g} tasks per core, so cores idle while the slowest tasks finish")
        fix = [ctx.change(rule, key, str(wanted), f"{rule.threshold('tasks_per_core'):g} x {count} task slots")]
        found.append(ctx.finding(rule, message, [key], fix))
    return found


@check("java-serializer")
def java_serializer(ctx: Context, rule: Rule) -> list[Finding] | Skip:
    kryo = "org.apache.spark.serializer.KryoSerializer"
    value = ctx.text("spark.serializer", default=False)
    if ctx.is_set("spark.serializer"):
        if value is None or not value.strip().endswith("JavaSerializer"):
            return []
        message = "spark.serializer is the Java serializer: RDD shuffles and serialized caches are slower and larger"
        return [ctx.finding(rule, message, ["spark.serializer"], [ctx.change(rule, "spark.serializer", kryo, "Kryo")])]
    if not ctx.sizes_cluster:
        return []
    message = ("spark.serializer is not set, so RDD data is serialized with Java serialization "
               "(DataFrames use their own encoders and are not affected)")
    return [ctx.finding(rule, message, ["spark.serializer"], [ctx.change(rule, "spark.serializer", kryo, "Kryo")],
                        severity="info")]


@check("aqe-disabled")
def aqe_disabled(ctx: Context, rule: Rule) -> list[Finding] | Skip:
    if not ctx.is_set("spark.sql.adaptive.enabled") or ctx.flag("spark.sql.adaptive.enabled") is not False:
        return []
    message = ("spark.sql.adaptive.enabled is false: no coalescing of small shuffle partitions, no skew-join "
               "splitting and no switch to broadcast joins at run time")
    fix = [ctx.change(rule, "spark.sql.adaptive.enabled", "true", "AQE is on by default since Spark 3.2")]
    return [ctx.finding(rule, message, ["spark.sql.adaptive.enabled"], fix)]


@check("aqe-parallelism-first")
def aqe_parallelism_first(ctx: Context, rule: Rule) -> list[Finding] | Skip:
    key = "spark.sql.adaptive.coalescePartitions.parallelismFirst"
    if not ctx.sizes_cluster or ctx.local or ctx.flag("spark.sql.adaptive.enabled") is False:
        return []
    if ctx.flag(key) is not True:
        return []
    written = "is" if ctx.is_set(key) else "defaults to"
    message = (f"{key} {written} true: AQE coalesces only down to the default parallelism, keeping many small "
               "tasks; the Spark docs recommend false on a busy cluster")
    return [ctx.finding(rule, message, [key], [ctx.change(rule, key, "false", "coalesce to the advisory size")])]


@check("dynamic-allocation-shuffle")
def dynamic_allocation_shuffle(ctx: Context, rule: Rule) -> list[Finding] | Skip:
    if ctx.flag("spark.dynamicAllocation.enabled") is not True:
        return []
    if ctx.flag("spark.shuffle.service.enabled"):
        return []
    if ctx.flag("spark.decommission.enabled") and ctx.flag("spark.storage.decommission.shuffleBlocks.enabled"):
        return []
    keys = ["spark.dynamicAllocation.enabled", "spark.shuffle.service.enabled",
            "spark.dynamicAllocation.shuffleTracking.enabled"]
    if ctx.flag("spark.dynamicAllocation.shuffleTracking.enabled") is False:
        message = ("dynamic allocation is on with neither the external shuffle service nor shuffle tracking: "
                   "Spark refuses to start (removed executors would take their shuffle files with them)")
        fix = [ctx.change(rule, "spark.dynamicAllocation.shuffleTracking.enabled", "true",
                          "keeps executors that hold shuffle data (Kubernetes has no external shuffle service)")]
        return [ctx.finding(rule, message, keys, fix, severity="error")]
    if ctx.is_set("spark.dynamicAllocation.shuffleTracking.timeout"):
        return []
    message = ("dynamic allocation relies on shuffle tracking without a timeout: an executor holding shuffle data is "
               "kept until that data is no longer needed, so idle executors may never be released")
    fix = [ctx.change(rule, "spark.dynamicAllocation.shuffleTracking.timeout", "30min",
                      "release executors whose shuffle data has been idle that long")]
    return [ctx.finding(rule, message, keys + ["spark.dynamicAllocation.shuffleTracking.timeout"], fix,
                        severity="info")]


@check("dynamic-allocation-limits")
def dynamic_allocation_limits(ctx: Context, rule: Rule) -> list[Finding] | Skip:
    if ctx.flag("spark.dynamicAllocation.enabled") is not True:
        return []
    found = []
    low = ctx.integer("spark.dynamicAllocation.minExecutors")
    if low is not None and low > rule.threshold("min_executors"):
        message = (f"spark.dynamicAllocation.minExecutors is {low}: those executors stay allocated while the "
                   "application idles (Dr. Elephant grades more than 1 as critical)")
        fix = [ctx.change(rule, "spark.dynamicAllocation.minExecutors", f"{rule.threshold('min_executors'):g}",
                          "release idle executors")]
        found.append(ctx.finding(rule, message, ["spark.dynamicAllocation.minExecutors"], fix))
    high = ctx.integer("spark.dynamicAllocation.maxExecutors")
    limit = rule.threshold("max_executors")
    if high is not None and high > limit:
        shown = f"is {high}" if ctx.is_set("spark.dynamicAllocation.maxExecutors") else "is not set (unbounded)"
        message = (f"spark.dynamicAllocation.maxExecutors {shown}: one job can take the whole cluster "
                   f"(Dr. Elephant grades more than {limit:g} as critical)")
        fix = [ctx.change(rule, "spark.dynamicAllocation.maxExecutors", f"{limit:g}",
                          "cap what one application can take")]
        found.append(ctx.finding(rule, message, ["spark.dynamicAllocation.maxExecutors"], fix))
    return found


@check("broadcast-threshold-vs-driver")
def broadcast_threshold(ctx: Context, rule: Rule) -> list[Finding] | Skip:
    key = "spark.sql.autoBroadcastJoinThreshold"
    if not (ctx.is_set(key) or ctx.is_set("spark.driver.memory")):
        return []
    threshold = ctx.size(key)
    driver = ctx.size("spark.driver.memory", "m")
    if threshold is None or threshold <= 0 or driver is None:
        return []  # -1 turns broadcast joins off
    shown = ctx.text(key)
    if threshold > rule.threshold_bytes("spark_limit"):
        message = (f"{key} is {shown}, above the {gib(rule.threshold_bytes('spark_limit'))} Spark can broadcast: "
                   "a table this large fails the query instead of falling back to a shuffle join")
        fix = [ctx.change(rule, key, "100m", "stay far below the broadcast limit")]
        return [ctx.finding(rule, message, [key], fix, severity="error")]
    usable = rule.threshold("memory_fraction") * (driver - rule.threshold_bytes("reserved"))
    needed = threshold * rule.threshold("copies")
    if needed > usable:
        message = (f"{key} is {shown}: the driver collects a broadcast table and builds its hash relation "
                   f"(about {rule.threshold('copies'):g}x, {mib(needed)}), more than the {mib(max(usable, 0))} "
                   f"of unified memory in a {ctx.text('spark.driver.memory')} driver")
        room = max(1, int(usable / rule.threshold("copies") / _MIB))
        fix = [ctx.change(rule, key, f"{room}m", "fit the broadcast in the driver's unified memory"),
               ctx.change(rule, "spark.driver.memory", gib(math.ceil(
                   (needed / rule.threshold("memory_fraction") + rule.threshold_bytes("reserved")) / 1024**3) * 1024**3),
                   "or give the driver room for the broadcast")]
        return [ctx.finding(rule, message, [key, "spark.driver.memory"], fix)]
    if ctx.is_set(key) and threshold > rule.threshold_bytes("large"):
        message = (f"{key} is {shown}: every executor receives a copy of each table up to that size; above "
                   f"{mib(rule.threshold_bytes('large'))} broadcasts cost time and memory on all of them")
        return [ctx.finding(rule, message, [key], severity="info")]
    return []


@check("max-result-size")
def max_result_size(ctx: Context, rule: Rule) -> list[Finding] | Skip:
    key = "spark.driver.maxResultSize"
    if not ctx.is_set(key):
        return []
    limit = ctx.size(key)
    driver = ctx.size("spark.driver.memory", "m")
    if limit is None or driver is None:
        return []
    if limit == 0:
        message = (f"{key} is 0 (unlimited): a large collect() or toPandas() kills the driver with an "
                   "out-of-memory error instead of failing the job cleanly")
    elif limit >= rule.threshold("driver_fraction") * driver:
        message = (f"{key} is {ctx.text(key)} but the driver has {ctx.text('spark.driver.memory')}: the results are "
                   "deserialized in the driver, so it runs out of memory before the limit can stop the job")
    else:
        return []
    suggested = max(1, int(driver * rule.threshold("suggested_fraction") / _MIB))
    fix = [ctx.change(rule, key, f"{suggested}m", "a limit the driver can hold, so the job fails with a clear error")]
    return [ctx.finding(rule, message, [key, "spark.driver.memory"], fix)]
