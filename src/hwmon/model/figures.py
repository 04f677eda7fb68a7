"""The figures every view shows, each computed in one place: wall time, phase durations and shares, status, step
progress, loss, current rate, eval points (the ETA is ``hwmon.model.eta``).

``hwmon summary`` (no clock: ``now=None``), ``ls``, ``compare``, ``export``, the fleet, plain mode and the dashboard
all call these, so no two views can disagree about a run. Each figure is a value function with its ``fmt_*``
spelling beside it (``current_rate`` / ``fmt_rate``, ``step_progress`` / ``fmt_step_progress``...): a view prints
``fmt_x(x(state))``, never its own rounding. Pure: ``now`` is the caller's reading of the injected clock that was
passed to ``hwmon.model.reducer.apply`` as the events arrived.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from hwmon.model.fmt import fmt_duration, fmt_number
from hwmon.model.fmt import fmt_rate as _fmt_rate_value
from hwmon.model.state import ENDED, Phase, ProgressBar, RunState, merge_errors

__all__ = [
    "EvalPoint",
    "PhaseTotal",
    "Rate",
    "StepProgress",
    "current_rate",
    "display_status",
    "eval_points",
    "fmt_loss",
    "fmt_rate",
    "fmt_share",
    "fmt_step",
    "fmt_step_count",
    "fmt_step_progress",
    "fmt_wall",
    "is_ended",
    "is_epochs_bar",
    "is_live",
    "last_loss",
    "log_now",
    "main_progress",
    "phase_durations",
    "phase_shares",
    "phase_totals",
    "step_progress",
    "wall_seconds",
]


def log_errors(state: RunState) -> list[str]:
    """The errors the log shows, every run's: those of the runs before the last one (a launch appended to the same
    file after another ended) first, then the run's own; distinct, bounded. Every view and ``hwmon summary`` list
    errors through this."""
    if not state.earlier_errors:
        return list(state.errors)
    return merge_errors(state.earlier_errors, state.errors)


def log_error_count(state: RunState) -> int:
    """How many error lines the log showed, every run's (``log_errors``)."""
    return state.earlier_error_count + state.error_count


def fmt_error_count(count: int, earlier: int) -> str:
    """An error count that says how many came from the runs before the last (``log_error_count``,
    ``RunState.earlier_error_count``): ``12, 10 in earlier runs``, ``5, all in earlier runs``, ``2``."""
    if earlier <= 0:
        return str(count)
    if earlier >= count:
        return f"{count}, all in earlier runs"
    return f"{count}, {earlier} in earlier runs"


def is_ended(state: RunState) -> bool:
    """The run reported its end (its own end line, a fatal error, or its supervisor's record)."""
    return state.status in ENDED


def is_live(state: RunState, now: float | None) -> bool:
    """Clocks run on: a live view (``now`` given) of a run that has not ended and whose source has not ended."""
    return now is not None and not is_ended(state) and not state.source_ended


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def log_now(state: RunState, now: float | None) -> datetime | None:
    """ "Now" in the log's time, to measure an open phase against: the last log timestamp, plus the clock time since
    the last output while the run is live."""
    ts = state.last_ts
    if ts is not None and is_live(state, now) and now is not None and state.last_output_at is not None:
        try:
            ts = ts + timedelta(seconds=max(0.0, now - state.last_output_at))
        except OverflowError:
            pass
    return ts


def _clock_end(state: RunState, now: float | None) -> float | None:
    """The clock reading the run's time is measured up to: ``now`` while live, else its last output."""
    if is_live(state, now):
        return now
    return state.last_output_at


def log_clock_now(state: RunState, now: float | None) -> float:
    """ "Now" on the run's log clock (its bars' elapsed times): its last reading, plus the clock time since it while
    the run is live."""
    clock = state.log_clock
    if is_live(state, now) and now is not None and state.log_clock_at is not None:
        clock += max(0.0, now - state.log_clock_at)
    return clock


def raw_phase_seconds(state: RunState, phase: Phase, now: float | None) -> float | None:
    """One phase's duration as measured (log timestamps, else stated by the log, else the log clock, else arrival
    times); an open phase is measured up to now while live, else up to the last output."""
    return _finite(
        phase.seconds(now=log_now(state, now), now_at=_clock_end(state, now), now_lc=log_clock_now(state, now))
    )


def _evidence_wall(state: RunState, now: float | None, phase_total: float) -> float | None:
    spans: list[float] = [phase_total]
    timestamped = state.first_ts is not None and state.last_ts is not None and state.last_ts > state.first_ts
    if state.first_ts is not None and state.last_ts is not None:
        span = (state.last_ts - state.first_ts).total_seconds()
        if is_live(state, now) and now is not None and state.last_output_at is not None:
            span += max(0.0, now - state.last_output_at)
        spans.append(span)
    end = _clock_end(state, now)
    if state.started_at is not None and end is not None:
        spans.append(end - state.started_at)
    if not timestamped and (stated := _finite(state.seconds)) is not None:
        # Without timestamps, the run's own statement of its length (HF's train_runtime, "Processed N samples in S
        # seconds"); with them, such a figure may count an earlier, resumed part of the run, so the log's own
        # times win.
        spans.append(stated)
    wall = max(spans)
    return wall if wall > 0 else None


def wall_seconds(state: RunState, now: float | None) -> float | None:
    """The run's wall time.

    The supervisor's record when there is one (run.json: start to end, or start to now while live; so re-attaching
    to a run shows its real age). Else the longest span the evidence shows: the log's first to last timestamp, the
    arrival clock, the phases' durations, and (for a log without timestamps) the run's own statement of its
    length. A live run's clock runs on; an
    ended run's (or an ended source's) stops at its last output.
    """
    if (recorded := _finite(state.run_seconds)) is not None:
        return max(0.0, recorded)
    end = _clock_end(state, now)
    if state.run_started_at is not None and end is not None:
        return max(0.0, end - state.run_started_at)
    if now is None and (age := _finite(state.run_age_s)) is not None and not is_ended(state):
        return age
    total = sum(d for d in (raw_phase_seconds(state, p, now) for p in state.phases) if d is not None)
    return _evidence_wall(state, now, total)


def phase_durations(state: RunState, now: float | None) -> list[float | None]:
    """Each phase's duration (``None`` when nothing measures it), in ``state.phases`` order. They never add up to
    more than the wall time: when the supervisor's record says the run was shorter than its phases claim, the later
    phases are cut to fit."""
    raw = [raw_phase_seconds(state, p, now) for p in state.phases]
    wall = wall_seconds(state, now)
    if wall is None:
        return raw
    out: list[float | None] = []
    left = wall
    for seconds in raw:
        if seconds is None:
            out.append(None)
            continue
        seconds = min(seconds, max(0.0, left))
        left -= seconds
        out.append(seconds)
    return out


def display_status(state: RunState, now: float | None, *, output_seen: bool = False) -> str:
    """The status word a view shows: ``succeeded``/``failed``/``stopped`` once ended; ``unknown`` when the source
    ended without the run ending (a closed pipe, a file quiet past the silence threshold); ``queued`` while the run
    waits in a queue (a pending Slurm job); ``stalled`` while a stall or silence alert stands; ``running`` once
    anything arrived (``output_seen``: raw lines the caller got, which need not have produced events); else
    ``waiting`` (live) or ``unknown`` (a whole-file read of a log that never said how it ended)."""
    if is_ended(state):
        return state.status
    if state.source_ended or state.outcome is not None or state.status == "unknown" and now is None:
        # (A recorded outcome that is not an end: the supervisor was lost, how the run ended is not known.)
        return "unknown"
    current = state.current_phase
    if current is not None and current.name == "queue":
        return "queued"
    if state.stalled or state.silent:
        return "stalled"
    if output_seen or state.lines or state.phases or state.last_step is not None or state.status == "running":
        return "running"
    return "waiting"


def last_loss(state: RunState) -> tuple[int | None, float | None]:
    """The last training step and loss: from the step reports, else (runs that report only progress bars, such as
    tqdm loops) from the most recently updated bar that carries a loss. Step reports without a step number (HF
    Trainer's loss dicts) take the position of the run's training bar (``40/40``), not their own count."""
    step = state.last_step.step if state.last_step is not None else None
    loss = state.loss.last[1] if state.loss.last is not None else None
    if loss is None:
        for bar in reversed(list(state.progress.values())):
            if "loss" in bar.metrics:
                return (step if step is not None else bar.n), bar.metrics["loss"]
    if step is None and state.last_step is not None:
        loops = [bar for bar in state.progress.values() if bar.total and not bar.counts_epochs]
        if loops:
            step = max(loops, key=lambda bar: bar.total or 0).n
    return step, loss


def fmt_loss(loss: float | None) -> str:
    """A loss (or any metric value) as every view spells it: 4 significant digits, ``NaN``/``Inf``, ``-``."""
    return fmt_number(loss)


def fmt_wall(seconds: float | None) -> str:
    """The wall time (``wall_seconds``) as every view spells it."""
    return fmt_duration(seconds)


# --- progress bars ----------------------------------------------------------------------------------------------


def is_epochs_bar(bar: ProgressBar) -> bool:
    """Whether ``bar`` counts the run's epochs (``Epochs: 3/10``), not one epoch's batches (``Epoch 0: 20/20``)."""
    return bar.counts_epochs


def main_progress(state: RunState) -> ProgressBar | None:
    """The bar that best stands for the loop under way: the most recently updated unfinished bar with a total that
    is not an epochs bar, else the most recently updated bar with a total."""
    bars = [bar for bar in state.progress.values() if bar.total]
    if not bars:
        return None
    # Dict order is "least recently updated first" (the reducer re-inserts on update).
    for bar in reversed(bars):
        if not bar.done and not is_epochs_bar(bar):
            return bar
    for bar in reversed(bars):
        if not bar.done:
            return bar
    return bars[-1]


# --- rate -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rate:
    """A throughput figure and its unit (``samples/sec``, ``it/s``)."""

    value: float
    unit: str


def current_rate(state: RunState) -> Rate | None:
    """The run's current throughput: the last step rate the reducer kept (never a reset tracker's first-step rate,
    which it drops), else the run's global rate, else its main progress bar's rate."""
    last = state.rate.last
    if last is not None and math.isfinite(last[1]):
        return Rate(last[1], state.rate_unit)
    if (rate := _finite(state.global_rate)) is not None:
        return Rate(rate, state.rate_unit)
    bar = main_progress(state)
    if bar is not None and (rate := _finite(bar.rate)) is not None:
        return Rate(rate, f"{bar.unit}/s")
    return None


def fmt_rate(rate: Rate | None) -> str:
    """``6715 samples/sec``, ``14.2 it/s``; ``-`` when unknown."""
    return "-" if rate is None else _fmt_rate_value(rate.value, rate.unit)


# --- step progress ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StepProgress:
    """Where the loop is: the last step (``last_loss``'s), the step it runs to, the epoch (as the log states it, else
    the epochs bar's count) of how many, and whether the last step was a training or an eval step."""

    step: int | None
    target: int | None = None
    epoch: float | None = None
    epochs: int | None = None
    mode: str = "train"
    done: bool = False

    @property
    def fraction(self) -> float | None:
        """Share of the target reached (1.0 once the run succeeded), None without a target."""
        if self.done:
            return 1.0
        if self.step is None or not self.target:
            return None
        return min(1.0, max(0.0, self.step / self.target))


def step_progress(state: RunState) -> StepProgress | None:
    """The run's step progress, None before any step or bar. A run that reports only progress bars (a tqdm loop)
    is at its main bar's position; a training step's target is the stated target step, else the bar counting the
    same steps (``progress 1162/3750`` beside ``step 1162``)."""
    step, _loss = last_loss(state)
    last = state.last_step
    mode = last.mode if last is not None else "train"
    target: int | None = None
    if step is None:
        bar = main_progress(state)
        if bar is None or is_epochs_bar(bar):
            return None
        step, target = bar.n, bar.total
    if mode == "train" and state.target_step is not None:
        target = state.target_step
    if target is None and mode == "train":
        for bar in reversed(list(state.progress.values())):
            if bar.total and bar.n == step and not is_epochs_bar(bar):
                target = bar.total
                break
    epoch: float | None = last.epoch if last is not None else None
    epochs: int | None = None
    if epoch is None:
        for bar in state.progress.values():
            if is_epochs_bar(bar):
                epoch, epochs = float(bar.n), bar.total
                break
    done = is_ended(state) and state.status == "succeeded"
    return StepProgress(step, target, epoch, epochs, mode, done)


def fmt_step(progress: StepProgress | None) -> str:
    """``step 1162``; ``-`` without a step."""
    return "-" if progress is None or progress.step is None else f"step {progress.step}"


def fmt_step_count(progress: StepProgress | None) -> str:
    """``1162/3750`` (``1162`` without a target): a table cell under a STEP heading; ``-`` without a step."""
    if progress is None or progress.step is None:
        return "-"
    return f"{progress.step}/{progress.target}" if progress.target else f"{progress.step}"


def fmt_step_progress(progress: StepProgress | None) -> str:
    """``step 1162/3750`` (``step 1162`` without a target); ``-`` without a step."""
    count = fmt_step_count(progress)
    return "-" if count == "-" else f"step {count}"


# --- phases -----------------------------------------------------------------------------------------------------


def phase_shares(state: RunState, now: float | None) -> list[float | None]:
    """Each phase's share of the wall time (0..1; None when either is unknown), in ``state.phases`` order."""
    wall = wall_seconds(state, now)
    return [
        None if seconds is None or not wall else min(1.0, seconds / wall) for seconds in phase_durations(state, now)
    ]


@dataclass(frozen=True, slots=True)
class PhaseTotal:
    """A phase's total over the run (its spans add up), its share of the wall time and how many spans it had."""

    name: str
    seconds: float | None
    share: float | None
    repeats: int


def phase_totals(state: RunState, now: float | None) -> list[PhaseTotal]:
    """One total per phase name, in order of first appearance. A span without a known duration adds nothing (the
    total is None when no span of that phase is measured)."""
    totals: dict[str, float | None] = {}
    repeats: dict[str, int] = {}
    for phase, seconds in zip(state.phases, phase_durations(state, now), strict=True):
        repeats[phase.name] = repeats.get(phase.name, 0) + phase.repeats
        known = totals.get(phase.name)
        if seconds is None:
            totals.setdefault(phase.name, None)
        else:
            totals[phase.name] = seconds if known is None else known + seconds
    wall = wall_seconds(state, now)
    return [
        PhaseTotal(name, seconds, None if seconds is None or not wall else min(1.0, seconds / wall), repeats[name])
        for name, seconds in totals.items()
    ]


def fmt_share(share: float | None) -> str:
    """``92%`` of the wall time; ``-`` when unknown."""
    if share is None or not math.isfinite(share):
        return "-"
    return f"{100.0 * max(0.0, min(1.0, share)):.0f}%"


# --- eval -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EvalPoint:
    """One evaluation of the run: the training step it belongs to and its loss (the run's own average when the log
    prints one, else the mean of its batches' losses)."""

    step: float
    loss: float


def eval_points(state: RunState) -> list[EvalPoint]:
    """The run's evaluations, at the training step each belongs to (oldest first; bounded by the reducer)."""
    return [EvalPoint(step, loss) for step, loss in state.eval_points]
