"""Slow stages read from a driver log's task lines: one task far slower than its peers, skewed or straggling.

A driver logs every finished task with its time (``TaskSetManager: Finished task 5.0 in stage 4.0 (TID 15)
in 45123 ms``) and, in local mode, the executor's shuffle fetches (``ShuffleBlockFetcherIterator: Getting 8
(121.6 MiB) non-empty blocks``).  No single line is a failure, so the signature scan never stops at them;
this reads them in one regex pass over the log's bytes.  A stage is reported when its longest task holds
it up (the same test as the event-log analysis: :mod:`..eventlogs.slowness`): **data skew** when one of
the stage's shuffle fetches is far larger than its median (the slow task had more data), a **straggler**
otherwise.  A fetch belongs to the stage of the last task started before it: with a few task threads the
attribution can slip between neighbouring tasks, never between stages that did not overlap.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field

__all__ = ["MAX_BYTES", "StageTimes", "slow_stages", "task_times"]

MAX_BYTES = 256 * 1024**2
"""Logs up to this size are read for task lines; a bigger driver log is left to its event log."""
_LINES = re.compile(
    rb"(?P<start>Running task [\d.]+ in stage (?P<s_stage>\d+)\.\d+)"
    rb"|Finished task [\d.]+ in stage (?P<f_stage>\d+)\.\d+ \(TID \d+\) in (?P<ms>\d+) ms"
    rb"|Getting \d+ \((?P<size>[\d.]+) (?P<unit>B|KiB|MiB|GiB)\) non-empty blocks"
    rb"|(?:ShuffleMapStage|ResultStage) (?P<d_stage>\d+) \([^)\n]*\) finished in (?P<d_value>[\d.]+) (?P<d_unit>ms|s)\b"
)
_UNITS = {b"B": 1, b"KiB": 1024, b"MiB": 1024**2, b"GiB": 1024**3}
_MIB = 1024**2


@dataclass
class StageTimes:
    stage_id: int
    task_ms: list[int] = field(default_factory=list)
    fetch_bytes: list[int] = field(default_factory=list)
    duration_ms: int | None = None


def task_times(blocks: Iterable[bytes]) -> dict[int, StageTimes]:
    """Per stage: its tasks' times, its shuffle fetches and its duration, from the log's bytes."""
    stages: dict[int, StageTimes] = {}
    current: int | None = None
    for data in blocks:
        for m in _LINES.finditer(data):
            if m["start"]:
                current = int(m["s_stage"])
                stages.setdefault(current, StageTimes(current))
            elif m["f_stage"]:
                stage = int(m["f_stage"])
                stages.setdefault(stage, StageTimes(stage)).task_ms.append(int(m["ms"]))
            elif m["size"]:
                if current is not None:
                    stages[current].fetch_bytes.append(int(float(m["size"]) * _UNITS[m["unit"]]))
            else:
                stage = int(m["d_stage"])
                value = float(m["d_value"])
                stages.setdefault(stage, StageTimes(stage)).duration_ms = int(value * 1000 if m["d_unit"] == b"s" else value)
    return stages


def slow_stages(stages: dict[int, StageTimes], *, task_skew: float, stage_share: float, min_stage_ms: int,
                fetch_skew: float, min_fetch_bytes: int) -> list[tuple[str, str]]:
    """(category, message) of the worst skewed stage and the worst straggling one (thresholds: eventlog-thresholds)."""
    skewed: list[tuple[float, str]] = []
    straggling: list[tuple[float, str]] = []
    for stage in stages.values():
        times = stage.task_ms
        if len(times) < 3:
            continue
        longest, median = max(times), statistics.median(times)
        duration = stage.duration_ms or sum(times)
        if median <= 0 or duration < min_stage_ms or longest / median < task_skew or longest < stage_share * duration:
            continue
        said = (f"stage {stage.stage_id} ({duration / 1000:.1f} s): its longest task ran {longest / 1000:.1f} s, "
                f"{longest / median:.1f}x the median task ({median / 1000:.1f} s) of {len(times)}")
        fetched = stage.fetch_bytes
        big, typical = (max(fetched), statistics.median(fetched)) if len(fetched) >= 3 else (0, 0.0)
        if big >= min_fetch_bytes and big >= fetch_skew * max(typical, 1.0):
            skewed.append((big, f"{said}; one of its shuffle fetches was {big / _MIB:.1f} MiB against a median of "
                                f"{typical / _MIB:.2f} MiB: one key or partition holds far more data than the others"))
        else:
            straggling.append((longest / median, f"{said}, without a larger shuffle fetch: a slow record, call or "
                                                 "node, not data skew"))
    found = []
    if skewed:
        found.append(("data_skew", max(skewed)[1]))
    if straggling:
        found.append(("straggler", max(straggling)[1]))
    return found
