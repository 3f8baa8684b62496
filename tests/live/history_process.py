"""A real Spark History Server process from the installed PySpark, over a directory of event logs (no pytest here).

``tests/live/shs.py`` (the live tests' session fixture) and ``bench/live.py`` both start it with
:func:`history_server_process`: ``spark-class org.apache.spark.deploy.history.HistoryServer`` on a free
loopback port, in its own process group (the wrapper execs java; ending the group ends it), with a
properties file that rescans the log directory every second; then it waits until
``/api/v1/applications`` lists the applications expected (by id, or by count).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

__all__ = ["free_port", "get", "history_server_process", "listed"]

START_TIMEOUT_S = 180.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(url: str, timeout_s: float = 10.0) -> bytes:
    """A GET's body (any status but 200 is an OSError)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=timeout_s)
    try:
        conn.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""))
        response = conn.getresponse()
        body = response.read()
        if response.status != 200:
            raise OSError(f"HTTP {response.status} for {url}")
        return body
    finally:
        conn.close()


def listed(url: str) -> list[dict[str, Any]]:
    """``/api/v1/applications`` as the server answers it (read directly, not through the code under test)."""
    return list(json.loads(get(f"{url}/api/v1/applications", timeout_s=60.0)))


def wait_listed(url: str, proc: subprocess.Popen[bytes], output: Path, *, expected_ids: set[str] | None = None,
                expected_count: int | None = None, timeout_s: float = START_TIMEOUT_S) -> None:
    """Until the server lists every id of ``expected_ids`` and at least ``expected_count`` applications."""
    deadline = time.monotonic() + timeout_s
    ids: set[str] = set()
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the History Server exited ({proc.returncode}): {output.read_text()[-2000:]}")
        try:
            ids = {str(a["id"]) for a in listed(url)}
        except (OSError, ValueError):  # not listening yet, or still answering its HTML start page
            ids = set()
        if (expected_ids or set()) <= ids and len(ids) >= (expected_count or 0):
            return
        time.sleep(0.5)
    missing = sorted((expected_ids or set()) - ids)
    raise RuntimeError(f"the History Server listed {len(ids)} application(s), not {missing or expected_count}, within "
                       f"{timeout_s:.0f} s: {output.read_text()[-2000:]}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@contextmanager
def history_server_process(log_dir: Path, *, expected_ids: set[str] | None = None, expected_count: int | None = None,
                           timeout_s: float = START_TIMEOUT_S, daemon_memory: str = "512m",
                           work_dir: Path | None = None, replay_threads: int = 1) -> Iterator[tuple[str, float]]:
    """A History Server replaying ``log_dir``: yields (its URL, seconds from launch until it listed what is expected).

    ``daemon_memory``: SPARK_DAEMON_MEMORY (a thousand applications want about 1g).  ``work_dir``: where its
    properties file and its output (``history-server.log``) go; a temporary directory when None.
    """
    import pyspark

    with tempfile.TemporaryDirectory(prefix="shs-") as scratch:
        work = work_dir or Path(scratch)
        port = free_port()
        props = work / "history.properties"
        props.write_text(f"spark.history.fs.logDirectory {log_dir.as_uri()}\nspark.history.ui.port {port}\n"
                         f"spark.history.fs.update.interval 1s\nspark.history.fs.numReplayThreads {replay_threads}\n")
        home = Path(pyspark.__file__).parent
        env = {**os.environ, "SPARK_HOME": str(home), "SPARK_LOCAL_IP": "127.0.0.1",
               "SPARK_DAEMON_MEMORY": daemon_memory, "SPARK_NO_DAEMONIZE": "1"}
        output = work / "history-server.log"
        started = time.monotonic()
        with output.open("wb") as out:
            proc = subprocess.Popen([str(home / "bin" / "spark-class"), "org.apache.spark.deploy.history.HistoryServer",
                                     "--properties-file", str(props)], env=env, stdout=out, stderr=subprocess.STDOUT,
                                    cwd=work, start_new_session=True)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_listed(url, proc, output, expected_ids=expected_ids, expected_count=expected_count,
                        timeout_s=timeout_s)
            yield url, time.monotonic() - started
        finally:
            _stop(proc)
