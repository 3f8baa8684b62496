"""Cost of the store's short-lived connections: record/read through ``store.connect`` vs one open connection.

    python bench/store_connections.py [--runs 200]

The store opens a connection per operation so that several server processes can share one
DuckDB file (DuckDB lets one process hold it at a time).  Baseline: the same inserts and
similarity queries on a single connection kept open, in the same script.  Prints JSON.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from dgx_spark_mcp.optimizers.history import _COLUMNS, MIGRATIONS, PastRun, _row, record_run, similar_runs
from dgx_spark_mcp.optimizers.models import Workload
from dgx_spark_mcp.settings import Settings
from dgx_spark_mcp.store import connect


def _run(i: int) -> PastRun:
    return PastRun(app_id=f"app-{i}", source_sha256=hashlib.sha256(str(i).encode()).hexdigest(),
                   workload=Workload.SQL_ANALYTICS, input_bytes=10**11 + i * 10**8, duration_ms=600_000 + i,
                   executors=20, executor_cores=5, hardware="dgx-h100")


def _per_op_ms(fn: Callable[[int], object], n: int) -> float:
    samples = []
    for i in range(n):
        start = time.perf_counter()
        fn(i)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        short = Settings(home=Path(tmp) / "short", allowed_roots=[tmp])
        held = Settings(home=Path(tmp) / "held", allowed_roots=[tmp])
        insert = f"INSERT INTO spark_runs ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))}) ON CONFLICT DO NOTHING"
        with connect(held, MIGRATIONS) as con:
            baseline_write = _per_op_ms(lambda i: con.execute(insert, _row(_run(i))), args.runs)
            baseline_read = _per_op_ms(lambda i: con.execute(
                "SELECT * FROM spark_runs WHERE workload = ? AND input_bytes BETWEEN ? AND ? LIMIT 5",
                ["sql-analytics", 10**11 / 3, 3 * 10**11]).fetchall(), args.runs)
        short_write = _per_op_ms(lambda i: record_run(short, _run(i)), args.runs)
        short_read = _per_op_ms(lambda i: similar_runs(short, 10**11, Workload.SQL_ANALYTICS, "dgx-h100"), args.runs)
    headline = (
        f"store ops through a short-lived connection each vs one held connection, median of {args.runs}: "
        f"record_run {short_write:.2f} vs {baseline_write:.2f} ms ({short_write / baseline_write:.1f}x), "
        f"similar_runs {short_read:.2f} vs {baseline_read:.2f} ms ({short_read / baseline_read:.1f}x); no target"
    )
    print(json.dumps({
        "benchmark": "store_short_lived_connections",
        "headline": headline,
        "runs": args.runs,
        "record_run_median_ms": round(short_write, 3),
        "held_connection_insert_median_ms": round(baseline_write, 3),
        "write_ratio": round(short_write / baseline_write, 2),
        "similar_runs_median_ms": round(short_read, 3),
        "held_connection_query_median_ms": round(baseline_read, 3),
        "read_ratio": round(short_read / baseline_read, 2),
    }, indent=2))


if __name__ == "__main__":
    main()
