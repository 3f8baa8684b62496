"""Tool: diagnose_log."""

from typing import Annotated, Any

from mcp.server import MCPServer
from pydantic import Field

from ..app import App
from ..diagnosis.logkind import LogKind
from . import READ_ONLY, agent_errors

__all__ = ["register"]


def register(mcp: MCPServer, app: App) -> None:
    from ..diagnosis.diagnose import DEFAULT_LIMIT, MAX_LIMIT, DiagnoseResult

    @mcp.tool(title="Diagnose a Spark or Airflow log", annotations=READ_ONLY)
    @agent_errors
    def diagnose_log(
        path: Annotated[
            str | None,
            Field(description="A log under the allowed roots: Spark driver/executor log, Spark event log (file or "
                  "eventlog_v2_* directory), Airflow task log; plain, .gz or .zst. Omit when giving text."),
        ] = None,
        text: Annotated[
            str | None,
            Field(description="Pasted log text (a stack trace, part of a driver or Airflow log) instead of a path."),
        ] = None,
        kind: Annotated[
            LogKind | None,
            Field(description="The kind of log, when detection from the first lines gets it wrong (default: detect)."),
        ] = None,
        hardware: Annotated[
            str | dict[str, Any] | None,
            Field(description="Size the fixes for this machine: a profile name (see list_hardware_profiles), 'this' "
                  "for the detected machine, or a node spec {cpu_cores, memory_gib, gpu_count, ...}."),
        ] = None,
        limit: Annotated[int, Field(ge=1, le=MAX_LIMIT, description="Most findings to return.")] = DEFAULT_LIMIT,
    ) -> DiagnoseResult:
        """Find why a Spark job or Airflow task failed from its log: the kind is detected (Spark driver/executor log,
        event log, Airflow 1.10-3 task log with a nested spark-submit log unwrapped), gz/zstd read transparently, files
        of any size streamed. Stack traces are grouped into one exception and the Caused-by chain followed to the
        innermost cause (Py4JJavaError, 'Job aborted' and Airflow wrappers kept as evidence; Python UDF tracebacks read
        to their last frame). Each finding has a stable category (executor_oom, container_memory_exceeded,
        table_not_found, airflow_task_timeout, ...), rule id, severity, root cause, evidence (lines, repeats grouped by
        template with first/last line) and a fix with config changes, sized to the hardware when given. Most likely root
        cause first; a healthy log gives no warnings. Results are kept in the context store by content hash, so asking
        again is instant."""
        from ..diagnosis.diagnose import diagnose_log as diagnose
        from ..errors import BadInputError

        if (path is None) == (text is None):
            raise BadInputError("give exactly one of path (a log file under the allowed roots) or text (pasted log)")
        return diagnose(path or "", app.settings, text=text, hardware=hardware, limit=limit,
                        kind=kind.value if kind else None)
