"""estimate_resources / `dgx-spark-mcp estimate`: the throughput model, calibration, feasibility, cost."""

from __future__ import annotations

import hashlib
import importlib.resources
import json
import math
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings as hypothesis_settings
from hypothesis import strategies as st
from mcp import Client

from dgx_spark_mcp.cli import main
from dgx_spark_mcp.errors import BadInputError
from dgx_spark_mcp.hardware import get_profile, profile_snapshot
from dgx_spark_mcp.optimizers.durations import parse_duration
from dgx_spark_mcp.optimizers.estimate_models import EstimateRequest, ResourceEstimate
from dgx_spark_mcp.optimizers.estimator import estimate
from dgx_spark_mcp.optimizers.history import PastRun, record_runs
from dgx_spark_mcp.optimizers.models import DeployMode, GpuChoice, Workload
from dgx_spark_mcp.optimizers.sizing import size_cpu
from dgx_spark_mcp.optimizers.throughput import Operation, throughput
from dgx_spark_mcp.pricing import prices
from dgx_spark_mcp.settings import Settings
from dgx_spark_mcp.store import store_path

from ..conftest import structured

MB, GB = 10**6, 10**9
SCAN_AGG = [Operation.SCAN, Operation.AGGREGATE]


def _estimate(settings: Settings, **request: Any) -> ResourceEstimate:
    return estimate(EstimateRequest(**request), settings)


def _cpu_slots(profile: str, workload: Workload, nodes: int = 1) -> int:
    plan = size_cpu(profile_snapshot(get_profile(profile)), nodes, workload, DeployMode.STANDALONE)
    return plan.executors_per_node * plan.executor_cores * nodes


def _scan_agg_seconds(size_bytes: int, slots: int) -> tuple[float, float, float]:
    """(scan, aggregate, shuffle) seconds of parquet scan + aggregate, straight from data/throughput.json."""
    t, s = throughput(), size_bytes / MB
    agg = t.operations[Operation.AGGREGATE]
    assert agg.cpu_mb_s_per_core is not None
    return (s / (t.formats["parquet"].cpu_mb_s_per_core.value * slots),
            s / (agg.cpu_mb_s_per_core.value * slots),
            s * agg.shuffle_fraction.value / (t.shuffle_mb_s_per_core.value * slots))


# --- the registry -------------------------------------------------------------------------------

def _sources(value: Any, path: str = "") -> list[tuple[str, str]]:
    if isinstance(value, dict):
        found = [(path, value["source"])] if "source" in value and "value" in value else []
        return found + [s for k, v in value.items() for s in _sources(v, f"{path}.{k}")]
    return []


@pytest.mark.parametrize("filename", ["throughput.json", "prices.json"])
def test_every_constant_is_sourced_honestly(filename: str) -> None:
    """Each source is an explicit assumption, Spark semantics, or one of the file's named references."""
    raw = json.loads((importlib.resources.files("dgx_spark_mcp") / "data" / filename).read_text(encoding="utf-8"))
    sourced = _sources(raw)
    assert len(sourced) >= 5
    references = raw["references"]
    for path, source in sourced:
        honest = source.startswith(("assumption:", "Spark semantics:", "no sourced")) or any(
            re.match(rf"{re.escape(name)}\b", source) for name in references
        )
        assert honest, f"{filename}{path}: source {source!r} is neither an assumption nor a named reference"


def test_every_operation_has_rates_and_every_workload_default_operations() -> None:
    t = throughput()
    assert set(t.operations) == set(Operation)
    assert set(t.default_operations) == set(Workload)
    assert all(ops.value[0] is Operation.SCAN for ops in t.default_operations.values())


# --- inputs --------------------------------------------------------------------------------------

@pytest.mark.anyio
async def test_the_tool_needs_a_description_or_a_data_size(client: Client) -> None:
    result = await client.call_tool("estimate_resources", {"hardware": "dgx-h100"})
    assert result.is_error and "give a description of the job" in result.content[0].text  # type: ignore[union-attr]


@pytest.mark.parametrize(("text", "seconds"), [("2h", 7200), ("30m", 1800), ("1h30m", 5400), ("45 s", 45), (90, 90), ("3600", 3600)])
def test_deadlines_as_people_write_them(text: str | int, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["soon", "0", -5, "", "2 fortnights", math.inf])
def test_a_deadline_that_is_not_a_duration_is_bad_input(text: str | float) -> None:
    with pytest.raises(BadInputError, match="deadline"):
        parse_duration(text, "deadline")


def test_a_size_written_in_the_description_is_used_and_said(settings: Settings) -> None:
    e = _estimate(settings, description="aggregate 2 TB of orders and a 50 GB dimension", hardware="dgx-h100")
    assert e.data_size_bytes == 2 * 10**12 and e.data_size_from == "2 TB"
    assert any("largest size mentioned" in n for n in e.notes)


def test_the_slowest_format_mentioned_is_scanned(settings: Settings) -> None:
    e = _estimate(settings, description="read JSON logs and write Parquet", data_size="10GB", hardware="dgx-h100")
    assert e.input_format == "json" and any("slowest" in n for n in e.notes)


# --- the throughput model -------------------------------------------------------------------------

def test_cpu_runtime_follows_the_throughput_formula(settings: Settings) -> None:
    t, size = throughput(), 100 * GB
    e = _estimate(settings, data_size=size, operations=SCAN_AGG, hardware="generic-cpu-server", workload=Workload.SQL_ANALYTICS)
    work = sum(_scan_agg_seconds(size, _cpu_slots("generic-cpu-server", Workload.SQL_ANALYTICS)))
    assert e.runtime is not None and e.runtime.method == "throughput model" and e.runtime.confidence == "low"
    assert e.runtime.low_s == pytest.approx(t.startup_s.value + work * t.model_low_factor.value, abs=0.06)
    assert e.runtime.high_s == pytest.approx(t.startup_s.value + work * t.model_high_factor.value, abs=0.06)
    assert e.feasibility.memory == "in-memory" and not e.gpu_enabled and e.resources.gpus_total == 0


def test_gpu_runtime_divides_each_operation_by_its_speedup_range(settings: Settings) -> None:
    t, size = throughput(), 500 * GB
    e = _estimate(settings, data_size=size, operations=SCAN_AGG, hardware="dgx-h100", gpu="on", workload=Workload.SQL_ANALYTICS)
    scan, agg, shuffle = _scan_agg_seconds(size, _cpu_slots("dgx-h100", Workload.SQL_ANALYTICS))
    scan_x, agg_x = t.formats["parquet"].gpu_speedup.value, t.operations[Operation.AGGREGATE].gpu_speedup
    assert agg_x is not None
    fast = scan / scan_x.high + agg / agg_x.value.high + shuffle
    slow = scan / scan_x.low + agg / agg_x.value.low + shuffle
    assert e.gpu_enabled and e.resources.gpus_total == 8 and e.runtime is not None
    assert e.runtime.low_s == pytest.approx(t.startup_s.value + fast * t.model_low_factor.value, abs=0.06)
    assert e.runtime.high_s == pytest.approx(t.startup_s.value + slow * t.model_high_factor.value, abs=0.06)


def test_gpu_cost_follows_the_billing_model(settings: Settings) -> None:
    p = prices()
    e = _estimate(settings, data_size="1TB", operations=SCAN_AGG, hardware="dgx-h100", gpu="on")
    assert e.cost is not None and e.runtime is not None and e.resources.gpu_memory_gib is not None
    pool_gb = e.resources.gpu_memory_gib / e.resources.gpus_total  # RAPIDS' pool per GPU is what telemetry shows used
    per_hour = (p.gpu_hour_usd.value + max(0, pool_gb - p.memory_included_gb.value) * p.memory_overage_usd_per_gb_hour.value)
    hours = e.runtime.high_s / 3600 * e.resources.gpus_total
    assert e.cost.high_usd == pytest.approx(hours * per_hour * (1 + p.overhead_fraction.value), abs=0.01)
    assert e.cost.gpu_hours_high == pytest.approx(hours, abs=0.001)


def test_cpu_only_cost_is_unknown_with_a_note(settings: Settings) -> None:
    e = _estimate(settings, data_size="1TB", hardware="generic-cpu-server")
    assert e.cost is None and any("no sourced CPU core-hour price" in n for n in e.notes)


def test_gpu_on_without_a_gpu_is_bad_input(settings: Settings) -> None:
    with pytest.raises(BadInputError, match="no usable NVIDIA GPU"):
        _estimate(settings, data_size="1TB", hardware="generic-cpu-server", gpu="on")


def test_auto_leaves_gpus_idle_when_the_speedup_would_be_not_applicable(settings: Settings) -> None:
    e = _estimate(settings, data_size="1TB", operations=[Operation.SCAN, Operation.UDF_PYTHON], hardware="dgx-h100",
                  description="apply python udfs to every row", workload=Workload.ETL)
    assert not e.gpu_enabled and any("Not Applicable" in n for n in e.notes)
    forced = _estimate(settings, data_size="1TB", operations=[Operation.SCAN, Operation.UDF_PYTHON], hardware="dgx-h100",
                       gpu=GpuChoice.ON, workload=Workload.ETL)
    assert forced.gpu_enabled


def test_zero_bytes_is_a_trivial_estimate(settings: Settings) -> None:
    e = _estimate(settings, data_size=0, hardware="dgx-spark")
    assert e.runtime is not None and e.runtime.method == "trivial" and e.runtime.low_s == 0
    assert e.runtime.high_s == throughput().startup_s.value and any("zero bytes" in n for n in e.notes)


def test_without_a_size_resources_are_sized_and_runtime_is_not(settings: Settings) -> None:
    e = _estimate(settings, description="train an xgboost model", hardware="generic-cpu-server", deadline="1h")
    assert e.runtime is None and e.feasibility.verdict == "unknown" and e.resources.executors >= 1
    assert e.workload.workload is Workload.ML_TRAINING and e.operations == [Operation.SCAN, Operation.ML_TRAIN]


@pytest.mark.anyio
async def test_a_hand_written_node_spec_is_sized_like_a_profile(client: Client) -> None:
    spec = {"cpu_cores": 64, "memory_gib": 512, "gpu_count": 2, "gpu_model": "NVIDIA H100 80GB HBM3"}
    out = structured(await client.call_tool("estimate_resources", {"data_size": "200GB", "hardware": spec, "gpu": "on"}))
    assert out["gpu_enabled"] and out["resources"]["gpus_total"] == 2 and out["resources"]["executors"] == 2
    assert out["hardware"].startswith("spec (64 cores")


# --- feasibility ----------------------------------------------------------------------------------

def test_nodes_for_the_deadline_is_the_fewest_that_meet_it(settings: Settings) -> None:
    request = {"data_size": "2TB", "operations": ["join", "aggregate"], "hardware": "generic-cpu-server", "deadline": "1h"}
    e = _estimate(settings, **request)
    n = e.feasibility.nodes_for_deadline
    assert e.feasibility.meets_deadline in ("no", "at-risk") and e.feasibility.verdict != "fits" and n is not None
    at_n, below = _estimate(settings, **request, nodes=n), _estimate(settings, **request, nodes=n - 1)
    assert at_n.runtime is not None and below.runtime is not None
    assert at_n.runtime.high_s <= 3600 < below.runtime.high_s
    assert at_n.feasibility.meets_deadline == "yes"


def test_a_working_set_beyond_memory_spills_and_says_how_many_nodes_hold_it(settings: Settings) -> None:
    request = {"data_size": "500GiB", "operations": ["join"], "hardware": "dgx-spark"}
    e = _estimate(settings, **request)
    r, f = e.resources, e.feasibility
    assert r.memory_needed_gib is not None and r.memory_needed_gib > r.memory_available_gib
    assert f.memory == "spills" and f.verdict == "at-risk" and f.spill_gib == pytest.approx(r.memory_needed_gib - r.memory_available_gib, abs=0.01)
    n = f.nodes_for_memory
    assert n is not None
    assert _estimate(settings, **request, nodes=n).feasibility.memory == "in-memory"
    assert _estimate(settings, **request, nodes=n - 1).feasibility.memory == "spills"


# --- calibration from history ---------------------------------------------------------------------

def _past(app_id: str, input_gb: float, minutes: float) -> PastRun:
    """A CPU run of a nightly report on a DGX H100, as the event-log analysis records it."""
    return PastRun(app_id=app_id, app_name="nightly-sales-report", source_sha256=hashlib.sha256(app_id.encode()).hexdigest(),
                   spark_version="3.5.1", workload=Workload.SQL_ANALYTICS, input_bytes=int(input_gb * GB),
                   shuffle_read_bytes=int(input_gb * GB * 0.3), shuffle_write_bytes=int(input_gb * GB * 0.3),
                   duration_ms=int(minutes * 60_000), executors=20, executor_cores=5, executor_memory_mib=40960,
                   hardware="dgx-h100")


def test_similar_past_runs_calibrate_the_range_by_the_stated_formula(settings: Settings) -> None:
    request = {"data_size": 100 * GB, "operations": ["join", "aggregate"], "hardware": "dgx-h100", "gpu": "off",
               "workload": "sql-analytics"}
    modelled = _estimate(settings, **request)
    runs = [_past("app-0001", 80, 9.0), _past("app-0002", 120, 13.0), _past("app-0003", 100, 11.5),
            _past("app-far", 1000, 60.0)]  # 10x the input: not similar, must not be used
    record_runs(settings, runs)
    e = _estimate(settings, **request)
    margin, slots = throughput().calibration_margin.value, _cpu_slots("dgx-h100", Workload.SQL_ANALYTICS)
    scaled = [r.duration_ms / 1000 * (100 * GB / r.input_bytes) * (r.task_slots / slots) for r in runs[:3]]
    assert e.runtime is not None and modelled.runtime is not None
    assert e.runtime.method.startswith("calibrated from 3 similar past run(s)")
    assert {u.run_id for u in e.runtime.past_runs} == {r.run_id for r in runs[:3]}
    assert e.runtime.low_s == pytest.approx(min(scaled) * (1 - margin), abs=0.06)
    assert e.runtime.high_s == pytest.approx(max(scaled) * (1 + margin), abs=0.06)
    assert e.runtime.confidence == "high"  # three runs, same hardware, agreeing within 1.5x
    assert e.runtime.high_s / e.runtime.low_s < modelled.runtime.high_s / modelled.runtime.low_s
    assert any(c.name == "calibration_margin" for c in e.constants)


def test_a_damaged_history_falls_back_to_the_model_with_a_note(settings: Settings) -> None:
    settings.home.mkdir(parents=True)
    store_path(settings).write_bytes(b"not a database" * 100)
    e = _estimate(settings, data_size="100GB", hardware="dgx-h100", workload="sql-analytics")
    assert e.runtime is not None and e.runtime.method == "throughput model"
    assert any("past runs could not be read" in n and "move it aside" in n for n in e.notes)


# --- never NaN ------------------------------------------------------------------------------------

@hypothesis_settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    size=st.integers(min_value=0, max_value=10**16),
    nodes=st.integers(min_value=1, max_value=64),
    profile=st.sampled_from(["dgx-spark", "dgx-h100", "dgx-a100-40gb", "generic-cpu-server"]),
    ops=st.lists(st.sampled_from(list(Operation)), max_size=5),
    gpu=st.sampled_from(list(GpuChoice)),
    deadline=st.one_of(st.none(), st.integers(min_value=1, max_value=10**6)),
)
def test_no_estimate_has_nan_infinity_or_an_inverted_range(
    settings: Settings, size: int, nodes: int, profile: str, ops: list[Operation], gpu: GpuChoice, deadline: int | None
) -> None:
    if gpu is GpuChoice.ON and profile == "generic-cpu-server":
        gpu = GpuChoice.AUTO
    e = _estimate(settings, data_size=size, nodes=nodes, hardware=profile, operations=ops or None, gpu=gpu, deadline=deadline)
    json.dumps(e.model_dump(mode="json"), allow_nan=False)  # raises on NaN or Infinity
    assert e.runtime is not None and 0 <= e.runtime.low_s <= e.runtime.high_s
    assert e.resources.executors >= 1 and e.resources.cores_total >= 1
    if e.cost is not None:
        assert 0 <= e.cost.low_usd <= e.cost.high_usd


# --- the two faces --------------------------------------------------------------------------------

@pytest.mark.anyio
async def test_cli_json_equals_the_tool_output(capsys: pytest.CaptureFixture[str], client: Client, settings: Settings) -> None:
    args = {"description": "nightly ETL joining 2 TB of orders with customers", "operations": ["join", "write"],
            "deadline": "2h", "hardware": "dgx-spark", "nodes": 2}
    from_tool = structured(await client.call_tool("estimate_resources", args))
    assert main(["estimate", "--home", str(settings.home), "--description", args["description"], "--operations",
                 "join,write", "--deadline", "2h", "--hardware", "dgx-spark", "--nodes", "2", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == from_tool
    assert from_tool["feasibility"]["verdict"] in ("fits", "at-risk", "does-not-fit")


def test_cli_text_is_readable(capsys: pytest.CaptureFixture[str], settings: Settings) -> None:
    assert main(["estimate", "--home", str(settings.home), "--data-size", "1TB", "--hardware", "dgx-h100",
                 "--operations", "join,aggregate"]) == 0
    out = capsys.readouterr().out
    for heading in ("Resources:", "Memory: needs", "Runtime:", "Feasibility:", "Cost: $"):
        assert heading in out


def test_cli_errors_exit_2_with_the_message(capsys: pytest.CaptureFixture[str], settings: Settings) -> None:
    assert main(["estimate", "--home", str(settings.home), "--data-size", "1TB", "--operations", "join,teleport"]) == 2
    assert "teleport" in capsys.readouterr().err
