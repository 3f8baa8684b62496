"""Generate DCGM long CSV exports of any size with DuckDB (seconds for millions of rows)."""

from __future__ import annotations

from pathlib import Path

METRICS = ("DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_FB_USED", "DCGM_FI_DEV_POWER_USAGE", "DCGM_FI_DEV_GPU_TEMP")


def write_long_csv(path: Path, rows: int, *, gpus: int = 16, start_second: int = 0) -> Path:
    """``rows`` samples: metrics cycle fastest, then GPUs, then seconds from 2026-03-02T00:00:00Z + start_second.

    Every (timestamp, uuid, metric) is distinct, so the file holds exactly ``rows`` unique samples; two files
    with overlapping second ranges share exactly the samples of the overlap.
    """
    import duckdb

    per_second = len(METRICS) * gpus
    values = ", ".join(f"({i}, '{m}')" for i, m in enumerate(METRICS))
    con = duckdb.connect(":memory:")
    try:
        con.execute(
            f"""
            COPY (
              WITH m(k, name) AS (VALUES {values}),
              r AS (SELECT i, i % {len(METRICS)} AS k, (i // {len(METRICS)}) % {gpus} AS g,
                           {start_second} + i // {per_second} AS s FROM range({rows}) t(i))
              SELECT strftime(TIMESTAMP '2026-03-02 00:00:00' + to_seconds(s), '%Y-%m-%dT%H:%M:%SZ') AS "timestamp",
                m.name AS metric_name, (g % 8)::VARCHAR AS gpu_id, 'nvidia' || (g % 8) AS device,
                printf('GPU-00000000-0000-0000-0000-%012d', g) AS uuid, 'NVIDIA H100 80GB HBM3' AS modelName,
                'node-a' || lpad((g // 8)::VARCHAR, 2, '0') AS Hostname, '' AS container, '' AS pod, '' AS namespace,
                ((s * 7 + g) % 100)::VARCHAR AS value,
                'DCGM_FI_DRIVER_VERSION="550.54.15",UUID="' || printf('GPU-00000000-0000-0000-0000-%012d', g) || '"'
                  AS labels_raw
              FROM r JOIN m USING (k)
            ) TO '{path}' (HEADER, FORCE_QUOTE *, DELIMITER ',')
            """
        )
    finally:
        con.close()
    return path
