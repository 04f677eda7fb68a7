"""The one reducer: folds events (``hwmon.events``) into a ``RunState``.

Everything the dashboard and ``hwmon summary`` show is derived from the state this builds, so the live and the
headless views cannot disagree. Pure: no I/O, no clock of its own — ``now`` is the caller's clock reading at the
event's arrival (``None`` for a whole-file summary). Bad or odd input never raises: an event that does not fit the
current state is folded in as well as it can be.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from hwmon.events import (
    CheckpointSaved,
    ErrorSeen,
    EvalMetric,
    Event,
    Info,
    JobIdSeen,
    LogLine,
    ModelSummary,
    PhaseEnded,
    PhaseName,
    PhaseStarted,
    ProgressUpdate,
    RunClock,
    RunCompleted,
    RunOutcome,
    RunStarted,
    SourceEnded,
    StepBatch,
    StepMetrics,
    TargetStated,
    TrainingTotals,
    VendorDetected,
    WarningSeen,
)
from hwmon.model.state import (
    ENDED,
    MAX_ALERTS,
    MAX_CHECKPOINTS_KEPT,
    MAX_ERRORS,
    MAX_INFO_KEYS,
    MAX_PHASES,
    MAX_PROGRESS_BARS,
    Alert,
    Checkpoint,
    Phase,
    ProgressBar,
    RunState,
)

__all__ = ["apply", "apply_all", "add_alert", "fold_phases", "record_time_alerts", "reset_run"]

_ENDED = ENDED
# Weight of the newest interval in the seconds-per-step moving average.
STEP_EMA_ALPHA = 0.3


def apply_all(state: RunState, events: Iterable[Event], now: float | None = None) -> None:
    """Apply every event in order (all arriving at ``now``)."""
    for event in events:
        apply(state, event, now)


def apply(state: RunState, event: Event, now: float | None = None) -> None:
    """Fold one event into ``state`` and bump ``state.version``. Never raises on odd input; unknown event types
    only count as output."""
    state.version += 1
    if event.line > state.lines:
        state.lines = event.line
    if now is not None and not isinstance(event, (SourceEnded, RunOutcome, RunClock)):
        if state.started_at is None:
            state.started_at = now
        state.last_output_at = now
        state.silent = False
        if state.source_ended:
            # A quiet file written to again: the source is live again.
            state.source_ended = False
            state.source_end_reason = ""
    handler = _HANDLERS.get(type(event))
    if handler is _step or handler is _step_batch or handler is _progress:
        event = _sane_numbers(event)
    if handler is not None:
        # RunStarted may reset the state, so it must see the previous run's timestamps before they are updated.
        handler(state, event, now)
    ts = event.ts
    if ts is not None:
        if state.first_ts is None:
            state.first_ts = ts
        if state.last_ts is None or ts > state.last_ts:
            state.last_ts = ts
    if now is not None and state.status == "unknown" and not state.source_ended and state.outcome is None:
        state.status = "running"


# --- helpers ------------------------------------------------------------------------------------------------------


def add_alert(state: RunState, alert: Alert) -> None:
    """Record an alert (bounded list; ``alert_count`` counts every alert ever raised)."""
    state.alerts.append(alert)
    state.alert_count += 1
    if len(state.alerts) > MAX_ALERTS:
        del state.alerts[0]


def record_time_alerts(state: RunState, alerts: list[Alert]) -> None:
    """Record the time-based alerts ``hwmon.model.alerts.check`` found (stall, silence): each is raised once and
    re-armed when steps/output resume."""
    for alert in alerts:
        if alert.kind == "stall":
            state.stalled = True
        elif alert.kind == "silence":
            state.silent = True
        add_alert(state, alert)


def reset_run(state: RunState) -> None:
    """Start a fresh run in ``state``: everything but the source identity and the monotonic counters is cleared."""
    fresh = RunState(source=state.source)
    fresh.version = state.version
    fresh.lines = state.lines
    fresh.alert_count = state.alert_count
    fresh.runs = state.runs + 1
    # What the source and the supervisor know is about the process, not about one run in its log.
    fresh.run_started_at = state.run_started_at
    fresh.started_at = state.started_at
    for f in dataclasses.fields(RunState):
        setattr(state, f.name, getattr(fresh, f.name))


def _end_time(state: RunState, event: Event) -> datetime | None:
    """The log time at which something ended: the event's own timestamp, else the latest one seen so far (a line
    without a timestamp, such as a tqdm bar, sits between timestamped lines)."""
    return event.ts if event.ts is not None else state.last_ts


def _close_phase(state: RunState, phase: Phase, event: Event, now: float | None, seconds: float | None = None) -> None:
    phase.closed = True
    if seconds is None and phase.start is None and phase.stated_seconds is None:
        # A log without timestamps that did not state the phase's length: the longest bar drawn and finished
        # within the phase measured it (HF Trainer's training bar: 2496/2496 [17:18<00:00]).
        seconds = _bar_elapsed_within(state, phase, event.line)
    if seconds is not None and math.isfinite(seconds) and seconds >= 0:
        phase.stated_seconds = seconds
    if phase.start is not None:
        if event.ts is not None:
            phase.end = max(event.ts, phase.start)
        elif phase.stated_seconds is None and state.last_ts is not None:
            phase.end = max(state.last_ts, phase.start)
    if now is not None and phase.start_at is not None:
        phase.end_at = max(now, phase.start_at)


def _bar_elapsed_within(state: RunState, phase: Phase, end_line: int) -> float | None:
    """The time the longest bar that finished within ``phase`` took, less what the phases since the bar began
    (checkpoints between train spans of the same loop) are known to have taken."""
    best: float | None = None
    for bar in state.progress.values():
        elapsed = bar.elapsed_s
        if not bar.done or elapsed is None or not math.isfinite(elapsed):
            continue
        if not phase.start_line <= bar.line <= end_line:
            continue
        for earlier in state.phases:
            if earlier is not phase and earlier.start_line >= bar.first_line:
                known = earlier.seconds()
                elapsed -= known if known is not None else 0.0
        if best is None or elapsed > best:
            best = elapsed
    return None if best is None else max(0.0, best)


def _open_phase(state: RunState, name: PhaseName, event: Event, now: float | None, detail: str = "") -> Phase:
    current = state.current_phase
    if current is not None:
        if current.name == name:
            if detail:
                current.detail = detail
            return current
        _close_phase(state, current, event, now)
    start = event.ts if event.ts is not None else state.last_ts
    phase = Phase(name=name, start=start, start_at=now, detail=detail, start_line=event.line)
    state.phases.append(phase)
    if len(state.phases) > MAX_PHASES:
        fold_phases(state)
    return phase


_FOLD_HEAD = 16  # the run's start (queue, compile, setup...) stays exact
_FOLD_TAIL = 64  # and so does its recent past


def fold_phases(state: RunState) -> None:
    """Bound the timeline: the spans between the first ``_FOLD_HEAD`` and the last ``_FOLD_TAIL`` phases become one
    entry per phase name (first start to last end, durations summed, ``repeats`` counted), in order of first start.
    Totals per phase and the order of the timeline are kept; only the interleaving of old cycles is lost."""
    phases = state.phases
    if len(phases) <= _FOLD_HEAD + _FOLD_TAIL:
        return
    middle = phases[_FOLD_HEAD:-_FOLD_TAIL]
    folded: dict[str, Phase] = {}
    merged: list[Phase] = []
    for phase in middle:
        into = folded.get(phase.name)
        seconds = phase.seconds(phase.end)
        if into is None:
            if phase.folded_seconds is None:
                phase.folded_seconds = seconds or 0.0
            folded[phase.name] = phase
            merged.append(phase)
            continue
        into.repeats += phase.repeats
        into.folded_seconds = (into.folded_seconds or 0.0) + (seconds or 0.0)
        into.closed = True
        if phase.end is not None:
            into.end = phase.end
        if phase.end_at is not None:
            into.end_at = phase.end_at
        if phase.stated_seconds is not None:
            into.stated_seconds = (into.stated_seconds or 0.0) + phase.stated_seconds
    state.phases = [*phases[:_FOLD_HEAD], *merged, *phases[-_FOLD_TAIL:]]


def _is_finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


# --- handlers -----------------------------------------------------------------------------------------------------


def _run_started(state: RunState, event: Event, now: float | None) -> None:
    assert isinstance(event, RunStarted)
    if state.status in _ENDED or state.steps.count > 0:
        reset_run(state)
    if event.command:
        state.command = event.command


def _vendor(state: RunState, event: Event, now: float | None) -> None:
    assert isinstance(event, VendorDetected)
    # The first vendor recognised wins: later generic matches (a tqdm bar) must not relabel a Cerebras run.
    if state.vendor is None:
        state.vendor = event.vendor
    if event.device:
        state.device = event.device


def _phase_started(state: RunState, event: Event, now: float | None) -> None:
    assert isinstance(event, PhaseStarted)
    _open_phase(state, event.phase, event, now, event.detail)


def _inside_outer_loop(state: RunState, phase: Phase) -> bool:
    """Whether an unfinished bar that was already drawn when ``phase`` began is still going (an epochs bar around
    per-epoch batch bars): the end of an inner bar is then not the end of the phase."""
    for bar in state.progress.values():
        if bar.total and bar.n < bar.total and bar.first_line <= phase.start_line <= bar.line:
            return True
    return False


def _phase_ended(state: RunState, event: Event, now: float | None) -> None:
    assert isinstance(event, PhaseEnded)
    current = state.current_phase
    if current is not None and current.name == event.phase == "train" and _inside_outer_loop(state, current):
        # One train span for the whole loop: the inner bar's end says nothing about the phase.
        return
    if current is not None and current.name == event.phase:
        end_ts = _end_time(state, event)
        if event.seconds is not None and current.start is not None and end_ts is not None:
            observed = (end_ts - current.start).total_seconds()
            if observed > event.seconds + 1.0:
                # The stated duration covers only part of this phase (a "Sending initial weights" bar inside a
                # longer staging phase that the log's timestamps show): the phase goes on.
                return
        _close_phase(state, current, event, now, event.seconds)
        return
    if event.seconds is None or not math.isfinite(event.seconds) or event.seconds < 0:
        # An end of a phase that never started and whose length the log does not state tells us nothing.
        return
    previous = state.phases[-1] if state.phases else None
    if (
        current is None
        and previous is not None
        and previous.name == event.phase
        and previous.end is None
        and previous.stated_seconds is not None
        and event.seconds >= previous.stated_seconds
    ):
        # A second, longer statement about the phase that just ended ("Graph compilation 100% [00:14]", then
        # "Compiled/Loaded model in 31.0 secs"): one phase, and the longer figure covers the shorter.
        previous.stated_seconds = event.seconds
        return
    # The log states that a phase took S seconds without having announced its start (a finished tqdm bar,
    # "Compiled model in S secs"): record it as a closed span. Whatever was open ended when it started.
    if current is not None:
        _close_phase(state, current, event, now)
    end = _end_time(state, event)
    phase = Phase(
        name=event.phase,
        stated_seconds=event.seconds,
        start_line=event.line,
        closed=True,
        end_at=now,
        start_at=None if now is None else now - event.seconds,
    )
    if end is not None and event.ts is not None:
        phase.end = end
        try:
            phase.start = end - timedelta(seconds=event.seconds)
        except OverflowError:  # an absurd stated duration: keep the figure, not a start before year 1
            phase.start = None
            phase.end = None
    state.phases.append(phase)
    if len(state.phases) > MAX_PHASES:
        fold_phases(state)


# Step/batch numbers beyond this are not real (a corrupted "Step=<400 digits>") and would not survive float().
_MAX_INDEX = 2**53


def _absurd(value: int | None) -> bool:
    return value is not None and not -_MAX_INDEX <= value <= _MAX_INDEX


def _sane_step(step: StepMetrics) -> StepMetrics:
    if _absurd(step.step) or _absurd(step.batch):
        return dataclasses.replace(
            step,
            step=None if _absurd(step.step) else step.step,
            batch=None if _absurd(step.batch) else step.batch,
        )
    return step


def _sane_numbers(event: Event) -> Event:
    """The event with absurd step/batch numbers dropped (as if the line had not stated them) and absurd counts
    clamped, so no later float() of them can overflow."""
    if isinstance(event, StepMetrics):
        return _sane_step(event)
    if isinstance(event, StepBatch):
        first, last = _sane_step(event.first), _sane_step(event.last)
        samples = tuple(_sane_step(s) for s in event.samples)
        changed = any(a is not b for a, b in zip(samples, event.samples, strict=True))
        if first is not event.first or last is not event.last or changed or _absurd(event.count):
            count = max(-_MAX_INDEX, min(_MAX_INDEX, event.count))
            return dataclasses.replace(event, first=first, last=last, samples=samples, count=count)
    if isinstance(event, ProgressUpdate) and (_absurd(event.n) or _absurd(event.total)):
        n = max(-_MAX_INDEX, min(_MAX_INDEX, event.n))
        return dataclasses.replace(event, n=n, total=None if _absurd(event.total) else event.total)
    return event


def _step_x(series_last: tuple[float, float] | None, step: int | None) -> float:
    if step is not None:
        return float(step)
    # Steps without a number (HF-Trainer dicts, Keras lines) are numbered by their order.
    return 1.0 if series_last is None else series_last[0] + 1.0


def _step(state: RunState, event: Event, now: float | None) -> None:
    assert isinstance(event, StepMetrics)
    if event.device and state.device is None:
        state.device = event.device
    if event.remaining_s is not None and math.isfinite(event.remaining_s):
        state.remaining_s = max(0.0, event.remaining_s)
        state.remaining_at = now
    if event.mode == "eval":
        _eval_step(state, event, now)
        return
    if _goes_back(state, event):
        reset_run(state)
    current = state.current_phase
    if current is None or current.name != "train":
        _open_phase(state, "train", event, now)
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
            _nan_alert(state, event, now, x)
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
    if now is not None:
        return now
    if event.ts is not None:
        try:
            return event.ts.timestamp()
        except (OverflowError, OSError, ValueError):
            return math.nan
    return math.nan


def _nan_alert(state: RunState, event: Event, now: float | None, x: float) -> None:
    add_alert(state, Alert("nan", f"loss is not finite (NaN/Inf) at step {x:g}", line=event.line, at=now))


def _eval_step(state: RunState, event: StepMetrics, now: float | None) -> None:
    current = state.current_phase
    if current is None or current.name != "eval":
        _open_phase(state, "eval", event, now)
    x = float(event.batch if event.batch is not None else (event.step if event.step is not None else 0))
    if event.batch is None and event.step is None:
        x = _step_x(state.eval_loss.last, None)
    if event.loss is not None:
        state.eval_loss.add(x, event.loss)
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
    # A block whose steps count down anywhere (its ends, or its evenly spaced samples, show it) holds a restart.
    numbered = [s.step for s in (first, *event.samples, last) if s.step is not None]
    backwards = any(b < a for a, b in zip(numbered, numbered[1:], strict=False))
    if event.raw and (event.nonfinite or first.loss is None or last.loss is None or backwards):
        # Rare (NaN/Inf in a block, steps without a loss, steps counting down): every step through the line path,
        # exactly.
        from hwmon.parsers import expand_steps

        steps = list(expand_steps(event))
        if len(steps) == event.count:
            for step in steps:
                _step(state, _sane_step(step), now)
            return
    if _goes_back(state, first):
        reset_run(state)
    current = state.current_phase
    if current is None or current.name != "train":
        _open_phase(state, "train", first, now)
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
    picked = _pick_steps(event, sorted({*need_steps, *need_loss, *need_rate}))
    if picked is not None:
        # Exactly the points a line-by-line feed keeps: the chart's shape does not depend on the chunking.
        step_first, step_last = (x_first, _arrival_value(first, now)), (x_last, _arrival_value(last, now))
        if timed:
            points = [(_x(picked[o], x_first + o), _arrival_value(picked[o], now)) for o in need_steps]
            state.steps.add_kept(step_first, step_last, event.count, None, None, points)
        else:
            state.steps.add_aggregate(step_first, step_last, event.count, None, None, event.count, [])
        assert first.loss is not None and last.loss is not None
        state.loss.add_kept(
            (x_first, first.loss),
            (x_last, last.loss),
            event.count,
            event.loss_min,
            event.loss_max,
            [(_x(picked[o], x_first + o), picked[o].loss or 0.0) for o in need_loss],
        )
        if rated and n_rate > 0:
            assert last.rate is not None
            points = [(_x(picked[o], x_first + o), picked[o].rate or 0.0) for o in need_rate]
            values = [r for _, r in points] + [last.rate]
            state.rate.add_kept(
                points[0] if points else (x_last, last.rate),
                (x_last, last.rate),
                n_rate,
                min(values),
                max(values),
                points,
            )
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


def _goes_back(state: RunState, step: StepMetrics) -> bool:
    """A global training step lower than the last one: the log holds a new run (or a restart from a checkpoint),
    whose steps are not more steps of the old one. Per-epoch counters (a step report with its epoch, a progress
    bar's position) start again every epoch and are not global."""
    last = state.last_step
    if last is None or last.step is None or step.step is None or step.step >= last.step:
        return False
    return not (step.epoch is not None or last.epoch is not None or _from_bar(step) or _from_bar(last))


def _from_bar(step: StepMetrics) -> bool:
    return step.rate_unit.endswith("it/s")


def _x(step: StepMetrics, fallback: float) -> float:
    return float(step.step) if step.step is not None else fallback


def _pick_steps(event: StepBatch, offsets: list[int]) -> dict[int, StepMetrics] | None:
    """The steps at ``offsets`` (0-based, within the batch), read from the batch's raw lines; None when the batch
    carries no raw lines or they do not read back as ``count`` steps."""
    if not offsets:
        return {}
    if not event.raw:
        return None
    from hwmon.parsers import expand_steps

    raw = event.raw
    # Only the wanted lines are cut out (offsets are sorted): a block holds thousands of lines and keeps a few.
    wanted: list[bytes] = []
    line, start = 0, 0
    for offset in offsets:
        while line < offset:
            start = raw.find(b"\n", start) + 1
            if start == 0:
                return None
            line += 1
        end = raw.find(b"\n", start)
        if end < 0:
            return None
        wanted.append(raw[start : end + 1])
    subset = dataclasses.replace(event, raw=b"".join(wanted), count=len(offsets))
    steps = list(expand_steps(subset))
    if len(steps) != len(offsets):
        return None
    return {offset: _sane_step(step) for offset, step in zip(offsets, steps, strict=True)}


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
            _nan_alert(state, last, now, x_last)
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


def _progress(state: RunState, event: Event, now: float | None) -> None:
    assert isinstance(event, ProgressUpdate)
    bar = state.progress.get(event.name)
    if bar is None:
        if len(state.progress) >= MAX_PROGRESS_BARS:
            # Drop the bar updated longest ago (dicts keep insertion order; updates re-insert).
            del state.progress[next(iter(state.progress))]
        bar = ProgressBar(name=event.name, n=event.n, first_line=event.line)
    else:
        # Re-insert so that iteration order is "least recently updated first".
        del state.progress[event.name]
    state.progress[event.name] = bar
    bar.n = event.n
    bar.total = event.total
    bar.elapsed_s = event.elapsed_s
    bar.remaining_s = event.remaining_s
    bar.rate = event.rate
    bar.unit = event.unit
    if event.metrics:
        bar.metrics.update(event.metrics)
    bar.updated_at = now
    bar.line = event.line
    if now is not None:
        state.last_progress_at = now
    if bar.total and bar.counts_epochs:
        # An epochs bar states the run's epochs: its total, and the epoch under way (n done so far).
        state.target_epochs = bar.total
        state.epoch = min(bar.total, bar.n + 1)
    _check_epochs_and_test(state)


def _checkpoint(state: RunState, event: Event, now: float | None) -> None:
    assert isinstance(event, CheckpointSaved)
    current = state.current_phase
    if current is not None and current.name == "checkpoint":
        _close_phase(state, current, event, now)
    elif event.ts is not None and state.phases:
        _refine_stated_end(state.phases[-1], event.ts)
    last = state.checkpoints[-1] if state.checkpoints else None
    if last is not None and _same_checkpoint(last, event):
        # Two lines about one checkpoint ("Saving step N in dataloader checkpoint" / "Saved checkpoint at step N").
        last.step = last.step if last.step is not None else event.step
        last.path = last.path if last.path is not None else event.path
        return
    state.checkpoint_count += 1
    state.checkpoints.append(Checkpoint(step=event.step, path=event.path, ts=event.ts, line=event.line))
    if len(state.checkpoints) > MAX_CHECKPOINTS_KEPT:
        del state.checkpoints[0]


def _refine_stated_end(phase: Phase, end: datetime) -> None:
    """A checkpoint phase closed by its bar's whole-second elapsed time gets the exact end from the timestamped
    "Saved checkpoint" line that follows, when the two agree to within the bar's resolution."""
    if phase.name != "checkpoint" or phase.start is None or phase.end is not None or phase.stated_seconds is None:
        return
    observed = (end - phase.start).total_seconds()
    if phase.stated_seconds <= observed <= phase.stated_seconds + 1.0:
        phase.end = end


def _same_checkpoint(last: Checkpoint, event: CheckpointSaved) -> bool:
    if event.step is not None and last.step is not None and event.step != last.step:
        return False
    if event.path is not None and last.path is not None and event.path != last.path:
        return False
    return event.step is not None and event.step == last.step or (event.path is not None and event.path == last.path)


def _eval_metric(state: RunState, event: Event, now: float | None) -> None:
    assert isinstance(event, EvalMetric)
    state.eval[event.name] = event.value
    _check_epochs_and_test(state)


def _check_epochs_and_test(state: RunState) -> None:
    """A run that prints no completion line succeeded when its epochs bar finished and a test result followed."""
    if state.status in _ENDED or not state.eval:
        return
    for bar in state.progress.values():
        if bar.counts_epochs and bar.done:
            state.status = "succeeded"
            return


def _completed(state: RunState, event: Event, now: float | None) -> None:
    assert isinstance(event, RunCompleted)
    if event.samples is not None:
        state.samples = event.samples
    if event.seconds is not None and math.isfinite(event.seconds):
        state.seconds = event.seconds
    current = state.current_phase
    if current is not None:
        _close_phase(state, current, event, now)
    if not event.success:
        _fail(state, event, now, event.message or "run ended after a failure")
    elif state.status != "failed":
        # A completion line after a fatal error (e.g. "Processed N samples" printed during shutdown) stays failed.
        state.status = "succeeded"


def _totals(state: RunState, event: Event, now: float | None) -> None:
    """The training loop's own totals: its samples and seconds, without ending the run (an eval may follow)."""
    assert isinstance(event, TrainingTotals)
    if event.samples >= 0:
        state.samples = event.samples
    if math.isfinite(event.seconds) and event.seconds >= 0:
        state.seconds = event.seconds


def _fail(state: RunState, event: Event, now: float | None, message: str) -> None:
    if state.status != "failed":
        state.status = "failed"
        add_alert(state, Alert("failed", message, line=event.line, at=now))


def _job_id(state: RunState, event: Event, now: float | None) -> None:
    assert isinstance(event, JobIdSeen)
    if event.job_id and event.job_id not in state.job_ids:
        state.job_ids.append(event.job_id)


def _model(state: RunState, event: Event, now: float | None) -> None:
    assert isinstance(event, ModelSummary)
    state.model = event.root


def _error(state: RunState, event: Event, now: float | None) -> None:
    assert isinstance(event, ErrorSeen)
    state.error_count += 1
    message = event.message
    new = message not in state.errors
    if new:
        if len(state.errors) >= MAX_ERRORS:
            # Keep the first half (the root cause is usually early) and a rolling tail (the final exception).
            del state.errors[MAX_ERRORS // 2]
        state.errors.append(message)
    if event.fatal:
        current = state.current_phase
        if current is not None:
            _close_phase(state, current, event, now)
        _fail(state, event, now, message)
    elif new:
        add_alert(state, Alert("error", message, line=event.line, at=now))


def _warning(state: RunState, event: Event, now: float | None) -> None:
    assert isinstance(event, WarningSeen)
    state.warnings += 1
    state.recent_warnings.append(event.message)


def _info(state: RunState, event: Event, now: float | None) -> None:
    assert isinstance(event, Info)
    # Facts the model computes with are typed fields, not strings (older parsers state them as Info).
    if event.key == "target_step":
        _set_target(state, "step", _int(event.value), None)
        return
    if event.key == "effective_batch_size":
        try:
            batch = float(event.value)
        except ValueError:
            return
        if math.isfinite(batch) and batch > 0:
            state.batch_size = batch
        return
    if event.key in state.info or len(state.info) < MAX_INFO_KEYS:
        state.info[event.key] = event.value


def _int(text: str) -> int | None:
    try:
        value = int(text.strip())
    except ValueError:
        return None
    return None if _absurd(value) else value


def _target(state: RunState, event: Event, now: float | None) -> None:
    assert isinstance(event, TargetStated)
    _set_target(state, event.what, event.total, event.current)


def _set_target(state: RunState, what: str, total: int | None, current: int | None) -> None:
    if total is None or _absurd(total) or total < 0 or (current is not None and _absurd(current)):
        return
    if what == "step":
        if total > 0:
            state.target_step = total
    elif what == "epoch":
        if total > 0:
            state.target_epochs = total
            if current is not None:
                state.epoch = max(0, min(total, current))
    elif what == "eval":
        state.eval_announced = True
        state.eval_total = total or None


def _outcome(state: RunState, event: Event, now: float | None) -> None:
    """The supervisor's record of how the process ended: the run's status follows it, whatever the log said."""
    assert isinstance(event, RunOutcome)
    state.outcome = event.status
    state.exit_code = event.exit_code
    state.signal = event.signal
    if event.seconds is not None and math.isfinite(event.seconds) and event.seconds >= 0:
        state.run_seconds = event.seconds
    current = state.current_phase
    if current is not None:
        _stop_clocks(state, current)
    if event.status == "failed":
        how = f"signal {event.signal}" if event.signal is not None else f"exit code {event.exit_code}"
        _fail(state, event, now, f"the run's process ended with {how}")
    elif event.status in ("succeeded", "stopped"):
        state.status = event.status
    else:  # "lost": the supervisor vanished; how the run ended is not known
        state.status = "unknown"


def _run_clock(state: RunState, event: Event, now: float | None) -> None:
    assert isinstance(event, RunClock)
    if now is not None and math.isfinite(event.elapsed_s) and event.elapsed_s >= 0:
        state.run_started_at = now - event.elapsed_s


def _source_ended(state: RunState, event: Event, now: float | None) -> None:
    """The source will say no more: a run that did not end by itself has an unknown status, and its clocks stop at
    its last output."""
    assert isinstance(event, SourceEnded)
    state.source_ended = True
    state.source_end_reason = event.reason
    if state.status == "running":
        state.status = "unknown"
    # The open phase stays open (output may resume: a quiet file written to again), but no view measures it past
    # the last output any more (``hwmon.model.figures.is_live``).


def _stop_clocks(state: RunState, phase: Phase) -> None:
    """Close ``phase`` at the run's last output (log time and clock), not at the moment the end became known."""
    phase.closed = True
    if phase.start is not None and phase.end is None and state.last_ts is not None:
        phase.end = max(state.last_ts, phase.start)
    if phase.start_at is not None and phase.end_at is None and state.last_output_at is not None:
        phase.end_at = max(state.last_output_at, phase.start_at)


def _log_line(state: RunState, event: Event, now: float | None) -> None:
    return None


_HANDLERS: dict[type[Event], Callable[[RunState, Event, float | None], None]] = {
    LogLine: _log_line,
    RunStarted: _run_started,
    VendorDetected: _vendor,
    PhaseStarted: _phase_started,
    PhaseEnded: _phase_ended,
    StepMetrics: _step,
    StepBatch: _step_batch,
    ProgressUpdate: _progress,
    CheckpointSaved: _checkpoint,
    EvalMetric: _eval_metric,
    RunCompleted: _completed,
    TrainingTotals: _totals,
    TargetStated: _target,
    RunOutcome: _outcome,
    RunClock: _run_clock,
    SourceEnded: _source_ended,
    JobIdSeen: _job_id,
    ModelSummary: _model,
    ErrorSeen: _error,
    WarningSeen: _warning,
    Info: _info,
}
