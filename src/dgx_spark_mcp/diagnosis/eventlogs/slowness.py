"""Why a run was slow, from its stages: skew, stragglers, GC, heavy spill, a stage squeezed into one task.

The analysis measures every stage (task-time and shuffle-read quantiles, GC share, spill); this
turns the stages that matter into findings with their figures.  A stage matters when it ran long
enough to be worth a change and took a real share of the application's time (thresholds in
``data/eventlog-thresholds.json``, ``slow_*``).  Within such a stage:

- **data skew**: the longest task held the stage up and one task handled far more data than its peers
  (input, shuffle read and write);
- **straggler**: the longest task held the stage up, alone (not one of a first wave that paid start-up),
  while the tasks handled alike amounts of data (a slow node, a slow call, a sleep);
- **one task**: a stage of a single task that read shuffle data (a window without PARTITION BY, a
  global sort or aggregate, ``coalesce(1)``) — everything funnels through one core;
- **GC pressure**: JVM GC took a large share of the stage's run time;
- **heavy spill**: the stage spilled hundreds of MiB from memory or wrote tens to disk.

One finding per category (the worst stage, with how many others share it), so a long run with many
similar stages is one line to read.
"""

from __future__ import annotations

from collections.abc import Callable

from .models import EventLogAnalysis, StageSummary
from .tuning import EventLogThresholds

__all__ = ["slow_stage_findings"]

_MIB = 1024**2


def _size(n: int) -> str:
    return f"{n / 1024**3:.1f} GiB" if n >= 1024**3 else f"{n / _MIB:.0f} MiB" if n >= _MIB else f"{n / 1024:.0f} KiB"


def _s(ms: int | None) -> str:
    return f"{(ms or 0) / 1000:.1f} s"


def _matters(stage: StageSummary, app_ms: int | None, th: EventLogThresholds) -> bool:
    duration = stage.duration_ms or 0
    if duration < th.slow_stage_min_ms.value:
        return False
    return not app_ms or duration >= th.slow_stage_app_share.value * app_ms


def _held_up(stage: StageSummary, th: EventLogThresholds) -> bool:
    """The longest task is far above the median and held the stage up: it took a share of the stage, or the stage
    waited for it (it finished last)."""
    return (stage.task_skew is not None and stage.task_skew >= th.slow_task_skew.value and stage.tasks > 1
            and (stage.task_time_max_ms >= th.slow_task_stage_share.value * (stage.duration_ms or 0)
                 or stage.longest_task_ended_last))


def _skewed_data(stage: StageSummary, th: EventLogThresholds) -> bool:
    """One task handled far more data than the stage's mean (input, shuffle read and write: a reducer's hot key, or a
    map task's one huge row that it explodes)."""
    return (stage.task_data_max_bytes >= th.slow_skew_min_bytes.value
            and stage.task_data_skew is not None and stage.task_data_skew >= th.shuffle_skew_factor.value)


def _stands_out(stage: StageSummary, th: EventLogThresholds) -> bool:
    """The longest task is alone: not one of a few alike (a first wave paying JVM or Python worker start-up)."""
    return stage.task_time_max_ms >= th.slow_straggler_standout.value * stage.task_time_runner_up_ms


def _what(stage: StageSummary) -> str:
    return f"stage {stage.stage_id} ({stage.name[:60]}, {_s(stage.duration_ms)})"


_FUNNELS = ("Coalesce", "SinglePartition", "Window", "TakeOrderedAndProject")
"""Plan operators that can leave a stage with one task: named when a one-task stage's query has them."""


def _funnelling_operators(analysis: EventLogAnalysis) -> dict[int, list[str]]:
    """Stage id -> the funnelling operators in the plan of the SQL execution its job ran for."""
    plans = {sql.execution_id: sql for sql in analysis.sql}
    found: dict[int, list[str]] = {}
    for job in analysis.jobs:
        sql = plans.get(job.sql_execution_id) if job.sql_execution_id is not None else None
        plan = sql.plan if sql is not None else ""
        single = sql is not None and sql.funnels_into_one_partition()
        named = [op for op in _FUNNELS if op in plan or (op == "SinglePartition" and single)]
        for stage_id in job.stage_ids if named else ():
            found[stage_id] = named
    return found


def _others(count: int) -> str:
    return f"; {count} more stage(s) show the same" if count else ""


def slow_stage_findings(analysis: EventLogAnalysis, th: EventLogThresholds) -> list[tuple[str, str, str]]:
    """(category, rule id, message) of each slowness the stages that matter show, worst stage first."""
    app_ms = analysis.app.duration_ms
    candidates = [s for s in analysis.longest_stages() or analysis.stages if s.status != "failed"]
    stages = [s for s in candidates if _matters(s, app_ms, th)]
    # Everything through one task does not scale with the cluster: under a plan that funnels, such a stage is named
    # once it runs long enough to be worth a change, whatever its share of this run.
    funnelled = [s for s in candidates if _matters(s, None, th)]
    found: list[tuple[str, str, str]] = []

    def worst(category: str, rule_id: str, picked: list[StageSummary], key: Callable[[StageSummary], float],
              say: Callable[[StageSummary], str]) -> None:
        if picked:
            top = max(picked, key=key)
            found.append((category, rule_id, say(top) + _others(len(picked) - 1)))

    skewed = [s for s in stages if _held_up(s, th) and _skewed_data(s, th)]
    worst("data_skew", "eventlog.slow.skew", skewed, lambda s: s.task_data_max_bytes, lambda s: (
        f"{_what(s)}: its largest task handled {_size(s.task_data_max_bytes)} of data, {s.task_data_skew:.1f}x the "
        f"stage's mean per task (shuffle read: largest {_size(s.shuffle_read_max_bytes)}, median "
        f"{_size(s.shuffle_read_median_bytes)}), and the longest ran {_s(s.task_time_max_ms)}, {s.task_skew:.1f}x the "
        f"median task ({_s(s.task_time_median_ms)}): one key, partition or row holds far more data than the others"))
    stragglers = [s for s in stages if _held_up(s, th) and _stands_out(s, th) and not _skewed_data(s, th)
                  and (s.task_data_skew is None or s.task_data_skew < 1.5)]
    worst("straggler", "eventlog.slow.straggler", stragglers, lambda s: s.task_time_max_ms, lambda s: (
        f"{_what(s)}: its longest task ran {_s(s.task_time_max_ms)}, {s.task_skew:.1f}x the median task "
        f"({_s(s.task_time_median_ms)}), without reading more data than its peers: a slow node, call or record, "
        "not data skew"))
    funnels = _funnelling_operators(analysis)
    # A one-task stage that took a share of the run, or, under an exchange into one partition or a coalesce, any
    # that ran long enough (AQE also coalesces small shuffles into one task, harmlessly: that takes a plan's word).
    single = [s for s in funnelled if s.tasks == 1 and (
        (s in stages and (s.shuffle_read_bytes >= th.slow_skew_min_bytes.value or funnels.get(s.stage_id)))
        or ("SinglePartition" in funnels.get(s.stage_id, ()) and s.shuffle_read_bytes >= th.slow_skew_min_bytes.value)
        or "Coalesce" in funnels.get(s.stage_id, ()))]
    worst("single_partition_exchange", "eventlog.slow.one-task", single, lambda s: s.duration_ms or 0, lambda s: (
        f"{_what(s)} ran in a single task"
        + (f" that read all {_size(s.shuffle_read_bytes)} of its shuffle input" if s.shuffle_read_bytes else "")
        + (f" under {', '.join(funnels[s.stage_id])} in its query's plan" if funnels.get(s.stage_id) else "")
        + ": everything funnels through one partition (a window without PARTITION BY, a global sort or aggregate, "
        "coalesce(1) or repartition(1), spark.sql.shuffle.partitions=1)"))
    gc = [s for s in stages if s.gc_share is not None and s.gc_share >= th.slow_gc_share.value]
    worst("gc_pressure", "eventlog.slow.gc", gc, lambda s: s.gc_share or 0.0, lambda s: (
        f"{_what(s)}: JVM GC took {s.gc_share:.0%} of its tasks' run time: the heap is too small for the data "
        "each task holds"))
    spilled = [s for s in stages if s.disk_spilled_bytes >= th.slow_spill_disk_bytes.value
               or s.memory_spilled_bytes >= th.slow_spill_memory_bytes.value]
    worst("spill", "eventlog.slow.spill", spilled, lambda s: s.memory_spilled_bytes + s.disk_spilled_bytes, lambda s: (
        f"{_what(s)} spilled {_size(s.memory_spilled_bytes)} from memory ({_size(s.disk_spilled_bytes)} written to "
        "disk): its tasks' data did not fit in execution memory"))
    return found
