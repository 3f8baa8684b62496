"""A log of local-LLM calls in the DuckDB store, so engine_status can say how fast answers have been.

One row per generation (ok or failed) in ``llm_calls``; its time column is ``"at"``, quoted in
SQL because AT is a reserved word in DuckDB 2.  Logging never breaks an answer: a store
that cannot be written (locked for too long, read-only) is logged and skipped.
"""

from __future__ import annotations

import logging
import statistics
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field

from ..errors import CouldNotDoError
from ..store import Migration, connect, utc_naive
from .engines.base import Engine, GenerationStats

__all__ = ["MIGRATIONS", "LatencySummary", "record_call", "recent_latency"]

log = logging.getLogger(__name__)

MIGRATIONS = (
    Migration(
        id="reasoning_001_llm_calls",
        statements=(
            "CREATE TABLE IF NOT EXISTS llm_calls (\"at\" TIMESTAMP NOT NULL, kind VARCHAR NOT NULL, endpoint VARCHAR, "
            "model VARCHAR, quantization VARCHAR, prompt_tokens INTEGER, completion_tokens INTEGER, ttft_s DOUBLE, "
            "seconds DOUBLE, tokens_per_s DOUBLE, ok BOOLEAN NOT NULL, error VARCHAR)",
        ),
    ),
)

_ERROR_CHARS = 500


class LatencySummary(BaseModel):
    """The last ``calls`` generations (ok or failed), newest first in the window."""

    calls: int = Field(description="Calls in the window.")
    failures: int = Field(description="Calls that failed.")
    median_ttft_s: float | None = Field(description="Median seconds to the first token over the successful calls.")
    median_tokens_per_s: float | None = Field(description="Median decode speed over the successful calls.")
    median_seconds: float | None = Field(description="Median seconds per successful call.")
    last_at: datetime | None = Field(description="When the newest call was made (UTC).")
    last_error: str | None = Field(description="The newest failure's message, if any in the window.")
    models: list[str] = Field(default_factory=list, description="Models called in the window.")


def record_call(
    settings: Any, engine: Engine, stats: GenerationStats | None, error: BaseException | str | None = None
) -> None:
    """Append one call to ``llm_calls``; a failure to write is logged, not raised."""
    message = None if error is None else str(error)[:_ERROR_CHARS]
    row = [
        utc_naive(datetime.now(UTC)),
        engine.kind,
        engine.endpoint,
        engine.model,
        engine.quantization,
        stats.prompt_tokens if stats else None,
        stats.completion_tokens if stats else None,
        stats.ttft_s if stats else None,
        stats.seconds if stats else None,
        stats.tokens_per_s if stats else None,
        error is None,
        message,
    ]
    try:
        with connect(settings, MIGRATIONS) as con:
            con.execute("INSERT INTO llm_calls VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
    except CouldNotDoError as exc:
        log.warning("could not log the LLM call: %s", exc)


def _median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def recent_latency(settings: Any, limit: int = 20) -> LatencySummary:
    """Medians over the last ``limit`` calls."""
    with connect(settings, MIGRATIONS) as con:
        rows = con.execute(
            'SELECT "at", model, ttft_s, seconds, tokens_per_s, ok, error FROM llm_calls ORDER BY "at" DESC LIMIT ?',
            [max(1, int(limit))],
        ).fetchall()
    good = [r for r in rows if r[5]]
    failed = [r for r in rows if not r[5]]
    models: list[str] = []
    for r in rows:
        if r[1] and r[1] not in models:
            models.append(r[1])
    return LatencySummary(
        calls=len(rows),
        failures=len(failed),
        median_ttft_s=_median([r[2] for r in good]),
        median_tokens_per_s=_median([r[4] for r in good]),
        median_seconds=_median([r[3] for r in good]),
        last_at=rows[0][0] if rows else None,
        last_error=failed[0][6] if failed else None,
        models=models,
    )
