"""One batch of samples into the telemetry store: each (ts, uuid, metric) once, sorted by (uuid, metric, ts).

Under the ingest lock (:meth:`.TelemetryStore.ingest_lock`) the valid rows of a table are compared
with the store, sorted and written under ``_staging/<id>/``, which one rename then publishes.

Where the commit of a 5 M-row DCGM export spent its time (2 CPUs, bench/telemetry.py) and what
it does instead:

- Sorting rows that carry their uuid, metric, host and model strings: 2.5 s, and 10-25 s while
  other work shared the CPUs.  The labels are cast to ENUM types made from this batch's distinct
  values in string order, so the sort moves small integer codes and orders them exactly as the
  strings would (1.4 s).  Parquet stores an ENUM as the same dictionary-encoded UTF-8 column.
- A count of distinct keys over every row, to find keys the batch repeats: a 5 M-entry hash table
  (0.7 s).  Repeats are looked for where the sort puts them, side by side: the written file's ts
  column is read back (0.2 s) and must rise within every (uuid, metric).  Only a batch that repeats
  a key is deduplicated and written again.
- Reading the ts column of every stored batch to find overlap.  Each batch's GPU summary
  (``_gpus.parquet``: first and last sample of each GPU) says whether it can hold a key of this
  batch; only those batches are read, and none when none can (a new time range, or new GPUs).
- Two GROUP BYs over every row for ``_gpus.parquet`` and ``_latest.parquet``: both come from one
  aggregate per label set (uuid, metric, host, model, ...; about one row per series), made once.
"""

from __future__ import annotations

import os
import uuid as uuidlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import CouldNotDoError
from .store import SAMPLE_COLUMNS, CommitResult, sql_list, sql_path

if TYPE_CHECKING:
    from duckdb import DuckDBPyConnection

    from .store import TelemetryStore

__all__ = ["LABEL_SETS", "Summary", "summarise", "write_batch"]

ROW_GROUP = 122_880
LABEL_SETS = "_label_sets"
"""The temp table :func:`summarise` leaves: one row per distinct label set of the summarised rows."""
_LABELS = ("uuid", "metric", "host", "model", "gpu_index", "pod", "namespace", "container")
_TEXT_LABELS = ("uuid", "metric", "host", "model", "pod", "namespace", "container")
_READ_BACK_ROWS = 2_000_000  # ts values held in memory at once while a written file is checked (16 MB)


@dataclass(frozen=True)
class Summary:
    """The rows of ``table`` as :func:`summarise` found them (its :data:`LABEL_SETS` table holds the detail)."""

    table: str
    rows: int
    first: datetime | None
    last: datetime | None
    gpus: int
    hosts: list[str]
    metrics: list[str]


def summarise(con: DuckDBPyConnection, table: str) -> Summary:
    """Aggregate the rows of ``table`` (columns :data:`SAMPLE_COLUMNS`, every key set) per label set.

    Everything the commit needs besides the rows themselves comes from this one pass: the ENUM
    values, the time range per GPU (overlap with the store), the series sizes (the check of the
    written file) and both per-batch summary files.
    """
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {LABEL_SETS} AS SELECT {', '.join(_LABELS)}, count(*) AS n, min(ts) AS lo, "
        # value_ts: the time of the last non-null value, which arg_max(value, ts) picked (it skips NULLs).
        "max(ts) AS hi, arg_max(value, ts) AS last_value, max(ts) FILTER (WHERE value IS NOT NULL) AS value_ts "
        f"FROM {table} GROUP BY ALL"
    )
    row = con.execute(
        "SELECT coalesce(sum(n), 0)::BIGINT, min(lo), max(hi), count(DISTINCT uuid), "
        "list(DISTINCT host ORDER BY host) FILTER (WHERE host IS NOT NULL), list(DISTINCT metric ORDER BY metric) "
        f"FROM {LABEL_SETS}"
    ).fetchone()
    rows, first, last, gpus, hosts, metrics = row if row else (0, None, None, 0, [], [])
    return Summary(table=table, rows=int(rows), first=first, last=last, gpus=int(gpus or 0),
                   hosts=[str(h) for h in hosts or []], metrics=[str(m) for m in metrics or []])


def write_batch(store: TelemetryStore, con: DuckDBPyConnection, summary: Summary, driver: dict[str, str],
                phase: Callable[[str], None]) -> CommitResult:
    """Store the rows ``summary`` describes as one batch, less those stored already and repeats; publish it."""
    rows_in = summary.rows
    if rows_in == 0:
        return CommitResult(batch=None, rows_in=0, stored=0, duplicates=0)
    compared = _overlapping(store, con)
    if compared:
        phase("comparing with the stored samples")
        summary = _drop_stored(con, summary, compared)
        if summary.rows == 0:
            return CommitResult(batch=None, rows_in=rows_in, stored=0, duplicates=rows_in,
                                compared_batches=len(compared))
    new = summary.rows
    batch = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f") + "-" + uuidlib.uuid4().hex[:8]
    staging = store.staging_dir / batch
    staging.mkdir(parents=True)
    part = staging / "part-0.parquet"
    phase("writing")
    with _label_types(con) as types:
        stored = _write_sorted(con, summary.table, part, types)
        if _repeats(con, part):
            summary = _drop_repeats(con, summary)
            stored = _write_sorted(con, summary.table, part, types)
            if _repeats(con, part):  # one row per key now: only a write out of order can fail the check
                raise CouldNotDoError(f"the sorted write of batch {batch} came out of order; nothing was stored")
    _write_summaries(con, staging, driver)
    _publish(store, staging, batch)
    return CommitResult(batch=batch, rows_in=rows_in, stored=stored, duplicates=rows_in - stored,
                        compared_batches=len(compared), repeated=new - stored)


# ---- what the store holds already ----------------------------------------------------------


def _overlapping(store: TelemetryStore, con: DuckDBPyConnection) -> list[Path]:
    """The committed batches that may hold a key of the summarised rows: one of their GPUs seen in its time range."""
    batches = store.batches()
    summarised = [b for b in batches if (b / "_gpus.parquet").is_file()]
    # A batch without its summary (none is written so, but a file can go missing) is compared in full.
    found = {b for b in batches if b not in set(summarised)}
    if summarised:
        rows = con.execute(
            f"SELECT DISTINCT g.filename FROM read_parquet({sql_list([b / '_gpus.parquet' for b in summarised])}, "
            "filename = true, hive_partitioning = false) g JOIN "
            f"(SELECT uuid, min(lo) AS lo, max(hi) AS hi FROM {LABEL_SETS} GROUP BY uuid) f USING (uuid) "
            "WHERE g.first_seen <= f.hi AND g.last_seen >= f.lo"
        ).fetchall()
        found |= {Path(name).parent for (name,) in rows}
    return sorted(found)


def _drop_stored(con: DuckDBPyConnection, summary: Summary, batches: list[Path]) -> Summary:
    parts = sql_list([b / "part-0.parquet" for b in batches])
    columns = ", ".join(SAMPLE_COLUMNS)
    # The stored side is cut to this batch's GPUs and time range: the files are sorted by (uuid,
    # metric, ts), so their row-group statistics skip most of what other GPUs and times hold.
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _fresh AS SELECT {columns} FROM {summary.table} ANTI JOIN "
        f"(SELECT ts, uuid, metric FROM read_parquet({parts}, hive_partitioning = false) "
        f"WHERE ts BETWEEN ? AND ? AND uuid IN (SELECT uuid FROM {LABEL_SETS})) s USING (ts, uuid, metric)",
        [summary.first, summary.last],
    )
    return summarise(con, "_fresh")


# ---- the sorted part file ------------------------------------------------------------------


@contextmanager
def _label_types(con: DuckDBPyConnection) -> Iterator[dict[str, str]]:
    """An ENUM type per text label, its values those of :data:`LABEL_SETS` in string order; dropped after."""
    token = uuidlib.uuid4().hex[:8]
    types = {column: f"_labels_{column}_{token}" for column in _TEXT_LABELS}
    made: list[str] = []
    try:
        for column, name in types.items():
            con.execute(
                f"CREATE TYPE {name} AS ENUM (SELECT DISTINCT {column} FROM {LABEL_SETS} "
                f"WHERE {column} IS NOT NULL ORDER BY {column})"
            )
            made.append(name)
        yield types
    finally:
        for name in made:
            con.execute(f"DROP TYPE IF EXISTS {name}")


def _write_sorted(con: DuckDBPyConnection, table: str, part: Path, types: dict[str, str]) -> int:
    """Write the rows of ``table`` sorted by (uuid, metric, ts) to ``part``; returns the rows written."""
    # The casts: see the module docstring.  The outer ORDER BY names the ENUM columns, not the strings.
    cast = ", ".join(f"{c}::{types[c]} AS {c}" if c in types else c for c in SAMPLE_COLUMNS)
    row = con.execute(
        f"COPY (SELECT * FROM (SELECT {cast} FROM {table}) ORDER BY uuid, metric, ts) TO {sql_path(part)} "
        f"(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE {ROW_GROUP})"
    ).fetchone()
    return int(row[0]) if row else 0


def _repeats(con: DuckDBPyConnection, part: Path) -> bool:
    """Whether the sorted ``part`` holds a (ts, uuid, metric) twice: ts must rise within each (uuid, metric).

    The series sizes come from :data:`LABEL_SETS`, in the file's order, so where each series starts
    is known without reading the uuid and metric columns back.
    """
    import numpy as np

    sizes = [int(n) for (n,) in con.execute(
        f"SELECT sum(n) FROM {LABEL_SETS} GROUP BY uuid, metric ORDER BY uuid, metric").fetchall()]
    starts = np.cumsum(np.array(sizes, dtype=np.int64))
    total, starts = int(starts[-1]), starts[:-1]  # the first row of each series after the first
    previous: np.ndarray | None = None
    with _setting(con, "preserve_insertion_order", "true"):  # rows come back in file order
        for first in range(0, total, _READ_BACK_ROWS):
            chunk = np.asarray(con.execute(
                f"SELECT epoch_us(ts) AS t FROM read_parquet({sql_path(part)}, file_row_number = true) "
                f"WHERE file_row_number >= {first} AND file_row_number < {first + _READ_BACK_ROWS}"
            ).fetchnumpy()["t"], dtype=np.int64)
            ts = chunk if previous is None else np.concatenate((previous, chunk))
            base = first if previous is None else first - 1  # the file row of ts[0]
            rising = ts[1:] > ts[:-1]  # rising[k]: row base + k + 1 comes after row base + k
            new_series = starts[(starts > base) & (starts < base + len(ts))] - base - 1
            rising[new_series] = True
            if not rising.all():
                return True
            previous = chunk[-1:]
    return False


def _drop_repeats(con: DuckDBPyConnection, summary: Summary) -> Summary:
    # One row per key; which of the repeats is kept is not specified.
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _unique AS SELECT {', '.join(SAMPLE_COLUMNS)} FROM {summary.table} "
        "QUALIFY row_number() OVER (PARTITION BY ts, uuid, metric) = 1"
    )
    return summarise(con, "_unique")


@contextmanager
def _setting(con: DuckDBPyConnection, name: str, value: str) -> Iterator[None]:
    row = con.execute("SELECT current_setting(?)", [name]).fetchone()
    con.execute(f"SET {name} = {value}")
    try:
        yield
    finally:
        con.execute(f"SET {name} = {row[0] if row else 'true'}")


# ---- the summaries and the commit ----------------------------------------------------------


def _write_summaries(con: DuckDBPyConnection, staging: Path, driver: dict[str, str]) -> None:
    con.execute("CREATE OR REPLACE TEMP TABLE _driver (uuid VARCHAR, driver VARCHAR)")
    if driver:
        con.execute("INSERT INTO _driver SELECT unnest(?::VARCHAR[]), unnest(?::VARCHAR[])",
                    [list(driver), list(driver.values())])
    # Per GPU and per series from the label sets: the latest of a label is the one of the label set
    # seen last, which is what arg_max over the rows gives.
    con.execute(
        "COPY (SELECT s.uuid, arg_max(s.host, s.hi) AS host, arg_max(s.gpu_index, s.hi) AS gpu_index, "
        "arg_max(s.model, s.hi) AS model, any_value(d.driver) AS driver, min(s.lo) AS first_seen, "
        f"max(s.hi) AS last_seen, sum(s.n)::BIGINT AS samples FROM {LABEL_SETS} s LEFT JOIN _driver d USING (uuid) "
        f"GROUP BY s.uuid ORDER BY s.uuid) TO {sql_path(staging / '_gpus.parquet')} (FORMAT parquet)"
    )
    con.execute(
        "COPY (SELECT uuid, metric, max(hi) AS ts, arg_max(last_value, value_ts) AS value "
        f"FROM {LABEL_SETS} GROUP BY uuid, metric ORDER BY uuid, metric) "
        f"TO {sql_path(staging / '_latest.parquet')} (FORMAT parquet)"
    )


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _publish(store: TelemetryStore, staging: Path, batch: str) -> None:
    for written in staging.iterdir():
        with written.open("rb") as handle:
            os.fsync(handle.fileno())
    _fsync_dir(staging)
    store.samples_dir.mkdir(parents=True, exist_ok=True)
    os.rename(staging, store.samples_dir / f"batch={batch}")  # the commit: atomic on one filesystem
    _fsync_dir(store.samples_dir)
