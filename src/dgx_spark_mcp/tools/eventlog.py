"""Tool: analyze_event_log."""

from collections.abc import Callable
from typing import Annotated, Any

from pydantic import Field

from ..app import App
from ..diagnosis.eventlogs.models import DEFAULT_LIMIT, EventLogAnalysis
from ..optimizers.models import Workload
from . import READ_OR_FETCH, DetailArg, tool

__all__ = ["tools"]


def tools(owner: App) -> list[Callable[..., Any]]:
    @tool(title="Analyze a Spark event log", annotations=READ_OR_FETCH)
    def analyze_event_log(
        path: Annotated[str | None, Field(description="Event log file or eventlog_v2_* directory.")] = None,
        executor_counts: Annotated[list[int] | None, Field(description="What-if executor counts.")] = None,
        limit: Annotated[int, Field(description="Most items per list.")] = DEFAULT_LIMIT,
        workload: Annotated[Workload | None, Field(description="Default: from the app name.")] = None,
        hardware: Annotated[str | None, Field(description="Where it ran: profile or label.")] = None,
        detail: DetailArg = "summary",
        app: Annotated[str | None, Field(description="Or a History Server app: id or server/id.")] = None,
    ) -> EventLogAnalysis:
        """Explain a Spark event log: failures by cause, longest stages (skew, GC, spill), critical path,
        executor-count what-if, config changes. Complete runs feed estimate_resources."""
        from ..diagnosis.eventlogs.run_history import (
            analyze_and_remember,  # the reader loads on first use
        )
        from ..live.app_analysis import analyze_app, one_source

        one_source(path=path, app=app)
        if app is not None:
            return analyze_app(owner.settings, app, executor_counts, limit, workload, hardware, detail=detail)
        assert path is not None
        return analyze_and_remember(path, owner.settings, executor_counts, limit, workload, hardware, detail=detail)

    return [analyze_event_log]
