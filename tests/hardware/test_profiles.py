"""The hardware profile registry: every profile loads, every number has a source."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from dgx_spark_mcp.errors import BadInputError
from dgx_spark_mcp.hardware import get_profile, list_profiles, profile_snapshot
from dgx_spark_mcp.hardware.profiles import Sourced

REQUIRED = {"dgx-spark", "dgx-h100", "dgx-h200", "dgx-a100-40gb", "dgx-a100-80gb", "dgx-b200", "generic-cpu-server"}


def _walk(model: BaseModel, path: str = "") -> list[tuple[str, Any]]:
    found: list[tuple[str, Any]] = []
    for name in type(model).model_fields:
        value = getattr(model, name)
        where = f"{path}.{name}" if path else name
        if isinstance(value, Sourced):
            found.append((where, value))
        elif isinstance(value, BaseModel):
            found += _walk(value, where)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            found.append((where, None))  # a bare number: not allowed
    return found


def test_every_required_profile_is_there() -> None:
    assert REQUIRED <= {p.name for p in list_profiles()}


@pytest.mark.parametrize("profile", list_profiles(), ids=lambda p: p.name)
def test_every_number_in_a_profile_carries_its_source(profile: Any) -> None:
    entries = _walk(profile)
    bare = [where for where, sourced in entries if sourced is None]
    assert bare == [], f"numbers without a source in {profile.name}: {bare}"
    assert all(s.source.strip() for _, s in entries)


def test_dgx_spark_profile_matches_the_published_gb10() -> None:
    p = get_profile("dgx-spark")
    assert p.cpu.cores.value == 20 and p.cpu.architecture == "aarch64"
    assert p.memory.ram_gib.value == 128 and p.memory.unified_with_gpu
    assert p.gpu is not None
    assert p.gpu.memory_bandwidth_gb_s.value == 273 and p.gpu.compute_capability.value == "12.1"
    assert p.gpu.memory_kind == "lpddr5x-unified" and p.gpu.mig.value is False


def test_profile_lookup_is_case_insensitive() -> None:
    assert get_profile("  DGX-H100 ").name == "dgx-h100"


def test_unknown_profile_names_the_value_and_the_choices() -> None:
    with pytest.raises(BadInputError) as err:
        get_profile("dgx-t4")
    message = str(err.value)
    assert "'dgx-t4'" in message and "dgx-spark" in message and "list_hardware_profiles" in message


def test_profile_snapshot_of_a_dgx_has_its_gpus_and_host() -> None:
    snap = profile_snapshot(get_profile("dgx-h200"))
    assert snap.source == "profile" and snap.profile == "dgx-h200"
    assert [g.name for g in snap.gpus] == ["NVIDIA H200"] * 8
    assert snap.gpus[0].memory is not None and snap.gpus[0].memory.total_gib == 141
    assert snap.host.cpu_physical_cores == 112 and snap.host.memory_total_gib == 2048


def test_profile_snapshot_of_dgx_spark_shares_memory_and_warns() -> None:
    snap = profile_snapshot(get_profile("dgx-spark"))
    (gpu,) = snap.gpus
    assert gpu.memory is not None and gpu.memory.kind == "unified" and gpu.memory.shared_with_cpu
    assert gpu.memory.total_gib == snap.host.memory_total_gib == 119
    assert any("shares" in w for w in snap.warnings)


def test_cpu_server_profile_has_no_gpu() -> None:
    snap = profile_snapshot(get_profile("generic-cpu-server"))
    assert snap.gpus == [] and snap.gpu_stack.available is False
