"""SQL (+ optional DDL) → Spark's own physical plan, without running the query.

Locally, one small PySpark session per process (in-memory catalog, no UI, warehouse under
``settings.home``) creates EMPTY tables from the DDL in a throw-away database and runs
``EXPLAIN FORMATTED <sql>``: Spark plans the query exactly as it would run it (same rules,
same pushdown, same join selection) but reads nothing.  Only a single SELECT/WITH query is
accepted, and the DDL may only create tables and views, so nothing the caller sends can
change data.  With a Spark Connect URL (``sc://host:port``) the EXPLAIN runs on that cluster,
over the tables it already has, in a session of its own that is closed afterwards; a port nobody
listens on fails at once, and a server that does not answer within CONNECT_DEADLINE_S is cut off.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import re
import shutil
import socket
import sys
import threading
import uuid
import warnings
from pathlib import Path
from typing import Any

from ..errors import BadInputError, CouldNotDoError
from ..settings import Settings

__all__ = ["check_ddl", "check_query", "explain_sql"]


MAX_SQL_CHARS = 200_000
_CONNECT_NEEDS = ("pandas", "pyarrow", "grpc", "google.protobuf")  # what pyspark[connect] adds
CONNECT_TIMEOUT_S = 5.0  # TCP connect to the Spark Connect server
CONNECT_DEADLINE_S = 120.0  # the whole remote EXPLAIN: planning a large query on a busy cluster takes seconds
_LOCK = threading.Lock()  # one EXPLAIN at a time: the session's current database is shared state
_SESSION: Any = None

_WRITE_WORDS = re.compile(
    r"\b(INSERT|UPDATE|DELETE|MERGE|CREATE|DROP|ALTER|TRUNCATE|CACHE|UNCACHE|REFRESH|LOAD|MSCK|GRANT|REVOKE|"
    r"ANALYZE|REPAIR|OVERWRITE|ADD|USE|SET|RESET)\b",
    re.IGNORECASE,
)


def _strip_comments(sql: str) -> str:
    """The SQL without its comments; string and identifier literals kept as they are."""
    out, i, n = [], 0, len(sql)
    while i < n:
        ch = sql[i]
        if ch in "'\"`":
            j = i + 1
            while j < n and sql[j] != ch:
                j += 2 if sql[j] == "\\" and ch != "`" else 1
            out.append(sql[i:j + 1])
            i = j + 1
        elif sql.startswith("--", i):
            j = sql.find("\n", i)
            i = n if j < 0 else j
        elif sql.startswith("/*", i):
            j = sql.find("*/", i + 2)
            i = n if j < 0 else j + 2
            out.append(" ")
        else:
            out.append(ch)
            i += 1
    return "".join(out)


_LITERAL = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|`[^`]*`")


def _statements(sql: str) -> list[tuple[str, str]]:
    """(statement, the same with literals blanked) for each ';'-separated statement, comments removed.

    Blanking keeps lengths, so a ';' or a keyword inside a string or a `quoted name` never counts.
    """
    plain = _strip_comments(sql)
    blank = _LITERAL.sub(lambda m: m.group(0)[0] + " " * (len(m.group(0)) - 2) + m.group(0)[-1], plain)
    parts, start = [], 0
    for match in re.finditer(";", blank):
        parts.append((plain[start:match.start()], blank[start:match.start()]))
        start = match.end()
    parts.append((plain[start:], blank[start:]))
    return [(orig.strip(), blanked.strip()) for orig, blanked in parts if blanked.strip()]


def check_query(sql: str) -> str:
    """The one SELECT/WITH query in ``sql``; BadInputError for anything else (DDL, DML, several statements)."""
    if len(sql) > MAX_SQL_CHARS:
        raise BadInputError(f"the SQL is {len(sql)} characters, above {MAX_SQL_CHARS}; give one query")
    statements = _statements(sql)
    if not statements:
        raise BadInputError("the SQL is empty; give one SELECT or WITH query")
    if len(statements) > 1:
        raise BadInputError(
            f"the SQL holds {len(statements)} statements; give exactly one SELECT or WITH query (put CREATE TABLE "
            "statements in the schema argument)"
        )
    original, blanked = statements[0]
    first = re.match(r"[\s(]*(\w+)", blanked)
    if first is None or first.group(1).upper() not in ("SELECT", "WITH", "FROM", "VALUES", "TABLE"):
        word = first.group(1) if first else blanked[:20]
        raise BadInputError(
            f"the SQL starts with {word!r}; only a query (SELECT ... or WITH ... SELECT) is explained, never DDL or "
            "DML: nothing is executed"
        )
    write = _WRITE_WORDS.search(blanked)
    if write:
        raise BadInputError(
            f"the query contains {write.group(1).upper()!r}; only a read-only SELECT/WITH query is explained (quote a "
            "column of that name with backticks)"
        )
    return original


_DDL_HEAD = re.compile(
    r"^\s*CREATE\s+(?:OR\s+REPLACE\s+)?(?:(?:GLOBAL\s+)?TEMP(?:ORARY)?\s+)?(?:EXTERNAL\s+)?(TABLE|VIEW)\s+"
    r"(?:IF\s+NOT\s+EXISTS\s+)?([\w`.]+)",
    re.IGNORECASE,
)


def check_ddl(schema: str) -> list[tuple[str, str, str]]:
    """(kind, name, statement) for each CREATE TABLE/VIEW; BadInputError for any other statement."""
    if len(schema) > MAX_SQL_CHARS:
        raise BadInputError(f"the schema is {len(schema)} characters, above {MAX_SQL_CHARS}")
    found = []
    for original, blanked in _statements(schema):
        head = _DDL_HEAD.match(blanked)
        if head is None:
            raise BadInputError(
                f"schema statement {original[:60]!r} is not CREATE TABLE or CREATE VIEW; the schema may only "
                "declare tables and views (no INSERT, DROP, ALTER, ...)"
            )
        kind = head.group(1).upper()
        if kind == "TABLE" and re.search(r"\bAS\s*\(?\s*(SELECT|WITH|FROM|VALUES)\b", blanked, re.IGNORECASE):
            raise BadInputError(
                f"schema statement for {head.group(2)} is CREATE TABLE ... AS SELECT, which would run a query; "
                "declare the columns instead: CREATE TABLE t (id INT, ...)"
            )
        if re.search(r"\b(LOCATION|OPTIONS)\b", blanked, re.IGNORECASE):
            raise BadInputError(
                f"schema statement for {head.group(2)} sets LOCATION/OPTIONS; leave them out: the tables are created "
                "empty in a temporary warehouse"
            )
        name = _DDL_HEAD.match(original)
        found.append((kind, (name.group(2) if name else head.group(2)).replace("`", ""), original))
    return found


def _require_java() -> None:
    if os.environ.get("JAVA_HOME") or shutil.which("java"):
        return
    raise CouldNotDoError(
        "Java is not installed here, and PySpark needs a JVM to EXPLAIN SQL; install a JDK 17 (e.g. "
        "'apt install openjdk-17-jre-headless') or set JAVA_HOME, or paste the EXPLAIN output instead of the SQL"
    )


def _start_session(work: Path) -> Any:
    """A small local session whose JVM writes its stdout to our stderr: on stdio, stdout is JSON-RPC's alone.

    PySpark starts the JVM with the parent's stdout; launching the gateway ourselves is the one
    place to give it another.
    """
    from pyspark import SparkConf, SparkContext
    from pyspark.java_gateway import launch_gateway
    from pyspark.sql import SparkSession

    conf = (
        SparkConf()
        .setMaster("local[1]")
        .setAppName("dgx-spark-mcp-explain")
        .set("spark.ui.enabled", "false")
        .set("spark.driver.memory", "512m")
        .set("spark.sql.catalogImplementation", "in-memory")
        .set("spark.sql.warehouse.dir", str(work / "warehouse"))
        .set("spark.driver.extraJavaOptions", f"-Dderby.system.home={work}")
        .set("spark.local.dir", str(work / "tmp"))
    )
    gateway = launch_gateway(conf, popen_kwargs={"stdout": sys.stderr.fileno()})
    return SparkSession(SparkContext(conf=conf, gateway=gateway))


def _local_session(settings: Settings) -> Any:
    """The process's Spark session: an active one is reused; otherwise a small local one is made once."""
    global _SESSION
    if importlib.util.find_spec("pyspark") is None:
        raise CouldNotDoError("PySpark is not installed; install it (pip install pyspark) or paste EXPLAIN output")
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    if _SESSION is not None:
        return _SESSION
    _require_java()
    work = settings.home / "spark-explain"
    work.mkdir(parents=True, exist_ok=True)
    logging.getLogger("py4j").setLevel(logging.WARNING)
    try:
        _SESSION = _start_session(work)
    except Exception as exc:  # the JVM did not start: Java missing or broken
        raise CouldNotDoError(f"could not start a local Spark session to EXPLAIN the SQL ({exc}); check Java") from exc
    return _SESSION


def _explain_local(sql: str, ddl: list[tuple[str, str, str]], settings: Settings) -> str:
    spark = _local_session(settings)
    scratch = f"dgx_plan_{uuid.uuid4().hex[:12]}"
    databases = {scratch}
    with _LOCK:
        previous = spark.catalog.currentDatabase()
        try:
            spark.sql(f"CREATE DATABASE {scratch}")
            spark.sql(f"USE {scratch}")
            for kind, name, statement in ddl:
                if kind == "TABLE" and "." in name:  # db.table: make the database exist for this run
                    db = name.rsplit(".", 1)[0].split(".")[-1]
                    if not spark.catalog.databaseExists(db):
                        spark.sql(f"CREATE DATABASE {db}")
                        databases.add(db)
                spark.sql(statement)
            return _planned(spark, sql)
        except (BadInputError, CouldNotDoError):
            raise
        except Exception as exc:
            raise _spark_error(exc) from exc
        finally:
            spark.sql(f"USE {previous}")
            for db in databases:
                spark.sql(f"DROP DATABASE IF EXISTS {db} CASCADE")


def _planned(spark: Any, sql: str) -> str:
    """EXPLAIN FORMATTED text; EXPLAIN reports a planning error as text, often without its message."""
    text = str(spark.sql(f"EXPLAIN FORMATTED {sql}").collect()[0][0])
    if text.startswith("Error occurred during query planning"):
        spark.sql(sql)  # analysing the query (lazily: nothing runs) raises the error with its message
        raise BadInputError(f"Spark could not plan the SQL: {text.strip()}")
    return text


def _spark_error(exc: Exception) -> Exception:
    """Spark's analysis errors (unknown table, column, syntax) are the caller's to fix: say so plainly."""
    from pyspark.errors import AnalysisException, ParseException

    message = str(exc).strip().split("\n", 1)[0][:500]
    if isinstance(exc, (AnalysisException, ParseException)):
        return BadInputError(f"Spark could not plan the SQL: {message}. Fix the query or declare the tables it "
                             "reads in the schema argument (CREATE TABLE t (col TYPE, ...))")
    return CouldNotDoError(f"Spark failed while explaining the SQL: {message}")


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # 'google.protobuf' without 'google'
        return False


def _connect_client() -> Any:
    """PySpark's Spark Connect session class, loaded without letting it print or exit."""
    # PySpark's connect module, imported without its dependencies, prints to stdout and calls sys.exit(0):
    # on stdio that would corrupt JSON-RPC and end the server. Check them first, and import it guarded.
    missing = [name for name in _CONNECT_NEEDS if not _installed(name)]
    if missing:
        raise CouldNotDoError(
            f"the Spark Connect client needs {', '.join(missing)}, not installed here; install 'pyspark[connect]' or "
            "leave connect_url out to EXPLAIN locally"
        )
    try:
        with contextlib.redirect_stdout(sys.stderr):
            from pyspark.sql.connect.session import SparkSession as RemoteSession
    except (ImportError, SystemExit) as exc:
        raise CouldNotDoError(
            f"the Spark Connect client could not be loaded ({exc!r}); install 'pyspark[connect]' or leave connect_url "
            "out to EXPLAIN locally"
        ) from None
    return RemoteSession


def _channel(url: str) -> Any:
    """PySpark's own parse of the URL (host, port, ;token=..., ;use_ssl=...), its complaint made ours."""
    from pyspark.errors import PySparkValueError
    from pyspark.sql.connect.client import DefaultChannelBuilder

    try:
        return DefaultChannelBuilder(url)
    except PySparkValueError as exc:
        raise BadInputError(
            f"connect_url {url!r} is not a valid Spark Connect URL ({str(exc).strip().splitlines()[0][:300]}); "
            "write sc://host:15002"
        ) from None


def _reachable(url: str, channel: Any) -> None:
    """A plain TCP connect first: gRPC would retry a refused port for ten minutes before saying anything."""
    host, port = channel.host.strip("[]"), channel.endpoint.rsplit(":", 1)[1]
    try:
        with socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S):
            pass
    except OSError as exc:
        raise CouldNotDoError(
            f"no Spark Connect server answers at {url} ({host}:{port}: {exc.strerror or exc}); start one there "
            "(sbin/start-connect-server.sh), check the host and port, or leave connect_url out to EXPLAIN locally"
        ) from None


def _explain_connect(sql: str, url: str) -> str:
    if not url.startswith("sc://"):
        raise BadInputError(f"connect_url {url!r} is not a Spark Connect URL; write sc://host:15002")
    remote_session = _connect_client()
    from pyspark.sql.connect.client.retries import DefaultPolicy

    channel = _channel(url)
    _reachable(url, channel)
    # A session of our own, never builder.getOrCreate(): that returns whatever session the process made
    # first, whichever URL it was for. It is not registered as the active session either, so a later
    # local EXPLAIN in this process still gets a local session.
    remote = remote_session(connection=channel)
    # A server that accepts the connection but does not answer gRPC: a few quick retries, not ten minutes.
    remote.client.set_retry_policies([DefaultPolicy(max_retries=3, initial_backoff=100, max_backoff=1000)])
    done: dict[str, Any] = {}

    def run() -> None:
        try:
            done["plan"] = _planned(remote, sql)
        except BaseException as exc:  # handed to the caller's thread below
            done["error"] = exc

    worker = threading.Thread(target=run, name="dgx-spark-connect-explain", daemon=True)
    try:
        with warnings.catch_warnings():
            # Spent retries are announced with warnings.warn before the gRPC error is raised; the error says it all.
            warnings.filterwarnings("ignore", message=r"\[RETRIES_EXCEEDED\]")
            worker.start()
            worker.join(CONNECT_DEADLINE_S)
        if worker.is_alive():
            raise CouldNotDoError(
                f"the Spark Connect server at {url} did not return a plan within {CONNECT_DEADLINE_S:.0f} s; check "
                "that it is a Spark Connect endpoint and not overloaded, or leave connect_url out to EXPLAIN locally"
            )
    finally:
        remote.release_session_on_close = not worker.is_alive()  # a server that does not answer: just close
        with contextlib.suppress(Exception):
            remote.stop()  # closing the channel also cancels a call still waiting
    error = done.get("error")
    if error is None:
        return str(done["plan"])
    if isinstance(error, (BadInputError, CouldNotDoError)):
        raise error
    if _unreachable(error):
        raise CouldNotDoError(
            f"the Spark Connect server at {url} could not be reached over gRPC ({_grpc_detail(error)}); check that "
            "it is a Spark Connect endpoint (sc://host:15002) and that TLS/token settings match, or leave "
            "connect_url out to EXPLAIN locally"
        ) from error
    raise _spark_error(error) from error


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().split("\n", 1)[0] or type(exc).__name__)[:300]


def _grpc_detail(exc: BaseException) -> str:
    """gRPC's 'details = "..."' line (the first line is only the Python object's name), else the first line."""
    found = re.search(r'details = "([^"]*)"', str(exc))
    return found.group(1)[:300] if found else _first_line(exc)


def _unreachable(exc: BaseException) -> bool:
    """A transport failure (no gRPC answer, retries spent), not Spark's answer about the SQL."""
    import grpc
    from pyspark.errors.exceptions.connect import SparkConnectGrpcException

    if isinstance(exc, SparkConnectGrpcException):
        code = exc.getGrpcStatusCode()
    else:
        code = exc.code() if isinstance(exc, grpc.RpcError) and hasattr(exc, "code") else None
    return code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)


def explain_sql(sql: str, settings: Settings, schema: str | None = None, connect_url: str | None = None) -> str:
    """``EXPLAIN FORMATTED`` text of one query, planned by Spark over empty tables (or a Spark Connect cluster)."""
    query = check_query(sql)
    ddl = check_ddl(schema) if schema and schema.strip() else []
    if connect_url:
        if ddl:
            raise BadInputError(
                "a schema cannot be used with connect_url: the remote cluster's own tables are used, and nothing is "
                "created there; leave the schema out, or leave connect_url out to EXPLAIN over empty local tables"
            )
        return _explain_connect(query, connect_url)
    return _explain_local(query, ddl, settings)
