"""Real processes against one store: an ingest killed midway, readers during an ingest, two ingesters at once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from dgx_spark_mcp.settings import Settings
from dgx_spark_mcp.telemetry.ingest import ingest
from dgx_spark_mcp.telemetry.store import TelemetryStore

from .bigcsv import write_long_csv

INGEST = """
import json, sys
from dgx_spark_mcp.settings import Settings
from dgx_spark_mcp.telemetry.ingest import ingest
settings = Settings(home=sys.argv[1], allowed_roots=[sys.argv[2]])
for source in sys.argv[3:]:
    print(ingest(source, settings).model_dump_json(), flush=True)
"""

READ = """
import json, sys, time
from dgx_spark_mcp.settings import Settings
from dgx_spark_mcp.telemetry.store import TelemetryStore
store = TelemetryStore(Settings(home=sys.argv[1], allowed_roots=[sys.argv[2]]))
stop = time.monotonic() + float(sys.argv[3])
while time.monotonic() < stop:
    with store.reader() as con:
        n, k = con.execute("SELECT count(*), count(DISTINCT (ts, uuid, metric)) FROM samples").fetchone()
    print(json.dumps([n, k]), flush=True)
    time.sleep(0.02)
"""


def spawn(script: str, settings: Settings, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", script, str(settings.home), str(settings.allowed_roots[0]), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def stored(settings: Settings) -> int:
    with TelemetryStore(settings).reader() as con:
        row = con.execute("SELECT count(*) FROM samples").fetchone()
    return int(row[0]) if row else 0


def test_an_ingest_killed_midway_leaves_the_store_as_it_was(settings: Settings, tmp_path: Path) -> None:
    store = TelemetryStore(settings)
    ingest(str(write_long_csv(tmp_path / "small.csv", 640, start_second=10_000)), settings)
    batches_before, rows_before = store.batches(), stored(settings)
    big = write_long_csv(tmp_path / "big.csv", 400_000)
    proc = spawn(INGEST, settings, str(big))
    caught = False
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        # The commit writes its batch under _staging before one rename publishes it: kill it there.
        if store.staging_dir.is_dir() and any(store.staging_dir.iterdir()):
            os.kill(proc.pid, signal.SIGKILL)
            caught = True
            break
        time.sleep(0.002)
    proc.wait(timeout=30)
    proc.stdout.close()  # type: ignore[union-attr]
    proc.stderr.close()  # type: ignore[union-attr]
    assert caught, "the ingest finished before it could be killed in _staging; make the file bigger"
    assert proc.returncode == -signal.SIGKILL
    assert store.batches() == batches_before and stored(settings) == rows_before
    result = ingest(str(big), settings)
    assert result.rows_stored == 400_000 and stored(settings) == rows_before + 400_000
    assert not any(store.staging_dir.iterdir())  # the leftover of the killed ingest is gone


def test_readers_see_whole_batches_while_an_ingest_runs(settings: Settings, tmp_path: Path) -> None:
    files = [write_long_csv(tmp_path / f"part{i}.csv", 64_000, start_second=i * 1000) for i in range(3)]
    reader = spawn(READ, settings, "25")
    time.sleep(1.0)  # the reader is querying an empty store before the first commit
    writer = spawn(INGEST, settings, *map(str, files))
    out, err = writer.communicate(timeout=300)
    assert writer.returncode == 0, err
    assert [json.loads(line)["rows_stored"] for line in out.splitlines()] == [64_000] * 3
    reader.send_signal(signal.SIGTERM) if reader.poll() is None else None
    r_out, r_err = reader.communicate(timeout=60)
    assert reader.returncode in (0, -signal.SIGTERM), r_err
    assert "Error" not in r_err and "Traceback" not in r_err
    counts = [tuple(json.loads(line)) for line in r_out.splitlines()]
    assert len(counts) > 5
    totals = [n for n, _ in counts]
    assert totals == sorted(totals)  # only ever grows
    assert set(totals) <= {0, 64_000, 128_000, 192_000}  # a batch is seen whole or not at all
    assert all(n == k for n, k in counts)


def test_two_processes_ingesting_one_file_store_it_once(settings: Settings, tmp_path: Path) -> None:
    path = write_long_csv(tmp_path / "same.csv", 100_000)
    procs = [spawn(INGEST, settings, str(path)) for _ in range(2)]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        results.append(json.loads(out))
    assert sorted(r["rows_stored"] for r in results) == [0, 100_000]
    assert sorted(r["duplicates"] for r in results) == [0, 100_000]
    with TelemetryStore(settings).reader() as con:
        assert con.execute("SELECT count(*), count(DISTINCT (ts, uuid, metric)) FROM samples").fetchone() == (100_000, 100_000)
