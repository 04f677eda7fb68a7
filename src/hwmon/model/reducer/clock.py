"""Time through the reducer: a ``Tick`` (the viewer's clock) raises the time-based alerts — a stalled run (no new
step for much longer than usual) and a silent one (no output at all) — and whatever ``TICK_CHECKS`` add.

Each condition is reported once when it begins (``state.stalled`` / ``state.silent`` stay set) and is re-armed by
the reducer when steps (or any output) resume. A run that has ended, or whose source has, raises neither. A tick
that raises nothing leaves the state, and its version, as they were.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from datetime import datetime

from hwmon.events import Event, Tick
from hwmon.model.figures import log_now
from hwmon.model.reducer.alerts import record_time_alerts
from hwmon.model.reducer.handler import Handler
from hwmon.model.state import ENDED, Alert, RunState

# Fewer intervals than this say too little about the usual pace to call anything a stall.
MIN_INTERVALS = 2

TickCheck = Callable[[RunState, Tick, float], list[Alert]]
"""A time-based check: the new alerts at clock reading ``now`` (``hwmon.model.reducer.clock.TICK_CHECKS``)."""


def median_step_interval(state: RunState) -> float | None:
    """Median time between the recent training steps' arrivals, or None with too few of them."""
    arrivals = list(state.step_arrivals)
    intervals = [b - a for a, b in zip(arrivals, arrivals[1:], strict=False) if b >= a]
    if len(intervals) < MIN_INTERVALS:
        return None
    return statistics.median(intervals)


def stall_and_silence(state: RunState, tick: Tick, now: float) -> list[Alert]:
    """A stall: a training phase without progress (no step, no bar moving) for ``stall_factor`` times the usual
    interval between steps and at least ``stall_min_s`` seconds (the switch to a test loop or an evaluation is not
    one, nor a fast loop's sub-second jitter). A silence: no output for ``silence_s``."""
    new: list[Alert] = []
    phase = state.current_phase
    training = phase is not None and phase.name == "train"
    progress_at = state.last_progress_at if state.last_progress_at is not None else state.last_step_at
    if not state.stalled and training and progress_at is not None and state.last_step_at is not None:
        median = median_step_interval(state)
        if median is not None and median > 0:
            waited = now - progress_at
            if waited > tick.stall_factor * median and waited >= tick.stall_min_s:
                message = f"no new step for {waited:.0f} s ({waited / median:.1f}x the usual {median:.1f} s)"
                new.append(Alert("stall", message, at=now))
    last_output = state.last_output_at if state.last_output_at is not None else state.started_at
    if not state.silent and last_output is not None and now - last_output > tick.silence_s:
        new.append(Alert("silence", f"no output for {now - last_output:.0f} s", at=now))
    return new


def ranks_and_time_limit(state: RunState, tick: Tick, now: float) -> list[Alert]:
    """Issue 21: a rank the others wait for (``rank-silent``), and a run that will not finish within its Slurm time
    limit (``eta``)."""
    from hwmon.model.reducer import ranks as rank_alerts
    from hwmon.model.timelimit import eta_alert

    new = rank_alerts.time_alerts(state, now, _epoch(log_now(state, now)))
    eta = eta_alert(state, now)
    if eta is not None:
        new.append(eta)
    return new


def phase_overrun(state: RunState, tick: Tick, now: float) -> list[Alert]:
    """Issue 20: the phase under way has run well past what the run history expects of it (once per phase)."""
    from hwmon.model.overrun import overrun_alert

    alert = overrun_alert(state, now)
    phase = state.current_phase
    if alert is None or phase is None:
        return []
    state.overrun_phases.add(phase.name)
    return [alert]


def _epoch(ts: datetime | None) -> float | None:
    if ts is None:
        return None
    try:
        return ts.timestamp()
    except (OverflowError, OSError, ValueError):
        return None


# The checks a tick runs, in order. A module with a time-based alert of its own appends its check here.
TICK_CHECKS: list[TickCheck] = [stall_and_silence, ranks_and_time_limit, phase_overrun]


def _tick(state: RunState, event: Event, now: float | None) -> None:
    assert isinstance(event, Tick)
    if now is None or state.status in ENDED or state.source_ended:
        return
    if event.catching_up:
        # Steps arrive at the speed of parsing, not of training: no stall is judged, and those arrivals are
        # forgotten so that the usual pace is learnt from live steps only (the ranks' too).
        from hwmon.model.reducer import ranks as rank_alerts

        state.step_arrivals.clear()
        rank_alerts.forget_arrivals(state)
        return
    new: list[Alert] = []
    for check in TICK_CHECKS:
        new.extend(check(state, event, now))
    if new:
        record_time_alerts(state, new)
        state.version += 1


HANDLERS: dict[type[Event], Handler] = {Tick: _tick}
