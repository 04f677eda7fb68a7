"""Time-based alerts: a stalled run (no new step for much longer than usual) and a silent one (no output at all).

Event-based alerts (NaN loss, errors, failure) are raised by the reducer as the events arrive; these need the
passage of time, so the UI calls ``check`` from its timer with its injected clock.
"""

from __future__ import annotations

import statistics
from datetime import datetime

from hwmon.model.figures import is_ended, log_now
from hwmon.model.reducer import ranks as rank_alerts
from hwmon.model.reducer import record_time_alerts
from hwmon.model.state import Alert, RunState
from hwmon.model.timelimit import eta_alert

__all__ = ["SILENCE_S", "check", "median_step_interval"]

# No output for this long raises a silence alert; a followed file (not a supervised run) quiet this long has ended.
SILENCE_S = 600.0
# Fewer intervals than this say too little about the usual pace to call anything a stall.
MIN_INTERVALS = 2


def median_step_interval(state: RunState) -> float | None:
    """Median time between the recent training steps' arrivals, or None with too few of them."""
    arrivals = list(state.step_arrivals)
    intervals = [b - a for a, b in zip(arrivals, arrivals[1:], strict=False) if b >= a]
    if len(intervals) < MIN_INTERVALS:
        return None
    return statistics.median(intervals)


def check(
    state: RunState,
    now: float,
    *,
    stall_factor: float = 5.0,
    silence_s: float = SILENCE_S,
    catching_up: bool = False,
) -> list[Alert]:
    """New stall/silence alerts at clock reading ``now`` (recorded in ``state`` by the reducer).

    Each condition is reported once when it begins (``state.stalled`` / ``state.silent`` stay set) and is re-armed
    by the reducer when steps (or any output) resume. A run that has ended, or whose source has, raises neither.
    A stall is a training phase without progress (no step, no bar moving) for much longer than the usual interval
    between steps: the switch to a test loop or an evaluation is not one.

    ``catching_up`` (the source is still reading a backlog, see ``FollowSource.catching_up``): steps arrive at the
    speed of parsing, not of training, so their arrival times say nothing about the run's pace. No stall is
    judged then, and those arrivals are forgotten so that the usual pace is learnt from live steps only.
    """
    new: list[Alert] = []
    if is_ended(state) or state.source_ended:
        return new
    if catching_up:
        state.step_arrivals.clear()
        rank_alerts.forget_arrivals(state)
        return new
    phase = state.current_phase
    training = phase is not None and phase.name == "train"
    progress_at = state.last_progress_at if state.last_progress_at is not None else state.last_step_at
    if not state.stalled and training and progress_at is not None and state.last_step_at is not None:
        median = median_step_interval(state)
        if median is not None and median > 0:
            waited = now - progress_at
            if waited > stall_factor * median:
                new.append(
                    Alert(
                        "stall",
                        f"no new step for {waited:.0f} s ({waited / median:.1f}x the usual {median:.1f} s)",
                        at=now,
                    )
                )
    last_output = state.last_output_at if state.last_output_at is not None else state.started_at
    if not state.silent and last_output is not None and now - last_output > silence_s:
        new.append(Alert("silence", f"no output for {now - last_output:.0f} s", at=now))
    # Issue 21: a rank the others wait for, and a run that will not finish within its Slurm time limit.
    log_time = log_now(state, now)
    new.extend(rank_alerts.time_alerts(state, now, _epoch(log_time)))
    eta = eta_alert(state, now)
    if eta is not None:
        new.append(eta)
    record_time_alerts(state, new)
    return new


def _epoch(ts: datetime | None) -> float | None:
    if ts is None:
        return None
    try:
        return ts.timestamp()
    except (OverflowError, OSError, ValueError):
        return None
