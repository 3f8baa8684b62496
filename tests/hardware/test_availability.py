"""check_availability: which GPUs are free, and why the others are not."""

from __future__ import annotations

from typing import Any

import pytest

from dgx_spark_mcp.errors import BadInputError
from dgx_spark_mcp.hardware import check_availability, detect


def test_dgx_h100_free_busy_and_mig_gpus(machine: Any) -> None:
    result = check_availability(detect(nvml=machine("dgx-h100")), min_free_memory_gib=20, max_utilization_pct=10)
    assert result.free_gpus == [0, 1, 2, 4, 6]
    by_index = {g.index: g for g in result.gpus}
    assert by_index[3].status == "busy" and any("utilisation 97%" in r for r in by_index[3].reasons)
    assert any("11.1 GiB free" in r for r in by_index[3].reasons)
    assert by_index[5].status == "busy"
    assert by_index[7].status == "busy" and any("MIG is enabled" in r for r in by_index[7].reasons)
    assert result.cuda_visible_devices.split(",")[0] == by_index[0].uuid
    assert result.summary.startswith("5 of 8 GPU(s) free")


def test_memory_threshold_alone_makes_a_gpu_busy(machine: Any) -> None:
    result = check_availability(detect(nvml=machine("dgx-h100")), min_free_memory_gib=50, max_utilization_pct=100)
    assert 5 not in result.free_gpus and 3 not in result.free_gpus  # 39.6 and 11.1 GiB free
    assert 4 in result.free_gpus


def test_gb10_free_memory_is_the_hosts_and_is_noted(machine: Any) -> None:
    result = check_availability(detect(nvml=machine("gb10")))
    (gpu,) = result.gpus
    assert gpu.status == "free"
    assert any("host's available RAM" in n for n in gpu.notes)
    assert any("1 compute process" in n for n in gpu.notes)


def test_no_gpu_stack_gives_an_empty_honest_answer() -> None:
    result = check_availability(detect())
    assert result.gpu_stack_available is False and result.gpus == [] and result.cuda_visible_devices == ""
    assert "libnvidia-ml" in result.summary


def test_missing_utilisation_makes_a_gpu_unknown_not_free(machine: Any) -> None:
    snap = detect(nvml=machine("dgx-h100"))
    snap.gpus[0].utilization_gpu_pct = None
    result = check_availability(snap)
    assert result.gpus[0].status == "unknown" and 0 not in result.free_gpus


@pytest.mark.parametrize(("free", "util"), [(-1, 10), (1, 101), (1, -5)])
def test_bad_thresholds_are_rejected_with_the_value(machine: Any, free: float, util: float) -> None:
    with pytest.raises(BadInputError) as err:
        check_availability(detect(nvml=machine("gb10")), free, util)
    assert str(free if free < 0 else util) in str(err.value)
