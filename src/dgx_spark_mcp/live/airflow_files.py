"""diagnose_dag_run without a server: the failed tries in a folder of Airflow task logs, diagnosed like the API's.

Airflow writes one file per try: ``dag_id=D/run_id=R/task_id=T[/map_index=M]/attempt=N.log`` since 2.3
(Airflow 3 in JSON lines), ``D/T/<execution date>/N.log`` before.  A folder (``$AIRFLOW_HOME/logs``, a
DAG's or a run's folder, a copy of them) is walked without following any link — a link could lead out of
the allowed roots — and bounded in the entries it looks at.  A try failed when its log says so (the
markers below); tasks that never ran (upstream_failed) have no file, and task states are not in the
files, which the answer says.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ..errors import BadInputError
from ..files import allowed_path
from ..settings import Settings
from .airflow_logs import LOOKUPS, TryRef, causes, diagnose_try, look_up_spark_application, spark_app_ids
from .airflow_models import DagRunDiagnosis, RunFinding, SparkApplication

__all__ = ["FoundTry", "diagnose_log_folder", "find_tries"]

MAX_ENTRIES = 100_000
"""Directory entries looked at at most; past it the walk stops and says so."""
MAX_DEPTH = 10
SKIPPED_DIRS = {"scheduler", "dag_processor_manager", "dag_processor"}
FAILED = re.compile(rb"Task failed with exception|Marking task as (?:FAILED|UP_FOR_RETRY)|Task exited with return "
                    rb"code (?:-\d+|[1-9]\d*)|Task instance in failure state|\"exit_code\": ?(?:-\d+|[1-9]\d*)"
                    rb"|Process timed out|ERROR - Failed to execute job")
"""What a try's log says when it failed (Airflow 1.10-2.x text and Airflow 3 JSON lines)."""
HEAD_TAIL = 4 << 20
_NEW = re.compile(r"^attempt=(\d+)\.log$")
_OLD = re.compile(r"^(\d+)\.log$")
SHOWN_APPS = 10


@dataclass(frozen=True)
class FoundTry:
    ref: TryRef
    path: Path
    mtime: float
    failed: bool


def _ref(path: Path) -> TryRef | None:
    """Which try a log file is, from its path (either layout); None for other files."""
    parts = path.parts
    new = _NEW.match(path.name)
    if new:
        keys = {p.split("=", 1)[0]: p.split("=", 1)[1] for p in parts[:-1] if "=" in p}
        if not {"dag_id", "run_id", "task_id"} <= keys.keys():
            return None
        index = keys.get("map_index")
        return TryRef(dag_id=keys["dag_id"], run_id=keys["run_id"], task_id=keys["task_id"], try_number=int(new[1]),
                      map_index=int(index) if index and index.lstrip("-").isdigit() and int(index) >= 0 else None)
    old = _OLD.match(path.name)
    if old and len(parts) >= 4 and not any("=" in p for p in parts[-4:-1]):
        return TryRef(dag_id=parts[-4], run_id=parts[-2], task_id=parts[-3], try_number=int(old[1]))
    return None


def _failed(path: Path) -> bool:
    size = path.stat().st_size
    with path.open("rb") as f:
        if size <= 2 * HEAD_TAIL:
            return FAILED.search(f.read()) is not None
        head = f.read(HEAD_TAIL)
        f.seek(size - HEAD_TAIL)
        return FAILED.search(head) is not None or FAILED.search(f.read()) is not None


def find_tries(root: Path, dag_id: str | None = None, run_id: str | None = None) -> tuple[list[FoundTry], int, int, bool]:
    """(tries found under ``root``, entries looked at, links skipped, walk cut short), newest first.

    Only real directories and regular files are entered and read: every symbolic link is skipped.
    """
    found: list[FoundTry] = []
    seen = links = 0
    stack: list[tuple[Path, int]] = [(root, 0)]
    while stack:
        folder, depth = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            seen += 1
            if seen > MAX_ENTRIES:
                return _newest(found), seen - 1, links, True
            if entry.is_symlink():
                links += 1
                continue
            if entry.is_dir(follow_symlinks=False):
                if depth < MAX_DEPTH and not (depth == 0 and entry.name in SKIPPED_DIRS):
                    stack.append((Path(entry.path), depth + 1))
                continue
            if not entry.is_file(follow_symlinks=False):
                continue
            path = Path(entry.path)
            ref = _ref(path)
            if ref is None or (dag_id and ref.dag_id != dag_id) or (run_id and ref.run_id != run_id):
                continue
            try:
                found.append(FoundTry(ref, path, entry.stat(follow_symlinks=False).st_mtime, _failed(path)))
            except OSError:
                continue
    return _newest(found), seen, links, False


def _newest(found: list[FoundTry]) -> list[FoundTry]:
    return sorted(found, key=lambda t: -t.mtime)


def diagnose_log_folder(settings: Settings, path: str, *, dag_id: str | None = None, run_id: str | None = None,
                        limit: int = 10, detail: Literal["summary", "full"] = "summary") -> DagRunDiagnosis:
    """The failed tries under ``path`` (a folder under the allowed roots, or one try's log), newest first, diagnosed."""
    from .airflow_diagnosis import more_sentence

    root = allowed_path(path, settings, directory_ok=True)
    notes: list[str] = []
    if root.is_file():
        ref = _ref(root) or TryRef(dag_id=dag_id or "?", run_id=run_id or "?", task_id="?", try_number=0)
        tries, links, cut = [FoundTry(ref, root, root.stat().st_mtime, True)], 0, False
    else:
        everything, _, links, cut = find_tries(root, dag_id, run_id)
        tries = [t for t in everything if t.failed]
        if not everything:
            wanted = " and ".join(f"{k} {v!r}" for k, v in (("dag_id", dag_id), ("run_id", run_id)) if v)
            skipped = f" ({links} symbolic link(s) not followed)" if links else ""
            raise BadInputError(f"no Airflow task log{' of ' + wanted if wanted else ''} under {path!r}{skipped}: "
                                "expected dag_id=D/run_id=R/task_id=T/attempt=N.log (Airflow 2.3+ and 3) or "
                                "D/T/DATE/N.log files")
        if not tries:
            notes.append(f"none of the {len(everything)} task log(s) found shows a failed try")
    if links:
        notes.append(f"{links} symbolic link(s) were not followed")
    if cut:
        notes.append(f"the walk stopped after {MAX_ENTRIES} entries; give a DAG's or a run's folder")
    chosen = sorted(tries[:limit], key=lambda t: (t.ref.dag_id, t.ref.run_id, t.mtime, t.ref.task_id, t.ref.try_number))
    findings: list[RunFinding] = []
    apps: dict[str, SparkApplication] = {}
    for tried in chosen:
        found, body = diagnose_try(settings, tried.ref, path=tried.path, detail=detail, limit=5)
        findings.extend(found)
        for app_id in spark_app_ids(body):
            apps.setdefault(app_id, SparkApplication(app_id=app_id, task_id=tried.ref.task_id,
                                                     try_number=tried.ref.try_number, map_index=tried.ref.map_index))
    listed = [look_up_spark_application(settings, a) if i < LOOKUPS else a
              for i, a in enumerate(list(apps.values())[:SHOWN_APPS])]
    runs = {(t.ref.dag_id, t.ref.run_id) for t in chosen}
    only = next(iter(runs)) if len(runs) == 1 else (None, None)
    notes.append("from log files: task states and upstream_failed tasks (which never ran, so have no log) are known "
                 "to the Airflow API only")
    result = DagRunDiagnosis(
        summary=_summary(str(root), tries, chosen, findings), source=str(root), dag_id=only[0], run_id=only[1],
        findings=findings, tries_total=len(tries), tries_diagnosed=len(chosen), spark_applications=listed,
        truncated=len(tries) > len(chosen) or cut, notes=notes,
    )
    result.more = more_sentence(result, detail, limit, False)
    return result


def _summary(root: str, tries: list[FoundTry], chosen: list[FoundTry], findings: list[RunFinding]) -> str:
    if not tries:
        return f"no failed try in the task logs under {root}"
    runs = len({(t.ref.dag_id, t.ref.run_id) for t in tries})
    text = f"{len(tries)} failed tr{'y' if len(tries) == 1 else 'ies'} in {runs} run(s) under {root}"
    said = causes(findings, dags=runs > 1)
    text += f" ({said})" if said else ""
    if len(chosen) < len(tries):
        text += f"; the newest {len(chosen)} diagnosed"
    return text
