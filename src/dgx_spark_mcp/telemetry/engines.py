"""Where telemetry SQL runs: DuckDB in this process (default) or Spark (local, a master URL, or Spark Connect).

Every query is written once, in the SQL both dialects share, over three views: ``samples``,
``gpus`` and ``latest`` (see :mod:`.store`).  The few places the dialects differ are methods
here: epoch microseconds of a timestamp, a linearly interpolated quantile, a timestamp literal
and a string literal.  Values are inlined as literals (quoted per dialect) rather than bound,
so one SQL text serves both engines; callers only inline values they validated or quoted here.

Timestamps leave the engines as epoch microseconds (BIGINT), never as timestamp objects:
PySpark converts zoned timestamps with the Python process's local zone, and DuckDB's zoned ones
need pytz.  The caller turns microseconds into ISO strings, the same way for both engines.
"""

from __future__ import annotations

import importlib.util
import threading
from abc import ABC, abstractmethod
from datetime import datetime
from typing import Any, Literal

from ..errors import BadInputError, CouldNotDoError
from ..settings import Settings
from ..spark_local import connect_session, require_java, start_session
from .store import GPU_COLUMNS, LATEST_COLUMNS, SAMPLE_COLUMNS, TelemetryStore

__all__ = ["DuckDbEngine", "Engine", "EngineName", "SparkEngine", "get_engine"]

EngineName = Literal["duckdb", "spark"]

_SPARK_LOCK = threading.Lock()  # temp views live in the shared session: one telemetry query at a time
_SESSIONS: dict[str, Any] = {}


class Engine(ABC):
    """Runs one SQL text over the views samples, gpus, latest and returns plain tuples."""

    name: EngineName

    @abstractmethod
    def micros(self, column: str) -> str:
        """Epoch microseconds (BIGINT) of a TIMESTAMP column, UTC."""

    @abstractmethod
    def quantile(self, column: str, q: float) -> str:
        """The q-quantile, interpolated linearly between the two nearest values (both engines agree)."""

    @abstractmethod
    def timestamp(self, when: datetime) -> str:
        """A literal comparable with the stored TIMESTAMP columns (naive UTC ``when``)."""

    @abstractmethod
    def string(self, value: str) -> str:
        """A quoted string literal."""

    @abstractmethod
    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        """Run ``sql`` and fetch every row."""


def _ts_text(when: datetime) -> str:
    return when.strftime("%Y-%m-%d %H:%M:%S.%f")


class DuckDbEngine(Engine):
    """In-process DuckDB over the store's Parquet files: no server, milliseconds per query."""

    name: EngineName = "duckdb"

    def __init__(self, settings: Settings) -> None:
        self.store = TelemetryStore(settings)

    def micros(self, column: str) -> str:
        return f"epoch_us({column})"

    def quantile(self, column: str, q: float) -> str:
        return f"quantile_cont({column}, {float(q)!r})"

    def timestamp(self, when: datetime) -> str:
        return f"TIMESTAMP '{_ts_text(when)}'"

    def string(self, value: str) -> str:
        return "'" + value.replace("'", "''") + "'"

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        import duckdb

        with self.store.reader() as con:
            try:
                return con.execute(sql).fetchall()
            except duckdb.Error as exc:
                raise CouldNotDoError(f"DuckDB could not run the telemetry query: {exc}") from exc


class SparkEngine(Engine):
    """PySpark over the same files: for stores too large for one machine, or to use a cluster.

    ``master`` is a Spark master URL (``local[*]`` by default, ``spark://host:7077``, ``yarn``)
    or a Spark Connect URL (``sc://host:15002``).  The cluster must see the data directory at
    the same path (a shared filesystem) for anything but a local master.
    """

    name: EngineName = "spark"

    def __init__(self, settings: Settings, master: str | None = None) -> None:
        self.settings = settings
        self.store = TelemetryStore(settings)
        self.master = master or "local[*]"

    def micros(self, column: str) -> str:
        return f"unix_micros(CAST({column} AS TIMESTAMP))"

    def quantile(self, column: str, q: float) -> str:
        return f"percentile({column}, {float(q)!r})"

    def timestamp(self, when: datetime) -> str:
        return f"TIMESTAMP_NTZ '{_ts_text(when)}'"

    def string(self, value: str) -> str:
        # Spark string literals treat backslash as an escape character.
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        spark = _spark_session(self.master, self.settings)
        with _SPARK_LOCK:
            # Interpretation of the NTZ columns and of unix_micros: UTC, whatever the cluster's default.
            spark.conf.set("spark.sql.session.timeZone", "UTC")
            self._register_views(spark)
            try:
                return [tuple(row) for row in spark.sql(sql).collect()]
            except Exception as exc:
                message = str(exc).strip().split("\n", 1)[0][:500]
                raise CouldNotDoError(f"Spark could not run the telemetry query: {message}") from exc

    def _register_views(self, spark: Any) -> None:
        samples_files = [b / "part-0.parquet" for b in self.store.batches() if (b / "part-0.parquet").is_file()]
        if samples_files:
            # Spark skips the underscore summary files and adds 'batch' from the directory names.
            frame = spark.read.parquet(str(self.store.samples_dir)).select(*SAMPLE_COLUMNS)
            frame.createOrReplaceTempView("samples")
        else:
            spark.sql(_empty_spark(SAMPLE_COLUMNS)).createOrReplaceTempView("samples")
        # Spark ignores files whose names start with '_' even when listed by path, so the two small
        # summary tables (a row per GPU or per GPU x metric and batch) are read here and handed over.
        for view, columns in (("gpus", GPU_COLUMNS), ("latest", LATEST_COLUMNS)):
            with self.store.reader() as con:
                rows = con.execute(f"SELECT {', '.join(columns)} FROM {view}").fetchall()
            schema = ", ".join(f"{c} {_SPARK_TYPES[t]}" for c, t in columns.items())
            if rows:
                spark.createDataFrame(rows, schema=schema).createOrReplaceTempView(view)
            else:
                spark.sql(_empty_spark(columns)).createOrReplaceTempView(view)


_SPARK_TYPES = {"TIMESTAMP": "TIMESTAMP_NTZ", "VARCHAR": "STRING", "INTEGER": "INT", "BIGINT": "BIGINT", "DOUBLE": "DOUBLE"}


def _empty_spark(columns: dict[str, str]) -> str:
    return "SELECT " + ", ".join(f"CAST(NULL AS {_SPARK_TYPES[t]}) AS {c}" for c, t in columns.items()) + " WHERE false"


def _spark_session(master: str, settings: Settings) -> Any:
    """One session per master per process, made on first use (a JVM start costs seconds)."""
    if importlib.util.find_spec("pyspark") is None:
        raise CouldNotDoError("PySpark is not installed; install it (pip install pyspark) or use engine='duckdb'")
    if master.startswith("sc://"):
        return _connect_session(master)
    from pyspark import SparkContext
    from pyspark.sql import SparkSession

    running = SparkContext._active_spark_context
    if running is not None:
        # One SparkContext per process: reuse it when it is the master asked for (or any local one for local[*]).
        have = running.master
        if have == master or (master == "local[*]" and have.startswith("local")):
            return SparkSession.builder.getOrCreate()
        raise CouldNotDoError(
            f"this process already runs a Spark session with master {have!r}, and Spark allows one per process; "
            f"leave spark_master out (or give {have!r}) to use it, or restart the server to use {master!r}"
        )
    if master in _SESSIONS:
        return _SESSIONS[master]
    require_java("use engine='duckdb'")
    conf = {"spark.sql.session.timeZone": "UTC", "spark.sql.shuffle.partitions": "8"}
    try:
        _SESSIONS[master] = start_session(master, "dgx-spark-mcp-telemetry", settings.home / "spark-telemetry", conf)
    except Exception as exc:
        raise CouldNotDoError(f"could not start a Spark session on {master!r} ({exc}); check Java and the master URL") from exc
    return _SESSIONS[master]


def _connect_session(url: str) -> Any:
    """One Spark Connect session per URL per process, made on first use."""
    if url not in _SESSIONS:
        _SESSIONS[url] = connect_session(url, what="spark_master", instead="use a local master (leave spark_master out)")
    return _SESSIONS[url]


def get_engine(settings: Settings, engine: str = "duckdb", spark_master: str | None = None) -> Engine:
    """The engine named ``engine``: 'duckdb' (default, in-process) or 'spark' (``spark_master``, default local[*])."""
    if engine == "duckdb":
        if spark_master:
            raise BadInputError(f"spark_master {spark_master!r} is only used with engine='spark'; give engine='spark' or leave it out")
        return DuckDbEngine(settings)
    if engine == "spark":
        if spark_master is not None and not spark_master.strip():
            raise BadInputError("spark_master is empty; give a master URL like local[*] or sc://host:15002, or leave it out")
        return SparkEngine(settings, spark_master.strip() if spark_master else None)
    raise BadInputError(f"unknown engine {engine!r}; use 'duckdb' (default) or 'spark'")
