"""DCGM CSV exports (long and wide) as SQL: DuckDB's ``read_csv`` over the file, every column VARCHAR.

Each format becomes one relation of raw strings (ts_raw, metric, gpu_id, uuid, model, host,
container, pod, namespace, value_raw) that :mod:`.checks` parses.  Only the columns stored are
named in it: DuckDB reads the others (``device``, ``labels_raw``) as far as finding where the next
field starts, and never copies them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import BadInputError
from .checks import read_errors
from .metrics import metrics
from .sources import IngestFormat

if TYPE_CHECKING:
    from duckdb import DuckDBPyConnection

__all__ = ["DRIVER_HEAD_ROWS", "REJECTS", "long_drivers", "long_relation", "malformed_lines", "read_csv_sql",
           "usable_header", "wide_notes", "wide_relation"]

REJECTS = "_csv_rejects"

_UNNAMED = "_unnamed_column_"
_LONG_COLUMNS = {"timestamp", "metric_name", "gpu_id", "gpu", "uuid", "modelname", "model_name", "hostname",
                 "container", "pod", "namespace", "value", "labels_raw"}


def _read_columns(fmt: IngestFormat) -> set[str]:
    """The header names (lower case) a format reads: two columns of one such name leave it ambiguous."""
    if fmt == "dcgm_long":
        return _LONG_COLUMNS
    return (_LONG_COLUMNS - {"metric_name", "value", "labels_raw"}) | set(metrics().by_wide_column())


def usable_header(path: Path, header: list[str], fmt: IngestFormat) -> tuple[list[str], list[str]]:
    """Column names DuckDB can take (each non-empty and distinct), and notes on what was renamed.

    A trailing comma on every line (common in exports) gives a column with no name; it is read
    under a placeholder and ignored.  A name given twice is ignored after its first use, unless
    the format reads it: then which column holds the data is a guess, so the file is refused.
    """
    names: list[str] = []
    seen: dict[str, int] = {}
    unnamed: list[int] = []
    repeated: list[str] = []
    for number, name in enumerate(header, start=1):
        if not name:
            unnamed.append(number)
            name = f"{_UNNAMED}{number}"
        elif name.lower() in seen:
            if name.lower() in _read_columns(fmt):
                raise BadInputError(
                    f"{path} names column {name!r} twice (columns {seen[name.lower()]} and {number}), so which one holds "
                    f"the {fmt} data is a guess; rename or remove one of them in the header line and ingest it again"
                )
            repeated.append(f"{name!r} (column {number})")
            name = f"{name}_column_{number}"
        while name.lower() in seen:  # a placeholder that a real header name already took
            name += "_"
        seen[name.lower()] = number
        names.append(name)
    notes: list[str] = []
    if unnamed:
        notes.append(f"column(s) {', '.join(map(str, unnamed))} have no name in the header (a trailing comma?) and "
                     "were ignored")
    if repeated:
        notes.append(f"repeated column name(s) {', '.join(repeated)} were ignored after their first column")
    return names, notes


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def read_csv_sql(path: Path, header: list[str]) -> str:
    # Every column as VARCHAR, named from the header: the checks parse them, so one bad value is one
    # reject rather than a failed file, and a column order other than the usual one does not matter.
    columns = "{" + ", ".join(f"{_sql_string(name)}: 'VARCHAR'" for name in header) + "}"
    return (
        f"read_csv({_sql_string(str(path))}, header = true, auto_detect = false, columns = {columns}, "
        "delim = ',', quote = '\"', escape = '\"', compression = 'auto', strict_mode = false, "
        # A line with too few or too many fields is set aside and counted, not fatal to the file.
        f"store_rejects = true, rejects_table = '{REJECTS}', rejects_scan = '{REJECTS}_scans')"
    )


def _pick(header: list[str], *names: str) -> str:
    """The column of ``header`` matching one of ``names`` case-insensitively, as SQL; NULL if none."""
    by_lower = {n.lower(): n for n in header}
    for name in names:
        if name in by_lower:
            return _ident(by_lower[name])
    return "NULL::VARCHAR"


DRIVER_HEAD_ROWS = (20_000, 100_000, 500_000)
"""Rows of a long CSV read for the GPUs' driver versions, tried in turn until every GPU has one
(see :func:`long_drivers`): 20,000 rows hold the first timestamp of 2,000 GPUs x 10 metrics."""


def long_relation(reader: str, header: list[str]) -> str:
    return (
        f"SELECT {_pick(header, 'timestamp')} AS ts_raw, {_pick(header, 'metric_name')} AS metric, "
        f"{_pick(header, 'gpu_id', 'gpu')} AS gpu_id, {_pick(header, 'uuid')} AS uuid, "
        f"{_pick(header, 'modelname', 'model_name')} AS model, {_pick(header, 'hostname')} AS host, "
        f"{_pick(header, 'container')} AS container, {_pick(header, 'pod')} AS pod, "
        f"{_pick(header, 'namespace')} AS namespace, {_pick(header, 'value')} AS value_raw FROM {reader}"
    )


def long_drivers(con: DuckDBPyConnection, reader: str, header: list[str], source: str,
                 gpus: int) -> tuple[dict[str, str], int]:
    """Each GPU's driver version from the labels_raw of the file's first rows, and how many rows were read.

    labels_raw is the widest column: reading it for every row of a 10 M-row export doubled the time
    of the whole parse.  The driver is per GPU, and an export lists every GPU within its first
    timestamp (or its first metric, when grouped by metric), so the head is enough: a longer head is
    read only while some of the file's ``gpus`` GPUs have no driver yet.  GPUs first seen later get
    none, and the result says how many.
    """
    labels = _pick(header, "labels_raw")
    if labels.startswith("NULL"):
        return {}, 0
    # labels_raw reads DCGM_FI_DRIVER_VERSION="550.54.15",... after CSV unquoting: strpos + a short
    # substr cuts the value without a regex.
    marker = 'DCGM_FI_DRIVER_VERSION="'
    driver = (
        f"NULLIF(split_part(substr({labels}, NULLIF(strpos({labels}, {_sql_string(marker)}), 0) + {len(marker)}, 24), "
        "'\"', 1), '')"
    )
    uuid = _pick(header, "uuid")
    found: dict[str, str] = {}
    for rows in DRIVER_HEAD_ROWS:
        with read_errors(source, "dcgm_long"):
            found = {
                str(u): str(d)
                for u, d in con.execute(
                    f"SELECT trim({uuid}), max({driver}) FROM (SELECT {uuid}, {labels} FROM {reader} LIMIT {rows}) "
                    f"WHERE NULLIF(trim({uuid}), '') IS NOT NULL GROUP BY ALL"
                ).fetchall()
                if d
            }
        if len(found) >= gpus:
            break
    return found, rows


def _wide_columns(header: list[str]) -> list[tuple[str, str]]:
    wide = metrics().by_wide_column()
    return [(name, wide[name.lower()].name) for name in header if name.lower() in wide]


def wide_relation(reader: str, header: list[str]) -> str:
    pairs = _wide_columns(header)
    keep = (
        f"{_pick(header, 'timestamp')} AS ts_raw, {_pick(header, 'gpu_id', 'gpu')} AS gpu_id, "
        f"{_pick(header, 'uuid')} AS uuid, {_pick(header, 'modelname', 'model_name')} AS model, "
        f"{_pick(header, 'hostname')} AS host, {_pick(header, 'container')} AS container, "
        f"{_pick(header, 'pod')} AS pod, {_pick(header, 'namespace')} AS namespace"
    )
    names = ", ".join(_sql_string(metric) for _, metric in pairs)
    cells = ", ".join(_ident(name) for name, _ in pairs)
    # Two unnests in one SELECT are zipped: one row per (CSV row, metric column), empty cells kept
    # so that they are counted as samples with no value rather than silently absent.
    return (
        "SELECT ts_raw, metric, gpu_id, uuid, model, host, container, pod, namespace, value_raw "
        f"FROM (SELECT {keep}, unnest([{names}]) AS metric, "
        f"unnest([{cells}]) AS value_raw FROM {reader})"
    )


def wide_notes(header: list[str]) -> list[str]:
    known = {"timestamp", "gpu_id", "gpu", "uuid", "modelname", "model_name", "hostname", "device", "container",
             "pod", "namespace"} | set(metrics().by_wide_column())
    ignored = [n for n in header if n.lower() not in known]
    return [f"columns not mapped to a metric, ignored: {', '.join(ignored)}"] if ignored else []


def malformed_lines(con: DuckDBPyConnection) -> int:
    """Lines ``read_csv`` set aside (too few fields, unclosed quote): counted, never stored."""
    exists = con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = ?", [REJECTS]).fetchone()
    if not exists or not exists[0]:
        return 0
    row = con.execute(f"SELECT count(DISTINCT (file_id, line)) FROM {REJECTS}").fetchone()
    return int(row[0]) if row else 0
