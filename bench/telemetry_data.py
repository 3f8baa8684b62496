"""Synthetic DCGM telemetry for the benchmarks: long CSV (dcgm-exporter export) or wide CSV.

    python bench/telemetry_data.py OUT.csv [--gpus 1000] [--timestamps 1000] [--format long|wide]
                                           [--interval-s 15] [--start 2026-03-02T00:00:00]

Layouts are those of docs in ``shared/knowledge/telemetry-formats.md``: long (section 1) has an
unquoted header, every data field double-quoted and ``labels_raw`` with its quotes doubled; wide
(section 2) is plain.  Values are realistic per metric (utilisation %, FB MiB adding up to 80 GiB,
watts with decimals, temperatures, clocks) and follow a per-GPU load that changes with time, so
aggregates are not constant.  Data are pseudo-random but deterministic (a hash of timestamp, GPU
and metric): the same arguments give the same file.

Lines are built in DuckDB and written by one ``COPY`` with quoting turned off (the quotes are
part of the built line), so 10 M rows take seconds, not minutes.  Prints JSON (rows, bytes, s).
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import datetime
from pathlib import Path

LONG_HEADER = "timestamp,metric_name,gpu_id,device,uuid,modelName,Hostname,container,pod,namespace,value,labels_raw"
WIDE_HEADER = (
    "timestamp,gpu_id,hostname,uuid,device,modelname,gpu_utilization,memory_utilization,memory_used_mb,"
    "memory_free_mb,temperature,power_draw,sm_clock_mhz,memory_clock_mhz"
)
GPUS_PER_HOST = 8
FB_TOTAL_MIB = 81_559  # H100 80GB HBM3: FB_USED + FB_FREE (+ a few reserved MiB)

# The ten metrics of the long file, in the order an exporter lists them.  Each value is a SQL
# expression over ``load`` (0..1, the GPU's load now) and ``r`` (0..1, per-sample noise).
LONG_METRICS: list[tuple[str, str]] = [
    ("DCGM_FI_DEV_GPU_UTIL", "round(least(100, 100 * load + 6 * r))::BIGINT::VARCHAR"),
    ("DCGM_FI_DEV_MEM_COPY_UTIL", "round(least(100, 55 * load + 4 * r))::BIGINT::VARCHAR"),
    ("DCGM_FI_DEV_FB_USED", f"round(4 + {FB_TOTAL_MIB - 400} * load * (0.9 + 0.1 * r))::BIGINT::VARCHAR"),
    ("DCGM_FI_DEV_FB_FREE", f"round({FB_TOTAL_MIB - 4} - {FB_TOTAL_MIB - 400} * load * (0.9 + 0.1 * r))::BIGINT::VARCHAR"),
    ("DCGM_FI_DEV_GPU_TEMP", "round(30 + 50 * load + 3 * r)::BIGINT::VARCHAR"),
    ("DCGM_FI_DEV_MEMORY_TEMP", "round(32 + 48 * load + 3 * r)::BIGINT::VARCHAR"),
    ("DCGM_FI_DEV_POWER_USAGE", "round(68 + 620 * load + 12 * r, 3)::VARCHAR"),
    ("DCGM_FI_DEV_SM_CLOCK", "(CASE WHEN load < 0.05 THEN 345 ELSE 1980 - round(225 * load * r)::BIGINT END)::VARCHAR"),
    ("DCGM_FI_DEV_MEM_CLOCK", "'2619'"),
    ("DCGM_FI_DEV_ENC_UTIL", "'0'"),
]
WIDE_COLUMNS: list[tuple[str, str]] = [
    ("gpu_utilization", "DCGM_FI_DEV_GPU_UTIL"),
    ("memory_utilization", "DCGM_FI_DEV_MEM_COPY_UTIL"),
    ("memory_used_mb", "DCGM_FI_DEV_FB_USED"),
    ("memory_free_mb", "DCGM_FI_DEV_FB_FREE"),
    ("temperature", "DCGM_FI_DEV_GPU_TEMP"),
    ("power_draw", "DCGM_FI_DEV_POWER_USAGE"),
    ("sm_clock_mhz", "DCGM_FI_DEV_SM_CLOCK"),
    ("memory_clock_mhz", "DCGM_FI_DEV_MEM_CLOCK"),
]


def gpu_uuid(index: int) -> str:
    """The UUID the generator gives GPU ``index`` (the benchmarks query GPUs by it)."""
    return f"GPU-{index:08x}-0000-4000-8000-{index:012x}"


def gpu_driver(index: int) -> str:
    """The driver version the generator gives GPU ``index`` (every fifth host is an older A100 node)."""
    return "535.161.08" if (index // GPUS_PER_HOST) % 5 == 4 else "550.54.15"


def _gpus_sql(gpus: int) -> str:
    # One row per GPU: its host, index on the host, model (every fifth host is an A100 node) and
    # a load profile (phase and level) so GPUs differ.
    return f"""
        SELECT g AS gpu,
               printf('GPU-%08x-0000-4000-8000-%012x', g, g) AS uuid,
               printf('node-%04d', g // {GPUS_PER_HOST}) AS host,
               (g % {GPUS_PER_HOST})::VARCHAR AS gpu_id,
               'nvidia' || (g % {GPUS_PER_HOST})::VARCHAR AS device,
               CASE WHEN (g // {GPUS_PER_HOST}) % 5 = 4 THEN 'NVIDIA A100-SXM4-80GB' ELSE 'NVIDIA H100 80GB HBM3' END AS model,
               CASE WHEN (g // {GPUS_PER_HOST}) % 5 = 4 THEN '535.161.08' ELSE '550.54.15' END AS driver,
               (hash(g, 'phase') % 1000) / 1000.0 * 6.2832 AS phase,
               (hash(g, 'level') % 1000) / 1000.0 AS level
        FROM range({gpus}) t(g)
    """


def _samples_sql(gpus: int, timestamps: int, start: datetime, interval_s: int, first: int = 0) -> str:
    # load: a slow sine per GPU (period ~2 h) scaled by the GPU's level, clipped to 0..1; one GPU
    # in ten idles.  Timestamps outer, GPUs inner: the order a scrape export has.
    return f"""
        SELECT i, g.*, TIMESTAMP '{start.isoformat(sep=" ")}' + to_seconds(i * {interval_s}) AS ts,
               CASE WHEN gpu % 10 = 9 THEN 0.0
                    ELSE greatest(0.0, least(1.0, level * (0.6 + 0.5 * sin(phase + i * {interval_s} / 1146.0)))) END AS load
        FROM range({first}, {first + timestamps}) t(i), ({_gpus_sql(gpus)}) g
    """


def _q(expr: str) -> str:
    """A SQL expression for ``expr`` as one double-quoted CSV field (no quotes inside our values)."""
    return f"'\"' || {expr} || '\"'"


def _long_lines_sql(gpus: int, timestamps: int, start: datetime, interval_s: int) -> str:
    metric_rows = ", ".join(f"({k}, '{name}')" for k, (name, _) in enumerate(LONG_METRICS))
    value_case = "CASE k " + " ".join(f"WHEN {k} THEN {expr}" for k, (_, expr) in enumerate(LONG_METRICS)) + " END"
    # labels_raw after CSV unquoting is key="value",... in byte order; in the file each quote is doubled.
    labels = (
        "'DCGM_FI_DRIVER_VERSION=\"\"' || driver || '\"\",Hostname=\"\"' || host || '\"\",UUID=\"\"' || uuid || "
        "'\"\",__name__=\"\"' || name || '\"\",device=\"\"' || device || '\"\",gpu=\"\"' || gpu_id || "
        "'\"\",instance=\"\"' || host || ':9400\"\",job=\"\"dcgm-exporter\"\",modelName=\"\"' || model || '\"\"'"
    )
    line = " || ',' || ".join([
        _q("strftime(ts, '%Y-%m-%dT%H:%M:%SZ')"), _q("name"), _q("gpu_id"), _q("device"), _q("uuid"),
        _q("model"), _q("host"), "'\"\"'", "'\"\"'", "'\"\"'", _q("value"), _q(labels),
    ])
    return f"""
        SELECT {line} AS "{LONG_HEADER}"
        FROM (SELECT *, {value_case} AS value
              FROM (SELECT s.*, m.k, m.name, (hash(i, gpu, m.k) % 10000) / 10000.0 AS r
                    FROM ({_samples_sql(gpus, timestamps, start, interval_s)}) s, (VALUES {metric_rows}) m(k, name)))
    """


def _wide_lines_sql(gpus: int, timestamps: int, start: datetime, interval_s: int) -> str:
    exprs = dict(LONG_METRICS)
    values = [exprs[metric] for _, metric in WIDE_COLUMNS]
    line = " || ',' || ".join([
        "strftime(ts, '%Y-%m-%dT%H:%M:%SZ')", "gpu_id", "host", "uuid", "device", "model", *values,
    ])
    return f"""
        SELECT {line} AS "{WIDE_HEADER}"
        FROM (SELECT *, (hash(i, gpu) % 10000) / 10000.0 AS r FROM ({_samples_sql(gpus, timestamps, start, interval_s)}))
    """


def samples_relation(gpus: int, timestamps: int, *, first: int = 0, start: datetime = datetime(2026, 3, 2),
                     interval_s: int = 15) -> str:
    """The same samples as the long CSV (timestamps ``first`` .. ``first + timestamps - 1``), as a SQL relation
    with the store's columns (``SAMPLE_COLUMNS``): for filling a store without writing a CSV."""
    metric_rows = ", ".join(f"({k}, '{name}')" for k, (name, _) in enumerate(LONG_METRICS))
    value_case = "CASE k " + " ".join(f"WHEN {k} THEN {expr}" for k, (_, expr) in enumerate(LONG_METRICS)) + " END"
    return f"""
        (SELECT ts, uuid, host, gpu_id::INTEGER AS gpu_index, model, name AS metric, ({value_case})::DOUBLE AS value,
                NULL::VARCHAR AS pod, NULL::VARCHAR AS namespace, NULL::VARCHAR AS container
         FROM (SELECT s.*, m.k, m.name, (hash(i, gpu, m.k) % 10000) / 10000.0 AS r
               FROM ({_samples_sql(gpus, timestamps, start, interval_s, first)}) s, (VALUES {metric_rows}) m(k, name)))
    """


def generate(path: Path, *, gpus: int, timestamps: int, fmt: str = "long",
             start: datetime = datetime(2026, 3, 2), interval_s: int = 15) -> dict[str, object]:
    """Write the CSV to ``path``; returns rows (samples for long, GPU-rows for wide), bytes and seconds."""
    import duckdb

    if gpus < 1 or timestamps < 1:
        raise ValueError(f"gpus and timestamps must be >= 1, got {gpus} and {timestamps}")
    sql = {"long": _long_lines_sql, "wide": _wide_lines_sql}[fmt](gpus, timestamps, start, interval_s)
    began = time.perf_counter()
    con = duckdb.connect(":memory:")
    try:
        # The column name is the header line; quoting off because each line carries its own quotes.
        con.execute(
            f"COPY ({sql}) TO '{str(path).replace(chr(39), chr(39) * 2)}' "
            "(FORMAT csv, HEADER true, QUOTE '', ESCAPE '', DELIMITER '\x01')"
        )
    finally:
        con.close()
    seconds = time.perf_counter() - began
    rows = gpus * timestamps * (len(LONG_METRICS) if fmt == "long" else 1)
    return {"path": str(path), "format": fmt, "rows": rows, "gpus": gpus, "timestamps": timestamps,
            "bytes": path.stat().st_size, "seconds": round(seconds, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--gpus", type=int, default=1000)
    parser.add_argument("--timestamps", type=int, default=1000)
    parser.add_argument("--format", choices=["long", "wide"], default="long")
    parser.add_argument("--interval-s", type=int, default=15)
    parser.add_argument("--start", type=datetime.fromisoformat, default=datetime(2026, 3, 2))
    args = parser.parse_args()
    print(json.dumps(generate(args.out, gpus=args.gpus, timestamps=args.timestamps, fmt=args.format,
                              start=args.start, interval_s=args.interval_s), indent=2))


if __name__ == "__main__":
    main()
