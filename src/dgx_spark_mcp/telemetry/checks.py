"""The checks every telemetry sample goes through, whatever its format: one SQL projection over raw strings.

Timestamps and values are parsed with TRY_CAST, DCGM blank sentinels become NULL, and a row
without a GPU uuid or with an unparsable field gets a reason instead of failing the file.  It is
a projection only (no join, no sort), so it runs inside the one parallel read of the source.

Costs measured on a 5 M-row long CSV (2 CPUs), per pass over the rows, and what is done instead:
``trim()`` of uuid, metric and value copied every string (about 1 s for the uuid alone), so a
string is trimmed only when it starts or ends with a space; ``TIMESTAMPTZ::TIMESTAMP`` goes
through ICU's calendar (0.65 s), while a TIMESTAMPTZ is already microseconds since the epoch in
UTC, so ``make_timestamp(epoch_us(...))`` gives the same TIMESTAMP for 0.17 s.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from ..errors import BadInputError, CouldNotDoError
from .metrics import metrics

__all__ = ["RAW_COLUMNS", "blank_sql", "check_sql", "read_errors"]

RAW_COLUMNS = ("ts_raw", "metric", "gpu_id", "uuid", "model", "host", "container", "pod", "namespace", "value_raw")
"""The columns (all VARCHAR) of the raw relation every format is turned into; Prometheus adds ``driver``."""


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def blank_sql(value: str, metric: str) -> str:
    """SQL true when ``value`` (DOUBLE) is a DCGM blank sentinel (hardware.md: the blank-sentinel trap)."""
    s = metrics().blank_sentinels
    # FP64 blanks start at 2^47, below the INT64 ones, so one test covers both.  The INT32 blanks sit
    # at 2^31 - 16 and above: only tested on gauges whose range never gets near (%, C, MHz, W, ...);
    # an energy counter or a B/s rate may legitimately pass 2^31.
    small = [m.name for m in metrics().metrics if m.kind == "gauge" and m.unit not in ("B/s",)]
    listed = ", ".join(_sql_string(n) for n in small)
    # The metric name is compared last: DuckDB evaluates an AND on the rows its first terms left,
    # so the list is searched only for values in the INT32 blank range, not for every sample.
    return (
        f"({value} >= {float(s.float_min)!r} OR ({value} >= {s.int32_min} AND {value} < 2147483648 "
        f"AND {metric} IN ({listed})))"
    )


def _trimmed(column: str) -> str:
    # trim() removes spaces only (not tabs or newlines), as this test does; most fields have none.
    return f"CASE WHEN starts_with({column}, ' ') OR ends_with({column}, ' ') THEN trim({column}) ELSE {column} END"


def check_sql(raw: str, *, with_driver: bool = False) -> str:
    """The rows of ``raw`` (columns :data:`RAW_COLUMNS`, plus ``driver`` when ``with_driver``) parsed.

    Columns: ts (TIMESTAMP, UTC), uuid, host, gpu_index, model, metric, value (NULL for a blank),
    pod, namespace, container, [driver], reason (NULL for a valid sample, else why it is skipped).
    A valid sample with a NULL value is a blank: the other NULL values are rejected.
    """
    driver = ", driver" if with_driver else ""
    # Empty strings mean "not given" in these exports: NULL here.
    parsed = (
        "SELECT TRY_CAST(ts_raw AS TIMESTAMPTZ) AS tz, "
        f"NULLIF({_trimmed('uuid')}, '') AS uuid, NULLIF(host, '') AS host, TRY_CAST(gpu_id AS INTEGER) AS gpu_index, "
        f"NULLIF(model, '') AS model, NULLIF({_trimmed('metric')}, '') AS metric, "
        f"NULLIF({_trimmed('value_raw')}, '') AS value_raw, TRY_CAST(value_raw AS DOUBLE) AS v, "
        f"NULLIF(pod, '') AS pod, NULLIF(namespace, '') AS namespace, NULLIF(container, '') AS container{driver} "
        f"FROM ({raw})"
    )
    # A naive time is read as UTC (the connection's TimeZone); 'infinity' is no sample time: unparsable.
    flagged = (
        "SELECT *, CASE WHEN isfinite(tz) THEN make_timestamp(epoch_us(tz)) END AS ts, "
        f"(value_raw LIKE '<<<%>>>%' OR coalesce({blank_sql('v', 'metric')}, false)) AS blank FROM ({parsed})"
    )
    return (
        "SELECT ts, uuid, host, gpu_index, model, metric, CASE WHEN blank THEN NULL ELSE v END AS value, pod, "
        f"namespace, container{driver}, CASE "
        "WHEN uuid IS NULL THEN 'no GPU uuid' "
        "WHEN metric IS NULL THEN 'no metric name' "
        "WHEN ts IS NULL THEN 'unparsable timestamp' "
        "WHEN blank THEN NULL "
        "WHEN value_raw IS NULL THEN 'no value' "
        "WHEN v IS NULL OR NOT isfinite(v) THEN 'unparsable value' "
        f"END AS reason FROM ({flagged})"
    )


@contextmanager
def read_errors(source: str, fmt: str) -> Iterator[None]:
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
