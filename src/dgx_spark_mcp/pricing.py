"""What GPU time costs: the billing model and prices of ``data/prices.json``.

The model is the public GPU Usage Pipeline's (knowledge/telemetry-formats.md):

    per GPU-hour = (gpu_hour_usd + max(0, memory GB − memory_included_gb) × memory_overage_usd_per_gb_hour)
                   × (1 + overhead_fraction),  money rounded to cents.

There is no sourced CPU core-hour price, so CPU-only work has no cost here; callers say so.
"""

from __future__ import annotations

from functools import cache

from pydantic import BaseModel

from .hardware.profiles import Sourced
from .knowledge import load_knowledge

__all__ = ["Prices", "gpu_cost_usd", "gpu_cost_formula", "prices"]


class Prices(BaseModel):
    """``data/prices.json``."""

    about: str
    references: dict[str, str]
    gpu_hour_usd: Sourced[float]
    memory_included_gb: Sourced[float]
    memory_overage_usd_per_gb_hour: Sourced[float]
    overhead_fraction: Sourced[float]
    cpu_core_hour_usd: Sourced[float | None]


@cache
def prices() -> Prices:
    return load_knowledge("prices.json", Prices)


def gpu_cost_usd(gpu_hours: float, memory_gb: float | None) -> float:
    """Dollars for ``gpu_hours`` of GPUs holding ``memory_gb`` each (None: no memory overage is charged)."""
    p = prices()
    overage = max(0.0, (memory_gb or 0.0) - p.memory_included_gb.value) * p.memory_overage_usd_per_gb_hour.value
    return round(gpu_hours * (p.gpu_hour_usd.value + overage) * (1 + p.overhead_fraction.value), 2)


def gpu_cost_formula(memory_gb: float | None) -> str:
    p = prices()
    return (
        f"GPU-hours x (${p.gpu_hour_usd.value:g} + max(0, {memory_gb or 0:.0f} GB - {p.memory_included_gb.value:g} GB)"
        f" x ${p.memory_overage_usd_per_gb_hour.value:g}) x {1 + p.overhead_fraction.value:g}"
    )
