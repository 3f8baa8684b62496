"""The text rendering of a diagnose_log result, summary or full, for ``dgx-spark-mcp diagnose``."""

from __future__ import annotations

from .diagnose import DiagnoseResult

__all__ = ["render_diagnosis"]


def render_diagnosis(result: DiagnoseResult) -> str:
    read = (f", {result.lines_read} lines, {result.bytes_read} bytes, codec {result.codec}"
            if result.lines_read is not None else "")
    head = (f"{result.source}: {result.kind}{'' if result.kind_detected else ' (given)'}{read}"
            f"{' (from the context store)' if result.from_store else ''}")
    out = [head]
    if not result.findings:
        out.append("No findings.")
    for i, finding in enumerate(result.findings, 1):
        out.append(f"\n{i}. [{finding.severity}] {finding.category} ({finding.rule_id}): {finding.title}")
        out.append(f"   {finding.root_cause}")
        for evidence in finding.evidence:
            where = ",".join(map(str, evidence.line_numbers)) or "?"
            repeat = ""
            if evidence.occurrences > 1:
                last = f"-{evidence.last_line}" if evidence.last_line is not None else ""
                repeat = f" x{evidence.occurrences} (lines {evidence.first_line or '?'}{last})"
            ids = "".join(f" {name} {','.join(map(str, values))}" for name, values in (
                ("job", evidence.job_ids), ("stage", evidence.stage_ids), ("task", evidence.task_ids)) if values)
            out.append(f"   {evidence.role} line {where}{repeat}{ids}: {evidence.lines[-1] if evidence.lines else ''}")
            if evidence.note:
                out.append(f"     ({evidence.note})")
        if finding.fix is not None:
            out.append(f"   fix: {finding.fix.summary}")
            for change in finding.fix.changes:
                now = f" (now {change.current_value})" if change.current_value else ""
                ref = f" [{change.ref}]" if change.ref else ""
                out.append(f"     {change.key} = {change.recommended_value}{now}: {change.reason}{ref}")
    if result.findings_total > len(result.findings):
        out.append(f"\n{result.findings_total - len(result.findings)} more finding(s); raise --limit to see them")
    out += [f"[{ref}] {url}" for ref, url in result.references.items()]
    out += [f"note: {note}" for note in result.notes]
    if result.more:
        out.append(f"more: {result.more}")
    return "\n".join(out)
