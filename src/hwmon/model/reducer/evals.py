"""The run's evaluations as points on the training axis: each evaluation belongs to the training step it followed,
and its value is the run's own figure when the log prints one (``eval/loss 2.105``, ``val_loss``), else the mean of
its batches' losses. Bounded: the oldest points go first."""

from __future__ import annotations

import math

from hwmon.model.state import MAX_EVAL_POINTS, EvalRun, RunState

# Metric names that state an evaluation's loss (``eval/loss``, ``val_loss``, ``test_loss``, ``val lm loss``), as
# opposed to a training figure printed beside it (``train_loss_estimate``) or a derived one (perplexity).
_NOT_EVAL_LOSS = ("train", "ppl", "perplexity")


def _training_step(state: RunState) -> float:
    last = state.steps.last
    return last[0] if last is not None else 0.0


def begin(state: RunState) -> None:
    """An evaluation starts (its first batch): a new point after the last training step."""
    state.eval_run = EvalRun(step=_training_step(state))


def batch_loss(state: RunState, loss: float) -> None:
    """One eval batch's loss: the evaluation's point is the mean so far, unless the run stated its own figure."""
    run = state.eval_run
    if run is None:
        begin(state)
        run = state.eval_run
        assert run is not None
    if run.stated or not math.isfinite(loss):
        return
    run.total += loss
    run.count += 1
    _set_point(state, run, run.total / run.count)


def is_eval_loss(name: str) -> bool:
    """Whether an eval metric's name states the evaluation's loss."""
    low = name.lower()
    return "loss" in low and not any(word in low for word in _NOT_EVAL_LOSS)


def stated(state: RunState, name: str, value: float) -> None:
    """An eval metric: the run's own loss figure for the evaluation just done (or a new one, when training went
    on since the last evaluation) replaces the batch mean."""
    if not is_eval_loss(name) or not math.isfinite(value):
        return
    run = state.eval_run
    if run is None or run.step != _training_step(state) or run.stated:
        begin(state)
        run = state.eval_run
        assert run is not None
    run.stated = True
    _set_point(state, run, value)


def _set_point(state: RunState, run: EvalRun, value: float) -> None:
    points = state.eval_points
    if run.shown and points and points[-1][0] == run.step:
        points[-1] = (run.step, value)
        return
    run.shown = True
    points.append((run.step, value))
    if len(points) > MAX_EVAL_POINTS:
        del points[0]
