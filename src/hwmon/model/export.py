"""Full-resolution export rows: events in, table rows out. Pure (no I/O): ``hwmon.commands.export`` reads the log
and writes the rows; this module decides what a row holds.

Three tables:

- **steps**: one row per step line of the log (``hwmon.parsers.expand_steps`` expands the bulk fast path's
  ``StepBatch`` into every line it stands for), train and eval steps both (``mode``), with the log's time, the
  seconds since the run's first log timestamp (``wall_s``), loss, rate, global rate, lr and every other per-step
  metric the line carries (``StepMetrics.extra``, by name).
  A batch whose lines read as columns (``hwmon.parsers.cerebras_fast.expand_columns``) is turned into rows column
  by column, the same cells: as dicts (``feed``) or, for the CSV writer once its header is fixed, as tuples in
  header order (``feed_tuples``).
- **eval**: one row per evaluation metric (``EvalMetric``) with the last training step seen before it.
- **phases**: one row per phase of the last run, durations and shares of wall time from the same model functions
  ``hwmon summary`` uses (``hwmon.model.figures.phase_durations``, ``wall_seconds``, no clock).

The builder also folds every event into a ``RunState`` with the one reducer, so phases, the run's start and the
``summary`` figures of an export are those of ``hwmon summary`` on the same log.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import repeat
from typing import TYPE_CHECKING

from hwmon.events import EvalMetric, Event, StepBatch, StepMetrics
from hwmon.model.figures import phase_durations, phase_shares
from hwmon.model.reducer import apply
from hwmon.model.state import RunState

if TYPE_CHECKING:
    from hwmon.parsers.cerebras_fast import StepColumns

__all__ = [
    "EVAL_COLUMNS",
    "PHASE_COLUMNS",
    "STEP_COLUMNS",
    "TABLES",
    "ExportBuilder",
    "Row",
    "lr_of",
]

Value = float | int | str | None
Row = dict[str, Value]

STEP_COLUMNS: tuple[str, ...] = (
    "step",
    "mode",
    "epoch",
    "time",
    "wall_s",
    "loss",
    "rate",
    "global_rate",
    "rate_unit",
    "lr",
    "line",
)
"""The fixed leading columns of the steps table; per-step metrics the log carries follow, by name."""

EVAL_COLUMNS: tuple[str, ...] = ("step", "time", "wall_s", "name", "value", "line")
PHASE_COLUMNS: tuple[str, ...] = ("index", "name", "start", "end", "seconds", "share", "detail", "repeats")
TABLES: dict[str, tuple[str, ...]] = {"steps": STEP_COLUMNS, "eval": EVAL_COLUMNS, "phases": PHASE_COLUMNS}

# Names under which logs print the learning rate (Model Zoo ``lr``, HF ``learning_rate``, Megatron
# ``learning rate``): the first present fills the ``lr`` column.
_LR_KEYS = ("lr", "learning_rate", "learning rate", "learning-rate")


def lr_of(extra: tuple[tuple[str, float], ...]) -> tuple[str, float] | None:
    """(name, value) of the learning rate among a step's extra metrics, if it carries one."""
    for key in _LR_KEYS:
        for name, value in extra:
            if name == key:
                return name, value
    return None


def _iso(ts: datetime | None) -> str | None:
    return None if ts is None else ts.isoformat()


@dataclass(slots=True)
class ExportBuilder:
    """Turns a stream of events into rows. Feed every event in order (``feed``), then ask for ``phase_rows``."""

    state: RunState = field(default_factory=RunState)
    step_count: int = 0
    eval_count: int = 0
    # Steps without a number (HF-Trainer dicts, Keras lines) are numbered by their order per mode, as the reducer
    # numbers them on the loss chart.
    _last_step: dict[str, int] = field(default_factory=dict)
    _last_train_step: int | None = None
    _start: datetime | None = None
    # The columns of the last batch asked for (feed_tuples declining a batch, then feed, read it once).
    _read: tuple[Event, StepColumns | None] | None = None

    def feed(self, event: Event) -> tuple[list[Row], list[Row]]:
        """The step rows and eval rows ``event`` stands for (both usually empty)."""
        apply(self.state, event, None)
        if self._start is None and event.ts is not None:
            self._start = event.ts
        columns = self._columns(event)
        steps = self._column_rows(columns) if columns is not None else [self._step_row(m) for m in _expand(event)]
        evals: list[Row] = []
        if isinstance(event, EvalMetric):
            evals.append(self._eval_row(event))
        return steps, evals

    def feed_tuples(self, event: Event, header: list[str]) -> list[tuple[Value, ...]] | None:
        """The step rows of ``event`` as tuples in ``header`` order (its last column ``more``, always empty here),
        the values ``feed`` gives; ``None`` (nothing done) unless ``event`` is a batch whose columns read fast and
        whose every metric has a column of ``header``. Then ``feed`` must not be called for it."""
        columns = self._columns(event)
        if columns is None:
            return None
        shapes = set(columns.extras)
        if any(len({name for name, _ in extra}) != len(extra) for extra in shapes):
            return None  # a metric twice on one line: the first one counts (the general row builder)
        names = {name for extra in shapes for name, _ in extra}
        index = {name: i for i, name in enumerate(header)}
        if header[: len(STEP_COLUMNS)] != list(STEP_COLUMNS) or header[-1] != "more" or not names <= index.keys():
            return None
        if names & set(STEP_COLUMNS) or any(name in _LR_KEYS for name in names):
            return None  # a metric named like a fixed column, or an lr: the general row builder decides
        apply(self.state, event, None)
        if self._start is None and event.ts is not None:
            self._start = event.ts
        n = len(columns.steps)
        start = self.state.first_ts or self._start
        # Column by column (map/zip at C speed), each cell as ``_step_row`` makes it.
        walls: Iterable[float | None]
        if start is None:
            walls = repeat(None, n)
        else:
            seconds = map(timedelta.total_seconds, map(operator.sub, columns.ts, repeat(start, n)))
            walls = list(map(round, seconds, repeat(6, n)))
        unit = columns.rate_unit
        units = [
            unit if (r is not None or g is not None) else None
            for r, g in zip(columns.rates, columns.global_rates, strict=True)
        ]
        tail: list[Iterable[Value]] = [repeat(None, n) for _ in header[len(STEP_COLUMNS) :]]
        if names:
            filled: dict[str, list[Value]] = {name: [None] * n for name in names}
            for name, cells in filled.items():
                tail[index[name] - len(STEP_COLUMNS)] = cells
            for i, extra in enumerate(columns.extras):
                for key, value in extra:
                    filled[key][i] = value
        rows: list[tuple[Value, ...]] = list(
            zip(
                columns.steps,
                repeat(columns.mode, n),
                repeat(None, n),
                columns.iso,
                walls,
                columns.losses,
                columns.rates,
                columns.global_rates,
                units,
                repeat(None, n),
                columns.lines,
                *tail,
                strict=True,
            )
        )
        self._count_columns(columns)
        return rows

    def _columns(self, event: Event) -> StepColumns | None:
        read = self._read
        if read is not None and read[0] is event:
            return read[1]
        columns = _columns(event)
        self._read = (event, columns)
        return columns

    def _count_columns(self, columns: StepColumns) -> None:
        if columns.steps:
            self.step_count += len(columns.steps)
            self._last_step[columns.mode] = columns.steps[-1]
            if columns.mode == "train":
                self._last_train_step = columns.steps[-1]

    def _column_rows(self, columns: StepColumns) -> list[Row]:
        """``_step_row`` of every step of ``columns``."""
        return [self._step_row(m) for m in columns.metrics()]

    def _wall(self, ts: datetime | None) -> float | None:
        start = self.state.first_ts or self._start
        if ts is None or start is None:
            return None
        return round((ts - start).total_seconds(), 6)

    def _step_row(self, m: StepMetrics) -> Row:
        self.step_count += 1
        step = m.step
        if step is None:
            step = self._last_step.get(m.mode, 0) + 1
        self._last_step[m.mode] = step
        if m.mode == "train":
            self._last_train_step = step
        lr = lr_of(m.extra)
        row: Row = {
            "step": step,
            "mode": m.mode,
            "epoch": m.epoch,
            "time": _iso(m.ts),
            "wall_s": self._wall(m.ts),
            "loss": m.loss,
            "rate": m.rate,
            "global_rate": m.global_rate,
            "rate_unit": m.rate_unit if (m.rate is not None or m.global_rate is not None) else None,
            "lr": None if lr is None else lr[1],
            "line": m.line,
        }
        lr_name = None if lr is None else lr[0]
        for name, value in m.extra:
            if name == lr_name:
                continue  # it is the lr column
            key = name if name not in row else f"extra_{name}"
            if key not in row:
                row[key] = value
        return row

    def _eval_row(self, event: EvalMetric) -> Row:
        self.eval_count += 1
        return {
            "step": self._last_train_step,
            "time": _iso(event.ts),
            "wall_s": self._wall(event.ts),
            "name": event.name,
            "value": event.value,
            "line": event.line,
        }

    def phase_rows(self) -> list[Row]:
        """One row per phase of the (last) run, as ``hwmon summary`` reports them."""
        state = self.state
        rows: list[Row] = []
        # The model's durations and shares (``hwmon.model.figures``), as every view shows them.
        spans = zip(state.phases, phase_durations(state, None), phase_shares(state, None), strict=True)
        for index, (phase, seconds, fraction) in enumerate(spans):
            share = None if fraction is None else round(fraction, 6)
            rows.append(
                {
                    "index": index,
                    "name": phase.name,
                    "start": _iso(phase.start),
                    "end": _iso(phase.end),
                    "seconds": seconds,
                    "share": share,
                    "detail": phase.detail,
                    "repeats": phase.repeats,
                }
            )
        return rows


def _columns(event: Event) -> StepColumns | None:
    if not isinstance(event, StepBatch) or not event.raw:
        return None
    from hwmon.parsers.cerebras_fast import expand_columns

    return expand_columns(event)


def _expand(event: Event) -> Iterator[StepMetrics]:
    # Imported here so that the model package stays importable without the parsers (as model.summary does).
    from hwmon.parsers import expand_steps

    return expand_steps(event)
