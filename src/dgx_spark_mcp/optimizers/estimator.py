"""Resource and runtime estimates for a Spark job: from a description and/or a data size.

The estimate puts together pieces that each live in their own module: the workload class
(:mod:`.workload`), the executor sizing of the target (:mod:`.sizing`, never a second memory
model), the throughput model (:mod:`.throughput`) and past runs (:mod:`.history`).

Runtime, two methods:

* **calibrated**, when similar past runs exist: each run i with input I_i, duration d_i and
  P_i parallel units (task slots on CPUs, GPUs on GPUs) predicts, for this job's input S on
  P units, t_i = d_i × (S / I_i) × (P_i / P); the range is
  [min t_i × (1 − m), max t_i × (1 + m)] with m = ``calibration_margin``.
* **throughput model** otherwise: start-up + work, where work comes from the model's terms
  (see :mod:`.throughput`) and the range is [work_fast × low_factor, work_slow × high_factor],
  times ``spill_slowdown`` at the high end when the working set does not fit in memory.

Nothing here divides by a value that can be zero: slots, nodes and GPUs are ≥ 1, sizes ≥ 0.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from ..errors import BadInputError, CouldNotDoError
from ..hardware.profiles import Sourced
from ..pricing import gpu_cost_formula, gpu_cost_usd
from ..settings import Settings
from .estimate_models import (
    MAX_NODES,
    CostEstimate,
    EstimateRequest,
    Feasibility,
    PastRunUse,
    ResourceEstimate,
    Resources,
    RuntimeEstimate,
    UsedConstant,
)
from .durations import parse_duration
from .gpu_choice import gpu_wanted
from .history import PastRun, similar_runs
from .models import DeployMode, ExecutorPlan, GpuChoice, Workload
from .sizes import parse_size
from .sizing import constants as sizing_constants
from .sizing import size_cpu, size_gpu
from .target import Target, resolve_target
from .throughput import (
    Operation,
    OperationTime,
    SpeedupRange,
    detect_format,
    intensity,
    network_mb_s,
    operation_times,
    throughput,
    work_seconds,
    working_set,
)
from .workload import Confidence, classify_workload, sizes_in_text

__all__ = ["EstimateRequest", "ResourceEstimate", "estimate"]

GIB = 1024**3


def _data_size(request: EstimateRequest, notes: list[str]) -> tuple[int | None, str | None]:
    if request.data_size is not None:
        return parse_size(request.data_size), "argument"
    found = sizes_in_text(request.description or "")
    if not found:
        notes.append("no data size given or written in the description: resources are sized, runtime is not; pass data_size")
        return None, None
    text, size = max(found, key=lambda item: item[1])
    others = [t for t, _ in found if t != text]
    notes.append(
        f"data size read from the description: {text!r}" + (f" (the largest size mentioned; also saw {others})" if others else "")
        + "; pass data_size to be exact"
    )
    return size, text


def _operations(request: EstimateRequest, workload: Workload, notes: list[str]) -> list[Operation]:
    if not request.operations:
        default = throughput().default_operations[workload]
        notes.append(f"no operations given: assumed {', '.join(default.value)} ({default.source})")
        return list(default.value)
    ops = list(dict.fromkeys(request.operations))
    if Operation.SCAN not in ops:
        notes.append("every job reads its input: 'scan' added before the operations given")
        ops.insert(0, Operation.SCAN)
    return ops


def _use_gpu(request: EstimateRequest, target: Target, workload: Workload, terms: list[OperationTime],
             notes: list[str]) -> bool:
    if not gpu_wanted(request.gpu, target, workload, notes):
        return False
    if request.gpu is GpuChoice.ON:
        return True
    cpu, fastest_gpu = work_seconds(terms, gpu=False)[0], work_seconds(terms, gpu=True)[0]
    best = cpu / fastest_gpu if fastest_gpu > 0 else 1.0
    floor = throughput().gpu_not_applicable_below
    if best < floor.value:
        notes.append(f"GPUs present but not used: at best {best:.2f}x faster on RAPIDS for these operations, "
                     f"below the {floor.value}x 'Not Applicable' line ({floor.source}); pass gpu='on' to force it")
        return False
    return True


def _hardware_key(target: Target) -> str | None:
    """How the history names this hardware: the profile name, or this machine's hostname; None for a spec."""
    if target.snapshot.source == "profile":
        return None if target.snapshot.profile == "spec" else target.snapshot.profile
    return target.snapshot.host.hostname


def _gpu_pool_gib(target: Target, gpu_plan: ExecutorPlan) -> float | None:
    """GPU memory RAPIDS takes per GPU: the RMM pool, or the unified-memory share on GB10-style nodes."""
    assert target.gpus is not None
    if target.gpus.unified:
        share = sizing_constants().unified_gpu_share.value
        return gpu_plan.usable_memory_mib * share / (1 - share) / 1024  # size_gpu left usable × (1 − share)
    if target.gpus.memory_mib <= 0:
        return None
    return target.gpus.memory_mib * throughput().rmm_pool_fraction.value / 1024


@dataclass
class _Job:
    """What the estimate has resolved about the job and the cluster, per node where it scales."""

    size: int | None
    ops: list[Operation]
    fmt: str
    workload: Workload
    target: Target
    gpu: bool
    plan: ExecutorPlan
    cpu_slots_per_node: int
    nodes: int
    net_mb_s: float
    gpu_pool_gib: float | None
    terms: list[OperationTime]

    @property
    def hardware_key(self) -> str | None:
        return _hardware_key(self.target)

    @property
    def working_set(self) -> tuple[int, str | None]:
        """Bytes held at once and what decides it: the largest operation factor, or at least the
        partitions every task slot has in flight (a streaming job still holds one split per task)."""
        by_operation, operation = working_set(self.size or 0, self.ops)
        c = sizing_constants()
        partition_mib = (c.target_partition_mib_gpu if self.gpu else c.target_partition_mib_cpu).value
        in_flight = min(self.size or 0, self.plan.task_slots_total * partition_mib * 1024**2)
        if by_operation >= in_flight:
            return by_operation, str(operation) if operation is not None else None
        return in_flight, "partitions in flight (task slots x maxPartitionBytes)"

    @property
    def working_set_bytes(self) -> int:
        return self.working_set[0]

    def units(self, nodes: int) -> int:
        """Parallel units on ``nodes`` nodes: GPUs on a GPU estimate, CPU task slots otherwise."""
        return (self.plan.executors_per_node if self.gpu else self.cpu_slots_per_node) * nodes

    def memory_gib(self, nodes: int) -> float:
        """Spark execution+storage memory ((heap − reserved) × fraction per executor) plus the GPU pools."""
        t = throughput()
        per_executor = max(0, self.plan.heap_mib - t.reserved_heap_mib.value) * t.memory_fraction.value / 1024
        pools = (self.gpu_pool_gib or 0.0) * self.plan.executors_per_node if self.gpu else 0.0
        return (per_executor * self.plan.executors_per_node + pools) * nodes

    def model_at(self, nodes: int) -> tuple[float, float]:
        """The throughput model's (low, high) seconds on ``nodes`` nodes."""
        t = throughput()
        terms = operation_times(self.size or 0, self.ops, self.fmt, self.cpu_slots_per_node * nodes, nodes, self.net_mb_s)
        fast, slow = work_seconds(terms, self.gpu)
        spill = t.spill_slowdown.value if self.working_set_bytes > self.memory_gib(nodes) * GIB else 1.0
        return (t.startup_s.value + fast * t.model_low_factor.value,
                t.startup_s.value + slow * t.model_high_factor.value * spill)


Runtime = Callable[[int], tuple[float, float]]
"""(low, high) seconds as a function of the node count."""


def _calibrated(job: _Job, runs: list[PastRun]) -> tuple[RuntimeEstimate, Runtime]:
    assert job.size is not None
    margin = throughput().calibration_margin.value
    size = job.size

    def run_units(run: PastRun) -> int:
        return max(1, run.gpus) if job.gpu else run.task_slots

    def scaled(run: PastRun, nodes: int) -> float:
        return run.duration_ms / 1000 * (size / max(1, run.input_bytes)) * (run_units(run) / job.units(nodes))

    def at(nodes: int) -> tuple[float, float]:
        times = [scaled(run, nodes) for run in runs]
        return min(times) * (1 - margin), max(times) * (1 + margin)

    used = [
        PastRunUse(run_id=r.run_id, app_id=r.app_id, app_name=r.app_name, hardware=r.hardware,
                   input_bytes=r.input_bytes, duration_s=r.duration_ms / 1000, parallel_units=run_units(r),
                   scaled_s=round(scaled(r, job.nodes), 1))
        for r in runs
    ]
    same = sum(1 for r in runs if r.hardware is not None and r.hardware == job.hardware_key)
    scaled_times = [scaled(r, job.nodes) for r in runs]
    agree = max(scaled_times) <= 1.5 * min(scaled_times)
    confidence: Confidence = "high" if len(runs) >= 3 and same == len(runs) and agree else "medium"
    low, high = at(job.nodes)
    unit = "GPUs" if job.gpu else "task slots"
    return RuntimeEstimate(
        low_s=round(low, 1), high_s=round(high, 1), confidence=confidence,
        method=f"calibrated from {len(runs)} similar past run(s): "
               + ", ".join(f"{u.app_name or u.app_id} ({u.run_id})" for u in used),
        formula=f"t_i = d_i x (S / I_i) x (P_i / P) with P = {unit} ({job.units(job.nodes)} here); "
                f"range = [min t_i x (1 - {margin}), max t_i x (1 + {margin})]",
        past_runs=used,
    ), at


def _modelled(job: _Job) -> tuple[RuntimeEstimate, Runtime]:
    t = throughput()
    low, high = job.model_at(job.nodes)
    gpu = "; on GPUs each operation's time is divided by its RAPIDS speedup range" if job.gpu else ""
    return RuntimeEstimate(
        low_s=round(low, 1), high_s=round(high, 1), confidence="low", method="throughput model",
        formula=f"start-up {t.startup_s.value:g} s + work, work = sum of MB / (MB/s per slot x {job.cpu_slots_per_node * job.nodes} slots)"
                f" + shuffle + network{gpu}; range = [work x {t.model_low_factor.value:g}, work x {t.model_high_factor.value:g}"
                f" (x {t.spill_slowdown.value:g} when the working set spills)]",
        terms=job.terms,
    ), job.model_at


def _runtime(job: _Job, settings: Settings, notes: list[str]) -> tuple[RuntimeEstimate | None, Runtime | None]:
    t = throughput()
    if job.size is None:
        return None, None
    if job.size == 0:
        notes.append("zero bytes of input: the estimate is the start-up time alone")
        return RuntimeEstimate(low_s=0.0, high_s=t.startup_s.value, confidence="medium", method="trivial",
                               formula="no input data: between 0 s and the start-up time"), lambda n: (0.0, t.startup_s.value)
    try:
        runs = similar_runs(settings, job.size, job.workload, job.hardware_key, gpu=job.gpu)
    except CouldNotDoError as exc:
        notes.append(f"past runs could not be read, so the estimate is not calibrated: {exc}")
        runs = []
    return _calibrated(job, runs) if runs else _modelled(job)


def _feasibility(job: _Job, runtime: Runtime | None, deadline_s: float | None) -> Feasibility:
    reasons: list[str] = []
    memory: Literal["in-memory", "spills", "unknown"] = "unknown"
    spill_gib = nodes_for_memory = None
    if job.size is not None:
        needed, available = job.working_set_bytes / GIB, job.memory_gib(job.nodes)
        if needed <= available:
            memory = "in-memory"
            reasons.append(f"working set {needed:.1f} GiB fits in {available:.1f} GiB of Spark memory")
        else:
            memory, spill_gib = "spills", round(needed - available, 2)
            per_node = job.memory_gib(1)
            nodes_for_memory = math.ceil(needed / per_node) if per_node > 0 and needed / per_node <= MAX_NODES else None
            hold = f"{nodes_for_memory} node(s) of this kind hold it in memory" if nodes_for_memory else \
                f"not even {MAX_NODES} nodes of this kind hold it in memory"
            reasons.append(f"working set {needed:.1f} GiB exceeds {available:.1f} GiB of Spark memory: about "
                           f"{spill_gib:.1f} GiB spills to local disk (slower, needs that much free disk); {hold}")
    meets: Literal["yes", "at-risk", "no"] | None = None
    nodes_for_deadline = None
    if deadline_s is not None and runtime is None:
        reasons.append("no data size, so the runtime and the deadline cannot be compared")
    elif deadline_s is not None and runtime is not None:
        low, high = runtime(job.nodes)
        meets = "yes" if high <= deadline_s else "no" if low > deadline_s else "at-risk"
        if meets == "yes":
            reasons.append(f"even the slow end ({high:.0f} s) meets the deadline of {deadline_s:.0f} s")
        else:
            nodes_for_deadline = next((n for n in range(job.nodes + 1, MAX_NODES + 1) if runtime(n)[1] <= deadline_s), None)
            late = "even the fast end" if meets == "no" else "the slow end"
            more = f"{nodes_for_deadline} node(s) of this kind would meet it at the slow end" if nodes_for_deadline \
                else f"no cluster of up to {MAX_NODES} nodes of this kind meets it in this model"
            reasons.append(f"{late} ({low if meets == 'no' else high:.0f} s) misses the deadline of {deadline_s:.0f} s; {more}")
    if job.size is None and deadline_s is None:
        verdict: Literal["fits", "at-risk", "does-not-fit", "unknown"] = "unknown"
        reasons.append("give data_size to judge memory and runtime")
    elif meets == "no":
        verdict = "does-not-fit"
    elif meets == "at-risk" or memory == "spills":
        verdict = "at-risk"
    else:
        verdict = "fits" if job.size is not None else "unknown"
    return Feasibility(verdict=verdict, memory=memory, spill_gib=spill_gib, nodes_for_memory=nodes_for_memory,
                       deadline_s=deadline_s, meets_deadline=meets, nodes_for_deadline=nodes_for_deadline, reasons=reasons)


def _cost(job: _Job, runtime: RuntimeEstimate | None, notes: list[str]) -> CostEstimate | None:
    if not job.gpu:
        notes.append("cost unknown: there is no sourced CPU core-hour price (data/prices.json); GPU runs are priced by the GPU-hour")
        return None
    if runtime is None:
        notes.append("cost unknown without a runtime; pass data_size")
        return None
    if job.gpu_pool_gib is None:
        notes.append("GPU memory unknown: the memory overage of the billing model is left out of the cost")
    gpus = job.plan.executors_total
    hours = (runtime.low_s / 3600 * gpus, runtime.high_s / 3600 * gpus)
    return CostEstimate(
        low_usd=gpu_cost_usd(hours[0], job.gpu_pool_gib), high_usd=gpu_cost_usd(hours[1], job.gpu_pool_gib),
        gpu_hours_low=round(hours[0], 3), gpu_hours_high=round(hours[1], 3),
        formula=gpu_cost_formula(job.gpu_pool_gib) + "; memory = RAPIDS' pool per GPU; GPUs charged at 100% utilisation "
        "(the billing model's effective GPU-hours need the mean utilisation, measured only after the run)",
    )


def _constants(job: _Job, runtime: RuntimeEstimate | None) -> list[UsedConstant]:
    """The constants that shaped this estimate, each with its source (the rest are in data/throughput.json)."""
    t = throughput()
    used: list[tuple[str, Sourced[Any], str]] = [
        (f"formats.{job.fmt}.cpu_mb_s_per_core", t.formats[job.fmt].cpu_mb_s_per_core, "MB/s per slot"),
    ]
    if job.gpu:
        used.append((f"formats.{job.fmt}.gpu_speedup", t.formats[job.fmt].gpu_speedup, "x"))
    for op in job.ops:
        rates = t.operations[op]
        if rates.cpu_mb_s_per_core is not None:
            used.append((f"operations.{op}.cpu_mb_s_per_core", rates.cpu_mb_s_per_core, "MB/s per slot"))
        if job.gpu and rates.gpu_speedup is not None:
            used.append((f"operations.{op}.gpu_speedup", rates.gpu_speedup, "x"))
        if rates.volume_fraction.value != 1:
            used.append((f"operations.{op}.volume_fraction", rates.volume_fraction, "x input"))
        for name in ("shuffle_fraction", "memory_factor"):
            if getattr(rates, name).value:
                used.append((f"operations.{op}.{name}", getattr(rates, name), "x input"))
    if any(t.operations[op].shuffle_fraction.value for op in job.ops):
        used.append(("shuffle_mb_s_per_core", t.shuffle_mb_s_per_core, "MB/s per slot"))
        if job.nodes > 1:
            net_source = network_mb_s(job.target)[1]
            used.append(("network_mb_s_per_node", Sourced[float](value=job.net_mb_s, source=net_source), "MB/s"))
    used += [("memory_fraction", t.memory_fraction, "of heap - reserved"), ("reserved_heap_mib", t.reserved_heap_mib, "MiB")]
    if runtime is not None and runtime.past_runs:
        used.append(("calibration_margin", t.calibration_margin, "fraction"))
    elif runtime is not None:
        used += [("startup_s", t.startup_s, "s"), ("model_low_factor", t.model_low_factor, "x"),
                 ("model_high_factor", t.model_high_factor, "x"), ("spill_slowdown", t.spill_slowdown, "x")]
    out = []
    for name, sourced, unit in used:
        value = sourced.value
        if isinstance(value, SpeedupRange):
            value = f"{value.low:g}-{value.high:g}"
        out.append(UsedConstant(name=name, value=value, unit=unit, source=sourced.source))
    return out


def estimate(request: EstimateRequest, settings: Settings, nvml: Any | None = None) -> ResourceEstimate:
    """Executors, memory, cores, GPUs, runtime range, feasibility and cost of one Spark job."""
    if not (request.description and request.description.strip()) and request.data_size is None:
        raise BadInputError(
            "nothing to estimate: give a description of the job (e.g. 'nightly ETL joining 2 TB of orders "
            "with customers'), a data_size (e.g. '500GiB'), or both"
        )
    notes: list[str] = []
    deadline_s = parse_duration(request.deadline, "deadline") if request.deadline is not None else None
    size, size_from = _data_size(request, notes)
    classification = classify_workload(request.description, request.operations or (), request.workload)
    if classification.note:
        notes.append(classification.note)
    workload = classification.workload
    ops = _operations(request, workload, notes)
    fmt, formats_seen = detect_format(request.description)
    if not formats_seen:
        notes.append(f"no input format named: assumed {fmt} ({throughput().default_format.source})")
    elif len(formats_seen) > 1:
        notes.append(f"formats {formats_seen} mentioned: the scan uses the slowest, {fmt}, to stay on the safe side")
    target = resolve_target(request.hardware, nvml=nvml)
    deploy = DeployMode.STANDALONE
    cpu_plan = size_cpu(target.snapshot, request.nodes, workload, deploy)
    net, _ = network_mb_s(target)
    nominal = size if size else GIB  # the model is linear: shares and the GPU decision do not depend on size
    cpu_slots = cpu_plan.executors_per_node * cpu_plan.executor_cores
    terms = operation_times(nominal, ops, fmt, cpu_slots * request.nodes, request.nodes, net)
    gpu = _use_gpu(request, target, workload, terms, notes)
    plan, pool = cpu_plan, None
    if gpu:
        assert target.gpus is not None
        plan = size_gpu(target.snapshot, target.gpus, request.nodes, workload, deploy)[0]
        pool = _gpu_pool_gib(target, plan)
    job = _Job(size=size, ops=ops, fmt=fmt, workload=workload, target=target, gpu=gpu, plan=plan,
               cpu_slots_per_node=cpu_slots, nodes=request.nodes, net_mb_s=net, gpu_pool_gib=pool,
               terms=[_rounded(term) for term in terms] if size else [])
    runtime, runtime_at = _runtime(job, settings, notes)
    ws_bytes, ws_by = job.working_set
    resources = Resources(
        executors=plan.executors_total, executor_cores=plan.executor_cores, executor_memory_mib=plan.container_mib,
        heap_mib=plan.heap_mib, cores_total=plan.executors_total * plan.executor_cores,
        gpus_total=plan.executors_total if gpu else 0,
        memory_needed_gib=round(ws_bytes / GIB, 2) if size is not None else None,
        memory_needed_by=ws_by if size is not None else None,
        memory_available_gib=round(job.memory_gib(request.nodes), 2),
        gpu_memory_gib=round(pool * plan.executors_total, 2) if gpu and pool is not None else None,
    )
    return ResourceEstimate(
        workload=classification, data_size_bytes=size, data_size_from=size_from, operations=ops, input_format=fmt,
        intensity=intensity(terms), hardware=target.label, nodes=request.nodes, gpu_enabled=gpu, resources=resources,
        runtime=runtime, feasibility=_feasibility(job, runtime_at, deadline_s), cost=_cost(job, runtime, notes),
        constants=_constants(job, runtime), warnings=list(target.warnings), notes=notes,
    )


def _rounded(term: OperationTime) -> OperationTime:
    return term.model_copy(update={"megabytes": round(term.megabytes, 1), "cpu_seconds": round(term.cpu_seconds, 2)})
