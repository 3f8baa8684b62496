"""Tools: list_spark_apps, compare_spark_apps (applications on the History Servers and this machine's driver UIs)."""

from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import Field

from ..app import App
from . import READ_LIVE, DetailArg, tool

__all__ = ["tools"]


def tools(app: App) -> list[Callable[..., Any]]:
    from ..live.apps import SparkAppList
    from ..live.compare import SparkAppComparison

    @tool(title="List Spark applications", annotations=READ_LIVE)
    def list_spark_apps(
        status: Annotated[Literal["running", "failed", "completed"] | None, Field(description="Only these.")] = None,
        since: Annotated[str | None, Field(description="ISO time or 'last 24h'.")] = None,
        name: Annotated[str | None, Field(description="Name contains.")] = None,
        server: Annotated[str | None, Field(description="Server name, or 'local'.")] = None,
        limit: Annotated[int, Field(ge=1, le=200, description="Apps per page.")] = 20,
        cursor: Annotated[str | None, Field(description="next_cursor of the last page.")] = None,
    ) -> SparkAppList:
        """Spark applications on the configured History Servers and running local driver UIs, failed and running
        first, each with a one-line state. Refer to one as server/id."""
        from ..live.apps import list_apps

        return list_apps(app.settings, status=status, since=since, name=name, server=server, limit=limit,
                         cursor=cursor)

    @tool(title="Compare two Spark runs", annotations=READ_LIVE)
    def compare_spark_apps(
        a: Annotated[str, Field(description="App: id or server/id[/attempt].")],
        b: Annotated[str, Field(description="The other run.")],
        detail: DetailArg = "summary",
    ) -> SparkAppComparison:
        """Why one run of a job is slower than another: config differences that matter, stage and SQL time,
        input, shuffle and spill differences, from both event logs."""
        from ..live.compare import compare_apps

        return compare_apps(app.settings, a, b, detail=detail)

    return [list_spark_apps, compare_spark_apps]
