"""The reducer, driven by hand-built events (no parser involved)."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta

import pytest

from hwmon.events import (
    CheckpointSaved,
    ErrorSeen,
    EvalMetric,
    Info,
    JobIdSeen,
    LogLine,
    ModelSummary,
    ModuleNode,
    PhaseEnded,
    PhaseStarted,
    ProgressUpdate,
    RunCompleted,
    RunStarted,
    StepBatch,
    StepMetrics,
    VendorDetected,
    WarningSeen,
)
from hwmon.model.reducer import apply, apply_all
from hwmon.model.state import MAX_ERRORS, RunState
from hwmon.model.summary import summary_dict

T0 = datetime(2024, 6, 3, 9, 0, 0)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def step(n: int, loss: float | None = 1.0, t: float | None = None, **kw: object) -> StepMetrics:
    return StepMetrics(line=n, ts=None if t is None else at(t), step=n, loss=loss, **kw)  # type: ignore[arg-type]


def names(state: RunState) -> list[str]:
    return [p.name for p in state.phases]


def test_phases_from_timestamps_with_repeats() -> None:
    state = RunState(source="x")
    apply_all(
        state,
        [
            PhaseStarted(1, at(0), "compile", "Queueing"),
            PhaseStarted(2, at(30), "compile", "Exploring floorplans"),  # same phase: detail only
            PhaseStarted(3, at(300), "setup", "Programming"),
            StepMetrics(4, at(500), step=100, loss=9.0, rate=10.0),  # opens train, closes setup
            StepMetrics(5, at(530), step=200, loss=8.0, rate=11.0),
            PhaseStarted(6, at(531), "checkpoint"),
            CheckpointSaved(7, at(560), step=200, path="ckpt_200.mdl"),
            StepMetrics(8, at(600), step=300, loss=7.0, rate=12.0),  # train again
            RunCompleted(9, at(610), samples=1000, seconds=110.0),
        ],
    )
    assert names(state) == ["compile", "setup", "train", "checkpoint", "train"]
    compile_phase = state.phases[0]
    assert compile_phase.detail == "Exploring floorplans"
    assert compile_phase.seconds() == 300.0
    assert state.phases[1].seconds() == 200.0
    assert state.phases[2].seconds() == 31.0
    assert state.phases[3].seconds() == 29.0
    assert state.phases[4].seconds() == 10.0
    assert all(not p.open for p in state.phases)
    assert state.status == "succeeded"
    assert state.samples == 1000 and state.seconds == 110.0
    assert [(c.step, c.path) for c in state.checkpoints] == [(200, "ckpt_200.mdl")]


def test_phases_without_timestamps_use_stated_seconds_then_arrival_clock() -> None:
    state = RunState()
    apply(state, PhaseStarted(1, None, "compile"))
    apply(state, PhaseEnded(2, None, "compile", seconds=31.0))
    # A phase the log only reports as finished (a tqdm bar's elapsed time).
    apply(state, PhaseEnded(3, None, "compile", seconds=14.0))
    assert names(state) == ["compile", "compile"]
    assert [p.seconds() for p in state.phases] == [31.0, 14.0]
    # No timestamps, no stated duration, no clock: the duration is unknown but the phase is closed.
    apply(state, PhaseStarted(4, None, "eval"))
    apply(state, PhaseStarted(5, None, "setup"))
    assert state.phases[2].name == "eval" and not state.phases[2].open and state.phases[2].seconds() is None
    # Live: arrival times from the injected clock.
    live = RunState()
    apply(live, PhaseStarted(1, None, "compile"), now=100.0)
    apply(live, PhaseStarted(2, None, "setup"), now=160.5)
    assert live.phases[0].seconds() == 60.5
    assert live.phases[1].open and live.phases[1].seconds(now_at=170.5) == 10.0
    assert live.current_phase is live.phases[1]


def test_phase_ended_without_start_or_seconds_is_ignored() -> None:
    state = RunState()
    apply(state, PhaseEnded(1, None, "eval"))
    assert state.phases == []


def test_line_without_timestamp_between_timestamped_lines_uses_last_log_time() -> None:
    state = RunState()
    apply(state, PhaseStarted(1, at(0), "setup"))
    apply(state, LogLine(2, at(40), "x"))
    apply(state, PhaseStarted(3, None, "checkpoint"))  # a tqdm bar: no timestamp of its own
    assert state.phases[0].seconds() == 40.0
    assert state.phases[1].start == at(40)


def test_eval_steps_open_eval_and_stay_out_of_training_series() -> None:
    state = RunState()
    apply(state, StepMetrics(1, at(0), step=1000, loss=7.1, batch=100, mode="eval", remaining_s=4.0))
    apply(state, StepMetrics(2, at(4), step=1000, loss=6.9, batch=200, mode="eval"))
    assert names(state) == ["eval"]
    assert state.steps.count == 0 and state.loss.count == 0
    assert state.eval_loss.count == 2 and state.eval_loss.last == (200.0, 6.9)
    assert summary_dict(state)["train"] == {"steps": None, "loss": None, "rate": None, "samples": None, "seconds": None}


def test_rate_of_first_step_at_step_one_is_ignored_and_not_smoothed() -> None:
    state = RunState()
    apply(state, step(1, rate=3.0, global_rate=3.0))
    assert state.rate.count == 0 and state.global_rate is None
    apply(state, step(2, rate=500.0, global_rate=400.0))
    apply(state, step(3, rate=100.0, global_rate=390.0))
    # The reported (already EMA) values are kept exactly, not re-smoothed.
    assert state.rate.values() == [500.0, 100.0]
    assert state.global_rate == 390.0
    summary = summary_dict(state)
    assert summary["train"]["rate"] == {"last": 100.0, "global": 390.0, "unit": "samples/sec"}  # type: ignore[index]


def test_first_report_at_step_100_keeps_its_rate() -> None:
    state = RunState()
    apply(state, step(100, rate=6855.28, global_rate=6855.28))
    assert state.rate.last == (100.0, 6855.28)


@pytest.mark.integration
def test_bounded_memory_with_exact_aggregates_over_a_million_steps() -> None:
    state = RunState()
    capacity = state.loss.capacity
    n = 1_000_000
    for i in range(1, n + 1):
        # A bare step event per iteration: this is also the per-event cost check (about 1 µs each).
        apply(state, StepMetrics(i, None, step=i, loss=1000.0 / i + (5.0 if i == 777_777 else 0.0), rate=float(i)))
    for series in (state.loss, state.rate, state.steps):
        assert len(series.points) <= capacity
    assert state.steps.count == n
    assert state.loss.count == n
    assert state.loss.first == (1.0, 1000.0)
    assert state.loss.last == (float(n), 1000.0 / n)
    assert state.loss.min == pytest.approx(1000.0 / n)
    assert state.loss.max == 1000.0
    # Points stay spread over the whole run, not bunched at the start.
    xs = [x for x, _ in state.loss.points]
    assert xs[0] == 1.0 and xs[-1] > 0.9 * n
    summary = summary_dict(state)
    assert summary["train"]["steps"] == {"first": 1, "last": n, "count": n}  # type: ignore[index]
    assert summary["train"]["loss"]["count"] == n  # type: ignore[index]


def test_step_batch_folds_exact_aggregates() -> None:
    state = RunState()
    apply(state, step(100, loss=9.0, rate=10.0))
    first = StepMetrics(200, None, step=200, loss=8.0, rate=11.0, global_rate=10.5)
    mid = StepMetrics(5000, None, step=5000, loss=4.0, rate=12.0)
    last = StepMetrics(10_000, None, step=10_000, loss=3.0, rate=12.5, global_rate=12.0)
    apply(
        state,
        StepBatch(
            10_000,
            None,
            first=first,
            last=last,
            count=99,
            loss_min=2.5,
            loss_max=8.5,
            nonfinite=1,
            samples=(first, mid, last),
        ),
    )
    assert state.steps.count == 100
    assert state.loss.count == 100 and state.loss.min == 2.5 and state.loss.max == 9.0 and state.loss.nonfinite == 1
    assert state.loss.last == (10_000.0, 3.0)
    assert state.rate.last == (10_000.0, 12.5)
    assert state.global_rate == 12.0
    assert state.last_step is last
    assert [a.kind for a in state.alerts] == ["nan"]
    assert summary_dict(state)["train"]["steps"] == {"first": 100, "last": 10_000, "count": 100}  # type: ignore[index]


def test_nan_loss_raises_one_alert_per_stretch() -> None:
    state = RunState()
    apply_all(state, [step(1, 2.0), step(2, math.nan), step(3, math.inf), step(4, 1.5), step(5, math.nan)])
    assert [a.kind for a in state.alerts] == ["nan", "nan"]
    assert state.alerts[0].line == 2
    assert state.loss.nonfinite == 3 and state.loss.min == 1.5
    summary = summary_dict(state)
    loss = summary["train"]["loss"]  # type: ignore[index]
    assert loss["last"] is None and loss["min"] == 1.5 and loss["nonfinite"] == 3
    json.dumps(summary, allow_nan=False)  # valid JSON: no NaN leaks out


def test_fatal_error_fails_the_run_and_a_later_completion_stays_failed() -> None:
    state = RunState()
    apply_all(
        state,
        [
            PhaseStarted(1, at(0), "setup"),
            ErrorSeen(2, at(5), "Error parsing metadata"),
            ErrorSeen(3, at(6), "Error parsing metadata"),
            ErrorSeen(4, at(10), "Job wsjob-abc failed due to: pods", fatal=True),
            RunCompleted(5, at(12), samples=11264, seconds=9567.1),
            ErrorSeen(6, None, "ApplianceUnknownError: boom", fatal=True),
        ],
    )
    assert state.status == "failed"
    assert state.samples == 11264 and state.seconds == 9567.1
    assert state.error_count == 4
    assert state.errors == [
        "Error parsing metadata",
        "Job wsjob-abc failed due to: pods",
        "ApplianceUnknownError: boom",
    ]
    kinds = [a.kind for a in state.alerts]
    assert kinds == ["error", "failed"]
    assert state.phases[0].end == at(10)


def test_completion_with_success_false_fails() -> None:
    state = RunState()
    apply(state, RunCompleted(1, None, success=False, message="Training failed"))
    assert state.status == "failed"


def test_errors_list_is_bounded_but_counted() -> None:
    state = RunState()
    for i in range(MAX_ERRORS * 3):
        apply(state, ErrorSeen(i, None, f"error {i}"))
    assert len(state.errors) == MAX_ERRORS
    assert state.error_count == MAX_ERRORS * 3
    assert state.errors[0] == "error 0"  # the first (root cause) kept
    assert state.errors[-1] == f"error {MAX_ERRORS * 3 - 1}"  # and the latest
    assert len(state.alerts) <= 100


def test_status_running_unknown_and_epochs_plus_test_result() -> None:
    cut = RunState()
    apply(cut, step(1))
    assert cut.status == "unknown"
    live = RunState()
    apply(live, step(1), now=5.0)
    assert live.status == "running"
    ipu = RunState()
    apply(ipu, ProgressUpdate(1, None, "Epochs", n=3, total=10))
    apply(ipu, EvalMetric(2, None, "accuracy", 0.5))
    assert ipu.status == "unknown"  # epochs not finished
    apply(ipu, ProgressUpdate(3, None, "Epochs", n=10, total=10, elapsed_s=108.0))
    assert ipu.status == "succeeded"


def test_two_runs_in_one_file_report_the_last() -> None:
    state = RunState(source="two.log")
    first_run = [
        RunStarted(1, at(0), command="python run.py"),
        JobIdSeen(2, at(1), "wsjob-one"),
        PhaseStarted(3, at(1), "compile"),
        step(100, 5.0, t=60, rate=10.0),
        CheckpointSaved(5, at(61), step=100),
        RunCompleted(6, at(62), samples=10, seconds=2.0),
    ]
    second_run = [
        RunStarted(7, at(100), command="python run.py again"),
        JobIdSeen(8, at(101), "wsjob-two"),
        step(50, 4.0, t=150),
    ]
    apply_all(state, first_run + second_run)
    assert state.source == "two.log"
    assert state.runs == 2
    assert state.job_ids == ["wsjob-two"]
    assert state.command == "python run.py again"
    assert state.checkpoints == [] and state.samples is None
    assert state.status == "unknown"
    assert state.steps.count == 1 and state.steps.first == (50.0, at(150).timestamp())
    assert state.first_ts == at(100)
    assert names(state) == ["train"]


def test_run_started_after_train_steps_starts_fresh_but_not_before() -> None:
    state = RunState()
    apply(state, RunStarted(1, None))
    apply(state, JobIdSeen(2, None, "a"))
    apply(state, RunStarted(3, None))  # no steps yet, not ended: same run (first compile request)
    assert state.job_ids == ["a"] and state.runs == 1
    apply(state, step(4))
    apply(state, RunStarted(5, None))
    assert state.job_ids == [] and state.runs == 2


def test_misc_events() -> None:
    state = RunState()
    tree = ModuleNode("", "Net", children=(ModuleNode("fc", "Linear", "in_features=2"), ModuleNode("act", "ReLU")))
    apply_all(
        state,
        [
            VendorDetected(1, None, "cerebras", device="CSX"),
            VendorDetected(2, None, "gpu"),  # first vendor wins
            JobIdSeen(3, None, "wsjob-a", kind="compile"),
            JobIdSeen(4, None, "wsjob-b", kind="execute"),
            JobIdSeen(5, None, "wsjob-a"),
            WarningSeen(6, None, "careful"),
            WarningSeen(7, None, "careful again"),
            ModelSummary(8, None, tree),
            Info(9, None, "batch_size", "256"),
            EvalMetric(10, None, "eval/accuracy", 0.9872),
            ProgressUpdate(11, None, "Sending initial weights", n=10, total=100, rate=5.0, unit="tensors"),
            ProgressUpdate(12, None, "Sending initial weights", n=100, total=100, elapsed_s=2.0, unit="tensors"),
            CheckpointSaved(13, None, step=1000),
            CheckpointSaved(14, None, step=1000, path="c/1000.mdl"),  # same checkpoint, second line
            CheckpointSaved(15, None, path="c/2000"),
        ],
    )
    assert state.vendor == "cerebras" and state.device == "CSX"
    assert state.job_ids == ["wsjob-a", "wsjob-b"]
    assert state.warnings == 2 and list(state.recent_warnings) == ["careful", "careful again"]
    assert state.model is tree
    assert state.info == {"batch_size": "256"}
    bar = state.progress["Sending initial weights"]
    assert (bar.n, bar.total, bar.elapsed_s, bar.done) == (100, 100, 2.0, True)
    assert [(c.step, c.path) for c in state.checkpoints] == [(1000, "c/1000.mdl"), (None, "c/2000")]
    summary = summary_dict(state)
    assert summary["model"] == {"name": "Net", "modules": 3}
    assert summary["eval"] == {"eval/accuracy": 0.9872}
    assert summary["progress"] == [
        {"name": "Sending initial weights", "n": 100, "total": 100, "elapsed_s": 2.0, "rate": None, "unit": "tensors"}
    ]


def test_version_bumps_on_every_apply_and_lines_track_the_highest() -> None:
    state = RunState()
    for i in range(1, 6):
        apply(state, LogLine(i * 10, None, "x"))
    assert state.version == 5
    assert state.lines == 50


def test_summary_contract_every_key_and_type() -> None:
    state = RunState(source="run.log")
    apply_all(
        state,
        [
            VendorDetected(1, at(0), "cerebras", "CSX"),
            JobIdSeen(2, at(0), "wsjob-x"),
            PhaseStarted(3, at(0), "compile"),
            step(100, 9.5, t=60, rate=100.0, global_rate=90.0),
            step(200, 8.5, t=70, rate=110.0, global_rate=95.0),
            ProgressUpdate(6, None, "Epochs", n=1, total=2, elapsed_s=3.5),
            CheckpointSaved(7, at(71), step=200, path="p"),
            EvalMetric(8, at(72), "accuracy", 0.5),
            ModelSummary(9, None, ModuleNode("", "Net")),
            ErrorSeen(10, at(73), "bad"),
            WarningSeen(11, at(73), "meh"),
            RunCompleted(12, at(80), samples=100, seconds=20.0),
        ],
    )
    s = json.loads(json.dumps(summary_dict(state), allow_nan=False))
    required = {
        "schema",
        "source",
        "vendor",
        "status",
        "job_ids",
        "phases",
        "train",
        "progress",
        "checkpoints",
        "eval",
        "model",
        "errors",
        "warnings",
    }
    assert required <= set(s)
    assert s["schema"] == "hwmon.summary/1" and s["source"] == "run.log" and s["vendor"] == "cerebras"
    assert s["status"] == "succeeded" and s["job_ids"] == ["wsjob-x"]
    assert [p["name"] for p in s["phases"]] == ["compile", "train"]
    for p in s["phases"]:
        assert set(p) >= {"name", "start", "end", "seconds"}
        assert datetime.fromisoformat(p["start"]) and datetime.fromisoformat(p["end"])
        assert isinstance(p["seconds"], float)
    assert s["phases"][0] == {
        "name": "compile",
        "start": "2024-06-03T09:00:00",
        "end": "2024-06-03T09:01:00",
        "seconds": 60.0,
        "detail": "",
        "repeats": 1,
    }
    train = s["train"]
    assert set(train) >= {"steps", "loss", "rate", "samples", "seconds"}
    assert train["steps"] == {"first": 100, "last": 200, "count": 2}
    assert {k: train["loss"][k] for k in ("first", "last", "min", "count")} == {
        "first": 9.5,
        "last": 8.5,
        "min": 8.5,
        "count": 2,
    }
    assert train["rate"] == {"last": 110.0, "global": 95.0, "unit": "samples/sec"}
    assert train["samples"] == 100 and train["seconds"] == 20.0
    assert isinstance(train["steps"]["first"], int) and isinstance(train["loss"]["first"], float)
    bar = s["progress"][0]
    assert {k: bar[k] for k in ("name", "n", "total", "elapsed_s")} == {
        "name": "Epochs",
        "n": 1,
        "total": 2,
        "elapsed_s": 3.5,
    }
    assert s["checkpoints"] == [{"step": 200, "path": "p"}]
    assert s["eval"] == {"accuracy": 0.5}
    assert s["model"] == {"name": "Net", "modules": 1}
    assert s["errors"] == ["bad"] and s["warnings"] == 1


def test_empty_state_summary_is_valid() -> None:
    s = summary_dict(RunState(source="empty"))
    assert s["status"] == "unknown" and s["vendor"] is None and s["phases"] == [] and s["model"] is None
    assert s["train"] == {"steps": None, "loss": None, "rate": None, "samples": None, "seconds": None}
    json.dumps(s, allow_nan=False)


def test_a_finished_bar_inside_a_longer_timestamped_phase_does_not_end_it() -> None:
    state = RunState()
    apply(state, PhaseStarted(1, at(0), "setup", "Preparing to execute"))
    apply(state, LogLine(2, at(28), "About to send initial weights"))
    apply(state, PhaseStarted(3, None, "setup", "Sending initial weights"))
    apply(state, PhaseEnded(4, None, "setup", seconds=2.0))  # the bar's own 2 s
    assert state.current_phase is state.phases[0]
    # A checkpoint bar that is the whole phase: its stated time is the duration.
    apply(state, PhaseStarted(5, at(40), "checkpoint"))
    apply(state, PhaseEnded(6, None, "checkpoint", seconds=9.0))
    assert names(state) == ["setup", "checkpoint"] and state.phases[1].seconds() == 9.0


def test_checkpoint_bar_whole_seconds_refined_by_the_saved_line() -> None:
    state = RunState()
    apply(state, PhaseStarted(1, at(0), "checkpoint", "step 400"))
    apply(state, PhaseEnded(2, None, "checkpoint", seconds=8.0))  # tqdm "[00:08<00:00]"
    apply(state, CheckpointSaved(3, at(8.582), step=400, path="c_400.mdl"))
    assert state.phases[0].seconds() == pytest.approx(8.582)
    # A "Saved" line much later than the bar says is not this phase's end.
    apply(state, PhaseStarted(4, at(100), "checkpoint"))
    apply(state, PhaseEnded(5, None, "checkpoint", seconds=2.0))
    apply(state, CheckpointSaved(6, at(150), step=500))
    assert state.phases[1].seconds() == 2.0


def test_a_longer_statement_about_the_phase_just_ended_extends_it() -> None:
    state = RunState()
    apply(state, PhaseStarted(1, None, "compile", "Compiling Model"))
    apply(state, PhaseEnded(2, None, "compile", seconds=14.0))  # the Graph compilation bar
    apply(state, PhaseEnded(3, None, "compile", seconds=31.03))  # "Compiled/Loaded model in 31.03 secs"
    assert names(state) == ["compile"] and state.phases[0].seconds() == 31.03
    apply(state, PhaseStarted(4, None, "train"))
    apply(state, PhaseEnded(5, None, "compile", seconds=13.0))  # a later compile (eval graph) is its own phase
    assert names(state) == ["compile", "train", "compile"]


# --- fuzz: any sequence of events folds without raising and gives valid JSON ---------------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_ts = st.none() | st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2100, 1, 1))
_num = st.floats(allow_nan=True, allow_infinity=True)
_opt_num = st.none() | _num
_int = st.none() | st.integers(min_value=-(10**12), max_value=10**12)
_phase = st.sampled_from(["queue", "compile", "setup", "train", "checkpoint", "eval"])
_text = st.text(max_size=20)
_step_metrics = st.builds(
    StepMetrics,
    line=st.integers(0, 10**6),
    ts=_ts,
    step=_int,
    loss=_opt_num,
    rate=_opt_num,
    global_rate=_opt_num,
    remaining_s=_opt_num,
    mode=st.sampled_from(["train", "eval"]),
    batch=_int,
)
_events = st.one_of(
    st.builds(RunStarted, line=st.integers(0, 10**6), ts=_ts, command=st.none() | _text),
    st.builds(PhaseStarted, line=st.integers(0, 10**6), ts=_ts, phase=_phase, detail=_text),
    st.builds(PhaseEnded, line=st.integers(0, 10**6), ts=_ts, phase=_phase, seconds=_opt_num),
    _step_metrics,
    st.builds(
        StepBatch,
        line=st.integers(0, 10**6),
        ts=_ts,
        first=_step_metrics,
        last=_step_metrics,
        count=st.integers(-2, 10**6),
        loss_min=_opt_num,
        loss_max=_opt_num,
        nonfinite=st.integers(0, 10),
        samples=st.lists(_step_metrics, max_size=4).map(tuple),
    ),
    st.builds(
        ProgressUpdate,
        line=st.integers(0, 10**6),
        ts=_ts,
        name=_text,
        n=st.integers(-5, 10**9),
        total=_int,
        elapsed_s=_opt_num,
        remaining_s=_opt_num,
        rate=_opt_num,
    ),
    st.builds(CheckpointSaved, line=st.integers(0, 10**6), ts=_ts, step=_int, path=st.none() | _text),
    st.builds(EvalMetric, line=st.integers(0, 10**6), ts=_ts, name=_text, value=_num),
    st.builds(RunCompleted, line=st.integers(0, 10**6), ts=_ts, samples=_int, seconds=_opt_num, success=st.booleans()),
    st.builds(JobIdSeen, line=st.integers(0, 10**6), ts=_ts, job_id=_text),
    st.builds(ErrorSeen, line=st.integers(0, 10**6), ts=_ts, message=_text, fatal=st.booleans()),
    st.builds(WarningSeen, line=st.integers(0, 10**6), ts=_ts, message=_text),
    st.builds(Info, line=st.integers(0, 10**6), ts=_ts, key=_text, value=_text),
    st.builds(VendorDetected, line=st.integers(0, 10**6), ts=_ts, vendor=st.sampled_from(["cerebras", "gpu"])),
)


@settings(max_examples=300, deadline=None)
@given(events=st.lists(_events, max_size=40), clocked=st.booleans())
def test_any_event_sequence_folds_without_raising(events: list[object], clocked: bool) -> None:
    from hwmon.model.alerts import check
    from hwmon.model.eta import eta_seconds

    state = RunState()
    for i, event in enumerate(events):
        apply(state, event, now=float(i) if clocked else None)  # type: ignore[arg-type]
    json.dumps(summary_dict(state), allow_nan=False)
    eta_seconds(state, 1e6 if clocked else None)
    version = state.version
    raised = check(state, 1e6)
    assert version == len(events)
    # A tick that raised an alert changed the state: its version says so (every pane repaints), else it is untouched.
    assert state.version == version + (1 if raised else 0)


def test_thousands_of_checkpoint_cycles_keep_the_timeline_bounded_and_the_totals_exact() -> None:
    # A multi-day run: train, checkpoint, train, ... 5000 times. Memory must stay flat (the timeline folds old
    # cycles) while each phase's total time and the phase order stay right.
    from datetime import datetime, timedelta

    from hwmon.events import CheckpointSaved, PhaseStarted
    from hwmon.model.reducer import apply
    from hwmon.model.state import MAX_PHASES, RunState
    from hwmon.model.summary import summary_dict

    state = RunState(source="long")
    t0 = datetime(2025, 1, 1)
    t = t0
    apply(state, PhaseStarted(1, t, "compile"))
    t += timedelta(seconds=300)
    line = 2
    for _ in range(5000):
        apply(state, PhaseStarted(line, t, "train"))
        t += timedelta(seconds=60)
        apply(state, PhaseStarted(line + 1, t, "checkpoint"))
        t += timedelta(seconds=10)
        apply(state, CheckpointSaved(line + 2, t, step=None, path=None))
        line += 3
    assert len(state.phases) <= MAX_PHASES
    phases = summary_dict(state)["phases"]
    assert isinstance(phases, list)
    totals: dict[str, float] = {}
    repeats: dict[str, int] = {}
    for p in phases:
        totals[p["name"]] = totals.get(p["name"], 0.0) + p["seconds"]
        repeats[p["name"]] = repeats.get(p["name"], 0) + p["repeats"]
    assert totals == {"compile": 300.0, "train": 5000 * 60.0, "checkpoint": 5000 * 10.0}
    assert repeats == {"compile": 1, "train": 5000, "checkpoint": 5000}
    starts = [p["start"] for p in phases]
    assert starts == sorted(starts), "phases stay in order of start"
