"""The offline analyses, run on an application's event log fetched from its History Server.

``analyze_event_log`` and ``diagnose_log`` take an application reference instead of a path; the tools and
the CLI both come here, so both answer alike.  The log is fetched into the cache (:mod:`.history`) and
read by the very functions that read a file on disk: the answer is the on-disk answer, with ``source``
naming the application (``server/app-id[/attempt]``) and the cache's paths in the evidence replaced by it.

A cache entry never changes (a running application's next state is a new entry), so ``analyze_app`` keeps
the full analysis of the :data:`KEPT` most recently analysed entries for the life of the process: asking
again costs the server's one ``/applications/{id}`` answer and the run-history update, not a second read
of the log (hundreds of MB in a second or more).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from ..errors import BadInputError
from ..settings import Settings
from .history import FetchedLog, fetch_event_log, reading_settings

if TYPE_CHECKING:
    from ..diagnosis.eventlogs.models import EventLogAnalysis
    from ..diagnosis.logs.diagnose import DiagnoseResult
    from ..optimizers.models import Workload

__all__ = ["analyze_app", "diagnose_app", "one_source"]


KEPT = 8
"""Full analyses of fetched logs kept in memory (least recently used dropped first)."""
_kept: OrderedDict[tuple[Any, ...], EventLogAnalysis] = OrderedDict()
_kept_lock = threading.Lock()

_WHAT = {"path": "path (a file under the allowed roots)", "text": "text (a pasted log)",
         "app": "app (a History Server application: app-id, server/app-id or server/app-id/attempt)"}


def one_source(**given: str | None) -> None:
    """Exactly one of the sources a tool takes (path and app; path, text and app); an error naming them otherwise."""
    chosen = [name for name, value in given.items() if value is not None]
    if len(chosen) != 1:
        options = ", ".join(_WHAT[name] for name in given)
        raise BadInputError(f"give exactly one of {options}; got {' and '.join(chosen) or 'none'}")


def _label(fetched: FetchedLog, file: str | None) -> str | None:
    """A cache path as the agent knows it: ``server/app-id:relative/name``."""
    if file is None:
        return None
    root = str(fetched.path.parent) + "/"
    return f"{fetched.source}:{file[len(root):]}" if file.startswith(root) else file


def analyze_app(settings: Settings, ref: str, executor_counts: Sequence[int] | None = None, limit: int = 20,
                workload: Workload | None = None, hardware: str | None = None,
                detail: Literal["summary", "full"] = "summary") -> EventLogAnalysis:
    from ..diagnosis.eventlogs.run_history import analyze_and_remember, remember
    from ..diagnosis.eventlogs.summary import event_log_summary
    from ..files import allowed_path

    fetched = fetch_event_log(settings, ref)
    reading = reading_settings(settings, fetched)
    stat = fetched.path.stat()
    key = (str(fetched.path), stat.st_mtime_ns, stat.st_size, settings.max_file_mib,
           None if executor_counts is None else tuple(executor_counts), limit)
    with _kept_lock:
        kept = _kept.get(key)
        if kept is not None:
            _kept.move_to_end(key)
    if kept is None:  # read the log (and record the run) exactly as for a path on disk
        full = analyze_and_remember(fetched.path, reading, executor_counts, limit, workload, hardware, detail="full")
        with _kept_lock:
            _kept[key] = full.model_copy(deep=True)
            while len(_kept) > KEPT:
                _kept.popitem(last=False)
    else:  # analysed before: only the run history is asked again (its answer says kept or already)
        full = kept.model_copy(deep=True)
        full.history = remember(full, allowed_path(fetched.path, reading, directory_ok=True), reading, workload,
                                hardware)
    result = full if detail == "full" else event_log_summary(full, limit, explicit_counts=executor_counts is not None)
    result.source = fetched.source
    return result


def diagnose_app(settings: Settings, ref: str, *, hardware: str | dict[str, Any] | None = None, limit: int = 20,
                 kind: str | None = None, detail: Literal["summary", "full"] = "summary") -> DiagnoseResult:
    from ..diagnosis.logs.diagnose import diagnose_log

    fetched = fetch_event_log(settings, ref)
    result = diagnose_log(fetched.path, reading_settings(settings, fetched), hardware=hardware, limit=limit, kind=kind,
                          detail=detail)
    for finding in result.findings:
        for evidence in finding.evidence:
            evidence.file = _label(fetched, evidence.file)
    result.source = fetched.source
    return result
