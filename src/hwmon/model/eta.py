"""Remaining time: the run's (``eta_seconds``) and each progress bar's own (``bar_eta``), from what the log states,
measured against an injected clock.

The run's ETA covers what is left of the whole run: the loop under way, the epochs after it and the evaluation the
log announces after training. Order of evidence for the loop under way: the time remaining the run states itself
(Cerebras ``TimeRemaining``), else its main progress bar (stated remaining time, or what is left at its rate), else
the target step (``from global step 0 to N``, ``Total optimization steps = N``...) at the observed pace: the run's
own rate over its batch size, else the moving average of seconds per step. So a run with a target always shows an
ETA once two of its steps have been timed.

Pure: never reads the system clock; ``now`` is the caller's reading of the same clock that was passed to
``hwmon.model.reducer.apply`` as each event arrived (``None`` for a whole-file summary: no ageing).
"""

from __future__ import annotations

import math

from hwmon.model.figures import is_ended, main_progress
from hwmon.model.fmt import fmt_duration
from hwmon.model.state import ProgressBar, RunState

__all__ = ["bar_eta", "eta_seconds", "fmt_eta", "main_progress", "target_step"]


def _since(at: float | None, now: float | None) -> float:
    if at is None or now is None:
        return 0.0
    return max(0.0, now - at)


def _ok(value: float | None) -> bool:
    return value is not None and math.isfinite(value) and value >= 0


def bar_eta(bar: ProgressBar, now: float | None) -> float | None:
    """A bar's own remaining time: what it states, else what is left at its rate; aged by the time since it was
    last drawn. None for a finished bar or one that says too little."""
    if bar.done:
        return None
    if bar.remaining_s is not None and _ok(bar.remaining_s):
        return max(0.0, bar.remaining_s - _since(bar.updated_at, now))
    if bar.total is not None and bar.rate is not None and math.isfinite(bar.rate) and bar.rate > 0:
        return max(0.0, (bar.total - bar.n) / bar.rate - _since(bar.updated_at, now))
    return None


def target_step(state: RunState) -> int | None:
    """The step the training loop runs to, when the log said so (``TargetStated``)."""
    return state.target_step


def step_seconds(state: RunState) -> float | None:
    """Seconds a training step takes: the run's own rate (samples/sec) over its batch size when both are stated,
    else the observed moving average."""
    step = state.last_step
    rate = state.global_rate if state.global_rate else (step.rate if step is not None else None)
    batch = state.batch_size
    if batch and rate is not None and math.isfinite(rate) and rate > 0 and state.rate_unit.startswith("samples"):
        return batch / rate
    if state.step_seconds is not None and _ok(state.step_seconds):
        return state.step_seconds
    return None


def _target_eta(state: RunState, now: float | None) -> float | None:
    target = state.target_step
    step = state.last_step
    if target is None or step is None or step.step is None or step.mode != "train":
        return None
    per_step = step_seconds(state)
    if per_step is None:
        return None
    return max(0.0, max(0, target - step.step) * per_step - _since(state.last_step_at, now))


def _loop_eta(state: RunState, now: float | None) -> tuple[float | None, ProgressBar | None]:
    """Remaining time of the loop under way, and the bar it came from (None when not from a bar)."""
    if state.remaining_s is not None and _ok(state.remaining_s) and not _from_bar(state):
        return max(0.0, state.remaining_s - _since(state.remaining_at, now)), None
    target = _target_eta(state, now)
    if target is not None:
        return target, None
    bar = main_progress(state)
    if bar is not None:
        remaining = bar_eta(bar, now)
        if remaining is not None:
            return remaining, bar
    if state.remaining_s is not None and _ok(state.remaining_s):
        return max(0.0, state.remaining_s - _since(state.remaining_at, now)), None
    return None, None


def _from_bar(state: RunState) -> bool:
    """Whether the last step's stated remaining time is a progress bar's (tqdm metrics), not the run's."""
    step = state.last_step
    return step is not None and step.rate_unit.endswith("it/s") and bool(state.progress)


def _epoch_seconds(state: RunState, loop: ProgressBar | None) -> float | None:
    """How long one epoch takes: the epochs bar's own pace, else the loop bar's whole length at its rate."""
    for bar in state.progress.values():
        if bar.counts_epochs and bar.total:
            if bar.rate and math.isfinite(bar.rate) and bar.rate > 0 and bar.n > 0:
                return 1.0 / bar.rate
            if bar.elapsed_s is not None and _ok(bar.elapsed_s) and bar.elapsed_s > 0 and bar.n > 0:
                return bar.elapsed_s / bar.n
    if loop is not None and loop.total and loop.rate and math.isfinite(loop.rate) and loop.rate > 0:
        return loop.total / loop.rate
    return None


def eta_seconds(state: RunState, now: float | None) -> float | None:
    """Seconds left in the whole run, or None when nothing in the log allows an estimate (or the run has ended).

    The loop under way's remaining time, plus the epochs still to come after it when the loop is one epoch's (an
    epochs bar or ``Epoch k/N``) and not a target covering the whole run, plus the announced evaluation when its
    length can be estimated (its stated batches at the training pace).
    """
    if is_ended(state) or state.source_ended:
        return None
    loop, bar = _loop_eta(state, now)
    if loop is None:
        return None
    total = loop
    # A target step covers the whole run, and so does an epochs bar; one epoch's loop does not.
    whole_run = (state.target_step is not None and bar is None) or (bar is not None and bar.counts_epochs)
    if state.target_epochs and state.epoch and not whole_run:
        left = max(0, state.target_epochs - state.epoch)
        if left:
            per_epoch = _epoch_seconds(state, bar)
            if per_epoch is not None:
                total += left * per_epoch
    if state.eval_announced and state.eval_total and not _in_eval(state):
        per_step = step_seconds(state)
        if per_step is not None:
            total += state.eval_total * per_step
    return total


def _in_eval(state: RunState) -> bool:
    phase = state.current_phase
    return phase is not None and phase.name == "eval"


def fmt_eta(seconds: float | None) -> str:
    """The ETA (``eta_seconds``, ``bar_eta``) as every view spells it; ``-`` when there is none."""
    return fmt_duration(seconds)
