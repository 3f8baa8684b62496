"""Big plain Spark logs scanned by several processes: one byte range per worker, split at record starts.

On a machine with 4 or more CPUs, a big plain Spark log is split at record starts into one byte
range per worker, scanned by forked processes (``bytes.find`` holds the GIL, so threads would not
help).  Each worker sends its records back in small chunks through a bounded queue, and this process
takes them range by range, in file order, with line numbers made file-wide: a worker ahead of the
reader waits instead of piling records up, so an error-heavy log costs the same memory as a quiet one.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from ...errors import CouldNotDoError
from .log_reader import _RECORD_START, read_records
from .logkind import LogKind
from .record import ReadStats, Record

__all__ = ["PARALLEL_MIN_BYTES", "ParallelScan", "workers_for"]


PARALLEL_MIN_BYTES = 64 * 1024**2
"""Plain Spark logs from this size up are scanned by several processes."""
MIN_CPUS_FOR_WORKERS = 4
_RANGE_READ = 1 << 22
_SPLIT_PROBE = 1 << 20


def workers_for(size: int) -> int:
    """How many worker processes scan a plain log of ``size`` bytes (0: scan in this process).

    One CPU is left to this process, which hashes the file for the context store meanwhile.
    Below MIN_CPUS_FOR_WORKERS the fork, the pool and the records' trip back cost more than they
    gain: on a 2-CPU machine, 317 MB took 2.9 s with one worker against 2.3 s in-process.
    """
    cpus = os.cpu_count() or 1
    if size < PARALLEL_MIN_BYTES or cpus < MIN_CPUS_FOR_WORKERS:
        return 0
    return max(1, min(cpus - 1, 16, size // (PARALLEL_MIN_BYTES // 2)))


def _split_points(path: Path, size: int, parts: int) -> list[int]:
    """Offsets of record starts near ``size * k / parts``: a stack trace never straddles two ranges."""
    points = [0]
    with path.open("rb") as f:
        for k in range(1, parts):
            f.seek(size * k // parts)
            probe = f.read(_SPLIT_PROBE)
            base = size * k // parts
            i = probe.find(b"\n")
            while 0 <= i < len(probe) - 20:
                if _RECORD_START.match(probe, i + 1):
                    if base + i + 1 > points[-1]:
                        points.append(base + i + 1)
                    break
                i = probe.find(b"\n", i + 1)
    return [*points, size]


def _range_blocks(path: Path, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """Whole lines of bytes ``start:end`` of a plain file, in blocks (the last one may lack its newline)."""
    carry = b""
    with path.open("rb") as f:
        f.seek(start)
        left = end - start
        while left > 0:
            chunk = f.read(min(_RANGE_READ, left))
            if not chunk:
                break
            left -= len(chunk)
            buf = carry + chunk if carry else chunk
            cut = buf.rfind(b"\n") + 1
            if cut:
                yield buf, 0, cut
            carry = buf[cut:]
    if carry:
        yield carry, 0, len(carry)


CHUNK_RECORDS = 256
"""Records a worker sends at once; with CHUNK_CHARS and QUEUED_CHUNKS this bounds what is in flight."""
CHUNK_CHARS = 1 << 20
QUEUED_CHUNKS = 4
"""Chunks a worker may have waiting for the reader before it blocks."""
_POLL_S = 1.0


class Shiftable(Protocol):
    """What a worker hands back: a record, or what was made of one, with range-local line numbers."""

    def shift(self, lines: int) -> None: ...


S = TypeVar("S", bound=Shiftable)


def _scan_range(queue: Any, path: Path, start: int, end: int, mode: LogKind,
                prepare: Callable[[Record], Shiftable | None] | None) -> None:
    """A worker: the records of bytes ``start:end`` (through ``prepare``, which may drop them), put
    on ``queue`` in bounded chunks, then the range's stats.  ``put`` blocks while the queue is full."""
    try:
        stats = ReadStats()
        chunk: list[Shiftable] = []
        chars = 0
        for record in read_records(_range_blocks(path, start, end), mode, stats):
            item = record if prepare is None else prepare(record)
            if item is None:
                continue
            chunk.append(item)
            chars += record.chars()
            if len(chunk) >= CHUNK_RECORDS or chars >= CHUNK_CHARS:
                queue.put(("records", chunk))
                chunk, chars = [], 0
        if chunk:
            queue.put(("records", chunk))
        queue.put(("done", stats))
    except BaseException as exc:  # noqa: BLE001 - reported to the reader, which raises it in the caller's process
        queue.put(("failed", f"{type(exc).__name__}: {exc}"))


class ParallelScan(Generic[S]):
    """A plain Spark log scanned by forked worker processes, one byte range each.

    The workers start on construction, so the caller can hash the file meanwhile; :meth:`records`
    hands out what they found in file order, with file-wide line numbers.  ``prepare`` runs in
    the workers on every record (classifying it, say) and may drop it by returning None: the
    work is spread over the CPUs, and only what is kept comes back.  Each worker's queue holds a
    few chunks at most, so records never pile up in memory however many errors the log holds.
    """

    def __init__(self, path: Path, size: int, mode: LogKind, workers: int,
                 prepare: Callable[[Record], S | None] | None = None) -> None:
        import multiprocessing

        # fork: the children need nothing but what this process has loaded, and start in milliseconds.
        context = multiprocessing.get_context("fork")
        points = _split_points(path, size, workers)
        self._workers: list[tuple[Any, Any]] = []
        for start, end in zip(points, points[1:], strict=False):
            queue = context.Queue(maxsize=QUEUED_CHUNKS)
            process = context.Process(target=_scan_range, args=(queue, path, start, end, mode, prepare), daemon=True)
            process.start()
            self._workers.append((process, queue))

    def cancel(self) -> None:
        """Stop the workers (a worker blocked on a full queue is stopped too)."""
        for process, _ in self._workers:
            if process.is_alive():
                process.terminate()
        for process, queue in self._workers:
            process.join()
            queue.close()

    def records(self, stats: ReadStats) -> Iterator[S]:
        try:
            for process, queue in self._workers:
                offset = stats.lines
                while True:
                    kind, payload = _next(process, queue)
                    if kind == "failed":
                        raise CouldNotDoError(f"scanning part of the log failed in a worker process: {payload}")
                    if kind == "done":
                        stats.lines += payload.lines
                        stats.non_utf8_lines += payload.non_utf8_lines
                        stats.long_records += payload.long_records
                        break
                    for item in payload:
                        item.shift(offset)
                        yield item
        finally:
            self.cancel()


def _next(process: Any, queue: Any) -> tuple[str, Any]:
    """The worker's next message; an error when it died without sending one (killed for memory, say)."""
    import queue as queues

    while True:
        try:
            return queue.get(timeout=_POLL_S)  # type: ignore[no-any-return]
        except queues.Empty:
            if process.is_alive():
                continue
        try:  # it may have sent its last message just before it exited
            return queue.get(timeout=_POLL_S)  # type: ignore[no-any-return]
        except queues.Empty:
            raise CouldNotDoError(
                f"a worker process scanning the log stopped (exit code {process.exitcode}) before it finished, "
                "killed perhaps for memory; diagnose the log again"
            ) from None
