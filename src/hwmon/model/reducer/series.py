"""The run's named series beside the loss (``hwmon.model.metrics``: lr, grad norm, accuracy, eval metrics, learned
fields), filled as an observer: after the owner of each event type has applied it, at the training step the run is
then at."""

from __future__ import annotations

from hwmon.events import Event
from hwmon.model import metrics
from hwmon.model.reducer.handler import Handler
from hwmon.model.state import RunState


def _observe(state: RunState, event: Event, now: float | None) -> None:
    train_step = state.steps.last[0] if state.steps.last is not None else None
    metrics.observe(state.metrics, event, train_step)


OBSERVERS: dict[type[Event], Handler] = {kind: _observe for kind in metrics.OBSERVED}
