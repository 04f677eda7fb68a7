"""The figure functions of ``hwmon.model.figures`` (issue 18, item 2): each value function and its ``fmt_*``
spelling, on events built here. Each test names the wrong figure it guards against."""

from __future__ import annotations

from pathlib import Path

from hwmon.events import EvalMetric, Event, PhaseStarted, ProgressUpdate, RunCompleted, StepMetrics, TargetStated
from hwmon.model import figures
from hwmon.model.reducer import apply_all
from hwmon.model.state import RunState
from hwmon.sources.read import summarize_bytes

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def state_of(events: list[Event], now: float | None = None) -> RunState:
    state = RunState(source="test")
    apply_all(state, events, now)
    return state


def step(n: int, loss: float | None = 2.0, rate: float | None = None, mode: str = "train", **kw: object) -> StepMetrics:
    return StepMetrics(n, None, step=n, loss=loss, rate=rate, mode=mode, **kw)  # type: ignore[arg-type]


def test_current_rate_never_shows_the_first_step_rate_the_reducer_dropped() -> None:
    # A reset tracker's rate at step 1 is no rate of the run (the reducer drops it); plain mode and the fleet
    # printed it anyway.
    state = state_of([step(1, rate=99999.0, rate_unit="samples/sec")])
    assert figures.current_rate(state) is None
    assert figures.fmt_rate(figures.current_rate(state)) == "-"
    state = state_of([step(1, rate=99999.0, rate_unit="samples/sec"), step(2, rate=420.0, rate_unit="samples/sec")])
    assert figures.fmt_rate(figures.current_rate(state)) == "420 samples/sec"


def test_current_rate_falls_back_to_global_then_to_the_main_bar() -> None:
    state = state_of([step(5, rate=None, global_rate=12.5, rate_unit="samples/sec")])
    assert figures.current_rate(state) == figures.Rate(12.5, "samples/sec")
    bar = ProgressUpdate(1, None, "Epoch 1", n=10, total=100, rate=3.5, unit="batch")
    assert figures.current_rate(state_of([bar])) == figures.Rate(3.5, "batch/s")


def test_step_progress_target_from_the_stated_target_else_the_bar_counting_the_same_steps() -> None:
    state = state_of([TargetStated(1, None, "step", 3750), step(1162)])
    progress = figures.step_progress(state)
    assert progress is not None and (progress.step, progress.target) == (1162, 3750)
    assert figures.fmt_step_progress(progress) == "step 1162/3750" and figures.fmt_step(progress) == "step 1162"
    bar = ProgressUpdate(2, None, "progress", n=40, total=100)
    state = state_of([step(40), bar])
    assert figures.fmt_step_progress(figures.step_progress(state)) == "step 40/100"
    # A loop that reports bars only is at its main bar.
    assert figures.fmt_step_progress(figures.step_progress(state_of([bar]))) == "step 40/100"
    assert figures.step_progress(RunState()) is None and figures.fmt_step_progress(None) == "-"


def test_step_progress_is_whole_once_the_run_succeeded_and_epochs_come_from_the_epochs_bar() -> None:
    epochs = ProgressUpdate(1, None, "Epochs", n=3, total=10)
    state = state_of([epochs, step(7), RunCompleted(3, None)])
    progress = figures.step_progress(state)
    assert progress is not None and progress.fraction == 1.0 and (progress.epoch, progress.epochs) == (3.0, 10)
    assert figures.is_epochs_bar(epochs_bar := state.progress["Epochs"]) and not figures.is_epochs_bar(
        state_of([ProgressUpdate(1, None, "Epoch 0", n=1, total=2)]).progress["Epoch 0"]
    ), epochs_bar


def test_phase_shares_and_totals_agree_and_fmt_share_rounds_once() -> None:
    state = summarize_bytes((FIXTURES / "cerebras_appliance_train.log").read_bytes(), "x")
    shares = figures.phase_shares(state, None)
    totals = {t.name: t for t in figures.phase_totals(state, None)}
    wall = figures.wall_seconds(state, None)
    assert wall
    for seconds, share in zip(figures.phase_durations(state, None), shares, strict=True):
        assert (share is None) == (seconds is None)
        if seconds is not None and share is not None:
            assert abs(share - seconds / wall) < 1e-9
    for name, total in totals.items():
        spans = [s for p, s in zip(state.phases, shares, strict=True) if p.name == name and s is not None]
        assert total.share is not None and abs(total.share - sum(spans)) < 1e-9
    assert figures.fmt_share(0.915) == "92%" and figures.fmt_share(None) == "-" and figures.fmt_share(1.7) == "100%"


def test_eval_points_sit_at_the_training_step_with_the_runs_own_average() -> None:
    # Cerebras evaluates after step 165 over batches 10, 20 ... 160 and prints its own average: the point is at
    # step 165 with that average, not at the batch numbers with the last batch's loss.
    events: list[Event] = [step(n) for n in range(1, 166)]
    events.append(PhaseStarted(200, None, "eval"))
    events += [step(b, loss=2.0 + b / 1000, mode="eval", batch=b) for b in range(10, 170, 10)]
    state = state_of(events)
    [point] = figures.eval_points(state)
    assert point.step == 165.0 and abs(point.loss - sum(2.0 + b / 1000 for b in range(10, 170, 10)) / 16) < 1e-9
    apply_all(state, [EvalMetric(300, None, "eval/loss", 2.105), EvalMetric(301, None, "eval/accuracy", 0.5)])
    assert figures.eval_points(state) == [figures.EvalPoint(165.0, 2.105)]
    # Training goes on, a second evaluation states its loss only.
    apply_all(state, [step(200), EvalMetric(400, None, "val_loss", 1.5)])
    assert [p.step for p in figures.eval_points(state)] == [165.0, 200.0]
    assert figures.fmt_loss(figures.eval_points(state)[-1].loss) == "1.500"


def test_fmt_loss_is_the_one_loss_spelling() -> None:
    assert [figures.fmt_loss(v) for v in (2.2912, 0.1, float("nan"), None)] == ["2.291", "0.1000", "NaN", "-"]


def test_fmt_behind_says_a_lag_worth_saying_only() -> None:
    from hwmon.model.fmt import fmt_behind

    assert [fmt_behind(v) for v in (None, 0, (1 << 20) - 1)] == ["", "", ""]
    assert fmt_behind(3 << 20) == "behind 3.0 MB" and fmt_behind(12 << 20) == "behind 12 MB"
    assert fmt_behind(5 << 30) == "behind 5.0 GB"
