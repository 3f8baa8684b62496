"""analyze_query_plan: a plan (text, JSON, a file, or SQL Spark explains) → node tree, summary, findings.

The summary is what an agent reads first: joins by type and build side, exchanges and their
partition counts, scans with their pushed and partition filters, estimated sizes when the plan
has statistics, and whether an accelerator runs it.  Findings (``plan_findings``) say what to
change.  The summary's counts and the findings always cover the whole plan; its lists are cut to
``LIST_LIMIT`` and the operator tree comes a page of ``NODE_PAGE`` nodes at a time (``cursor``),
with ``detail="full"`` only: ``detail="summary"`` (:mod:`.plan_summary`) answers with the plan at
a glance and the findings.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from typing import Any, Literal

from ...errors import BadInputError, CouldNotDoError
from ...files import allowed_path, looks_binary
from ...paging import fingerprint, page
from ...settings import Settings
from ..findings.model import cite_findings
from .findings import find_plan_issues
from .models import (
    ExchangeSummary,
    JoinSummary,
    PlanAnalysis,
    PlanSummary,
    ScanSummary,
    TreeNode,
)
from .parser import ParsedPlan, PlanNode, parse_plan

log = logging.getLogger(__name__)

__all__ = [
    "ExchangeSummary", "JoinSummary", "PlanAnalysis", "PlanSummary", "ScanSummary", "TreeNode", "analyze_query_plan",
]

NODE_PAGE = 100
"""Nodes of the tree per answer (a page); TPC-DS's largest plans have a few hundred, a generated one thousands."""
LIST_LIMIT = 25
"""Joins, exchanges and scans the full summary lists; its counts cover them all."""
MAX_PLAN_BYTES = 32 * 1024**2
EXPLAINED_CHARS = 20_000


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
               for n in joins[:LIST_LIMIT] if n.join],
        shuffle_exchanges=shuffles,
        broadcast_exchanges=len(exchanges) - shuffles,
        exchanges=[ExchangeSummary(id=n.id, operator=n.name, kind=n.exchange.kind, partitioning=n.exchange.partitioning,
                                   partitions=n.exchange.partitions) for n in exchanges[:LIST_LIMIT] if n.exchange],
        scans=[ScanSummary(id=n.id, operator=n.name, format=n.scan.format, table=n.scan.table, location=n.scan.location,
                           pushed_filters=n.scan.pushed_filters, partition_filters=n.scan.partition_filters,
                           partitioned=n.scan.partitioned) for n in scans[:LIST_LIMIT] if n.scan],
        accelerated=bool(accelerated),
        accelerators=accelerators,
        accelerated_nodes=len(accelerated),
        adaptive=plan.adaptive,
        final_plan=plan.final_plan,
        estimated_size_bytes=root.size_bytes if root else None,
        estimated_rows=root.row_count if root else None,
        estimates=plan.estimates[:LIST_LIMIT],
    )


def _read_plan_file(path: str, settings: Settings) -> tuple[str, str, list[str]]:
    from ..reading.codecs import LogLines  # gz/zstd/... read transparently

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
    detail: Literal["summary", "full"] = "full",
    cursor: str | None = None,
) -> PlanAnalysis:
    """Analyse one plan: ``plan`` (text/JSON, or JSON already decoded), else the file at ``path``, else ``sql``
    (+ ``schema``) explained.

    With ``plan`` given, ``path`` only names where the text came from (quoted in the evidence, not read).
    ``cursor`` (a full answer's ``next_cursor``) asks for the next page of the operator tree.
    """
    if cursor and detail != "full":
        raise BadInputError("cursor pages the operator tree, which only detail='full' lists; pass detail='full' with it")
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
        from .explain import explain_sql  # PySpark loads only when SQL is given

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
    from .. import context_store

    key = context_store.content_hash(None, text.encode("utf-8", errors="replace"))
    nodes, next_cursor = page(parsed.nodes, NODE_PAGE, cursor, fingerprint(plan=key))
    summary = summarize(parsed)
    references: dict[str, str] = {}
    result = PlanAnalysis(
        source=source,
        file=file,
        form=parsed.form,
        summary=summary,
        findings=cite_findings(find_plan_issues(parsed, file=file), references),
        nodes=[_tree_node(n) for n in nodes],
        next_cursor=next_cursor,
        references=references,
        more=_more(parsed, summary, next_cursor),
        explained_plan=explained,
        notes=notes,
    )
    if cursor is None:  # a later page is the same plan: kept already
        _remember(result, key, settings)
    if detail == "summary":
        from .summary import plan_summary

        return plan_summary(result)
    return result


def _tree_node(node: PlanNode) -> TreeNode:
    return TreeNode(id=node.id, parent=node.parent, depth=node.depth, text=node.text, accelerator=node.accelerator,
                    codegen_id=node.codegen_id, subquery=node.subquery or None, details=node.details)


def _more(parsed: ParsedPlan, summary: PlanSummary, next_cursor: str | None) -> str | None:
    """What the full answer left out: lists cut to LIST_LIMIT, nodes beyond this page."""
    counts = {"joins": sum(summary.joins_by_type.values()), "exchanges": summary.shuffle_exchanges
              + summary.broadcast_exchanges, "scans": sum(1 for n in parsed.nodes if n.scan is not None),
              "estimates": len(parsed.estimates)}
    cut = [f"{name} ({LIST_LIMIT} of {n})" for name, n in counts.items() if n > LIST_LIMIT]
    parts = []
    if cut:
        parts.append(f"the summary lists are cut: {', '.join(cut)}; the counts and findings cover them all")
    if next_cursor is not None:
        parts.append(f"{len(parsed.nodes)} nodes in pages of {NODE_PAGE}: pass cursor=next_cursor for the next")
    if not parts:
        return None
    sentence = "; ".join(parts)
    return sentence[0].upper() + sentence[1:] + "."


def _remember(result: PlanAnalysis, key: str, settings: Settings) -> None:
    """Keep the plan and its findings in the context store; a busy store never fails the analysis."""
    from .. import context_store

    try:
        context_store.save_plan(settings, key, result.file, result.form, result.summary.headline,
                                result.model_dump_json(), result.findings)
    except CouldNotDoError as exc:
        log.warning("query plan not kept in the context store: %s", exc)
        result.notes.append(f"not kept in the context store: {exc}")
