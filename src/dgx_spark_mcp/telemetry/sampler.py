"""Sample this machine's GPUs through NVML into the telemetry store.

Every metric of ``data/telemetry-metrics.json`` with an ``nvml`` reading is taken on each tick
for each GPU and stored under its DCGM field name, in the registry's unit (``nvml_factor``), so
sampled rows sit next to imported DCGM rows and answer the same queries.  A reading NVML refuses
(not supported on this GPU, a call the driver lacks, NVML's "not available" sentinel) is stored
as NULL, as DCGM stores its blanks: the row says "asked, no value", never a made-up zero.

The NVML module is a seam, as in :mod:`dgx_spark_mcp.hardware.nvml`: production passes nothing
and gets ``pynvml``; tests pass a replay of calls recorded on real machines.

Two ways to run: :func:`sample_gpus` for a bounded burst (one batch at the end), and
:func:`collect` for a long-running collector that commits every ``flush_every_s`` and the
remainder when stopped (Ctrl-C, SIGTERM or an event), so stopping it loses no sample.
"""

from __future__ import annotations

import logging
import signal
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from ..errors import BadInputError
from ..settings import Settings
from .metrics import metrics
from .store import SAMPLE_COLUMNS, CommitResult, TelemetryStore

if TYPE_CHECKING:
    from duckdb import DuckDBPyConnection

__all__ = [
    "MAX_DURATION_S",
    "MIN_INTERVAL_S",
    "NVML_READINGS",
    "CollectResult",
    "SampleResult",
    "SampledGpu",
    "collect",
    "sample_gpus",
]

log = logging.getLogger(__name__)

MAX_DURATION_S = 300.0
"""Longest :func:`sample_gpus` burst: a tool call that blocks longer than this times clients out."""
MIN_INTERVAL_S = 0.1
"""Shortest interval: NVML's utilisation counters update about every 1/6 s to 1 s, faster adds nothing."""
_NOT_AVAILABLE = {0xFFFFFFFF, 0xFFFFFFFFFFFFFFFF}  # NVML_VALUE_NOT_AVAILABLE_uint / _ulonglong


def _call(fn_name: str, *consts: str, attr: str | None = None) -> Callable[[Any, Any, dict[Any, Any]], Any]:
    """A reading: call ``nvml.<fn_name>(handle, *constants)`` once per tick (cached), optionally take ``attr``."""

    def read(nvml: Any, handle: Any, cache: dict[Any, Any]) -> Any:
        key = (fn_name, consts)
        if key not in cache:
            try:
                cache[key] = getattr(nvml, fn_name)(handle, *(getattr(nvml, c) for c in consts))
            except nvml.NVMLError as exc:
                cache[key] = exc
        value = cache[key]
        if isinstance(value, Exception):
            return None
        return getattr(value, attr) if attr is not None else value

    return read


NVML_READINGS: dict[str, Callable[[Any, Any, dict[Any, Any]], Any]] = {
    "utilization.gpu": _call("nvmlDeviceGetUtilizationRates", attr="gpu"),
    "utilization.memory": _call("nvmlDeviceGetUtilizationRates", attr="memory"),
    "memory.used": _call("nvmlDeviceGetMemoryInfo", attr="used"),
    "memory.free": _call("nvmlDeviceGetMemoryInfo", attr="free"),
    "temperature.gpu": _call("nvmlDeviceGetTemperature", "NVML_TEMPERATURE_GPU"),
    "power.usage": _call("nvmlDeviceGetPowerUsage"),
    "clock.sm": _call("nvmlDeviceGetClockInfo", "NVML_CLOCK_SM"),
    "clock.mem": _call("nvmlDeviceGetClockInfo", "NVML_CLOCK_MEM"),
    "energy.total": _call("nvmlDeviceGetTotalEnergyConsumption"),
    "clocks_event_reasons": _call("nvmlDeviceGetCurrentClocksEventReasons"),
    "temperature.slowdown": _call("nvmlDeviceGetTemperatureThreshold", "NVML_TEMPERATURE_THRESHOLD_SLOWDOWN"),
}
"""How each ``nvml`` reading named in the metric registry is taken (a registry test keeps them in step)."""


class SampledGpu(BaseModel):
    uuid: str
    index: int
    model: str | None
    unsupported: list[str] = Field(
        default_factory=list, description="Metrics NVML gave no value for on this GPU (stored as NULL)."
    )


class SampleResult(BaseModel):
    available: bool = Field(description="False when this machine has no NVML or no GPU; nothing was sampled.")
    reason: str | None = Field(default=None, description="Why nothing was sampled, when available is False.")
    host: str
    driver_version: str | None = None
    gpus: list[SampledGpu] = Field(default_factory=list)
    metrics: list[str] = Field(default_factory=list, description="The metrics taken on each tick (DCGM names).")
    ticks: int = 0
    samples: int = Field(0, description="Rows taken: ticks x GPUs x metrics, NULL readings included.")
    stored: int = Field(0, description="Rows newly stored (a row already in the store is not stored twice).")
    batches: list[str] = Field(default_factory=list)
    started: datetime | None = None
    ended: datetime | None = None
    notes: list[str] = Field(default_factory=list)


class CollectResult(SampleResult):
    stopped_by: str = Field("", description="What ended the collection: 'event', 'SIGINT', 'SIGTERM', 'KeyboardInterrupt'.")


@dataclass
class _Gpu:
    index: int
    handle: Any
    uuid: str
    model: str | None
    unsupported: set[str] = field(default_factory=set)


def _text(value: Any) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


class _Sampler:
    """NVML opened once, the GPUs found once; :meth:`tick` reads every GPU's metrics into rows."""

    def __init__(self, nvml: Any | None) -> None:
        self.host = socket.gethostname()
        self.nvml = nvml
        self.gpus: list[_Gpu] = []
        self.driver: str | None = None
        self.reason: str | None = None
        self.notes: list[str] = []
        self.started = False
        registry = metrics()
        self.readings = [(m.name, m.nvml, m.nvml_factor) for m in registry.metrics if m.nvml is not None]
        self.rows: list[tuple[Any, ...]] = []
        self.taken = 0

    def open(self) -> bool:
        if self.nvml is None:
            try:
                import pynvml
            except ImportError:
                self.reason = "the NVML bindings (nvidia-ml-py) are not installed, so no GPU can be sampled"
                return False
            self.nvml = pynvml
        nvml = self.nvml
        try:
            nvml.nvmlInit()
        except nvml.NVMLError as exc:
            self.reason = f"NVML could not start ({exc}): no NVIDIA driver or GPU here, nothing to sample"
            return False
        self.started = True
        try:
            self.driver = _text(nvml.nvmlSystemGetDriverVersion())
        except nvml.NVMLError as exc:
            self.notes.append(f"driver version unavailable: {exc}")
        try:
            count = int(nvml.nvmlDeviceGetCount())
        except nvml.NVMLError as exc:
            self.reason = f"NVML started but could not count GPUs ({exc})"
            return False
        for index in range(count):
            try:
                handle = nvml.nvmlDeviceGetHandleByIndex(index)
                uuid = _text(nvml.nvmlDeviceGetUUID(handle))
            except nvml.NVMLError as exc:
                # Without a uuid a row has no key in the store: skip this GPU, say so.
                self.notes.append(f"GPU {index}: no handle or uuid from NVML ({exc}); not sampled")
                continue
            try:
                model: str | None = _text(nvml.nvmlDeviceGetName(handle))
            except nvml.NVMLError:
                model = None
            self.gpus.append(_Gpu(index=index, handle=handle, uuid=uuid, model=model))
        if not self.gpus:
            self.reason = "NVML sees no GPU on this machine" if count == 0 else "no GPU could be read through NVML"
            return False
        return True

    def close(self) -> None:
        if self.started:
            try:
                self.nvml.nvmlShutdown()
            except self.nvml.NVMLError as exc:  # the samples are taken; a failed shutdown must not lose them
                log.warning("nvmlShutdown failed: %s", exc)
            self.started = False

    def tick(self) -> None:
        # One timestamp per tick for every GPU: rows of the same tick line up in queries.
        ts = datetime.now(UTC).replace(tzinfo=None)
        for gpu in self.gpus:
            cache: dict[Any, Any] = {}
            for name, reading, factor in self.readings:
                raw = NVML_READINGS[reading](self.nvml, gpu.handle, cache)
                if raw is None or (isinstance(raw, int) and raw in _NOT_AVAILABLE):
                    value = None
                    gpu.unsupported.add(name)
                else:
                    value = float(raw) * factor
                self.rows.append((ts, gpu.uuid, self.host, gpu.index, gpu.model, name, value, None, None, None))
        self.taken += len(self.gpus) * len(self.readings)

    def flush(self, store: TelemetryStore) -> CommitResult | None:
        """Commit the rows taken since the last flush as one batch; keeps them if the commit fails."""
        if not self.rows:
            return None
        con = store.connection()
        try:
            _load_rows(con, self.rows)
            with store.ingest_lock():
                result = store.commit(
                    con, "_sampled", driver={g.uuid: self.driver for g in self.gpus} if self.driver else None
                )
        finally:
            con.close()
        self.rows = []
        return result

    def result(self, cls: type[SampleResult], **extra: Any) -> Any:
        return cls(
            available=True,
            host=self.host,
            driver_version=self.driver,
            gpus=[
                SampledGpu(uuid=g.uuid, index=g.index, model=g.model, unsupported=sorted(g.unsupported))
                for g in self.gpus
            ],
            metrics=[name for name, _, _ in self.readings],
            samples=self.taken,
            notes=self.notes,
            **extra,
        )


def _load_rows(con: DuckDBPyConnection, rows: list[tuple[Any, ...]]) -> None:
    # Column lists unnested side by side: one statement, no pandas, far faster than executemany.
    columns = list(SAMPLE_COLUMNS.items())
    casts = ", ".join(f"unnest(?::{t}[]) AS {c}" for c, t in columns)
    values = [list(col) for col in zip(*rows, strict=True)]
    con.execute(f"CREATE OR REPLACE TEMP TABLE _sampled AS SELECT {casts}", values)


def _no_gpu(sampler: _Sampler, cls: type[SampleResult], **extra: Any) -> Any:
    return cls(available=False, reason=sampler.reason, host=sampler.host, notes=sampler.notes, **extra)


def _check_interval(interval_s: float) -> None:
    if not interval_s >= MIN_INTERVAL_S:
        raise BadInputError(f"interval_s {interval_s} is below {MIN_INTERVAL_S} s; NVML updates no faster, give 0.1 or more")


def sample_gpus(settings: Settings, duration_s: float, interval_s: float, nvml: Any | None = None) -> SampleResult:
    """Sample every GPU each ``interval_s`` for ``duration_s`` and store the samples as one batch."""
    if not 0 < duration_s <= MAX_DURATION_S:
        raise BadInputError(
            f"duration_s {duration_s} must be above 0 and at most {MAX_DURATION_S:.0f} s; for longer runs use the "
            "collector (dgx-spark-mcp telemetry collect)"
        )
    _check_interval(interval_s)
    if interval_s > duration_s:
        raise BadInputError(f"interval_s {interval_s} is longer than duration_s {duration_s}; make it shorter")
    sampler = _Sampler(nvml)
    try:
        if not sampler.open():
            return _no_gpu(sampler, SampleResult)
        started = datetime.now(UTC).replace(tzinfo=None)
        t0 = time.monotonic()
        ticks = 0
        # Ticks on a fixed schedule (t0 + k * interval) so slow reads do not make the interval drift.
        while True:
            sampler.tick()
            ticks += 1
            next_at = t0 + ticks * interval_s
            if next_at - t0 > duration_s + 1e-9:
                break
            time.sleep(max(0.0, next_at - time.monotonic()))
        ended = datetime.now(UTC).replace(tzinfo=None)
    finally:
        sampler.close()
    commit = sampler.flush(TelemetryStore(settings))
    return sampler.result(
        SampleResult,
        ticks=ticks,
        stored=commit.stored if commit else 0,
        batches=[commit.batch] if commit and commit.batch else [],
        started=started,
        ended=ended,
    )


def collect(
    settings: Settings,
    interval_s: float,
    flush_every_s: float = 10.0,
    nvml: Any | None = None,
    stop: threading.Event | None = None,
    on_flush: Callable[[CommitResult], None] | None = None,
) -> CollectResult:
    """Sample every ``interval_s`` until ``stop`` is set, SIGINT/SIGTERM arrives or KeyboardInterrupt is raised;
    commit a batch every ``flush_every_s`` and the rest when stopping, so no sample taken is lost."""
    _check_interval(interval_s)
    if not interval_s <= flush_every_s <= 3600:
        raise BadInputError(
            f"flush_every_s {flush_every_s} must be between interval_s ({interval_s}) and 3600 s"
        )
    stop = stop or threading.Event()
    stopped_by = {"why": "event"}
    previous: dict[int, Any] = {}

    def on_signal(signum: int, _frame: Any) -> None:
        # Only note it: the loop stops at its next wait, never inside a commit.
        stopped_by["why"] = signal.Signals(signum).name
        stop.set()

    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, on_signal)
    store = TelemetryStore(settings)
    sampler = _Sampler(nvml)
    stored, batches, ticks = 0, [], 0
    started = datetime.now(UTC).replace(tzinfo=None)

    def flush() -> None:
        nonlocal stored
        commit = sampler.flush(store)
        if commit is not None:
            stored += commit.stored
            if commit.batch:
                batches.append(commit.batch)
            if on_flush is not None:
                on_flush(commit)

    try:
        if not sampler.open():
            return _no_gpu(sampler, CollectResult, stopped_by="no GPU")
        t0 = last_flush = time.monotonic()
        try:
            while not stop.is_set():
                sampler.tick()
                ticks += 1
                if time.monotonic() - last_flush >= flush_every_s:
                    flush()
                    last_flush = time.monotonic()
                stop.wait(max(0.0, t0 + ticks * interval_s - time.monotonic()))
        except KeyboardInterrupt:
            stopped_by["why"] = "KeyboardInterrupt"
        flush()
    finally:
        sampler.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return sampler.result(
        CollectResult,
        ticks=ticks,
        stored=stored,
        batches=batches,
        started=started,
        ended=datetime.now(UTC).replace(tzinfo=None),
        stopped_by=stopped_by["why"],
    )
