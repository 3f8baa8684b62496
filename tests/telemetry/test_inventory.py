"""list_gpus: the store's GPUs or hosts, a page at a time, the key metrics first and every metric on request."""

from __future__ import annotations

import pytest

from dgx_spark_mcp.errors import BadInputError
from dgx_spark_mcp.settings import Settings
from dgx_spark_mcp.telemetry.inventory import GpuList, list_gpus
from dgx_spark_mcp.telemetry.store import TelemetryStore

from .test_queries import fill_store


@pytest.fixture
def fleet(settings: Settings) -> Settings:
    fill_store(settings)
    return settings


def every_page(settings: Settings, **kwargs: object) -> list[GpuList]:
    pages = [list_gpus(settings, **kwargs)]  # type: ignore[arg-type]
    while pages[-1].next_cursor:
        pages.append(list_gpus(settings, **kwargs, cursor=pages[-1].next_cursor))  # type: ignore[arg-type]
    return pages


def test_the_summary_gives_identity_last_sample_and_key_metrics(fleet: Settings) -> None:
    listed = list_gpus(fleet)
    assert listed.by == "gpu" and listed.total == 3 and listed.next_cursor is None
    assert [(g.host, g.index, g.uuid) for g in listed.gpus] == [
        ("dgx-a", 0, "GPU-aaaa-0"), ("dgx-a", 1, "GPU-aaaa-1"), ("gb10", 0, "GPU-bbbb-0")]
    busy = listed.gpus[1]
    assert busy.last_seen == "2025-06-01T12:29:50Z" and busy.samples == 180 * 9 and listed.gpus[0].samples == 120 * 8
    # i = 179: util 90 + 9, FB 79000 + 4 * 100, temperature 80 + 9, power 650 + 179 % 7
    assert busy.latest == {"gpu_util": 99, "fb_used": 79400, "gpu_temp": 89, "power": 650 + 179 % 7}
    assert list(busy.latest) == ["gpu_util", "fb_used", "gpu_temp", "power"]
    assert listed.units == {"gpu_util": "%", "fb_used": "MiB", "gpu_temp": "C", "power": "W"}
    assert busy.driver is None and busy.first_seen is None and busy.latest_at == {}  # detail='full' only


def test_full_gives_every_metric_as_the_store_holds_it(fleet: Settings) -> None:
    """Full equals the latest table read directly: every metric's newest value and time."""
    full = list_gpus(fleet, detail="full")
    with TelemetryStore(fleet).reader() as con:
        newest = con.execute("SELECT uuid, metric, arg_max(value, ts), strftime(max(ts), '%Y-%m-%dT%H:%M:%SZ') "
                             "FROM latest GROUP BY uuid, metric").fetchall()
    from dgx_spark_mcp.telemetry.metrics import metrics

    registry = metrics()
    for uuid, metric, value, ts in newest:
        gpu = next(g for g in full.gpus if g.uuid == uuid)
        alias = registry.get(metric).alias  # type: ignore[union-attr]
        assert gpu.latest[alias] == value and gpu.latest_at.get(alias, gpu.last_seen) == ts
        assert alias in full.units
    busy = full.gpus[1]
    assert busy.driver == "550.54.15" and full.gpus[0].driver is None and busy.first_seen == "2025-06-01T12:00:00Z"
    assert len(busy.latest) == 9 and busy.latest["slowdown_temp"] == 92


def test_pages_cover_every_gpu_once_and_refuse_a_cursor_of_other_arguments(fleet: Settings) -> None:
    pages = every_page(fleet, limit=2)
    assert [[g.uuid for g in p.gpus] for p in pages] == [["GPU-aaaa-0", "GPU-aaaa-1"], ["GPU-bbbb-0"]]
    assert all(p.total == 3 for p in pages)
    assert [g.uuid for g in list_gpus(fleet, limit=2, detail="full", cursor=pages[0].next_cursor).gpus] == ["GPU-bbbb-0"]
    with pytest.raises(BadInputError, match="other arguments"):
        list_gpus(fleet, limit=2, by="host", cursor=pages[0].next_cursor)
    with pytest.raises(BadInputError, match="other arguments"):
        list_gpus(fleet, limit=2, host="dgx-a", cursor=pages[0].next_cursor)
    with pytest.raises(BadInputError, match="not one this tool returned"):
        list_gpus(fleet, cursor="???")


def test_hosts_are_listed_the_same_way(fleet: Settings) -> None:
    hosts = list_gpus(fleet, by="host")
    assert hosts.total == 2 and hosts.gpus == []
    assert [(h.host, h.gpus, h.models, h.samples) for h in hosts.hosts] == [
        ("dgx-a", 2, ["NVIDIA H100 80GB HBM3"], 180 * 9 + 120 * 8), ("gb10", 1, ["NVIDIA GB10"], 180 * 8)]
    assert hosts.hosts[0].first_seen == "2025-06-01T12:00:00Z" and hosts.hosts[0].last_seen == "2025-06-01T12:29:50Z"
    pages = every_page(fleet, by="host", limit=1)
    assert [h.host for p in pages for h in p.hosts] == ["dgx-a", "gb10"]
    assert [h.host for h in list_gpus(fleet, by="host", host="gb10").hosts] == ["gb10"]


def test_one_host_and_unknown_hosts(fleet: Settings) -> None:
    assert [g.uuid for g in list_gpus(fleet, host="gb10").gpus] == ["GPU-bbbb-0"]
    with pytest.raises(BadInputError, match="no GPUs stored for host 'nope'; the store has hosts: dgx-a, gb10"):
        list_gpus(fleet, host="nope")


def test_an_empty_store_says_so(settings: Settings) -> None:
    for by in ("gpu", "host"):
        empty = list_gpus(settings, by=by)
        assert empty.total == 0 and "empty" in (empty.note or "")


def test_limit_none_lists_everything_at_once(fleet: Settings) -> None:
    assert len(list_gpus(fleet, limit=None).gpus) == 3 and list_gpus(fleet, limit=None).next_cursor is None


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"by": "pod"}, "by 'pod' is not one of"),
    ({"detail": "brief"}, "detail 'brief' is not one of"),
    ({"limit": 0}, "limit 0 is out of range"),
])
def test_bad_arguments_name_the_value(fleet: Settings, kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(BadInputError, match=message):
        list_gpus(fleet, **kwargs)  # type: ignore[arg-type]
