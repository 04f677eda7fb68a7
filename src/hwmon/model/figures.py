"""The figures every view shows, each computed in one place: wall time, phase durations, status and loss (the ETA
is ``hwmon.model.eta``).

``hwmon summary`` (no clock: ``now=None``), ``hwmon ls``, plain mode and the dashboard's view model all call these,
so no two views can disagree about a run. Pure: ``now`` is the caller's reading of the injected clock that was
passed to ``hwmon.model.reducer.apply`` as the events arrived.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from hwmon.model.state import ENDED, Phase, RunState

__all__ = [
    "display_status",
    "is_ended",
    "is_live",
    "last_loss",
    "log_now",
    "phase_durations",
    "wall_seconds",
]


def is_ended(state: RunState) -> bool:
    """The run reported its end (its own end line, a fatal error, or its supervisor's record)."""
    return state.status in ENDED


def is_live(state: RunState, now: float | None) -> bool:
    """Clocks run on: a live view (``now`` given) of a run that has not ended and whose source has not ended."""
    return now is not None and not is_ended(state) and not state.source_ended


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def log_now(state: RunState, now: float | None) -> datetime | None:
    """ "Now" in the log's time, to measure an open phase against: the last log timestamp, plus the clock time since
    the last output while the run is live."""
    ts = state.last_ts
    if ts is not None and is_live(state, now) and now is not None and state.last_output_at is not None:
        try:
            ts = ts + timedelta(seconds=max(0.0, now - state.last_output_at))
        except OverflowError:
            pass
    return ts


def _clock_end(state: RunState, now: float | None) -> float | None:
    """The clock reading the run's time is measured up to: ``now`` while live, else its last output."""
    if is_live(state, now):
        return now
    return state.last_output_at


def raw_phase_seconds(state: RunState, phase: Phase, now: float | None) -> float | None:
    """One phase's duration as measured (log timestamps, else stated by the log, else arrival times); an open phase
    is measured up to now while live, else up to the last output."""
    return _finite(phase.seconds(now=log_now(state, now), now_at=_clock_end(state, now)))


def _evidence_wall(state: RunState, now: float | None, phase_total: float) -> float | None:
    spans: list[float] = [phase_total]
    timestamped = state.first_ts is not None and state.last_ts is not None and state.last_ts > state.first_ts
    if state.first_ts is not None and state.last_ts is not None:
        span = (state.last_ts - state.first_ts).total_seconds()
        if is_live(state, now) and now is not None and state.last_output_at is not None:
            span += max(0.0, now - state.last_output_at)
        spans.append(span)
    end = _clock_end(state, now)
    if state.started_at is not None and end is not None:
        spans.append(end - state.started_at)
    if not timestamped and (stated := _finite(state.seconds)) is not None:
        # Without timestamps, the run's own statement of its length (HF's train_runtime, "Processed N samples in S
        # seconds"); with them, such a figure may count an earlier, resumed part of the run, so the log's own
        # times win.
        spans.append(stated)
    wall = max(spans)
    return wall if wall > 0 else None


def wall_seconds(state: RunState, now: float | None) -> float | None:
    """The run's wall time.

    The supervisor's record when there is one (run.json: start to end, or start to now while live; so re-attaching
    to a run shows its real age). Else the longest span the evidence shows: the log's first to last timestamp, the
    arrival clock, the phases' durations, and (for a log without timestamps) the run's own statement of its
    length. A live run's clock runs on; an
    ended run's (or an ended source's) stops at its last output.
    """
    if (recorded := _finite(state.run_seconds)) is not None:
        return max(0.0, recorded)
    end = _clock_end(state, now)
    if state.run_started_at is not None and end is not None:
        return max(0.0, end - state.run_started_at)
    total = sum(d for d in (raw_phase_seconds(state, p, now) for p in state.phases) if d is not None)
    return _evidence_wall(state, now, total)


def phase_durations(state: RunState, now: float | None) -> list[float | None]:
    """Each phase's duration (``None`` when nothing measures it), in ``state.phases`` order. They never add up to
    more than the wall time: when the supervisor's record says the run was shorter than its phases claim, the later
    phases are cut to fit."""
    raw = [raw_phase_seconds(state, p, now) for p in state.phases]
    wall = wall_seconds(state, now)
    if wall is None:
        return raw
    out: list[float | None] = []
    left = wall
    for seconds in raw:
        if seconds is None:
            out.append(None)
            continue
        seconds = min(seconds, max(0.0, left))
        left -= seconds
        out.append(seconds)
    return out


def display_status(state: RunState, now: float | None, *, output_seen: bool = False) -> str:
    """The status word a view shows: ``succeeded``/``failed``/``stopped`` once ended; ``unknown`` when the source
    ended without the run ending (a closed pipe, a file quiet past the silence threshold); ``stalled`` while a stall
    or silence alert stands; ``running`` once anything arrived (``output_seen``: raw lines the caller got, which
    need not have produced events); else ``waiting`` (live) or ``unknown`` (a whole-file summary)."""
    if is_ended(state):
        return state.status
    if state.source_ended or state.status == "unknown" and now is None:
        return "unknown"
    if state.stalled or state.silent:
        return "stalled"
    if output_seen or state.lines or state.phases or state.last_step is not None or state.status == "running":
        return "running"
    return "waiting"


def last_loss(state: RunState) -> tuple[int | None, float | None]:
    """The last training step and loss: from the step reports, else (runs that report only progress bars, such as
    tqdm loops) from the most recently updated bar that carries a loss. Step reports without a step number (HF
    Trainer's loss dicts) take the position of the run's training bar (``40/40``), not their own count."""
    step = state.last_step.step if state.last_step is not None else None
    loss = state.loss.last[1] if state.loss.last is not None else None
    if loss is None:
        for bar in reversed(list(state.progress.values())):
            if "loss" in bar.metrics:
                return (step if step is not None else bar.n), bar.metrics["loss"]
    if step is None and state.last_step is not None:
        loops = [bar for bar in state.progress.values() if bar.total and not bar.counts_epochs]
        if loops:
            step = max(loops, key=lambda bar: bar.total or 0).n
    return step, loss
