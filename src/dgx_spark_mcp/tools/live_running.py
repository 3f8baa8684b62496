"""Tool: spark_app_status, a running Spark application's progress and what is wrong with it now."""

from collections.abc import Callable
from typing import Annotated, Any

from pydantic import Field

from ..app import App
from ..live.running_models import AppStatus
from . import READ_LIVE, DetailArg, tool

__all__ = ["tools"]


def tools(server: App) -> list[Callable[..., Any]]:
    @tool(title="Status of a running Spark application", annotations=READ_LIVE)
    def spark_app_status(
        app: Annotated[str | None, Field(description="app-id, server/app-id[/attempt], or a server (its running "
                                         "app); default: the one running on this machine.")] = None,
        detail: DetailArg = "summary",
    ) -> AppStatus:
        """What a running Spark application is doing now and what is wrong: findings first (stragglers, skew, failed
        tasks, GC, memory, plan issues of running SQL), then active jobs and stages with progress and task-time
        quantiles, executors, failures by reason, SQL in flight. Driver UIs on this machine are found without
        settings; incomplete apps on History Servers by server/app-id."""
        from ..live.running import status  # the live modules load on the first call

        return status(server.settings, app, detail=detail)

    return [spark_app_status]
