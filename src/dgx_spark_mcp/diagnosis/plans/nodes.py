"""The typed plan tree every plan form is read into: :class:`ParsedPlan` and its :class:`PlanNode` s.

Kept apart from the readers (:mod:`.operators`, :mod:`.text_plan`, :mod:`.json_plan`) so the
analysis, the findings and the result models import the shapes without the parsing code.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

__all__ = [
    "DETAIL_CHARS", "TEXT_CHARS", "Accelerator", "ExchangeInfo", "JoinInfo", "ParsedPlan", "PlanEstimate", "PlanForm",
    "PlanNode", "ScanInfo",
]

Accelerator = Literal["gpu", "photon", "comet", "gluten"]
PlanForm = Literal["simple", "extended", "formatted", "codegen", "json"]

TEXT_CHARS = 400
"""A node's quoted text is cut here: a 400-column scan line says what it reads; more is noise."""
DETAIL_CHARS = 1000


class JoinInfo(BaseModel):
    join_type: str | None = Field(description="Inner, LeftOuter, LeftSemi, Cross, ... as Spark prints it.")
    build_side: Literal["left", "right"] | None = Field(description="The side hashed or broadcast, when shown.")
    condition: str | None = Field(default=None, description="The join condition besides the keys, when shown.")


class ExchangeInfo(BaseModel):
    kind: Literal["shuffle", "broadcast"]
    partitioning: str | None = Field(
        description="hash, range, single, round_robin, broadcast, or None when the plan does not show it."
    )
    partitions: int | None = Field(description="Partition count the exchange writes (1 for single), when shown.")
    keys: str | None = Field(default=None, description="The partitioning expressions, when shown.")


class ScanInfo(BaseModel):
    format: str | None = Field(description="parquet, orc, csv, json, delta, ... when shown.")
    table: str | None = Field(description="The catalog table, when the scan names one.")
    location: str | None = Field(description="The file index and path(s), cut to 300 characters.")
    pushed_filters: list[str] | None = Field(description="Filters the source evaluates; None: not shown.")
    partition_filters: list[str] | None = Field(description="Partition-pruning filters; None: not shown.")
    data_filters: list[str] | None = Field(default=None, description="Filters on data columns; None: not shown.")
    read_schema: str | None = Field(description="The columns read, cut to 300 characters.")
    partitioned: bool | None = Field(
        description="True when the plan shows a partitioned table (CatalogFileIndex, PartitionCount, a partition "
        "filter, output columns that are not in the read schema); None when it cannot tell."
    )
    partition_columns: list[str] = Field(
        default_factory=list, description="Columns the scan outputs but does not read from files: partition columns."
    )


class PlanNode(BaseModel):
    id: int = Field(description="The plan's own operator id (formatted mode), else the order in the tree (1-based).")
    name: str = Field(description="The operator as printed, e.g. 'GpuShuffledHashJoin', 'Scan parquet'.")
    operator: str = Field(description="Canonical operator without accelerator prefix/suffix, e.g. 'ShuffledHashJoin'.")
    accelerator: Accelerator | None = Field(description="Which accelerator runs it; None = plain Spark on CPU.")
    text: str = Field(description="The node's line in the plan, trimmed and cut to 400 characters.")
    depth: int
    parent: int | None = Field(description="The parent node's id; None for a root.")
    children: list[int] = Field(default_factory=list)
    codegen_id: int | None = Field(default=None, description="Whole-stage codegen stage, when the plan shows one.")
    subquery: bool = Field(default=False, description="Part of a subquery plan rather than the main one.")
    details: dict[str, str] = Field(default_factory=dict, description="Formatted-mode details / JSON metadata.")
    join: JoinInfo | None = None
    exchange: ExchangeInfo | None = None
    scan: ScanInfo | None = None
    literals: int = Field(default=0, description="The most literal values one INSET of the node tests against, "
                          "counted before its text was cut.")

    def full_text(self) -> str:
        """The line plus its details: rules look at both, since formatted mode moves arguments down."""
        return " ".join([self.text, *self.details.values()])


class PlanEstimate(BaseModel):
    """An optimizer estimate printed as ``Statistics(sizeInBytes=…, rowCount=…)`` (EXPLAIN COST, AQE stages)."""

    operator: str
    size_bytes: int | None
    row_count: int | None
    runtime: bool = Field(description="True when AQE measured it at run time (isRuntime=true).")


class ParsedPlan(BaseModel):
    form: PlanForm
    nodes: list[PlanNode]
    adaptive: bool = Field(description="An AdaptiveSparkPlan (AQE) root was seen.")
    final_plan: bool | None = Field(description="AQE isFinalPlan: True = after execution; None = not adaptive.")
    estimates: list[PlanEstimate] = Field(default_factory=list)
    unparsed_lines: int = Field(default=0, description="Lines that were neither tree nor details (kept out).")
    fallback_notes: list[str] = Field(
        default_factory=list,
        description="RAPIDS explain lines ('!Exec <X> cannot run on GPU because ...') found with the plan.",
    )

