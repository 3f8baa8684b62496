"""Registry discipline for data/telemetry-metrics.json."""

from __future__ import annotations

import pytest

from dgx_spark_mcp.errors import BadInputError
from dgx_spark_mcp.telemetry.metrics import metrics


def test_names_and_aliases_are_unique() -> None:
    registry = metrics().metrics
    assert len({m.name for m in registry}) == len(registry)
    assert len({m.alias for m in registry}) == len(registry)


def test_every_wide_column_of_the_knowledge_file_maps_to_one_metric() -> None:
    wide = metrics().by_wide_column()
    for column in ("gpu_utilization", "memory_utilization", "memory_used_mb", "memory_free_mb", "temperature",
                   "power_draw", "sm_clock_mhz", "memory_clock_mhz"):
        assert column in wide, column
    assert wide["memory_used_mb"].unit == "MiB"  # DCGM's "_mb" columns are MiB
    assert wide["memory_utilization"].name == "DCGM_FI_DEV_MEM_COPY_UTIL"  # bandwidth, not capacity


def test_nvml_factors_convert_into_the_stored_unit() -> None:
    assert metrics().get("power").nvml_factor == 0.001  # NVML mW -> W
    assert metrics().get("fb_used").nvml_factor == 1 / 1024**2  # NVML bytes -> MiB
    assert all(m.nvml_factor > 0 for m in metrics().metrics)


def test_sentinels_are_dcgms() -> None:
    blank = metrics().blank_sentinels
    assert blank.int64_min == 9223372036854775792
    assert blank.float_min == 2.0**47


def test_resolve_accepts_aliases_and_dcgm_names_and_refuses_the_rest() -> None:
    assert metrics().resolve(["gpu_util", "DCGM_FI_DEV_POWER_USAGE", "DCGM_FI_DEV_NEW_FIELD"]) == [
        "DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_POWER_USAGE", "DCGM_FI_DEV_NEW_FIELD"]
    with pytest.raises(BadInputError, match="unknown metric 'utilisation'.*gpu_util"):
        metrics().resolve(["utilisation"])
