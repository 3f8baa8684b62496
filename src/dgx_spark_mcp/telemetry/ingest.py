"""Ingest GPU telemetry into the store: DCGM CSV (long or wide), Prometheus exposition (file or one scrape).

Every format becomes one relation of raw strings (timestamp, metric, uuid, value, ...) checked by
the same SQL: timestamps and values parsed with TRY_CAST, DCGM blank sentinels turned into NULL,
rows without a GPU uuid or with unparsable fields set aside and counted by reason.  The CSV formats
go straight from DuckDB's ``read_csv`` (every column read as VARCHAR, so one odd value costs a
reject, not the file) into that check: no Python loop per row, which is what keeps a 10M-row export
at about a million rows a second.  Then :meth:`TelemetryStore.commit` stores each sample once.
"""

from __future__ import annotations

import csv
import functools
import gzip
import ipaddress
import logging
import re
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field

from ..errors import BadInputError, CouldNotDoError
from ..files import allowed_path, looks_binary
from ..settings import Settings
from .metrics import metrics
from .prometheus import PromParse, looks_like_prometheus, parse_exposition
from .store import TelemetryStore

if TYPE_CHECKING:
    from duckdb import DuckDBPyConnection

__all__ = ["IngestFormat", "IngestResult", "Progress", "detect_format", "ingest"]

log = logging.getLogger(__name__)

IngestFormat = Literal["dcgm_long", "dcgm_wide", "prometheus"]
Progress = Callable[[float, float | None, str], None]

SCRAPE_TIMEOUT_S = 10.0
_HEAD_BYTES = 64 * 1024
_LONG_REQUIRED = ("timestamp", "metric_name", "uuid", "value")
_WIDE_REQUIRED = ("timestamp", "uuid")
_REJECTS = "_csv_rejects"
# Progress is reported in percent: reading the file is most of the work, the commit the rest.
_READ_DONE, _CHECKED, _TOTAL = 70.0, 80.0, 100.0


class IngestResult(BaseModel):
    """What one ingest read and stored."""

    source: str = Field(description="The file (resolved path) or URL read.")
    format: IngestFormat
    rows_read: int = Field(description="Samples read (for the wide CSV: rows x metric columns).")
    rows_stored: int = Field(description="Samples newly stored.")
    duplicates: int = Field(description="Valid samples already stored, or repeated in the source: not stored again.")
    rejected: dict[str, int] = Field(
        description="Samples skipped, by reason (no GPU uuid, unparsable timestamp or value, no value), and lines "
        "that held no sample (malformed CSV line, not a DCGM metric)."
    )
    blanks: int = Field(description="DCGM blank sentinels (unsupported field) stored as null values.")
    gpus: int = Field(description="Distinct GPUs (uuid) among the valid samples.")
    hosts: list[str] = Field(description="Hosts among the valid samples.")
    metrics: list[str] = Field(description="Metric names among the valid samples (DCGM field names).")
    first_ts: str | None = Field(description="Earliest valid sample, ISO 8601 UTC.")
    last_ts: str | None = Field(description="Latest valid sample, ISO 8601 UTC.")
    seconds: float = Field(description="Wall time of the ingest.")
    batch: str | None = Field(description="The store batch written, or null when nothing new was stored.")
    notes: list[str] = Field(default_factory=list)


# ---- entry point ---------------------------------------------------------------------------


def ingest(source: str, settings: Settings, *, progress: Progress | None = None) -> IngestResult:
    """Read ``source`` (a file under the allowed roots, or the http(s) URL of a dcgm-exporter /metrics
    endpoint) and store its samples once each; the format is detected from the first lines."""
    started = time.perf_counter()
    report: Progress = progress or (lambda done, total, message: None)
    text = source.strip() if isinstance(source, str) else ""
    if not text:
        raise BadInputError("source is empty; give a telemetry file path or a dcgm-exporter URL (http://host:9400/metrics)")
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", text):
        return _ingest_scrape(text, settings, report, started)
    path = allowed_path(text, settings)
    fmt, header = detect_format(path)
    report(0.0, _TOTAL, f"reading {path.name} ({fmt})")
    if fmt == "prometheus":
        mtime = datetime.fromtimestamp(path.stat().st_mtime, UTC)
        parsed = _read_exposition(path, mtime)
        notes = [f"samples without a timestamp are stamped with the file's modification time, {_iso(mtime)}"]
        return _ingest_prometheus(str(path), parsed, settings, report, started, notes)
    columns, notes = _usable_header(path, header, fmt)
    notes += [] if fmt == "dcgm_long" else _wide_notes(list(dict.fromkeys(name for name in header if name)))
    header = columns
    con = _connection(settings, path)
    try:
        reader = _read_csv_sql(path, header)
        raw = _long_relation(reader, header) if fmt == "dcgm_long" else _wide_relation(reader, header)
        head_drivers = functools.partial(_long_drivers, con, reader, header, str(path)) if fmt == "dcgm_long" else None
        return _check_and_commit(con, raw, str(path), fmt, settings, report, started, notes, {}, head_drivers)
    finally:
        con.close()


# ---- detection -----------------------------------------------------------------------------


def detect_format(path: Path) -> tuple[IngestFormat, list[str]]:
    """The format of ``path`` and, for CSV, its header names; BadInputError for anything else."""
    lines = _head_lines(path)
    first = lines[0]
    if looks_like_prometheus(lines):
        return "prometheus", []
    names = [n.strip() for n in next(csv.reader([first]))]
    lowered = {n.lower() for n in names}
    if all(c in lowered for c in _LONG_REQUIRED):
        return "dcgm_long", names
    wide = metrics().by_wide_column()
    if all(c in lowered for c in _WIDE_REQUIRED) and any(n in wide for n in lowered):
        return "dcgm_wide", names
    raise BadInputError(
        f"{path} is not a telemetry file this server reads: its first line is {first[:160]!r}. Expected a DCGM "
        "long CSV (header timestamp,metric_name,gpu_id,device,uuid,modelName,Hostname,container,pod,namespace,"
        "value,labels_raw), a wide CSV (timestamp, uuid and metric columns such as gpu_utilization, power_draw) "
        "or Prometheus text from dcgm-exporter's /metrics"
    )


def _compression(path: Path) -> str | None:
    suffix = path.suffix.lower()
    return {".gz": "gzip", ".zst": "zstd", ".zstd": "zstd"}.get(suffix)


def _open_binary(path: Path):  # type: ignore[no-untyped-def]
    kind = _compression(path)
    if kind == "gzip":
        return gzip.open(path, "rb")
    if kind == "zstd":
        import zstandard

        return zstandard.ZstdDecompressor().stream_reader(path.open("rb"), closefd=True)
    return path.open("rb")


def _open_text(path: Path):  # type: ignore[no-untyped-def]
    import io

    return io.TextIOWrapper(_open_binary(path), encoding="utf-8", errors="replace", newline=None)


def _read_exposition(path: Path, mtime: datetime) -> PromParse:
    """The samples of a Prometheus text file; a compressed stream cut or corrupt past its head is bad input."""
    try:
        with _open_text(path) as handle:
            return parse_exposition(handle, mtime)
    except (OSError, EOFError) as exc:  # gzip: EOFError when cut, OSError (BadGzipFile) when corrupt
        raise _cut_stream(path, exc) from None
    except Exception as exc:  # zstandard.ZstdError has no common base with OSError
        if type(exc).__module__.startswith("zstandard"):
            raise _cut_stream(path, exc) from None
        raise


def _cut_stream(path: Path, exc: BaseException) -> BadInputError:
    return BadInputError(f"{path} stops or breaks partway through its {_compression(path) or 'plain'} stream ({exc}); "
                         "the file was cut or corrupted: copy it again whole, or give it uncompressed")


def _empty_or_cut(path: Path) -> BadInputError:
    """Nothing decompressed from the head: an empty export, or a zstd stream cut inside its first block."""
    if _compression(path) == "zstd":
        import zstandard

        with path.open("rb") as handle:
            head = handle.read(_HEAD_BYTES)
        decoder = zstandard.ZstdDecompressor().decompressobj()
        try:
            decoder.decompress(head)
            finished = decoder.eof
        except zstandard.ZstdError:
            finished = False
        if not finished:
            return BadInputError(f"{path} is a zstd stream cut before its first block ends, so nothing in it can be "
                                 "read; copy the file again whole, or give it uncompressed")
    return BadInputError(f"{path} is empty; give a DCGM CSV export or a saved dcgm-exporter /metrics page")


def _head_lines(path: Path) -> list[str]:
    try:
        with _open_binary(path) as handle:
            chunk = handle.read(_HEAD_BYTES)
    except (OSError, EOFError) as exc:  # a corrupt .gz, a .zst that is not zstd
        raise BadInputError(f"{path} cannot be read as a {_compression(path) or 'plain'} file ({exc}); give an "
                            "uncompressed, .gz or .zst telemetry file") from None
    except Exception as exc:  # zstandard.ZstdError has no common base with OSError
        raise BadInputError(f"{path} cannot be decompressed ({exc}); give an uncompressed, .gz or .zst file") from None
    if not chunk.strip():
        raise _empty_or_cut(path) if not chunk else BadInputError(
            f"{path} is empty; give a DCGM CSV export or a saved dcgm-exporter /metrics page")
    if looks_binary(chunk):
        raise BadInputError(f"{path} is a binary file, not telemetry text; give a DCGM CSV export (plain, .gz or "
                            ".zst) or a saved dcgm-exporter /metrics page")
    try:
        text = chunk.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(chunk) - 4:  # not just a character cut at the end of the chunk
            raise BadInputError(f"{path} is not UTF-8 text (bad byte at offset {exc.start}); give a DCGM CSV "
                                "export or Prometheus text") from None
        text = chunk[: exc.start].decode("utf-8")
    lines = [line for line in text.lstrip("\ufeff").splitlines() if line.strip()]
    return lines[:50]


# ---- the CSV formats -----------------------------------------------------------------------


_UNNAMED = "_unnamed_column_"
_LONG_COLUMNS = {"timestamp", "metric_name", "gpu_id", "gpu", "uuid", "modelname", "model_name", "hostname",
                 "container", "pod", "namespace", "value", "labels_raw"}


def _read_columns(fmt: IngestFormat) -> set[str]:
    """The header names (lower case) a format reads: two columns of one such name leave it ambiguous."""
    if fmt == "dcgm_long":
        return _LONG_COLUMNS
    return (_LONG_COLUMNS - {"metric_name", "value", "labels_raw"}) | set(metrics().by_wide_column())


def _usable_header(path: Path, header: list[str], fmt: IngestFormat) -> tuple[list[str], list[str]]:
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


def _read_csv_sql(path: Path, header: list[str]) -> str:
    # Every column as VARCHAR, named from the header: the checks parse them, so one bad value is one
    # reject rather than a failed file, and a column order other than the usual one does not matter.
    columns = "{" + ", ".join(f"{_sql_string(name)}: 'VARCHAR'" for name in header) + "}"
    return (
        f"read_csv({_sql_string(str(path))}, header = true, auto_detect = false, columns = {columns}, "
        "delim = ',', quote = '\"', escape = '\"', compression = 'auto', strict_mode = false, "
        # A line with too few or too many fields is set aside and counted, not fatal to the file.
        f"store_rejects = true, rejects_table = '{_REJECTS}', rejects_scan = '{_REJECTS}_scans')"
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
(see :func:`_long_drivers`): 20,000 rows hold the first timestamp of 2,000 GPUs x 10 metrics."""


def _long_relation(reader: str, header: list[str]) -> str:
    return (
        f"SELECT {_pick(header, 'timestamp')} AS ts_raw, {_pick(header, 'metric_name')} AS metric, "
        f"{_pick(header, 'gpu_id', 'gpu')} AS gpu_id, {_pick(header, 'uuid')} AS uuid, "
        f"{_pick(header, 'modelname', 'model_name')} AS model, {_pick(header, 'hostname')} AS host, "
        f"{_pick(header, 'container')} AS container, {_pick(header, 'pod')} AS pod, "
        f"{_pick(header, 'namespace')} AS namespace, {_pick(header, 'value')} AS value_raw, NULL::VARCHAR AS driver "
        f"FROM {reader}"
    )


def _long_drivers(con: DuckDBPyConnection, reader: str, header: list[str], source: str,
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
        with _read_errors(source, "dcgm_long"):
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


def _wide_relation(reader: str, header: list[str]) -> str:
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
        "SELECT ts_raw, metric, gpu_id, uuid, model, host, container, pod, namespace, value_raw, "
        f"NULL::VARCHAR AS driver FROM (SELECT {keep}, unnest([{names}]) AS metric, "
        f"unnest([{cells}]) AS value_raw FROM {reader})"
    )


def _wide_notes(header: list[str]) -> list[str]:
    known = {"timestamp", "gpu_id", "gpu", "uuid", "modelname", "model_name", "hostname", "device", "container",
             "pod", "namespace"} | set(metrics().by_wide_column())
    ignored = [n for n in header if n.lower() not in known]
    return [f"columns not mapped to a metric, ignored: {', '.join(ignored)}"] if ignored else []


# ---- Prometheus ----------------------------------------------------------------------------


def _ingest_prometheus(
    source: str, parsed: PromParse, settings: Settings, report: Progress, started: float, notes: list[str]
) -> IngestResult:
    with tempfile.TemporaryDirectory(prefix="dgx-spark-mcp-prom-") as tmp:
        # A scrape is thousands of rows: a temporary CSV feeds them to the same SQL checks as the CSV formats.
        staged = Path(tmp) / "samples.csv"
        con = _connection(settings, staged)
        try:
            columns = ["ts_raw", "metric", "gpu_id", "uuid", "model", "host", "container", "pod", "namespace",
                       "value_raw", "driver"]
            with staged.open("w", newline="", encoding="utf-8") as handle:
                writer = csv.writer(handle)
                writer.writerow(columns)
                writer.writerows(
                    (r.timestamp, r.metric_name, r.gpu_id, r.uuid, r.model, r.host, r.container, r.pod, r.namespace,
                     r.value, r.driver)
                    for r in parsed.rows
                )
            reader = _read_csv_sql(staged, columns)
            raw = f"SELECT {', '.join(columns)} FROM {reader}"
            return _check_and_commit(con, raw, source, "prometheus", settings, report, started, notes, parsed.skipped)
        finally:
            con.close()


def _loopback(host: str) -> bool:
    if host.lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _ingest_scrape(url: str, settings: Settings, report: Progress, started: float) -> IngestResult:
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        raise BadInputError(f"URL {url!r} has scheme {parts.scheme!r}; give an http:// or https:// URL of a "
                            "dcgm-exporter /metrics endpoint")
    host = (parts.hostname or "").lower()
    if not host:
        raise BadInputError(f"URL {url!r} names no host; give e.g. http://127.0.0.1:9400/metrics")
    allowed = {h.lower() for h in settings.scrape_hosts}
    netloc = parts.netloc.rsplit("@", 1)[-1].lower()
    if not _loopback(host) and host not in allowed and netloc not in allowed:
        raise BadInputError(
            f"host {host!r} is not allowed to be scraped: only loopback and the hosts in the scrape_hosts setting "
            f"({', '.join(sorted(allowed)) or 'none set'}). Add it to DGX_SPARK_MCP_SCRAPE_HOSTS (comma-separated) "
            "and restart the server"
        )
    import httpx2

    report(0.0, _TOTAL, f"scraping {url}")
    limit = settings.max_file_mib * 1024**2
    try:
        with httpx2.Client(timeout=SCRAPE_TIMEOUT_S, follow_redirects=False) as client:
            scraped_at = datetime.now(UTC)
            with client.stream("GET", url, headers={"Accept": "text/plain"}) as response:
                if response.status_code != 200:
                    raise CouldNotDoError(f"scraping {url} answered HTTP {response.status_code}; check that "
                                          "dcgm-exporter serves /metrics there")
                body = bytearray()
                for piece in response.iter_bytes():
                    body.extend(piece)
                    if len(body) > limit:
                        raise BadInputError(f"{url} returned more than {settings.max_file_mib} MiB; that is no "
                                            "dcgm-exporter page")
    except httpx2.TimeoutException:
        raise CouldNotDoError(f"scraping {url} timed out after {SCRAPE_TIMEOUT_S:.0f} s; check that dcgm-exporter "
                              "is running and reachable") from None
    except httpx2.HTTPError as exc:
        raise CouldNotDoError(f"scraping {url} failed ({exc}); check the host, port and that dcgm-exporter runs") from None
    text = bytes(body).decode("utf-8", errors="replace")
    lines = text.splitlines()
    if not any(line.strip() for line in lines):
        raise CouldNotDoError(f"{url} returned an empty page; dcgm-exporter may still be starting, try again")
    if not looks_like_prometheus(lines[:50]):
        raise BadInputError(f"{url} did not return Prometheus text (it starts {text[:120]!r}); give the URL of a "
                            "dcgm-exporter /metrics endpoint")
    parsed = parse_exposition(lines, scraped_at)
    notes = [f"one scrape; samples without a timestamp are stamped with the scrape time, {_iso(scraped_at)}"]
    return _ingest_prometheus(url, parsed, settings, report, started, notes)


# ---- the shared checks and the commit ------------------------------------------------------


@contextmanager
def _read_errors(source: str, fmt: IngestFormat) -> Iterator[None]:
    """DuckDB's errors while reading ``source``, as the agent's errors: a cut or corrupt file is bad input; only
    memory or disk running out is this machine's failure."""
    import duckdb

    try:
        yield
    except duckdb.OutOfMemoryException as exc:
        raise CouldNotDoError(f"reading {source} ran out of memory ({str(exc).splitlines()[0]}); free memory or "
                              "ingest the export in smaller files") from None
    except duckdb.IOException as exc:
        first = str(exc).splitlines()[0]
        if any(word in first.lower() for word in ("gzip", "zstd", "compress", "unexpected end")):
            raise BadInputError(f"{source} could not be read as {fmt}: its compressed stream is cut or corrupt "
                                f"({first}); copy the file again whole, or give it uncompressed") from None
        raise CouldNotDoError(f"reading {source} failed on this machine ({first}); free disk space or ingest the "
                              "export in smaller files") from None
    except duckdb.Error as exc:
        raise BadInputError(f"{source} could not be read as {fmt} ({str(exc).splitlines()[0]}); check that it is a "
                            "complete, unmodified export") from None


def _connection(settings: Settings, source: Path) -> DuckDBPyConnection:
    """A connection that reads ``source`` and the store, writes only the store (and spills to the temp dir)."""
    con = TelemetryStore(settings).connection(files=[source])
    con.execute("SET preserve_insertion_order = false")
    return con


def _blank_sql(value: str, metric: str) -> str:
    """SQL true when ``value`` (DOUBLE) is a DCGM blank sentinel (hardware.md: the blank-sentinel trap)."""
    s = metrics().blank_sentinels
    # FP64 blanks start at 2^47, below the INT64 ones, so one test covers both.  The INT32 blanks sit
    # at 2^31 - 16 and above: only tested on gauges whose range never gets near (%, C, MHz, W, ...);
    # an energy counter or a B/s rate may legitimately pass 2^31.
    small = [m.name for m in metrics().metrics if m.kind == "gauge" and m.unit not in ("B/s",)]
    listed = ", ".join(_sql_string(n) for n in small)
    return (
        f"({value} >= {float(s.float_min)!r} OR ({metric} IN ({listed}) AND {value} >= {s.int32_min} "
        f"AND {value} < 2147483648))"
    )


def _check_sql(raw: str) -> str:
    # Columns of the raw relation: ts_raw, metric, gpu_id, uuid, model, host, container, pod, namespace,
    # value_raw, driver (all VARCHAR).  Empty strings mean "not given" in these exports: NULL here.
    inner = (
        "SELECT TRY_CAST(ts_raw AS TIMESTAMPTZ)::TIMESTAMP AS ts, NULLIF(trim(uuid), '') AS uuid, "
        "NULLIF(host, '') AS host, TRY_CAST(gpu_id AS INTEGER) AS gpu_index, NULLIF(model, '') AS model, "
        "NULLIF(trim(metric), '') AS metric, NULLIF(trim(value_raw), '') AS value_raw, "
        "TRY_CAST(value_raw AS DOUBLE) AS v, NULLIF(pod, '') AS pod, NULLIF(namespace, '') AS namespace, "
        f"NULLIF(container, '') AS container, driver FROM ({raw})"
    )
    flagged = (
        "SELECT *, (value_raw LIKE '<<<%>>>%' OR coalesce(" + _blank_sql("v", "metric") + ", false)) AS blank "
        f"FROM ({inner})"
    )
    return (
        "SELECT ts, uuid, host, gpu_index, model, metric, CASE WHEN blank THEN NULL ELSE v END AS value, pod, "
        "namespace, container, driver, blank, CASE "
        "WHEN uuid IS NULL THEN 'no GPU uuid' "
        "WHEN metric IS NULL THEN 'no metric name' "
        "WHEN ts IS NULL THEN 'unparsable timestamp' "
        "WHEN blank THEN NULL "
        "WHEN value_raw IS NULL THEN 'no value' "
        "WHEN v IS NULL OR NOT isfinite(v) THEN 'unparsable value' "
        f"END AS reason FROM ({flagged})"
    )


def _malformed_lines(con: DuckDBPyConnection) -> int:
    exists = con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = ?", [_REJECTS]).fetchone()
    if not exists or not exists[0]:
        return 0
    row = con.execute(f"SELECT count(DISTINCT (file_id, line)) FROM {_REJECTS}").fetchone()
    return int(row[0]) if row else 0


def _run_reporting(con: DuckDBPyConnection, sql: str, report: Progress, upto: float, message: str) -> None:
    """Run ``sql``, reporting DuckDB's own progress estimate (0..upto percent) while it reads."""
    failure: list[BaseException] = []

    def work() -> None:
        try:
            con.execute(sql)
        except BaseException as exc:  # handed to the caller's thread below
            failure.append(exc)

    worker = threading.Thread(target=work, name="telemetry-ingest", daemon=True)
    worker.start()
    last = -1.0
    while worker.is_alive():
        worker.join(0.5)
        try:
            done = float(con.query_progress())
        except Exception:  # no query running yet / already finished
            continue
        if done >= 0 and done > last:
            last = done
            report(upto * done / 100.0, _TOTAL, message)
    if failure:
        raise failure[0]


def _check_and_commit(
    con: DuckDBPyConnection,
    raw: str,
    source: str,
    fmt: IngestFormat,
    settings: Settings,
    report: Progress,
    started: float,
    notes: list[str],
    skipped: dict[str, int],
    head_drivers: Callable[[int], tuple[dict[str, str], int]] | None = None,
) -> IngestResult:
    con.execute("SET enable_progress_bar = true")
    con.execute("SET enable_progress_bar_print = false")
    with _read_errors(source, fmt):
        _run_reporting(con, f"CREATE TEMP TABLE _parsed AS {_check_sql(raw)}", report, _READ_DONE, "reading")
    report(_READ_DONE, _TOTAL, "parsed")

    rejected = dict(skipped)
    malformed = _malformed_lines(con)
    if malformed:
        rejected["malformed CSV line"] = malformed
    rows_read, blanks = 0, 0
    for reason, count, blank in con.execute(
        "SELECT reason, count(*), count_if(blank) FROM _parsed GROUP BY reason"
    ).fetchall():
        rows_read += int(count)
        if reason is None:
            blanks = int(blank)
        else:
            rejected[str(reason)] = rejected.get(str(reason), 0) + int(count)
    summary = con.execute(
        "SELECT min(ts), max(ts), count(DISTINCT uuid), list(DISTINCT host ORDER BY host) FILTER (host IS NOT NULL), "
        "list(DISTINCT metric ORDER BY metric) FROM _parsed WHERE reason IS NULL"
    ).fetchone()
    first, last, gpus, hosts, metric_names = summary if summary else (None, None, 0, [], [])
    # One driver string per GPU (its latest) where the rows carry it (Prometheus), else from the file's head.
    driver, head_rows = head_drivers(int(gpus or 0)) if head_drivers else ({}, 0)
    driver.update({
        str(u): str(d)
        for u, d in con.execute(
            "SELECT uuid, arg_max(driver, ts) FROM _parsed WHERE reason IS NULL AND driver IS NOT NULL GROUP BY uuid"
        ).fetchall()
        if d
    })
    if head_rows and driver and gpus and len(driver) < int(gpus):
        notes.append(f"driver versions were read from the first {head_rows:,} rows: {int(gpus) - len(driver)} "
                     "GPU(s) first listed after them have none")
    report(_CHECKED, _TOTAL, "checked")
    if rows_read == 0:
        notes.append("the source holds no samples")

    store = TelemetryStore(settings)
    # The valid rows are committed in place: copying them into another table cost a second per 10 M rows.
    con.execute("DELETE FROM _parsed WHERE reason IS NOT NULL")
    relation = "_parsed"
    with store.ingest_lock():
        report(_CHECKED + 5, _TOTAL, "deduplicating")
        committed = store.commit(con, relation, driver=driver)
    report(_TOTAL, _TOTAL, "committed")
    if committed.duplicates:
        notes.append(f"{committed.duplicates} samples were already stored (or repeated in the source) and were skipped")
    log.info("ingested %s: %d read, %d stored, %d duplicates", source, rows_read, committed.stored, committed.duplicates)
    return IngestResult(
        source=source,
        format=fmt,
        rows_read=rows_read,
        rows_stored=committed.stored,
        duplicates=committed.duplicates,
        rejected=rejected,
        blanks=blanks,
        gpus=int(gpus or 0),
        hosts=[str(h) for h in (hosts or [])],
        metrics=[str(m) for m in (metric_names or [])],
        first_ts=_iso(first) if first else None,
        last_ts=_iso(last) if last else None,
        seconds=round(time.perf_counter() - started, 3),
        batch=committed.batch,
        notes=notes,
    )


def _iso(moment: datetime) -> str:
    """ISO 8601 UTC with a Z; naive datetimes from the store are UTC already."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    text = moment.isoformat(timespec="milliseconds" if moment.microsecond else "seconds")
    return text + "Z"

