"""Time-based alerts: a stalled run (no new step for much longer than usual) and a silent one (no output at all).

Event-based alerts (NaN loss, errors, failure) are raised by the reducer as the events arrive; these need the
passage of time, which reaches the reducer as a ``Tick`` event (``hwmon.model.reducer.clock``). ``check`` is the
one call a view makes with its injected clock: it applies a ``Tick`` and returns the alerts it raised. When a
wait is a stall is the ``StallRule`` (issue 19: a ratio to the usual interval AND a minimum gap).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from hwmon.events import Tick
from hwmon.model.fmt import fmt_duration
from hwmon.model.reducer import apply
from hwmon.model.reducer.clock import MIN_INTERVALS, median_step_interval
from hwmon.model.state import Alert, RunState

__all__ = [
    "MIN_INTERVALS",
    "SILENCE_S",
    "STALL_FACTOR",
    "STALL_MIN_S",
    "StallRule",
    "check",
    "fmt_step_interval",
    "median_step_interval",
    "tick",
]

# No output for this long raises a silence alert; a followed file (not a supervised run) quiet this long has ended.
SILENCE_S = 600.0
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


DEFAULT_STALL = StallRule()


def tick(*, catching_up: bool = False, stall: StallRule = DEFAULT_STALL, silence_s: float = SILENCE_S) -> Tick:
    """The ``Tick`` a view applies (with its clock reading) to let time judge the run."""
    return Tick(
        0, None, catching_up=catching_up, stall_factor=stall.factor, silence_s=silence_s, stall_min_s=stall.min_s
    )


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
    stall: StallRule = DEFAULT_STALL,
    silence_s: float = SILENCE_S,
    catching_up: bool = False,
) -> list[Alert]:
    """Apply a ``Tick`` at clock reading ``now`` through the reducer; the stall/silence (and other time-based)
    alerts it raised."""
    before = state.alert_count
    apply(state, tick(catching_up=catching_up, stall=stall, silence_s=silence_s), now)
    raised = state.alert_count - before
    return list(state.alerts[-raised:]) if raised > 0 else []
