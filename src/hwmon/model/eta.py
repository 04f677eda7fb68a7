"""Remaining-time estimate for a run, from what the log states, measured against an injected clock.

Pure: never reads the system clock; ``now`` is the caller's reading of the same clock that was passed to
``hwmon.model.reducer.apply`` as each event arrived.
"""

from __future__ import annotations

import math

from hwmon.model.state import ProgressBar, RunState

__all__ = ["eta_seconds", "main_progress"]


def main_progress(state: RunState) -> ProgressBar | None:
    """The bar that best stands for the run's progress: the most recently updated unfinished bar with a total,
    else the most recently updated bar with a total."""
    bars = [bar for bar in state.progress.values() if bar.total]
    if not bars:
        return None
    # Dict order is "least recently updated first" (the reducer re-inserts on update).
    for bar in reversed(bars):
        if not bar.done:
            return bar
    return bars[-1]


def _since(at: float | None, now: float | None) -> float:
    if at is None or now is None:
        return 0.0
    return max(0.0, now - at)


def eta_seconds(state: RunState, now: float | None) -> float | None:
    """Seconds left in the run, or None when nothing in the log allows an estimate (or the run has ended).

    Order of evidence: the last step's own ``TimeRemaining`` (Cerebras) minus the time since it arrived; else the
    main progress bar's stated remaining time, or ``(total - n) / rate``, likewise aged.
    """
    if state.status in ("succeeded", "failed"):
        return None
    if state.remaining_s is not None and math.isfinite(state.remaining_s):
        return max(0.0, state.remaining_s - _since(state.remaining_at, now))
    bar = main_progress(state)
    if bar is not None and not bar.done:
        if bar.remaining_s is not None and math.isfinite(bar.remaining_s):
            return max(0.0, bar.remaining_s - _since(bar.updated_at, now))
        if bar.total is not None and bar.rate is not None and math.isfinite(bar.rate) and bar.rate > 0:
            return max(0.0, (bar.total - bar.n) / bar.rate - _since(bar.updated_at, now))
    return _target_step_eta(state, now)


def target_step(state: RunState) -> int | None:
    """The step the training loop runs to, when the log said so (Cerebras ``Starting training loop 1, from global
    step 0 to 200``)."""
    raw = state.info.get("target_step")
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None


def _target_step_eta(state: RunState, now: float | None) -> float | None:
    """Steps left times the time a step takes, from the log's own figures: samples/sec (``GlobalRate``, a
    whole-run average, else ``Rate``) over the effective batch size."""
    target = target_step(state)
    step = state.last_step
    if target is None or step is None or step.step is None or step.step >= target:
        return None
    try:
        batch = float(state.info.get("effective_batch_size", ""))
    except ValueError:
        return None
    rate = state.global_rate if state.global_rate else step.rate
    if not batch or batch <= 0 or rate is None or not math.isfinite(rate) or rate <= 0:
        return None
    return max(0.0, (target - step.step) * batch / rate - _since(state.last_step_at, now))
