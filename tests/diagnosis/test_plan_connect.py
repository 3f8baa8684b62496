"""EXPLAIN through a real Spark Connect server (PySpark's own, started from its jars on a loopback port).

The server is a JVM of its own: it plans over the tables it holds, so what comes back is the
cluster's plan, not the local session's. Nothing here is mocked; only Java is a reason to skip.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import HTTPServer, SimpleHTTPRequestHandler
from pathlib import Path

import pytest
from mcp import Client

from dgx_spark_mcp.diagnosis.plans.explain import explain_sql
from dgx_spark_mcp.errors import BadInputError, CouldNotDoError
from dgx_spark_mcp.settings import Settings

from ..conftest import server_command, structured

pytestmark = pytest.mark.slow

CONNECT_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"
START_TIMEOUT_S = 180.0  # a cold JVM on two cores takes ~20 s; a stuck start still ends the run
JOIN_AGGREGATE = "SELECT a.v, count(*) AS n FROM t a JOIN t b ON a.id = b.id GROUP BY a.v"


@dataclass(frozen=True)
class ConnectServer:
    url: str
    warehouse: Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def connect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConnectServer]:
    """A Spark Connect server on a free loopback port, with a parquet table t (id INT, v STRING)."""
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("no Java here: the Spark Connect server is a JVM")
    import pyspark
    from pyspark.sql.connect.session import SparkSession as RemoteSession

    spark_home = Path(pyspark.__file__).parent
    work = tmp_path_factory.mktemp("connect-server")
    warehouse = work / "warehouse"
    port = _free_port()
    stderr_path = work / "server.stderr"
    command = [
        str(spark_home / "bin" / "spark-submit"), "--class", CONNECT_CLASS, "--master", "local[2]",
        "--conf", f"spark.connect.grpc.binding.port={port}",
        "--conf", "spark.connect.grpc.binding.address=127.0.0.1",
        "--conf", "spark.ui.enabled=false",
        "--conf", "spark.driver.memory=512m",
        "--conf", f"spark.sql.warehouse.dir={warehouse}",
        "--conf", f"spark.local.dir={work / 'tmp'}",
        "--conf", f"spark.driver.extraJavaOptions=-Dderby.system.home={work / 'derby'}",
    ]
    env = {**os.environ, "SPARK_HOME": str(spark_home)}
    env.pop("SPARK_REMOTE", None)
    with stderr_path.open("wb") as stderr:
        # cwd is the server's own folder: whatever Spark writes relative to it stays there
        proc = subprocess.Popen(command, cwd=work, env=env, stdin=subprocess.DEVNULL,
                                stdout=stderr, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _accepts(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                state = f"exited with {proc.returncode}" if proc.poll() is not None else f"not up in {START_TIMEOUT_S} s"
                pytest.fail(f"Spark Connect server {state}; its output ends:\n{stderr_path.read_text()[-4000:]}")
            time.sleep(0.5)
        url = f"sc://127.0.0.1:{port}"
        setup = RemoteSession(connection=url)  # not builder.getOrCreate(): no process-wide default session
        try:
            setup.sql("CREATE TABLE t (id INT, v STRING) USING parquet").collect()
        finally:
            setup.stop()
        yield ConnectServer(url=url, warehouse=warehouse)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)


@pytest.fixture
def empty_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    return cwd


def test_explain_through_connect_is_the_servers_own_plan(connect_server: ConnectServer, settings: Settings,
                                                         empty_cwd: Path, capfd: pytest.CaptureFixture[str]) -> None:
    text = explain_sql(JOIN_AGGREGATE, settings, connect_url=connect_server.url)
    assert text.startswith("== Physical Plan ==")
    for operator in ("HashAggregate", "Exchange", "Scan parquet spark_catalog.default.t", "Join Inner"):
        assert operator in text, operator
    assert "BroadcastHashJoin" in text or "SortMergeJoin" in text
    assert f"file:{connect_server.warehouse}/t" in text  # the server's table, in the server's warehouse
    assert capfd.readouterr().out == ""  # on stdio, stdout is JSON-RPC's alone
    assert list(empty_cwd.iterdir()) == []
    assert not (settings.home / "spark-explain").exists()  # no local session was started for it


def test_no_remote_session_is_left_behind(connect_server: ConnectServer, settings: Settings) -> None:
    """A Connect EXPLAIN registers no process-wide session: one left registered would be what the next
    builder.getOrCreate() returns, whatever URL that caller gave. A later dead URL still fails."""
    from pyspark.sql.connect.session import SparkSession as RemoteSession

    explain_sql("SELECT count(*) FROM t", settings, connect_url=connect_server.url)
    assert RemoteSession.getActiveSession() is None  # nothing left registered for the next caller
    dead = f"sc://127.0.0.1:{_free_port()}"
    with pytest.raises(CouldNotDoError, match="no Spark Connect server answers"):
        explain_sql("SELECT count(*) FROM t", settings, connect_url=dead)


def test_a_query_the_server_cannot_plan_is_the_callers_to_fix(connect_server: ConnectServer,
                                                              settings: Settings) -> None:
    with pytest.raises(BadInputError, match="Spark could not plan the SQL: .*no_such_table"):
        explain_sql("SELECT * FROM no_such_table", settings, connect_url=connect_server.url)
    with pytest.raises(BadInputError, match="Spark could not plan the SQL: .*`nope`"):
        explain_sql("SELECT nope FROM t", settings, connect_url=connect_server.url)


@pytest.mark.anyio
async def test_tool_explains_on_the_connect_server_and_gives_findings(connect_server: ConnectServer,
                                                                      client: Client) -> None:
    result = structured(await client.call_tool("analyze_query_plan", {
        "sql": "SELECT * FROM t a CROSS JOIN t b", "connect_url": connect_server.url}))
    assert result["source"] == "sql" and result["form"] == "formatted"
    assert "broadcast_nested_loop_join" in {f["category"] for f in result["findings"]}
    assert {s["table"] for s in result["summary"]["scans"]} == {"spark_catalog.default.t"}
    healthy = structured(await client.call_tool("analyze_query_plan", {
        "sql": JOIN_AGGREGATE, "connect_url": connect_server.url}))
    assert healthy["summary"]["node_count"] >= 8


def test_a_port_nobody_listens_on_fails_fast_and_plainly(settings: Settings) -> None:
    """gRPC on its own would retry a refused port for about ten minutes before saying anything."""
    url = f"sc://127.0.0.1:{_free_port()}"
    started = time.monotonic()
    with pytest.raises(CouldNotDoError) as caught:
        explain_sql("SELECT 1", settings, connect_url=url)
    assert time.monotonic() - started < 15
    message = str(caught.value)
    assert url in message and "no Spark Connect server answers" in message and "Connection refused" in message
    assert "leave connect_url out" in message


@pytest.mark.anyio
async def test_tool_reports_a_dead_url_as_an_error(client: Client) -> None:
    url = f"sc://127.0.0.1:{_free_port()}"
    result = await client.call_tool("analyze_query_plan", {"sql": "SELECT 1", "connect_url": url})
    assert result.is_error and f"no Spark Connect server answers at {url}" in result.content[0].text  # type: ignore[union-attr]


def test_a_malformed_url_is_named(settings: Settings) -> None:
    with pytest.raises(BadInputError, match="'sc://127.0.0.1:1/x' is not a valid Spark Connect URL.*path"):
        explain_sql("SELECT 1", settings, connect_url="sc://127.0.0.1:1/x")


def test_an_endpoint_that_is_not_spark_connect_fails_within_bounds(settings: Settings) -> None:
    """A port that accepts TCP but speaks HTTP/1 (a web server): gRPC's retries are cut short."""

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
            pass

    httpd = HTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    url = f"sc://127.0.0.1:{httpd.server_address[1]}"
    try:
        started = time.monotonic()
        with pytest.raises(CouldNotDoError, match="could not be reached over gRPC .*HTTP/2.*Spark Connect endpoint"):
            explain_sql("SELECT 1", settings, connect_url=url)
        assert time.monotonic() - started < 60
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


def test_cli_in_a_fresh_process_prints_only_the_json(connect_server: ConnectServer, tmp_path: Path,
                                                     server_env: dict[str, str]) -> None:
    cwd = tmp_path / "project"
    cwd.mkdir()
    proc = subprocess.run(
        server_command("plan", "--sql", "SELECT * FROM t a CROSS JOIN t b", "--connect-url", connect_server.url,
                       "--json"),
        capture_output=True, text=True, env=server_env, cwd=cwd, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout)  # stdout holds exactly the JSON: nothing the Connect client printed
    assert result["source"] == "sql" and "broadcast_nested_loop_join" in {f["category"] for f in result["findings"]}
    assert list(cwd.iterdir()) == []
    dead = subprocess.run(
        server_command("plan", "--sql", "SELECT 1", "--connect-url", f"sc://127.0.0.1:{_free_port()}"),
        capture_output=True, text=True, env=server_env, cwd=cwd, timeout=120,
    )
    assert dead.returncode == 2 and dead.stdout == "" and "no Spark Connect server answers" in dead.stderr
    assert list(cwd.iterdir()) == []


def test_a_server_that_never_answers_is_cut_off_at_the_deadline(settings: Settings,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """A port that accepts TCP and then says nothing: the whole EXPLAIN is bounded, and says so."""
    from dgx_spark_mcp.diagnosis.plans import explain as plan_explain

    monkeypatch.setattr(plan_explain, "CONNECT_DEADLINE_S", 3.0)
    silent = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        silent.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(silent.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    url = f"sc://127.0.0.1:{silent.getsockname()[1]}"
    try:
        started = time.monotonic()
        with pytest.raises(CouldNotDoError, match=f"server at {url} did not return a plan within 3 s"):
            explain_sql("SELECT 1", settings, connect_url=url)
        assert time.monotonic() - started < 15
        assert accepted  # the client did reach the port: it was the answer that never came
    finally:
        stop.set()
        thread.join(timeout=10)
        for conn in accepted:
            conn.close()
        silent.close()


def test_a_connect_url_in_the_spark_master_setting_is_where_sql_is_explained(connect_server: ConnectServer,
                                                                              settings: Settings) -> None:
    configured = settings.model_copy(update={"spark_master": connect_server.url})
    text = explain_sql("SELECT count(*) FROM t", configured)
    assert f"file:{connect_server.warehouse}/t" in text  # the server's table: planned there
    assert not (settings.home / "spark-explain").exists()
