"""A real Spark History Server for the live tests, started once per session from the installed PySpark.

It replays a directory of real event logs: from the corpus a plain log, a zstd one, a rolling
``eventlog_v2_*`` directory and a truncated one; the PySpark runs of ``fixtures/eventlogs/history/``
(two runs of one job with different settings, a skewed one, a failing one, a running one); and three made
here from those: the failing run as a YARN-style application with two attempts, and one padded past 1 MiB
(for the size bound).  Nothing about the server is imitated: the tests read what it answers.

Start-up (:mod:`.history_process`, shared with ``bench/live.py``): ``spark-class
org.apache.spark.deploy.history.HistoryServer`` in its own process group (the wrapper execs java; ending
the group ends it), then wait until ``/api/v1/applications`` lists every application — about 15-25 s here.  :func:`bearer_proxy` puts a loopback proxy that demands a bearer token
in front of it, as a real deployment's reverse proxy does.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from dgx_spark_mcp.live.servers import SparkServer
from dgx_spark_mcp.settings import Settings

from .history_process import free_port, get, history_server_process
from .loopback import Seen, serve

__all__ = ["EVENTLOGS", "HistoryServer", "app_start", "bearer_proxy", "free_port", "get", "history_server"]

EVENTLOGS = Path(__file__).resolve().parent.parent / "fixtures" / "eventlogs"
CORPUS = {"plain": "python_udf_eventlog", "zstd": "gpu_oom_eventlog.zstd", "rolling": "eventlog_v2_local-1623876083964",
          "truncated": "truncated_eventlog"}
HISTORY_ROLES = {"skewed-orders": "skewed", "failing-etl": "failing", "hourly-backfill": "running"}
ATTEMPTS_ID = "application_1796655261813_0001"
OVERSIZED_ID = "local-1000000000042"


@dataclass
class HistoryServer:
    """The running server: its URL, its log directory, and the fixture applications by role."""

    url: str
    log_dir: Path
    ids: dict[str, str] = field(default_factory=dict)
    """role -> application id: plain, zstd, rolling, truncated, fast, slow, skewed, failing, running, attempts, oversized."""
    files: dict[str, Path] = field(default_factory=dict)
    """role -> the fixture log on disk (the same bytes the server replays)."""
    started_in_s: float = 0.0

    def settings(self, home: Path, roots: list[Path] | None = None, **extra: Any) -> Settings:
        """Settings with this server as 'shs' (unless spark_servers is given), and no loopback driver UI probed."""
        servers = extra.pop("spark_servers", [SparkServer(name="shs", url=self.url)])
        return Settings(home=home, allowed_roots=roots or [home.parent], log_level="WARNING",
                        spark_servers=servers, spark_ui_ports=[free_port()], **extra)

    def listed(self) -> list[dict[str, Any]]:
        """``/api/v1/applications`` as the server answers it (read directly, not through the code under test)."""
        return list(json.loads(get(f"{self.url}/api/v1/applications")))


def app_start(path: Path) -> tuple[str, str]:
    """(app name, app id) from a log's SparkListenerApplicationStart."""
    from dgx_spark_mcp.diagnosis.reading.codecs import LogLines

    first = path if path.is_file() else sorted(path.glob("events_1_*"))[0]
    for line in LogLines(first):
        if b'"SparkListenerApplicationStart"' in line:
            event = json.loads(line)
            return str(event["App Name"]), str(event["App ID"])
    raise AssertionError(f"{path}: no SparkListenerApplicationStart")


def _derived(failing: Path, out: Path) -> None:
    """The failing run as a YARN application with attempts 1 and 2, and a copy padded past 1 MiB."""
    text = failing.read_text()
    _, app_id = app_start(failing)
    yarn = text.replace(app_id, ATTEMPTS_ID).replace('"App Name":"failing-etl"', '"App Name":"failing-etl-yarn"')
    for attempt, later_ms in (("1", 0), ("2", 60_000)):  # the second attempt starts (and ends) a minute later
        lines = []
        for line in yarn.splitlines():
            if '"SparkListenerApplicationStart"' in line or '"SparkListenerApplicationEnd"' in line:
                event = json.loads(line)
                event["Timestamp"] += later_ms
                if "App ID" in event:
                    event["App Attempt ID"] = attempt
                line = json.dumps(event, separators=(",", ":"))
            lines.append(line)
        (out / f"{ATTEMPTS_ID}_{attempt}").write_text("\n".join(lines) + "\n")
    oversized = text.replace(app_id, OVERSIZED_ID).replace('"App Name":"failing-etl"', '"App Name":"oversized-log"')
    environment = next(line for line in oversized.splitlines() if '"SparkListenerEnvironmentUpdate"' in line)
    padding = "\n".join([environment] * (1 + (1 << 20) // len(environment)))
    (out / OVERSIZED_ID).write_text(oversized.replace(environment, environment + "\n" + padding, 1))


@pytest.fixture(scope="session")
def history_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HistoryServer]:
    """A Spark History Server replaying the fixture event logs, for the whole session. Mark its users slow."""
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("no Java here: the History Server needs a JVM")
    root = tmp_path_factory.mktemp("shs")
    logs = root / "logs"
    logs.mkdir()
    server = HistoryServer(url="", log_dir=logs)
    for role, name in CORPUS.items():
        source = EVENTLOGS / "corpus" / name
        (shutil.copytree if source.is_dir() else shutil.copyfile)(source, logs / name)
        server.ids[role], server.files[role] = app_start(source)[1], source
    runs = sorted(EVENTLOGS.glob("history/local-*"), key=lambda p: app_start(p)[1])
    for source in runs:
        shutil.copyfile(source, logs / source.name)
        name, app_id = app_start(source)
        role = HISTORY_ROLES.get(name) or ("fast" if "fast" not in server.ids else "slow")
        server.ids[role], server.files[role] = app_id, source
    _derived(server.files["failing"], logs)
    server.ids["attempts"], server.ids["oversized"] = ATTEMPTS_ID, OVERSIZED_ID
    with history_server_process(logs, expected_ids=set(server.ids.values()), work_dir=root) as (url, started_in_s):
        server.url, server.started_in_s = url, started_in_s
        yield server


@dataclass
class Proxy:
    url: str
    seen: list[Seen]

    @property
    def authorizations(self) -> list[str]:
        """The Authorization header of every request that reached the proxy ('' when there was none)."""
        return [s.headers.get("authorization", "") for s in self.seen]


@contextmanager
def bearer_proxy(upstream: str, token: str) -> Iterator[Proxy]:
    """A loopback reverse proxy in front of ``upstream`` that answers 401 unless ``Authorization: Bearer token``."""
    target = urlsplit(upstream)

    def forward(seen: Seen) -> tuple[int, dict[str, str], bytes]:
        if seen.headers.get("authorization") != f"Bearer {token}":
            return 401, {"WWW-Authenticate": "Bearer"}, b"token required"
        conn = http.client.HTTPConnection(target.hostname or "127.0.0.1", target.port, timeout=60)
        try:
            conn.request("GET", seen.path, headers={"Accept": seen.headers.get("accept", "*/*")})
            answer = conn.getresponse()
            headers = {k: v for k, v in answer.getheaders() if k.lower() in ("content-type", "location")}
            return answer.status, headers, answer.read()
        finally:
            conn.close()

    with serve({"*": forward}) as lb:
        yield Proxy(url=lb.url, seen=lb.seen)
