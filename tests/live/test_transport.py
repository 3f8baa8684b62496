"""live/transport.py against a real HTTP server on loopback: credentials go only where they belong, every
failure is a message that says what to check, and nothing secret is ever printed."""

from __future__ import annotations

import logging
import socket
import subprocess
import time
from pathlib import Path

import pytest

from dgx_spark_mcp.errors import BadInputError, CouldNotDoError, UnavailableError
from dgx_spark_mcp.live.servers import LiveServer, SparkServer
from dgx_spark_mcp.live.spark_servers import find_app, parse_app_ref, remembered, server_named, servers
from dgx_spark_mcp.live.transport import Connection, Deadline, NotFound
from dgx_spark_mcp.settings import Settings

from .loopback import Seen, json_route, serve

TOKEN = "tok-3f9a1c0de5b7"  # noqa: S105 - a test credential; the point is that it never shows up
PASSWORD = "pw-8d2e41a7"  # noqa: S105


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_bearer_token_goes_to_its_server_and_json_comes_back() -> None:
    with serve({"/api/v1/version": json_route({"spark": "4.3.0"})}) as lb:
        with Connection(LiveServer(name="prod", url=lb.url, token=TOKEN)) as conn:
            assert conn.get_json("/api/v1/version") == {"spark": "4.3.0"}
    assert lb.seen[0].headers["authorization"] == f"Bearer {TOKEN}"


def test_basic_auth_is_sent_as_basic_auth() -> None:
    with serve({"/x": json_route([])}) as lb:
        with Connection(LiveServer(name="p", url=lb.url, username="admin", password=PASSWORD)) as conn:
            conn.get_json("/x")
    assert lb.seen[0].headers["authorization"].startswith("Basic ")


def test_a_redirect_is_not_followed_so_credentials_never_travel_to_another_host(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with serve({"/x": json_route({"stolen": True})}) as elsewhere:
        with serve({"/x": lambda _: (302, {"Location": f"{elsewhere.url}/x"}, b"")}) as lb:
            with Connection(LiveServer(name="p", url=lb.url, token=TOKEN)) as conn:
                with pytest.raises(CouldNotDoError, match=r"redirected /x to http://127\.0\.0\.1:\d+/x") as exc:
                    conn.get_json("/x")
    assert elsewhere.seen == []
    assert TOKEN not in str(exc.value) and TOKEN not in caplog.text


def test_refused_credentials_say_so_without_echoing_them(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with serve({"/x": lambda _: (401, {}, b"no")}) as lb:
        with Connection(LiveServer(name="p", url=lb.url, username="admin", password=PASSWORD)) as conn:
            with pytest.raises(CouldNotDoError, match=r"refused the credentials for /x \(HTTP 401\)") as exc:
                conn.get_json("/x")
    assert PASSWORD not in str(exc.value) and PASSWORD not in caplog.text


def test_a_401_is_retried_once_after_reauthenticating() -> None:
    tokens = iter(["old", "new"])

    def route(seen: Seen) -> tuple[int, dict[str, str], bytes]:
        ok = seen.headers.get("authorization") == "Bearer new"
        return (200, {}, b"{}") if ok else (401, {}, b"expired")

    with serve({"/x": route}) as lb:
        with Connection(LiveServer(name="a", url=lb.url), reauthenticate=lambda c: c.set_bearer(next(tokens))) as conn:
            conn.set_bearer("stale")
            with pytest.raises(CouldNotDoError, match="HTTP 401"):  # refreshed once to "old": still refused
                conn.get_json("/x")
            assert conn.get_json("/x") == {}  # refreshed once more, to "new"
    assert [s.headers["authorization"] for s in lb.seen] == ["Bearer stale", "Bearer old", "Bearer old", "Bearer new"]


def test_an_unreachable_server_and_a_slow_one_are_unavailable_not_crashes() -> None:
    with Connection(LiveServer(name="gone", url=f"http://127.0.0.1:{_free_port()}")) as conn:
        with pytest.raises(UnavailableError, match=r"cannot reach server 'gone'.*check that it runs"):
            conn.get_json("/api/v1/applications")

    def slow(_: Seen) -> tuple[int, dict[str, str], bytes]:
        time.sleep(1.5)
        return 200, {}, b"[]"

    with serve({"/slow": slow}) as lb:
        with Connection(LiveServer(name="s", url=lb.url, timeout_s=0.3)) as conn:
            with pytest.raises(UnavailableError, match=r"did not answer /slow within 0\.3 s"):
                conn.get_json("/slow")


def test_missing_paths_server_errors_and_non_json_are_told_apart() -> None:
    routes = {"/busy": lambda _: (503, {}, b""), "/html": lambda _: (200, {"Content-Type": "text/html"}, b"<html>"),
              "/boom": lambda _: (500, {}, b"java.lang.NullPointerException")}
    with serve(routes) as lb, Connection(LiveServer(name="s", url=lb.url)) as conn:
        with pytest.raises(NotFound, match="has no /nothing"):
            conn.get_json("/nothing")
        with pytest.raises(UnavailableError, match="HTTP 503"):
            conn.get_json("/busy")
        with pytest.raises(CouldNotDoError, match="not JSON"):
            conn.get_json("/html")
        with pytest.raises(CouldNotDoError, match="HTTP 500 for /boom: java.lang.NullPointerException"):
            conn.get_json("/boom")


def test_a_download_is_whole_or_absent_and_bounded(tmp_path: Path) -> None:
    body = b"x" * (3 << 20)
    with serve({"/logs": lambda _: (200, {"Content-Type": "application/zip"}, body)}) as lb:
        with Connection(LiveServer(name="s", url=lb.url)) as conn:
            assert conn.download("/logs", tmp_path / "a.zip", max_bytes=4 << 20) == len(body)
            with pytest.raises(CouldNotDoError, match="larger than 2 MiB"):
                conn.download("/logs", tmp_path / "b.zip", max_bytes=2 << 20)
    assert (tmp_path / "a.zip").read_bytes() == body
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.zip"]  # no partial file left


def test_a_spent_deadline_stops_the_next_request() -> None:
    with serve({"/x": json_route({})}) as lb:
        with Connection(LiveServer(name="s", url=lb.url), deadline=Deadline(0.0)) as conn:
            with pytest.raises(UnavailableError, match="ran past its 0 s deadline"):
                conn.get_json("/x")
    assert lb.seen == []


def test_settings_name_servers_with_their_credentials_and_refuse_mistakes() -> None:
    env = {"DGX_SPARK_MCP_SPARK_SERVERS": "prod=https://shs.example:18080, dev=http://127.0.0.1:18080/",
           "DGX_SPARK_MCP_SPARK_SERVERS_PROD_TOKEN": TOKEN, "DGX_SPARK_MCP_SPARK_SERVERS_DEV_TIMEOUT_S": "5",
           "DGX_SPARK_MCP_AIRFLOW_URL": "http://127.0.0.1:8080", "DGX_SPARK_MCP_AIRFLOW_USERNAME": "admin",
           "DGX_SPARK_MCP_AIRFLOW_PASSWORD": PASSWORD}
    settings = Settings.load(env)
    prod, dev = settings.spark_servers
    assert (prod.name, prod.url, dev.url, dev.timeout_s) == ("prod", "https://shs.example:18080",
                                                             "http://127.0.0.1:18080", 5.0)
    assert prod.token is not None and prod.token.get_secret_value() == TOKEN
    assert settings.airflow is not None and settings.airflow.username == "admin"
    shown = str(settings.public_view())
    assert TOKEN not in shown and PASSWORD not in shown and "**********" in shown
    for bad, message in [("prod", "is not name=url"), ("x=ftp://h", "not an http"), ("x=http://u:p@h", "credentials"),
                         ("a=http://h,a=http://g", "names a more than once"), ("Bad Name=http://h", "server name")]:
        with pytest.raises(ValueError, match=message):
            Settings.load({"DGX_SPARK_MCP_SPARK_SERVERS": bad})


def test_an_unknown_server_name_lists_the_known_ones_and_references_parse() -> None:
    settings = Settings(spark_servers=[SparkServer(name="prod", url="http://127.0.0.1:1")], spark_ui_ports=[_free_port()])
    with pytest.raises(BadInputError, match="unknown Spark server 'stage'; known: prod, and 'local'"):
        server_named(settings, "stage")
    with pytest.raises(BadInputError, match="no Spark driver UI answers"):
        servers(settings, "local")
    ref = parse_app_ref("prod/application_1700000000000_0001/2")
    assert (ref.server, ref.app_id, ref.attempt, str(ref)) == ("prod", "application_1700000000000_0001", "2",
                                                               "prod/application_1700000000000_0001/2")
    assert parse_app_ref("app-1").server is None
    with pytest.raises(BadInputError, match="write the app id"):
        parse_app_ref("a//b")


def test_an_id_alone_is_found_past_a_server_that_cannot_be_reached_and_a_named_servers_error_is_its_own() -> None:
    """find_app: what the event-log fetch and spark_app_status both look an application up with."""
    app = {"id": "app-1", "name": "nightly", "attempts": [{"completed": True}]}
    with serve({"/api/v1/applications/app-1": json_route(app)}) as lb:
        settings = Settings(spark_servers=[SparkServer(name="down", url=f"http://127.0.0.1:{_free_port()}"),
                                           SparkServer(name="prod", url=lb.url)], spark_ui_ports=[_free_port()])
        found = find_app(settings, parse_app_ref("app-1"), Deadline(10.0))
        assert found.server is not None and found.server.name == "prod" and found.app["name"] == "nightly"
        assert [(s.name, type(e)) for s, e in found.misses] == [("down", UnavailableError)]
        assert remembered(settings, "app-1") == "prod"
        missing = find_app(settings, parse_app_ref("app-2"), Deadline(10.0))
        assert missing.server is None and [s.name for s in missing.absent] == ["prod"] and len(missing.failed) == 1
        with pytest.raises(UnavailableError, match="cannot reach Spark server 'down'"):
            find_app(settings, parse_app_ref("down/app-1"), Deadline(10.0))


def _self_signed(where: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 signed by itself (so it is its own CA bundle), made with openssl."""
    cert, key = where / "cert.pem", where / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    return cert, key


def test_tls_is_verified_by_default_and_trusts_a_given_ca_bundle(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    with serve({"/api/v1/applications": json_route([{"id": "app-1"}])}, tls=(cert, key)) as lb:
        assert lb.url.startswith("https://")
        with pytest.raises(UnavailableError, match=r"TLS certificate.*not trusted.*_CA_BUNDLE") as exc:
            with Connection(SparkServer(name="tls", url=lb.url, token=TOKEN)) as conn:
                conn.get_json("/api/v1/applications")
        assert TOKEN not in str(exc.value)
        assert not any("authorization" in s.headers for s in lb.seen)  # nothing was sent before the check
        with Connection(SparkServer(name="tls", url=lb.url, ca_bundle=cert)) as conn:
            assert conn.get_json("/api/v1/applications") == [{"id": "app-1"}]
        with Connection(SparkServer(name="lab", url=lb.url, verify_tls=False)) as conn:
            assert conn.get_json("/api/v1/applications") == [{"id": "app-1"}]
