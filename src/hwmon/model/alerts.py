"""Time-based alerts: a stalled run (no new step for much longer than usual) and a silent one (no output at all).

Event-based alerts (NaN loss, errors, failure) are raised by the reducer as the events arrive; these need the
passage of time, so the UI calls ``check`` from its timer with its injected clock.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from hwmon.model.figures import is_ended, log_now
from hwmon.model.fmt import fmt_duration
from hwmon.model.reducer import ranks as rank_alerts
from hwmon.model.reducer import record_time_alerts
from hwmon.model.state import Alert, RunState
from hwmon.model.timelimit import eta_alert

__all__ = [
    "SILENCE_S",
    "STALL_FACTOR",
    "STALL_MIN_S",
    "StallRule",
    "check",
    "fmt_step_interval",
    "median_step_interval",
]

# No output for this long raises a silence alert; a followed file (not a supervised run) quiet this long has ended.
SILENCE_S = 600.0
# Fewer intervals than this say too little about the usual pace to call anything a stall.
MIN_INTERVALS = 2
# A stall is a wait of at least STALL_FACTOR times the usual step interval AND at least STALL_MIN_S seconds: the
# ratio alone turned sub-second jitter of a fast loop into alerts ("no new step for 1 s (5.3x the usual 0.2 s)").
STALL_FACTOR = 5.0
STALL_MIN_S = 30.0


@dataclass(frozen=True, slots=True)
class StallRule:
    """When a training phase without progress is a stall: ``factor`` times the usual step interval and at least
    ``min_s`` seconds. ``from_env`` reads ``HWMON_STALL_MIN_S`` / ``HWMON_STALL_FACTOR`` from the mapping the
    caller passes (the model reads no environment itself)."""

    factor: float = STALL_FACTOR
    min_s: float = STALL_MIN_S

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> StallRule:
        """The rule with the user's settings; a value that is not a positive number is ignored (the default
        stays), so a typo never turns stall alerts off or on by accident."""

        def number(key: str, default: float) -> float:
            try:
                value = float(environ.get(key, ""))
            except ValueError:
                return default
            return value if math.isfinite(value) and value > 0 else default

        return cls(number("HWMON_STALL_FACTOR", STALL_FACTOR), number("HWMON_STALL_MIN_S", STALL_MIN_S))


def median_step_interval(state: RunState) -> float | None:
    """Median time between the recent training steps' arrivals, or None with too few of them."""
    arrivals = list(state.step_arrivals)
    intervals = [b - a for a, b in zip(arrivals, arrivals[1:], strict=False) if b >= a]
    if len(intervals) < MIN_INTERVALS:
        return None
    return statistics.median(intervals)


def fmt_step_interval(seconds: float | None) -> str:
    """How long a step usually takes, as the stall notice says it: ``0.2s`` below ten seconds (a fast loop's
    interval is not "0s"), else a duration (``41s``, ``2m05s``); ``-`` when unknown."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return "-"
    if seconds < 10:
        return f"{seconds:.2g}s" if seconds < 1 else f"{seconds:.1f}s"
    return fmt_duration(seconds)


def check(
    state: RunState,
    now: float,
    *,
    stall: StallRule = StallRule(),
    silence_s: float = SILENCE_S,
    catching_up: bool = False,
) -> list[Alert]:
    """New stall/silence alerts at clock reading ``now`` (recorded in ``state`` by the reducer).

    Each condition is reported once when it begins (``state.stalled`` / ``state.silent`` stay set) and is re-armed
    by the reducer when steps (or any output) resume. A run that has ended, or whose source has, raises neither.
    A stall is a training phase without progress (no step, no bar moving) for much longer than the usual interval
    between steps (``stall.factor`` times it) and for at least ``stall.min_s`` seconds: the switch to a test loop or
    an evaluation is not one, nor is a fast loop's sub-second jitter.

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
            if waited > stall.factor * median and waited >= stall.min_s:
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
