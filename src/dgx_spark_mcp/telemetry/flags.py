"""Which GPUs a report flags, and why: idle, hot, throttled, XID errors, memory pressure.

A fleet of 1,000 GPUs can have hundreds of idle ones; an agent needs the count and the worst few,
not all of them in one answer.  So the report's ``flags`` give per kind the number of GPUs and the
:data:`FLAG_CAP` worst (largest idle share, closest to slowdown, ...), and each row of the full
report lists its own flagged GPUs, cut at :data:`GROUP_FLAG_CAP` with the count beside it (one
row per GPU, ``group_by="gpu"``, lists every one).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from .usage import ReportThresholds

__all__ = ["FLAG_CAP", "FLAG_KINDS", "GROUP_FLAG_CAP", "FlagGroup", "GpuFlag", "fleet_flags", "group_flags"]

FLAG_KINDS = ("idle", "hot", "throttled", "xid", "memory_pressure")
FLAG_CAP = 5
GROUP_FLAG_CAP = 8


class GpuFlag(BaseModel):
    uuid: str
    host: str | None = None
    detail: str


class FlagGroup(BaseModel):
    count: int
    gpus: list[GpuFlag]


def _merged(per_gpu: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """One row per GPU from its rows in every group (a GPU moves between pods): counts summed, peaks kept."""
    by_uuid: dict[str, list[Any]] = {}
    for r in per_gpu:
        row = by_uuid.get(r[1])
        if row is None:
            by_uuid[r[1]] = list(r)
            continue
        row[2], row[3] = r[2] or row[2], r[3] or row[3]
        for i in (4, 5, 6, 9, 10):
            row[i] = (row[i] or 0) + (r[i] or 0)
        for i in (7, 8, 11):
            row[i] = max((v for v in (row[i], r[i]) if v is not None), default=None)
    return [tuple(r) for r in by_uuid.values()]


def _judge(r: tuple[Any, ...], t: ReportThresholds, idle: float, margin: float) -> dict[str, tuple[float, GpuFlag]]:
    """The flags one GPU's row earns: kind -> (how bad, for ordering; the flag)."""
    uuid, host, model = r[1], r[2], r[3]
    out: dict[str, tuple[float, GpuFlag]] = {}
    if r[5] and r[6] / r[5] > t.idle_share.value:
        out["idle"] = (r[6] / r[5], GpuFlag(uuid=uuid, host=host, detail=f"{r[6]} of {r[5]} utilisation samples under {idle:g}%"))
    slowdown = r[8] if r[8] is not None else t.slowdown_for(model)
    if r[7] is not None and slowdown is not None and r[7] >= slowdown - margin:
        origin = "stored" if r[8] is not None else "model default"
        out["hot"] = (r[7] - slowdown, GpuFlag(uuid=uuid, host=host,
                                               detail=f"max {r[7]:g} C, slowdown at {slowdown:g} C ({origin}), margin {margin:g} C"))
    if r[9] and r[10]:
        share = r[10] / r[9]
        out["throttled"] = (share, GpuFlag(uuid=uuid, host=host,
                                           detail=f"throttled (not idle) in {r[10]} of {r[9]} samples ({share * 100:.0f}%)"))
    if r[11] is not None and r[11] > t.memory_pressure_ratio.value:
        out["memory_pressure"] = (r[11], GpuFlag(
            uuid=uuid, host=host,
            detail=f"peak framebuffer use {r[11] * 100:.1f}% (threshold {t.memory_pressure_ratio.value * 100:g}%)"))
    return out


def group_flags(rows: list[tuple[Any, ...]], t: ReportThresholds, idle: float, margin: float
                ) -> tuple[list[GpuFlag], list[GpuFlag], list[GpuFlag], dict[str, int]]:
    """A row's idle, hot and memory-pressure GPUs (in uuid order, each cut at GROUP_FLAG_CAP) and, for a cut
    list, how many there are."""
    found: dict[str, list[GpuFlag]] = {"idle": [], "hot": [], "memory_pressure": []}
    for r in rows:
        for kind, (_, flag) in _judge(r, t, idle, margin).items():
            if kind in found:
                found[kind].append(flag)
    cut = {kind: len(flags) for kind, flags in found.items() if len(flags) > GROUP_FLAG_CAP}
    return (found["idle"][:GROUP_FLAG_CAP], found["hot"][:GROUP_FLAG_CAP], found["memory_pressure"][:GROUP_FLAG_CAP], cut)


def fleet_flags(per_gpu: list[tuple[Any, ...]], xids: list[tuple[Any, ...]], t: ReportThresholds, idle: float,
                margin: float) -> dict[str, FlagGroup]:
    """Every kind with a flagged GPU: how many, and the FLAG_CAP worst."""
    ranked: dict[str, list[tuple[float, GpuFlag]]] = {kind: [] for kind in FLAG_KINDS}
    hosts = {}
    for r in _merged(per_gpu):
        hosts[r[1]] = r[2]
        for kind, judged in _judge(r, t, idle, margin).items():
            ranked[kind].append(judged)
    codes: dict[str, dict[int, int]] = {}
    for _, uuid, code, n in xids:
        codes.setdefault(uuid, {})
        codes[uuid][int(code)] = codes[uuid].get(int(code), 0) + int(n)
    for uuid, seen in codes.items():
        detail = "XID " + ", ".join(f"{code} x{n}" for code, n in sorted(seen.items()))
        ranked["xid"].append((float(sum(seen.values())), GpuFlag(uuid=uuid, host=hosts.get(uuid), detail=detail)))
    return {kind: FlagGroup(count=len(found), gpus=[f for _, f in sorted(found, key=lambda j: (-j[0], j[1].uuid))[:FLAG_CAP]])
            for kind, found in ranked.items() if found}
