"""What the run history expects of a run's phases (``PhaseExpectations``), and the ``phase-overrun`` alert it allows
(``hwmon.model.overrun``): raised here, once per phase, by ``check_overrun`` — called with the clock like the other
time alerts."""

from __future__ import annotations

from hwmon.events import Event, PhaseExpectations
from hwmon.model.overrun import overrun_alert
from hwmon.model.reducer.alerts import add_alert
from hwmon.model.reducer.handler import Handler
from hwmon.model.state import RunState

__all__ = ["HANDLERS", "check_overrun"]


def _expectations(state: RunState, event: Event, now: float | None) -> None:
    assert isinstance(event, PhaseExpectations)
    state.expected_phases = {
        name: (float(seconds), int(runs), str(basis)) for name, seconds, runs, basis in event.phases if seconds >= 0
    }


def check_overrun(state: RunState, now: float | None) -> bool:
    """Raise ``phase-overrun`` when the current phase calls for it now; True when it did."""
    alert = overrun_alert(state, now)
    if alert is None:
        return False
    phase = state.current_phase
    assert phase is not None
    state.overrun_phases.add(phase.name)
    add_alert(state, alert)
    state.version += 1
    return True


HANDLERS: dict[type[Event], Handler] = {PhaseExpectations: _expectations}
