"""How a run ended well when its log says so only by implication (h17c, issue 17): a provisional success.

A log need not print a completion sentence of its own. The run succeeded, provisionally, when

- it reached its stated target (``evidence:target-reached``): its last training step is the target step (or one
  short of it for a counter that starts at 0), or its last epoch ``E/N`` with ``E == N`` completed — an epoch's
  own summary line, its per-epoch counter at its total, or an evaluation after its steps (a final evaluation/test
  block after training reached its target);
- or (h17g) it evaluated a held-out test split for the first time after training validated on another split
  (``evidence:test-after-fit``: ``valid loss`` per epoch, then ``test loss`` once: the script's final test pass),
  or, with no validation at all, after two or more epochs of training (a loop testing after every epoch tests
  first after its first epoch);
- or it printed words that end runs but also end other work (``Done``, ``Total time: 0:12:34``: a ``RunCompleted``
  with ``tentative``) after training had begun.

Provisional, because the log may go on: a later training step (a per-epoch counter at its total at the end of every
epoch, a "Done" after data loading), a target moved past the step (a resumed run stating a new target), or an error
after it (a crash after the last step) withdraws it, and the run is running/unknown again. A fatal error fails the
run as always. The log's own completion sentence (a ``RunCompleted`` that is not tentative) is never provisional.
The status's provenance names the rule that implied it (``hwmon.model.provenance``).
"""

from __future__ import annotations

import math

from hwmon.events import ErrorSeen, EvalMetric, Event, RunCompleted, StepBatch, StepMetrics, TargetStated
from hwmon.model.reducer.handler import Handler
from hwmon.model.state import ENDED, RunState

__all__ = ["OBSERVERS", "TARGET_RULE", "TEST_RULE", "reached", "tentative_end", "withdraw"]

TARGET_RULE = "evidence:target-reached"
TEST_RULE = "evidence:test-after-fit"


def _settle(state: RunState, rule: str) -> None:
    if state.status in ENDED or state.steps.last is None:
        return
    state.status = "succeeded"
    state.provisional_end = rule
    state.provisional_x = state.steps.last[0]


def withdraw(state: RunState, now: float | None) -> None:
    """The log went on after a provisional success: the run is running (live) or unknown (a read) again."""
    if state.provisional_end and state.status == "succeeded":
        state.status = "running" if now is not None else "unknown"
    state.provisional_end = ""
    state.provisional_x = None


def _integral(epoch: float) -> bool:
    return math.isfinite(epoch) and epoch == int(epoch)


def reached(state: RunState) -> bool:
    """Whether the run's last training step is at its stated target (see the module doc)."""
    last = state.last_step
    if last is None or state.steps.last is None:
        return False
    epoch = last.epoch
    epochs = state.target_epochs
    if epoch is not None and _integral(epoch):
        # A step of an epoch: the run's end only in its last epoch. With no epoch total, a step counter at its
        # total may be a per-epoch counter at the end of any epoch: not decided — unless the counter never went
        # down since its total was stated and has passed an epoch's end (``epoch=5 step=320/320`` after
        # ``epoch=1 step=1/320``): it counts the whole run's steps, and the run is at its end.
        if epochs is None:
            return _whole_run_counter_at_target(state, last.step, epoch)
        if epoch < epochs:
            return False
        if last.step is None or (last.step == int(epoch) and state.steps.count <= last.step):
            # The last epoch's own summary line: its only counter is the epoch (one step per epoch so far).
            return last.loss is not None
    target = state.target_step
    step = last.step
    if target is None or step is None:
        return False
    if step == target:
        return True
    first = state.steps.first
    return step == target - 1 and first is not None and first[0] == 0.0


def _whole_run_counter_at_target(state: RunState, step: int | None, epoch: float) -> bool:
    stated = state.target_epoch_stated
    return (
        step is not None
        and step == state.target_step
        and not state.counter_fell
        and stated is not None
        and epoch > stated
    )


def _in_last_epoch(state: RunState) -> bool:
    last = state.last_step
    if last is None or state.target_epochs is None:
        return False
    epoch = last.epoch if last.epoch is not None else state.epoch
    return epoch is not None and math.isfinite(epoch) and epoch >= state.target_epochs


def tentative_end(state: RunState, event: RunCompleted, now: float | None) -> None:
    """A tentative end phrase: a provisional success once training has begun (a "Done" before it is not the
    run's end)."""
    _settle(state, event.rule or "evidence:end-phrase")


def _after_step(state: RunState, event: Event, now: float | None) -> None:
    step = event.last if isinstance(event, StepBatch) else event
    if not isinstance(step, StepMetrics):
        return
    if step.mode == "eval":
        _after_eval(state, event, now)
        return
    first = event.first.step if isinstance(event, StepBatch) else step.step
    if step.step is not None and first is not None:
        if (state.last_counter is not None and first < state.last_counter) or step.step < first:
            state.counter_fell = True
        state.last_counter = step.step
    if state.target_epoch_stated is None:
        state.target_epoch_stated = event.first.epoch if isinstance(event, StepBatch) else step.epoch
    last = state.steps.last
    if state.provisional_end and last is not None and last[0] != state.provisional_x:
        withdraw(state, now)
    if reached(state):
        _settle(state, TARGET_RULE)


def _after_eval(state: RunState, event: Event, now: float | None) -> None:
    """An evaluation after the last epoch's training steps: the last epoch completed; or a final test pass."""
    if _in_last_epoch(state) or reached(state):
        _settle(state, TARGET_RULE)
    elif isinstance(event, EvalMetric) and _test_after_fit(state, event.name):
        _settle(state, TEST_RULE)


_VALIDATION = ("val", "valid", "validation", "dev", "eval")
_EPOCHS_BEFORE_A_FINAL_TEST = 2


def _split(name: str) -> str:
    return name.lower().replace("/", "_").replace(" ", "_").replace("-", "_").split("_")[0]


def _test_after_fit(state: RunState, name: str) -> bool:
    """h17g: a held-out test split evaluated for the first time after training that was validated on another split
    (``valid loss`` per epoch, then ``test loss`` once): the script's final test pass after fitting."""
    if state.steps.last is None or _split(name) not in ("test", "testing"):
        return False
    series = state.metrics.series.get(f"eval:{name}")
    if series is None or series.series.count != 1:
        return False
    if any(_split(other) in _VALIDATION for other in state.eval):
        return True
    # No validation split: the first test pass came after several epochs of training (a loop that tests after
    # every epoch tests for the first time after its first one).
    last = state.last_step
    epoch = last.epoch if last is not None and last.epoch is not None else state.epoch
    return epoch is not None and epoch >= _EPOCHS_BEFORE_A_FINAL_TEST


def _after_target(state: RunState, event: Event, now: float | None) -> None:
    if isinstance(event, TargetStated) and event.what == "step":
        # Counting starts again from the line that states the target (the epoch it was stated in is kept).
        state.counter_fell = False
        state.last_counter = event.current
        state.target_epoch_stated = None  # the epoch of the next training step
    if state.provisional_end == TARGET_RULE and not reached(state):
        withdraw(state, now)
    elif reached(state):
        _settle(state, TARGET_RULE)


def _after_error(state: RunState, event: Event, now: float | None) -> None:
    """An error after a provisional success: the log did not end well (a fatal one fails the run anyway)."""
    if state.provisional_end:
        withdraw(state, now)


OBSERVERS: dict[type[Event], Handler] = {
    StepMetrics: _after_step,
    StepBatch: _after_step,
    EvalMetric: _after_eval,
    TargetStated: _after_target,
    ErrorSeen: _after_error,
}
"""Run after each event type's own handler (``dispatch.OBSERVER_TABLES``)."""
