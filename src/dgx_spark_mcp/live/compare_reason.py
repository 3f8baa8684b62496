"""Why the slower of two runs is slower: one sentence, with the figures, naming the setting behind it when one is.

The causes are tried in the order in which they usually explain the most: tasks that failed and were
retried, more input (the data grew: no setting is to blame), spill, fewer executors, many more tasks
(shuffle partitions), more shuffle (a broadcast that stopped happening), then GC.  The first that holds
gives the sentence; the configuration differences that bear on it are quoted beside it (slower run's
value first), and the stage whose time grew most says where the time went.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from .compare import ChangedFigures
    from .config_diff import ConfigDifference

__all__ = ["Run", "bytes_text", "duration_text", "reason"]

SAME = 0.05
"""Runs within 5% of each other took about as long."""
BIG = 64 * 1024**2
MEMORY = ("spark.executor.memory", "spark.executor.memoryOverhead", "spark.memory.offHeap.size",
          "spark.memory.fraction", "spark.sql.shuffle.partitions")
EXECUTORS = ("spark.executor.instances", "spark.dynamicAllocation.enabled", "spark.dynamicAllocation.maxExecutors",
             "spark.executor.cores", "spark.cores.max")
PARTITIONS = ("spark.sql.shuffle.partitions", "spark.default.parallelism", "spark.sql.adaptive.enabled",
              "spark.sql.adaptive.coalescePartitions.enabled", "spark.sql.files.maxPartitionBytes")
SHUFFLE = ("spark.sql.autoBroadcastJoinThreshold", "spark.sql.adaptive.autoBroadcastJoinThreshold",
           "spark.sql.adaptive.enabled", "spark.sql.shuffle.partitions")
GC = ("spark.executor.memory", "spark.memory.fraction", "spark.executor.extraJavaOptions")


@dataclass(frozen=True)
class Run:
    ref: str
    duration_ms: int | None
    tasks: int
    failed_tasks: int
    input_bytes: int
    shuffle_bytes: int
    spill_bytes: int
    gc_share: float | None
    executors: int
    properties: dict[str, str] = field(default_factory=dict)


def duration_text(ms: float) -> str:
    return f"{ms / 1000:,.1f} s" if ms < 120_000 else f"{ms / 60_000:,.1f} min"


def bytes_text(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    return f"{n:,.1f} TiB"


def _settings(config: Sequence[ConfigDifference], keys: Sequence[str], slow_is_b: bool) -> str:
    """The differing keys among ``keys``, slower run's value first: ``spark.sql.shuffle.partitions 400 vs 8``."""
    said = []
    for diff in config:
        if diff.key in keys:
            slow, fast = (diff.b, diff.a) if slow_is_b else (diff.a, diff.b)
            said.append(f"{diff.key} {slow or 'unset'} vs {fast or 'unset'}")
    return f" ({', '.join(said[:3])})" if said else ""


def _cause(slow: Run, fast: Run, config: Sequence[ConfigDifference], slow_is_b: bool) -> str:
    def keys(names: Sequence[str]) -> str:
        return _settings(config, names, slow_is_b)

    if slow.failed_tasks > fast.failed_tasks:
        return f"{slow.failed_tasks:,} of its tasks failed and were retried (vs {fast.failed_tasks:,})"
    if slow.input_bytes >= BIG and slow.input_bytes >= 1.5 * fast.input_bytes:
        said = keys([d.key for d in config[:3]])
        return (f"it read {bytes_text(slow.input_bytes)} of input vs {bytes_text(fast.input_bytes)} "
                f"({slow.input_bytes / max(fast.input_bytes, 1):.1f}x): more data" + (f", and its settings differ{said}"
                                                                                      if said else ", not the settings"))
    if slow.spill_bytes >= BIG and slow.spill_bytes >= 2 * fast.spill_bytes:
        return f"it spilled {bytes_text(slow.spill_bytes)} vs {bytes_text(fast.spill_bytes)}{keys(MEMORY)}"
    if fast.executors and slow.executors <= 0.75 * fast.executors:
        return f"it had at most {slow.executors} executors vs {fast.executors}{keys(EXECUTORS)}"
    if slow.tasks >= 2 * max(fast.tasks, 1):
        return f"it ran {slow.tasks:,} tasks vs {fast.tasks:,}{keys(PARTITIONS)}"
    if slow.shuffle_bytes >= BIG and slow.shuffle_bytes >= 1.5 * fast.shuffle_bytes:
        return f"it shuffled {bytes_text(slow.shuffle_bytes)} vs {bytes_text(fast.shuffle_bytes)}{keys(SHUFFLE)}"
    if slow.gc_share is not None and fast.gc_share is not None and slow.gc_share - fast.gc_share >= 0.10:
        return f"GC took {slow.gc_share:.0%} of its run time vs {fast.gc_share:.0%}{keys(GC)}"
    if config:
        return f"no volume explains it; its settings differ{keys([d.key for d in config[:3]])}"
    return "neither the data, the settings nor the task counts differ much: compare the stages (a busier cluster?)"


def _where(stages: Sequence[ChangedFigures], unmatched: Sequence[str], slow_is_b: bool) -> str:
    grown = [(s.duration_ms[1] - s.duration_ms[0]) * (1 if slow_is_b else -1) for s in stages]
    if not stages or max(grown) <= 0:
        only = [u for u in unmatched if u.startswith("b:" if slow_is_b else "a:")]
        return f"; {len(only)} stage(s) ran only in it" if only else ""
    best = max(range(len(stages)), key=lambda i: grown[i])
    stage = stages[best]
    slow_ms, fast_ms = (stage.duration_ms[1], stage.duration_ms[0]) if slow_is_b else stage.duration_ms
    return f"; the stage that grew most: '{stage.name}' ({duration_text(slow_ms)} vs {duration_text(fast_ms)})"


def reason(a: Run, b: Run, config: Sequence[ConfigDifference], stages: Sequence[ChangedFigures],
           unmatched: Sequence[str]) -> tuple[Literal["a", "b"] | None, str]:
    """Which run is slower (None when they took about as long) and the sentence that says why."""
    if a.duration_ms is None or b.duration_ms is None:
        missing = a.ref if a.duration_ms is None else b.ref
        return None, f"cannot tell which is slower: {missing} has no duration (its log has no start or end)"
    if abs(a.duration_ms - b.duration_ms) <= SAME * max(a.duration_ms, b.duration_ms, 1):
        return None, f"a and b took about as long ({duration_text(a.duration_ms)} vs {duration_text(b.duration_ms)})"
    slow_is_b = b.duration_ms > a.duration_ms
    slow, fast = (b, a) if slow_is_b else (a, b)
    assert slow.duration_ms is not None and fast.duration_ms is not None
    label: Literal["a", "b"] = "b" if slow_is_b else "a"
    gap = slow.duration_ms - fast.duration_ms
    return label, (f"{label} ({slow.ref}) took {duration_text(slow.duration_ms)} vs {duration_text(fast.duration_ms)} "
                   f"(+{duration_text(gap)}): {_cause(slow, fast, config, slow_is_b)}"
                   f"{_where(stages, unmatched, slow_is_b)}")
