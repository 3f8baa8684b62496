"""Record NVML answers on a real machine; replay them where there is no GPU.

A recording is JSON: provenance (machine, command, date) and ``calls``, a map from a call
written as ``nvmlDeviceGetPowerUsage(gpu0)`` to what NVML answered: a value, a structure as
an object, ``{"__handle__": "gpu0"}`` for a device handle, or ``{"__error__": 3}`` for an
NVML error code.  :class:`RecordingNvml` wraps the real ``pynvml`` and fills the map while
the probe runs; :class:`ReplayNvml` answers the same calls from it.  A call the recording
lacks answers ``NVML_ERROR_FUNCTION_NOT_FOUND``, exactly what an older driver says.
"""

from __future__ import annotations

import ctypes
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

__all__ = ["RecordingNvml", "ReplayNvml", "load_recording"]

_FUNCTION_NOT_FOUND = 13


def _pynvml() -> Any:
    import pynvml

    return pynvml


class _Handle:
    """A replayed device handle: only its recorded id matters."""

    def __init__(self, handle_id: str) -> None:
        self.handle_id = handle_id

    def __repr__(self) -> str:
        return f"<nvml handle {self.handle_id}>"


def _call_key(name: str, args: tuple[Any, ...], handle_id: Any) -> str:
    parts = []
    for arg in args:
        hid = handle_id(arg)
        parts.append(hid if hid is not None else str(arg))
    return f"{name}({','.join(parts)})"


def _encode(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    if isinstance(value, ctypes.Structure):
        return {name: _encode(getattr(value, name)) for name, *_ in value._fields_}
    if isinstance(value, ctypes.Array):
        return [_encode(v) for v in value]
    if isinstance(value, SimpleNamespace):  # a replayed structure, recorded again
        return {k: _encode(v) for k, v in vars(value).items()}
    return str(value)


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if "__handle__" in value:
            return _Handle(value["__handle__"])
        return SimpleNamespace(**{k: _decode(v) for k, v in value.items()})
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


class RecordingNvml:
    """Forwards to the real pynvml and records every ``nvml*`` call and its answer."""

    def __init__(self, real: Any | None = None) -> None:
        self._real = real if real is not None else _pynvml()
        self._handles: dict[int, str] = {}
        self.calls: dict[str, Any] = {}

    def _handle_id(self, obj: Any) -> str | None:
        if isinstance(obj, (int, str, bytes, float)):
            return None
        try:
            address = ctypes.cast(obj, ctypes.c_void_p).value
        except (TypeError, ctypes.ArgumentError):
            return None
        return None if address is None else self._handles.get(address)

    def _register(self, handle: Any, handle_id: str) -> None:
        address = ctypes.cast(handle, ctypes.c_void_p).value
        if address is not None:
            self._handles[address] = handle_id

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._real, name)
        if not (callable(attr) and name.startswith("nvml")) or isinstance(attr, type):
            return attr

        def call(*args: Any) -> Any:
            key = _call_key(name, args, self._handle_id)
            try:
                value = attr(*args)
            except self._real.NVMLError as exc:
                self.calls[key] = {"__error__": exc.value}
                raise
            if name == "nvmlDeviceGetHandleByIndex":
                self._register(value, f"gpu{args[0]}")
                self.calls[key] = {"__handle__": f"gpu{args[0]}"}
            elif name == "nvmlDeviceGetMigDeviceHandleByIndex":
                mig_id = f"{self._handle_id(args[0])}.mig{args[1]}"
                self._register(value, mig_id)
                self.calls[key] = {"__handle__": mig_id}
            else:
                self.calls[key] = _encode(value)
            return value

        return call


class ReplayNvml:
    """Answers pynvml calls from a recording; constants and error classes are pynvml's own."""

    def __init__(self, calls: dict[str, Any]) -> None:
        self._calls = calls
        self._real = _pynvml()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._real, name)
        if not (callable(attr) and name.startswith("nvml")) or isinstance(attr, type):
            return attr

        def call(*args: Any) -> Any:
            key = _call_key(name, args, lambda a: a.handle_id if isinstance(a, _Handle) else None)
            if key not in self._calls:
                raise self._real.NVMLError(_FUNCTION_NOT_FOUND)
            value = self._calls[key]
            if isinstance(value, dict) and "__error__" in value:
                raise self._real.NVMLError(value["__error__"])
            return _decode(value)

        return call


def load_recording(path: Path) -> tuple[dict[str, Any], ReplayNvml]:
    """Read a recording file; returns its provenance and a replaying NVML module."""
    data = json.loads(path.read_text())
    provenance = {k: v for k, v in data.items() if k != "calls"}
    return provenance, ReplayNvml(data["calls"])
