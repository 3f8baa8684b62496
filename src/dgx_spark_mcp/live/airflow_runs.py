"""list_dag_runs: an Airflow's DAG runs, failed first, paged by the server; and the DAG files that fail to import.

Why two queries and not one sorted list: "failed first" across thousands of runs would mean fetching them all
to sort them here.  Instead the failed runs are one query and the others a second, each newest first and
paged by the server (``offset``/``limit``), and a page is cut from their concatenation; both totals come
from the server, so ``total`` counts every run that matches, not the ones fetched.
"""

from __future__ import annotations

import difflib
from datetime import UTC, datetime
from typing import Any

from ..errors import BadInputError
from ..paging import decode_cursor, encode_cursor, fingerprint, offset_of
from ..settings import Settings
from .airflow_client import Airflow, open_airflow
from .airflow_models import DagRunList, DagRunRow, ImportErrorBrief

__all__ = ["DEFAULT_LIMIT", "STATES", "import_error_brief", "list_dag_runs", "seconds", "short_time", "unknown_dag"]

STATES = ("queued", "running", "success", "failed")
DEFAULT_LIMIT = 20
MAX_LIMIT = 100
SHOWN_IMPORT_ERRORS = 5


def _parse(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def short_time(value: Any) -> str | None:
    """An API timestamp to the second, in UTC: ``2026-12-07T14:50:42Z`` (the microseconds cost tokens, tell nothing)."""
    parsed = _parse(value)
    return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if parsed else (value if isinstance(value, str) else None)


def seconds(value: Any) -> float | None:
    return round(float(value), 1) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _row(run: dict[str, Any]) -> DagRunRow:
    start, end = _parse(run.get("start_date")), _parse(run.get("end_date"))
    return DagRunRow(dag_id=str(run["dag_id"]), run_id=str(run["run_id"]), state=str(run.get("state")),
                     run_type=run.get("run_type"), logical_date=short_time(run.get("logical_date")),
                     start_date=short_time(run.get("start_date")), end_date=short_time(run.get("end_date")),
                     duration_s=round((end - start).total_seconds(), 1) if start and end else None)


def import_error_brief(error: dict[str, Any]) -> ImportErrorBrief:
    lines = [line.strip() for line in str(error.get("stack_trace") or "").splitlines() if line.strip()]
    last = lines[-1] if lines else "(no stack trace)"
    return ImportErrorBrief(filename=str(error.get("filename") or "?"), error=last if len(last) <= 200 else last[:199] + "…",
                            timestamp=short_time(error.get("timestamp")))


def unknown_dag(af: Airflow, dag_id: str) -> BadInputError:
    """The error for a DAG id the server does not know: the closest ids, and the files that fail to import."""
    closest = difflib.get_close_matches(dag_id, af.dag_ids(), n=3, cutoff=0.5)
    errors, total = af.import_errors(3)
    text = f"{af.label} has no DAG {dag_id!r}"
    text += f"; closest: {', '.join(closest)}" if closest else "; list_dag_runs without dag_id lists the runs of every DAG"
    if total:
        files = ", ".join(f"{e.filename} ({e.error})" for e in map(import_error_brief, errors))
        text += f". {total} DAG file(s) fail to import, and their DAGs are missing until fixed: {files}"
    return BadInputError(text)


def _since(since: str | None) -> str | None:
    if since is None or not since.strip():
        return None
    from ..telemetry.timespec import parse_time

    parsed = parse_time(since, "since", datetime.now(UTC).replace(tzinfo=None))
    assert parsed is not None
    return parsed.strftime("%Y-%m-%dT%H:%M:%SZ")


def list_dag_runs(settings: Settings, dag_id: str | None = None, state: str | None = None, since: str | None = None,
                  limit: int = DEFAULT_LIMIT, cursor: str | None = None) -> DagRunList:
    """One page of the runs (of ``dag_id``, in ``state``, started since ``since``): failed first, then newest first."""
    if not 1 <= limit <= MAX_LIMIT:
        raise BadInputError(f"limit {limit} is out of range; give 1 to {MAX_LIMIT} runs a page (default {DEFAULT_LIMIT})")
    if state is not None and state not in STATES:
        raise BadInputError(f"state {state!r} is not a DAG run state; use one of {', '.join(STATES)}")
    print_ = fingerprint(tool="list_dag_runs", dag_id=dag_id, state=state, since=since)
    offset, since_at = 0, None
    if cursor:
        position, since_at = decode_cursor(cursor, print_)
        offset = offset_of(position)
    else:
        since_at = _since(since)  # a relative 'last 1h' keeps the first page's 'now' on the next pages
    with open_airflow(settings) as af:
        dag = None
        if dag_id is not None and (dag := af.dag(dag_id)) is None:
            raise unknown_dag(af, dag_id)
        rows: list[DagRunRow] = []
        total, failed_total = 0, None
        for states in ([["failed"], ["queued", "running", "success"]] if state is None else [[state]]):
            room = limit - len(rows)
            page, count = af.dag_runs(dag_id, states, since_at, max(0, offset - total) if room else 0, room)
            rows.extend(_row(r) for r in page[:room])
            if state is None and failed_total is None:
                failed_total = count
            total += count
        errors, errors_total = af.import_errors(100 if dag is not None else SHOWN_IMPORT_ERRORS)
        if dag is not None:
            fileloc, relative = str(dag.get("fileloc") or ""), str(dag.get("relative_fileloc") or "")
            errors = [e for e in errors if (name := str(e.get("filename") or "")) and
                      (name in (fileloc, relative) or fileloc.endswith("/" + name))]
            errors_total = len(errors)
        label = af.label
    following = offset + len(rows)
    truncated = following < total
    more = []
    if truncated:
        more.append(f"{total - following} more run(s): pass next_cursor as cursor")
    if errors_total > min(len(errors), SHOWN_IMPORT_ERRORS):
        more.append(f"{errors_total} DAG files fail to import; {SHOWN_IMPORT_ERRORS} are shown")
    return DagRunList(
        airflow=label, runs=rows, total=total, failed_total=failed_total, truncated=truncated,
        next_cursor=encode_cursor(print_, [following], since_at) if truncated else None,
        import_errors_total=errors_total, import_errors=[import_error_brief(e) for e in errors[:SHOWN_IMPORT_ERRORS]],
        more="; ".join(more) + "." if more else None,
    )
