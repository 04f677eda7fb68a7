"""Time-based alerts: a stalled run (no new step for much longer than usual) and a silent one (no output at all).

Event-based alerts (NaN loss, errors, failure) are raised by the reducer as the events arrive; these need the
passage of time, which reaches the reducer as a ``Tick`` event (``hwmon.model.reducer.clock``). ``check`` is the
one call a view makes with its injected clock: it applies a ``Tick`` and returns the alerts it raised.
"""

from __future__ import annotations

from hwmon.events import Tick
from hwmon.model.reducer import apply
from hwmon.model.reducer.clock import MIN_INTERVALS, median_step_interval
from hwmon.model.state import Alert, RunState

__all__ = ["MIN_INTERVALS", "SILENCE_S", "check", "median_step_interval", "tick"]

# No output for this long raises a silence alert; a followed file (not a supervised run) quiet this long has ended.
SILENCE_S = 600.0


def tick(*, catching_up: bool = False, stall_factor: float = 5.0, silence_s: float = SILENCE_S) -> Tick:
    """The ``Tick`` a view applies (with its clock reading) to let time judge the run."""
    return Tick(0, None, catching_up=catching_up, stall_factor=stall_factor, silence_s=silence_s)


def check(
    state: RunState,
    now: float,
    *,
    stall_factor: float = 5.0,
    silence_s: float = SILENCE_S,
    catching_up: bool = False,
) -> list[Alert]:
    """Apply a ``Tick`` at clock reading ``now`` through the reducer; the stall/silence (and other time-based)
    alerts it raised."""
    before = state.alert_count
    apply(state, tick(catching_up=catching_up, stall_factor=stall_factor, silence_s=silence_s), now)
    raised = state.alert_count - before
    return list(state.alerts[-raised:]) if raised > 0 else []
