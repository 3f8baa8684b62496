"""The context ask gives the model: structured analysis results as short, citable, redacted blocks in a token budget.

Raw logs never go to the model: each input goes through the analysis the other tools use (diagnosis, event-log
analysis, plan analysis, config check), and each finding becomes one block with a citation id ([F1], [E2], ...) and
its source file and line numbers, so that the answer can be checked against the evidence.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, Field

from .redact import redact

__all__ = ["ContextBlock", "AssembledContext", "build_blocks", "fit_blocks", "DEFAULT_BUDGET_TOKENS", "question_words"]

DEFAULT_BUDGET_TOKENS = 6000
"""Prompt budget when the engine does not report its context length (or there is no engine)."""

_SEVERITY_RANK = {"critical": 4, "error": 3, "high": 3, "warning": 2, "medium": 2, "info": 1, "low": 1}
_MAX_EVIDENCE_LINES = 4
_MAX_LINE_CHARS = 240
_WORD = re.compile(r"[a-z0-9_.]{3,}")
_STOP = {"the", "and", "why", "what", "did", "does", "how", "should", "for", "with", "this", "that", "was", "are"}


class ContextBlock(BaseModel):
    id: str = Field(description="Citation id the answer uses, e.g. F1 (log finding), E1 (event log), P1 (plan), "
                    "C1 (config), T1 (telemetry), H1 (hardware).")
    source: str = Field(description="log, event_log, plan, config, telemetry or hardware.")
    file: str | None = Field(default=None, description="The file the evidence came from, if any.")
    line_numbers: list[int] = Field(default_factory=list, description="Lines in that file the evidence cites.")
    severity: str | None = None
    rule_id: str | None = None
    title: str = ""
    text: str = Field(description="The block as the model sees it (already redacted).")
    tokens: int | None = Field(default=None, description="Tokens of text, counted as prompt_tokens_method says.")
    relevance: float | None = Field(default=None, description="Severity rank plus question words shared; higher first.")


class AssembledContext(BaseModel):
    blocks: list[ContextBlock]
    dropped: list[ContextBlock]
    budget_tokens: int
    redactions: dict[str, int]
    notes: list[str] = Field(default_factory=list)


def question_words(question: str) -> set[str]:
    return {w for w in _WORD.findall(question.lower()) if w not in _STOP}


def _clip(line: str) -> str:
    line = line.rstrip()
    return line if len(line) <= _MAX_LINE_CHARS else line[: _MAX_LINE_CHARS - 1] + "…"


def _diagnosis_blocks(result: Any, prefix: str, source: str) -> list[ContextBlock]:
    blocks = []
    for i, f in enumerate(result.findings, 1):
        parts = [f"[{prefix}{i}] {f.severity.upper()} {f.rule_id} ({f.category}): {f.title}", f"Root cause: {f.root_cause}"]
        file = None
        numbers: list[int] = []
        for ev in f.evidence[:2]:
            file = file or ev.file
            for n, line in list(zip(ev.line_numbers, ev.lines, strict=False))[:_MAX_EVIDENCE_LINES]:
                numbers.append(n)
                parts.append(f"  {ev.file or 'pasted'}:{n}: {_clip(line)}")
            if ev.occurrences and ev.occurrences > 1:
                parts.append(f"  ({ev.occurrences} occurrences, lines {ev.first_line}-{ev.last_line})")
        if f.fix is not None:
            parts.append(f"Fix: {f.fix.summary}")
            for ch in f.fix.changes[:4]:
                value = ch.recommended_value if ch.recommended_value is not None else "(remove)"
                parts.append(f"  set {ch.key}={value}: {ch.reason}")
        blocks.append(ContextBlock(id=f"{prefix}{i}", source=source, file=file, line_numbers=numbers,
                                   severity=f.severity, rule_id=f.rule_id, title=f.title, text="\n".join(parts)))
    return blocks


def _eventlog_blocks(result: Any, path: str) -> list[ContextBlock]:
    blocks = []
    n = 0
    app = result.app
    totals = result.totals
    n += 1
    summary = f"[E{n}] Application {getattr(app, 'name', None) or getattr(app, 'app_id', '')}: " + _short_json(totals)
    blocks.append(ContextBlock(id=f"E{n}", source="event_log", file=path, severity="info", title="application summary",
                               text=summary))
    for f in result.findings:
        n += 1
        blocks.append(ContextBlock(id=f"E{n}", source="event_log", file=path, severity=f.severity, rule_id=f.rule_id,
                                   title=f.message[:80], text=f"[E{n}] {f.severity.upper()} {f.rule_id} ({f.category}): {f.message}"))
    for rec in result.recommendations[:8]:
        n += 1
        blocks.append(ContextBlock(id=f"E{n}", source="event_log", file=path, severity="info", title="recommendation",
                                   text=f"[E{n}] Recommended: {_short_json(rec)}"))
    return blocks


def _config_blocks(result: Any, file: str | None) -> list[ContextBlock]:
    blocks = []
    for i, f in enumerate(result.findings, 1):
        fix = f" Fix: {_short_json(f.fix, 300)}" if getattr(f, "fix", None) else ""
        keys = ", ".join(k.key if k.value is None else f"{k.key}={k.value}" for k in f.keys)
        lines = sorted({n for k in f.keys for n in [getattr(k, "line", None)] if isinstance(n, int)})
        blocks.append(ContextBlock(id=f"C{i}", source="config", file=file, line_numbers=lines, severity=f.severity,
                                   rule_id=f.rule_id, title=f.title,
                                   text=f"[C{i}] {f.severity.upper()} {f.rule_id} ({keys}): {f.title}. {f.message}{fix}"))
    return blocks


def _short_json(value: Any, limit: int = 600) -> str:
    data = value.model_dump(mode="json", exclude_none=True) if hasattr(value, "model_dump") else value
    text = json.dumps(data, separators=(",", ":"), default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _is_path(value: str) -> bool:
    """A one-line value naming an existing file is a path; anything else is the text itself."""
    from pathlib import Path

    if "\n" in value or "\x00" in value or len(value) >= 4096:
        return False
    try:
        return Path(value).expanduser().is_file()
    except (OSError, RuntimeError):  # a name too long for the file system, ~ for an unknown user: text, not a path
        return False


def build_blocks(
    settings: Any,
    *,
    log: str | None = None,
    event_log: str | None = None,
    plan: str | None = None,
    config: str | None = None,
    hardware: bool = True,
    telemetry: bool = False,
) -> tuple[list[ContextBlock], list[str]]:
    """Run each given input's analysis and turn its findings into blocks (not yet redacted or budgeted)."""
    blocks: list[ContextBlock] = []
    notes: list[str] = []
    if log is not None:
        from ..diagnosis.logs.diagnose import diagnose_log

        blocks += _diagnosis_blocks(diagnose_log(log, settings), "F", "log")
    if event_log is not None:
        from ..diagnosis.eventlogs.run_history import analyze_and_remember

        blocks += _eventlog_blocks(analyze_and_remember(event_log, settings), event_log)
    if plan is not None:
        from ..diagnosis.plans.analysis import analyze_query_plan

        # A file (the CLI's --plan) is read through the allowed-roots check of the analysis itself.
        result = (analyze_query_plan(None, settings, path=plan) if _is_path(plan)
                  else analyze_query_plan(plan, settings))
        blocks += _diagnosis_blocks(result, "P", "plan")
    if config is not None:
        from ..optimizers.config_sources import ConfigFormat
        from ..tools.checker import run_check

        as_path = _is_path(config)
        checked = run_check(settings, None if as_path else config, config if as_path else None, ConfigFormat.AUTO,
                            None, None, None)
        blocks += _config_blocks(checked, config if as_path else None)
    if telemetry:
        try:
            from ..telemetry.report import telemetry_report

            blocks.append(ContextBlock(id="T1", source="telemetry", severity="info", title="GPU telemetry window",
                                       text="[T1] GPU telemetry: " + _short_json(telemetry_report(settings), 1500)))
        except Exception as exc:  # no telemetry stored is normal; the answer just lacks it
            notes.append(f"telemetry left out: {exc}")
    if hardware:
        from ..hardware import snapshot_for

        blocks.append(ContextBlock(id="H1", source="hardware", severity="info", title="hardware snapshot",
                                   text="[H1] Hardware: " + _short_json(snapshot_for(None), 1200)))
    return blocks, notes


def fit_blocks(
    blocks: list[ContextBlock], question: str, budget_tokens: int, count: Callable[[str], int]
) -> AssembledContext:
    """Redact every block, rank by severity then shared question words, keep what fits ``budget_tokens``."""
    words = question_words(question)
    totals: dict[str, int] = {}
    for b in blocks:
        red = redact(b.text)
        b.text = red.text
        if b.file:  # a home path names its user
            b.file = redact(b.file).text
        for kind, n in red.counts.items():
            totals[kind] = totals.get(kind, 0) + n
        b.tokens = count(b.text)
        shared = len(words & set(_WORD.findall(b.text.lower())))
        b.relevance = _SEVERITY_RANK.get((b.severity or "").lower(), 0) + shared / 100
    # The hardware block is small and nearly always relevant to a sizing question: it keeps its place by severity.
    ranked = sorted(blocks, key=lambda b: -(b.relevance or 0.0))
    kept, dropped, used = [], [], 0
    for b in ranked:
        if used + (b.tokens or 0) <= budget_tokens:
            kept.append(b)
            used += b.tokens or 0
        else:
            dropped.append(b)
    return AssembledContext(blocks=kept, dropped=dropped, budget_tokens=budget_tokens, redactions=totals)
