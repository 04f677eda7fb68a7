"""One test per wrong figure issue 9 found, each failing before its fix: honest time, the whole run's ETA, ended
sources, supervisor records, stalls at a loop switch, and a loss chart that does not depend on the chunking.

``mnist_cpu_3epochs.log`` is the real output of this project's own workload (``hwmon run mnist --cpu --epochs 3
--limit-batches 40 --threads 1`` on the synthetic IDX set of ``tests/fakes/synthetic_mnist.py``), supervisor's end
line included.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.input.test_source import collect

from hwmon.events import (
    Event,
    PhaseStarted,
    ProgressUpdate,
    RunClock,
    RunOutcome,
    SourceEnded,
    StepMetrics,
    TargetStated,
)
from hwmon.model import alerts, figures
from hwmon.model.eta import eta_seconds
from hwmon.model.reducer import apply, apply_all
from hwmon.model.state import RunState
from hwmon.model.summary import summary_dict
from hwmon.parsers.stream import StreamParser
from hwmon.sources.read import summarize_bytes
from hwmon.sources.source import file_source, stdin_source
from hwmon.tui import view

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
MNIST = FIXTURES / "mnist_cpu_3epochs.log"
CORPUS = Path(__file__).resolve().parents[2] / ".." / "shared" / "corpus"
GPT2 = CORPUS / "cerebras_2024-03_gpt2_compile_and_train.log"


def line_events(data: bytes) -> list[tuple[int, list[Event]]]:
    """The events of each input line, fed one line at a time (a live follower's slowest chunking)."""
    parser = StreamParser(blocks=True)
    out: list[tuple[int, list[Event]]] = []
    for number, line in enumerate(data.splitlines(keepends=True)):
        out.append((number, parser.feed(line)))
    out.append((len(out), parser.finish()))
    return out


# --- honest time -------------------------------------------------------------------------------------------------


def test_mnist_epochs_bar_around_batch_bars_is_one_train_span() -> None:
    # Before: the outer "Epochs" bar and each epoch's bar were separate train phases (0 s + 0 s + 1 s here; 17 s +
    # 14 s + 56 s in the 62 s run), summing past the wall time.
    s = summary_dict(summarize_bytes(MNIST.read_bytes(), str(MNIST)))
    train = [p for p in s["phases"] if p["name"] == "train"]
    assert len(train) == 1, s["phases"]
    assert s["status"] == "succeeded" and s["eval"]["test_accuracy"] == pytest.approx(0.3398)
    wall = s["wall_seconds"]
    assert wall is not None and sum(p["seconds"] or 0.0 for p in s["phases"]) <= wall


def test_phases_never_sum_past_the_supervisors_wall_time() -> None:
    state = RunState()
    apply(state, RunClock(0, None, 0.0), now=0.0)
    apply(state, PhaseStarted(1, None, "compile"), now=0.0)
    from hwmon.events import PhaseEnded

    apply(state, PhaseEnded(2, None, "compile", seconds=500.0), now=10.0)  # a stated figure longer than the run
    apply(state, PhaseStarted(3, None, "train"), now=10.0)
    apply(state, RunOutcome(4, None, "succeeded", 0, None, seconds=60.0), now=60.0)
    durations = figures.phase_durations(state, 60.0)
    assert figures.wall_seconds(state, 60.0) == 60.0
    assert sum(d or 0.0 for d in durations) <= 60.0


def test_reattach_wall_clock_starts_at_the_run_record() -> None:
    # Before: re-attaching to a run started 19 s earlier showed "wall 3s" (the viewer's own clock).
    state = RunState()
    apply(state, RunClock(0, None, elapsed_s=19.0), now=1000.0)
    apply(state, StepMetrics(1, None, step=5, loss=1.0), now=1001.0)
    assert figures.wall_seconds(state, 1003.0) == pytest.approx(22.0)
    assert view.timeline(state, 1003.0).wall == pytest.approx(22.0)


async def test_run_source_starts_with_the_records_start_and_ends_with_its_outcome(tmp_path: Path) -> None:
    from hwmon.sources.source import run_source

    started = datetime.now().astimezone() - timedelta(seconds=19)
    record = {
        "run_id": "r1",
        "command": ["x"],
        "started": started.isoformat(),
        "ended": (started + timedelta(seconds=25)).isoformat(),
        "exit_code": 3,
        "signal": None,
        "status": "failed",
        "host": "h",
        "cwd": "/",
    }
    (tmp_path / "run.json").write_text(json.dumps(record))
    log = tmp_path / "output.log"
    log.write_text("step 1 loss=1.0\n[hwmon] run ended: exit code 0\n")  # the log's text does not decide
    batches = await collect(run_source(tmp_path, log, "r1"))
    events = [e for b in batches for e in b.events]
    clock = [e for e in events if isinstance(e, RunClock)]
    assert len(clock) == 1 and 19.0 <= clock[0].elapsed_s < 25.0
    outcome = [e for e in events if isinstance(e, RunOutcome)]
    assert [(o.status, o.exit_code, o.seconds) for o in outcome] == [("failed", 3, 25.0)]
    state = RunState()
    for batch in batches:
        apply_all(state, batch.events, now=batch.at)
    assert state.status == "failed" and figures.wall_seconds(state, time.monotonic()) == 25.0


def test_a_log_that_merely_says_run_ended_exit_0_has_not_succeeded() -> None:
    data = b"epoch 1 step 1 loss=2.0\n[hwmon] run ended: exit code 0\n"
    assert summary_dict(summarize_bytes(data, "x"))["status"] == "unknown"
    # The supervisor's record decides, and "stopped" is a status of its own.
    state = summarize_bytes(data, "x")
    apply(state, RunOutcome(0, None, "stopped", None, 2))
    assert summary_dict(state)["status"] == "stopped"


def test_summary_of_a_supervised_runs_log_takes_the_records_outcome(tmp_path: Path) -> None:
    from hwmon.commands.summary import summarize_file

    (tmp_path / "output.log").write_text("step 1 loss=2.0\n[hwmon] run ended: exit code 0\n")
    record = {"run_id": "r", "command": ["x"], "started": "2026-01-01T10:00:00+00:00", "status": "failed"}
    record |= {"ended": "2026-01-01T10:01:02+00:00", "exit_code": None, "signal": 9, "host": "h", "cwd": "/"}
    (tmp_path / "run.json").write_text(json.dumps(record))
    s = summary_dict(summarize_file(tmp_path / "output.log"))
    assert s["status"] == "failed" and s["wall_seconds"] == 62.0
    # The same log anywhere else is only a log: its text does not settle anything.
    other = tmp_path / "copy.log"
    other.write_bytes((tmp_path / "output.log").read_bytes())
    assert summary_dict(summarize_file(other))["status"] == "unknown"


def test_finished_log_without_end_marker_is_unknown_and_its_clock_stops(tmp_path: Path) -> None:
    # Before: it stayed RUNNING and its wall/train time ticked with the viewer's clock, while `summary` said unknown.
    log = tmp_path / "quiet.log"
    log.write_text("2024-01-01 10:00:00 step 1 loss=2.0\n2024-01-01 10:01:40 step 2 loss=1.5\n")
    two_days_ago = time.time() - 2 * 86400
    os.utime(log, (two_days_ago, two_days_ago))
    batches = asyncio.run(
        collect(file_source(log), until=lambda bs: any(isinstance(e, SourceEnded) for b in bs for e in b.events))
    )
    ended = [e for b in batches for e in b.events if isinstance(e, SourceEnded)]
    assert len(ended) == 1 and ended[0].quiet_s is not None and ended[0].quiet_s > 86400
    state = RunState()
    for batch in batches:
        apply_all(state, batch.events, now=100.0)
    assert figures.display_status(state, 100.0, output_seen=True) == "unknown"
    assert figures.wall_seconds(state, 100.0) == figures.wall_seconds(state, 100_000.0) == 100.0
    assert eta_seconds(state, 100.0) is None
    headless = summary_dict(summarize_bytes(log.read_bytes(), str(log)))
    assert headless["status"] == "unknown" and headless["wall_seconds"] == 100.0


def test_closed_pipe_is_unknown_not_running() -> None:
    read_fd, write_fd = os.pipe()
    os.write(write_fd, b"step 1 loss=2.0\nstep 2 loss=1.9\n")
    os.close(write_fd)
    batches = asyncio.run(collect(stdin_source(read_fd)))
    os.close(read_fd)
    assert batches[-1].eof
    state = RunState()
    for batch in batches:
        apply_all(state, batch.events, now=5.0)
    assert state.source_ended
    assert figures.display_status(state, 50.0, output_seen=True) == "unknown"
    # Output again (a quiet file written to anew) makes the source live again.
    apply(state, StepMetrics(9, None, step=3, loss=1.8), now=60.0)
    assert figures.display_status(state, 61.0) == "running"


# --- the whole run's ETA -----------------------------------------------------------------------------------------


def test_header_eta_covers_the_epochs_still_to_come() -> None:
    # Before: the header showed the current epoch's ETA (2 s) while 2 more epochs of ~22.7 s were to come.
    state = RunState()
    apply(state, ProgressUpdate(1, None, "Epochs", n=7, total=10, elapsed_s=159.0, rate=1 / 22.7), now=0.0)
    apply(state, ProgressUpdate(2, None, "", n=90, total=100, remaining_s=2.0, rate=45.0), now=0.0)
    assert state.target_epochs == 10 and state.epoch == 8
    eta = eta_seconds(state, 0.0)
    assert eta == pytest.approx(2.0 + 2 * 22.7)
    # The bar keeps its own.
    from hwmon.model.eta import bar_eta

    assert bar_eta(state.progress[""], 0.0) == 2.0


def test_eta_from_a_stated_target_and_the_observed_pace() -> None:
    # No rate, no stated remaining time: the moving average of seconds per step against the target.
    state = RunState()
    apply(state, TargetStated(1, None, "step", 1000), now=0.0)
    for i, now in enumerate((10.0, 12.0, 14.0, 16.0)):
        apply(state, StepMetrics(2 + i, None, step=100 * (i + 1), loss=1.0), now=now)
    # 2 s per 100 steps, 600 steps to go.
    assert eta_seconds(state, 16.0) == pytest.approx(12.0)
    # An announced evaluation of 50 steps at the same pace is part of the run.
    apply(state, TargetStated(9, None, "eval", 50), now=16.0)
    assert eta_seconds(state, 16.0) == pytest.approx(13.0)


def test_target_from_log_timestamps_without_a_clock() -> None:
    state = RunState()
    apply(state, TargetStated(1, None, "step", 300))
    t0 = datetime(2024, 1, 1, 10, 0, 0)
    apply(state, StepMetrics(2, t0, step=100, loss=1.0))
    apply(state, StepMetrics(3, t0 + timedelta(seconds=50), step=200, loss=1.0))
    assert eta_seconds(state, None) == pytest.approx(50.0)


# --- stalls ------------------------------------------------------------------------------------------------------


def test_no_stall_at_the_switch_from_training_to_the_test_loop() -> None:
    state = RunState()
    now = 0.0
    stalls: list[object] = []
    for _number, events in line_events(MNIST.read_bytes()):
        for event in events:
            now += 0.05
            apply(state, event, now)
        if state.progress.get("Epochs") is not None and state.progress["Epochs"].done and not stalls:
            # The test loop runs for a while (10 s: 100x the usual step interval) before its accuracy line.
            # (A minimum gap of 1 s, so that only the phase rule can keep this from being a stall.)
            stalls = [
                a for a in alerts.check(state, now + 10.0, stall=alerts.StallRule(min_s=1.0)) if a.kind == "stall"
            ]
            break
    assert state.step_arrivals, "the fixture's training steps should have arrived"
    assert stalls == []


def test_a_real_stall_in_training_still_fires() -> None:
    state = RunState()
    apply(state, PhaseStarted(1, None, "train"), now=0.0)
    for i in range(5):
        apply(state, StepMetrics(2 + i, None, step=i, loss=1.0), now=float(i))
    assert [a.kind for a in alerts.check(state, 30.0)] == []  # 26 s: under the minimum gap (issue 19)
    assert [a.kind for a in alerts.check(state, 40.0)] == ["stall"]


# --- the loss chart ----------------------------------------------------------------------------------------------


def chunked_state(data: bytes, size: int) -> RunState:
    parser = StreamParser(blocks=True)
    state = RunState()
    for start in range(0, len(data), size):
        apply_all(state, parser.feed(data[start : start + size]), now=1.0)
    apply_all(state, parser.finish(), now=1.0)
    return state


@pytest.mark.skipif(not GPT2.is_file(), reason="../shared/corpus not present")
def test_bulk_path_draws_every_loss_report_like_a_line_feed() -> None:
    # Before: the bulk path kept ~1 point per 64 KB: 112 loss reports falling smoothly became 4 points.
    data = GPT2.read_bytes()
    bulk = summarize_bytes(data, "gpt2")
    assert bulk.loss.count == 112 and len(bulk.loss.points) == 112
    by_line = RunState()
    for _number, events in line_events(data):
        apply_all(by_line, events, now=1.0)
    assert by_line.loss.points == bulk.loss.points
    assert chunked_state(data, 4096).loss.points == bulk.loss.points


def test_generated_cerebras_log_keeps_the_same_chart_whatever_the_chunking(tmp_path: Path) -> None:
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location(
        "gen_cerebras_log", Path(__file__).resolve().parents[2] / "bench" / "gen_cerebras_log.py"
    )
    assert spec is not None and spec.loader is not None
    gen = importlib.util.module_from_spec(spec)
    sys.modules["gen_cerebras_log"] = gen
    spec.loader.exec_module(gen)
    out = tmp_path / "cs.log"
    gen.generate(out, 2 << 20, seed=3)
    data = out.read_bytes()
    whole = summarize_bytes(data, "cs")
    assert whole.loss.count > 4 * whole.loss.capacity  # decimated: even, and the same for every chunking
    for size in (997, 65536, 1 << 20):
        assert chunked_state(data, size).loss.points == whole.loss.points, size
    small = summarize_bytes(data[: len(data) // 40], "cs")
    assert 0 < small.loss.count <= small.loss.capacity and len(small.loss.points) == small.loss.count


def test_untimed_train_phase_takes_its_finished_bars_elapsed_time() -> None:
    # Before: an HF Trainer log without timestamps showed train "0s"/unknown although its bar said 17m18s.
    from hwmon.events import PhaseEnded

    state = RunState()
    apply(state, PhaseStarted(4, None, "train", "HF Trainer"))
    apply(state, ProgressUpdate(5, None, "", n=0, total=2496))
    apply(state, ProgressUpdate(49, None, "", n=2496, total=2496, elapsed_s=1038.0, rate=2.51))
    apply(state, PhaseEnded(51, None, "train"))
    assert figures.phase_durations(state, None) == [1038.0]
    assert figures.wall_seconds(state, None) == 1038.0


VIT = CORPUS / "graphcore_sdk3.0_optimum_vit_finetune_trainer_checkpoints.log"


@pytest.mark.skipif(not VIT.is_file(), reason="../shared/corpus not present")
def test_hf_trainer_corpus_log_train_time_is_its_bars() -> None:
    s = summary_dict(summarize_bytes(VIT.read_bytes(), str(VIT)))
    # Train spans between checkpoints (none of them timed) and the checkpoints take what the training bar took.
    loop = [p["seconds"] or 0.0 for p in s["phases"] if p["name"] in ("train", "checkpoint")]
    assert sum(loop) == 1038.0
    assert s["wall_seconds"] is not None and sum(p["seconds"] or 0.0 for p in s["phases"]) <= s["wall_seconds"]


@settings(max_examples=200, deadline=None)
@given(
    capacity=st.sampled_from([2, 3, 4, 8, 512]),
    blocks=st.lists(st.integers(min_value=1, max_value=300), min_size=1, max_size=12),
    singles=st.lists(st.booleans(), min_size=12, max_size=12),
)
def test_bulk_blocks_keep_exactly_the_points_of_single_adds(
    capacity: int, blocks: list[int], singles: list[bool]
) -> None:
    """``kept_offsets``/``add_kept`` (a block read only where a point is kept) end exactly as one ``add`` per value,
    whatever the mix of blocks and single values."""
    from hwmon.model.series import BoundedSeries

    one, bulk = BoundedSeries(capacity=capacity), BoundedSeries(capacity=capacity)
    x = 0
    for n, single in zip(blocks, singles, strict=False):
        values = [(float(x + i), float((x + i) * 7 % 11)) for i in range(n)]
        x += n
        for point in values:
            one.add(*point)
        if single:
            for point in values:
                bulk.add(*point)
        else:
            ys = [y for _, y in values]
            kept = [values[o] for o in bulk.kept_offsets(n)]
            bulk.add_kept(values[0], values[-1], n, min(ys), max(ys), kept)
    assert (bulk.points, bulk.count, bulk.min, bulk.max, bulk.first, bulk.last) == (
        one.points,
        one.count,
        one.min,
        one.max,
        one.first,
        one.last,
    )


def test_an_epochs_batch_bar_with_a_validation_metric_does_not_end_the_run() -> None:
    # Lightning draws one bar per epoch ("Epoch 0: 100%|...| 20/20 [..., val_acc=0.969]"): its end and the
    # validation metric in it are not the run's end, and its 20 batches are not 20 epochs.
    from hwmon.events import EvalMetric

    state = RunState()
    apply(state, ProgressUpdate(1, None, "Epoch 0", n=20, total=20, elapsed_s=3.0), now=1.0)
    apply(state, EvalMetric(1, None, "val_acc", 0.969), now=1.0)
    assert state.status == "running" and state.target_epochs is None
    # An outer epochs bar that finished, then a test result, is the end of a run that prints no completion line.
    apply(state, ProgressUpdate(2, None, "Epochs", n=3, total=3, elapsed_s=9.0), now=2.0)
    assert state.target_epochs == 3
    apply(state, EvalMetric(3, None, "test_accuracy", 0.9), now=3.0)
    assert state.status == "succeeded"


def test_step_reports_without_numbers_take_the_training_bars_position() -> None:
    # HF Trainer logs a loss dict every logging_steps without a step number; its bar says where the run is.
    state = RunState()
    apply(state, ProgressUpdate(1, None, "", n=0, total=40), now=0.0)
    for i in range(8):
        apply(state, StepMetrics(2 + i, None, step=None, loss=1.0 - i / 10), now=float(i))
        apply(state, ProgressUpdate(2 + i, None, "", n=5 * (i + 1), total=40), now=float(i))
    assert figures.last_loss(state) == (40, pytest.approx(0.3))
    s = summarize_bytes((FIXTURES / "hf_trainer_v4.log").read_bytes(), "hf")
    assert figures.last_loss(s)[0] == 250


@pytest.mark.timeout(90)
def test_a_workload_that_prints_the_supervisors_end_line_does_not_fool_the_views(tmp_path: Path) -> None:
    """End to end: `hwmon run` of a program that prints `[hwmon] run ended: exit code 0` and exits 3 is a failed
    run in plain mode (its exit code) and in `summary` of its log."""
    import subprocess
    import sys

    env = dict(os.environ, HWMON_RUNS_DIR=str(tmp_path / "runs"))
    body = "print('step 1 loss=1.0'); print('[hwmon] run ended: exit code 0', flush=True); raise SystemExit(3)"
    proc = subprocess.run(
        [sys.executable, "-m", "hwmon", "run", "--no-tui", "--", sys.executable, "-c", body],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    from hwmon import exitcodes
    from hwmon.store import registry

    assert proc.returncode == exitcodes.RUN_FAILED, proc.stdout + proc.stderr
    end = [line for line in proc.stdout.splitlines() if " end " in line]
    assert end and "| failed |" in end[-1], proc.stdout
    [record] = registry.list_runs(tmp_path / "runs")
    summary = subprocess.run(
        [sys.executable, "-m", "hwmon", "summary", "--json", str(record.log_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert json.loads(summary.stdout)["status"] == "failed"


def test_a_global_step_that_goes_back_is_a_new_run_not_more_steps() -> None:
    state = RunState()
    for step in (100, 200, 300):
        apply(state, StepMetrics(step, None, step=step, loss=1.0))
    for step in (150, 200):  # restarted from the step-150 checkpoint, or the log reused by a new run
        apply(state, StepMetrics(1000 + step, None, step=step, loss=0.5))
    s = summary_dict(state)
    assert s["runs"] == 2 and s["train"]["steps"] == {"first": 150, "last": 200, "count": 2}
    # Per-epoch counters start again every epoch: one run.
    mnist = summarize_bytes(MNIST.read_bytes(), "mnist")
    assert mnist.runs == 1 and mnist.steps.count == 16


def test_a_restart_inside_a_block_of_step_lines_is_seen_by_the_bulk_path_too() -> None:
    rows = []
    for i, n in enumerate([*range(1, 2001), *range(1000, 3001)]):
        rows.append(
            f"2024-05-06 07:{(i // 60) % 60:02d}:{i % 60:02d},000 INFO:   | Train Device=CSX, Step={n}, "
            f"Loss={1 + 1 / n:.5f}, Rate=12.5 samples/sec, GlobalRate=12.0 samples/sec\n"
        )
    data = "".join(rows).encode()
    bulk = summarize_bytes(data, "x")
    by_line = RunState()
    for _number, events in line_events(data):
        apply_all(by_line, events)
    assert bulk.runs == by_line.runs == 2
    assert summary_dict(bulk)["train"] == summary_dict(by_line)["train"]
    assert bulk.loss.points == by_line.loss.points
