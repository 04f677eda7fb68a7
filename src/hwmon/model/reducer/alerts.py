"""Alerts the reducer raises (a failure, a new error, a non-finite loss) and records (the time-based ones
``hwmon.model.alerts.check`` finds), and the errors and warnings a log shows."""

from __future__ import annotations

from hwmon.events import ErrorSeen, Event, WarningSeen
from hwmon.model.reducer.handler import Handler
from hwmon.model.reducer.timeline import close_phase
from hwmon.model.state import MAX_ALERTS, MAX_ERRORS, Alert, RunState


def add_alert(state: RunState, alert: Alert) -> None:
    """Record an alert (bounded list; ``alert_count`` counts every alert ever raised)."""
    state.alerts.append(alert)
    state.alert_count += 1
    if len(state.alerts) > MAX_ALERTS:
        del state.alerts[0]


def record_time_alerts(state: RunState, alerts: list[Alert]) -> None:
    """Record the time-based alerts a ``Tick`` raised (``hwmon.model.reducer.clock``: stall, silence): each is
    raised once and re-armed when steps/output resume."""
    for alert in alerts:
        if alert.kind == "stall":
            state.stalled = True
        elif alert.kind == "silence":
            state.silent = True
        add_alert(state, alert)


def nan_alert(state: RunState, event: Event, now: float | None, x: float) -> None:
    add_alert(state, Alert("nan", f"loss is not finite (NaN/Inf) at step {x:g}", line=event.line, at=now))


def fail(state: RunState, event: Event, now: float | None, message: str) -> None:
    state.steps_after_failure = 0
    if state.status != "failed":
        state.status = "failed"
        add_alert(state, Alert("failed", message, line=event.line, at=now))


def _error(state: RunState, event: Event, now: float | None) -> None:
    assert isinstance(event, ErrorSeen)
    state.error_count += 1
    message = event.message
    new = message not in state.errors
    if new:
        if len(state.errors) >= MAX_ERRORS:
            # Keep the first half (the root cause is usually early) and a rolling tail (the final exception).
            del state.errors[MAX_ERRORS // 2]
        state.errors.append(message)
    if event.fatal:
        current = state.current_phase
        if current is not None:
            close_phase(state, current, event, now)
        fail(state, event, now, message)
    elif new:
        add_alert(state, Alert("error", message, line=event.line, at=now))


def _warning(state: RunState, event: Event, now: float | None) -> None:
    assert isinstance(event, WarningSeen)
    state.warnings += 1
    state.recent_warnings.append(event.message)


HANDLERS: dict[type[Event], Handler] = {
    ErrorSeen: _error,
    WarningSeen: _warning,
}
