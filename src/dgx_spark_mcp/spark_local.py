"""The one way this package starts a Spark session of its own (plan EXPLAIN, the telemetry engine),
locally or on a Spark Connect server.

PySpark starts its JVM with the parent's stdout; on stdio that is JSON-RPC's alone, so the gateway
is launched here with the JVM's stdout sent to stderr.  The warehouse, Derby home and scratch dirs
go under the data directory, never the current directory.  Spark allows one SparkContext per
process: callers reuse a running one before starting theirs.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import shutil
import socket
import sys
from pathlib import Path
from typing import Any

from .errors import BadInputError, CouldNotDoError

__all__ = ["CONNECT_TIMEOUT_S", "connect_session", "require_java", "start_session"]

CONNECT_NEEDS = ("pandas", "pyarrow", "grpc", "google.protobuf")
"""What pyspark[connect] adds to PySpark."""
CONNECT_TIMEOUT_S = 5.0
"""TCP connect to a Spark Connect server."""


def require_java(instead: str) -> None:
    """Raise a clear error when no JVM is available; ``instead`` says what the caller can do without one."""
    if os.environ.get("JAVA_HOME") or shutil.which("java"):
        return
    raise CouldNotDoError(
        "Java is not installed here, and PySpark needs a JVM; install a JDK 17 (e.g. 'apt install "
        f"openjdk-17-jre-headless') or set JAVA_HOME, or {instead}"
    )


def start_session(master: str, app_name: str, work: Path, conf: dict[str, str] | None = None) -> Any:
    """A new session on ``master`` whose JVM writes to our stderr, with its files under ``work``."""
    from pyspark import SparkConf, SparkContext
    from pyspark.java_gateway import launch_gateway
    from pyspark.sql import SparkSession

    work.mkdir(parents=True, exist_ok=True)
    logging.getLogger("py4j").setLevel(logging.WARNING)
    spark_conf = (
        SparkConf()
        .setMaster(master)
        .setAppName(app_name)
        .set("spark.ui.enabled", "false")
        .set("spark.sql.catalogImplementation", "in-memory")
        .set("spark.sql.warehouse.dir", str(work / "warehouse"))
        .set("spark.driver.extraJavaOptions", f"-Dderby.system.home={work}")
        .set("spark.local.dir", str(work / "tmp"))
    )
    for key, value in (conf or {}).items():
        spark_conf.set(key, value)
    gateway = launch_gateway(spark_conf, popen_kwargs={"stdout": sys.stderr.fileno()})
    return SparkSession(SparkContext(conf=spark_conf, gateway=gateway))


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # 'google.protobuf' without 'google'
        return False


def _connect_client(instead: str) -> Any:
    """PySpark's Spark Connect session class, loaded without letting it print or exit."""
    # PySpark's connect module, imported without its dependencies, prints to stdout and calls sys.exit(0):
    # on stdio that would corrupt JSON-RPC and end the server. Check them first, and import it guarded.
    missing = [name for name in CONNECT_NEEDS if not _installed(name)]
    if missing:
        raise CouldNotDoError(
            f"the Spark Connect client needs {', '.join(missing)}, not installed here; install "
            f"'dgx-spark-mcp[connect]' or {instead}"
        )
    try:
        with contextlib.redirect_stdout(sys.stderr):
            from pyspark.sql.connect.session import SparkSession as RemoteSession
    except (ImportError, SystemExit) as exc:
        raise CouldNotDoError(
            f"the Spark Connect client could not be loaded ({exc!r}); install 'dgx-spark-mcp[connect]' or {instead}"
        ) from None
    return RemoteSession


def _channel(url: str, what: str) -> Any:
    """PySpark's own parse of the URL (host, port, ;token=..., ;use_ssl=...), its complaint made ours."""
    from pyspark.errors import PySparkValueError
    from pyspark.sql.connect.client import DefaultChannelBuilder

    if not url.startswith("sc://"):
        raise BadInputError(f"{what} {url!r} is not a Spark Connect URL; write sc://host:15002")
    try:
        return DefaultChannelBuilder(url)
    except PySparkValueError as exc:
        raise BadInputError(
            f"{what} {url!r} is not a valid Spark Connect URL ({str(exc).strip().splitlines()[0][:300]}); "
            "write sc://host:15002"
        ) from None


def _reachable(url: str, channel: Any, instead: str) -> None:
    """A plain TCP connect first: gRPC would retry a refused port for ten minutes before saying anything."""
    host, port = channel.host.strip("[]"), channel.endpoint.rsplit(":", 1)[1]
    try:
        with socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S):
            pass
    except OSError as exc:
        raise CouldNotDoError(
            f"no Spark Connect server answers at {url} ({host}:{port}: {exc.strerror or exc}); start one there "
            f"(sbin/start-connect-server.sh), check the host and port, or {instead}"
        ) from None


def connect_session(url: str, *, what: str, instead: str) -> Any:
    """A new session on the Spark Connect server at ``url``, checked to be listening; the caller stops it.

    Never ``builder.getOrCreate()``: that returns whatever session the process made first, whichever
    URL it was for.  The session is not registered as the active one either, so a local session made
    later in this process is still local.  ``what`` names the argument in errors; ``instead`` says what
    the caller can do without the server.
    """
    remote_session = _connect_client(instead)
    from pyspark.sql.connect.client.retries import DefaultPolicy

    channel = _channel(url, what)
    _reachable(url, channel, instead)
    remote = remote_session(connection=channel)
    # A server that accepts the connection but does not answer gRPC: a few quick retries, not ten minutes.
    remote.client.set_retry_policies([DefaultPolicy(max_retries=3, initial_backoff=100, max_backoff=1000)])
    return remote
