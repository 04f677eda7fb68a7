"""`phase-overrun`: a phase running past 2x its median in the history, raised once per phase."""

from __future__ import annotations

import time
from pathlib import Path

from hwmon.events import PhaseEnded, PhaseExpectations, PhaseStarted, RunCompleted
from hwmon.model.history import PastRun
from hwmon.model.overrun import overrun_alert
from hwmon.model.reducer import apply
from hwmon.model.reducer.expectations import check_overrun
from hwmon.model.state import RunState
from hwmon.notify.ledger import Ledger
from hwmon.notify.watch import PhaseOverruns, Watch
from hwmon.sources.fleet import Fleet
from hwmon.store.recent import Recent

PHASES = (("compile", 60.0, 3, "same job"), ("setup", 5.0, 3, "same job"))
EXPECTED = {name: (seconds, runs, basis) for name, seconds, runs, basis in PHASES}


def compiling(start: float = 0.0) -> RunState:
    state = RunState()
    apply(state, PhaseStarted(1, None, "compile"), start)
    return state


def test_a_phase_past_twice_its_median_alerts() -> None:
    state = compiling()
    assert overrun_alert(state, expected=EXPECTED, now=119.0) is None
    alert = overrun_alert(state, expected=EXPECTED, now=121.0)
    assert alert is not None and alert.kind == "phase-overrun"
    assert alert.message == "compile has run 2m01s, past 2x its median 1m00s (3 past runs of the same job)"


def test_once_per_phase_and_not_for_short_expectations_ended_runs_or_unknown_phases() -> None:
    state = compiling()
    state.overrun_phases.add("compile")
    assert overrun_alert(state, expected=EXPECTED, now=500.0) is None
    state.overrun_phases.clear()
    assert overrun_alert(state, expected={}, now=500.0) is None
    setup = RunState()
    apply(setup, PhaseStarted(1, None, "setup"), 0.0)
    assert overrun_alert(setup, expected=EXPECTED, now=100.0) is None  # 5 s expected: too short to mean anything
    apply(state, RunCompleted(2, None), 130.0)
    assert overrun_alert(state, expected=EXPECTED, now=500.0) is None


def test_every_span_of_the_phase_counts() -> None:
    state = compiling()
    apply(state, PhaseEnded(2, None, "compile"), 70.0)
    apply(state, PhaseStarted(3, None, "setup"), 70.0)
    apply(state, PhaseEnded(4, None, "setup"), 72.0)
    apply(state, PhaseStarted(5, None, "compile"), 72.0)
    assert overrun_alert(state, expected=EXPECTED, now=120.0) is None  # 70 + 48 = 118 s
    assert overrun_alert(state, expected=EXPECTED, now=123.0) is not None  # 70 + 51 = 121 s


def test_the_reducer_keeps_the_expectations_and_raises_the_alert_once() -> None:
    state = compiling()
    before = state.last_output_at
    apply(state, PhaseExpectations(0, None, PHASES), 50.0)
    assert state.expected_phases == EXPECTED
    assert state.last_output_at == before  # the history's word is not the run's output
    assert check_overrun(state, 100.0) is False
    assert check_overrun(state, 130.0) is True
    assert check_overrun(state, 200.0) is False
    assert [a.kind for a in state.alerts] == ["phase-overrun"] and state.alert_count == 1


def test_the_watch_tells_a_compile_that_runs_past_twice_its_history(tmp_path: Path) -> None:
    """The watch's own loop (the fleet's tracker, the history's expectations, the reducer's check), in process."""
    fixture = (Path(__file__).parents[1] / "fixtures" / "tui_cerebras_run.log").read_text().splitlines(keepends=True)
    log = tmp_path / "compiling.log"
    log.write_text("".join(fixture[:13]))  # compiling since 09:14:03, last line 09:16:30
    past = [PastRun(job_key=str(log), vendor="cerebras", phases={"compile": 60.0}) for _ in range(3)]
    fleet = Fleet(runs=list, jobs=list, recents=lambda: [Recent(str(log), "file", time.time())], clock=time.time)
    watch = Watch(fleet, None, Ledger(None), check_state=PhaseOverruns(past=lambda: past))
    assert [n.event for n in watch.tick()] == []  # 11 s + 96 s of compile: under 2 x 60 s
    with log.open("a") as fh:
        fh.write("".join(fixture[13:17]))  # still compiling at 09:18:35
    [notice] = watch.tick()
    assert notice.event == "phase-overrun" and notice.run == str(log)
    assert notice.message.startswith("compile has run 3m") and "past 2x its median 1m00s (3 past runs" in notice.message
    assert watch.tick() == []  # once
