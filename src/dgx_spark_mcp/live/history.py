"""An application's event log, fetched from its History Server into a bounded cache, ready for the offline analyses.

``fetch_event_log(settings, "prod/app-20240101123000-0001")`` finds the application (an id alone is looked
for on every configured server, and the server that held it is remembered), downloads
``/api/v1/applications/{id}[/{attempt}]/logs`` (a zip of the log file, or of a rolling ``eventlog_v2_*``
directory) and unpacks it under ``<home>/live/eventlogs/<server>/<app>/<attempt>-<last update>/``.  The
analyses then read that path exactly as they read a file on disk, so a fetched log and the same log on
disk give the same answer.

Why a cache keyed by the application's last-update time: a finished application never changes, so asking
again (or diagnosing after analysing) costs no download; a running one changes its last-update time, so it
is fetched anew and its older copy dropped.  The cache is bounded by ``live_cache_mib``, least recently
used entries dropped first.  The download and the unpacked log are each bounded by ``max_file_mib``; the
zip is unpacked a member at a time through a fixed buffer, so memory stays flat whatever the log's size.
"""

from __future__ import annotations

import difflib
import hashlib
import logging
import os
import re
import shutil
import threading
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from ..errors import BadInputError, CouldNotDoError, UnavailableError
from ..files import max_file_bytes
from ..settings import Settings
from . import spark_rest
from .servers import SparkServer
from .spark_servers import AppRef, find_app, is_local, parse_app_ref
from .transport import Connection, Deadline, NotFound

__all__ = ["FetchedLog", "Located", "cache_root", "fetch_event_log", "locate_app", "reading_settings"]

log = logging.getLogger(__name__)

DONE = ".fetched"
"""Marker of a complete cache entry; its modification time is the entry's last use."""
_PROCESSING = re.compile(r"(\d+)\s+event log\(s\) currently being\s+processed")
_SAFE = re.compile(r"[^A-Za-z0-9._-]")
_lock = threading.Lock()


@dataclass(frozen=True)
class FetchedLog:
    """An event log in the cache: the file or ``eventlog_v2_*`` directory the analyses read."""

    path: Path
    server: str
    app_id: str
    attempt: str | None
    from_cache: bool

    @property
    def source(self) -> str:
        """The reference the answers name: ``server/app-id[/attempt]``."""
        return str(AppRef(app_id=self.app_id, server=self.server, attempt=self.attempt))


@dataclass(frozen=True)
class Located:
    """Where an application is: its server, its ``/applications/{id}`` answer and the attempt meant."""

    server: SparkServer
    app: dict[str, Any]
    attempt: dict[str, Any]

    @property
    def attempt_id(self) -> str | None:
        value = self.attempt.get("attemptId")
        return str(value) if value is not None else None


def cache_root(settings: Settings) -> Path:
    return settings.home / "live" / "eventlogs"


def reading_settings(settings: Settings, fetched: FetchedLog) -> Settings:
    """The settings an analysis of ``fetched`` runs with: the cache is one more allowed root (for this call only)."""
    root = cache_root(settings).resolve()
    return settings.model_copy(update={"allowed_roots": [*settings.allowed_roots, root]})


# ---- finding the application --------------------------------------------------------------------------


def _pick_attempt(server: SparkServer, app: dict[str, Any], ref: AppRef) -> dict[str, Any]:
    attempts = [a for a in app.get("attempts") or [] if isinstance(a, dict)]
    if not attempts:
        raise CouldNotDoError(f"{server.name} lists application {ref.app_id!r} without any attempt; try again later")
    ids = [str(a["attemptId"]) for a in attempts if a.get("attemptId") is not None]
    if ref.attempt is not None:
        for attempt in attempts:
            if str(attempt.get("attemptId")) == ref.attempt:
                return attempt
        raise BadInputError(f"application {ref.app_id!r} on {server.name} has no attempt {ref.attempt!r}; its attempts: "
                            f"{', '.join(ids) or 'one, without an id (leave the attempt out)'}")
    if len(attempts) > 1:
        raise BadInputError(f"application {ref.app_id!r} on {server.name} has {len(attempts)} attempts ({', '.join(ids)}); "
                            f"name one: {server.name}/{ref.app_id}/{ids[0]} is the latest")
    return attempts[0]


def _still_reading(conn: Connection) -> int:
    """Event logs a History Server is still parsing (its start page says so; a driver UI has no such page)."""
    try:
        page = conn.get_text("/", max_chars=256 * 1024)
    except CouldNotDoError:
        return 0
    match = _PROCESSING.search(page)
    return int(match.group(1)) if match else 0


def _closest(asked: list[SparkServer], app_id: str, deadline: Deadline) -> list[str]:
    """The ids most like ``app_id`` on the servers that did not have it: a typo's likely meaning."""
    ids: dict[str, str] = {}
    for server in asked:
        try:
            with Connection(server, deadline=deadline, what="Spark server") as conn:
                for app in spark_rest.applications(conn):
                    if isinstance(app, dict) and app.get("id"):
                        ids.setdefault(str(app["id"]), server.name)
        except CouldNotDoError:
            continue
    return [f"{server}/{found}" for found, server in
            ((m, ids[m]) for m in difflib.get_close_matches(app_id, list(ids), n=3, cutoff=0.6))]


def locate_app(settings: Settings, ref: AppRef, deadline: Deadline) -> Located:
    """The server that has ``ref``'s application and the attempt meant; the errors say what to do when none has."""
    def unlisted(server: SparkServer, conn: Connection) -> UnavailableError | None:
        reading = _still_reading(conn)
        return UnavailableError(
            f"{server.name} has not listed {ref.app_id!r} yet: it is still reading {reading} event log(s) (a new or "
            "big log takes a while); try again in a few seconds") if reading else None

    search = find_app(settings, ref, deadline, unlisted=unlisted)
    if search.server is not None:
        return Located(search.server, search.app, _pick_attempt(search.server, search.app, ref))
    if not search.misses:
        raise BadInputError(f"no Spark server to look for {ref.app_id!r} on: configure one with "
                            "DGX_SPARK_MCP_SPARK_SERVERS=name=url (a History Server)")
    where = ", ".join(s.name for s in search.absent)
    if search.failed:  # it may be on a server that did not answer: a later call may find it
        problems = "; ".join(f"{server.name}: {exc}" for server, exc in search.failed)
        raise UnavailableError(f"application {ref.app_id!r} is not on {where or 'any server that answered'}, and "
                               f"{problems}")
    closest = _closest(search.absent, ref.app_id, deadline)
    hint = f"closest: {', '.join(closest)}" if closest else "none has a similar id; list them with list_spark_apps"
    raise BadInputError(f"no application {ref.app_id!r} on {where} ({hint}); a log written moments ago is listed "
                        "after the server's next scan")


# ---- the cache ------------------------------------------------------------------------------------------


def _safe(text: str) -> str:
    return _SAFE.sub("_", text)[:120] or "_"


def _entry(settings: Settings, located: Located, app_id: str) -> Path:
    server = located.server
    url_hash = hashlib.sha256(server.url.encode()).hexdigest()[:8]
    updated = located.attempt.get("lastUpdatedEpoch") or _safe(str(located.attempt.get("lastUpdated", "0")))
    return (cache_root(settings) / f"{_safe(server.name)}-{url_hash}" / _safe(app_id)
            / f"{_safe(located.attempt_id or '_')}-{updated}")


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def _entries(root: Path) -> list[Path]:
    return [marker.parent for marker in root.glob(f"*/*/*/{DONE}")]


def _evict(settings: Settings, keep: Path) -> None:
    """Drop the least recently used entries until the cache fits ``live_cache_mib`` (``keep`` stays)."""
    budget = settings.live_cache_mib * 1024**2
    entries = sorted(_entries(cache_root(settings)), key=lambda e: (e / DONE).stat().st_mtime)
    sizes = {e: _size(e) for e in entries}
    total = sum(sizes.values())
    for entry in entries:
        if total <= budget:
            break
        if entry == keep:
            continue
        shutil.rmtree(entry, ignore_errors=True)
        total -= sizes[entry]
        log.info("dropped %s from the event-log cache (over %d MiB)", entry.name, settings.live_cache_mib)
        for parent in (entry.parent, entry.parent.parent):  # the app's and the server's folders, once empty
            try:
                parent.rmdir()
            except OSError:
                break
    for stale in cache_root(settings).glob("*/*/*.part-*"):  # unpacking that died with its process
        if time.time() - stale.stat().st_mtime > 3600:
            shutil.rmtree(stale, ignore_errors=True)


def _unpack(archive: Path, dest: Path, max_bytes: int, label: str) -> None:
    """The zip's members into ``dest``, through a fixed buffer; names that would leave it, and more than
    ``max_bytes`` unpacked, are refused."""
    total = 0
    try:
        with zipfile.ZipFile(archive) as zf:
            for member in zf.infolist():
                name = PurePosixPath(member.filename)
                if name.is_absolute() or ".." in name.parts or not name.parts:
                    raise CouldNotDoError(f"{label}: the event-log zip holds {member.filename!r}, a path outside its "
                                          "folder; not unpacked")
                target = dest.joinpath(*name.parts)
                if member.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(member) as src, target.open("wb") as out:
                    while chunk := src.read(1 << 20):
                        total += len(chunk)
                        if total > max_bytes:
                            raise CouldNotDoError(f"{label}: the event log unpacks to more than {max_bytes / 1024**2:,.0f}"
                                                  " MiB (DGX_SPARK_MCP_MAX_FILE_MIB); raise that limit to analyse it")
                        out.write(chunk)
    except zipfile.BadZipFile as exc:
        raise CouldNotDoError(f"{label}: the History Server's answer is not a readable zip ({exc}); try again") from None


def _log_in(entry: Path, label: str) -> Path:
    """The one event log (file or eventlog_v2_* directory) an unpacked entry holds."""
    found = [p for p in entry.iterdir() if not p.name.startswith(".")]
    if len(found) != 1:
        names = ", ".join(sorted(p.name for p in found)) or "nothing"
        raise CouldNotDoError(f"{label}: expected one event log in the History Server's zip, found {names}")
    return found[0]


def _download(located: Located, app_id: str, entry: Path, settings: Settings, deadline: Deadline, label: str) -> None:
    staging = entry.with_name(f"{entry.name}.part-{os.getpid()}-{threading.get_ident()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        archive = staging / ".logs.zip"
        with Connection(located.server, deadline=deadline, what="Spark server") as conn:
            try:
                spark_rest.logs(conn, app_id, archive, max_file_bytes(settings), attempt=located.attempt_id)
            except NotFound:
                raise UnavailableError(f"{located.server.name} lists {app_id!r} but has no event log for it yet; "
                                       "try again in a few seconds") from None
        _unpack(archive, staging, max_file_bytes(settings), label)
        archive.unlink()
        _log_in(staging, label)
        (staging / DONE).touch()
        try:
            staging.rename(entry)
        except OSError:  # another process fetched it meanwhile: theirs is as good
            if not (entry / DONE).exists():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def fetch_event_log(settings: Settings, ref: str) -> FetchedLog:
    """The event log of the application ``ref`` names (``app-id``, ``server/app-id``, ``server/app-id/attempt``),
    from the cache or downloaded into it.

    BadInputError: an unknown server (the known ones named) or application (the closest ids named), or an
    attempt to choose.  UnavailableError: the server cannot be reached, or has not read the application's
    log yet.  CouldNotDoError: the log is larger than ``max_file_mib``, or not a readable zip.
    """
    wanted = parse_app_ref(ref)
    deadline = Deadline(settings.live_deadline_s)
    located = locate_app(settings, wanted, deadline)
    app_id = str(located.app.get("id") or wanted.app_id)
    label = str(AppRef(app_id=app_id, server=located.server.name, attempt=located.attempt_id))
    if is_local(located.server):
        raise CouldNotDoError(f"{label} runs on this machine, and a driver UI serves no event log (only a History "
                              "Server does): analyse the file under its spark.eventLog.dir, or its History Server's "
                              "copy once it lists it (spark_app_status reads the running app itself)")
    entry = _entry(settings, located, app_id)
    with _lock:
        cached = (entry / DONE).exists() and settings.live_cache_mib > 0
        if cached:
            (entry / DONE).touch()
        else:
            shutil.rmtree(entry, ignore_errors=True)
            entry.parent.mkdir(parents=True, exist_ok=True)
            _download(located, app_id, entry, settings, deadline, label)
            for older in entry.parent.glob("*"):  # an earlier state of the same (running) attempt
                if older != entry and older.name.startswith(f"{_safe(located.attempt_id or '_')}-") \
                        and (older / DONE).exists():
                    shutil.rmtree(older, ignore_errors=True)
        _evict(settings, keep=entry)
    return FetchedLog(path=_log_in(entry, label), server=located.server.name, app_id=app_id,
                      attempt=located.attempt_id, from_cache=cached)
