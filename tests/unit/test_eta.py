"""ETA from what the log states, aged with an injected clock (no real time involved)."""

from __future__ import annotations

from hwmon.events import ProgressUpdate, RunCompleted, StepMetrics
from hwmon.model.eta import eta_seconds, main_progress
from hwmon.model.reducer import apply
from hwmon.model.state import RunState


def test_eta_from_stated_time_remaining_minus_time_since_it_arrived() -> None:
    state = RunState()
    apply(state, StepMetrics(1, None, step=100, loss=1.0, remaining_s=625.0), now=1000.0)
    assert eta_seconds(state, 1000.0) == 625.0
    assert eta_seconds(state, 1100.0) == 525.0
    assert eta_seconds(state, 5000.0) == 0.0  # never negative
    apply(state, StepMetrics(2, None, step=200, loss=1.0, remaining_s=421.0), now=1200.0)
    assert eta_seconds(state, 1201.0) == 420.0


def test_eta_without_clock_is_the_stated_value() -> None:
    state = RunState()
    apply(state, StepMetrics(1, None, step=100, remaining_s=40.0))
    assert eta_seconds(state, None) == 40.0


def test_eta_from_progress_bar_remaining_then_rate() -> None:
    state = RunState()
    apply(state, ProgressUpdate(1, None, "Epochs", n=2, total=10, remaining_s=80.0), now=0.0)
    assert eta_seconds(state, 30.0) == 50.0
    apply(state, ProgressUpdate(2, None, "Epochs", n=5, total=10, rate=0.5), now=40.0)
    assert eta_seconds(state, 40.0) == 10.0
    assert eta_seconds(state, 44.0) == 6.0


def test_main_progress_prefers_the_latest_unfinished_bar() -> None:
    state = RunState()
    apply(state, ProgressUpdate(1, None, "Epochs", n=1, total=10), now=0.0)
    apply(state, ProgressUpdate(2, None, "Graph compilation", n=100, total=100), now=1.0)
    apply(state, ProgressUpdate(3, None, "", n=5), now=2.0)  # no total: no use for an ETA
    bar = main_progress(state)
    assert bar is not None and bar.name == "Epochs"


def test_no_eta_without_evidence_or_after_the_end() -> None:
    state = RunState()
    assert eta_seconds(state, 10.0) is None
    apply(state, StepMetrics(1, None, step=1, remaining_s=10.0), now=0.0)
    apply(state, RunCompleted(2, None), now=1.0)
    assert eta_seconds(state, 2.0) is None


def test_eta_from_the_loop_target_batch_size_and_global_rate() -> None:
    # Cerebras states the loop's target step and the effective batch size; with GlobalRate in samples/sec the
    # time left is (target - step) * batch / rate, aged by the time since the last step arrived.
    from hwmon.events import Info, StepMetrics
    from hwmon.model.eta import eta_seconds
    from hwmon.model.reducer import apply
    from hwmon.model.state import RunState

    state = RunState()
    apply(state, Info(1, None, "effective_batch_size", "100"), now=0.0)
    apply(state, Info(2, None, "target_step", "1000"), now=0.0)
    apply(state, StepMetrics(3, None, 200, loss=5.0, rate=500.0, global_rate=400.0), now=10.0)
    assert eta_seconds(state, 10.0) == (1000 - 200) * 100 / 400.0
    assert eta_seconds(state, 20.0) == (1000 - 200) * 100 / 400.0 - 10.0


def test_no_target_step_no_eta() -> None:
    from hwmon.events import StepMetrics
    from hwmon.model.eta import eta_seconds
    from hwmon.model.reducer import apply
    from hwmon.model.state import RunState

    state = RunState()
    apply(state, StepMetrics(3, None, 200, loss=5.0, rate=500.0, global_rate=400.0), now=10.0)
    assert eta_seconds(state, 10.0) is None
