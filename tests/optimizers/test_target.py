"""The hardware argument every sizing tool shares: this machine, a profile, or a node spec."""

from __future__ import annotations

import pytest

from dgx_spark_mcp.errors import BadInputError
from dgx_spark_mcp.optimizers.target import HardwareSpec, resolve_target


def test_a_spec_dict_becomes_that_node() -> None:
    target = resolve_target({"cpu_cores": 32, "memory_gib": 256, "gpu_count": 2, "gpu_model": "NVIDIA H100 80GB HBM3"})
    assert "32 cores" in target.label
    assert target.gpus is not None and target.gpus.count == 2


@pytest.mark.parametrize(
    ("spec", "named"),
    [
        ({}, ["cpu_cores", "memory_gib"]),
        ({"cpu_cores": -1, "memory_gib": 8}, ["cpu_cores"]),
        ({"cpu_cores": 8, "memory_gib": "lots"}, ["memory_gib"]),
        ({"cpu_cores": 8, "memory_gib": 8, "gpu_count": 1000}, ["gpu_count"]),
    ],
)
def test_a_bad_spec_is_bad_input_naming_each_field(spec: dict[str, object], named: list[str]) -> None:
    with pytest.raises(BadInputError) as err:
        resolve_target(spec)
    message = str(err.value)
    assert all(field in message for field in named)
    assert "list_hardware_profiles" in message  # what to do instead


def test_a_spec_model_is_used_as_it_is() -> None:
    assert resolve_target(HardwareSpec(cpu_cores=4, memory_gib=16)).gpus is None
