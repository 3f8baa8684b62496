"""Tools: ask (a question answered by the local model, streamed as progress) and engine_status."""

import functools
from collections.abc import Callable
from typing import Annotated, Any

from mcp.server.mcpserver import Context
from pydantic import Field

from ..app import App
from . import READ_ONLY, DetailArg, tool

__all__ = ["PROBE_OVERRIDE", "tools"]

PROBE_OVERRIDE: dict[str, Any] = {}
"""Keyword arguments for resolve (ports, host, probe_timeout_s); empty in the server, set by tests that need a
probe of ports nothing listens on."""


def tools(app: App) -> list[Callable[..., Any]]:
    from ..reasoning.ask import AskResult
    from ..reasoning.status import EngineStatus

    # ask records one row in the call log but changes nothing the user owns: read-only to the client.
    @tool(title="Ask the local model about a run", annotations=READ_ONLY)
    async def ask(
        ctx: Context,
        question: Annotated[str, Field(description="e.g. 'why did stage 12 fail and what should I change?'")],
        log_path: Annotated[str | None, Field(description="A Spark or Airflow log under the allowed roots.")] = None,
        event_log_path: Annotated[str | None, Field(description="A Spark event log under the allowed roots.")] = None,
        plan: Annotated[str | None, Field(description="A query plan's text (EXPLAIN output).")] = None,
        config: Annotated[str | None, Field(description="spark-defaults.conf text or a spark-submit command.")] = None,
        hardware: Annotated[bool, Field(description="Include this machine's hardware.")] = True,
        max_tokens: Annotated[int, Field(ge=1, le=32768, description="Most tokens in the answer.")] = 512,
        detail: DetailArg = "summary",
    ) -> AskResult:
        """Answer a question with the local model (nothing leaves the machine) from the findings of the other tools
        on the given log, event log, plan and config, redacted first and each cited by id ([F1], [E1], ...). With no
        engine running, or one that fails, returns the context instead for you to reason on, and how to start one."""
        import anyio
        import anyio.from_thread
        import anyio.to_thread

        from ..reasoning.ask import ask as run_ask
        from ..reasoning.ask import summarize_answer

        count = 0

        def on_token(text: str) -> None:
            nonlocal count
            count += 1
            try:
                anyio.from_thread.run(ctx.report_progress, count, None, text)
            except Exception:  # a client gone away must not fail the answer
                pass

        result = await anyio.to_thread.run_sync(functools.partial(
            run_ask, question, app.settings, log=log_path, event_log=event_log_path, plan=plan, config=config,
            hardware=hardware, max_tokens=max_tokens, on_token=on_token, resolve_kwargs=dict(PROBE_OVERRIDE)))
        return result if detail == "full" else summarize_answer(result)

    @tool(title="Local model engine status", annotations=READ_ONLY)
    def engine_status() -> EngineStatus:
        """Which local model ask would use: kind, endpoint, model, quantization, context length, the ports probed and
        what each answered, and recent latency."""
        from ..reasoning.status import engine_status as status

        return status(app.settings, **PROBE_OVERRIDE)

    return [ask, engine_status]
