"""A real PySpark application for the running-application tests: run as ``python running_job.py PORT WORKDIR``.

It starts a local-mode SparkSession with its UI on PORT, then runs in a background thread one SQL
query whose second stage is slow and skewed: 90% of the rows share key 0, one shuffle partition gets
them all, and a Python UDF sleeps ``SLEEP_S`` on the first of them, so that partition's task is a
straggler while the seven others finish in a second.  The UDF also fails the first attempt of the
task holding key 3 (local[4,2] retries it once), so the stage has a failed attempt with a reason.
It prints ``UI READY`` once the UI answers and ``QUERY STARTED`` when the query is submitted, and
runs until it is killed (the test ends its process group).  Imported, :func:`launched` is how a test runs it.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SLEEP_S = 900.0
ROWS = 200_000


def main() -> None:
    port, work = int(sys.argv[1]), sys.argv[2]
    from pyspark.sql import SparkSession
    from pyspark.sql.functions import udf

    spark = (
        SparkSession.builder.master("local[4,2]").appName("running-skewed")
        .config("spark.ui.enabled", "true").config("spark.ui.port", str(port))
        .config("spark.port.maxRetries", "0")  # the test's port or fail: never a neighbour's
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.execution.pythonUDF.arrow.enabled", "false")  # no pyarrow needed
        .config("spark.sql.shuffle.partitions", "8")
        .config("spark.sql.warehouse.dir", f"{work}/warehouse")
        .config("spark.local.dir", f"{work}/local")
        .config("spark.driver.extraJavaOptions", f"-Dderby.system.home={work}")
        .getOrCreate()
    )
    print("UI READY", flush=True)
    sleep_s = SLEEP_S

    @udf("long")
    def slow(k: int) -> int:
        import builtins
        import time as clock

        from pyspark import TaskContext

        if k == 3 and TaskContext.get().attemptNumber() == 0:
            raise ValueError("deliberate failure on key 3")
        if k == 0 and not getattr(builtins, "_slept", False):
            builtins._slept = True  # type: ignore[attr-defined]  # once per Python worker: the key-0 partition's
            clock.sleep(sleep_s)
        return k

    query = (spark.range(0, ROWS, 1, 8)
             .selectExpr(f"CASE WHEN id < {ROWS * 9 // 10} THEN 0 ELSE id % 7 + 1 END AS k")
             .repartition(8, "k").withColumn("s", slow("k")).groupBy("s").count())

    def run() -> None:
        spark.sparkContext.setJobDescription("skewed slow query")
        print("QUERY STARTED", flush=True)
        query.collect()

    threading.Thread(target=run, daemon=True).start()
    while True:
        time.sleep(60)


def output(work: Path) -> str:
    """The end of the job's output: what an assertion shows when the job died or never got far enough."""
    return (work / "job.log").read_text()[-3000:]


@contextmanager
def launched(port: int, work: Path) -> Iterator[subprocess.Popen[bytes]]:
    """This job in its own process group, its UI on ``port`` and its output in ``work/job.log``; the whole group
    (the JVM and the Python workers) is ended after.  Skips the test where there is no Java."""
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        import pytest

        pytest.skip("no Java here: PySpark needs a JVM")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DGX_SPARK_MCP_")}
    env.update(PYSPARK_PYTHON=sys.executable, PYSPARK_DRIVER_PYTHON=sys.executable, PYTHONUNBUFFERED="1")
    with (work / "job.log").open("w") as log:
        proc = subprocess.Popen([sys.executable, __file__, str(port), str(work)], stdout=log, stderr=subprocess.STDOUT,
                                env=env, cwd=work, start_new_session=True)
    try:
        yield proc
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)


if __name__ == "__main__":
    main()
