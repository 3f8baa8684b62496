"""SQL executions in flight and what their physical plans say.

The driver lists SQL executions oldest first (``/sql``, at most spark.sql.ui.retainedExecutions, 1000 by
default): the ones still running are found by paging through that list without plans, then each one's
plan is read alone (``/sql/{id}?planDescription=true``) and run through the plan rules of
analyze_query_plan (:func:`~dgx_spark_mcp.diagnosis.plans.findings.find_plan_issues` over the parsed
plan), so a running query gets exactly the findings the same plan pasted into that tool gets.  The plan
is not kept in the context store: it changes while AQE re-plans, and a status call is asked often.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from . import spark_rest
from .running_models import RunningQuery, StatusFinding
from .running_stages import round3
from .spark_time import seconds_since
from .transport import Connection

__all__ = ["PAGE", "SCAN_LIMIT", "query_status", "running_executions"]

PAGE = 500
"""Executions per /sql request while looking for the running ones (no plans, no metrics: small)."""
SCAN_LIMIT = 5_000
"""Executions looked through at most; past it the answer says the list was cut."""


def running_executions(conn: Connection, app: str, attempt: str | None) -> tuple[list[dict[str, Any]], int, bool]:
    """The running executions, how many executions were looked through, and whether the list went on."""
    running: list[dict[str, Any]] = []
    offset = 0
    while offset < SCAN_LIMIT:
        page = spark_rest.sql(conn, app, attempt, details=False, plan_description=False, offset=offset, length=PAGE)
        page = page if isinstance(page, list) else []
        running += [e for e in page if isinstance(e, dict) and str(e.get("status", "")).upper() == "RUNNING"]
        offset += len(page)
        if len(page) < PAGE:
            return running, offset, False
    return running, offset, True


def query_status(execution: dict[str, Any], now: datetime) -> tuple[RunningQuery, list[StatusFinding]]:
    """One execution (with its planDescription) as a running query, and its plan findings."""
    from ..diagnosis.plans.analysis import summarize
    from ..diagnosis.plans.findings import find_plan_issues
    from ..diagnosis.plans.parser import parse_plan
    from ..errors import BadInputError

    exec_id = int(execution.get("id", -1))
    description = str(execution.get("description") or "")[:80]
    done = len(execution.get("successJobIds") or []) + len(execution.get("failedJobIds") or [])
    query = RunningQuery(sql=exec_id, description=description, running_s=round3(seconds_since(
        execution.get("submissionTime"), now)), jobs=[int(j) for j in execution.get("runningJobIds") or []][:10],
        jobs_done=done)
    text = execution.get("planDescription")
    if not isinstance(text, str) or not text.strip():
        return query, []
    try:
        parsed = parse_plan(text)
    except BadInputError as exc:
        query.plan = f"plan not readable: {str(exc)[:160]}"
        return query, []
    query.plan = summarize(parsed).headline
    findings = []
    label = f"SQL {exec_id}" + (f" ({description[:40]})" if description else "")
    for f in find_plan_issues(parsed):
        query.findings.append(f.rule_id)
        changes = "; ".join(f"{c.key}={c.recommended_value}" for c in (f.fix.changes if f.fix else [])[:3])
        findings.append(StatusFinding(
            severity=f.severity, category=f.category, sql=exec_id,
            what=f"{label}: {f.title}: {f.root_cause}"[:400],
            fix=((f.fix.summary if f.fix else "") + (f" (set {changes})" if changes else ""))[:400]))
    return query, findings
