"""What diagnose_log answers: the findings of a log and how it was read (shared by the full answer and its summary)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from ..findings.model import DiagnosisFinding

__all__ = ["DiagnoseResult", "Unreadable"]


class Unreadable(BaseModel):
    """What could not be read as it was written; the findings come from the rest."""

    non_utf8_lines: int = Field(description="Lines read in detail that held bytes that are not UTF-8 (replaced by U+FFFD).")
    oversized_lines: int = Field(description="Lines above 128 MiB, skipped.")
    last_line_cut: bool = Field(description="The file stops in the middle of a line.")
    stream_complete: bool = Field(description="False when a compressed stream stops inside a frame (truncated file).")
    problem: str | None = Field(default=None, description="Why decoding stopped early, when it did.")
    log_complete: bool = Field(default=True, description="False when the log ends before the application did: an event "
                               "log without SparkListenerApplicationEnd (crashed, killed, truncated or still running), "
                               "or a truncated compressed file.  The findings then cover only the part that was read.")


class DiagnoseResult(BaseModel):
    """A log, read and explained: findings with the most likely root cause first.

    The summary (``detail="summary"``) is this model with the reading statistics, the content hash
    and the references left out (``unreadable`` stays when something was), the top findings with
    their evidence cut to the cause (:mod:`.finding_brief`), and ``more`` saying what the full answer adds.
    """

    source: str = Field(description="The path read, or '<text>' for pasted text.")
    kind: str = Field(description="spark_driver, spark_executor, spark_event_log, airflow, airflow3_json or text.")
    kind_detected: bool = Field(description="True when the kind was detected from the content, False when given.")
    codec: str | None = Field(default=None, description="Compression the file was read through (none, gzip, zstd, ...).")
    bytes_read: int | None = Field(default=None, description="Decompressed bytes.")
    lines_read: int | None = None
    unreadable: Unreadable | None = Field(default=None, description="What could not be read (in a summary: only when "
                                          "something could not).")
    nested_spark_lines: int | None = Field(default=None, description="Lines of a spark-submit log nested in an Airflow "
                                           "log (diagnosed too).")
    findings: list[DiagnosisFinding] = Field(description="Most likely root cause first; cut to the limit.")
    findings_total: int
    hardware: str | None = Field(default=None, description="What the fixes were sized for, when hardware was given.")
    content_hash: str | None = Field(default=None, description="BLAKE3 of the content: the key of the context store.")
    from_store: bool = Field(description="True when this result was served from the context store (same content asked before).")
    references: dict[str, str] = Field(default_factory=dict, description="Documents behind the fixes' changes, each "
                                       "once: id (a change's ref) -> URL.")
    notes: list[str] = Field(default_factory=list)
    more: str | None = Field(default=None, description="What was left out and which call returns it.")
