"""Tools: list_dag_runs, diagnose_dag_run — the configured Airflow (REST API v2 or v1), or a folder of task logs.

The Airflow is the server's setting (``DGX_SPARK_MCP_AIRFLOW_URL`` and its credentials): an agent names
DAGs and runs, never a URL or a password.
"""

from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import Field

from ..app import App
from . import READ_LIVE, DetailArg, tool

__all__ = ["tools"]


def tools(app: App) -> list[Callable[..., Any]]:
    from ..live.airflow_models import DagRunDiagnosis, DagRunList

    @tool(title="List Airflow DAG runs", annotations=READ_LIVE)
    def list_dag_runs(
        dag_id: Annotated[str | None, Field(description="Only this DAG.")] = None,
        state: Annotated[Literal["queued", "running", "success", "failed"] | None, Field(description="Only these.")] = None,
        since: Annotated[str | None, Field(description="ISO 8601 or 'last 24h'.")] = None,
        limit: Annotated[int, Field(ge=1, le=100, description="Runs per page.")] = 20,
        cursor: Annotated[str | None, Field(description="next_cursor of the last page.")] = None,
    ) -> DagRunList:
        """Airflow DAG runs, failed first then newest, paged with a total; and DAG files that fail to import."""
        from ..live.airflow_runs import list_dag_runs as run

        return run(app.settings, dag_id=dag_id, state=state, since=since, limit=limit, cursor=cursor)

    @tool(title="Diagnose an Airflow DAG run", annotations=READ_LIVE)
    def diagnose_dag_run(
        dag_id: Annotated[str | None, Field(description="Default: any DAG.")] = None,
        run_id: Annotated[str | None, Field(description="Default: the latest failed run.")] = None,
        path: Annotated[str | None, Field(description="Instead of the API: a folder of task logs or one log.")] = None,
        limit: Annotated[int, Field(ge=1, le=50, description="Most failed tries read.")] = 10,
        detail: DetailArg = "summary",
    ) -> DagRunDiagnosis:
        """Why an Airflow DAG run failed: task states, every failed try's log diagnosed (mapped index, nested
        spark-submit), upstream_failed traced to the failed task, import errors, Spark app ids."""
        from ..live.airflow_diagnosis import diagnose_dag_run as run

        return run(app.settings, dag_id, run_id, path=path, limit=limit, detail=detail)

    return [list_dag_runs, diagnose_dag_run]
