"""analyze_query_plan: a plan (text, JSON, a file, or SQL Spark explains) → node tree, summary, findings.

The summary is what an agent reads first: joins by type and build side, exchanges and their
partition counts, scans with their pushed and partition filters, estimated sizes when the plan
has statistics, and whether an accelerator runs it.  Findings (``plan_findings``) say what to
change.  The node tree is bounded; the summary and findings always cover the whole plan.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from typing import Any, Literal

from pydantic import BaseModel, Field

from ..errors import BadInputError, CouldNotDoError
from ..files import allowed_path, looks_binary
from ..settings import Settings
from .findings import DiagnosisFinding
from .plan_findings import find_plan_issues
from .plan_parser import ParsedPlan, PlanEstimate, PlanForm, PlanNode, parse_plan

log = logging.getLogger(__name__)

__all__ = [
    "ExchangeSummary", "JoinSummary", "PlanAnalysis", "PlanSummary", "ScanSummary", "analyze_query_plan",
]

NODE_LIMIT = 300
"""Nodes returned in the tree; TPC-DS's largest plans have a few hundred, a generated one can have thousands."""
MAX_PLAN_BYTES = 32 * 1024**2
EXPLAINED_CHARS = 20_000


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
    joins_by_type: dict[str, int] = Field(description="'<operator> <join type> build <side>' → count.")
    joins: list[JoinSummary]
    shuffle_exchanges: int
    broadcast_exchanges: int
    exchanges: list[ExchangeSummary]
    scans: list[ScanSummary]
    accelerated: bool = Field(description="Some operators run on an accelerator (RAPIDS GPU, Photon, Comet, Gluten).")
    accelerators: list[str]
    accelerated_nodes: int
    adaptive: bool = Field(description="The plan is under AdaptiveSparkPlan (AQE).")
    final_plan: bool | None = Field(description="AQE's isFinalPlan: True = the plan as it ran; None = not adaptive.")
    estimated_size_bytes: int | None = Field(description="The optimizer's estimate of the result size, when shown.")
    estimated_rows: int | None = Field(description="The optimizer's row-count estimate of the result, when shown.")
    estimates: list[PlanEstimate] = Field(description="Every Statistics(...) the plan printed (bounded to 50).")


class PlanAnalysis(BaseModel):
    source: Literal["text", "file", "sql"]
    file: str | None = None
    form: PlanForm = Field(description="How the plan was written: simple, extended, formatted, codegen or json.")
    summary: PlanSummary
    findings: list[DiagnosisFinding] = Field(description="Most severe first; none of warning or above = healthy.")
    nodes: list[PlanNode] = Field(description="The operator tree, parents before children, bounded.")
    nodes_truncated: bool
    more: str | None = Field(default=None, description="How to see what was left out, when something was.")
    explained_plan: str | None = Field(
        default=None, description="When SQL was given: Spark's EXPLAIN FORMATTED output (cut to 20000 characters)."
    )
    notes: list[str] = Field(default_factory=list, description="What could not be read, and other caveats.")


def _join_key(node: PlanNode) -> str:
    assert node.join is not None
    parts = [node.name] + ([node.join.join_type] if node.join.join_type else [])
    if node.join.build_side:
        parts.append(f"build {node.join.build_side}")
    return " ".join(parts)


def summarize(plan: ParsedPlan) -> PlanSummary:
    joins = [n for n in plan.nodes if n.join is not None]
    exchanges = [n for n in plan.nodes if n.exchange is not None]
    scans = [n for n in plan.nodes if n.scan is not None]
    accelerated = [n for n in plan.nodes if n.accelerator]
    # the optimized logical plan's first Statistics line is its root: the result estimate
    root = next((e for e in plan.estimates if not e.runtime), plan.estimates[0] if plan.estimates else None)
    shuffles = sum(1 for n in exchanges if n.exchange and n.exchange.kind == "shuffle")
    by_type = Counter(_join_key(n) for n in joins)
    accelerators = sorted({n.accelerator for n in accelerated if n.accelerator})
    headline = (
        f"{len(plan.nodes)} operators: {len(joins)} join(s)"
        + (f" ({', '.join(f'{k} ×{v}' for k, v in by_type.most_common(3))})" if by_type else "")
        + f", {shuffles} shuffle(s), {len(exchanges) - shuffles} broadcast(s), {len(scans)} scan(s)"
        + (f"; runs on {'/'.join(accelerators)} for {len(accelerated)} operator(s)" if accelerated else "; CPU only")
        + ("; AQE final plan" if plan.final_plan else "; AQE initial plan" if plan.adaptive else "")
    )
    return PlanSummary(
        headline=headline,
        node_count=len(plan.nodes),
        joins_by_type=dict(by_type),
        joins=[JoinSummary(id=n.id, operator=n.name, join_type=n.join.join_type, build_side=n.join.build_side)
               for n in joins if n.join],
        shuffle_exchanges=shuffles,
        broadcast_exchanges=len(exchanges) - shuffles,
        exchanges=[ExchangeSummary(id=n.id, operator=n.name, kind=n.exchange.kind, partitioning=n.exchange.partitioning,
                                   partitions=n.exchange.partitions) for n in exchanges if n.exchange],
        scans=[ScanSummary(id=n.id, operator=n.name, format=n.scan.format, table=n.scan.table, location=n.scan.location,
                           pushed_filters=n.scan.pushed_filters, partition_filters=n.scan.partition_filters,
                           partitioned=n.scan.partitioned) for n in scans if n.scan],
        accelerated=bool(accelerated),
        accelerators=accelerators,
        accelerated_nodes=len(accelerated),
        adaptive=plan.adaptive,
        final_plan=plan.final_plan,
        estimated_size_bytes=root.size_bytes if root else None,
        estimated_rows=root.row_count if root else None,
        estimates=plan.estimates[:50],
    )


def _read_plan_file(path: str, settings: Settings) -> tuple[str, str, list[str]]:
    from .codecs import LogLines  # gz/zstd/... read transparently

    resolved = allowed_path(path, settings)
    chunks, size = [], 0
    lines = LogLines(resolved)
    for line in lines:
        size += len(line) + 1
        if size > MAX_PLAN_BYTES:
            raise BadInputError(f"{path!r} holds more than {MAX_PLAN_BYTES // 1024**2} MiB of plan text; give one plan")
        chunks.append(line)
    raw = b"\n".join(chunks)
    if looks_binary(raw):
        raise BadInputError(f"{path!r} is a binary file, not a plan; give EXPLAIN output or a sparkPlanInfo JSON file")
    if not raw.strip():
        problem = f" ({lines.stats.codec}: {lines.stats.problem})" if lines.stats.problem else ""
        raise BadInputError(f"{path!r} holds no text{problem}; give a file with EXPLAIN output or a sparkPlanInfo JSON tree")
    text = raw.decode("utf-8", errors="replace")
    notes = ["some bytes were not UTF-8 and were replaced with U+FFFD"] if "\ufffd" in text else []
    if not lines.stats.complete:
        notes.append(f"the file's {lines.stats.codec} stream stops early ({lines.stats.problem}): the file was cut, so "
                     "the plan read may be missing its end")
    return text, str(resolved), notes


def _check_pasted(text: str) -> None:
    """Pasted plan text gets the limits a plan file gets (the MCP schema bounds it too; the CLI's stdin does not)."""
    if len(text) > MAX_PLAN_BYTES:
        raise BadInputError(f"the plan text is {len(text) / 1024**2:.1f} MiB, above the {MAX_PLAN_BYTES // 1024**2} MiB "
                            "a plan can be; give one plan (one EXPLAIN output or one sparkPlanInfo tree)")
    if looks_binary(text[: 1 << 16].encode("utf-8", errors="replace")):
        raise BadInputError("the plan text is binary data (NUL or control characters), not a plan; paste EXPLAIN "
                            "output or a sparkPlanInfo JSON tree")


def _given(value: str | dict[str, Any] | list[Any] | None) -> bool:
    return bool(value) if isinstance(value, dict | list) else bool(value and value.strip())


def analyze_query_plan(
    plan: str | dict[str, Any] | list[Any] | None,
    settings: Settings,
    *,
    path: str | None = None,
    sql: str | None = None,
    schema: str | None = None,
    connect_url: str | None = None,
) -> PlanAnalysis:
    """Analyse one plan: ``plan`` (text/JSON, or JSON already decoded), else the file at ``path``, else ``sql``
    (+ ``schema``) explained.

    With ``plan`` given, ``path`` only names where the text came from (quoted in the evidence, not read).
    """
    given = [name for name, value in (("plan", plan), ("sql", sql)) if _given(value)]
    if len(given) > 1 or not (given or (path and path.strip())):
        raise BadInputError(
            f"give exactly one of plan (EXPLAIN text or sparkPlanInfo JSON), path (a file with either) or sql "
            f"(a SELECT, with an optional schema of CREATE TABLE statements); got {', '.join(given) or 'none'}"
        )
    if sql and path:
        raise BadInputError("give either sql or path, not both: path is a file holding a plan, sql a query to explain")
    if schema and not sql:
        raise BadInputError("schema is only used with sql: it declares the tables the query reads")
    notes: list[str] = []
    file = explained = None
    decoded = plan if isinstance(plan, dict | list) else None
    source: Literal["text", "file", "sql"] = "text"
    if path and not plan:
        text, file, notes = _read_plan_file(path, settings)
        source = "file"
    elif sql:
        from .plan_explain import explain_sql  # PySpark loads only when SQL is given

        text = explain_sql(sql, settings, schema=schema, connect_url=connect_url)
        explained, source = text[:EXPLAINED_CHARS], "sql"
    else:
        text, file = (plan if isinstance(plan, str) else "") or "", path
        _check_pasted(text)
    try:
        parsed = parse_plan(text if decoded is None else decoded)
    except BadInputError as exc:
        if source == "file":  # the parser knows the text only: name the file it came from
            raise BadInputError(f"{file}: {exc}") from None
        raise
    if decoded is not None:  # parse_plan checked its depth, so it serialises back (for the store's key) safely
        text = json.dumps(decoded)
    if parsed.unparsed_lines:
        notes.append(f"{parsed.unparsed_lines} line(s) of the plan were neither tree nor node details and were skipped")
    if parsed.adaptive and parsed.final_plan is False:
        notes.append("AQE plan before execution (isFinalPlan=false): joins and partition counts may change at run "
                     "time; the plan in the Spark UI or event log after the run is the final one")
    truncated = len(parsed.nodes) > NODE_LIMIT
    result = PlanAnalysis(
        source=source,
        file=file,
        form=parsed.form,
        summary=summarize(parsed),
        findings=find_plan_issues(parsed, file=file),
        nodes=parsed.nodes[:NODE_LIMIT],
        nodes_truncated=truncated,
        more=(f"{len(parsed.nodes) - NODE_LIMIT} more nodes are not listed; the summary and findings cover all of "
              "them. Analyse a subtree (paste part of the plan) to see its nodes.") if truncated else None,
        explained_plan=explained,
        notes=notes,
    )
    _remember(result, text, settings)
    return result


def _remember(result: PlanAnalysis, text: str, settings: Settings) -> None:
    """Keep the plan and its findings in the context store; a busy store never fails the analysis."""
    from . import context_store

    key = context_store.content_hash(None, text.encode("utf-8", errors="replace"))
    try:
        context_store.save_plan(settings, key, result.file, result.form, result.summary.headline,
                                result.model_dump_json(), result.findings)
    except CouldNotDoError as exc:
        log.warning("query plan not kept in the context store: %s", exc)
        result.notes.append(f"not kept in the context store: {exc}")
