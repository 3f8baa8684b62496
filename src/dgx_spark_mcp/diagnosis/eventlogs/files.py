"""Which files make up one Spark event log, in reading order, and is the application still running.

Spark writes an event log either as one file (``<app-id>[.<codec>][.inprogress]``) or, with
``spark.eventLog.rolling.enabled`` (the default since Spark 4.0), as a directory::

    eventlog_v2_<app-id>/
        events_1_<app-id>[.<codec>]
        events_2_<app-id>[.<codec>]
        appstatus_<app-id>[.inprogress]     # empty; the suffix says the app is still running

The ``events_<n>`` files are read in the order of ``n`` (numerically: 10 after 9).  Hidden files
(Hadoop's ``.crc`` checksums) are ignored.  Every file inside a directory goes through the same
allowed-roots check as the directory itself, so a link inside it cannot lead out of the roots.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ...errors import BadInputError
from ...files import allowed_path
from ...settings import Settings

__all__ = ["EventLogSource", "locate_event_log"]

_EVENTS_FILE = re.compile(r"^events_(\d+)_(.+?)(\.[a-z0-9]+)?$")
_SHOWN = 20


@dataclass(frozen=True)
class EventLogSource:
    path: Path
    files: tuple[Path, ...]
    rolling: bool
    in_progress: bool
    """True when Spark marked the log as still being written (``.inprogress``)."""


def _listing(folder: Path) -> str:
    names = sorted(p.name + ("/" if p.is_dir() else "") for p in folder.iterdir() if not p.name.startswith("."))
    shown = ", ".join(names[:_SHOWN]) or "nothing"
    more = f" and {len(names) - _SHOWN} more" if len(names) > _SHOWN else ""
    return f"{shown}{more}"


def locate_event_log(raw: str | Path, settings: Settings) -> EventLogSource:
    """The files of the event log at ``raw``; BadInputError when it is not one."""
    path = allowed_path(raw, settings, directory_ok=True)
    if path.is_file():
        return EventLogSource(path, (path,), rolling=False, in_progress=path.name.endswith(".inprogress"))
    parts: list[tuple[int, Path]] = []
    in_progress = False
    for entry in path.iterdir():
        if entry.name.startswith("."):
            continue
        if entry.name.startswith("appstatus_"):
            in_progress = entry.name.endswith(".inprogress")
            continue
        match = _EVENTS_FILE.match(entry.name)
        if match is not None and entry.is_file():
            parts.append((int(match.group(1)), allowed_path(entry, settings)))
    if not parts:
        kind = "a rolling event-log directory without events_<n>_<app-id> files" if path.name.startswith(
            "eventlog_v2_"
        ) else "a directory, not an event log"
        raise BadInputError(
            f"path {str(raw)!r} is {kind}; it holds: {_listing(path)}. "
            "Give one event-log file, or an eventlog_v2_<app-id> directory."
        )
    parts.sort()
    return EventLogSource(path, tuple(p for _, p in parts), rolling=True, in_progress=in_progress)
