"""The run as a whole: a new run in the same log, its vendor and job, its end (a completion line, the supervisor's
recorded outcome, the source's end), its clock, and the status a finished epochs bar and a test result settle."""

from __future__ import annotations

import dataclasses
import math

from hwmon.events import (
    Event,
    JobIdSeen,
    LogLine,
    ModelSummary,
    RunClock,
    RunCompleted,
    RunOutcome,
    RunStarted,
    SourceEnded,
    TrainingTotals,
)
from hwmon.model.reducer.alerts import fail
from hwmon.model.reducer.ending import tentative_end
from hwmon.model.reducer.handler import Handler
from hwmon.model.reducer.job import continues
from hwmon.model.reducer.timeline import close_phase, stop_clocks
from hwmon.model.state import ENDED, ProgressBar, RunState, merge_errors


def reset_run(state: RunState) -> None:
    """Start a fresh run in ``state``: everything but the source identity and the monotonic counters is cleared."""
    fresh = RunState(source=state.source)
    fresh.version = state.version
    fresh.lines = state.lines
    fresh.alert_count = state.alert_count
    fresh.runs = state.runs + 1
    # What the source and the supervisor know is about the process, not about one run in its log; so is the
    # vendor/device evidence (the stack that prints the log: hwmon.model.reducer.evidence).
    fresh.run_started_at = state.run_started_at
    fresh.run_age_s = state.run_age_s
    fresh.started_at = state.started_at
    fresh.vendor = state.vendor
    fresh.device = state.device
    fresh.job = state.job
    # The log's errors are the file's, whichever run printed them (a crash before a relaunch is still a crash).
    fresh.earlier_errors = merge_errors(state.earlier_errors, state.errors)
    fresh.earlier_error_count = state.earlier_error_count + state.error_count
    for f in dataclasses.fields(RunState):
        setattr(state, f.name, getattr(fresh, f.name))


def _run_started(state: RunState, event: Event, now: float | None) -> None:
    assert isinstance(event, RunStarted)
    if (state.status in ENDED or state.steps.count > 0) and not continues(state, event, now):
        reset_run(state)
    if event.command:
        state.command = event.command


def check_epochs_and_test(state: RunState, bar: ProgressBar | None = None) -> None:
    """A run that prints no completion line succeeded when its epochs bar finished and a test result followed.
    ``bar``: only that bar changed (a progress update), so only it is looked at; else every bar is."""
    if state.status in ENDED or not state.eval:
        return
    for candidate in (bar,) if bar is not None else state.progress.values():
        if candidate.done and candidate.counts_epochs:
            state.status = "succeeded"
            return


def _completed(state: RunState, event: Event, now: float | None) -> None:
    assert isinstance(event, RunCompleted)
    if event.tentative and event.success:
        tentative_end(state, event, now)  # h17c: words that may end other work (hwmon.model.reducer.ending)
        return
    if event.samples is not None:
        state.samples = event.samples
    if event.seconds is not None and math.isfinite(event.seconds):
        state.seconds = event.seconds
    current = state.current_phase
    if current is not None:
        close_phase(state, current, event, now)
    if not event.success:
        fail(state, event, now, event.message or "run ended after a failure")
    elif state.status != "failed":
        # A completion line after a fatal error (e.g. "Processed N samples" printed during shutdown) stays failed.
        state.status = "succeeded"
        state.ended_by_log = True
        state.provisional_end = ""


def _totals(state: RunState, event: Event, now: float | None) -> None:
    """The training loop's own totals: its samples and seconds, without ending the run (an eval may follow)."""
    assert isinstance(event, TrainingTotals)
    if event.samples >= 0:
        state.samples = event.samples
    if math.isfinite(event.seconds) and event.seconds >= 0:
        state.seconds = event.seconds


def _job_id(state: RunState, event: Event, now: float | None) -> None:
    assert isinstance(event, JobIdSeen)
    if event.job_id and event.job_id not in state.job_ids:
        state.job_ids.append(event.job_id)


def _model(state: RunState, event: Event, now: float | None) -> None:
    assert isinstance(event, ModelSummary)
    state.model = event.root


def _outcome(state: RunState, event: Event, now: float | None) -> None:
    """The supervisor's record of how the process ended: the run's status follows it, whatever the log said."""
    assert isinstance(event, RunOutcome)
    state.outcome = event.status
    state.exit_code = event.exit_code
    state.signal = event.signal
    if event.seconds is not None and math.isfinite(event.seconds) and event.seconds >= 0:
        state.run_seconds = event.seconds
    current = state.current_phase
    if current is not None:
        stop_clocks(state, current)
    if event.status == "failed":
        how = f"signal {event.signal}" if event.signal is not None else f"exit code {event.exit_code}"
        fail(state, event, now, f"the run's process ended with {how}")
    elif event.status in ("succeeded", "stopped"):
        state.status = event.status
    else:  # "lost": the supervisor vanished; how the run ended is not known
        state.status = "unknown"


def _run_clock(state: RunState, event: Event, now: float | None) -> None:
    assert isinstance(event, RunClock)
    if not math.isfinite(event.elapsed_s) or event.elapsed_s < 0:
        return
    if now is not None:
        state.run_started_at = now - event.elapsed_s
    else:
        # A read to the end of a running run's log: its age when the record was read is its wall time so far.
        state.run_age_s = event.elapsed_s
    if state.status == "unknown" and state.outcome is None and not state.source_ended:
        # The supervisor records the run as running: so it is, in every view, whatever its log says so far.
        state.status = "running"


def _source_ended(state: RunState, event: Event, now: float | None) -> None:
    """The source will say no more: a run that did not end by itself has an unknown status, and its clocks stop at
    its last output."""
    assert isinstance(event, SourceEnded)
    state.source_ended = True
    state.source_end_reason = event.reason
    if state.status == "running":
        state.status = "unknown"


def _log_line(state: RunState, event: Event, now: float | None) -> None:
    return None


HANDLERS: dict[type[Event], Handler] = {
    LogLine: _log_line,
    RunStarted: _run_started,
    RunCompleted: _completed,
    TrainingTotals: _totals,
    RunOutcome: _outcome,
    RunClock: _run_clock,
    SourceEnded: _source_ended,
    JobIdSeen: _job_id,
    ModelSummary: _model,
}
