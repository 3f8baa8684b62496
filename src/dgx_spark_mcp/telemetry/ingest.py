"""Ingest GPU telemetry into the store: DCGM CSV (long or wide), Prometheus exposition (file or one scrape).

Every format becomes one relation of raw strings (:mod:`.csv_exports`, or a Prometheus parse)
checked by the same SQL (:mod:`.checks`).  The CSV formats go straight from DuckDB's ``read_csv``
(every column read as VARCHAR, so one odd value costs a reject, not the file) through the checks
into one temp table, the only copy of the rows this module makes: no Python loop per row.  The
reject counts come from that table; one aggregate per label set (:func:`.batches.summarise`)
gives the rest of the answer, and :meth:`TelemetryStore.commit` stores each sample once.

Where a 5 M-row long CSV (2.1 GB, every field quoted) spends its time on 2 CPUs, measured step by
step on a quiet machine (bench/telemetry.py times DuckDB's plain ``COPY`` of the same file to
Parquet beside it, 6.8 s): reading and checking into the temp table 3.5 s, of which DuckDB's CSV
parse alone is 1.9 s (its ``count(*)``); the label-set aggregate 0.3 s; the sorted write 1.3 s;
the check of the written file for repeats 0.3 s; the rest (drivers from the head, reject counts,
summaries, fsyncs) 0.2 s.  Before: 5.3 s reading (``trim()`` and ``TIMESTAMPTZ::TIMESTAMP`` over
every row, see :mod:`.checks`), 0.3 s of summary queries, 0.7 s counting distinct keys and 2.6 s
sorting the strings (see :mod:`.batches`): 9.9 s against the copy's 6.6 s.
"""

from __future__ import annotations

import csv
import functools
import ipaddress
import logging
import re
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from pydantic import BaseModel, Field

from ..errors import BadInputError, CouldNotDoError
from ..files import allowed_path
from ..settings import Settings
from .batches import summarise
from .checks import RAW_COLUMNS, check_sql, read_errors
from .csv_exports import (long_drivers, long_relation, malformed_lines, read_csv_sql, usable_header, wide_notes,
                          wide_relation)
from .prometheus import PromParse, looks_like_prometheus, parse_exposition
from .sources import IngestFormat, detect_format, read_exposition
from .store import TelemetryStore

if TYPE_CHECKING:
    from duckdb import DuckDBPyConnection

__all__ = ["IngestFormat", "IngestResult", "Progress", "detect_format", "ingest"]

log = logging.getLogger(__name__)

Progress = Callable[[float, float | None, str], None]

SCRAPE_TIMEOUT_S = 10.0
# Progress is reported in percent: reading the file is most of the work, the sorted write the rest.
_READ_DONE, _CHECKED, _WRITING, _TOTAL = 60.0, 65.0, 70.0, 100.0
_PHASES = {"comparing with the stored samples": _CHECKED + 2, "writing": _WRITING}


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
        parsed = read_exposition(path, mtime)
        notes = [f"samples without a timestamp are stamped with the file's modification time, {_iso(mtime)}"]
        return _ingest_prometheus(str(path), parsed, settings, report, started, notes)
    columns, notes = usable_header(path, header, fmt)
    notes += [] if fmt == "dcgm_long" else wide_notes(list(dict.fromkeys(name for name in header if name)))
    header = columns
    con = _connection(settings, path)
    try:
        reader = read_csv_sql(path, header)
        raw = long_relation(reader, header) if fmt == "dcgm_long" else wide_relation(reader, header)
        head_drivers = functools.partial(long_drivers, con, reader, header, str(path)) if fmt == "dcgm_long" else None
        return _check_and_commit(con, raw, str(path), fmt, settings, report, started, notes, {}, head_drivers)
    finally:
        con.close()


# ---- Prometheus ----------------------------------------------------------------------------


def _ingest_prometheus(
    source: str, parsed: PromParse, settings: Settings, report: Progress, started: float, notes: list[str]
) -> IngestResult:
    with tempfile.TemporaryDirectory(prefix="dgx-spark-mcp-prom-") as tmp:
        # A scrape is thousands of rows: a temporary CSV feeds them to the same SQL checks as the CSV formats.
        staged = Path(tmp) / "samples.csv"
        con = _connection(settings, staged)
        try:
            columns = [*RAW_COLUMNS, "driver"]
            with staged.open("w", newline="", encoding="utf-8") as handle:
                writer = csv.writer(handle)
                writer.writerow(columns)
                writer.writerows(
                    (r.timestamp, r.metric_name, r.gpu_id, r.uuid, r.model, r.host, r.container, r.pod, r.namespace,
                     r.value, r.driver)
                    for r in parsed.rows
                )
            reader = read_csv_sql(staged, columns)
            raw = f"SELECT {', '.join(columns)} FROM {reader}"
            return _check_and_commit(con, raw, source, "prometheus", settings, report, started, notes, parsed.skipped,
                                     with_driver=True)
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


def _connection(settings: Settings, source: Path) -> DuckDBPyConnection:
    """A connection that reads ``source`` and the store, writes only the store (and spills to the temp dir)."""
    con = TelemetryStore(settings).connection(files=[source])
    # The rows are sorted before they are written, so the order they are read in never matters: each
    # thread appends its share of the file to the temp table as it parses it.
    con.execute("SET preserve_insertion_order = false")
    return con


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
    *,
    with_driver: bool = False,
) -> IngestResult:
    con.execute("SET enable_progress_bar = true")
    con.execute("SET enable_progress_bar_print = false")
    with read_errors(source, fmt):
        _run_reporting(con, f"CREATE TEMP TABLE _parsed AS {check_sql(raw, with_driver=with_driver)}", report,
                       _READ_DONE, "reading")
    report(_READ_DONE, _TOTAL, "parsed")

    rejected = dict(skipped)
    malformed = malformed_lines(con)
    if malformed:
        rejected["malformed CSV line"] = malformed
    rows_read, blanks, invalid = 0, 0, 0
    # A valid sample with a NULL value is a DCGM blank (checks.check_sql): no column of its own.
    for reason, count, nulls in con.execute(
        "SELECT reason, count(*), count_if(value IS NULL) FROM _parsed GROUP BY reason"
    ).fetchall():
        rows_read += int(count)
        if reason is None:
            blanks = int(nulls)
        else:
            invalid += int(count)
            rejected[str(reason)] = rejected.get(str(reason), 0) + int(count)
    if invalid:
        # The valid rows are committed in place: copying them into another table cost a second per 10 M rows.
        con.execute("DELETE FROM _parsed WHERE reason IS NOT NULL")
    summary = summarise(con, "_parsed")
    # One driver string per GPU (its latest) where the rows carry it (Prometheus), else from the file's head.
    driver, head_rows = head_drivers(summary.gpus) if head_drivers else ({}, 0)
    if with_driver:
        driver.update({
            str(u): str(d)
            for u, d in con.execute(
                "SELECT uuid, arg_max(driver, ts) FROM _parsed WHERE driver IS NOT NULL GROUP BY uuid"
            ).fetchall()
            if d
        })
    if head_rows and driver and summary.gpus and len(driver) < summary.gpus:
        notes.append(f"driver versions were read from the first {head_rows:,} rows: {summary.gpus - len(driver)} "
                     "GPU(s) first listed after them have none")
    report(_CHECKED, _TOTAL, "checked")
    if rows_read == 0:
        notes.append("the source holds no samples")

    store = TelemetryStore(settings)
    with store.ingest_lock():
        committed = store.commit(con, "_parsed", driver=driver, summary=summary,
                                 phase=lambda what: report(_PHASES.get(what, _WRITING), _TOTAL, what))
    report(_TOTAL, _TOTAL, "committed")
    already = committed.duplicates - committed.repeated
    if already:
        notes.append(f"{already} samples were already stored and were skipped")
    if committed.repeated:
        notes.append(f"{committed.repeated} samples repeated a (timestamp, GPU, metric) of the source and were "
                     "stored once")
    log.info("ingested %s: %d read, %d stored, %d duplicates", source, rows_read, committed.stored, committed.duplicates)
    return IngestResult(
        source=source,
        format=fmt,
        rows_read=rows_read,
        rows_stored=committed.stored,
        duplicates=committed.duplicates,
        rejected=rejected,
        blanks=blanks,
        gpus=summary.gpus,
        hosts=summary.hosts,
        metrics=summary.metrics,
        first_ts=_iso(summary.first) if summary.first else None,
        last_ts=_iso(summary.last) if summary.last else None,
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

