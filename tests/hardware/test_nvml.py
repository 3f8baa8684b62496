"""The NVML probe over machines recorded from published output, and the real no-GPU path."""

from __future__ import annotations

import ctypes
import json
from pathlib import Path
from typing import Any

import pynvml
import pytest

from dgx_spark_mcp.hardware.nvml import HostMemory, probe_gpus
from dgx_spark_mcp.hardware.nvml_recording import RecordingNvml, ReplayNvml
from dgx_spark_mcp.hardware.snapshot import detect

from ..conftest import NVML_FIXTURES

HOST = HostMemory(total_gib=119.0, available_gib=100.5)


def _calls(name: str) -> dict[str, Any]:
    return json.loads((NVML_FIXTURES / f"{name}.json").read_text())["calls"]


def test_no_gpu_here_is_a_normal_answer_with_the_reason() -> None:
    """On this machine libnvidia-ml is absent: the real pynvml path says so and host facts remain."""
    snap = detect()
    assert snap.source == "host"
    assert snap.gpu_stack.available is False
    assert "libnvidia-ml" in (snap.gpu_stack.reason or "")
    assert snap.gpus == []
    assert snap.host.cpu_logical_cores >= 1 and snap.host.memory_total_gib > 0
    assert any("no usable NVIDIA GPU stack" in w for w in snap.warnings)


def test_driver_not_loaded_is_reported_not_raised() -> None:
    calls = {"nvmlInit()": {"__error__": 9}}
    result = probe_gpus(ReplayNvml(calls))
    assert result.stack.available is False
    assert "driver is not loaded" in (result.stack.reason or "")


def test_gb10_unified_memory_takes_host_figures_and_says_so(machine: Any) -> None:
    result = probe_gpus(machine("gb10"), HOST)
    (gpu,) = result.gpus
    assert gpu.name == "NVIDIA GB10" and gpu.compute_capability == "12.1"
    assert gpu.pci_bus_id == "0000000F:01:00.0"
    assert gpu.memory is not None and gpu.memory.kind == "unified" and gpu.memory.shared_with_cpu
    assert gpu.memory.total_gib == 119.0 and gpu.memory.free_gib == 100.5 and gpu.memory.used_gib == 18.5
    assert result.stack.driver_version == "580.95.05" and result.stack.cuda_driver_version == "13.0"
    assert any("unified memory" in w for w in result.warnings)


def test_gb10_unsupported_fields_are_none_and_listed_never_zero(machine: Any) -> None:
    (gpu,) = probe_gpus(machine("gb10"), HOST).gpus
    missing = {u.field: u.reason.value for u in gpu.unavailable}
    for field in ("power_limit_w", "temperature_slowdown_c", "memory_clock_mhz", "ecc_mode", "mig_mode", "nvlink"):
        assert missing[field] == "not_supported"
    assert gpu.power_limit_w is None and gpu.temperature_slowdown_c is None and gpu.memory_clock_mhz is None
    assert gpu.ecc is None and gpu.mig_enabled is None and gpu.nvlink is None
    # the fields the GPU does support are still read
    assert gpu.power_draw_w == 4.62 and gpu.temperature_c == 41 and gpu.utilization_gpu_pct == 0
    assert gpu.processes is not None and gpu.processes[0].used_memory_gib == pytest.approx(18.687, abs=1e-3)


def test_gb10_memory_without_host_figures_stays_unknown(machine: Any) -> None:
    (gpu,) = probe_gpus(machine("gb10"), None).gpus
    assert gpu.memory is None
    assert any(u.field == "memory" for u in gpu.unavailable)


@pytest.mark.parametrize("name", ["gb10", "dgx-h100"])
def test_recordings_cover_every_call_the_probe_makes(machine: Any, name: str) -> None:
    """A call missing from a recording would read as an old driver; the fixtures must have them all."""
    result = probe_gpus(machine(name), HOST)
    stale = [(g.index, u.field) for g in result.gpus for u in g.unavailable if u.reason.value == "driver_too_old"]
    assert stale == []


def test_dgx_h100_reads_eight_gpus_with_every_field(machine: Any) -> None:
    result = probe_gpus(machine("dgx-h100"), HOST)
    assert len(result.gpus) == 8
    g0 = result.gpus[0]
    assert g0.name == "NVIDIA H100 80GB HBM3" and g0.compute_capability == "9.0"
    assert g0.memory is not None and g0.memory.kind == "dedicated" and g0.memory.total_gib == pytest.approx(79.647)
    assert (g0.temperature_slowdown_c, g0.temperature_shutdown_c, g0.temperature_max_operating_c) == (92, 97, 87)
    assert g0.power_limit_w == 700.0 and g0.sm_clock_max_mhz == 1980 and g0.memory_clock_max_mhz == 2619
    assert g0.ecc is not None and g0.ecc.enabled and g0.ecc.uncorrected_volatile == 0
    assert g0.nvlink is not None and (g0.nvlink.links_active, g0.nvlink.links_total, g0.nvlink.version) == (18, 18, 4)
    assert g0.clock_event_reasons == ["gpu_idle"]
    assert all(not g.unavailable for g in result.gpus)


def test_dgx_h100_throttling_ecc_processes_and_mig_are_decoded(machine: Any) -> None:
    gpus = probe_gpus(machine("dgx-h100"), HOST).gpus
    assert gpus[5].clock_event_reasons == ["sw_thermal_slowdown", "hw_thermal_slowdown"]
    assert gpus[5].ecc is not None and gpus[5].ecc.corrected_volatile == 12
    assert gpus[3].processes is not None and gpus[3].processes[0].pid == 48211
    assert gpus[7].mig_enabled is True
    assert [m.name for m in gpus[7].mig_devices] == ["NVIDIA H100 80GB HBM3 MIG 3g.40gb"] * 2
    assert [m.gpu_instance_id for m in gpus[7].mig_devices] == [2, 1]


def test_dgx_h100_topology_has_every_pair_with_socket_and_nvswitch(machine: Any) -> None:
    topo = probe_gpus(machine("dgx-h100"), HOST).topology
    assert len(topo) == 28
    by_pair = {(t.gpu_a, t.gpu_b): t for t in topo}
    assert by_pair[(0, 3)].common_ancestor == "node"
    assert by_pair[(0, 4)].common_ancestor == "system"
    assert all(t.nvlink == "nvswitch" and t.p2p_read == "ok" for t in topo)


def test_direct_nvlink_between_two_gpus_is_recognised(machine: Any) -> None:
    calls = _calls("dgx-h100")
    calls["nvmlDeviceGetCount()"] = 2
    for link in range(18):  # bridge GPU 0 and GPU 1 to each other instead of to switches
        calls[f"nvmlDeviceGetNvLinkRemotePciInfo(gpu0,{link})"] = {"busId": "00000000:2A:00.0"}
        calls[f"nvmlDeviceGetNvLinkRemotePciInfo(gpu1,{link})"] = {"busId": "00000000:18:00.0"}
    (link,) = probe_gpus(ReplayNvml(calls), HOST).topology
    assert link.nvlink == "direct"


def test_one_failing_field_never_fails_the_snapshot(machine: Any) -> None:
    calls = _calls("dgx-h100")
    calls["nvmlDeviceGetPowerUsage(gpu2)"] = {"__error__": 999}
    calls["nvmlDeviceGetTemperature(gpu2,0)"] = {"__error__": 4}
    gpus = probe_gpus(ReplayNvml(calls), HOST).gpus
    missing = {u.field: u.reason.value for u in gpus[2].unavailable}
    assert missing == {"power_draw_w": "error", "temperature_c": "no_permission"}
    assert gpus[2].power_draw_w is None and gpus[2].memory is not None and gpus[2].power_limit_w == 700.0


def test_nvml_not_available_sentinel_is_not_a_value(machine: Any) -> None:
    calls = _calls("dgx-h100")
    calls["nvmlDeviceGetTotalEccErrors(gpu1,1,1)"] = 0xFFFFFFFFFFFFFFFF
    gpus = probe_gpus(ReplayNvml(calls), HOST).gpus
    assert gpus[1].ecc is not None and gpus[1].ecc.uncorrected_aggregate is None
    assert [u.field for u in gpus[1].unavailable] == ["ecc.uncorrected_aggregate"]


def test_gpu_lost_mid_snapshot_keeps_the_rest_and_warns(machine: Any) -> None:
    calls = _calls("dgx-h100")
    for key in list(calls):
        if "(gpu6" in key and not key.startswith("nvmlDeviceGetHandleByIndex"):
            if not key.startswith(("nvmlDeviceGetName", "nvmlDeviceGetUUID", "nvmlDeviceGetPciInfo")):
                calls[key] = {"__error__": 15}
    result = probe_gpus(ReplayNvml(calls), HOST)
    assert len(result.gpus) == 8
    assert result.gpus[6].name == "NVIDIA H100 80GB HBM3"
    assert {u.reason.value for u in result.gpus[6].unavailable} == {"gpu_lost"}
    assert any("GPU 6 fell off the bus" in w for w in result.warnings)
    assert not result.gpus[7].unavailable


def test_a_gpu_without_handle_is_skipped_with_a_warning(machine: Any) -> None:
    calls = _calls("dgx-h100")
    calls["nvmlDeviceGetHandleByIndex(4)"] = {"__error__": 15}
    result = probe_gpus(ReplayNvml(calls), HOST)
    assert [g.index for g in result.gpus] == [0, 1, 2, 3, 5, 6, 7]
    assert any(w.startswith("GPU 4: NVML gave no handle") for w in result.warnings)
    assert len(result.topology) == 21


class _CtypesMachine:
    """A replayed machine whose handles are ctypes pointers, as the real pynvml's are."""

    def __init__(self, replay: ReplayNvml) -> None:
        self._replay = replay
        self._by_address: dict[int, Any] = {}
        self._keep: list[Any] = []

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._replay, name)
        if not callable(attr) or not name.startswith("nvml") or isinstance(attr, type):
            return attr

        def call(*args: Any) -> Any:
            args = tuple(self._by_address.get(ctypes.cast(a, ctypes.c_void_p).value, a)
                         if isinstance(a, ctypes.c_void_p) else a for a in args)
            value = attr(*args)
            if type(value).__name__ == "_Handle":
                buffer = ctypes.create_string_buffer(8)
                self._keep.append(buffer)
                pointer = ctypes.cast(buffer, ctypes.c_void_p)
                self._by_address[pointer.value] = value  # type: ignore[index]
                return pointer
            return value

        return call


def test_recording_a_machine_reproduces_its_calls(machine: Any) -> None:
    """What scripts/record_nvml.py writes replays to the same snapshot."""
    original = _calls("dgx-h100")
    recorder = RecordingNvml(_CtypesMachine(ReplayNvml(original)))
    first = probe_gpus(recorder, HOST)
    assert recorder.calls.items() <= original.items()
    replayed = probe_gpus(ReplayNvml(json.loads(json.dumps(recorder.calls))), HOST)
    assert replayed.gpus == first.gpus and replayed.topology == first.topology


def test_real_pynvml_errors_are_the_replayed_errors() -> None:
    assert isinstance(ReplayNvml({}).NVMLError(3), pynvml.NVMLError_NotSupported)


def test_build_documented_fixtures_is_up_to_date(tmp_path: Path) -> None:
    """The committed recordings are exactly what the builder script writes."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("build_documented", NVML_FIXTURES / "build_documented.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for name, build in (("gb10", module.gb10), ("dgx-h100", module.dgx_h100)):
        assert json.loads((NVML_FIXTURES / f"{name}.json").read_text()) == json.loads(json.dumps(build()))
