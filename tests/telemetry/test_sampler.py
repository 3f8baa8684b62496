"""The NVML sampler: recorded NVML answers replayed into the real store; collect stopped by a real signal."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable

import pytest
from mcp import Client

from dgx_spark_mcp.errors import BadInputError
from dgx_spark_mcp.hardware.nvml_recording import ReplayNvml
from dgx_spark_mcp.server import build_server
from dgx_spark_mcp.settings import Settings
from dgx_spark_mcp.telemetry.metrics import metrics
from dgx_spark_mcp.telemetry.sampler import NVML_READINGS, collect, sample_gpus
from dgx_spark_mcp.telemetry.store import TelemetryStore

from ..conftest import NVML_FIXTURES, structured

Machine = Callable[[str], ReplayNvml]
NVML_METRICS = [m.name for m in metrics().metrics if m.nvml is not None]


def _stored(settings: Settings, sql: str) -> list[tuple]:
    with TelemetryStore(settings).reader() as con:
        return con.execute(sql).fetchall()


def test_every_nvml_reading_of_the_registry_is_taken() -> None:
    assert {m.nvml for m in metrics().metrics if m.nvml is not None} == set(NVML_READINGS)


def test_gb10_samples_store_nulls_for_what_nvml_refuses(settings: Settings, machine: Machine) -> None:
    result = sample_gpus(settings, duration_s=0.5, interval_s=0.1, nvml=machine("gb10"))
    assert result.available and result.driver_version == "580.95.05" and result.ticks == 6
    assert result.samples == result.stored == 6 * len(NVML_METRICS) and len(result.batches) == 1
    (gpu,) = result.gpus
    assert gpu.model == "NVIDIA GB10" and gpu.uuid == "GPU-5e2b1c9a-0b7d-4f3e-9a51-3c2d7e8f9a10"
    # Recorded as NVML_ERROR_NOT_SUPPORTED on GB10 (unified memory, no memory clock, no thresholds);
    # energy is absent from the recording, so it is NULL too rather than invented.
    assert set(gpu.unsupported) == {
        "DCGM_FI_DEV_FB_USED", "DCGM_FI_DEV_FB_FREE", "DCGM_FI_DEV_MEM_CLOCK", "DCGM_FI_DEV_SLOWDOWN_TEMP",
        "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION",
    }
    values = dict(_stored(settings, "SELECT metric, any_value(value) FROM samples GROUP BY metric"))
    assert values["DCGM_FI_DEV_POWER_USAGE"] == pytest.approx(4.62)  # 4620 mW
    assert values["DCGM_FI_DEV_GPU_TEMP"] == 41 and values["DCGM_FI_DEV_SM_CLOCK"] == 208
    assert values["DCGM_FI_DEV_CLOCK_THROTTLE_REASONS"] == 1 and values["DCGM_FI_DEV_FB_USED"] is None
    assert _stored(settings, "SELECT count(DISTINCT ts), count(*) FROM samples") == [(6, result.samples)]
    assert _stored(settings, "SELECT host, gpu_index, model, driver, samples FROM gpus") == [
        (result.host, 0, "NVIDIA GB10", "580.95.05", result.samples)
    ]


def test_dgx_h100_samples_every_gpu_in_stored_units(settings: Settings, machine: Machine) -> None:
    result = sample_gpus(settings, duration_s=0.2, interval_s=0.1, nvml=machine("dgx-h100"))
    assert [g.index for g in result.gpus] == list(range(8)) and result.stored == 3 * 8 * len(NVML_METRICS)
    calls = json.loads((NVML_FIXTURES / "dgx-h100.json").read_text())["calls"]
    rows = dict(((u, m), v) for u, m, v in _stored(settings, "SELECT uuid, metric, any_value(value) FROM samples GROUP BY ALL"))
    uuid3 = calls["nvmlDeviceGetUUID(gpu3)"]
    mem3 = calls["nvmlDeviceGetMemoryInfo(gpu3)"]
    assert rows[(uuid3, "DCGM_FI_DEV_FB_USED")] == pytest.approx(mem3["used"] / 2**20)
    assert rows[(uuid3, "DCGM_FI_DEV_POWER_USAGE")] == pytest.approx(calls["nvmlDeviceGetPowerUsage(gpu3)"] / 1000)
    assert rows[(uuid3, "DCGM_FI_DEV_GPU_UTIL")] == calls["nvmlDeviceGetUtilizationRates(gpu3)"]["gpu"]
    assert rows[(uuid3, "DCGM_FI_DEV_SLOWDOWN_TEMP")] == calls["nvmlDeviceGetTemperatureThreshold(gpu3,1)"]


def test_no_gpu_stack_is_an_answer_not_an_error(settings: Settings) -> None:
    # Error 12 is what nvmlInit says where libnvidia-ml.so.1 is missing (this CI machine, recorded).
    result = sample_gpus(settings, 1, 0.5, nvml=ReplayNvml({"nvmlInit()": {"__error__": 12}}))
    assert not result.available and "NVML could not start" in (result.reason or "")
    assert result.samples == 0 and not TelemetryStore(settings).batches()


def test_bounds_are_checked(settings: Settings, machine: Machine) -> None:
    with pytest.raises(BadInputError, match="duration_s 301"):
        sample_gpus(settings, 301, 1, nvml=machine("gb10"))
    with pytest.raises(BadInputError, match="interval_s 0.05"):
        sample_gpus(settings, 1, 0.05, nvml=machine("gb10"))
    with pytest.raises(BadInputError, match="longer than duration_s"):
        sample_gpus(settings, 1, 2, nvml=machine("gb10"))
    with pytest.raises(BadInputError, match="flush_every_s 0.1"):
        collect(settings, 0.5, flush_every_s=0.1, nvml=machine("gb10"))


def test_collect_flushes_while_running_and_the_rest_on_stop(settings: Settings, machine: Machine) -> None:
    stop = threading.Event()
    flushed = []
    worker = threading.Thread(
        target=lambda: flushed.append(collect(settings, 0.1, flush_every_s=0.3, nvml=machine("gb10"), stop=stop))
    )
    worker.start()
    time.sleep(1.2)
    stop.set()
    worker.join(10)
    (result,) = flushed
    assert result.stopped_by == "event" and len(result.batches) >= 3
    assert result.samples == result.stored == result.ticks * len(NVML_METRICS)
    assert _stored(settings, "SELECT count(*) FROM samples") == [(result.samples,)]


CHILD = """
import json, sys
from pathlib import Path
from dgx_spark_mcp.hardware.nvml_recording import load_recording
from dgx_spark_mcp.server import build_server
from dgx_spark_mcp.settings import Settings
from dgx_spark_mcp.telemetry.sampler import collect
settings = Settings(home=Path(sys.argv[1]), allowed_roots=[sys.argv[1]])
nvml = load_recording(Path(sys.argv[2]))[1]
def flushed(commit):
    print("flushed", commit.stored, flush=True)
result = collect(settings, 0.1, flush_every_s=0.3, nvml=nvml, on_flush=flushed)
print(result.model_dump_json(), flush=True)
"""


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signalled_collector_stores_every_sample(settings: Settings, sig: signal.Signals) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(settings.home), str(NVML_FIXTURES / "dgx-h100.json")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    try:
        assert child.stdout is not None
        for _ in range(2):  # two batches committed while running
            assert child.stdout.readline().startswith("flushed"), child.stderr.read() if child.stderr else ""
        time.sleep(0.15)  # mid-way between flushes: samples are waiting in memory
        child.send_signal(sig)
        out, err = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 0, err
    result = json.loads(out.strip().splitlines()[-1])
    assert result["stopped_by"] == sig.name and len(result["batches"]) >= 2
    assert result["samples"] == result["stored"] == result["ticks"] * 8 * len(NVML_METRICS) > 0
    assert _stored(settings, "SELECT count(*) FROM samples") == [(result["samples"],)]


@pytest.mark.anyio
async def test_the_tool_samples_through_the_app_nvml(settings: Settings, machine: Machine) -> None:
    async with Client(build_server(settings, nvml=machine("gb10")), raise_exceptions=True) as client:
        result = structured(await client.call_tool("sample_gpus", {"duration_s": 0.3, "interval_s": 0.1}))
        assert result["available"] and result["stored"] == 4 * len(NVML_METRICS)
        refused = await client.call_tool("sample_gpus", {"duration_s": 600})
        assert refused.is_error
