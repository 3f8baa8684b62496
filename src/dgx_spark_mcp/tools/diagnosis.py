"""Tool: diagnose_log."""

from collections.abc import Callable
from typing import Annotated, Any

from pydantic import Field

from ..app import App
from ..diagnosis.reading.logkind import LogKind
from . import READ_OR_FETCH, DetailArg, tool

__all__ = ["tools"]


def tools(owner: App) -> list[Callable[..., Any]]:
    from ..diagnosis.logs.diagnose import DEFAULT_LIMIT, DiagnoseResult

    @tool(title="Diagnose a Spark or Airflow log", annotations=READ_OR_FETCH)
    def diagnose_log(
        path: Annotated[str | None, Field(description="Log file (plain/gz/zst), or text.")] = None,
        text: Annotated[str | None, Field(description="Pasted log.")] = None,
        kind: Annotated[LogKind | None, Field(description="Default: detected.")] = None,
        hardware: Annotated[
            str | dict[str, Any] | None, Field(description="Size fixes for: profile, 'this' or node spec.")
        ] = None,
        limit: Annotated[int, Field(description="Most findings.")] = DEFAULT_LIMIT,
        detail: DetailArg = "summary",
        app: Annotated[str | None, Field(description="Or a History Server app: id or server/id.")] = None,
    ) -> DiagnoseResult:
        """Why a Spark job or Airflow task failed, from its log (driver, executor, event or Airflow log; any size):
        findings, root cause first, with evidence and fix."""
        from ..diagnosis.logs.diagnose import diagnose_log as diagnose
        from ..live.app_analysis import diagnose_app, one_source

        one_source(path=path, text=text, app=app)
        if app is not None:
            return diagnose_app(owner.settings, app, hardware=hardware, limit=limit, kind=kind.value if kind else None,
                                detail=detail)
        return diagnose(path or "", owner.settings, text=text, hardware=hardware, limit=limit,
                        kind=kind.value if kind else None, detail=detail)

    return [diagnose_log]
