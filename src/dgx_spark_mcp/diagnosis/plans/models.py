"""What analyze_query_plan answers: the plan at a glance, the operator tree a page at a time, the findings."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from ..findings.model import DiagnosisFinding
from .parser import PlanEstimate, PlanForm

__all__ = ["ExchangeSummary", "JoinSummary", "PlanAnalysis", "PlanSummary", "ScanSummary", "TreeNode"]


class JoinSummary(BaseModel):
    id: int
    operator: str = Field(description="e.g. BroadcastHashJoin, SortMergeJoin, GpuShuffledHashJoin.")
    join_type: str | None
    build_side: Literal["left", "right"] | None


class ExchangeSummary(BaseModel):
    id: int
    operator: str
    kind: Literal["shuffle", "broadcast"]
    partitioning: str | None
    partitions: int | None


class ScanSummary(BaseModel):
    id: int
    operator: str
    format: str | None
    table: str | None
    location: str | None
    pushed_filters: list[str] | None = Field(description="None: the plan does not show them.")
    partition_filters: list[str] | None
    partitioned: bool | None


class PlanSummary(BaseModel):
    headline: str = Field(description="The plan in one sentence.")
    node_count: int
    joins_by_type: dict[str, int] = Field(default_factory=dict, description="'<operator> <join type> build <side>' → "
                                          "count.")
    joins: list[JoinSummary] = Field(default_factory=list, description="Full answer only; cut to 25.")
    shuffle_exchanges: int
    broadcast_exchanges: int
    exchanges: list[ExchangeSummary] = Field(default_factory=list, description="Full answer only; cut to 25.")
    scans: list[ScanSummary] = Field(default_factory=list, description="Cut to 25 (a summary: 5).")
    accelerated: bool = Field(description="Some operators run on an accelerator (RAPIDS GPU, Photon, Comet, Gluten).")
    accelerators: list[str] = Field(default_factory=list)
    accelerated_nodes: int
    adaptive: bool = Field(description="The plan is under AdaptiveSparkPlan (AQE).")
    final_plan: bool | None = Field(default=None, description="AQE's isFinalPlan: True = the plan as it ran; None = not "
                                    "adaptive.")
    estimated_size_bytes: int | None = Field(default=None, description="The optimizer's estimate of the result size, "
                                             "when shown.")
    estimated_rows: int | None = Field(default=None, description="The optimizer's row-count estimate of the result, "
                                       "when shown.")
    estimates: list[PlanEstimate] = Field(default_factory=list, description="Every Statistics(...) the plan printed "
                                          "(full answer only; cut to 25).")


class TreeNode(BaseModel):
    """One operator of the tree as the full answer lists it; joins, exchanges and scans are read in the summary."""

    id: int = Field(description="The plan's own operator id (formatted mode), else the order in the tree (1-based).")
    parent: int | None = Field(default=None, description="The parent's id; None for a root.")
    depth: int
    text: str = Field(description="The node's line in the plan, trimmed and cut to 400 characters.")
    accelerator: str | None = Field(default=None, description="gpu, photon, comet or gluten; None = plain Spark on CPU.")
    codegen_id: int | None = None
    subquery: bool | None = Field(default=None, description="True: part of a subquery plan rather than the main one.")
    details: dict[str, str] = Field(default_factory=dict, description="Formatted-mode details / JSON metadata.")


class PlanAnalysis(BaseModel):
    source: Literal["text", "file", "sql"]
    file: str | None = None
    form: PlanForm = Field(description="How the plan was written: simple, extended, formatted, codegen or json.")
    summary: PlanSummary
    findings: list[DiagnosisFinding] = Field(description="Most severe first; none of warning or above = healthy.")
    nodes: list[TreeNode] = Field(default_factory=list, description="Full answer only: the operator tree, parents before "
                                  "children, 100 nodes a page.")
    next_cursor: str | None = Field(default=None, description="Pass as cursor (same arguments) for the next page of nodes.")
    references: dict[str, str] = Field(default_factory=dict, description="Documents behind the fixes' changes, each "
                                       "once: id (a change's ref) -> URL.")
    more: str | None = Field(default=None, description="What was left out and which call returns it.")
    explained_plan: str | None = Field(
        default=None, description="When SQL was given: Spark's EXPLAIN FORMATTED output (cut to 20000 characters)."
    )
    notes: list[str] = Field(default_factory=list, description="What could not be read, and other caveats.")
