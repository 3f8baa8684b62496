"""ask: a free-form question answered by the local model from the structured, redacted context.

With no engine reachable ask still succeeds and returns the context, so the calling agent can reason on its own.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import BaseModel, Field

from ..errors import BadInputError
from .context import DEFAULT_BUDGET_TOKENS, ContextBlock, build_blocks, fit_blocks
from .redact import redact

__all__ = ["AskResult", "Citation", "ask", "SYSTEM_PROMPT", "START_COMMANDS"]

SYSTEM_PROMPT = (
    "You are a Spark and GPU performance assistant. Answer ONLY from the context blocks below. Every claim must cite "
    "the id of the block it relies on in square brackets, e.g. [F1] or [E2]. If the context does not answer the "
    "question, say so plainly instead of guessing."
)

START_COMMANDS = [
    "trtllm-serve <model-dir-or-hf-name> --host 127.0.0.1 --port 8000   # TensorRT-LLM, OpenAI-compatible /v1",
    "ollama serve &  ollama pull mistral   # Ollama on port 11434",
    "export DGX_SPARK_MCP_ENGINE_URL=http://127.0.0.1:8000/v1   # or leave 'auto' to probe 8000, 11434, 8080, 30000, 1234",
    "export DGX_SPARK_MCP_ENGINE_MODEL=<served model name or local checkpoint directory>",
]

_CITE = re.compile(r"\[([FEPCTH]\d+)\]")
_PROMPT_OVERHEAD_TOKENS = 64  # chat-template markers and separators, for the estimate path


class Citation(BaseModel):
    id: str
    source: str
    file: str | None
    line_numbers: list[int]
    rule_id: str | None
    title: str


class EngineDescription(BaseModel):
    kind: str
    endpoint: str | None
    model: str
    quantization: str | None
    context_length: int | None


class AskStats(BaseModel):
    ttft_s: float | None
    seconds: float | None
    completion_tokens: int | None
    tokens_per_s: float | None


class AskResult(BaseModel):
    question: str
    answer: str | None = Field(description="The model's answer; null when no engine is running.")
    citations: list[Citation] = Field(description="The [F1]-style ids the answer cites, mapped to their evidence.")
    context: list[ContextBlock] = Field(description="The blocks given (or, with no engine, that would be given).")
    dropped: list[ContextBlock] = Field(description="Blocks that did not fit the token budget.")
    prompt_tokens: int
    prompt_tokens_method: str = Field(description="tokenizer (engine's chat template and tokenizer), server or estimate "
                                      "(about 4 characters per token).")
    budget_tokens: int
    engine: EngineDescription | None
    stats: AskStats | None
    redactions: dict[str, int] = Field(description="Secrets replaced before anything reached the model, by kind.")
    notes: list[str]
    start_commands: list[str] = Field(default_factory=list, description="How to start a local engine, when none ran.")


def _messages(question: str, blocks: Sequence[ContextBlock]) -> list[dict[str, str]]:
    context = "\n\n".join(b.text for b in blocks) or "(no context)"
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": f"Context:\n{context}\n\nQuestion: {question}"},
    ]


def ask(
    question: str,
    settings: Any,
    *,
    log: str | None = None,
    event_log: str | None = None,
    plan: str | None = None,
    config: str | None = None,
    hardware: bool = True,
    telemetry: bool | None = None,
    max_tokens: int = 512,
    on_token: Callable[[str], None] | None = None,
    engine: Any = None,
    resolve_kwargs: dict[str, Any] | None = None,
) -> AskResult:
    from .calls import record_call
    from .engines.base import estimate_tokens
    from .engines.resolve import resolve_engine

    if not question or not question.strip():
        raise BadInputError("question is empty; pass the question to answer, e.g. 'why did stage 12 fail?'")
    if not 1 <= max_tokens <= 32768:
        raise BadInputError(f"max_tokens is {max_tokens}; expected 1..32768 tokens for the answer")
    notes: list[str] = []
    if engine is None:
        engine = resolve_engine(settings, **(resolve_kwargs or {}))
    if telemetry is None:  # only when the question is about the GPUs: the window costs tokens
        telemetry = bool(re.search(r"\b(gpu|gpus|utili[sz]ation|telemetry|power|temperature|memory)\b", question, re.I))
    blocks, build_notes = build_blocks(settings, log=log, event_log=event_log, plan=plan, config=config,
                                       hardware=hardware, telemetry=telemetry)
    notes += build_notes
    safe_question = redact(question)
    if engine is not None:
        count, method = engine.count_tokens, getattr(engine, "token_count_method", "tokenizer")
        window = engine.context_length or DEFAULT_BUDGET_TOKENS + max_tokens
    else:
        count, method = estimate_tokens, "estimate"
        window = DEFAULT_BUDGET_TOKENS + max_tokens
    frame = _messages(safe_question.text, [])
    frame_tokens = (count(engine.render_prompt(frame)) if engine is not None else estimate_tokens(
        frame[0]["content"] + frame[1]["content"]) + _PROMPT_OVERHEAD_TOKENS)
    # Each block also costs its separator; 2 tokens each is a safe margin over "\n\n".
    budget = max(0, window - max_tokens - frame_tokens)
    assembled = fit_blocks(blocks, safe_question.text, budget, lambda t: count(t) + 2)
    redactions = dict(assembled.redactions)
    for k, n in safe_question.counts.items():
        redactions[k] = redactions.get(k, 0) + n
    messages = _messages(safe_question.text, assembled.blocks)
    if assembled.dropped:
        notes.append(f"{len(assembled.dropped)} block(s) did not fit the {budget}-token budget and were left out.")
    if engine is None:
        prompt_tokens = estimate_tokens(messages[0]["content"] + messages[1]["content"]) + _PROMPT_OVERHEAD_TOKENS
        notes.append("No local engine is running, so there is no answer: the context and findings below are what the "
                     "model would have been given. Start one with the commands in start_commands, or reason from the "
                     "context yourself.")
        return AskResult(question=safe_question.text, answer=None, citations=[], context=assembled.blocks,
                         dropped=assembled.dropped, prompt_tokens=prompt_tokens, prompt_tokens_method=method,
                         budget_tokens=budget, engine=None, stats=None, redactions=redactions, notes=notes,
                         start_commands=START_COMMANDS)
    prompt_tokens = count(engine.render_prompt(messages))
    stats = None
    try:
        answer, stats = engine.generate(messages, max_tokens=max_tokens, temperature=0.0, on_token=on_token)
    except Exception as exc:
        record_call(settings, engine, getattr(exc, "partial_stats", None), exc)
        raise
    record_call(settings, engine, stats, None)
    by_id = {b.id: b for b in assembled.blocks}
    cited: list[Citation] = []
    for cid in dict.fromkeys(_CITE.findall(answer)):
        if cid in by_id:
            b = by_id[cid]
            cited.append(Citation(id=b.id, source=b.source, file=b.file, line_numbers=b.line_numbers,
                                  rule_id=b.rule_id, title=b.title))
        else:
            notes.append(f"The answer cites [{cid}], which is not in the context: treat that claim as unsupported.")
    return AskResult(
        question=safe_question.text, answer=answer, citations=cited, context=assembled.blocks,
        dropped=assembled.dropped, prompt_tokens=prompt_tokens, prompt_tokens_method=method, budget_tokens=budget,
        engine=EngineDescription(kind=engine.kind, endpoint=engine.endpoint, model=engine.model,
                                 quantization=engine.quantization, context_length=engine.context_length),
        stats=AskStats(ttft_s=stats.ttft_s, seconds=stats.seconds, completion_tokens=stats.completion_tokens,
                       tokens_per_s=stats.tokens_per_s),
        redactions=redactions, notes=notes,
    )
