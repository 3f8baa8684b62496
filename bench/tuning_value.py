"""Does the recommended configuration beat Spark's defaults on a real job on this machine?

Generates a star-schema data set (a fact table of >= 1 GB Parquet and two dimensions) with
local PySpark, then runs the same job — two joins, a grouped aggregation, a window ranking
and a write — in fresh JVMs, alternating Spark's defaults and the configuration that
``optimize_spark_config`` recommends for this machine.  Each configuration runs REPEATS
times; the figure is the ratio of the medians (defaults / recommended: above 1 means the
recommendation is faster).  Prints one JSON object.

    python bench/tuning_value.py [--gib 1.2] [--repeats 3] [--data DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BYTES_PER_ROW = 37
TARGET_SPEEDUP = 1.0  # defaults / recommended: the recommendation must not be slower


def _session(conf: dict[str, str]) -> Any:
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName("tuning-value").config("spark.ui.enabled", "false")
    builder = builder.master(conf.get("spark.master", "local[*]"))
    for key, value in conf.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def generate(data: Path, gib: float) -> int:
    """Write the data set once; returns the fact table's size in bytes."""
    from pyspark.sql import functions as F

    spark = _session({"spark.driver.memory": "4g", "spark.sql.shuffle.partitions": "16"})
    # About 37 bytes per row on disk after Parquet compression (measured on this schema).
    rows = int(gib * 1024**3 / BYTES_PER_ROW)
    facts = spark.range(rows).select(
        F.col("id").alias("order_id"),
        (F.rand(1) * 2_000_000).cast("long").alias("customer_id"),
        (F.rand(2) * 50_000).cast("long").alias("product_id"),
        (F.rand(3) * 1000).alias("amount"),
        (F.rand(4) * 10).cast("int").alias("quantity"),
        (F.rand(5) * 365).cast("int").alias("day"),
        F.rand(6).alias("discount"),
        (F.rand(7) * 1e9).cast("long").alias("payload"),
    )
    facts.write.mode("overwrite").parquet(str(data / "facts"))
    spark.range(2_000_000).select(
        F.col("id").alias("customer_id"), (F.col("id") % 50).alias("region"), F.rand(8).alias("score")
    ).write.mode("overwrite").parquet(str(data / "customers"))
    spark.range(50_000).select(
        F.col("id").alias("product_id"), (F.col("id") % 200).alias("category"), (F.rand(9) * 100).alias("cost")
    ).write.mode("overwrite").parquet(str(data / "products"))
    spark.stop()
    return sum(f.stat().st_size for f in (data / "facts").rglob("*.parquet"))


def job(data: Path, conf: dict[str, str]) -> float:
    """The measured job; returns its wall time in seconds (session start excluded)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    spark = _session(conf)
    spark.range(10).count()  # JVM and session warm-up are not what is measured
    start = time.perf_counter()
    facts = spark.read.parquet(str(data / "facts"))
    customers = spark.read.parquet(str(data / "customers"))
    products = spark.read.parquet(str(data / "products"))
    enriched = facts.join(customers, "customer_id").join(products, "product_id")
    by_region = enriched.groupBy("region", "category", "day").agg(
        F.sum(F.col("amount") * F.col("quantity")).alias("revenue"),
        F.avg("discount").alias("avg_discount"),
        F.countDistinct("customer_id").alias("customers"),
    )
    ranked = by_region.withColumn(
        "rank", F.row_number().over(Window.partitionBy("region", "day").orderBy(F.desc("revenue")))
    ).where("rank <= 3")
    ranked.write.mode("overwrite").parquet(str(data / "out"))
    elapsed = time.perf_counter() - start
    spark.stop()
    return elapsed


def _child(data: Path, conf: dict[str, str]) -> float:
    """Run the job in a fresh interpreter and JVM, so driver memory and every core key apply."""
    code = (
        "import json, sys; sys.path.insert(0, %r); import tuning_value as t; "
        "print(json.dumps(t.job(t.Path(sys.argv[1]), json.loads(sys.argv[2]))))" % str(Path(__file__).parent)
    )
    run = subprocess.run(
        [sys.executable, "-c", code, str(data), json.dumps(conf)], capture_output=True, text=True, check=False
    )
    if run.returncode != 0:
        raise SystemExit(f"benchmark job failed:\n{run.stderr[-4000:]}")
    return float(run.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gib", type=float, default=1.2, help="fact table size to generate, GiB (default 1.2)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per configuration (default 3)")
    parser.add_argument("--data", type=Path, help="reuse a data directory (default: a new temporary one)")
    args = parser.parse_args()

    from dgx_spark_mcp.optimizers.config import TuneRequest, optimize

    tmp = None
    if args.data is None:
        tmp = tempfile.TemporaryDirectory(prefix="dgx-spark-mcp-bench-")
        args.data = Path(tmp.name)
    data: Path = args.data
    fact_bytes = sum(f.stat().st_size for f in (data / "facts").rglob("*.parquet")) if (data / "facts").exists() else 0
    if fact_bytes < args.gib * 1024**3 * 0.9:
        fact_bytes = generate(data, args.gib)
    recommended = optimize(TuneRequest(workload="sql-analytics", data_size=fact_bytes, deploy_mode="local")).conf
    defaults: dict[str, str] = {}
    times: dict[str, list[float]] = {"defaults": [], "recommended": []}
    for _ in range(args.repeats):
        times["defaults"].append(_child(data, defaults))
        times["recommended"].append(_child(data, recommended))
    median = {name: statistics.median(values) for name, values in times.items()}
    ratio = median["defaults"] / median["recommended"]
    slower = sum(r > d for d, r in zip(times["defaults"], times["recommended"], strict=True))
    headline = (
        f"a local PySpark star-schema job on a {fact_bytes / 1024**3:.2f} GiB fact table, {os.cpu_count()} cores, "
        f"median of {args.repeats} runs each, alternating: recommended config {median['recommended']:.1f} s vs Spark defaults "
        f"{median['defaults']:.1f} s, speedup {ratio:.2f}x, recommended slower in {slower} of {args.repeats} pairs "
        f"(target >= {TARGET_SPEEDUP:g}x, never slower: {'met' if ratio >= TARGET_SPEEDUP else 'missed'})"
    )
    print(json.dumps({
        "benchmark": "tuning_value",
        "headline": headline,
        "fact_table_gib": round(fact_bytes / 1024**3, 3),
        "cpu_cores": os.cpu_count(),
        "repeats": args.repeats,
        "seconds": {name: [round(t, 2) for t in values] for name, values in times.items()},
        "median_seconds": {name: round(t, 2) for name, t in median.items()},
        "speedup_recommended_vs_defaults": round(ratio, 3),
        "pairs_where_recommended_was_slower": slower,
        "target_met": ratio >= TARGET_SPEEDUP,
        "recommended_conf": recommended,
    }, indent=2))
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
