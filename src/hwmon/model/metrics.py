"""Every other series a run prints, keyed by metric name: learning rate, gradient norm, accuracy, memory, any field
a parser or a learned template reads beside the loss, eval metrics, and the figures progress bars carry
(``Loss:0.14 | Accuracy:95.8%``). The training loss and throughput have their own series in ``RunState``
(``loss``, ``rate``); this table holds the rest, so a chart can show any of them (``m`` cycles).

Bounded twice: each series is a ``BoundedSeries`` (flat in log length), and the table keeps at most
``MAX_SERIES`` names (a log of thousands of distinct keys must not grow it; ``dropped`` counts the names refused).
Pure: the reducer calls ``record_*`` as events arrive; views read ``chartable``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

from hwmon.events import EvalMetric, Event, ProgressUpdate, StepBatch, StepMetrics
from hwmon.model.series import BoundedSeries

MAX_SERIES = 48
# Series with fewer points than this are not worth a chart of their own.
MIN_CHART_POINTS = 2
# Names that are the step's own loss/throughput (RunState.loss/rate hold them) or its coordinates, not metrics.
NOT_METRICS = frozenset({"loss", "step", "global_step", "iteration", "iter", "batch", "epoch", "samples"})

MetricKind = Literal["train", "eval", "bar"]


@dataclass(slots=True)
class MetricSeries:
    """One named series: ``kind`` says where its values came from (a training step's fields, an evaluation, a
    progress bar's postfix); x is the training step the value belongs to."""

    name: str
    kind: MetricKind
    series: BoundedSeries = field(default_factory=lambda: BoundedSeries(capacity=256))

    @property
    def label(self) -> str:
        """How a chart names it: ``lr``, ``accuracy`` (from a bar), ``eval accuracy``."""
        return f"eval {self.name}" if self.kind == "eval" else self.name


@dataclass(slots=True)
class MetricTable:
    """The named series of one run, in the order they first appeared."""

    series: dict[str, MetricSeries] = field(default_factory=dict)
    dropped: int = 0
    # Epoch boundaries: the training step at which each new epoch was first seen (bounded like a series).
    epoch_starts: list[float] = field(default_factory=list)
    _last_epoch: float | None = None

    def add(self, name: str, kind: MetricKind, x: float, y: float) -> None:
        """Add one value (non-finite ones are counted by the series, not plotted)."""
        key = f"{kind}:{name}"
        entry = self.series.get(key)
        if entry is None:
            if len(self.series) >= MAX_SERIES:
                self.dropped += 1
                return
            entry = self.series[key] = MetricSeries(name, kind)
        entry.series.add(x, y)

    def note_epoch(self, x: float, epoch: float | None) -> None:
        """The step ``x`` is in ``epoch``: a new whole epoch number marks a boundary at ``x``."""
        if epoch is None or not math.isfinite(epoch):
            return
        whole = math.floor(epoch)
        if self._last_epoch is not None and whole > self._last_epoch and len(self.epoch_starts) < 4096:
            self.epoch_starts.append(x)
        self._last_epoch = whole if self._last_epoch is None else max(self._last_epoch, whole)

    def reset(self) -> None:
        """A new run in the same source starts from nothing."""
        self.series.clear()
        self.dropped = 0
        self.epoch_starts.clear()
        self._last_epoch = None


def record_step(
    table: MetricTable, step: float | None, fields: tuple[tuple[str, float], ...], epoch: float | None = None
) -> None:
    """A training step's other fields (lr, grad norm, accuracy, memory, learned fields) at ``step``."""
    if step is None:
        return
    table.note_epoch(step, epoch)
    for name, value in fields:
        if name.lower() not in NOT_METRICS:
            table.add(name, "train", step, value)


def record_eval(table: MetricTable, step: float | None, name: str, value: float) -> None:
    """An evaluation result, placed at the training step it follows (``step``; None: not placed)."""
    if step is not None:
        table.add(name, "eval", step, value)


def record_bar(table: MetricTable, step: float | None, fields: tuple[tuple[str, float], ...]) -> None:
    """The figures a progress bar carries (``Accuracy:95.8%``) at the training step it was drawn at (its loss is
    the training loss, kept in ``RunState.loss`` when the parser reads the bar as steps)."""
    if step is None:
        return
    for name, value in fields:
        if name.lower() not in NOT_METRICS:
            table.add(name, "bar", step, value)


def chartable(table: MetricTable) -> list[MetricSeries]:
    """The series worth a chart, in order of first appearance: at least ``MIN_CHART_POINTS`` finite points (an
    eval metric: one, each evaluation being one point), not constant (a version number, a batch size, a count of
    skipped iterations that stays 0), and not a progress bar's copy of a step field of the same name."""
    train_names = {entry.name for entry in table.series.values() if entry.kind == "train"}
    out = []
    for entry in table.series.values():
        series = entry.series
        if entry.kind == "eval":
            if series.points:
                out.append(entry)
            continue
        if len(series.points) < MIN_CHART_POINTS or series.min == series.max:
            continue
        if entry.kind == "bar" and entry.name in train_names:
            continue
        out.append(entry)
    return out


# The event types ``observe`` reads (the reducer's dispatch calls it for these, after their own handler).
OBSERVED: frozenset[type[Event]] = frozenset({StepMetrics, StepBatch, ProgressUpdate, EvalMetric})


def observe(table: MetricTable, event: Event, train_step: float | None) -> None:
    """Fold ``event`` into the table. ``train_step``: the training step the run is at (after the event's own
    handler ran: for a training step, its own x), where eval results and bar figures are placed."""
    if isinstance(event, StepMetrics):
        if event.mode == "train":
            record_step(table, train_step, event.extra, event.epoch)
        else:
            for name, value in event.extra:
                record_eval(table, train_step, name, value)
    elif isinstance(event, StepBatch):
        # The block's evenly spaced samples (bounded): a series is a plot of kept points anyway.
        for sample in (event.first, *event.samples, event.last):
            if sample.mode == "train" and sample.step is not None:
                record_step(table, float(sample.step), sample.extra, sample.epoch)
    elif isinstance(event, ProgressUpdate):
        if event.metrics and not event.redraw:
            record_bar(table, train_step, event.metrics)
    elif isinstance(event, EvalMetric):
        record_eval(table, train_step, event.name, event.value)
