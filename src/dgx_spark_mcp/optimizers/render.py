"""Plain-text view of an optimized configuration for people at a terminal (``tune`` without --json)."""

from __future__ import annotations

from ..hardware.render import table
from .models import SparkConfig

__all__ = ["render_config"]


def render_config(c: SparkConfig) -> str:
    p = c.plan
    out = [
        f"{c.workload} on {c.hardware}, {c.nodes} node(s), {c.deploy_mode}, Spark {c.spark_version}, "
        f"GPU {'on (RAPIDS)' if c.gpu_enabled else 'off'}",
        f"Per node: {p.usable_cores}/{p.node_cores} cores and {p.usable_memory_mib}/{p.node_memory_mib} MiB usable; "
        f"{p.executors_per_node} executor(s) x {p.executor_cores} cores, container {p.container_mib} MiB "
        f"(heap {p.heap_mib} + overhead {p.overhead_mib} + PySpark {p.pyspark_mib}); "
        f"{p.executors_total} executors, {p.task_slots_total} task slots in all",
        "",
        table(["key", "value", "why"], [[key, value, reason] for key, (value, reason, _) in c.config.items()]),
    ]
    if c.changes:
        out += ["", "Changes from the current configuration:"]
        out += [f"  {ch.key}: {ch.current_value} -> {ch.recommended_value if ch.recommended_value is not None else '(remove)'}"
                for ch in c.changes]
    if c.warnings:
        out += ["", *[f"WARNING: {w}" for w in c.warnings]]
    out += [f"note: {n}" for n in c.notes]
    out += ["", "Print one form with --output conf|submit|k8s; --json for the key map with reasons and references."]
    return "\n".join(out)
