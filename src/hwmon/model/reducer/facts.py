"""What a log states about the run besides steps: progress bars, eval metrics, targets (steps, epochs, eval
batches) and other facts (``Info``)."""

from __future__ import annotations

import math
import re

from hwmon.events import EvalMetric, Event, Info, ProgressBatch, ProgressUpdate, TargetStated
from hwmon.model.reducer import evals
from hwmon.model.reducer.handler import Handler
from hwmon.model.reducer.run import check_epochs_and_test
from hwmon.model.reducer.steps import absurd, sane_numbers
from hwmon.model.reducer.timeline import open_phase
from hwmon.model.state import ENDED, MAX_INFO_KEYS, MAX_PROGRESS_BARS, ProgressBar, RunState


def _progress(state: RunState, event: Event, now: float | None) -> None:
    assert isinstance(event, ProgressUpdate)
    bar = state.progress.get(event.name)
    # A loop starts: a bar never drawn, or one drawn again from a lower count or with another total (an unnamed
    # bar reused by the next loop).
    fresh = bar is None or event.n < bar.n or event.total != bar.total
    previous_elapsed = None if bar is None else bar.elapsed_s
    if bar is None:
        if len(state.progress) >= MAX_PROGRESS_BARS:
            # Drop the bar updated longest ago (dicts keep insertion order; updates re-insert), and say so.
            del state.progress[next(iter(state.progress))]
            state.progress_dropped += 1
        bar = ProgressBar(name=event.name, n=event.n, first_line=event.line)
    else:
        # Re-insert so that iteration order is "least recently updated first".
        del state.progress[event.name]
    state.progress[event.name] = bar
    bar.n = event.n
    bar.total = event.total
    bar.elapsed_s = event.elapsed_s
    bar.remaining_s = event.remaining_s
    bar.rate = event.rate
    bar.unit = event.unit
    if event.metrics:
        bar.metrics.update(event.metrics)
    bar.updated_at = now
    bar.line = event.line
    _tell_time(state, bar, event.elapsed_s, previous_elapsed, fresh, now)
    if fresh:
        bar.first_line = event.line
        if _evaluation_loop(state, bar):
            # The run's evaluation starts with its loop's bar, not with the result line printed after it.
            phase = open_phase(state, "eval", event, now, bar.name)
            if phase.start_lc is not None and bar.origin_lc is not None:
                phase.start_lc = min(phase.start_lc, bar.origin_lc)
    if now is not None:
        state.last_progress_at = now
    if bar.total and bar.counts_epochs:
        # An epochs bar states the run's epochs: its total, and the epoch under way (n done so far).
        state.target_epochs = bar.total
        state.epoch = min(bar.total, bar.n + 1)
    check_epochs_and_test(state, bar)


def _progress_batch(state: RunState, event: Event, now: float | None) -> None:
    """A run of redraws of one bar (``ProgressBatch``): its count, total and elapsed time never go back within it
    (the parser's promise), so only the first can start a loop or open a phase, and the bar's figures and the log
    clock after the last are what every redraw in turn would leave: the first, then the last, folded in. The
    version counts every redraw, as line by line."""
    assert isinstance(event, ProgressBatch)
    first = sane_numbers(event.first)
    assert isinstance(first, ProgressUpdate)
    _progress(state, first, now)
    if event.count > 1:
        last = sane_numbers(event.last)
        assert isinstance(last, ProgressUpdate)
        _progress(state, last, now)
        state.version += event.count - 1


def _tell_time(
    state: RunState,
    bar: ProgressBar,
    elapsed: float | None,
    previous: float | None,
    fresh: bool,
    now: float | None,
) -> None:
    """Advance the run's log clock by what the bar's elapsed time says (never backwards). A bar first seen part-way
    (a log read from its tail) began before the log clock's reading, by the time it shows; one first seen finished
    (a loop drawn only at its end: Keras to a file) or drawn again from a lower count or elapsed time (the next
    loop) ran from the log clock's reading for the time it shows."""
    seconds = elapsed if elapsed is not None and math.isfinite(elapsed) and elapsed >= 0 else None
    restarted = (fresh and previous is not None) or (
        seconds is not None and previous is not None and seconds < previous
    )
    if restarted or (fresh and bar.done):
        bar.origin_lc = state.log_clock
    elif fresh or bar.origin_lc is None:
        bar.origin_lc = state.log_clock - (seconds or 0.0)
        current = state.current_phase
        if current is not None and current.start_line == bar.line and current.start_lc is not None:
            # The phase this bar's line opened began when the bar did (seen part-way: before the log clock).
            current.start_lc = min(current.start_lc, bar.origin_lc)
    if seconds is not None and bar.origin_lc + seconds > state.log_clock:
        state.log_clock = bar.origin_lc + seconds
        state.log_clock_at = now


_EVAL_BAR = re.compile(r"(?:^|\W)(?:eval\w*|test\w*|valid\w*|val)(?:\W|$)", re.IGNORECASE)


def _evaluation_loop(state: RunState, bar: ProgressBar) -> bool:
    """Whether a loop starting now is the run's evaluation: training's loop has ended (the last phase is a closed
    train span and none is open), the run goes on, and the bar is unnamed or named like one (``Testing``, ``eval``,
    ``Validation``). A bar the parser tied to training opened a train phase before it was drawn."""
    if state.status in ENDED or state.current_phase is not None or not state.phases:
        return False
    last = state.phases[-1]
    if last.name != "train" or bar.counts_epochs:
        return False
    return not bar.name.strip() or _EVAL_BAR.search(bar.name) is not None


def _eval_metric(state: RunState, event: Event, now: float | None) -> None:
    assert isinstance(event, EvalMetric)
    state.eval[event.name] = event.value
    evals.stated(state, event.name, event.value)
    check_epochs_and_test(state)


def _info(state: RunState, event: Event, now: float | None) -> None:
    assert isinstance(event, Info)
    # Facts the model computes with are typed fields, not strings (older parsers state them as Info).
    if event.key == "target_step":
        _set_target(state, "step", _int(event.value), None)
        return
    if event.key == "effective_batch_size":
        try:
            batch = float(event.value)
        except ValueError:
            return
        if math.isfinite(batch) and batch > 0:
            state.batch_size = batch
        return
    if event.key in state.info or len(state.info) < MAX_INFO_KEYS:
        state.info[event.key] = event.value


def _int(text: str) -> int | None:
    try:
        value = int(text.strip())
    except ValueError:
        return None
    return None if absurd(value) else value


def _target(state: RunState, event: Event, now: float | None) -> None:
    assert isinstance(event, TargetStated)
    _set_target(state, event.what, event.total, event.current)


def _set_target(state: RunState, what: str, total: int | None, current: int | None) -> None:
    if total is None or absurd(total) or total < 0 or (current is not None and absurd(current)):
        return
    if what == "step":
        if total > 0:
            state.target_step = total
    elif what == "epoch":
        if total > 0:
            state.target_epochs = total
            if current is not None:
                state.epoch = max(0, min(total, current))
    elif what == "eval":
        state.eval_announced = True
        state.eval_total = total or None


HANDLERS: dict[type[Event], Handler] = {
    ProgressUpdate: _progress,
    ProgressBatch: _progress_batch,
    EvalMetric: _eval_metric,
    Info: _info,
    TargetStated: _target,
}
