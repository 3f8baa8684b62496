"""Write data/spark-keys.json from the JVM of the installed PySpark.

    python scripts/gen_spark_keys.py [--output data/spark-keys.json]

Starts a local SparkSession (Java 17+ needed), initialises every Scala config object found in
the PySpark jars, and writes each known key (default, version, public), the deprecated and
removed keys with their replacements, and the key-family prefixes.  The Spark version goes
into the file; tests/optimizers/test_keys.py fails when the file and the JVM disagree, which
means: rerun this script after upgrading PySpark.  Reproducible: same PySpark, same file.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from dgx_spark_mcp.optimizers.spark_registry import read_registry

REPO = Path(__file__).resolve().parent.parent


def render(data: dict) -> str:
    """Top level indented, one line per key: readable diffs when Spark adds or changes a key."""
    lines = ["{"]
    items = list(data.items())
    for index, (name, value) in enumerate(items):
        comma = "," if index < len(items) - 1 else ""
        if isinstance(value, dict):
            inner = [f"    {json.dumps(k)}: {json.dumps(v, sort_keys=True)}" for k, v in value.items()]
            lines.append(f"  {json.dumps(name)}: {{\n" + ",\n".join(inner) + f"\n  }}{comma}")
        elif isinstance(value, list):
            inner = [f"    {json.dumps(v)}" for v in value]
            lines.append(f"  {json.dumps(name)}: [\n" + ",\n".join(inner) + f"\n  ]{comma}")
        else:
            lines.append(f"  {json.dumps(name)}: {json.dumps(value)}{comma}")
    return "\n".join(lines) + "\n}\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", type=Path, default=REPO / "data" / "spark-keys.json")
    args = parser.parse_args()

    from pyspark.sql import SparkSession

    spark = (
        SparkSession.builder.master("local[1]")
        .appName("gen-spark-keys")
        .config("spark.ui.enabled", "false")
        .getOrCreate()
    )
    try:
        registry = read_registry(spark)
    finally:
        spark.stop()
    data = registry.model_dump(mode="json", exclude_defaults=True)
    args.output.write_text(render(data), encoding="utf-8")
    print(
        f"wrote {args.output}: Spark {registry.spark_version}, {len(registry.keys)} keys, "
        f"{len(registry.deprecated)} deprecated, {len(registry.prefixes)} prefixes",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
