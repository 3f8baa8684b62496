"""Slow stages read from a driver log's task lines: one task far slower than its peers, skewed or straggling.

A driver logs every finished task with its time (``TaskSetManager: Finished task 5.0 in stage 4.0 (TID 15)
in 45123 ms``) and, in local mode, the executor's shuffle fetches (``ShuffleBlockFetcherIterator: Getting 8
(121.6 MiB) non-empty blocks``).  No single line is a failure, so the signature scan never stops at them;
this reads them in one regex pass over the log's bytes.  A stage is reported when its longest task holds
it up (the same test as the event-log analysis: :mod:`..eventlogs.slowness`): **data skew** when one of
the stage's shuffle fetches is far larger than its median (the slow task had more data), a **straggler**
when no fetch says so; either only when the longest task stands alone (not one of a first wave that paid
start-up: fetches are matched to tasks loosely, so a time alike to the next one's is no evidence); and a
stage of one task that fetched shuffle data is everything funnelled through one partition.  A fetch belongs to the stage of the last task started before it: with a few task threads the
attribution can slip between neighbouring tasks, never between stages that did not overlap.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field

__all__ = ["MAX_BYTES", "StageTimes", "slow_stages", "task_times"]

MAX_BYTES = 64 * 1024**2
"""Driver logs up to this size (decompressed) are read a second time for task lines and printed plans: the pass
costs about 0.4 s per 64 MiB here; a bigger driver log is left to its event log, which measures the same."""
# One regex per line kind, each opening with a literal, so the engine skips ahead with a fast search instead
# of trying an alternation at every byte (one alternation ran at 30 MB/s, these together at about 170 MB/s).
_STARTED = re.compile(rb"Running task ([\d.]+) in stage (\d+)\.")
_FINISHED = re.compile(rb"Finished task ([\d.]+) in stage (\d+)\.\d+ \(TID \d+\) in (\d+) ms")
_FETCHED = re.compile(rb"non-empty blocks")
_FETCH_SIZE = re.compile(rb"Getting \d+ \(([\d.]+) (B|KiB|MiB|GiB)\) $")
_DONE = [re.compile(kind + rb" (\d+) \([^)\n]*\) finished in ([\d.]+) (ms|s)\b")
         for kind in (rb"ShuffleMapStage", rb"ResultStage")]
_UNITS = {b"B": 1, b"KiB": 1024, b"MiB": 1024**2, b"GiB": 1024**3}
_MIB = 1024**2


@dataclass
class StageTimes:
    stage_id: int
    task_ms: list[int] = field(default_factory=list)
    first_wave: list[bool] = field(default_factory=list)
    """Per task time: whether the task started before any task of the stage finished (the wave that may pay a fresh
    JVM's or Python worker's start-up)."""
    fetch_bytes: list[int] = field(default_factory=list)
    duration_ms: int | None = None
    _early: set[bytes] = field(default_factory=set)


def _events(data: bytes) -> list[tuple[int, str, tuple[bytes, ...]]]:
    """(offset, kind, groups) of every task line in ``data``, in file order."""
    found = [(m.start(), "start", m.groups()) for m in _STARTED.finditer(data)]
    found += [(m.start(), "end", m.groups()) for m in _FINISHED.finditer(data)]
    for m in _FETCHED.finditer(data):
        # The size sits just before the literal: read the line's head back to "Getting".
        head = data.rfind(b"Getting ", max(0, m.start() - 80), m.start())
        if head >= 0 and (size := _FETCH_SIZE.match(data, head, m.start())):
            found.append((m.start(), "fetch", size.groups()))
    for done in _DONE:
        found += [(m.start(), "done", m.groups()) for m in done.finditer(data)]
    found.sort(key=lambda item: item[0])
    return found


def task_times(blocks: Iterable[bytes]) -> dict[int, StageTimes]:
    """Per stage: its tasks' times, its shuffle fetches and its duration, from the log's bytes."""
    stages: dict[int, StageTimes] = {}
    current: int | None = None
    for data in blocks:
        for _, kind, groups in _events(data):
            if kind == "start":
                current = int(groups[1])
                started = stages.setdefault(current, StageTimes(current))
                if not started.task_ms:
                    started._early.add(groups[0])
            elif kind == "end":
                ended = stages.setdefault(int(groups[1]), StageTimes(int(groups[1])))
                ended.task_ms.append(int(groups[2]))
                ended.first_wave.append(groups[0] in ended._early)
            elif kind == "fetch":
                if current is not None:
                    stages[current].fetch_bytes.append(int(float(groups[0]) * _UNITS[groups[1]]))
            else:
                stage, value = int(groups[0]), float(groups[1])
                ms = value * 1000 if groups[2] == b"s" else value
                stages.setdefault(stage, StageTimes(stage)).duration_ms = int(ms)
    return stages


def _runner_up(times: list[int], first_wave: list[bool]) -> int:
    """The longest of the tasks that started like the longest one (in the first wave, or after it): a task slow only
    because it paid start-up is compared with the others that did, a later one with the later ones."""
    if len(first_wave) != len(times):
        return sorted(times)[-2]
    top = max(range(len(times)), key=times.__getitem__)
    peers = [t for i, t in enumerate(times) if i != top and first_wave[i] == first_wave[top]]
    return max(peers, default=0)


def slow_stages(stages: dict[int, StageTimes], *, task_skew: float, stage_share: float, min_stage_ms: int,
                fetch_skew: float, min_fetch_bytes: int, standout: float) -> list[tuple[str, str]]:
    """(category, message) of the worst skewed stage, the worst straggling one and the longest one-task stage that
    read shuffle data (thresholds: eventlog-thresholds)."""
    skewed: list[tuple[float, str]] = []
    straggling: list[tuple[float, str]] = []
    single: list[tuple[float, str]] = []
    for stage in stages.values():
        times = stage.task_ms
        duration = stage.duration_ms or sum(times)
        if len(times) == 1 and sum(stage.fetch_bytes) >= min_fetch_bytes and duration >= min_stage_ms:
            single.append((duration, f"stage {stage.stage_id} ({duration / 1000:.1f} s) ran in a single task that fetched "
                                     f"{sum(stage.fetch_bytes) / _MIB:.1f} MiB of shuffle data: everything funnels through "
                                     "one partition (spark.sql.shuffle.partitions=1, coalesce(1) or repartition(1), a "
                                     "global sort or a window without PARTITION BY)"))
        if len(times) < 3:
            continue
        longest, median = max(times), statistics.median(times)
        runner_up = _runner_up(times, stage.first_wave)
        # Held up: it took a share of the stage, or it finished last (the stage waited for it: the lines come in
        # the order tasks finish).
        held_up = longest >= stage_share * duration or times[-1] == longest
        if median <= 0 or duration < min_stage_ms or longest / median < task_skew or not held_up:
            continue
        if longest < standout * runner_up:
            continue  # one of a few alike (a first wave that paid start-up): a fetch's size is too loose a clue here
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
    if single:
        found.append(("single_partition_exchange", max(single)[1]))
    return found
