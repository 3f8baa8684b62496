"""check_spark_config cost: the full check (parse + 35 rules) vs parsing alone, on realistic inputs.

    python bench/check_config.py [--runs 30]

Inputs: a 60-line spark-submit script, a 2,000-line PySpark file with its builder calls spread
through it, a 300-key dict of real Spark keys, and 100 unknown keys (each gets a "did you mean"
search over ~1,850 known keys: the worst case).  The ratio of medians (check / parse) says what the rules add
over reading the input; the first check in a fresh process (loading data/*.json) is reported
separately as the cold figure.  Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from dgx_spark_mcp.optimizers.checker import check_config
from dgx_spark_mcp.optimizers.config_sources import parse_config
from dgx_spark_mcp.optimizers.keys import spark_keys_version

SUBMIT = "spark-submit --master yarn --deploy-mode cluster \\\n" + "".join(
    f"  --conf spark.sql.shuffle.partitions={200 + i} \\\n" if i % 3 == 0 else
    f"  --conf spark.executor.extraJavaOptions='-Dx{i}=1 -XX:+UseG1GC' \\\n" if i % 3 == 1 else
    f"  --executor-memory {4 + i % 8}g \\\n" for i in range(58)
) + "  job.py --date 2024-01-01\n"
PYSPARK = "from pyspark.sql import SparkSession\nimport os\n" + "".join(
    f"def step_{i}(df):\n    return df.filter(df.a > {i}).withColumn('b{i}', df.a * {i})\n\n" for i in range(600)
) + "spark = (SparkSession.builder\n" + "".join(
    f"    .config('spark.sql.shuffle.partitions', {i})\n" for i in range(100)
) + "    .getOrCreate())\n"
def _known_keys(n: int) -> dict[str, Any]:
    from dgx_spark_mcp.knowledge import load_knowledge
    from dgx_spark_mcp.optimizers.keys import SparkKeysFile

    keys = load_knowledge("spark-keys.json", SparkKeysFile).keys
    return {k: v.default for k, v in list(keys.items())[::5] if v.public and v.default is not None and v.default != ""}


DICT: dict[str, Any] = dict(list(_known_keys(290).items())[:290]) | {
    "spark.executor.memory": "30g", "spark.executor.cores": 12, "spark.master": "yarn", "spark.executor.instances": 20,
    "spark.sql.shuffle.partitions": 64, "spark.serializer": "org.apache.spark.serializer.JavaSerializer",
    "spark.dynamicAllocation.enabled": True, "spark.sql.adaptive.enabled": False,
    "spark.authenticate.secret": "x", "spark.driver.memory": "2g",
}
UNKNOWN = {f"spark.mylib.option{i}": str(i) for i in range(100)}
INPUTS: dict[str, tuple[Any, str | None]] = {
    "submit_60_lines": (SUBMIT, "run.sh"), "pyspark_2000_lines": (PYSPARK, "job.py"),
    "dict_300_known_keys": (DICT, None), "dict_100_unknown_keys": (UNKNOWN, None),
}


SHORT_NAMES = {"submit_60_lines": "60-line spark-submit", "pyspark_2000_lines": "2,000-line PySpark",
               "dict_300_known_keys": "300 known keys", "dict_100_unknown_keys": "100 unknown keys"}


def _fig(value: float) -> str:
    """A figure with about three significant digits, never in exponent form."""
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def headline(rows: dict[str, dict[str, float]], runs: int, cold_ms: float) -> str:
    parts = "; ".join(f"{SHORT_NAMES.get(name, name)} {_fig(r['check_ms'])} vs {_fig(r['parse_ms'])} ms "
                      f"({_fig(r['check_over_parse'])}x)" for name, r in rows.items())
    return (f"check_spark_config vs parsing alone, median of {runs}: {parts}; "
            f"first check in a fresh process {_fig(cold_ms)} ms; no target")


def _median_ms(fn: Callable[[], object], runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


def _cold_first_check_ms() -> float:
    code = (
        "import time; t = time.perf_counter()\n"
        "from dgx_spark_mcp.optimizers.checker import check_config\n"
        "check_config({'spark.executor.memory': '30g', 'spark.executor.memroy': '8g'})\n"
        "print((time.perf_counter() - t) * 1000)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return float(out.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    check_config(DICT)  # load the knowledge files once: the warm figures exclude it
    rows = {}
    for name, (config, filename) in INPUTS.items():
        parse_ms = _median_ms(lambda: parse_config(config, filename=filename), args.runs)
        check_ms = _median_ms(lambda: check_config(config, filename=filename), args.runs)
        rows[name] = {"parse_ms": round(parse_ms, 2), "check_ms": round(check_ms, 2),
                      "check_over_parse": round(check_ms / parse_ms, 2)}
    cold_ms = round(statistics.median(_cold_first_check_ms() for _ in range(3)), 1)
    print(json.dumps({
        "benchmark": "check_spark_config",
        "headline": headline(rows, args.runs, cold_ms),
        "runs": args.runs,
        "spark_keys_version": spark_keys_version(),
        "inputs": rows,
        "cold_first_check_ms": cold_ms,
    }, indent=2))


if __name__ == "__main__":
    main()
