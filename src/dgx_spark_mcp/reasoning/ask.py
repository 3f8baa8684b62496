"""ask: a free-form question answered by the local model from the structured, redacted context.

ask never fails because of the engine: with none reachable, or one that refuses the connection, times out or dies
mid-answer, it returns the context (and any partial text, labelled as such) with a note saying what happened, so the
calling agent can reason on its own.  Only a wrong request (an empty question, a file outside the allowed roots, a
misconfigured engine setting) is an error.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field

from ..errors import BadInputError, CouldNotDoError
from .context import DEFAULT_BUDGET_TOKENS, AssembledContext, ContextBlock, build_blocks, fit_blocks
from .redact import redact

__all__ = ["AskResult", "Citation", "PreparedPrompt", "SYSTEM_PROMPT", "START_COMMANDS", "ask", "prepare_prompt",
           "summarize_answer"]

logger = logging.getLogger(__name__)  # not `log`: that is ask's log-file argument

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

_CITE = re.compile(r"\[([A-Z]\d+)\]")
"""A citation as the model writes it: one capital letter and a number. Any letter, so that an id the context
never had ([Z3]) is reported as unknown rather than silently not seen."""


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
    answer: str | None = Field(description="The model's answer; null when no engine ran or the engine failed.")
    partial_answer: str | None = Field(
        default=None,
        description="Text the engine produced before it failed mid-answer: incomplete and unchecked, kept so that "
        "nothing already generated is lost. Null unless the engine died or timed out while answering.",
    )
    engine_error: str | None = Field(
        default=None, description="What went wrong with the engine (unreachable, timed out, died mid-answer), if anything."
    )
    citations: list[Citation] = Field(description="The [F1]-style ids the answer (or partial answer) cites, mapped to "
                                      "their evidence.")
    unknown_citations: list[str] = Field(
        default_factory=list, description="Ids the answer cites that are not in the context: unsupported claims."
    )
    context: list[ContextBlock] = Field(default_factory=list, description="The blocks given (or, with no engine, that "
                                        "would be given); in the summary only with no answer, as id, file and text.")
    dropped: list[ContextBlock] = Field(default_factory=list, description="Blocks that did not fit the token budget "
                                        "(detail='full').")
    prompt_tokens: int = Field(description="Tokens of the whole prompt as sent: system prompt, context, question and "
                               "the chat template.")
    prompt_tokens_method: str = Field(description="tokenizer (the served model's tokenizer and chat template), server "
                                      "(the engine's /tokenize) or estimate (about 4 characters per token).")
    budget_tokens: int
    engine: EngineDescription | None
    stats: AskStats | None
    redactions: dict[str, int] = Field(description="Secrets replaced before anything reached the model, by kind.")
    notes: list[str]
    start_commands: list[str] = Field(default_factory=list, description="How to start a local engine, when none answered.")
    more: str | None = Field(default=None, description="What the summary left out, and how to get it.")


SUMMARY_CONTEXT_TOKENS = 1_200
"""With no answer, the summary hands the agent the most relevant context blocks up to this many tokens."""


def summarize_answer(result: AskResult) -> AskResult:
    """The answer with its citations; with no answer, the most relevant context as id, file and text (the rest, the
    dropped blocks and each block's ranking on request)."""
    shown: list[ContextBlock] = []
    if result.answer is None:
        used = 0
        for block in result.context:
            if shown and used + (block.tokens or 0) > SUMMARY_CONTEXT_TOKENS:
                break
            used += block.tokens or 0
            shown.append(ContextBlock(id=block.id, source=block.source, file=block.file,
                                      line_numbers=block.line_numbers, text=block.text))
    left = len(result.context) - len(shown)
    more = None
    if left or result.dropped:
        parts = [f"{left} more context block(s)" if left else "", f"{len(result.dropped)} dropped" if result.dropped else ""]
        more = "detail='full' adds " + " and ".join(p for p in parts if p) + ", with each block's severity and ranking"
    return result.model_copy(update={"context": shown, "dropped": [], "more": more})


@dataclass
class PreparedPrompt:
    """The prompt ask sends: the messages, the blocks kept and dropped, and its size counted as it will be sent."""

    question: str
    messages: list[dict[str, str]]
    assembled: AssembledContext
    budget_tokens: int
    prompt_tokens: int
    method: str
    redactions: dict[str, int]
    notes: list[str] = field(default_factory=list)


def _messages(question: str, blocks: Sequence[ContextBlock]) -> list[dict[str, str]]:
    context = "\n\n".join(b.text for b in blocks) or "(no context)"
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": f"Context:\n{context}\n\nQuestion: {question}"},
    ]


def prepare_prompt(
    question: str,
    settings: Any,
    engine: Any,
    *,
    log: str | None = None,
    event_log: str | None = None,
    plan: str | None = None,
    config: str | None = None,
    hardware: bool = True,
    telemetry: bool = False,
    max_tokens: int = 512,
) -> PreparedPrompt:
    """Build, redact and budget the context, and count the whole prompt with ``engine`` (an estimate without one)."""
    from .engines.base import estimate_prompt_tokens, estimate_tokens

    blocks, notes = build_blocks(settings, log=log, event_log=event_log, plan=plan, config=config,
                                 hardware=hardware, telemetry=telemetry)
    safe_question = redact(question)
    if engine is not None:
        count: Callable[[str], int] = engine.count_tokens
        count_prompt: Callable[[list[dict[str, str]]], int] = engine.count_prompt_tokens
        window = engine.context_length or DEFAULT_BUDGET_TOKENS + max_tokens
    else:
        count, count_prompt = estimate_tokens, estimate_prompt_tokens
        window = DEFAULT_BUDGET_TOKENS + max_tokens
    # The frame (system prompt, question, template) is counted as sent; each block also costs its separator, and 2
    # tokens each is a safe margin over "\n\n".
    frame_tokens = count_prompt(_messages(safe_question.text, []))
    budget = max(0, window - max_tokens - frame_tokens)
    assembled = fit_blocks(blocks, safe_question.text, budget, lambda t: count(t) + 2)
    redactions = dict(assembled.redactions)
    for kind, n in safe_question.counts.items():
        redactions[kind] = redactions.get(kind, 0) + n
    if assembled.dropped:
        notes.append(f"{len(assembled.dropped)} block(s) did not fit the {budget}-token budget and were left out.")
    messages = _messages(safe_question.text, assembled.blocks)
    # Counted after the count calls above: an HTTP engine learns on its first count whether its server can count.
    method = getattr(engine, "token_count_method", "tokenizer") if engine is not None else "estimate"
    return PreparedPrompt(question=safe_question.text, messages=messages, assembled=assembled, budget_tokens=budget,
                          prompt_tokens=count_prompt(messages), method=method, redactions=redactions, notes=notes)


def _citations(text: str, blocks: Sequence[ContextBlock]) -> tuple[list[Citation], list[str]]:
    by_id = {b.id: b for b in blocks}
    cited: list[Citation] = []
    unknown: list[str] = []
    for cid in dict.fromkeys(_CITE.findall(text)):
        b = by_id.get(cid)
        if b is None:
            unknown.append(cid)
        else:
            cited.append(Citation(id=b.id, source=b.source, file=b.file, line_numbers=b.line_numbers,
                                  rule_id=b.rule_id, title=b.title))
    return cited, unknown


def _describe(engine: Any) -> EngineDescription:
    return EngineDescription(kind=engine.kind, endpoint=engine.endpoint, model=engine.model,
                             quantization=engine.quantization, context_length=engine.context_length)


def _stats(stats: Any) -> AskStats | None:
    if stats is None:
        return None
    return AskStats(ttft_s=stats.ttft_s, seconds=stats.seconds, completion_tokens=stats.completion_tokens,
                    tokens_per_s=stats.tokens_per_s)


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
    from .engines.resolve import resolve_engine

    if not question or not question.strip():
        raise BadInputError("question is empty; pass the question to answer, e.g. 'why did stage 12 fail?'")
    if not 1 <= max_tokens <= 32768:
        raise BadInputError(f"max_tokens is {max_tokens}; expected 1..32768 tokens for the answer")
    engine_error: str | None = None
    if engine is None:
        try:
            engine = resolve_engine(settings, **(resolve_kwargs or {}))
        except CouldNotDoError as exc:  # found, but it would not load or answer: the same as none
            engine_error = f"the engine could not be set up: {exc}"
    if telemetry is None:  # only when the question is about the GPUs: the window costs tokens
        telemetry = bool(re.search(r"\b(gpu|gpus|utili[sz]ation|telemetry|power|temperature|memory)\b", question, re.I))
    prepared = prepare_prompt(question, settings, engine, log=log, event_log=event_log, plan=plan, config=config,
                              hardware=hardware, telemetry=telemetry, max_tokens=max_tokens)
    notes = list(prepared.notes)

    def without_answer(partial: str | None = None, stats: Any = None) -> AskResult:
        cited, unknown = _citations(partial or "", prepared.assembled.blocks)
        return AskResult(question=prepared.question, answer=None, partial_answer=partial or None,
                         engine_error=engine_error, citations=cited, unknown_citations=unknown,
                         context=prepared.assembled.blocks, dropped=prepared.assembled.dropped,
                         prompt_tokens=prepared.prompt_tokens, prompt_tokens_method=prepared.method,
                         budget_tokens=prepared.budget_tokens, engine=None if engine is None else _describe(engine),
                         stats=_stats(stats), redactions=prepared.redactions, notes=notes, start_commands=START_COMMANDS)

    if engine is None:
        if engine_error:
            notes.append(f"No local engine answered ({engine_error}): the context and findings below are what the "
                         "model would have been given. Reason from them yourself, or fix the engine (engine_status).")
        else:
            notes.append("No local engine is running, so there is no answer: the context and findings below are what "
                         "the model would have been given. Start one with the commands in start_commands, or reason "
                         "from the context yourself.")
        return without_answer()
    window = engine.context_length
    if window and prepared.prompt_tokens + max_tokens > window and window - prepared.prompt_tokens >= 1:
        # The question and template alone leave less than max_tokens: answer in what is left rather than overflow.
        notes.append(f"max_tokens lowered from {max_tokens} to {window - prepared.prompt_tokens}: the prompt takes "
                     f"{prepared.prompt_tokens} of the model's {window}-token window.")
        max_tokens = window - prepared.prompt_tokens
    timeout_s = float(getattr(settings, "engine_timeout_s", 120.0) or 120.0)
    try:
        answer, stats = engine.generate(prepared.messages, max_tokens=max_tokens, temperature=0.0, on_token=on_token,
                                        timeout_s=timeout_s)
    except Exception as exc:  # noqa: BLE001 - whatever the engine did, the agent still gets the context
        logger.warning("the %s engine failed: %s", engine.kind, exc, exc_info=not isinstance(exc, CouldNotDoError))
        record_call(settings, engine, getattr(exc, "partial_stats", None), exc)
        partial = getattr(exc, "partial_text", "") or ""
        where = engine.endpoint or engine.model
        engine_error = f"{type(exc).__name__}: {exc}"
        notes.append(f"The {engine.kind} engine ({where}) failed, so there is no answer: {exc}. The context below is "
                     "what the model was given; reason from it, or check the engine (engine_status).")
        if partial:
            notes.append(f"The engine stopped mid-answer after {len(partial)} characters; that text is in "
                         "partial_answer, incomplete and unchecked.")
        return without_answer(partial, getattr(exc, "partial_stats", None))
    record_call(settings, engine, stats, None)
    cited, unknown = _citations(answer, prepared.assembled.blocks)
    notes += [f"The answer cites [{cid}], which is not in the context: treat that claim as unsupported."
              for cid in unknown]
    return AskResult(
        question=prepared.question, answer=answer, citations=cited, unknown_citations=unknown,
        context=prepared.assembled.blocks, dropped=prepared.assembled.dropped, prompt_tokens=prepared.prompt_tokens,
        prompt_tokens_method=prepared.method, budget_tokens=prepared.budget_tokens, engine=_describe(engine),
        stats=_stats(stats), redactions=prepared.redactions, notes=notes,
    )
