"""One scrape of a dcgm-exporter /metrics page over real HTTP on loopback; other hosts only when allowed."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from dgx_spark_mcp.errors import BadInputError, CouldNotDoError
from dgx_spark_mcp.settings import Settings
from dgx_spark_mcp.telemetry.ingest import ingest
from dgx_spark_mcp.telemetry.store import TelemetryStore

from .conftest import FIXTURES

PAGE = (FIXTURES / "dcgm_exporter.prom").read_bytes()


class Exporter(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (the http.server API)
        if self.path == "/metrics":
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(PAGE)))
            self.end_headers()
            self.wfile.write(PAGE)
        elif self.path == "/html":
            body = b"<html><body>hello</body></html>"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        else:
            self.send_error(404)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def exporter() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Exporter)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_scrape_is_stamped_with_the_scrape_time(settings: Settings, exporter: str) -> None:
    before = datetime.now(UTC).replace(tzinfo=None)
    result = ingest(exporter + "/metrics", settings)
    after = datetime.now(UTC).replace(tzinfo=None)
    assert result.format == "prometheus" and result.source == exporter + "/metrics"
    assert result.rows_stored == 6 and result.rejected == {"no GPU uuid": 1, "not a DCGM metric": 2}
    with TelemetryStore(settings).reader() as con:
        stamps = [r[0] for r in con.execute("SELECT DISTINCT ts FROM samples WHERE metric <> 'DCGM_FI_DEV_FB_USED'").fetchall()]
    assert len(stamps) == 1 and before - timedelta(seconds=1) <= stamps[0] <= after
    # A second scrape a moment later is new samples, not duplicates.
    assert ingest(exporter + "/metrics", settings).rows_stored == 5  # FB_USED carries its own timestamp


def test_localhost_by_name_is_loopback(settings: Settings, exporter: str) -> None:
    assert ingest(exporter.replace("127.0.0.1", "localhost") + "/metrics", settings).rows_stored == 6


def test_a_host_not_listed_is_refused(settings: Settings) -> None:
    with pytest.raises(BadInputError, match=r"'gpu-node-7'.*DGX_SPARK_MCP_SCRAPE_HOSTS"):
        ingest("http://gpu-node-7:9400/metrics", settings)
    assert TelemetryStore(settings).batches() == []


def test_a_listed_host_is_tried(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # .invalid never resolves (RFC 2606): the request is made and fails as "could not do", not refused.
    settings = Settings(home=tmp_path / "home", allowed_roots=[str(tmp_path)], scrape_hosts="exporter.invalid")
    with pytest.raises(CouldNotDoError, match="exporter.invalid"):
        ingest("http://exporter.invalid:9400/metrics", settings)


def test_other_schemes_and_pages(settings: Settings, exporter: str) -> None:
    with pytest.raises(BadInputError, match="scheme 'ftp'"):
        ingest("ftp://127.0.0.1/metrics", settings)
    with pytest.raises(CouldNotDoError, match="HTTP 404"):
        ingest(exporter + "/nothing", settings)
    with pytest.raises(BadInputError, match="did not return Prometheus text"):
        ingest(exporter + "/html", settings)
    assert TelemetryStore(settings).batches() == []


def test_nothing_listening(settings: Settings) -> None:
    import socket

    with socket.socket() as s:  # a port that was free a moment ago
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(CouldNotDoError, match="failed"):
        ingest(f"http://127.0.0.1:{port}/metrics", settings)


def test_scrape_hosts_from_the_environment() -> None:
    loaded = Settings.load({"DGX_SPARK_MCP_SCRAPE_HOSTS": " Node-A01:9400, gpu-node-7 ;dcgm.example ,"})
    assert loaded.scrape_hosts == ["node-a01:9400", "gpu-node-7", "dcgm.example"]
    assert Settings.load({}).scrape_hosts == []
