"""Plain-text view of a config check for people at a terminal (``check`` without --json)."""

from __future__ import annotations

from .check_models import CheckResult, Finding, KeyRef

__all__ = ["render_check"]

_FORMATS = {"json": "key/value object", "conf": "spark-defaults.conf", "submit": "spark-submit command",
            "source": "source file"}


def _where(ref: KeyRef) -> str:
    if ref.line is None:
        return ref.key
    cell = f"cell {ref.cell} " if ref.cell is not None else ""
    return f"{ref.key} ({cell}line {ref.line})"


def _finding(f: Finding) -> list[str]:
    out = [f"{f.severity.upper():8} {f.rule_id}: {', '.join(_where(k) for k in f.keys)}", f"         {f.message}"]
    for change in f.fix:
        action = (f"remove {change.key}" if change.recommended_value is None
                  else f"{change.key} = {change.recommended_value}")
        out.append(f"         fix: {action}  ({change.reason})")
    return out


def render_check(r: CheckResult) -> str:
    context = [c for c in (r.language, f"deploy mode {r.deploy_mode}" if r.deploy_mode else None,
                           f"hardware {r.hardware}" if r.hardware else None) if c]
    counts = r.counts
    out = [
        f"Checked a {_FORMATS.get(r.format.value, r.format.value)}"
        + (f" ({', '.join(context)})" if context else "")
        + f"; known keys from Spark {r.spark_keys_version}",
        f"{len(r.parsed)} keys read: {counts.critical} critical, {counts.error} errors, {counts.warning} warnings, "
        f"{counts.info} info",
    ]
    for finding in r.findings:
        out += ["", *_finding(finding)]
    if r.skipped:
        out += ["", "Skipped:"] + [f"  {s.rule_id}: {s.reason}" for s in r.skipped]
    if r.notes:
        out += ["", "Notes:"] + [f"  {n}" for n in r.notes]
    return "\n".join(out)
