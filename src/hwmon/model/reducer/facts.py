"""What a log states about the run besides steps: progress bars, eval metrics, targets (steps, epochs, eval
batches) and other facts (``Info``)."""

from __future__ import annotations

import math

from hwmon.events import EvalMetric, Event, Info, ProgressUpdate, TargetStated
from hwmon.model.reducer.handler import Handler
from hwmon.model.reducer.run import check_epochs_and_test
from hwmon.model.reducer.steps import absurd
from hwmon.model.state import MAX_INFO_KEYS, MAX_PROGRESS_BARS, ProgressBar, RunState


def _progress(state: RunState, event: Event, now: float | None) -> None:
    assert isinstance(event, ProgressUpdate)
    bar = state.progress.get(event.name)
    if bar is None:
        if len(state.progress) >= MAX_PROGRESS_BARS:
            # Drop the bar updated longest ago (dicts keep insertion order; updates re-insert).
            del state.progress[next(iter(state.progress))]
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
    if now is not None:
        state.last_progress_at = now
    if bar.total and bar.counts_epochs:
        # An epochs bar states the run's epochs: its total, and the epoch under way (n done so far).
        state.target_epochs = bar.total
        state.epoch = min(bar.total, bar.n + 1)
    check_epochs_and_test(state)


def _eval_metric(state: RunState, event: Event, now: float | None) -> None:
    assert isinstance(event, EvalMetric)
    state.eval[event.name] = event.value
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
    EvalMetric: _eval_metric,
    Info: _info,
    TargetStated: _target,
}
