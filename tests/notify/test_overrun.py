"""`phase-overrun`: a phase running past 2x its median in the history, raised once per phase."""

from __future__ import annotations

from hwmon.events import PhaseEnded, PhaseStarted, RunCompleted
from hwmon.model.history import Expected
from hwmon.model.overrun import overrun_alert
from hwmon.model.reducer import apply
from hwmon.model.state import RunState

EXPECTED = {"compile": Expected(60.0, 3, "same job"), "setup": Expected(5.0, 3, "same job")}


def compiling(start: float = 0.0) -> RunState:
    state = RunState()
    apply(state, PhaseStarted(1, None, "compile"), start)
    return state


def test_a_phase_past_twice_its_median_alerts() -> None:
    state = compiling()
    assert overrun_alert(state, EXPECTED, 119.0) is None
    alert = overrun_alert(state, EXPECTED, 121.0)
    assert alert is not None and alert.kind == "phase-overrun"
    assert alert.message == "compile has run 2m01s, past 2x its median 1m00s (3 past runs of the same job)"


def test_once_per_phase_and_not_for_short_expectations_ended_runs_or_unknown_phases() -> None:
    state = compiling()
    assert overrun_alert(state, EXPECTED, 500.0, told={"compile"}) is None
    assert overrun_alert(state, {}, 500.0) is None
    setup = RunState()
    apply(setup, PhaseStarted(1, None, "setup"), 0.0)
    assert overrun_alert(setup, EXPECTED, 100.0) is None  # 5 s expected: too short to mean anything
    apply(state, RunCompleted(2, None), 130.0)
    assert overrun_alert(state, EXPECTED, 500.0) is None


def test_every_span_of_the_phase_counts() -> None:
    state = compiling()
    apply(state, PhaseEnded(2, None, "compile"), 70.0)
    apply(state, PhaseStarted(3, None, "setup"), 70.0)
    apply(state, PhaseEnded(4, None, "setup"), 72.0)
    apply(state, PhaseStarted(5, None, "compile"), 72.0)
    assert overrun_alert(state, EXPECTED, 120.0) is None  # 70 + 48 = 118 s
    assert overrun_alert(state, EXPECTED, 123.0) is not None  # 70 + 51 = 121 s
