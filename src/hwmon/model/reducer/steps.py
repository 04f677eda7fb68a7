"""Training and eval steps: one step, a block of steps (``StepBatch``, folded exactly as line by line), the
seconds-per-step average, and the sanity bounds on step numbers."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from contextvars import ContextVar
from datetime import datetime
from itertools import repeat
from operator import itemgetter
from typing import Any, NamedTuple, cast

from hwmon.events import Event, ProgressUpdate, StepBatch, StepColumns, StepMetrics
from hwmon.model.reducer import evals
from hwmon.model.reducer.alerts import nan_alert
from hwmon.model.reducer.evidence import after_the_end
from hwmon.model.reducer.handler import Handler
from hwmon.model.reducer.job import continues
from hwmon.model.reducer.run import reset_run
from hwmon.model.reducer.timeline import open_phase
from hwmon.model.series import Holder
from hwmon.model.state import ENDED, RunState

# Weight of the newest interval in the seconds-per-step moving average.
STEP_EMA_ALPHA = 0.3


def _is_finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


# Step/batch numbers beyond this are not real (a corrupted "Step=<400 digits>") and would not survive float().
_MAX_INDEX = 2**53


def absurd(value: int | None) -> bool:
    return value is not None and not -_MAX_INDEX <= value <= _MAX_INDEX


def sane_step(step: StepMetrics) -> StepMetrics:
    if absurd(step.step) or absurd(step.batch):
        return dataclasses.replace(
            step,
            step=None if absurd(step.step) else step.step,
            batch=None if absurd(step.batch) else step.batch,
        )
    return step


def sane_numbers(event: Event) -> Event:
    """The event with absurd step/batch numbers dropped (as if the line had not stated them) and absurd counts
    clamped, so no later float() of them can overflow."""
    if isinstance(event, StepMetrics):
        return sane_step(event)
    if isinstance(event, StepBatch):
        first, last = sane_step(event.first), sane_step(event.last)
        samples = tuple(sane_step(s) for s in event.samples)
        changed = any(a is not b for a, b in zip(samples, event.samples, strict=True))
        if first is not event.first or last is not event.last or changed or absurd(event.count):
            count = max(-_MAX_INDEX, min(_MAX_INDEX, event.count))
            return dataclasses.replace(event, first=first, last=last, samples=samples, count=count)
    if isinstance(event, ProgressUpdate) and (absurd(event.n) or absurd(event.total)):
        n = max(-_MAX_INDEX, min(_MAX_INDEX, event.n))
        return dataclasses.replace(event, n=n, total=None if absurd(event.total) else event.total)
    return event


def _step_x(series_last: tuple[float, float] | None, step: int | None) -> float:
    if step is not None:
        return float(step)
    # Steps without a number (HF-Trainer dicts, Keras lines) are numbered by their order.
    return 1.0 if series_last is None else series_last[0] + 1.0


def _step(state: RunState, event: Event, now: float | None) -> None:
    assert isinstance(event, StepMetrics)
    if event.line < state.first_line:
        return  # a line held back by its reader and released after a new run began: the old run's
    if event.mode == "train" and _relaunched(state, event) and not continues(state, event, now):
        _new_run(state, event)  # the log holds another launch after this run ended (appended to the same file)
    elif after_the_end(state, event):
        if event.mode == "train":
            _resumed(state, event, now)  # (the RESUMED-th such step starts a new run with them all)
        return
    if event.device and state.device is None:
        state.device = event.device
    if event.remaining_s is not None and math.isfinite(event.remaining_s):
        state.remaining_s = max(0.0, event.remaining_s)
        state.remaining_at = now
    if event.mode == "eval":
        _eval_step(state, event, now)
        return
    if _goes_back(state, event) and not continues(state, event, now):
        _new_run(state, event)
    if state.status == "failed":
        _outlived(state, 1, now)
    current = state.current_phase
    if current is None or current.name != "train":
        open_phase(state, "train", event, now)
    first_step_of_run = state.steps.count == 0
    x = _step_x(state.steps.last, event.step)
    state.steps.add(x, _arrival_value(event, now))
    state.last_step = event
    _observe_step(state, event, now)
    if now is not None:
        state.last_progress_at = now
        if state.last_step_at is not None and now >= state.last_step_at:
            state.step_arrivals.append(now)
        elif state.last_step_at is None:
            state.step_arrivals.append(now)
        state.last_step_at = now
    state.stalled = False
    if event.loss is not None:
        previous = state.loss.last
        state.loss.add(x, event.loss)
        # One alert per stretch of non-finite losses, not one per step.
        if not math.isfinite(event.loss) and (previous is None or math.isfinite(previous[1])):
            nan_alert(state, event, now, x)
    # The first report of a run at step 0/1 carries the rate of a tracker that has just been reset (Cerebras,
    # PopTorch throughput of the warm-up step): it is not a rate of the run, so it is not shown or plotted.
    nonsense_rate = first_step_of_run and event.step is not None and event.step <= 1
    if event.rate is not None and _is_finite(event.rate) and not nonsense_rate:
        # Cerebras Rate is already an exponential moving average: kept as reported, never smoothed again.
        state.rate.add(x, event.rate)
    if event.global_rate is not None and _is_finite(event.global_rate) and not nonsense_rate:
        state.global_rate = event.global_rate
    if event.rate is not None or event.global_rate is not None:
        state.rate_unit = event.rate_unit


def _arrival_value(event: StepMetrics, now: float | None) -> float:
    """The y of the steps series: arrival time on the injected clock, else the log's own time (epoch seconds)."""
    return _arrival(event.ts, now)


def _arrival(ts: datetime | None, now: float | None) -> float:
    if now is not None:
        return now
    if ts is not None:
        try:
            return ts.timestamp()
        except (OverflowError, OSError, ValueError):
            return math.nan
    return math.nan


def _eval_step(state: RunState, event: StepMetrics, now: float | None) -> None:
    current = state.current_phase
    if current is None or current.name != "eval":
        open_phase(state, "eval", event, now)
        evals.begin(state)
    x = float(event.batch if event.batch is not None else (event.step if event.step is not None else 0))
    if event.batch is None and event.step is None:
        x = _step_x(state.eval_loss.last, None)
    if event.loss is not None:
        state.eval_loss.add(x, event.loss)
        evals.batch_loss(state, event.loss)
    state.eval_last_step = event


def _step_batch(state: RunState, event: Event, now: float | None) -> None:
    assert isinstance(event, StepBatch)
    if event.count <= 0:
        return
    first, last = event.first, event.last
    if first.mode == "eval":
        # Eval blocks are rare and short; fold their ends in as plain steps.
        _step(state, first, now)
        if event.count > 1:
            _step(state, last, now)
        return
    # A block whose steps count down anywhere holds a restart: its ends and samples show it, or, when they do not
    # lie on one even stride (a restart between samples would hide there), every step of the block is read back.
    numbered = [s.step for s in (first, *event.samples, last) if s.step is not None]
    backwards = any(b < a for a, b in zip(numbered, numbered[1:], strict=False))
    if not backwards and not _even_stride(event):
        backwards = _counts_down(event)
    if event.raw and (event.nonfinite or first.loss is None or last.loss is None or backwards):
        # Rare (NaN/Inf in a block, steps without a loss, steps counting down): every step through the line path,
        # exactly (the batch's decoder reads every line back as the line path does).
        steps = list(event.steps())
        if len(steps) == event.count:
            for step in steps:
                _step(state, sane_step(step), now)
            return
    if (_goes_back(state, first) or _relaunched(state, first)) and not continues(state, event, now):
        _new_run(state, first)
    if state.status == "failed":
        _outlived(state, event.count, now)
    current = state.current_phase
    if current is None or current.name != "train":
        open_phase(state, "train", first, now)
    if first.device and state.device is None:
        state.device = first.device
    first_step_of_run = state.steps.count == 0
    x_first = _step_x(state.steps.last, first.step)
    x_last = float(last.step) if last.step is not None else x_first + event.count - 1
    # The same rule as for single steps: the reset tracker's rate at step 0/1 of a run is not kept.
    skip_first = first_step_of_run and first.step is not None and first.step <= 1
    rated = last.rate is not None and math.isfinite(last.rate)
    n_rate = event.count - (1 if skip_first else 0)
    # Without a clock or log timestamps the steps series has no times (NaN), which it counts but does not plot.
    timed = now is not None or (first.ts is not None and last.ts is not None)
    need_steps = state.steps.kept_offsets(event.count) if timed else []
    need_loss = state.loss.kept_offsets(event.count)
    need_rate = [o + (1 if skip_first else 0) for o in state.rate.kept_offsets(n_rate)] if rated else []
    offsets = sorted({*need_steps, *need_loss, *need_rate})
    held = _HeldPick.of(event, offsets, x_first, now) if READ_LATER.get() else None
    if held is not None:
        # Where the kept points go is known now, what they are is read when the batch of events is applied (the
        # series settle then): a new run later in the same batch throws them away unread.
        steps_points = held.points(need_steps, _STEPS) if timed else []
        loss_points = held.points(need_loss, _LOSS)
        rate_points = held.points(need_rate, _RATE) if rated and n_rate > 0 else []
        kept = (steps_points, loss_points, rate_points)
        _add_kept(state, event, now, (x_first, x_last), timed, n_rate if rated else 0, (None, None), kept)
        if timed:
            state.steps.hold()
        state.loss.hold()
        if rated and n_rate > 0:
            assert last.rate is not None
            state.rate.hold(_HeldRates(held, need_rate, last.rate))
    elif (picked := _pick_steps(event, offsets)) is not None:
        # Exactly the points a line-by-line feed keeps: the chart's shape does not depend on the chunking.
        # Each kept step's x (its number, else its place), once for the three series.
        xs = {o: x_first + o if p.step is None else float(p.step) for o, p in picked.items()}
        steps_points = [(xs[o], _arrival(picked[o].ts, now)) for o in need_steps] if timed else []
        rate_points = [(xs[o], picked[o].rate or 0.0) for o in need_rate] if rated and n_rate > 0 else []
        values = [r for _, r in rate_points] + ([last.rate] if last.rate is not None else [])
        kept = (steps_points, [(xs[o], picked[o].loss or 0.0) for o in need_loss], rate_points)
        low_high = (min(values), max(values)) if values else (None, None)
        _add_kept(state, event, now, (x_first, x_last), timed, n_rate if rated else 0, low_high, kept)
    else:
        _sampled_batch(state, event, now, x_first, x_last, skip_first)
    if _is_finite(last.global_rate):
        state.global_rate = last.global_rate
    if last.rate is not None or last.global_rate is not None:
        state.rate_unit = last.rate_unit
    if last.remaining_s is not None and math.isfinite(last.remaining_s):
        state.remaining_s = max(0.0, last.remaining_s)
        state.remaining_at = now
    state.last_step = last
    _observe_step(state, first, now)
    _observe_step(state, last, now)
    if now is not None:
        state.step_arrivals.append(now)
        state.last_step_at = now
        state.last_progress_at = now
    state.stalled = False


def _add_kept(
    state: RunState,
    event: StepBatch,
    now: float | None,
    xs: tuple[float, float],
    timed: bool,
    n_rate: int,
    rate_range: tuple[float | None, float | None],
    points: tuple[list[Any], list[Any], list[Any]],
) -> None:
    """A batch's ends and kept points into the three series (read at once, or held: ``_step_batch``); ``n_rate``:
    the rates the batch folds (0: none), ``rate_range`` their min and max when known now."""
    first, last = event.first, event.last
    x_first, x_last = xs
    steps_points, loss_points, rate_points = points
    step_first, step_last = (x_first, _arrival_value(first, now)), (x_last, _arrival_value(last, now))
    if timed:
        state.steps.add_kept(step_first, step_last, event.count, None, None, steps_points)
    else:
        state.steps.add_aggregate(step_first, step_last, event.count, None, None, event.count, [])
    assert first.loss is not None and last.loss is not None
    state.loss.add_kept(
        (x_first, first.loss), (x_last, last.loss), event.count, event.loss_min, event.loss_max, loss_points
    )
    if n_rate > 0:
        assert last.rate is not None
        low, high = rate_range
        state.rate.add_kept(
            rate_points[0] if rate_points else (x_last, last.rate), (x_last, last.rate), n_rate, low, high, rate_points
        )


def _even_stride(event: StepBatch) -> bool:
    """Whether the batch's first, samples and last step lie on one line: step = first + stride x line offset (every
    line a step, steps counting up by the same amount), as a steady run logs them."""
    first, last = event.first, event.last
    if first.step is None or last.step is None or event.count < 2:
        return event.count < 2
    span = last.line - first.line
    rise = last.step - first.step
    if span <= 0 or rise < 0 or rise % span:
        return False
    stride = rise // span
    return all(s.step is not None and s.step - first.step == stride * (s.line - first.line) for s in event.samples)


def _counts_down(event: StepBatch) -> bool:
    """Whether any step of the batch is lower than the one before it (every line read back by its decoder)."""
    previous = -1
    for columns in event.columns():
        for step in columns.step:
            if step is None:
                continue
            if step < previous:
                return True
            previous = step
    return False


def _goes_back(state: RunState, step: StepMetrics) -> bool:
    """A global training step lower than the last one: the log holds a new run (or a restart from a checkpoint),
    whose steps are not more steps of the old one. Per-epoch counters (a step report with its epoch, a progress
    bar's position) start again every epoch and are not global."""
    last = state.last_step
    if last is None or last.step is None or step.step is None or step.step >= last.step:
        return False
    return not (step.epoch is not None or last.epoch is not None or _from_bar(step) or _from_bar(last))


OUTLIVED = 20
"""Training steps read after a traceback failed the run that say the run went on: the traceback was a worker's, a
finalizer's or a thread's, not the run's end (a crashed DDP rank's peers block in their collectives and print none)."""


def _outlived(state: RunState, steps: int, now: float | None) -> None:
    if state.outcome is not None or state.end is not None:
        return  # the supervisor's or the scheduler's record of how the run ended decides
    state.steps_after_failure += steps
    if state.steps_after_failure >= OUTLIVED:
        state.status = "running" if now is not None else "unknown"


RESUMED = 20
"""Guessed training steps read after the log's own end line that say a launch resumed after it (a run continued from
its checkpoint, appended to the same log): a summary printed after the end is a few lines, not a loop."""


def _resumed(state: RunState, step: StepMetrics, now: float | None) -> None:
    """Hold ``step`` (a guessed training step after the log's end line); at the ``RESUMED``-th, a new run starts
    with the held steps as its first ones."""
    held = state.after_end
    held.append(step)
    if len(held) >= RESUMED:
        _new_run(state, held[0])
        for event in held:
            _step(state, event, now)


def _new_run(state: RunState, step: StepMetrics) -> None:
    reset_run(state)
    state.first_line = step.line


def _relaunched(state: RunState, step: StepMetrics) -> bool:
    """A training step behind the last one — at an earlier epoch, or an earlier step of the same epoch — read by the
    same reader after the run ended (succeeded or failed): a new launch appended to the same log, not more steps of
    the ended run."""
    if state.status not in ENDED:
        return False
    last = state.last_step
    if last is None or step.step is None and step.epoch is None or step.rule != last.rule:
        return False  # (a launch prints its steps as the one before did: one reader reads both)
    if (step.epoch is None) != (last.epoch is None):
        return False
    if step.epoch is not None and last.epoch is not None and step.epoch != last.epoch:
        return step.epoch < last.epoch
    return step.step is not None and last.step is not None and step.step < last.step


def _from_bar(step: StepMetrics) -> bool:
    return step.rate_unit.endswith("it/s")


class _Picked(NamedTuple):
    """What the series keep of one step of a batch (read from its columns, no StepMetrics built)."""

    step: int | None
    ts: datetime | None
    loss: float | None
    rate: float | None


def _pick_steps(event: StepBatch, offsets: list[int]) -> dict[int, _Picked] | None:
    """The steps at ``offsets`` (0-based, within the batch), read back from the batch's raw lines by its decoder
    (``hwmon.events.BlockDecoder``: the model reads columns, never a parser); None when the batch carries no raw
    lines or they do not read back as one step each."""
    if not offsets:
        return {}
    if not event.raw or event.decoder is None:
        return None
    if _handed_over(event, offsets):
        # The parser read every line already (``StepBatch.decoded``): the kept rows are taken from its columns.
        return _picks(event, offsets, [_rows_at(event.decoded[0], offsets)])
    # Only the wanted lines are read back (offsets are sorted): a block holds thousands of lines, keeps a few.
    wanted = event.raw_lines_at(offsets)
    return None if wanted is None else _read_back(event, offsets, wanted)


def _handed_over(event: StepBatch, offsets: list[int]) -> bool:
    """Whether the batch carries the columns of every line at ``offsets`` (``StepBatch.decoded``)."""
    return len(event.decoded) == 1 and offsets[-1] < len(event.decoded[0])


def _read_back(event: StepBatch, offsets: list[int], wanted: list[bytes]) -> dict[int, _Picked] | None:
    """``_pick_steps`` of the raw lines ``wanted`` (those at ``offsets``)."""
    assert event.decoder is not None
    # (A decoder may read only the columns the series keep, ``decode_series``: see hwmon.events.BlockDecoder.)
    decode = getattr(event.decoder, "decode_series", event.decoder.decode)
    return _picks(event, offsets, decode(b"".join(wanted), event.first.line))


def _picks(event: StepBatch, offsets: list[int], found: Sequence[StepColumns]) -> dict[int, _Picked] | None:
    picked: list[_Picked] = []
    for columns in found:
        n = len(columns)
        none = [None] * n
        steps = columns.step
        if not _all_sane(steps):
            steps = [None if absurd(step) else step for step in steps]  # (sane_step's rule, row by row)
        picked.extend(
            map(
                _Picked,
                steps,
                columns.ts if columns.ts is not None else none,
                columns.loss if columns.loss is not None else none,
                columns.rate if columns.rate is not None else none,
            )
        )
    if len(picked) != len(offsets):
        return None
    return dict(zip(offsets, picked, strict=True))


READ_LATER: ContextVar[bool] = ContextVar("READ_LATER", default=False)
"""Whether a batch's kept points may be read when the events being applied are all applied (``apply_all`` sets it
and settles the series after): see ``_HeldPick``."""

_STEPS, _LOSS, _RATE = 0, 1, 2

HOLD_MIN = 32
"""A batch whose series keep fewer of its steps than this is read at once: holding them costs about what reading
them does (a long run's series keep a few points a batch: the Cerebras log, 318 of 345 batches on 200 MB), and the
many kept right after a new run (every step up to the series' capacity) are what a reset throws away (the GPU log:
all but 2 of 182 batches on 30 MB keep more)."""


class _HeldPick:
    """The kept steps of a batch, read back from its raw lines when first asked (``BoundedSeries.hold``): the
    series know from the counts alone where they go, and a new run begun later in the same ``apply_all`` throws
    them away unread (a log of many short runs: most of the lines read back would be). Read, they are exactly what
    ``_pick_steps`` gives. Only for a batch whose lines are found now (``raw_lines_at``) and not handed over."""

    __slots__ = ("_event", "_offsets", "_wanted", "_x_first", "_now", "_picked")

    def __init__(self, event: StepBatch, offsets: list[int], wanted: list[bytes], x_first: float, now: float | None):
        self._event = event
        self._offsets = offsets
        self._wanted = wanted
        self._x_first = x_first
        self._now = now
        self._picked: dict[int, tuple[float, float, float, float]] | None = None

    @classmethod
    def of(cls, event: StepBatch, offsets: list[int], x_first: float, now: float | None) -> _HeldPick | None:
        if len(offsets) < HOLD_MIN or not event.raw or event.decoder is None or _handed_over(event, offsets):
            return None  # (little to read, or read already: at once)
        wanted = event.raw_lines_at(offsets)
        return None if wanted is None else cls(event, offsets, wanted, x_first, now)

    def points(self, offsets: list[int], kind: int) -> list[tuple[float, float]]:
        """The kept points at ``offsets`` of one series (``kind``), held: (holder, offset) pairs."""
        # (The holder refers to this pick, never the other way: no cycle keeps a thrown-away batch's lines alive.)
        return cast("list[tuple[float, float]]", list(zip(repeat(_HeldPoints(self, kind)), offsets)))

    def read(self, offset: int) -> tuple[float, float, float, float]:
        """(x, arrival, loss, rate) of the step at ``offset``, as ``_step_batch`` plots it."""
        return self.rows()[offset]

    def rows(self) -> dict[int, tuple[float, float, float, float]]:
        """``read`` of every kept offset."""
        if self._picked is None:
            self._picked = self._read()
        return self._picked

    def _read(self) -> dict[int, tuple[float, float, float, float]]:
        event, x_first, now = self._event, self._x_first, self._now
        picked = _read_back(event, self._offsets, self._wanted)
        if picked is None:
            # The lines did not read back as one step each (a decoder breaking the StepBatch contract): every step
            # as the line path reads it, else the batch's last step for each point.
            steps = list(event.steps())
            if len(steps) == event.count:
                picked = {o: _Picked(steps[o].step, steps[o].ts, steps[o].loss, steps[o].rate) for o in self._offsets}
            else:
                last = event.last
                picked = {o: _Picked(last.step, last.ts, last.loss, last.rate) for o in self._offsets}
        return {
            o: (
                x_first + o if p.step is None else float(p.step),
                _arrival(p.ts, now),
                p.loss or 0.0,
                p.rate or 0.0,
            )
            for o, p in picked.items()
        }


class _HeldPoints(Holder):
    """The kept points of one series of a ``_HeldPick``: (x, arrival), (x, loss) or (x, rate) at an offset."""

    __slots__ = ("_pick", "_kind")

    def __init__(self, pick: _HeldPick, kind: int) -> None:
        self._pick, self._kind = pick, kind

    def value(self, key: int) -> tuple[float, float]:
        row = self._pick.read(key)
        return row[0], row[1 + self._kind]

    def values(self, keys: list[int]) -> list[tuple[float, float]]:
        rows = self._pick.rows()
        k = 1 + self._kind
        return [(row[0], row[k]) for row in map(rows.__getitem__, keys)]


class _HeldRates(Holder):
    """The rate series' (min, max) fold of a ``_HeldPick``: its kept rates and the last one."""

    __slots__ = ("_pick", "_offsets", "_last")

    def __init__(self, pick: _HeldPick, offsets: list[int], last: float) -> None:
        self._pick, self._offsets, self._last = pick, offsets, last

    def value(self, key: int) -> tuple[float, float]:
        values = [self._pick.read(o)[3] for o in self._offsets] + [self._last]
        return min(values), max(values)


def settle(state: RunState) -> None:
    """Read what the series hold (``_HeldPick``) into them: ``apply_all`` does, after its last event."""
    state.steps.settle()
    state.loss.settle()
    state.rate.settle()


def _all_sane(steps: Sequence[int | None]) -> bool:
    """Whether every step is a number none of which is ``absurd`` (two C passes, not a test per row)."""
    if None in steps:
        return False
    numbers = cast("Sequence[int]", steps)
    return not numbers or (-_MAX_INDEX <= min(numbers) and max(numbers) <= _MAX_INDEX)


def _rows_at(columns: StepColumns, offsets: list[int]) -> StepColumns:
    """The columns the series read (step, ts, loss, rate) of ``columns``' rows at ``offsets`` (in range, sorted)."""
    at = itemgetter(*offsets)

    def take(values: Sequence[Any] | None) -> list[Any] | None:
        if values is None:
            return None
        return list(at(values)) if len(offsets) > 1 else [values[offsets[0]]]

    return StepColumns(
        lines=offsets,
        step=take(columns.step) or [],
        ts=take(columns.ts),
        loss=take(columns.loss),
        rate=take(columns.rate),
        rule=columns.rule,
    )


def _sampled_batch(
    state: RunState, event: StepBatch, now: float | None, x_first: float, x_last: float, skip_first: bool
) -> None:
    """A batch without raw lines: folded in by its aggregates and its evenly spaced samples."""
    first, last = event.first, event.last
    samples = [s for s in event.samples if s.step is not None]
    state.steps.add_aggregate(
        (x_first, _arrival_value(first, now)),
        (x_last, _arrival_value(last, now)),
        event.count,
        None,
        None,
        0,
        [(float(s.step), _arrival_value(s, now)) for s in samples if s.step is not None],
    )
    if first.loss is not None and last.loss is not None:
        previous = state.loss.last
        state.loss.add_aggregate(
            (x_first, first.loss),
            (x_last, last.loss),
            event.count,
            event.loss_min,
            event.loss_max,
            event.nonfinite,
            [(float(s.step), s.loss) for s in samples if s.step is not None and s.loss is not None],
        )
        if event.nonfinite and (previous is None or math.isfinite(previous[1])):
            nan_alert(state, last, now, x_last)
    rated = [(float(s.step), s.rate) for s in samples if s.step is not None and s.rate is not None]
    rated = [(x, r) for x, r in rated if math.isfinite(r) and not (skip_first and _is_first_step(x, first))]
    if rated and last.rate is not None and math.isfinite(last.rate):
        values = [r for _, r in rated] + [last.rate]
        state.rate.add_aggregate(
            rated[0],
            (x_last, last.rate),
            event.count - (1 if skip_first else 0),
            min(values),
            max(values),
            0,
            rated,
        )


def _observe_step(state: RunState, step: StepMetrics, now: float | None) -> None:
    """Update the seconds-per-step average from a training step's number and time (the log's own timestamp when
    the line has one, else its arrival on the injected clock)."""
    if step.step is None:
        return
    t: float | None = None
    if step.ts is not None:
        try:
            t = step.ts.timestamp()
        except (OverflowError, OSError, ValueError):
            t = None
    if t is None:
        t = now
    if t is None:
        return
    x = float(step.step)
    anchor = state.step_anchor
    state.step_anchor = (x, t)
    if anchor is None or x <= anchor[0]:
        return
    dt = t - anchor[1]
    if dt <= 0:
        # Steps that arrived together (a catch-up read): no timing in them; measure from here on.
        return
    per_step = dt / (x - anchor[0])
    if state.step_seconds is None:
        state.step_seconds = per_step
    else:
        state.step_seconds = STEP_EMA_ALPHA * per_step + (1.0 - STEP_EMA_ALPHA) * state.step_seconds


def _is_first_step(x: float, first: StepMetrics) -> bool:
    return first.step is not None and x == float(first.step)


HANDLERS: dict[type[Event], Handler] = {
    StepMetrics: _step,
    StepBatch: _step_batch,
}
