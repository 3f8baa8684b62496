"""data/live-apis.json as a registry: it loads into its models, the Airflow flavors the client uses are its rows,
and the Spark endpoints it lists are exactly the requests spark_rest makes (recorded by a loopback server)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from dgx_spark_mcp.live import airflow_client, spark_rest
from dgx_spark_mcp.live.apis import live_apis
from dgx_spark_mcp.live.servers import SparkServer
from dgx_spark_mcp.live.transport import Connection

from .loopback import Seen, serve

VALUES = {"app": "app-1", "stage": "3", "stage_attempt": "0", "execution": "5"}


def _expansions(template: str) -> set[str]:
    """A listed endpoint with the test's values, with and without its optional attempt."""
    forms = {template.replace("[/{attempt}]", ""), template.replace("[/{attempt}]", "/2")}
    for key, value in VALUES.items():
        forms = {f.replace("{" + key + "}", value) for f in forms}
    return forms


def test_the_registry_loads_and_the_airflow_client_speaks_its_flavors() -> None:
    apis = live_apis()
    assert apis.spark.base == "/api/v1" and "4.3.0" in apis.spark.verified_with
    assert [f.api for f in apis.airflow] == ["/api/v2", "/api/v1"] and [f.airflow for f in apis.airflow] == [3, 2]
    assert (airflow_client.V2, airflow_client.V1) == tuple(apis.airflow)
    assert all(f.source.startswith("https://") and f.verified_with for f in apis.airflow)
    assert len(set(apis.spark.endpoints)) == len(apis.spark.endpoints)


def test_the_listed_spark_endpoints_are_the_requests_spark_rest_makes(tmp_path: Path) -> None:
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as z:
        z.writestr("app-1", "{}\n")

    def answer(seen: Seen) -> tuple[int, dict[str, str], bytes]:
        if seen.path.split("?")[0].endswith("/logs"):
            return 200, {"Content-Type": "application/octet-stream"}, zipped.getvalue()
        body = b"[]" if seen.path.split("?")[0].rsplit("/", 1)[-1] in (
            "applications", "jobs", "stages", "taskList", "allexecutors", "executors", "sql") else b"{}"
        return 200, {"Content-Type": "application/json"}, body

    with serve({"*": answer}) as lb, Connection(SparkServer(name="shs", url=lb.url)) as conn:
        for attempt in (None, "2"):
            spark_rest.jobs(conn, "app-1", attempt)
            spark_rest.stages(conn, "app-1", attempt)
            spark_rest.stage(conn, "app-1", 3, 0, attempt)
            spark_rest.stage_task_summary(conn, "app-1", 3, 0, attempt)
            spark_rest.stage_tasks(conn, "app-1", 3, 0, attempt)
            spark_rest.executors(conn, "app-1", attempt)
            spark_rest.executors(conn, "app-1", attempt, all_=False)
            spark_rest.sql(conn, "app-1", attempt)
            spark_rest.sql_execution(conn, "app-1", 5, attempt)
            spark_rest.environment(conn, "app-1", attempt)
            spark_rest.logs(conn, "app-1", tmp_path / f"logs-{attempt}.zip", 1 << 20, attempt)
        spark_rest.version(conn)
        spark_rest.applications(conn)
        spark_rest.application(conn, "app-1")
        asked = {s.path.split("?")[0] for s in lb.seen}
    base = live_apis().spark.base
    listed = {base + form for template in live_apis().spark.endpoints for form in _expansions(template)}
    assert len(asked) >= 20 and asked - listed == set(), "requests the registry does not list"
    unused = [t for t in live_apis().spark.endpoints
              if not any(base + form in asked for form in _expansions(t))]
    assert unused == [], "listed endpoints no function requests"
