"""Tools: ask (a question answered by the local model, streamed as progress) and engine_status."""

import functools
from typing import Annotated, Any

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from pydantic import Field

from ..app import App
from . import READ_ONLY, agent_errors, agent_errors_async

__all__ = ["register", "PROBE_OVERRIDE"]

PROBE_OVERRIDE: dict[str, Any] = {}
"""Keyword arguments for resolve (ports, host, probe_timeout_s); empty in the server, set by tests that need a
probe of ports nothing listens on."""


def register(mcp: MCPServer, app: App) -> None:
    from ..reasoning.ask import AskResult
    from ..reasoning.status import EngineStatus

    # ask records one row in the call log but changes nothing the user owns: read-only to the client.
    @mcp.tool(title="Ask the local model about a run", annotations=READ_ONLY)
    @agent_errors_async
    async def ask(
        ctx: Context,
        question: Annotated[str, Field(description="The question, e.g. 'why did stage 12 fail and what should I change?'")],
        log_path: Annotated[str | None, Field(description="A Spark driver/executor/YARN log under the allowed roots.")] = None,
        event_log_path: Annotated[str | None, Field(description="A Spark event log under the allowed roots.")] = None,
        plan: Annotated[str | None, Field(description="The text of a query plan (EXPLAIN output).")] = None,
        config: Annotated[str | None, Field(description="spark-defaults.conf text or a spark-submit command.")] = None,
        hardware: Annotated[bool, Field(description="Include this machine's hardware snapshot.")] = True,
        max_tokens: Annotated[int, Field(ge=1, le=32768, description="Most tokens in the answer.")] = 512,
    ) -> AskResult:
        """Answer a free-form question with the local model (TensorRT-LLM, an OpenAI-compatible server such as
        trtllm-serve, vLLM or Ollama, or transformers): nothing leaves the machine. The prompt holds structured
        results, not raw logs: diagnosis findings of log_path, the event-log analysis, plan findings, config checks,
        a GPU telemetry window when the question is about GPUs, and the hardware snapshot; each as a block with a
        citation id ([F1] log, [E1] event log, [P1] plan, [C1] config, [T1] telemetry, [H1] hardware) and its file
        and line numbers, the most relevant first, within a token budget counted with the model's tokenizer. Secrets
        and personal data are redacted first (counts returned). Tokens stream as progress notifications. Returns the
        answer, the citations it used mapped to evidence, the context and dropped blocks, prompt tokens, engine and
        speed. With no engine running, or one that fails (refused, timed out after DGX_SPARK_MCP_ENGINE_TIMEOUT_S, died
        mid-answer): answer null, engine_error saying what failed, any text produced before the failure in
        partial_answer, the context, and the commands to start one (not an error). Ids the answer cites that are not
        in the context are listed in unknown_citations."""
        import anyio
        import anyio.from_thread
        import anyio.to_thread

        from ..reasoning.ask import ask as run_ask

        count = 0

        def on_token(text: str) -> None:
            nonlocal count
            count += 1
            try:
                anyio.from_thread.run(ctx.report_progress, count, None, text)
            except Exception:  # a client gone away must not fail the answer
                pass

        return await anyio.to_thread.run_sync(functools.partial(
            run_ask, question, app.settings, log=log_path, event_log=event_log_path, plan=plan, config=config,
            hardware=hardware, max_tokens=max_tokens, on_token=on_token, resolve_kwargs=dict(PROBE_OVERRIDE)))

    @mcp.tool(title="Local model engine status", annotations=READ_ONLY)
    @agent_errors
    def engine_status() -> EngineStatus:
        """Which local model ask would use: kind (http, transformers, trtllm), endpoint, model, quantization, context
        length and token counting, how it was found (the ports probed and what each answered, useful when none is
        reachable), and recent latency from the call log (median time to first token, tokens/s, failures)."""
        from ..reasoning.status import engine_status as status

        return status(app.settings, **PROBE_OVERRIDE)
