"""Plain-text views of ask and engine_status for the CLI (``--json`` prints the tool output instead)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .ask import AskResult
    from .status import EngineStatus

__all__ = ["render_answer", "render_engine_status"]


def render_answer(r: AskResult, streamed: bool = False) -> str:
    lines: list[str] = []
    if r.answer is not None and not streamed:
        lines.append(r.answer.strip())
    if r.answer is None:
        if r.partial_answer and not streamed:
            lines.append("Partial answer (the engine stopped mid-answer; incomplete and unchecked):")
            lines.append(r.partial_answer.strip())
        if r.engine_error:
            lines.append(f"The {r.engine.kind if r.engine else 'local'} engine failed: {r.engine_error}")
        lines.append("No local engine answered; the context an agent (or you) can reason from:")
        lines += [f"  [{b.id}] {b.title or b.text.removeprefix(f'[{b.id}] ').split(chr(10))[0][:160]}" for b in r.context]
        lines += [f"  start one: {c}" for c in r.start_commands]
    if r.citations:
        lines.append("Cited:")
        lines += [f"  [{c.id}] {c.title}" + (f" ({c.file}:{','.join(map(str, c.line_numbers))})" if c.file else "")
                  for c in r.citations]
    if r.unknown_citations:
        lines.append("Cited but not in the context (unsupported): " + ", ".join(f"[{c}]" for c in r.unknown_citations))
    if r.engine is not None and r.stats is not None:
        speed = f", {r.stats.tokens_per_s:.1f} tok/s" if r.stats.tokens_per_s else ""
        ttft = f", first token {r.stats.ttft_s:.2f} s" if r.stats.ttft_s is not None else ""
        lines.append(f"({r.engine.kind} {r.engine.model}; prompt {r.prompt_tokens} tokens{ttft}{speed})")
    if r.redactions:
        lines.append("Redacted before the model saw it: " + ", ".join(f"{k} x{n}" for k, n in r.redactions.items()))
    lines += [f"note: {n}" for n in r.notes]
    return "\n".join(lines)


def render_engine_status(s: EngineStatus) -> str:
    if s.engine is None:
        lines = [f"no local engine reachable: {s.probe.reason}"]
        lines += [f"  {p.url} ({p.server}): {p.detail}" for p in s.probe.probes]
    else:
        e = s.engine
        lines = [f"{e.kind} engine: {e.model}" + (f" at {e.endpoint}" if e.endpoint else "")
                 + (f", {e.quantization}" if e.quantization else "")
                 + (f", context {e.context_length} tokens" if e.context_length else "")
                 + f"; prompts counted by {e.token_count_method}"]
        lines += [f"  note: {n}" for n in e.notes]
    lat = s.latency
    if lat.calls:
        ttft = f", median first token {lat.median_ttft_s:.2f} s" if lat.median_ttft_s is not None else ""
        speed = f", median {lat.median_tokens_per_s:.1f} tok/s" if lat.median_tokens_per_s is not None else ""
        lines.append(f"recent calls: {lat.calls} ({lat.failures} failed){ttft}{speed}")
    else:
        lines.append("no calls logged yet")
    return "\n".join(lines)
