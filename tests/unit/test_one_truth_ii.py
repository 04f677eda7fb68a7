"""One test per wrong figure issue 18 ("One truth II") lists under "Why", each failing before its fix: refs resolved
once, the supervisor's record in every command, the eval phase from its bar, status without contradictions, the
fleet's silence, bounded-not-lossy progress, vendor agreement, time alerts through the reducer."""

from __future__ import annotations

import asyncio
import json
import os
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from tests.parity.harness import run_cli

from hwmon.events import (
    PhaseStarted,
    ProgressUpdate,
    RunClock,
    RunOutcome,
    SourceEnded,
    StepMetrics,
    VendorDetected,
)
from hwmon.model import alerts, figures
from hwmon.model.reducer import apply, apply_all
from hwmon.model.state import MAX_PROGRESS_BARS, RunState
from hwmon.model.summary import summary_dict
from hwmon.sources.pipeline import Reader
from hwmon.sources.read import summarize_bytes
from hwmon.store import registry

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.fixture
def runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "runs"
    root.mkdir()
    monkeypatch.setenv("HWMON_RUNS_DIR", str(root))
    return root


def stamped_log(seconds: int) -> str:
    """A log whose own timestamps span ``seconds`` (step lines every 20 s), in this project's words."""
    t0 = datetime(2025, 3, 1, 10, 0, 0)
    lines = []
    for i, at in enumerate(range(0, seconds + 1, 20)):
        stamp = (t0 + timedelta(seconds=at)).strftime("%Y-%m-%d %H:%M:%S,000")
        lines.append(f"{stamp} INFO step={i + 1} loss={2.5 - i / 100:.4f}\n")
    return "".join(lines)


def make_run(root: Path, run_id: str, log: str, *, started: datetime, ended: datetime | None) -> registry.RunRecord:
    run_dir = root / run_id
    run_dir.mkdir()
    (run_dir / registry.LOG_FILE).write_text(log)
    record = registry.RunRecord.starting(run_id, run_dir, ["python", "train.py"], None, "cpu", "/tmp")
    record.started = started.astimezone().isoformat()
    if ended is not None:
        record.ended = ended.astimezone().isoformat()
        record.status = "succeeded"
        record.exit_code = 0
    else:
        # A live supervisor: this test process stands in for it (its pid and start token prove it is alive).
        record.supervisor_pid = os.getpid()
        record.supervisor_start = registry.process_start_token(os.getpid())
    registry.save(record)
    loaded = registry.load(run_dir)
    assert loaded is not None
    return loaded


# --- one ref resolver, the supervisor's record in every command -------------------------------------------------------


def test_summary_takes_a_run_id_as_export_does_and_every_command_reads_the_records_wall(runs: Path) -> None:
    # run.json says the run took 4m44s; its log's own timestamps span 4m20s. `summary RUN_ID` was a "no such file"
    # error while `export RUN_ID` worked, and compare said 4m20s where ls and summary said 4m44s.
    start = datetime(2025, 3, 1, 10, 0, 0)
    make_run(runs, "20250301-100000-train", stamped_log(260), started=start, ended=start + timedelta(seconds=284))
    summary = json.loads(run_cli("summary", "--json", "20250301"))
    assert summary["wall_seconds"] == 284.0 and summary["status"] == "succeeded"
    compare = json.loads(run_cli("compare", "--json", "20250301", str(runs / "20250301-100000-train")))
    assert [r["wall_seconds"] for r in compare["runs"]] == [284.0, 284.0]
    phases = run_cli("export", "--what", "phases", "20250301")
    share = float(phases.splitlines()[1].split(",")[5])
    assert abs(share - 260 / 284) < 1e-3  # not 0.998: the share is of the run's wall, the record's
    table = run_cli("ls")
    assert "4m44s" in table and figures.fmt_wall(284.0) == "4m44s"
    human = run_cli("summary", str(runs / "20250301-100000-train" / registry.LOG_FILE))
    assert "4m44s" in human


def test_summary_of_a_running_supervised_runs_log_says_running(runs: Path) -> None:
    # The README says a supervised run's status is its supervisor's record: summary of its output.log said
    # "unknown" while the run was going.
    started = datetime.now() - timedelta(seconds=90)
    record = make_run(runs, "20250301-110000-live", stamped_log(60), started=started, ended=None)
    assert record.status == "running"
    for ref in (str(record.log_path), record.run_id):
        summary = json.loads(run_cli("summary", "--json", ref))
        assert summary["status"] == "running", ref
        assert summary["wall_seconds"] is not None and summary["wall_seconds"] >= 89.0


# --- the eval phase starts with its bar -------------------------------------------------------------------------------


EVAL_LOG = (
    "Epochs:   0%|          | 0/1 [00:00<?, ?it/s]\n"
    "Loss:2.3 | Accuracy:12.5%: 100%|##########| 40/40 [01:10<00:00,  0.57it/s]\n"
    "Epochs: 100%|##########| 1/1 [01:10<00:00, 70.0s/it]\n"
    " 50%|#####     | 156/312 [00:11<00:11, 13.5it/s]\r"
    "100%|##########| 312/312 [00:23<00:00, 13.5it/s]\n"
    "Accuracy on test set: 97.10%\n"
)


def test_the_eval_phase_is_as_long_as_its_bar_and_open_while_the_bar_runs() -> None:
    # The test bar ran 23 s, yet the eval phase was 0 s (dashboard), - (summary) and empty (export); while it ran
    # the header said "last phase train".
    state = summarize_bytes(EVAL_LOG.encode(), "eval.log")
    evals = [s for p, s in zip(state.phases, figures.phase_durations(state, None), strict=True) if p.name == "eval"]
    assert evals == [23.0]
    live = Reader("eval.log")
    live.feed(EVAL_LOG.split("Accuracy on test set")[0].encode()[:-1] + b"", 100.0)
    current = live.state.current_phase
    assert current is not None and current.name == "eval"


# --- status without contradictions ------------------------------------------------------------------------------------


def test_a_pending_job_is_queued_not_running() -> None:
    state = RunState()
    apply_all(state, [PhaseStarted(0, None, "queue", "Priority")], 5.0)
    assert figures.display_status(state, 5.0) == "queued"
    apply_all(state, [PhaseStarted(1, None, "train")], 6.0)
    assert figures.display_status(state, 6.0) == "running"


def test_a_lost_run_is_unknown_live_as_in_summary_never_running() -> None:
    """Issue 22's repro (three words for one run): the supervisor died and the workload is gone; run.json says
    lost. ``summary`` said unknown, ``attach --plain`` went on saying running after the source ended."""
    state = RunState()
    apply_all(state, [RunClock(0, None, 5.0), StepMetrics(1, None, step=1, loss=2.5)], 10.0)
    assert figures.display_status(state, 10.0) == "running"
    apply_all(state, [RunOutcome(0, None, "lost", None, None)], 11.0)
    assert figures.display_status(state, 11.0) == "unknown"
    assert figures.display_status(state, None) == summary_dict(state)["status"] == "unknown"


async def test_a_finished_log_gone_quiet_stays_finished_and_never_says_its_end_is_unknown(tmp_path: Path) -> None:
    from hwmon.sources.source import file_source

    log = tmp_path / "run.log"
    log.write_bytes((FIXTURES / "mnist_cpu_3epochs.log").read_bytes())
    old = time.time() - 3600
    os.utime(log, (old, old))
    source = file_source(log)
    source.quiet_s = 0.5
    state = RunState()
    statuses: list[str] = []

    async def follow() -> None:
        async for batch in source.batches():
            apply_all(state, batch.events, batch.at)
            if batch.status:
                statuses.append(batch.status)
            if state.source_ended:
                source.close()

    await asyncio.wait_for(follow(), 30)
    assert state.source_ended and figures.display_status(state, 1.0) == "succeeded"
    assert statuses and not any("unknown" in s for s in statuses), statuses


def test_the_fleet_ends_a_silent_logs_source_instead_of_running_on_with_an_eta(tmp_path: Path) -> None:
    from hwmon.sources.fleet import LogTracker, _row

    log = tmp_path / "quiet.log"
    log.write_text(
        "".join(f"2025-03-01 10:00:{i:02d},000 INFO step={i} loss={2 - i / 100:.3f}\n" for i in range(1, 40))
    )
    sixteen_minutes_ago = time.time() - 16 * 60
    os.utime(log, (sixteen_minutes_ago, sixteen_minutes_ago))
    tracker = LogTracker(log, clock=lambda: 1000.0)
    tracker.poll()
    tracker.poll()  # nothing new: the clock judges the run
    state = tracker.state
    status = figures.display_status(state, 1000.0)
    assert status == "unknown"
    row = _row("file:q", "file", "quiet.log", "local", "", status, state, 1000.0, ref="q")
    assert row.eta_s is None


# --- bounded, not lossy -----------------------------------------------------------------------------------------------


def test_forty_named_bars_are_all_kept_and_a_flood_says_how_many_it_dropped() -> None:
    # 40 distinct tqdm bars: summary --json listed only the last 28.
    state = RunState()
    apply_all(state, [ProgressUpdate(i, None, f"shard {i}", 1, 1) for i in range(40)])
    summary = summary_dict(state)
    assert len(summary["progress"]) == 40 and summary["progress_dropped"] == 0  # type: ignore[arg-type]
    apply_all(state, [ProgressUpdate(100 + i, None, f"file {i}", 1, 2) for i in range(MAX_PROGRESS_BARS)])
    summary = summary_dict(state)
    assert len(summary["progress"]) == MAX_PROGRESS_BARS  # type: ignore[arg-type]
    assert summary["progress_dropped"] == 40 and MAX_PROGRESS_BARS >= 1000


# --- live and headless agree ------------------------------------------------------------------------------------


def test_live_and_headless_agree_on_the_vendor_of_a_two_run_log() -> None:
    # The summary patched the vendor of a log's second run from the parser; the live path did not.
    events = [
        VendorDetected(1, None, "cerebras", "CSX"),
        StepMetrics(2, None, step=10, loss=2.0),
        StepMetrics(3, None, step=1, loss=3.0),  # the second run starts over
    ]
    live, headless = RunState(), RunState()
    apply_all(live, events, 10.0)
    apply_all(headless, events, None)
    assert live.runs == headless.runs == 2
    assert (live.vendor, live.device) == (headless.vendor, headless.device) == ("cerebras", "CSX")


def test_a_stall_raised_by_the_clock_changes_the_state_version_so_every_pane_repaints() -> None:
    # The stall reached the header but not the alerts pane: it was recorded while painting, without a version bump.
    state = RunState()
    for i in range(1, 6):
        apply(state, PhaseStarted(0, None, "train") if i == 1 else StepMetrics(i, None, step=i, loss=1.0), float(i))
    version = state.version
    raised = alerts.check(state, 60.0)
    assert [a.kind for a in raised] == ["stall"] and state.version == version + 1
    assert alerts.check(state, 61.0) == [] and state.version == version + 1  # nothing new: nothing changed
    apply(state, SourceEnded(9, None, "gone"), 62.0)
    assert alerts.check(state, 10_000.0) == []


def test_plain_never_prints_the_first_step_rate_the_reducer_dropped() -> None:
    from hwmon.views.plain import state_fields

    state = RunState()
    apply(state, StepMetrics(1, None, step=1, loss=2.0, rate=123456.0, rate_unit="samples/sec"), 1.0)
    assert not any(f.startswith("rate") for f in state_fields(state, 1.0))
    apply(state, StepMetrics(2, None, step=2, loss=2.0, rate=512.0, rate_unit="samples/sec"), 2.0)
    assert "rate 512 samples/sec" in state_fields(state, 2.0)


# --- time comes from the run, not from the viewer -------------------------------------------------------------------


def tqdm_training(epochs: int, batches: int, seconds_per_batch: float) -> list[tuple[float, str]]:
    """(seconds since the run began, line) of a tqdm loop without timestamps: an epochs bar around per-epoch bars,
    as this project's MNIST workload draws them (in our own words)."""

    def clock(s: float) -> str:
        return f"{int(s) // 60:02d}:{int(s) % 60:02d}"

    out: list[tuple[float, str]] = [(0.0, f"Epochs:   0%|          | 0/{epochs} [00:00<?, ?it/s]\n")]
    t = 0.0
    for epoch in range(epochs):
        start = t
        for batch in range(batches + 1):
            t = start + batch * seconds_per_batch
            loss = 2.3 - (epoch * batches + batch) / 10_000
            bar = f"{100 * batch // batches:3d}%| | {batch}/{batches} [{clock(t - start)}<00:00]"
            out.append((t, f"Loss:{loss:.4f}: {bar}\r"))
        out.append((t, f"Epochs: {100 * (epoch + 1) // epochs:3d}%| | {epoch + 1}/{epochs} [{clock(t)}<00:00]\n"))
    return out


def train_seconds(state: RunState, now: float | None) -> float | None:
    spans = [s for p, s in zip(state.phases, figures.phase_durations(state, now), strict=True) if p.name == "train"]
    return sum(s for s in spans if s is not None) if spans else None


def test_attaching_mid_run_gives_the_train_phase_the_log_says_not_the_time_since_attaching() -> None:
    # Re-attached at 3m03s into a run, the dashboard said "train 3s" (clocked from the attach); 34 s later "train
    # 37s" while the log's bar said 03:28.
    lines = tqdm_training(epochs=3, batches=100, seconds_per_batch=1.0)  # 300 s of training
    t0 = 10_000.0  # the viewer's clock when the run began
    whole = summarize_bytes("".join(text for _, text in lines).encode(), "whole")

    def attach_at(moment: float) -> RunState:
        reader = Reader("live")
        backlog = "".join(text for at, text in lines if at <= moment).encode()
        reader.feed(backlog, t0 + moment)  # everything written so far arrives at once
        for at, text in lines:
            if at > moment:
                reader.feed(text.encode(), t0 + at)  # then each line when it is written
        return reader.state

    end = t0 + lines[-1][0]
    expected = train_seconds(whole, None)
    assert expected is not None and abs(expected - 300.0) <= 1.0
    for moment in (0.0, 183.0, 250.0, lines[-1][0]):
        got = train_seconds(attach_at(moment), end)
        assert got is not None and abs(got - expected) <= 1.0, (moment, got, expected)
    # Mid-run, a view attached late shows the run's own train time so far (the bar's), not the time since it came.
    late = Reader("late")
    late.feed("".join(text for at, text in lines if at <= 183.0).encode(), t0 + 183.0)
    now_train = train_seconds(late.state, t0 + 190.0)
    assert now_train is not None and abs(now_train - 190.0) <= 1.0, now_train


def test_a_whole_file_read_ends_its_source_as_a_follower_would(tmp_path: Path) -> None:
    # One policy for the end of a source: a log quiet past the silence threshold has ended (no ETA, no running
    # clock) in a whole-file read (summary, report, export) as in a follower; a log written to just now may grow.
    from hwmon.model.eta import eta_seconds
    from hwmon.sources.open import resolve_input
    from hwmon.sources.read import read_state

    log = tmp_path / "run.log"
    log.write_text(
        "".join(f"2025-03-01 10:00:{i:02d},000 INFO step={i}/100 loss={2 - i / 100:.3f}\n" for i in range(1, 30))
    )
    fresh = read_state(resolve_input(str(log)))
    assert not fresh.source_ended
    hour_ago = time.time() - 3600
    os.utime(log, (hour_ago, hour_ago))
    quiet = read_state(resolve_input(str(log)))
    assert quiet.source_ended and eta_seconds(quiet, None) is None
