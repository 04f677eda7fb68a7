"""The ``phase-overrun`` alert: a phase running past ``FACTOR`` times its median in the run history.

The history's expectation of a phase (``hwmon.model.history.expected_phases``: the median, over past runs of the
same job, of the time each spent in that phase — the queue's from recent runs on the same vendor) is what a run
of this job usually spends there. While the run is in a phase, the time it has spent in that phase so far (every
span of it, as the timeline measures them: ``hwmon.model.figures.phase_durations``) is compared with the
expectation; past ``FACTOR`` times it, the alert is raised — once per phase name and run (a compile that overran
does not alert again at its second span).

Pure: ``now`` is the caller's reading of the injected clock, as for every time alert.
"""

from __future__ import annotations

from collections.abc import Mapping

from hwmon.model.figures import is_ended, phase_durations
from hwmon.model.fmt import fmt_duration
from hwmon.model.state import Alert, RunState

__all__ = ["FACTOR", "MIN_EXPECTED_S", "overrun_alert", "time_in_phase"]

FACTOR = 2.0
# A phase expected to take less than this is too short for its overrun to mean anything (a 1 s setup that took 3 s).
MIN_EXPECTED_S = 10.0


def time_in_phase(state: RunState, name: str, now: float | None) -> float | None:
    """Seconds the run has spent in phase ``name`` so far (all its spans), None when nothing measures it."""
    total = None
    for phase, seconds in zip(state.phases, phase_durations(state, now), strict=True):
        if phase.name == name and seconds is not None:
            total = seconds if total is None else total + seconds
    return total


def overrun_alert(
    state: RunState,
    now: float | None,
    *,
    expected: Mapping[str, tuple[float, int, str]] | None = None,
    factor: float = FACTOR,
) -> Alert | None:
    """The ``phase-overrun`` alert the run's current phase calls for now, or None: the run is in a phase the
    history expects (``expected``, default the state's own ``expected_phases``; at least ``MIN_EXPECTED_S``), has
    spent more than ``factor`` times the expectation in it, and no overrun of that phase was raised yet
    (``state.overrun_phases``)."""
    if is_ended(state) or state.source_ended:
        return None
    phase = state.current_phase
    if phase is None or phase.name in state.overrun_phases:
        return None
    exp = (expected if expected is not None else state.expected_phases).get(phase.name)
    if exp is None:
        return None
    seconds, runs, basis = exp
    if seconds < MIN_EXPECTED_S:
        return None
    spent = time_in_phase(state, phase.name, now)
    if spent is None or spent <= factor * seconds:
        return None
    past = f"{runs} past run{'s' if runs != 1 else ''}"
    message = (
        f"{phase.name} has run {fmt_duration(spent)}, past {factor:g}x its median {fmt_duration(seconds)} "
        f"({past} of the {basis})"
    )
    return Alert("phase-overrun", message, at=now)
