"""Tables and queries for the local-PySpark plan tests: one query per plan category, plus a healthy trap."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

DDL = (
    "CREATE TABLE events (id INT, v STRING, d STRING) USING parquet PARTITIONED BY (d);"
    "CREATE TABLE users (id INT, w DOUBLE, v STRING) USING parquet"
)

HEALTHY = (
    "SELECT e.id, count(*) FROM events e JOIN users u ON e.id = u.id "
    "WHERE e.id > 5 AND e.d = '2024-01-01' GROUP BY e.id"
)

NO_BROADCAST = {"spark.sql.autoBroadcastJoinThreshold": "-1"}

# category -> (query, runtime confs) whose plan must show that category in simple, extended and formatted modes
CATEGORY_QUERIES: dict[str, tuple[str, dict[str, str]]] = {
    "cartesian_product": ("SELECT * FROM events e CROSS JOIN users u WHERE e.d = 'x'", NO_BROADCAST),
    "broadcast_nested_loop_join": ("SELECT * FROM events e JOIN users u ON e.id < u.id WHERE e.d = 'x'", {}),
    "python_udf": ("SELECT py_upper(v) FROM events WHERE d = 'x'", {}),
    "object_hash_aggregate": ("SELECT id, collect_list(v) FROM events WHERE d = 'x' GROUP BY id", {}),
    "single_partition_exchange": ("SELECT id, row_number() OVER (ORDER BY id) FROM events WHERE d = 'x'", {}),
    "no_pushed_filters": ("SELECT * FROM events WHERE upper(v) = 'A' AND d = 'x'", {}),
    "full_partition_scan": ("SELECT id FROM events WHERE id > 3", {}),
    "many_exchanges": (
        "SELECT a.id FROM users a JOIN users b ON a.id = b.id JOIN users c ON b.v = c.v JOIN users d ON c.w = d.w "
        "JOIN users e ON d.id = e.id + 1 JOIN users f ON e.v = f.v",
        NO_BROADCAST,
    ),
}


@contextmanager
def runtime_conf(spark: Any, confs: dict[str, str]) -> Iterator[None]:
    before = {key: spark.conf.get(key, None) for key in confs}
    for key, value in confs.items():
        spark.conf.set(key, value)
    try:
        yield
    finally:
        for key, value in before.items():
            if value is None:
                spark.conf.unset(key)
            else:
                spark.conf.set(key, value)


def register_udfs(spark: Any) -> None:
    def boom(value: Any) -> Any:
        raise RuntimeError("this UDF must never run: EXPLAIN does not execute")

    spark.udf.register("py_upper", lambda s: s.upper() if s else s)
    spark.udf.register("boom", boom)
