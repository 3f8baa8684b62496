"""A real Apache Airflow on loopback for the live tests, with DAG runs that failed in known ways.

``airflow standalone`` (SQLite; Airflow 3: LocalExecutor and the simple auth manager, whose generated admin
password is read from ``simple_auth_manager_passwords.json.generated``; Airflow 2: SequentialExecutor and
basic auth, password in ``standalone_admin_password.txt``) runs from its own virtual environment
(:mod:`.airflow_install`) in a temporary AIRFLOW_HOME on free loopback ports, in its own process group,
which teardown ends as a whole (its scheduler, API server and workers outlive a killed parent).

The DAG files fail in different ways; ``airflow dags reserialize`` makes them visible at once, then each
DAG is unpaused and triggered through the REST API and awaited (bounded).  Nothing is imitated: the tests
read what this Airflow answers and what it wrote under ``logs/``.

    etl_exception  extract raises ValueError, retried once (two tries)
    etl_timeout    load sleeps past its execution_timeout (AirflowTaskTimeout)
    etl_spark      a BashOperator spark-submit of a PySpark job whose UDF raises (Airflow 3, with Java only)
    etl_chain      extract fails (KeyError); transform -> publish and audit never run (upstream_failed)
    etl_mapped     a task mapped over 4 partitions fails on map index 2
    etl_ok         succeeds (for "failed first")
    broken_dag.py  imports a module that does not exist (an import error)
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from dgx_spark_mcp.live.servers import AirflowServer
from dgx_spark_mcp.settings import Settings

from .airflow_install import AirflowInstallError, airflow_bin

__all__ = ["AIRFLOW2", "AIRFLOW3", "AirflowEnv", "airflow3", "java_here", "start_airflow"]

AIRFLOW3 = "3.1.8"
AIRFLOW2 = "2.10.5"
START_TIMEOUT_S = 150.0
RUNS_TIMEOUT_S = 180.0
FAILED_DAGS = ("etl_exception", "etl_timeout", "etl_spark", "etl_chain", "etl_mapped")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def java_here() -> bool:
    return shutil.which("java") is not None or bool(os.environ.get("JAVA_HOME"))


@dataclass
class AirflowEnv:
    """A running Airflow: where, how to log in, and the run id of each test DAG's run."""

    version: str
    url: str
    home: Path
    work: Path
    password: str
    username: str = "admin"
    runs: dict[str, str] = field(default_factory=dict)
    states: dict[str, str] = field(default_factory=dict)
    spark_events: Path | None = None
    jwt_secret: str = ""
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def major(self) -> int:
        return int(self.version.split(".")[0])

    def server(self, **changes: Any) -> AirflowServer:
        values: dict[str, Any] = {"url": self.url, "username": self.username, "password": self.password}
        return AirflowServer(**{**values, **changes})

    def settings(self, home: Path, **changes: Any) -> Settings:
        """Settings reaching this Airflow, reading files under the work folder and ``home``'s parent."""
        values: dict[str, Any] = {"home": home, "allowed_roots": [str(self.work), str(home.parent)],
                                  "log_level": "WARNING", "airflow": self.server()}
        return Settings(**{**values, **changes})

    def expired(self, token: str) -> str:
        """``token`` as this Airflow would have signed it a day ago (Airflow 3 answers 401 "Token Expired" to it)."""
        header, payload, _ = token.split(".")
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        now = int(time.time())
        claims.update(iat=now - 90_000, nbf=now - 90_000, exp=now - 3_600)
        body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
        signed = hmac.new(self.jwt_secret.encode(), f"{header}.{body}".encode(), hashlib.sha512).digest()
        return f"{header}.{body}.{base64.urlsafe_b64encode(signed).rstrip(b'=').decode()}"

    def cli_env(self, home: Path) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DGX_SPARK_MCP_", "AIRFLOW"))}
        env.update({"DGX_SPARK_MCP_HOME": str(home), "DGX_SPARK_MCP_ALLOWED_ROOTS": f"{self.work}{os.pathsep}{home.parent}",
                    "DGX_SPARK_MCP_AIRFLOW_URL": self.url, "DGX_SPARK_MCP_AIRFLOW_USERNAME": self.username,
                    "DGX_SPARK_MCP_AIRFLOW_PASSWORD": self.password, "DGX_SPARK_MCP_LOG_LEVEL": "WARNING"})
        return env


# ---- the DAG files ---------------------------------------------------------------------------------

_HEADER = {
    3: "from airflow.sdk import DAG, task\nfrom airflow.providers.standard.operators.bash import BashOperator\n"
       "from airflow.providers.standard.operators.python import PythonOperator\n",
    2: "from airflow import DAG\nfrom airflow.decorators import task\nfrom airflow.operators.bash import BashOperator\n"
       "from airflow.operators.python import PythonOperator\n",
}

_DAGS = '''
import time
from datetime import datetime, timedelta

ARGS = dict(start_date=datetime(2024, 1, 1), schedule=None, catchup=False)


def validate():
    raise ValueError("partition 2026-12-01 has 0 rows; refusing to publish an empty day")


def slow():
    time.sleep(60)


def lookup():
    regions = {"emea": 1}
    return regions["apac"]


with DAG("etl_exception", default_args={"retries": 1, "retry_delay": timedelta(seconds=1)}, **ARGS):
    PythonOperator(task_id="extract", python_callable=validate)

with DAG("etl_timeout", **ARGS):
    PythonOperator(task_id="load", python_callable=slow, execution_timeout=timedelta(seconds=3))

with DAG("etl_chain", **ARGS):
    extract = PythonOperator(task_id="extract", python_callable=lookup)
    transform = BashOperator(task_id="transform", bash_command="echo transform")
    publish = BashOperator(task_id="publish", bash_command="echo publish")
    audit = BashOperator(task_id="audit", bash_command="echo audit")
    side = BashOperator(task_id="side", bash_command="echo side")
    extract >> transform >> publish
    extract >> audit

with DAG("etl_mapped", **ARGS):
    @task
    def load_partition(part):
        if part == 2:
            raise RuntimeError(f"partition {part} is corrupt: checksum mismatch")
        return part

    load_partition.expand(part=[0, 1, 2, 3])

with DAG("etl_ok", **ARGS):
    BashOperator(task_id="noop", bash_command="echo fine")
'''

_SPARK_DAG = '''
from datetime import datetime

with DAG("etl_spark", start_date=datetime(2024, 1, 1), schedule=None, catchup=False):
    BashOperator(task_id="spark_job", bash_command={command!r}, env={env!r}, append_env=True)
'''

_SPARK_JOB = '''
from pyspark.sql import SparkSession, functions as F, types as T

spark = SparkSession.builder.appName("daily_sales").getOrCreate()


@F.udf(T.DoubleType())
def price(raw):
    return float(raw)


spark.createDataFrame([("1.5",), ("n/a",)], ["raw"]).select(price("raw")).collect()
'''


def _write_dags(major: int, dags: Path, work: Path) -> Path | None:
    dags.mkdir(parents=True)
    (dags / "etl_dags.py").write_text(_HEADER[major] + _DAGS)
    (dags / "broken_dag.py").write_text(_HEADER[major] + "import no_such_module_for_tests  # noqa: F401\n")
    if major < 3 or not java_here():
        return None
    import pyspark

    events = work / "spark-events"
    events.mkdir()
    job = work / "daily_sales.py"
    job.write_text(_SPARK_JOB)
    spark_home = Path(pyspark.__file__).parent
    command = (f"{Path(sys.executable).parent / 'spark-submit'} --master 'local[1]' --conf spark.ui.enabled=false "
               f"--conf spark.eventLog.enabled=true --conf spark.eventLog.dir={events.as_uri()} {job}")
    env = {"SPARK_HOME": str(spark_home), "PYSPARK_PYTHON": sys.executable, "PYSPARK_DRIVER_PYTHON": sys.executable,
           "SPARK_LOCAL_IP": "127.0.0.1"}
    (dags / "etl_spark.py").write_text(_HEADER[major] + textwrap.dedent(_SPARK_DAG).format(command=command, env=env))
    return events


# ---- talking to it while setting up (not through the code under test) -----------------------------


class _Api:
    def __init__(self, url: str, major: int, password: str) -> None:
        self.url, self.major, self.password = url, major, password
        self.api = "/api/v2" if major >= 3 else "/api/v1"
        self.auth = ""
        if major >= 3:
            token = self.call("POST", "/auth/token", {"username": "admin", "password": password}, api=False)
            self.auth = f"Bearer {token['access_token']}"
        else:
            self.auth = "Basic " + base64.b64encode(f"admin:{password}".encode()).decode()

    def call(self, method: str, path: str, body: Any = None, api: bool = True) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + (self.api if api else "") + path, data=data, method=method,
                                         headers={"Content-Type": "application/json", "Accept": "application/json",
                                                  **({"Authorization": self.auth} if self.auth else {})})
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback only
            return json.loads(response.read() or b"null")


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback only
        return json.loads(response.read())


def _tail(path: Path) -> str:
    return path.read_text(errors="replace")[-3000:] if path.exists() else "(no output)"


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """End the whole process group: SIGTERM, then SIGKILL for what is left after a few seconds."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass
    for _ in range(50):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    if proc.poll() is None:
        proc.wait(timeout=10)
    # Airflow 2's DAG file processor manager moves into a process group of its own, so the group kill misses it;
    # it stays in the session the server was started in (start_new_session), which is how it is found.
    for pid in _session(proc.pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _session(sid: int) -> list[int]:
    """The processes still alive in session ``sid`` (Linux /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.getsid(int(entry)) == sid:
                    found.append(int(entry))
            except (ProcessLookupError, PermissionError):
                pass
    return found


def _environment(major: int, home: Path, bin_dir: Path, port: int, jwt_secret: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AIRFLOW", "DGX_SPARK_MCP_")) and k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
    env.update({
        "PATH": f"{bin_dir}{os.pathsep}{env.get('PATH', '')}", "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
    })
    if major >= 3:
        env.update({"AIRFLOW__API__HOST": "127.0.0.1", "AIRFLOW__API__PORT": str(port), "AIRFLOW__API__WORKERS": "1",
                    "AIRFLOW__API_AUTH__JWT_SECRET": jwt_secret,
                    "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/"})
    else:
        env.update({"AIRFLOW__WEBSERVER__WEB_SERVER_HOST": "127.0.0.1", "AIRFLOW__WEBSERVER__WEB_SERVER_PORT": str(port),
                    "AIRFLOW__WEBSERVER__WORKERS": "1",
                    "AIRFLOW__API__AUTH_BACKENDS": "airflow.api.auth.backend.basic_auth,airflow.api.auth.backend.session"})
    return env


def _password(major: int, home: Path) -> str | None:
    if major >= 3:
        generated = home / "simple_auth_manager_passwords.json.generated"
        return str(json.loads(generated.read_text())["admin"]) if generated.exists() else None
    written = home / "standalone_admin_password.txt"
    return (written.read_text().strip() or None) if written.exists() else None


def start_airflow(version: str, work: Path) -> Iterator[AirflowEnv]:
    """Install (cached), start, fill with failed runs; yield the running Airflow; end its process group."""
    started = time.monotonic()
    try:
        bin_dir = airflow_bin(version)
    except AirflowInstallError as exc:
        pytest.fail(str(exc))
    installed = time.monotonic()
    major = int(version.split(".")[0])
    home = work / "airflow-home"
    events = _write_dags(major, home / "dags", work)
    port = free_port()
    jwt_secret = secrets.token_urlsafe(24)  # known here, so a test can sign the expired token Airflow would have
    env = _environment(major, home, bin_dir, port, jwt_secret)
    output = work / "standalone.log"
    with output.open("wb") as out:
        proc = subprocess.Popen([str(bin_dir / "airflow"), "standalone"], cwd=work, env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        password = _wait_up(proc, url, major, home, output)
        up = time.monotonic()
        subprocess.run([str(bin_dir / "airflow"), "dags", "reserialize"], cwd=work, env=env, check=True, timeout=180,
                       capture_output=True)
        airflow = AirflowEnv(version=version, url=url, home=home, work=work, password=password, spark_events=events,
                             jwt_secret=jwt_secret)
        _trigger_and_wait(airflow, _Api(url, major, password), output)
        airflow.timings = {"install_s": installed - started, "start_s": up - installed,
                           "runs_s": time.monotonic() - up}
        yield airflow
    finally:
        _stop(proc)


def _wait_up(proc: subprocess.Popen[bytes], url: str, major: int, home: Path, output: Path) -> str:
    deadline = time.monotonic() + START_TIMEOUT_S
    probe = f"{url}/api/v2/version" if major >= 3 else f"{url}/api/v1/version"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"airflow standalone exited ({proc.returncode}): {_tail(output)}")
        try:
            _get_json(probe)
            password = _password(major, home)
            if password:
                return password
        except (OSError, ValueError):
            pass
        time.sleep(0.5)
    pytest.fail(f"Airflow did not answer {probe} within {START_TIMEOUT_S:.0f} s: {_tail(output)}")


def _trigger_and_wait(airflow: AirflowEnv, api: _Api, output: Path) -> None:
    wanted = [d for d in (*FAILED_DAGS, "etl_ok") if d != "etl_spark" or airflow.spark_events is not None]
    listed = {d["dag_id"] for d in api.call("GET", "/dags?limit=100")["dags"]}
    if not set(wanted) <= listed:
        pytest.fail(f"Airflow lists {sorted(listed)}, not {wanted}: {_tail(output)}")
    for dag_id in wanted:
        api.call("PATCH", f"/dags/{dag_id}", {"is_paused": False})
        run = api.call("POST", f"/dags/{dag_id}/dagRuns", {"logical_date": None} if airflow.major >= 3 else {})
        airflow.runs[dag_id] = run["dag_run_id"]
    deadline = time.monotonic() + RUNS_TIMEOUT_S
    while time.monotonic() < deadline:
        for dag_id, run_id in airflow.runs.items():
            if airflow.states.get(dag_id) not in ("success", "failed"):
                path = f"/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}"
                airflow.states[dag_id] = api.call("GET", path)["state"]
        if all(s in ("success", "failed") for s in airflow.states.values()):
            return
        time.sleep(1)
    pytest.fail(f"the DAG runs did not finish within {RUNS_TIMEOUT_S:.0f} s: {airflow.states}: {_tail(output)}")


@pytest.fixture(scope="session")
def airflow3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AirflowEnv]:
    """Apache Airflow 3 with the test DAGs' runs finished, for the whole session. Mark its users slow."""
    yield from start_airflow(AIRFLOW3, tmp_path_factory.mktemp("airflow3"))
