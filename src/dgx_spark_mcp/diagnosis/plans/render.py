"""The text rendering of an analyze_query_plan result, summary or full, for ``dgx-spark-mcp plan``."""

from __future__ import annotations

from .analysis import PlanAnalysis

__all__ = ["render_plan_analysis"]


def _tree(result: PlanAnalysis) -> list[str]:
    return [f"{'  ' * node.depth}({node.id}) {node.text[:120]}" for node in result.nodes]


def render_plan_analysis(result: PlanAnalysis) -> str:
    s = result.summary
    out = [f"{result.file or result.source} ({result.form} plan): {s.headline}"]
    for scan in s.scans:
        table = scan.table or scan.location or "?"
        out.append(f"  scan ({scan.id}) {scan.format or ''} {table}: pushed {scan.pushed_filters}, "
                   f"partition filters {scan.partition_filters}")
    if s.estimated_size_bytes is not None:
        out.append(f"  estimated result: {s.estimated_size_bytes} bytes, {s.estimated_rows} rows")
    warnings = [f for f in result.findings if f.severity != "info"]
    out.append("\nHealthy: no warnings." if not warnings else f"\n{len(warnings)} warning(s) or worse:")
    for finding in result.findings:
        out.append(f"- [{finding.severity}] {finding.category} ({finding.rule_id}): {finding.title}")
        out.append(f"    {finding.root_cause}")
        out += [f"    node {line}" for e in finding.evidence for line in e.lines[:1]]
        if finding.fix is not None:
            out.append(f"    fix: {finding.fix.summary}")
            out += [f"    set {c.key}={c.recommended_value}: {c.reason}" + (f" [{c.ref}]" if c.ref else "")
                    for c in finding.fix.changes]
    out += [f"[{ref}] {url}" for ref, url in result.references.items()]
    if result.nodes:
        out.append("\nPlan:")
        out += _tree(result)
    if result.next_cursor:
        out.append(f"next page of the tree: --cursor {result.next_cursor}")
    if result.more:
        out.append(result.more)
    out += [f"note: {note}" for note in result.notes]
    return "\n".join(out)
