"""What an ingest answers an agent: counts, not lists.

:class:`~.ingest.IngestResult` names every host it read: 125 hosts of a 1,000-GPU export cost an
agent a thousand tokens to learn that the ingest worked.  The answer keeps the counts (hosts as a
number, rejected reasons that occurred), the metrics by their short names, and the notes;
``list_gpus`` (``by="host"``) lists the hosts a page at a time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from .metrics import metrics

if TYPE_CHECKING:
    from .ingest import IngestResult

__all__ = ["MAX_METRICS_SHOWN", "IngestSummary", "summarize_ingest"]

MAX_METRICS_SHOWN = 30


class IngestSummary(BaseModel):
    source: str = Field(description="The file (resolved path) or URL read.")
    format: str
    rows_read: int = Field(description="Samples read (for the wide CSV: rows x metric columns).")
    rows_stored: int = Field(description="Samples newly stored.")
    duplicates: int = Field(description="Valid samples already stored, or repeated in the source: not stored again.")
    rejected: dict[str, int] = Field(default_factory=dict, description="Samples or lines skipped, by reason.")
    blanks: int = Field(default=0, description="DCGM blank sentinels (unsupported field) stored as null values.")
    gpus: int
    hosts: int
    metrics: list[str] = Field(default_factory=list, description=f"Metrics read, by alias (at most {MAX_METRICS_SHOWN}).")
    first_ts: str | None = None
    last_ts: str | None = None
    seconds: float
    batch: str | None = Field(default=None, description="The store batch written; null when nothing new was stored.")
    notes: list[str] = Field(default_factory=list)


def summarize_ingest(result: IngestResult) -> IngestSummary:
    registry = metrics()
    names = [(m.alias if (m := registry.get(name)) else name) for name in result.metrics]
    notes = list(result.notes)
    if len(names) > MAX_METRICS_SHOWN:
        notes.append(f"{len(names)} metrics read; the first {MAX_METRICS_SHOWN} are listed (list_gpus detail='full' "
                     "shows every metric of a GPU)")
    hosts = result.hosts
    return IngestSummary(
        source=result.source, format=result.format, rows_read=result.rows_read, rows_stored=result.rows_stored,
        duplicates=result.duplicates, rejected={reason: n for reason, n in result.rejected.items() if n},
        blanks=result.blanks, gpus=result.gpus, hosts=hosts if isinstance(hosts, int) else len(hosts),
        metrics=names[:MAX_METRICS_SHOWN], first_ts=result.first_ts, last_ts=result.last_ts,
        seconds=round(result.seconds, 2), batch=result.batch, notes=notes,
    )
