"""GC pressure read from the JVM's own GC log lines in a driver log (``-Xlog:gc`` or ``-verbose:gc``).

Spark jobs tuned for memory are often run with GC logging on (``spark.driver.extraJavaOptions=-Xlog:gc``),
and in local mode or on the driver that output lands in the same log as log4j's.  No single GC line is
a failure, so the signature scan never stops at them; this reads them in one regex pass over the bytes:

- JDK 9+ unified logging: ``[12.345s][info][gc] GC(7) Pause Full (G1 Compaction Pause) 510M->498M(512M)
  812.345ms`` (other decorations, such as a wall-clock time before the uptime, may come first);
- JDK 8 ``-verbose:gc`` / ``-XX:+PrintGCDetails``: ``2.345: [Full GC (Ergonomics) ... 1234K->1200K(1500K),
  ... 1.2345 secs]`` (the uptime prefix is optional).

The JVM is short of heap when its pauses take a large share of the time the log covers (the same share
as the event-log analysis's GC finding, ``slow_gc_share``), or when full collections that System.gc() did not
ask for keep leaving the heap well filled (``slow_full_gc_count`` of them leaving it ``slow_full_gc_heap_share``
full or more: the heap is less than twice the live data, and the next full collection follows soon).
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Iterator
from dataclasses import dataclass, field

__all__ = ["GcPauses", "gc_pauses", "gc_pressure"]

_SIZE = rb"(\d+(?:\.\d+)?)([KMG])"
_UNIFIED = re.compile(rb"\[(\d+(?:\.\d+)?)s\](?:\[[^\]\n]*\])*?\[gc[ \]][^\n]*? GC\(\d+\) Pause (\w+)[^\n]*? "
                      + _SIZE + rb"->" + _SIZE + rb"\(" + _SIZE + rb"\) (\d+(?:\.\d+)?)ms")
_LEGACY = re.compile(rb"(?:(\d+(?:\.\d+)?): )?\[(Full GC|GC)\b[^\n]*? " + _SIZE + rb"->" + _SIZE + rb"\(" + _SIZE
                     + rb"\)(?:, \[Metaspace[^\]\n]*\])?, (\d+(?:\.\d+)?) secs\]")
_UNITS = {b"K": 1024, b"M": 1024**2, b"G": 1024**3}


@dataclass
class GcPauses:
    """The stop-the-world pauses a GC log shows."""

    pause_ms: float = 0.0
    pauses: int = 0
    first_s: float | None = None
    last_s: float | None = None
    """The JVM uptime of the first and the last pause, when the lines carry it."""
    full_after: list[tuple[int, int, int]] = field(default_factory=list)
    """(offset, heap after, heap capacity) of every full collection."""

    @property
    def span_ms(self) -> float | None:
        if self.first_s is None or self.last_s is None:
            return None
        return (self.last_s - self.first_s) * 1000

    def add(self, uptime: bytes | None, full: bool, offset: int, after: int, capacity: int, ms: float) -> None:
        self.pauses += 1
        self.pause_ms += ms
        if uptime is not None:
            at = float(uptime)
            self.first_s = at if self.first_s is None else self.first_s
            self.last_s = at + ms / 1000
        if full:
            self.full_after.append((offset, after, capacity))


def _bytes(value: bytes, unit: bytes) -> int:
    return int(float(value) * _UNITS[unit])


def _lines_with(data: bytes, needle: bytes) -> Iterator[tuple[int, bytes]]:
    """(offset, line) of every line of ``data`` holding ``needle``: found with ``bytes.find`` (a regex whose first
    part is optional would be tried at every byte of a big log: 5 s for 64 MiB)."""
    pos = data.find(needle)
    while pos >= 0:
        start = data.rfind(b"\n", 0, pos) + 1
        end = data.find(b"\n", pos)
        end = len(data) if end < 0 else end
        yield start, data[start:end]
        pos = data.find(needle, end)


def gc_pauses(data: bytes) -> GcPauses:
    """Every GC pause in ``data`` (unified or legacy lines; a log holds one kind)."""
    found = GcPauses()
    for offset, line in _lines_with(data, b" Pause "):
        if m := _UNIFIED.search(line):
            uptime, kind, _, _, a, au, c, cu, ms = m.groups()
            asked = b"System.gc()" in line  # an explicit call, not a heap that ran out
            found.add(uptime, kind == b"Full" and not asked, offset, _bytes(a, au), _bytes(c, cu), float(ms))
    if found.pauses:
        return found
    for offset, line in _lines_with(data, b"GC"):
        if m := _LEGACY.search(line):
            uptime, kind, _, _, a, au, c, cu, secs = m.groups()
            asked = b"System.gc()" in line
            found.add(uptime, kind == b"Full GC" and not asked, offset, _bytes(a, au), _bytes(c, cu),
                      float(secs) * 1000)
    return found


def gc_pressure(data: bytes, *, gc_share: float, min_span_ms: int, full_count: int,
                full_heap_share: float) -> tuple[str, int | None] | None:
    """(what the GC log shows, offset of the fullest full collection) when the heap was too small; else None."""
    found = gc_pauses(data)
    if not found.pauses:
        return None
    span = found.span_ms
    share = found.pause_ms / span if span and span >= min_span_ms else None
    full = found.full_after
    full_shares = [after / capacity for _, after, capacity in full if capacity]
    crowded = len(full) >= full_count and full_shares and statistics.median(full_shares) >= full_heap_share
    if not crowded and (share is None or share < gc_share):
        return None
    said = f"JVM GC paused {found.pauses} time(s) for {found.pause_ms / 1000:.1f} s"
    if span:
        said += f" in the {span / 1000:.1f} s its log covers ({found.pause_ms / span:.0%})"
    worst = max(full, key=lambda f: f[1] / f[2] if f[2] else 0.0) if full else None
    if full and worst is not None:
        said += (f"; {len(full)} full collection(s) left the heap a median {statistics.median(full_shares):.0%} full "
                 f"(the fullest {worst[1] / 1024**2:.0f} MiB of {worst[2] / 1024**2:.0f} MiB)")
    said += ": the heap is too small for the data the JVM holds"
    return said, worst[0] if worst is not None else None
