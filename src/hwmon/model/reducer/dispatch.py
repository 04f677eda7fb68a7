"""The reducer's entry points: ``apply`` folds one event into a ``RunState`` (the bookkeeping every event shares,
then the handler of its type), ``apply_all`` a sequence of them."""

from __future__ import annotations

from collections.abc import Iterable

from hwmon.events import (
    Event,
    JobState,
    PhaseExpectations,
    ProgressUpdate,
    RunClock,
    RunOutcome,
    SourceEnded,
    StepBatch,
    StepMetrics,
    Tick,
)
from hwmon.model.provenance import figures_before, observe
from hwmon.model.reducer import (
    alerts,
    clock,
    ending,
    evidence,
    expectations,
    facts,
    job,
    ranks,
    run,
    series,
    steps,
    timeline,
)
from hwmon.model.reducer.handler import Handler
from hwmon.model.reducer.steps import sane_numbers
from hwmon.model.state import RunState

# Every module's handlers, by event type (each type is handled in exactly one module).
TABLES: tuple[dict[type[Event], Handler], ...] = (
    run.HANDLERS,
    timeline.HANDLERS,
    steps.HANDLERS,
    facts.HANDLERS,
    alerts.HANDLERS,
    evidence.HANDLERS,
    expectations.HANDLERS,
    ranks.HANDLERS,
    job.HANDLERS,
    clock.HANDLERS,
)
HANDLERS: dict[type[Event], Handler] = {kind: handler for table in TABLES for kind, handler in table.items()}
assert len(HANDLERS) == sum(len(table) for table in TABLES), "an event type is handled in two modules"
# Events that are not the run's output: the source's end, the supervisor's record, the history's expectations and
# what the scheduler says about the job (JobState).
_NOT_OUTPUT = (SourceEnded, RunOutcome, RunClock, PhaseExpectations, JobState)
# Handlers that also read an event type another module owns, run after its owner's (issue 21: end reasons and
# failure causes from errors and the supervisor's record, the end of a requeue's gap from steps).
# h17c: a provisional success (a stated target reached, a tentative end phrase) and what withdraws it.
OBSERVER_TABLES: tuple[dict[type[Event], Handler], ...] = (job.OBSERVERS, series.OBSERVERS, ending.OBSERVERS)
OBSERVERS: dict[type[Event], tuple[Handler, ...]] = {
    kind: tuple(table[kind] for table in OBSERVER_TABLES if kind in table)
    for kind in {kind for table in OBSERVER_TABLES for kind in table}
}
# Events whose step/batch numbers and counts are bounded before any handler sees them.
_SANITISED: frozenset[type[Event]] = frozenset({StepMetrics, StepBatch, ProgressUpdate})


def apply_all(state: RunState, events: Iterable[Event], now: float | None = None) -> None:
    """Apply every event in order (all arriving at ``now``). The points a batch of steps keeps are read from its
    lines after the last event (``steps.READ_LATER``): a new run begun later among them throws them away unread."""
    token = steps.READ_LATER.set(True)
    try:
        for event in events:
            apply(state, event, now)
    finally:
        steps.READ_LATER.reset(token)
        steps.settle(state)


def apply(state: RunState, event: Event, now: float | None = None) -> None:
    """Fold one event into ``state`` and bump ``state.version``. Never raises on odd input; unknown event types
    only count as output. A ``Tick`` is the clock, not output: only its handler touches the state (and the
    version, when it changes something)."""
    if type(event) is Tick:
        HANDLERS[Tick](state, event, now)
        return
    state.version += 1
    if event.line > state.lines:
        state.lines = event.line
    # Events that are not the run's output (the source's end, the supervisor's record, the history's expectations)
    # neither start its clock nor break a silence (and the history's do not make it "running" either).
    if now is not None and not isinstance(event, _NOT_OUTPUT):
        if state.started_at is None:
            state.started_at = now
        state.last_output_at = now
        state.silent = False
        if state.source_ended:
            # A quiet file written to again: the source is live again.
            state.source_ended = False
            state.source_end_reason = ""
    handler = HANDLERS.get(type(event))
    if type(event) in _SANITISED:
        event = sane_numbers(event)
    provenance, before = state.provenance, figures_before(state)  # h17a: which line and rule set each figure
    if handler is not None:
        # RunStarted may reset the state, so it must see the previous run's timestamps before they are updated.
        handler(state, event, now)
    observers = OBSERVERS.get(type(event))
    if observers:
        for observer in observers:
            observer(state, event, now)
    state.provenance = observe(provenance, state, event, before)
    ts = event.ts
    if ts is not None:
        if state.first_ts is None:
            state.first_ts = ts
        if state.last_ts is None or ts > state.last_ts:
            state.last_ts = ts
    if (
        now is not None
        and state.status == "unknown"
        and not state.source_ended
        and state.outcome is None
        and not isinstance(event, (PhaseExpectations, JobState))
    ):
        state.status = "running"
