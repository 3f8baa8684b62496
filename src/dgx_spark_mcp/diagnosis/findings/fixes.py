"""A signature's fix, its configuration changes sized to the hardware when one is given.

A change's rule says how: ``double`` or ``half`` what the log shows (or Spark's default), a
literal value, or ``hardware:*``: the heap, overhead, driver memory or result size that
``optimize_spark_config`` gives the machine, never less than double what failed.  Without
hardware a ``hardware:*`` change doubles; the result's notes say once (not on each change) to give hardware.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ...optimizers.models import ConfigChange, DeployMode, ExecutorPlan, Workload
from ...optimizers.sizes import spark_size
from .model import Fix
from .signatures import ConfigAdvice, Signature

__all__ = ["Sizing", "hardware_sizing", "signature_fix"]

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgtp]?)(?:i?b)?\s*$", re.IGNORECASE)
_UNIT_MIB = {"": 1 / 1024**2, "k": 1 / 1024, "m": 1, "g": 1024, "t": 1024**2, "p": 1024**3}


@dataclass(frozen=True)
class Sizing:
    """What fixes are sized for: the machine's label and the executor plan optimize_spark_config gives it."""

    label: str
    plan: ExecutorPlan


def hardware_sizing(hardware: str | dict[str, Any] | None) -> Sizing | None:
    """The sizing for the hardware given (a profile name, 'this', or a node spec); None when none was given."""
    if hardware is None:
        return None
    from ...optimizers.sizing import size_cpu
    from ...optimizers.target import resolve_target

    target = resolve_target(hardware)
    plan = size_cpu(target.snapshot, 1, Workload.ETL, DeployMode.STANDALONE)
    return Sizing(label=target.label, plan=plan)


def _mib(text: str) -> float | None:
    match = _SIZE.match(text)
    if match is None:
        return None
    return float(match.group(1)) * _UNIT_MIB[match.group(2).lower()]


def _scaled(value: str, factor: float) -> str:
    """``value`` times ``factor``, written the way Spark reads the key: seconds, a count or a size."""
    plain = value.strip()
    if re.fullmatch(r"\d+", plain):
        return str(max(1, int(int(plain) * factor)))
    if re.fullmatch(r"\d+s", plain):
        return f"{max(1, int(int(plain[:-1]) * factor))}s"
    mib = _mib(plain)
    return spark_size(mib * factor) if mib is not None else plain


def _fit_note(sizing: Sizing) -> str:
    p = sizing.plan
    return (f"; {p.executors_per_node} executor(s) x {spark_size(p.heap_mib)} heap + {spark_size(p.overhead_mib)} overhead "
            f"fit this node's {p.node_memory_mib / 1024:.0f} GiB ({sizing.label})")


def _driver_note(sizing: Sizing) -> str:
    p = sizing.plan
    return (f"; sized as optimize_spark_config sizes a collect-heavy driver: at most half of this node's "
            f"{p.usable_memory_mib / 1024:.0f} GiB usable memory ({sizing.label})")


def _change(advice: ConfigAdvice, groups: dict[str, str | None], sizing: Sizing | None) -> ConfigChange:
    current = groups.get(advice.current_group) if advice.current_group else None
    base = current or advice.default
    reason = advice.reason
    if advice.rule in ("double", "half"):
        recommended = _scaled(base, 2 if advice.rule == "double" else 0.5)
    elif advice.rule.startswith("hardware:"):
        if sizing is None:
            recommended = _scaled(base, 2)
        else:
            plan = sizing.plan
            wanted = {"hardware:heap": plan.heap_mib, "hardware:driver": _driver_mib(plan, large=True),
                      "hardware:overhead": plan.overhead_mib,
                      # as optimize_spark_config sizes it: half the driver heap this machine gets
                      "hardware:max_result": _driver_result_mib(plan)}[advice.rule]
            floor = 2 * (_mib(base) or 0)  # never recommend less than doubling what failed
            recommended = spark_size(max(wanted, floor))
            reason += _driver_note(sizing) if advice.rule == "hardware:driver" else _fit_note(sizing)
    else:
        recommended = advice.rule
    if current:
        reason = f"{reason} (the log shows {current})"
    return ConfigChange(key=advice.key, current_value=current, recommended_value=recommended, reason=reason,
                        reference=advice.reference)


def _driver_mib(plan: ExecutorPlan, large: bool = False) -> int:
    """The driver heap optimize_spark_config gives this machine: 4g (8g for collect-heavy work), at most half its memory."""
    from ...optimizers.sizing import constants

    c = constants()
    gib = c.driver_memory_gib_large.value if large else c.driver_memory_gib.value
    return int(min(gib * 1024, max(1024, plan.usable_memory_mib // 2)))


def _driver_result_mib(plan: ExecutorPlan) -> int:
    from ...optimizers.sizing import constants

    return int(_driver_mib(plan) * constants().max_result_fraction.value)


def signature_fix(signature: Signature, category: str, groups: dict[str, str | None], sizing: Sizing | None) -> Fix:
    """The signature's fix; its driver variant (prose and changes) when the error happened on the driver, its frames'
    variant when the stack frames placed it elsewhere (:class:`..findings.signatures.FrameCategory`)."""
    on_driver = signature.driver_category is not None and category == signature.driver_category
    advice = signature.driver_changes if on_driver else signature.fix.changes
    summary = signature.driver_summary if on_driver and signature.driver_summary else signature.fix.summary
    framed = signature.frame_category
    if framed is not None and category == framed.category and category != signature.category:
        advice, summary = framed.fix.changes, framed.fix.summary
    return Fix(summary=summary, changes=[_change(a, groups, sizing) for a in advice])

