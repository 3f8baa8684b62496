"""The GPU metrics the store knows (``data/telemetry-metrics.json``), loaded into typed models.

Samples are stored under the dcgm-exporter field name (``DCGM_FI_DEV_GPU_UTIL``): it is what the
DCGM CSV and Prometheus formats carry, and what Spark-on-GPU engineers grep for.  Queries also
accept the short alias (``gpu_util``).
"""

from __future__ import annotations

from functools import cache
from typing import Literal

from pydantic import BaseModel, Field

from ..errors import BadInputError
from ..knowledge import load_knowledge

__all__ = ["BlankSentinels", "Metric", "MetricRegistry", "metrics"]


class Metric(BaseModel):
    name: str = Field(pattern=r"^DCGM_FI_[A-Z0-9_]+$")
    alias: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    unit: str
    kind: Literal["gauge", "counter"]
    wide_columns: list[str] = Field(description="Wide-CSV columns that carry this metric.")
    nvml: str | None = Field(description="The NVML reading the sampler takes for it, or null when NVML has none.")
    nvml_factor: float = Field(description="Multiplies NVML's value into the stored unit (mW -> W: 0.001).")
    description: str


class BlankSentinels(BaseModel):
    """DCGM's 'no value' markers: any value at or above these is stored as NULL (hardware.md)."""

    int64_min: int
    int32_min: int
    float_min: float


class MetricRegistry(BaseModel):
    about: str
    source: str
    blank_sentinels: BlankSentinels
    metrics: list[Metric]

    def by_wide_column(self) -> dict[str, Metric]:
        return {column: m for m in self.metrics for column in m.wide_columns}

    def get(self, name: str) -> Metric | None:
        wanted = name.strip()
        for m in self.metrics:
            if wanted in (m.name, m.alias):
                return m
        return None

    def resolve(self, names: list[str]) -> list[str]:
        """Stored metric names for ``names`` (full names or aliases); unknown DCGM names pass through."""
        resolved = []
        for name in names:
            metric = self.get(name)
            if metric is not None:
                resolved.append(metric.name)
            elif name.strip().startswith("DCGM_"):
                resolved.append(name.strip())
            else:
                known = ", ".join(m.alias for m in self.metrics)
                raise BadInputError(
                    f"unknown metric {name!r}; give a DCGM field name (DCGM_FI_DEV_GPU_UTIL) or one of the aliases: {known}"
                )
        return resolved


@cache
def metrics() -> MetricRegistry:
    return load_knowledge("telemetry-metrics.json", MetricRegistry)
