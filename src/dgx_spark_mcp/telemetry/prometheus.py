"""Prometheus exposition text from dcgm-exporter (a saved ``/metrics`` page or one live scrape).

A scrape holds a few thousand lines, so it is parsed in Python and handed to the same SQL checks
as the DCGM CSV formats (as rows of raw strings).  Label order is free and newer exporters add
labels, so labels are read by name; samples carry no timestamp unless the exporter wrote one (ms).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

__all__ = ["PromRow", "PromParse", "looks_like_prometheus", "parse_exposition"]

_SAMPLE = re.compile(
    r"^(?P<name>[A-Za-z_:][A-Za-z0-9_:]*)(?:\{(?P<labels>.*)\})?\s+(?P<value>\S+)(?:\s+(?P<ts>-?\d+))?\s*$"
)
_LABEL = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"')
_UNESCAPE = {"\\\\": "\\", '\\"': '"', "\\n": "\n"}


def looks_like_prometheus(first_lines: list[str]) -> bool:
    """True when the first non-blank line is a ``# HELP``/``# TYPE`` comment or a ``name{...} value`` sample."""
    for line in first_lines:
        text = line.strip()
        if not text:
            continue
        if text.startswith("# HELP ") or text.startswith("# TYPE "):
            return True
        return bool(_SAMPLE.match(text)) and "," not in text.split("{", 1)[0]
    return False


def _unescape(value: str) -> str:
    if "\\" not in value:
        return value
    return re.sub(r'\\[\\"n]', lambda m: _UNESCAPE[m.group(0)], value)


@dataclass(frozen=True)
class PromRow:
    """One sample as raw strings, in the columns of the long DCGM CSV (the SQL checks parse them)."""

    timestamp: str
    metric_name: str
    gpu_id: str
    device: str
    uuid: str
    model: str
    host: str
    container: str
    pod: str
    namespace: str
    value: str
    driver: str


@dataclass
class PromParse:
    rows: list[PromRow] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)
    """Lines not turned into samples, by reason (not a DCGM metric, not a sample line)."""

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_exposition(lines: Iterable[str], scraped_at: datetime) -> PromParse:
    """Samples of the ``DCGM_*`` metrics; a sample without its own timestamp gets ``scraped_at``."""
    out = PromParse()
    default_ts = _iso(scraped_at)
    for raw in _lines(lines):
        text = raw.strip()
        if not text or text.startswith("#"):
            continue  # HELP, TYPE and other comments carry no samples
        match = _SAMPLE.match(text)
        if match is None:
            out.skip("not a Prometheus sample line")
            continue
        name = match.group("name")
        if not name.startswith("DCGM_"):
            out.skip("not a DCGM metric")
            continue
        labels = {k: _unescape(v) for k, v in _LABEL.findall(match.group("labels") or "")}
        ts_ms = match.group("ts")
        if ts_ms is not None:
            try:
                timestamp = _iso(datetime.fromtimestamp(int(ts_ms) / 1000, UTC))
            except (OverflowError, OSError, ValueError):
                timestamp = "unparsable: " + ts_ms  # the SQL check counts it as an unparsable timestamp
        else:
            timestamp = default_ts
        out.rows.append(
            PromRow(
                timestamp=timestamp,
                metric_name=name,
                gpu_id=labels.get("gpu", ""),
                device=labels.get("device", ""),
                uuid=labels.get("UUID", labels.get("uuid", "")),
                model=labels.get("modelName", ""),
                host=labels.get("Hostname", ""),
                container=labels.get("container", ""),
                pod=labels.get("pod", ""),
                namespace=labels.get("namespace", ""),
                value=match.group("value"),
                driver=labels.get("DCGM_FI_DRIVER_VERSION", ""),
            )
        )
    return out


def _lines(lines: Iterable[str]) -> Iterator[str]:
    yield from lines
