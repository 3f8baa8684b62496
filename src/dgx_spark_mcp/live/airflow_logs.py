"""One task try's log, diagnosed: diagnose_log's engine on its text (or file), the exception it ended with, and
the Spark applications it names.

The API and a folder of logs hand over the same thing (the log of one try, with its dag, run, task, map
index and try number), so both modes read tries here and answer with the same :class:`RunFinding`.  The
diagnosis is the engine's own (:func:`dgx_spark_mcp.diagnosis.logs.diagnose.diagnose_log`), nested spark-submit
logs included; what this adds is the exception a try ended with, read from Airflow 3's ``error_detail``
or the last line of an Airflow 2 traceback, because that line is what names the failure.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ..errors import DgxSparkError
from ..settings import Settings
from .airflow_models import RunFinding, SparkApplication

__all__ = ["SPARK_APP_ID", "TryRef", "causes", "diagnose_try", "error_of", "look_up_spark_application", "read_bounded",
           "spark_app_ids"]

SPARK_APP_ID = re.compile(r"(?<![A-Za-z0-9])(app-\d{14}-\d{4,}|application_\d{10,13}_\d{4,}|local-\d{13})(?!\d)")
"""Standalone/Kubernetes (app-YYYYMMDDhhmmss-NNNN), YARN (application_<cluster start>_NNNN) and local-mode ids."""
_EXCEPTION = re.compile(r"^((?:[A-Za-z_]\w*\.)*[A-Z]\w*(?:Error|Exception|Timeout|Exit|Interrupt|Failure|Killed))"
                        r"(?::\s?(.*))?$")
LINE_CHARS = 240
SUMMARY_EVIDENCE = 3
FULL_EVIDENCE = 20
TEXT_HEAD = 1 << 20
TEXT_TAIL = 8 << 20


@dataclass(frozen=True)
class TryRef:
    """Which try a log belongs to."""

    dag_id: str
    run_id: str
    task_id: str
    try_number: int
    map_index: int | None = None


def _clip(text: str, most: int = LINE_CHARS) -> str:
    text = text.strip()
    return text if len(text) <= most else text[: most - 1] + "…"


def read_bounded(path: Path) -> str:
    """A log file's text for the exception and application ids: whole, or its head and its tail when it is big."""
    size = path.stat().st_size
    with path.open("rb") as f:
        if size <= TEXT_HEAD + TEXT_TAIL:
            data = f.read()
        else:
            data = f.read(TEXT_HEAD) + b"\n"
            f.seek(size - TEXT_TAIL)
            data += f.read()
    return data.decode("utf-8", "replace")


def _error_detail(line: str) -> str | None:
    try:
        record = json.loads(line)
    except ValueError:
        return None
    chain = record.get("error_detail") if isinstance(record, dict) else None
    if not isinstance(chain, list) or not chain or not isinstance(chain[-1], dict):
        return None
    inner = chain[-1]  # structlog lists the raised exception first, then its causes: the last is the innermost
    text = f"{inner.get('exc_type', 'Exception')}: {inner.get('exc_value', '')}".rstrip(": ")
    outer = chain[0] if isinstance(chain[0], dict) else {}
    if len(chain) > 1 and outer.get("exc_type"):
        text += f" (raised as {outer['exc_type']})"
    return _clip(text)


def error_of(text: str) -> str | None:
    """The exception the try ended with: Airflow 3's last ``error_detail``, else a traceback's last exception line."""
    lines = text.splitlines()
    for line in reversed(lines):
        if '"error_detail"' in line and line.lstrip().startswith("{"):
            found = _error_detail(line)
            if found:
                return found
    for line in reversed(lines):
        stripped = line.strip()
        if stripped.startswith(("[", "{", "File ", "***")):
            continue
        match = _EXCEPTION.match(stripped)
        if match:
            return _clip(stripped)
    return None


def spark_app_ids(text: str) -> list[str]:
    """The Spark application ids a log names, in order of first mention."""
    return list(dict.fromkeys(SPARK_APP_ID.findall(text)))


def diagnose_try(settings: Settings, ref: TryRef, *, text: str | None = None, path: Path | None = None,
                 kind: Literal["airflow", "airflow3_json"] | None = None, detail: Literal["summary", "full"] = "summary",
                 limit: int = 5) -> tuple[list[RunFinding], str]:
    """The findings of one try's log (given as ``text`` or a ``path``), top first, and the text read for more.

    The summary keeps the top finding, its evidence cut to the cause; the full answer up to ``limit``
    findings with their evidence lines and configuration changes.
    """
    from ..diagnosis.logs.diagnose import diagnose_log
    from ..diagnosis.logs.summary import diagnose_summary

    assert (text is None) != (path is None)
    full = diagnose_log(str(path) if path else "", settings, text=text, kind=kind, limit=max(limit, 1), detail="full")
    body = text if text is not None else read_bounded(path)  # type: ignore[arg-type]
    shown = diagnose_summary(full, max(limit, 1)).findings[:1] if detail == "summary" else full.findings[:limit]
    common = {"dag_id": ref.dag_id, "run_id": ref.run_id, "task_id": ref.task_id, "map_index": ref.map_index,
              "try_number": ref.try_number, "error": error_of(body), "log": str(path) if path else None,
              "spark_lines": full.nested_spark_lines or None}
    if not shown:
        note = "no finding in its log" if body.strip() else "its log is empty (the task may have been killed before it logged)"
        return [RunFinding(**common, note=note)], body
    out = []
    most = SUMMARY_EVIDENCE if detail == "summary" else FULL_EVIDENCE
    for finding in shown:
        lines = [_clip(line) for ev in finding.evidence for line in ev.lines if line.strip()][:most]
        out.append(RunFinding(
            **common, category=finding.category, rule_id=finding.rule_id, severity=finding.severity,
            title=finding.title, root_cause=_clip(finding.root_cause, 300 if detail == "summary" else 2000),
            evidence=lines, fix=finding.fix.summary if finding.fix else None,
            changes=finding.fix.changes if finding.fix and detail == "full" else [],
        ))
        common = {**common, "error": None, "spark_lines": None}  # said once, on the try's first finding
    return out, body


def _cause(f: RunFinding) -> str | None:
    """What a summary says a try failed of: the exception it raised, or, when its log shows a deeper cause than
    Airflow's own failure (a nested Spark error), that cause as the diagnosis saw it."""
    if f.category and not f.category.startswith("airflow_"):
        seen = (f.root_cause or "").partition(" Seen")[2].partition(": ")[2]
        return f"{f.title}: {seen}" if seen else f.title
    return f.error or f.title


def causes(findings: list[RunFinding], most: int = 3, chars: int = 160, dags: bool = False) -> str:
    """``task[map] try N: cause; ...`` (``dag/task...`` with ``dags``) for the first ``most`` tries, one cause each."""
    said: dict[tuple[str, str, str, int | None, int], str] = {}
    for f in findings:
        key = (f.dag_id, f.run_id, f.task_id, f.map_index, f.try_number)
        cause = _cause(f)
        if key not in said and cause:
            where = (f"{f.dag_id}/" if dags else "") + f.task_id + (f"[{f.map_index}]" if f.map_index is not None
                                                                   else "") + f" try {f.try_number}"
            said[key] = _clip(f"{where}: {cause}", chars)
    shown = list(said.values())
    return "; ".join(shown[:most]) + (f"; +{len(shown) - most} more" if len(shown) > most else "")


LOOKUPS = 3
"""Spark applications looked up on the History Servers per call at most (each may download an event log)."""


def look_up_spark_application(settings: Settings, app: SparkApplication) -> SparkApplication:
    """The application's event log from the configured History Servers, diagnosed with diagnose_log's engine.

    Uses :func:`dgx_spark_mcp.live.history.fetch_event_log`; without a configured History Server the
    application is listed as found in the log, with a note saying why it was not looked up.
    """
    if not settings.spark_servers:
        return app.model_copy(update={"note": "not looked up: no History Server is configured (DGX_SPARK_MCP_SPARK_SERVERS)"})
    from ..diagnosis.logs.diagnose import diagnose_log
    from .history import fetch_event_log, reading_settings

    try:
        fetched = fetch_event_log(settings, app.app_id)
        result = diagnose_log(fetched.path, reading_settings(settings, fetched), limit=3, detail="summary")
    except DgxSparkError as exc:
        return app.model_copy(update={"note": _clip(str(exc), 300)})
    return app.model_copy(update={"event_log": fetched.source,
                                  "findings": [f"{f.rule_id}: {f.title}" for f in result.findings[:3]]})
