"""Tool: analyze_event_log."""

from typing import Annotated

from mcp.server import MCPServer
from pydantic import Field

from ..app import App
from ..diagnosis.eventlog_models import DEFAULT_LIMIT, EventLogAnalysis
from ..optimizers.models import Workload
from . import READ_ONLY, agent_errors

__all__ = ["register"]


def register(mcp: MCPServer, app: App) -> None:
    @mcp.tool(title="Analyze a Spark event log", annotations=READ_ONLY)
    @agent_errors
    def analyze_event_log(
        path: Annotated[
            str,
            Field(
                description="A Spark event log under the allowed roots: one file (plain, .zstd, .lz4, .snappy, .lzf, .gz; "
                ".inprogress too) or a rolling eventlog_v2_<app-id> directory."
            ),
        ],
        executor_counts: Annotated[
            list[Annotated[int, Field(ge=1, le=100_000)]] | None,
            Field(
                max_length=20,
                description="Executor counts for the what-if estimates; default: Sparklens' 10%-500% of the observed "
                "count.",
            ),
        ] = None,
        limit: Annotated[
            int,
            Field(ge=1, le=1000, description="Most jobs, stages, SQL executions, failure groups and executors to list."),
        ] = DEFAULT_LIMIT,
        workload: Annotated[
            Workload | None,
            Field(description="What the job does; kept with the run so estimate_resources can calibrate from it "
                  "(default: guessed from the app name, or the run is not kept)."),
        ] = None,
        hardware: Annotated[
            str | None,
            Field(description="Where the job ran: a profile name (see list_hardware_profiles) or a machine label."),
        ] = None,
    ) -> EventLogAnalysis:
        """Read a Spark event log (any Spark codec or a rolling directory, complete, in progress or truncated) and
        return: how it was read (malformed lines skipped and counted); the application (id, name, Spark version,
        duration, complete or not and why, RAPIDS detected, key properties); totals (input, shuffle, spill, GC share);
        jobs and stages (failed first, then the longest) with durations, failure reasons, per-stage skew (max/median
        task time and shuffle read), GC share and spill; task failures grouped by cause (gpu_oom, executor_oom,
        fetch_failed, ...); executors added and removed with reasons; SQL executions with their plan trees; the critical
        path; a Sparklens-style what-if of the run time for other executor counts with the model's error on the real
        run; AutoTuner-style configuration changes, each with its reason and reference; and findings by severity. A
        complete run is kept in the run history that estimate_resources calibrates from."""
        from ..diagnosis.run_history import analyze_and_remember  # the reader loads on first use

        return analyze_and_remember(path, app.settings, executor_counts, limit, workload, hardware)
