"""SQL (+ optional DDL) → Spark's own physical plan, without running the query.

Locally, one small PySpark session per process (in-memory catalog, no UI, warehouse under
``settings.home``) creates EMPTY tables from the DDL in a throw-away database and runs
``EXPLAIN FORMATTED <sql>``: Spark plans the query exactly as it would run it (same rules,
same pushdown, same join selection) but reads nothing.  Only a single SELECT/WITH query is
accepted, and the DDL may only create tables and views, so nothing the caller sends can
change data.  Nothing can read a file either: Spark's ``format.`/path``` tables (which would
read the file to infer its schema, from anywhere on disk, past the allowed roots) are refused
by the check and, in case a form slips past it, by ``spark.sql.runSQLOnFiles=false`` around
every EXPLAIN.  With a Spark Connect URL (``sc://host:port``) the EXPLAIN runs on that cluster,
over the tables it already has, in a session of its own that is closed afterwards; a port nobody
listens on fails at once, and a server that does not answer within CONNECT_DEADLINE_S is cut off.
"""

from __future__ import annotations

import contextlib
import importlib.util
import re
import threading
import uuid
import warnings
from typing import Any

from ...errors import BadInputError, CouldNotDoError
from ...settings import Settings
from ...spark_local import connect_session, require_java, start_session

__all__ = ["check_ddl", "check_query", "explain_sql"]


MAX_SQL_CHARS = 200_000
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


_PATH_TABLE = re.compile(r"(?:\b\w+|`\w+`)\s*\.\s*`[^`]*[/\\:][^`]*`")
"""``json.`/etc/x.json``` and the like: a table that is a file path."""
_RUN_SQL_ON_FILES = "spark.sql.runSQLOnFiles"


def _refuse_path_tables(sql: str, what: str) -> None:
    found = _PATH_TABLE.search(_strip_comments(sql))
    if found:
        raise BadInputError(
            f"{what} reads a file by path ({found.group(0)[:80]}); only tables are explained, never files: declare "
            "the table in the schema argument (CREATE TABLE t (col TYPE, ...) USING parquet) and query it by name"
        )


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
    _refuse_path_tables(original, "the query")
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
        _refuse_path_tables(original, f"schema statement for {head.group(2)}")
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
    require_java("paste the EXPLAIN output instead of the SQL")
    try:
        _SESSION = start_session("local[1]", "dgx-spark-mcp-explain", settings.home / "spark-explain",
                                 {"spark.driver.memory": "512m", _RUN_SQL_ON_FILES: "false"})
    except Exception as exc:  # the JVM did not start: Java missing or broken
        raise CouldNotDoError(f"could not start a local Spark session to EXPLAIN the SQL ({exc}); check Java") from exc
    return _SESSION


def _explain_local(sql: str, ddl: list[tuple[str, str, str]], settings: Settings) -> str:
    spark = _local_session(settings)
    scratch = f"dgx_plan_{uuid.uuid4().hex[:12]}"
    databases = {scratch}
    with _LOCK:
        previous = spark.catalog.currentDatabase()
        # A reused session (the telemetry engine's, a user's) may allow file tables: not during our statements.
        files_allowed = spark.conf.get(_RUN_SQL_ON_FILES, "true")
        spark.conf.set(_RUN_SQL_ON_FILES, "false")
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
            spark.conf.set(_RUN_SQL_ON_FILES, files_allowed)


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


def _explain_connect(sql: str, url: str) -> str:
    remote = connect_session(url, what="connect_url", instead="leave connect_url out to EXPLAIN locally")
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
    """``EXPLAIN FORMATTED`` text of one query, planned by Spark over empty tables (or a Spark Connect cluster).

    Without ``connect_url`` or a schema, a Spark Connect URL in the spark_master setting is used: the
    query names that cluster's tables.  Any other master plans locally, because planning over
    empty tables is the same everywhere and needs no cluster.
    """
    query = check_query(sql)
    ddl = check_ddl(schema) if schema and schema.strip() else []
    configured = (settings.spark_master or "").strip()
    if not connect_url and not ddl and configured.startswith("sc://"):
        connect_url = configured
    if connect_url:
        if ddl:
            raise BadInputError(
                "a schema cannot be used with connect_url: the remote cluster's own tables are used, and nothing is "
                "created there; leave the schema out, or leave connect_url out to EXPLAIN over empty local tables"
            )
        return _explain_connect(query, connect_url)
    return _explain_local(query, ddl, settings)
