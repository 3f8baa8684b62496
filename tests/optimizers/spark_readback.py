"""Start a local SparkSession with each given configuration and print what Spark reads back.

Run as a subprocess by test_config_validity.py: stdin is a JSON list of {key: value} maps,
stdout one JSON list of {key: value-as-Spark-reports-it}.  One JVM, one SparkContext at a
time, stopped between configurations.
"""

from __future__ import annotations

import json
import sys

from pyspark.sql import SparkSession


def main() -> None:
    results = []
    for conf in json.load(sys.stdin):
        builder = SparkSession.builder.master(conf.get("spark.master", "local[1]")).appName("readback")
        builder = builder.config("spark.ui.enabled", "false")
        for key, value in conf.items():
            builder = builder.config(key, value)
        spark = builder.getOrCreate()
        core = dict(spark.sparkContext.getConf().getAll())
        seen = {key: spark.conf.get(key, None) or core.get(key) for key in conf}
        # A query proves the session works with these settings, not just that it started.
        df = spark.range(0, 1000, 1, 2)
        assert df.groupBy((df.id % 7).alias("k")).count().count() == 7
        results.append(seen)
        spark.stop()
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
