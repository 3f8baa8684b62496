"""Past Spark runs, kept in the store's ``spark_runs`` table to calibrate estimates.

The event-log analysis records one :class:`PastRun` per application it reads.  A run is
identified by the content hash of its log and its application id, so recording the same log
twice stores it once.

Similarity rule (:func:`similar_runs`) for a job of S input bytes, class W, on hardware H:

1. same workload class W (runs of unknown class are never compared: nothing says they are alike);
2. input within a factor r of S: S / r ≤ input ≤ S × r (r = ``similar_input_ratio_max``, 3);
3. same engine when asked: GPU runs only for a GPU estimate, CPU runs only for a CPU one;
4. a measured duration (> 0);

nearest first: runs on hardware H before others, then by |ln(input / S)|, then the newest.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, Field, computed_field

from ..settings import Settings
from ..store import Migration, connect, store_path, transaction, utc_naive
from .models import Workload
from .throughput import throughput

__all__ = ["MIGRATIONS", "PastRun", "content_sha256", "list_runs", "record_run", "record_runs", "similar_runs"]

_BIG = 2**63 - 1  # DuckDB BIGINT

MIGRATIONS = (
    Migration(
        id="spark_runs/001-create",
        statements=(
            """
            CREATE TABLE IF NOT EXISTS spark_runs (
                run_id VARCHAR NOT NULL UNIQUE,
                recorded_at TIMESTAMP NOT NULL,  -- UTC
                app_id VARCHAR NOT NULL,
                app_name VARCHAR,
                source_sha256 VARCHAR NOT NULL CHECK (length(source_sha256) = 64),
                spark_version VARCHAR,
                workload VARCHAR,
                input_bytes BIGINT NOT NULL CHECK (input_bytes >= 0),
                shuffle_read_bytes BIGINT NOT NULL CHECK (shuffle_read_bytes >= 0),
                shuffle_write_bytes BIGINT NOT NULL CHECK (shuffle_write_bytes >= 0),
                spill_bytes BIGINT NOT NULL CHECK (spill_bytes >= 0),
                duration_ms BIGINT NOT NULL CHECK (duration_ms >= 0),
                executors INTEGER NOT NULL CHECK (executors >= 0),
                executor_cores INTEGER NOT NULL CHECK (executor_cores >= 0),
                executor_memory_mib INTEGER CHECK (executor_memory_mib >= 0),
                gpus INTEGER NOT NULL CHECK (gpus >= 0),
                hardware VARCHAR,
                gpu_model VARCHAR,
                PRIMARY KEY (source_sha256, app_id)
            )
            """,
        ),
    ),
)

_COLUMNS = (
    "run_id", "recorded_at", "app_id", "app_name", "source_sha256", "spark_version", "workload", "input_bytes",
    "shuffle_read_bytes", "shuffle_write_bytes", "spill_bytes", "duration_ms", "executors", "executor_cores",
    "executor_memory_mib", "gpus", "hardware", "gpu_model",
)


class PastRun(BaseModel):
    """One finished Spark application, as its event log measured it."""

    app_id: str = Field(min_length=1, description="spark.app.id, e.g. 'app-20240101120000-0001' or 'local-1623876083964'.")
    app_name: str | None = None
    source_sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="SHA-256 of the event log's content (content_sha256).")
    spark_version: str | None = None
    workload: Workload | None = Field(default=None, description="The workload class when known; None runs are never compared.")
    input_bytes: int = Field(ge=0, le=_BIG, description="Bytes read from files and tables.")
    shuffle_read_bytes: int = Field(default=0, ge=0, le=_BIG)
    shuffle_write_bytes: int = Field(default=0, ge=0, le=_BIG)
    spill_bytes: int = Field(default=0, ge=0, le=_BIG, description="Memory plus disk bytes spilled.")
    duration_ms: int = Field(ge=0, le=_BIG, description="Application wall time, start to end.")
    executors: int = Field(ge=0, le=2**31 - 1, description="Most executors alive at once (0 in local mode).")
    executor_cores: int = Field(ge=0, le=2**31 - 1, description="Cores per executor (local mode: local[N]).")
    executor_memory_mib: int | None = Field(default=None, ge=0, le=2**31 - 1)
    gpus: int = Field(default=0, ge=0, le=2**31 - 1, description="GPUs used in total (executors × GPUs per executor).")
    hardware: str | None = Field(default=None, description="What it ran on: a profile name or a machine label.")
    gpu_model: str | None = None
    recorded_at: datetime = Field(default_factory=lambda: datetime.now(UTC))

    @computed_field(description="Stable id: the same log and application always get the same id.")  # type: ignore[prop-decorator]
    @property
    def run_id(self) -> str:
        return hashlib.sha256(f"{self.source_sha256}\0{self.app_id}".encode()).hexdigest()[:16]

    @property
    def task_slots(self) -> int:
        """Executor cores in use at once (a local-mode run counts its local[N] cores)."""
        return max(1, max(1, self.executors) * self.executor_cores)


def content_sha256(path: Path) -> str:
    """SHA-256 of a file, or of a rolling event-log directory (its files' names and bytes, in order)."""
    digest = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for file in files:
        if file != path:
            digest.update(file.relative_to(path).as_posix().encode() + b"\0")
        with file.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
    return digest.hexdigest()


def _row(run: PastRun) -> list[object]:
    data = run.model_dump()
    data["workload"] = str(run.workload) if run.workload is not None else None
    data["recorded_at"] = utc_naive(run.recorded_at)
    return [data[c] for c in _COLUMNS]


def _run(row: tuple[object, ...]) -> PastRun:
    data = dict(zip(_COLUMNS, row, strict=True))
    data.pop("run_id")
    recorded = data["recorded_at"]
    assert isinstance(recorded, datetime)  # a TIMESTAMP column: naive, in UTC
    data["recorded_at"] = recorded.replace(tzinfo=UTC)
    return PastRun.model_validate(data)


def record_runs(settings: Settings, runs: Sequence[PastRun]) -> int:
    """Store ``runs`` all together or not at all; returns how many were new (a run already there is kept)."""
    placeholders = ", ".join("?" * len(_COLUMNS))
    new = 0
    with connect(settings, MIGRATIONS) as con, transaction(con):
        for run in runs:
            stored = con.execute(
                f"INSERT INTO spark_runs ({', '.join(_COLUMNS)}) VALUES ({placeholders}) "
                "ON CONFLICT DO NOTHING RETURNING run_id",
                _row(run),
            ).fetchall()
            new += len(stored)
    return new


def record_run(settings: Settings, run: PastRun) -> bool:
    """Store one run; False when the same log's application was recorded before."""
    return record_runs(settings, [run]) == 1


def list_runs(settings: Settings, limit: int = 50) -> list[PastRun]:
    """The most recently recorded runs, newest first."""
    if not store_path(settings).exists():
        return []
    with connect(settings, MIGRATIONS) as con:
        rows = con.execute(
            f"SELECT {', '.join(_COLUMNS)} FROM spark_runs ORDER BY recorded_at DESC, run_id LIMIT ?", [max(0, limit)]
        ).fetchall()
    return [_run(row) for row in rows]


def similar_runs(
    settings: Settings,
    data_size_bytes: int,
    workload: Workload,
    hardware: str | None,
    limit: int = 5,
    *,
    gpu: bool | None = None,
) -> list[PastRun]:
    """Past runs like this job, nearest first (see the module's similarity rule)."""
    if data_size_bytes <= 0 or limit <= 0 or not store_path(settings).exists():
        return []
    ratio = throughput().similar_input_ratio_max.value
    with connect(settings, MIGRATIONS) as con:
        rows = con.execute(
            f"""
            SELECT {', '.join(_COLUMNS)} FROM spark_runs
            WHERE workload = $workload
              AND input_bytes BETWEEN $size / $ratio AND $size * $ratio
              AND duration_ms > 0
              AND ($gpu IS NULL OR (gpus > 0) = $gpu)
            ORDER BY coalesce(hardware = $hardware, false) DESC,
                     abs(ln(input_bytes / $size)),
                     recorded_at DESC,
                     run_id
            LIMIT $limit
            """,
            {"workload": str(workload), "size": float(data_size_bytes), "ratio": ratio, "gpu": gpu,
             "hardware": hardware, "limit": limit},
        ).fetchall()
    return [_run(row) for row in rows]
