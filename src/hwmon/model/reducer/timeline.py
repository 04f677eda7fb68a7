"""Phases of the run's timeline: opened, closed (by the log's own timestamps, a stated duration, or the bar that
measured them), folded when there are too many, and checkpoints (a checkpoint's end refines the phase before it)."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from hwmon.events import CheckpointSaved, Event, PhaseEnded, PhaseName, PhaseStarted
from hwmon.model.reducer.handler import Handler
from hwmon.model.state import MAX_CHECKPOINTS_KEPT, MAX_PHASES, Checkpoint, Phase, RunState


def _end_time(state: RunState, event: Event) -> datetime | None:
    """The log time at which something ended: the event's own timestamp, else the latest one seen so far (a line
    without a timestamp, such as a tqdm bar, sits between timestamped lines)."""
    return event.ts if event.ts is not None else state.last_ts


def close_phase(state: RunState, phase: Phase, event: Event, now: float | None, seconds: float | None = None) -> None:
    phase.closed = True
    by_bar = seconds is not None and _a_bar_says(state, event.line, seconds)
    if seconds is None and phase.start is None and phase.stated_seconds is None:
        # A log without timestamps that did not state the phase's length: the longest bar drawn and finished
        # within the phase measured it (HF Trainer's training bar: 2496/2496 [17:18<00:00]).
        seconds = _bar_elapsed_within(state, phase, event.line)
        by_bar = True
    if seconds is not None and math.isfinite(seconds) and seconds >= 0:
        phase.stated_seconds = seconds
        phase.stated_by_bar = by_bar
    if phase.start is not None:
        if event.ts is not None:
            phase.end = max(event.ts, phase.start)
        elif phase.stated_seconds is None and state.last_ts is not None:
            phase.end = max(state.last_ts, phase.start)
    if now is not None and phase.start_at is not None:
        phase.end_at = max(now, phase.start_at)
    if phase.start_lc is not None:
        phase.end_lc = max(state.log_clock, phase.start_lc)


def _a_bar_says(state: RunState, line: int, seconds: float) -> bool:
    """Whether a stated length is the elapsed time of a bar that finished on ``line`` (a tqdm bar's end), not the
    log's own statement of the phase."""
    for bar in state.progress.values():
        if bar.line == line and bar.done and bar.elapsed_s is not None and abs(bar.elapsed_s - seconds) <= 1.0:
            return True
    return False


def _bar_elapsed_within(state: RunState, phase: Phase, end_line: int) -> float | None:
    """The time the longest bar that finished within ``phase`` took, less what the phases since the bar began
    (checkpoints between train spans of the same loop) are known to have taken."""
    best: float | None = None
    for bar in state.progress.values():
        elapsed = bar.elapsed_s
        if not bar.done or elapsed is None or not math.isfinite(elapsed):
            continue
        if not phase.start_line <= bar.line <= end_line:
            continue
        for earlier in state.phases:
            if earlier is not phase and earlier.start_line >= bar.first_line:
                known = earlier.seconds()
                elapsed -= known if known is not None else 0.0
        if best is None or elapsed > best:
            best = elapsed
    return None if best is None else max(0.0, best)


def open_phase(state: RunState, name: PhaseName, event: Event, now: float | None, detail: str = "") -> Phase:
    current = state.current_phase
    if current is not None:
        if current.name == name:
            if detail:
                current.detail = detail
            return current
        close_phase(state, current, event, now)
    start = event.ts if event.ts is not None else state.last_ts
    phase = Phase(name=name, start=start, start_at=now, detail=detail, start_line=event.line, start_lc=state.log_clock)
    state.phases.append(phase)
    if len(state.phases) > MAX_PHASES:
        fold_phases(state)
    return phase


_FOLD_HEAD = 16  # the run's start (queue, compile, setup...) stays exact


_FOLD_TAIL = 64  # and so does its recent past


def fold_phases(state: RunState) -> None:
    """Bound the timeline: the spans between the first ``_FOLD_HEAD`` and the last ``_FOLD_TAIL`` phases become one
    entry per phase name (first start to last end, durations summed, ``repeats`` counted), in order of first start.
    Totals per phase and the order of the timeline are kept; only the interleaving of old cycles is lost."""
    phases = state.phases
    if len(phases) <= _FOLD_HEAD + _FOLD_TAIL:
        return
    middle = phases[_FOLD_HEAD:-_FOLD_TAIL]
    folded: dict[str, Phase] = {}
    merged: list[Phase] = []
    for phase in middle:
        into = folded.get(phase.name)
        seconds = phase.seconds(phase.end)
        if into is None:
            if phase.folded_seconds is None:
                phase.folded_seconds = seconds or 0.0
            folded[phase.name] = phase
            merged.append(phase)
            continue
        into.repeats += phase.repeats
        into.folded_seconds = (into.folded_seconds or 0.0) + (seconds or 0.0)
        into.closed = True
        if phase.end is not None:
            into.end = phase.end
        if phase.end_at is not None:
            into.end_at = phase.end_at
        if phase.stated_seconds is not None:
            into.stated_seconds = (into.stated_seconds or 0.0) + phase.stated_seconds
    state.phases = [*phases[:_FOLD_HEAD], *merged, *phases[-_FOLD_TAIL:]]


def _phase_started(state: RunState, event: Event, now: float | None) -> None:
    assert isinstance(event, PhaseStarted)
    open_phase(state, event.phase, event, now, event.detail)


def _inside_outer_loop(state: RunState, phase: Phase) -> bool:
    """Whether an unfinished bar that was already drawn when ``phase`` began is still going (an epochs bar around
    per-epoch batch bars): the end of an inner bar is then not the end of the phase."""
    for bar in state.progress.values():
        if bar.total and bar.n < bar.total and bar.first_line <= phase.start_line <= bar.line:
            return True
    return False


def _phase_ended(state: RunState, event: Event, now: float | None) -> None:
    assert isinstance(event, PhaseEnded)
    current = state.current_phase
    if current is not None and current.name == event.phase == "train" and _inside_outer_loop(state, current):
        # One train span for the whole loop: the inner bar's end says nothing about the phase.
        return
    if current is not None and current.name == event.phase:
        end_ts = _end_time(state, event)
        if event.seconds is not None and current.start is not None and end_ts is not None:
            observed = (end_ts - current.start).total_seconds()
            if observed > event.seconds + 1.0:
                # The stated duration covers only part of this phase (a "Sending initial weights" bar inside a
                # longer staging phase that the log's timestamps show): the phase goes on.
                return
        close_phase(state, current, event, now, event.seconds)
        return
    if event.seconds is None or not math.isfinite(event.seconds) or event.seconds < 0:
        # An end of a phase that never started and whose length the log does not state tells us nothing.
        return
    previous = state.phases[-1] if state.phases else None
    if (
        current is None
        and previous is not None
        and previous.name == event.phase
        and previous.end is None
        and previous.stated_seconds is not None
        and event.seconds >= previous.stated_seconds
    ):
        # A second, longer statement about the phase that just ended ("Graph compilation 100% [00:14]", then
        # "Compiled/Loaded model in 31.0 secs"): one phase, and the longer figure covers the shorter.
        previous.stated_seconds = event.seconds
        previous.stated_by_bar = _a_bar_says(state, event.line, event.seconds)
        return
    # The log states that a phase took S seconds without having announced its start (a finished tqdm bar,
    # "Compiled model in S secs"): record it as a closed span. Whatever was open ended when it started.
    if current is not None:
        close_phase(state, current, event, now)
    end = _end_time(state, event)
    phase = Phase(
        name=event.phase,
        stated_seconds=event.seconds,
        stated_by_bar=_a_bar_says(state, event.line, event.seconds),
        start_line=event.line,
        closed=True,
        end_at=now,
        start_at=None if now is None else now - event.seconds,
    )
    if end is not None and event.ts is not None:
        phase.end = end
        try:
            phase.start = end - timedelta(seconds=event.seconds)
        except OverflowError:  # an absurd stated duration: keep the figure, not a start before year 1
            phase.start = None
            phase.end = None
    state.phases.append(phase)
    if len(state.phases) > MAX_PHASES:
        fold_phases(state)


def _checkpoint(state: RunState, event: Event, now: float | None) -> None:
    assert isinstance(event, CheckpointSaved)
    current = state.current_phase
    if current is not None and current.name == "checkpoint":
        if not event.pending:
            close_phase(state, current, event, now)
    elif event.ts is not None and state.phases:
        _refine_stated_end(state.phases[-1], event.ts)
    last = state.checkpoints[-1] if state.checkpoints else None
    if last is not None and _same_checkpoint(last, event):
        # Two lines about one checkpoint ("Saving step N in dataloader checkpoint" / "Saved checkpoint at step N").
        last.step = last.step if last.step is not None else event.step
        last.path = last.path if last.path is not None else event.path
        return
    state.checkpoint_count += 1
    state.checkpoints.append(Checkpoint(step=event.step, path=event.path, ts=event.ts, line=event.line, at=now))
    if len(state.checkpoints) > MAX_CHECKPOINTS_KEPT:
        del state.checkpoints[0]


def _refine_stated_end(phase: Phase, end: datetime) -> None:
    """A checkpoint phase closed by its bar's whole-second elapsed time gets the exact end from the timestamped
    "Saved checkpoint" line that follows, when the two agree to within the bar's resolution."""
    if phase.name != "checkpoint" or phase.start is None or phase.end is not None or phase.stated_seconds is None:
        return
    observed = (end - phase.start).total_seconds()
    if phase.stated_seconds <= observed <= phase.stated_seconds + 1.0:
        phase.end = end


def _same_checkpoint(last: Checkpoint, event: CheckpointSaved) -> bool:
    """Two lines about one checkpoint: the same step (one save writes several files: the model, the optimizer, an
    adapter copy), or, without steps, the same path."""
    if event.step is not None and last.step is not None:
        return event.step == last.step
    return event.path is not None and event.path == last.path


def stop_clocks(state: RunState, phase: Phase) -> None:
    """Close ``phase`` at the run's last output (log time and clock), not at the moment the end became known."""
    phase.closed = True
    if phase.start is not None and phase.end is None and state.last_ts is not None:
        phase.end = max(state.last_ts, phase.start)
    if phase.start_at is not None and phase.end_at is None and state.last_output_at is not None:
        phase.end_at = max(state.last_output_at, phase.start_at)
    if phase.start_lc is not None and phase.end_lc is None:
        phase.end_lc = max(state.log_clock, phase.start_lc)


HANDLERS: dict[type[Event], Handler] = {
    PhaseStarted: _phase_started,
    PhaseEnded: _phase_ended,
    CheckpointSaved: _checkpoint,
}
