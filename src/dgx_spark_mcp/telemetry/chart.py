"""The chart beside a query answer: query_telemetry's ``chart=true`` draws the GPUs of the answer's page.

The image goes to the agent as image content next to the answer, and its caption into the answer
(one text block: the answer's JSON).  The caption is one sentence, not the per-line statistics of
:meth:`.plot.TelemetryPlot.caption`: the answer beside it already has them.
"""

from __future__ import annotations

from datetime import datetime

from ..errors import BadInputError
from ..settings import Settings
from .metrics import metrics
from .plot import MAX_GPUS, MAX_METRICS, plot_telemetry
from .queries import TelemetrySeries, key_metrics_of

__all__ = ["DEFAULT_CHART_METRICS", "chart_of"]

DEFAULT_CHART_METRICS = 4
"""Subplots of a chart asked without naming metrics: each one adds about 300 image tokens."""


def chart_of(
    settings: Settings,
    answer: TelemetrySeries,
    names: list[str] | None,
    *,
    start: str | None,
    end: str | None,
    bucket: str | None,
    now: datetime | None,
) -> None:
    """Draw the GPUs of ``answer``'s page (query_telemetry's chart=true) and set its caption and PNG.

    A chart that cannot be drawn (nothing in the window) leaves the answer itself standing: its
    caption says why, instead of turning the whole query into an error."""
    uuids = list(dict.fromkeys([s.uuid for s in answer.stats if s.stats] + [s.uuid for s in answer.series]))
    notes: list[str] = []
    if not uuids:
        answer.attach_chart("no chart: no samples of these GPUs in the window")
        return
    if len(uuids) > MAX_GPUS:
        notes.append(f"the chart draws the first {MAX_GPUS} of the page's {len(uuids)} GPUs")
        uuids = uuids[:MAX_GPUS]
    registry = metrics()
    chosen = names or key_metrics_of(answer) or [m.name for a in answer.units if (m := registry.get(a)) is not None]
    limit = MAX_METRICS if names else DEFAULT_CHART_METRICS
    if len(chosen) > limit:
        notes.append(f"the chart draws {limit} of the {len(chosen)} metrics: {', '.join(chosen[limit:])} left out")
        chosen = chosen[:limit]
    if not chosen:
        answer.attach_chart("no chart: no metric with samples to draw")
        return
    try:
        plot = plot_telemetry(settings, chosen, uuids=uuids, start=start, end=end, bucket=bucket, now=now)
    except BadInputError as exc:
        answer.attach_chart(f"no chart: {exc}")
        return
    answer.attach_chart(" ".join([f"PNG {plot.width_px}x{plot.height_px}: {plot.headline()}", *plot.notes, *notes]),
                        plot.png)
