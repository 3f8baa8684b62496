"""Sparklens-style what-if: how long would this application take with N executors?

The model (qubole/sparklens ``CompletionEstimator``/``PQParallelStageScheduler``, simplified
where said):

1. Jobs whose run times overlapped in the real run form one *group* and are replayed together
   (Sparklens groups jobs of one SQL execution that overlap; any overlap groups them here).
   Groups run one after another, each starting with every slot free.
2. Inside a group, stages are replayed in a fixed order: their real submission order, put into
   dependency order (a stage never before its parents).  A stage becomes ready when its parents
   in the group have finished (parents outside the group, or skipped, count as done).
3. ``executors × cores`` task slots sit in a min-heap of "free at" times.  Each task of the
   stage, in its recorded order, takes the slot that frees first and starts at
   ``max(slot free, stage ready)``; it runs for its recorded duration.  All attempts' tasks
   are replayed, failed ones too: they held a slot.
4. Application time = driver time (real app time − time covered by jobs) + Σ group times.

Two properties follow and are tested: with a fixed stage order, more slots never make any task
start later (so the estimate never grows with executors), and every stage ends at least its
longest task after its parents (so it never drops below the critical path: driver time + Σ over
groups of the longest chain of per-stage longest tasks).  Like Sparklens, the model assumes task
times do not depend on the executor count and ignores memory.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .app_log import AppLog

__all__ = ["SimGroup", "SimStage", "critical_path", "default_executor_counts", "driver_ms", "sim_groups", "simulate"]


@dataclass(frozen=True)
class SimStage:
    stage_id: int
    parents: tuple[int, ...]
    task_ms: Sequence[int]
    order: tuple[int, int] = (0, 0)
    """Sort key of the real run: (submission time, stage id)."""

    @property
    def longest_task_ms(self) -> int:
        return max(self.task_ms, default=0)


@dataclass(frozen=True)
class SimGroup:
    """Stages of jobs that ran at the same time in the real run."""

    stages: tuple[SimStage, ...]


def _dependency_order(stages: Iterable[SimStage]) -> list[SimStage]:
    """Stages in real order, moved after their parents where the recorded order says otherwise."""
    by_id = {s.stage_id: s for s in stages}
    waiting = {sid: {p for p in s.parents if p in by_id and p != sid} for sid, s in by_id.items()}
    children: dict[int, list[int]] = {}
    for sid, parents in waiting.items():
        for parent in parents:
            children.setdefault(parent, []).append(sid)
    ready = [(s.order, sid) for sid, s in by_id.items() if not waiting[sid]]
    heapq.heapify(ready)
    ordered: list[SimStage] = []
    while ready:
        _, sid = heapq.heappop(ready)
        ordered.append(by_id[sid])
        for child in children.get(sid, ()):
            waiting[child].discard(sid)
            if not waiting[child]:
                heapq.heappush(ready, (by_id[child].order, child))
    placed = {s.stage_id for s in ordered}
    ordered += sorted((s for s in by_id.values() if s.stage_id not in placed), key=lambda s: s.order)  # a cycle: keep real order
    return ordered


def _group_time(group: SimGroup, slots: int) -> int:
    # More slots than tasks change nothing (each task already finds an unused slot): cap the heap.
    free = [0] * max(1, min(slots, sum(len(s.task_ms) for s in group.stages)))  # all zeros: already a heap
    finish: dict[int, int] = {}
    end = 0
    for stage in _dependency_order(group.stages):
        ready = max((finish.get(p, 0) for p in stage.parents), default=0)
        done = ready
        for duration in stage.task_ms:
            start = free[0] if free[0] > ready else ready
            stop = start + duration
            heapq.heapreplace(free, stop)
            if stop > done:
                done = stop
        finish[stage.stage_id] = done
        end = max(end, done)
    return end


def simulate(groups: Sequence[SimGroup], driver_ms: int, executors: int, cores: int) -> int:
    """Estimated application wall time (ms) with ``executors × cores`` task slots."""
    slots = max(1, executors) * max(1, cores)
    return max(0, driver_ms) + sum(_group_time(group, slots) for group in groups)


def critical_path(groups: Sequence[SimGroup], driver_ms: int) -> tuple[int, list[int]]:
    """(ms, stage ids): driver time plus, per group, the longest chain of per-stage longest tasks."""
    total, path = max(0, driver_ms), []
    for group in groups:
        best: dict[int, tuple[int, list[int]]] = {}
        for stage in _dependency_order(group.stages):
            before = max((best[p] for p in stage.parents if p in best), default=(0, []), key=lambda b: b[0])
            best[stage.stage_id] = (before[0] + stage.longest_task_ms, [*before[1], stage.stage_id])
        if best:
            length, chain = max(best.values(), key=lambda b: b[0])
            total += length
            path += chain
    return total, path


def default_executor_counts(observed: int, percentages: Sequence[int]) -> list[int]:
    """Sparklens' trial counts: the given percentages of the observed executors, rounded, at least 1."""
    counts = {max(1, round(observed * pct / 100)) for pct in percentages}
    counts.add(max(1, observed))
    return sorted(counts)


# ---- from an event log ------------------------------------------------------------------------


def sim_groups(app: AppLog) -> list[SimGroup]:
    """Stages grouped by jobs that overlapped in time; stages outside any job make a last group."""
    tasks: dict[int, list[int]] = {}
    order: dict[int, tuple[int, int]] = {}
    for run in app.stages.values():
        tasks.setdefault(run.stage_id, []).extend(run.task_ms)
        start = run.submitted_ms or run.first_launch_ms or 0
        order[run.stage_id] = min(order.get(run.stage_id, (start, run.stage_id)), (start, run.stage_id))
    parents = {sid: info[2] for sid, info in app.stage_info.items()}
    for run in app.stages.values():
        parents.setdefault(run.stage_id, run.parent_ids)
    jobs = sorted(app.jobs.values(), key=lambda j: (j.submitted_ms or 0, j.job_id))
    member_sets: list[list[int]] = []
    group_end = None
    for job in jobs:
        end = job.completed_ms or app.last_seen_ms or job.submitted_ms or 0
        if group_end is None or (job.submitted_ms or 0) >= group_end:
            member_sets.append([])
            group_end = end
        group_end = max(group_end, end)
        member_sets[-1].extend(job.stage_ids)
    assigned: set[int] = set()
    groups: list[SimGroup] = []
    for members in [*member_sets, sorted(tasks)]:  # the last entry picks up stages no job listed
        ids = [sid for sid in dict.fromkeys(members) if sid in tasks and sid not in assigned]
        assigned.update(ids)
        if ids:
            groups.append(SimGroup(tuple(SimStage(sid, tuple(parents.get(sid, ())), tasks[sid], order[sid]) for sid in ids)))
    return groups


def driver_ms(app: AppLog, duration: int | None) -> int:
    """Application time not covered by any job."""
    intervals = sorted(
        (j.submitted_ms, j.completed_ms or app.last_seen_ms or j.submitted_ms) for j in app.jobs.values() if j.submitted_ms
    )
    covered, reach = 0, None
    for start, end in intervals:
        if reach is None or start > reach:
            covered += max(0, end - start)
            reach = end
        elif end > reach:
            covered += end - reach
            reach = end
    return max(0, (duration or 0) - covered)
