"""The Sparklens-style replay: hand-checked schedules, and its two guarantees on any DAG."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from dgx_spark_mcp.diagnosis.eventlogs.whatif import (
    SimGroup,
    SimStage,
    critical_path,
    default_executor_counts,
    simulate,
)


def _stage(stage_id: int, tasks: list[int], parents: tuple[int, ...] = ()) -> SimStage:
    return SimStage(stage_id, parents, tasks, (stage_id, stage_id))


def test_eight_one_second_tasks_on_two_by_two_slots_take_two_seconds() -> None:
    group = SimGroup((_stage(0, [1000] * 8),))
    assert simulate([group], 0, executors=2, cores=2) == 2000
    assert simulate([group], 0, executors=1, cores=2) == 4000
    assert simulate([group], 0, executors=8, cores=1) == 1000


def test_a_child_stage_waits_for_its_parent_and_driver_time_is_added() -> None:
    group = SimGroup((_stage(0, [1000] * 4), _stage(1, [500], parents=(0,))))
    assert simulate([group], 300, executors=4, cores=1) == 300 + 1000 + 500
    assert critical_path([group], 300) == (1800, [0, 1])


def test_independent_stages_share_the_slots_and_groups_run_one_after_another() -> None:
    parallel = SimGroup((_stage(0, [1000, 1000]), _stage(1, [1000, 1000])))
    later = SimGroup((_stage(2, [700]),))
    assert simulate([parallel, later], 0, executors=2, cores=2) == 1000 + 700
    assert simulate([parallel, later], 0, executors=1, cores=2) == 2000 + 700


def test_a_stage_listed_before_its_parent_still_runs_after_it() -> None:
    group = SimGroup((SimStage(5, (9,), [100], (0, 5)), SimStage(9, (), [1000], (1, 9))))
    assert simulate([group], 0, executors=4, cores=4) == 1100


def test_default_counts_are_sparklens_percentages_of_the_observed() -> None:
    assert default_executor_counts(10, [10, 50, 100, 200, 500]) == [1, 5, 10, 20, 50]
    assert default_executor_counts(1, [10, 50, 100, 150]) == [1, 2]


@st.composite
def _dags(draw: st.DrawFn) -> list[SimGroup]:
    groups = []
    next_id = 0
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        stages = []
        for _ in range(draw(st.integers(min_value=1, max_value=5))):
            earlier = [s.stage_id for s in stages]
            parents = tuple(draw(st.lists(st.sampled_from(earlier), max_size=2, unique=True))) if earlier else ()
            tasks = draw(st.lists(st.integers(min_value=0, max_value=5000), min_size=0, max_size=12))
            order = (draw(st.integers(min_value=0, max_value=100)), next_id)
            stages.append(SimStage(next_id, parents, tasks, order))
            next_id += 1
        groups.append(SimGroup(tuple(stages)))
    return groups


@settings(max_examples=300, deadline=None)
@given(groups=_dags(), driver=st.integers(min_value=0, max_value=10_000), executors=st.integers(min_value=1, max_value=12),
       more=st.integers(min_value=1, max_value=12), cores=st.integers(min_value=1, max_value=8))
def test_more_executors_never_take_longer_and_nothing_beats_the_critical_path(
    groups: list[SimGroup], driver: int, executors: int, more: int, cores: int
) -> None:
    fewer_time = simulate(groups, driver, executors, cores)
    more_time = simulate(groups, driver, executors + more, cores)
    bound, _ = critical_path(groups, driver)
    assert bound <= more_time <= fewer_time
    total = driver + sum(sum(s.task_ms) for g in groups for s in g.stages)
    assert simulate(groups, driver, 1, 1) == total  # one slot runs every task back to back
