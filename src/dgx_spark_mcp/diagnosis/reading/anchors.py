"""The anchors the log reader stops at, and the pass that finds them, a block ahead of the reader.

Spark logs are read at the generic anchors and those each Spark signature declares (``anchors`` in
data/log-signatures.json): kept under 64 patterns, the most the Aho-Corasick library's SIMD prefilter
takes.  A plain-text log (a pasted excerpt, a format not recognised) may hold the marker of any
signature, Airflow's included, on a line without ``ERROR``, ``Exception`` or ``Error`` ("Detected zombie
job" is an INFO line): it is read at a wider set, with literals one of which every match of each
signature pattern holds.  Text logs are small, so the slower search over more patterns costs little.

The search runs over the block's ``bytes`` object, for which the library releases the GIL (it keeps it
for a memoryview); on logs of more than one block a thread reads and searches the next blocks while the
reader parses this one (:func:`searched`).
"""

from __future__ import annotations

import queue
import threading
from bisect import bisect_left
from collections.abc import Iterable, Iterator
from functools import cache
from typing import Any

from .logkind import LogKind
from .shapes import required_literals

__all__ = ["GENERIC_ANCHORS", "anchors", "searched", "text_anchors"]

GENERIC_ANCHORS = ("ERROR", "Exception", "Error")
"""Every error worth reading names one of these.  WARN is not one: the WARN lines that matter
(a lost executor, a YARN kill) carry their signature's own anchors, and the rest is noise.  FATAL
is not one either: Spark does not log at FATAL, and a FATAL line that matters names an Exception
or Error anyway."""
AHEAD = 3
"""Blocks read and searched ahead of the reader (4 MiB each): with the one read next and the one taken,
the memory the threads add."""
SEARCHERS = 2
"""Threads searching blocks at once: the search is the whole cost of a quiet log's scan (1 GB/s with the
Spark anchors), and on a machine with CPUs to spare two of them keep up with the reader."""
_OFFER_S = 0.05
"""How often a thread waiting for the reader to take a block checks whether the reader stopped."""

Block = tuple[bytes, int, int]
Searched = tuple[bytes, int, int, list[int]]


@cache
def anchors() -> tuple[str, ...]:
    """The generic anchors and every Spark signature's (``anchors`` in data/log-signatures.json).

    Airflow signatures need none: Airflow logs are read line by line.  Kept under 64 patterns,
    the most the library's SIMD prefilter takes.
    """
    from ..findings.signatures import spark_signatures

    # Shortest first: the library's SIMD prefilter buckets patterns in the order given, and this order searched real
    # driver logs (the blind set's) 9% and the throughput bench's log 26% faster than an alphabetical one.  No result
    # changes: the reader uses only where matches start, and every line with an anchor still holds a match.
    return tuple(sorted({*GENERIC_ANCHORS, *(a for s in spark_signatures() for a in s.anchors)}, key=lambda a: (len(a), a)))


@cache
def text_anchors() -> tuple[str, ...]:
    """What a plain-text log is read at: the generic anchors, every signature's anchors (Airflow's too) and,
    for each pattern of every signature, literals one of which each of its matches holds (a pattern with
    none, a rare alternation of bare classes, relies on its signature's anchors as in a Spark log)."""
    from ..findings.signatures import signatures

    found = {*GENERIC_ANCHORS}
    for signature in signatures().signatures:
        found.update(signature.anchors)
        for pattern in signature.patterns:
            found.update(required_literals(pattern) or ())
    return tuple(sorted(found))


@cache
def _search(text: bool) -> Any:
    """One Aho-Corasick pass finds every anchor: about 8 GB/s here against 0.5 GB/s for one
    ``bytes.find`` pass per anchor, which made the reader a tenth of grep's speed."""
    import ahocorasick_rs

    # Leftmost-first semantics let the library use its SIMD (Teddy) prefilter: 2+ GB/s with
    # dozens of anchors, against 0.6 GB/s for the standard semantics.  Every line that holds an
    # anchor still holds a match: an anchor has no newline, so a match that hides one is on its line.
    chosen = text_anchors() if text else anchors()
    return ahocorasick_rs.BytesAhoCorasick([a.encode() for a in chosen], matchkind=ahocorasick_rs.MatchKind.LeftmostFirst)


def _hits(search: Any, buf: bytes, start: int, end: int) -> list[int]:
    """Offsets (in ``buf``) of the anchors in ``buf[start:end]``, which starts and ends at line boundaries.

    A block that is most of its buffer is searched whole, as ``bytes`` (the library then releases the GIL),
    and the matches outside it are dropped: none crosses a newline, so those inside are the same."""
    if type(buf) is bytes and 2 * (end - start) >= len(buf):
        found = [at for _, at, _ in search.find_matches_as_indexes(buf)]
        if start or end < len(buf):
            found = found[bisect_left(found, start) : bisect_left(found, end)]
        return found
    window = memoryview(buf)[start:end]
    try:
        return [start + at for _, at, _ in search.find_matches_as_indexes(window)]
    finally:
        window.release()


def searched(blocks: Iterable[Block], mode: LogKind) -> Iterator[Searched]:
    """The blocks with the offsets of their anchors for a reader of kind ``mode``.

    From the second block on, threads read and search up to AHEAD blocks ahead (the file read and the
    search both release the GIL): on a machine with CPUs to spare, the reader's own work is then the
    parsing of the lines around the hits.  A one-block log starts no thread."""
    search = _search(mode is LogKind.TEXT)
    blocks = iter(blocks)
    for buf, start, end in blocks:
        yield buf, start, end, _hits(search, buf, start, end)
        break
    else:
        return
    yield from _ahead(blocks, search)


def _ahead(blocks: Iterator[Block], search: Any) -> Iterator[Searched]:
    """A thread reads the blocks and hands each to one of SEARCHERS threads; the reader takes them in order."""
    from concurrent.futures import Future, ThreadPoolExecutor

    ready: queue.Queue[tuple[bytes, int, int, Future[list[int]]] | BaseException | None] = queue.Queue(maxsize=AHEAD)
    stop = threading.Event()
    searchers = ThreadPoolExecutor(max_workers=SEARCHERS, thread_name_prefix="anchor-search")

    def offer(item: tuple[bytes, int, int, Future[list[int]]] | BaseException | None) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=_OFFER_S)
                return True
            except queue.Full:
                continue
        return False  # the reader stopped (an error, or it was closed): drop the rest

    def run() -> None:
        try:
            for buf, start, end in blocks:
                if not offer((buf, start, end, searchers.submit(_hits, search, buf, start, end))):
                    return
        except BaseException as exc:  # noqa: BLE001 - raised in the reader's thread, where it belongs
            offer(exc)
            return
        offer(None)

    thread = threading.Thread(target=run, name="log-read", daemon=True)
    thread.start()
    try:
        while (item := ready.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            buf, start, end, hits = item
            yield buf, start, end, hits.result()
    finally:
        stop.set()
        thread.join()
        searchers.shutdown(cancel_futures=True)
