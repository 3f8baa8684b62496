"""Every telemetry query and the report give identical results on DuckDB and Spark over the same store."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from dgx_spark_mcp.errors import BadInputError
from dgx_spark_mcp.settings import Settings
from dgx_spark_mcp.telemetry.engines import get_engine
from dgx_spark_mcp.telemetry.inventory import list_gpus
from dgx_spark_mcp.telemetry.queries import query_telemetry
from dgx_spark_mcp.telemetry.report import telemetry_report

from .test_queries import fill_store


def _same(duck: Any, spark: Any) -> None:
    a, b = duck.model_dump(), spark.model_dump()
    assert a.pop("engine") == "duckdb" and b.pop("engine") == "spark"
    assert a == b


@pytest.mark.slow
def test_duckdb_and_spark_agree(settings: Settings, spark: Any) -> None:
    fill_store(settings)
    now = datetime(2025, 6, 1, 12, 20)
    for fn, kwargs in [
        (list_gpus, {}),
        (list_gpus, {"host": "dgx-a", "detail": "full"}),
        (list_gpus, {"by": "host"}),
        (query_telemetry, {"host": "dgx-a", "gpu_index": 1, "metrics": ["gpu_util", "power"], "start": "last 10m", "now": now}),
        (query_telemetry, {"metrics": ["gpu_util", "fb_used"], "bucket": "5m", "aggregates": ["avg", "min", "max", "p95"]}),
        (query_telemetry, {"uuid": "GPU-bbbb-0", "limit": 50}),
        (query_telemetry, {"detail": "summary"}),
        (query_telemetry, {"gpus": "dgx-a", "detail": "summary", "start": "2025-06-01T12:05:00Z"}),
        (telemetry_report, {"group_by": "gpu"}),
        (telemetry_report, {"group_by": "gpu", "detail": "full"}),
        (telemetry_report, {"group_by": "pod", "start": "2025-06-01T12:05:00Z", "end": "2025-06-01T12:25:00Z",
                            "detail": "full"}),
        (telemetry_report, {"group_by": "host", "hot_margin_c": 60}),
    ]:
        duck = fn(settings, **kwargs)
        on_spark = fn(settings, engine="spark", **kwargs)
        _same(duck, on_spark)
    # Cursors are engine-neutral: page 2 on Spark continues page 1 from DuckDB.
    first = query_telemetry(settings, uuid="GPU-bbbb-0", limit=50)
    second = query_telemetry(settings, uuid="GPU-bbbb-0", limit=50, cursor=first.next_cursor, engine="spark")
    assert second.points[0].ts >= first.points[-1].ts and second.points[0] != first.points[-1]


@pytest.mark.slow
def test_spark_on_an_empty_store(settings: Settings, spark: Any) -> None:
    assert list_gpus(settings, engine="spark").gpus == []
    assert telemetry_report(settings, engine="spark").groups_total == 0


def test_engine_choice_is_checked(settings: Settings) -> None:
    with pytest.raises(BadInputError, match="only used with engine='spark'"):
        get_engine(settings, "duckdb", "local[2]")
    with pytest.raises(BadInputError, match="unknown engine 'presto'"):
        get_engine(settings, "presto")
    assert get_engine(settings, "spark", "sc://example:15002").name == "spark"  # made lazily: nothing connects yet


def test_string_literals_are_quoted_per_dialect(settings: Settings) -> None:
    tricky = "a'b\\c"
    assert get_engine(settings).string(tricky) == "'a''b\\c'"
    assert get_engine(settings, "spark").string(tricky) == "'a\\'b\\\\c'"
    # A quote in a host name is data, not SQL.
    assert list_gpus(settings).gpus == []
    with pytest.raises(BadInputError):
        query_telemetry(settings, host="x' OR '1'='1", gpu_index=0)
