"""Headless ("plain") mode: follow a source and print one compact line per phase change, alert and interval.

Used when stdout is not a terminal, or with ``--plain``: CI logs, ``nohup``, ``| tee``. Every value comes from the
same ``RunState`` the dashboard shows (reducer, ETA and alerts from ``hwmon.model``), so the two never disagree.
No colour, no cursor movement, and text from the log is stripped of control characters before printing.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from hwmon import exitcodes
from hwmon.model import alerts as alerts_mod
from hwmon.model import figures
from hwmon.model import text as text_mod
from hwmon.model.distributed import fmt_cause, fmt_status_line, run_error
from hwmon.model.eta import eta_seconds, fmt_eta
from hwmon.model.fmt import fmt_behind, fmt_duration
from hwmon.model.reducer import apply
from hwmon.model.state import RunState
from hwmon.model.timelimit import fmt_limit, limit_verdict
from hwmon.sources.source import Batch, Source

if TYPE_CHECKING:
    from hwmon.notify.live import LiveNotifier

DEFAULT_INTERVAL = 10.0
# After the run's own end line, keep reading this long for its last words (a traceback, "Processed N samples").
END_GRACE_S = 0.5
# How often time-based alerts (stall, silence) are checked.
ALERT_CHECK_S = 1.0

Clock = Callable[[], float]


def safe_text(text: str, limit: int = 200) -> str:
    """Text from outside hwmon (log-derived text, file names, run.json fields) made inert for a terminal by the
    one sanitiser, ``hwmon.model.text.safe_text``, with the length capped."""
    return text_mod.safe_text(text, limit)


def state_fields(state: RunState, now: float | None) -> list[str]:
    """The compact description of where a run is: phase (+ duration), step, loss, rate, progress, ETA."""
    fields: list[str] = []
    phase = state.current_phase
    if phase is not None:
        detail = f" ({safe_text(phase.detail, 60)})" if phase.detail else ""
        fields.append(f"{phase.name}{detail} {fmt_duration(figures.phase_durations(state, now)[-1])}")
    elif state.phases:
        fields.append(f"after {state.phases[-1].name}")
    # Every figure through the model's function and its one spelling (the dashboard, ls, the fleet print the same).
    progress = figures.step_progress(state)
    if progress is not None and progress.step is not None:
        fields.append(figures.fmt_step(progress))
    _step, loss = figures.last_loss(state)
    if loss is not None:
        fields.append(f"loss {figures.fmt_loss(loss)}")
    rate = figures.current_rate(state)
    if rate is not None:
        fields.append(f"rate {safe_text(figures.fmt_rate(rate), 40)}")
    bar = figures.main_progress(state)
    if bar is not None and bar.total:
        name = safe_text(bar.name, 40) or "progress"
        fields.append(f"{name} {bar.n}/{bar.total}")
    eta = eta_seconds(state, now)
    if eta is not None:
        fields.append(f"ETA {fmt_eta(eta)}")
    limit = fmt_limit(limit_verdict(state, now))  # issue 21: the ETA against the Slurm time limit
    if limit:
        fields.append(limit)
    errors = figures.log_error_count(state)
    if errors:
        fields.append(f"errors {errors}")
    return fields


class PlainPrinter:
    """Turns a stream of batches into lines. Separate from the loop so it can be driven step by step in tests."""

    def __init__(self, state: RunState, out: TextIO, *, wall: Callable[[], datetime] = datetime.now) -> None:
        self.state = state
        self.out = out
        self._wall = wall
        self._phase_key: tuple[int, str] | None = None
        self._alerts_seen = state.alert_count

    def emit(self, tag: str, text: str) -> None:
        """Print one line: ``HH:MM:SS tag text``."""
        stamp = self._wall().strftime("%H:%M:%S")
        self.out.write(f"{stamp} {tag:<6} {text}".rstrip() + "\n")
        self.out.flush()

    def status_text(self, now: float | None) -> str:
        return " | ".join([figures.display_status(self.state, now), *state_fields(self.state, now)])

    def feed(self, batch: Batch) -> None:
        """Apply a batch event by event, printing each phase change and alert as it happens."""
        if batch.status:
            self.emit("source", safe_text(batch.status))
        for event in batch.events:
            apply(self.state, event, batch.at)
            self._check_phase(batch.at)
            self.print_new_alerts()

    def _check_phase(self, now: float) -> None:
        phases = self.state.phases
        if not phases:
            return
        key = (len(phases), phases[-1].name)
        if key == self._phase_key:
            return
        self._phase_key = key
        previous = phases[-2] if len(phases) > 1 else None
        after = ""
        if previous is not None:
            took = figures.phase_durations(self.state, now)[-2]
            after = f" (after {previous.name} {fmt_duration(took)})"
        self.emit("phase", f"{phases[-1].name}{after} | {self.status_text(now)}")

    def print_new_alerts(self) -> None:
        new = self.state.alert_count - self._alerts_seen
        if new <= 0:
            return
        self._alerts_seen = self.state.alert_count
        for alert in self.state.alerts[-min(new, len(self.state.alerts)) :]:
            self.emit("ALERT", f"{alert.kind}: {safe_text(alert.message)}")


class _Nothing:
    """The queue had nothing before the next deadline."""


_NOTHING = _Nothing()


async def run_plain(
    source: Source,
    *,
    out: TextIO | None = None,
    interval: float = DEFAULT_INTERVAL,
    follow: bool = False,
    clock: Clock = time.monotonic,
    end_grace: float = END_GRACE_S,
    notify: LiveNotifier | None = None,
) -> int:
    """Follow ``source`` printing plain lines until the run ends (unless ``follow``) or the source ends.

    A supervised run (a source with a ``run_dir``) is followed until its source ends, i.e. until ``run.json``
    records the end (the source then delivers the supervisor's record as a ``RunOutcome``). Returns
    ``exitcodes.RUN_FAILED`` if the run failed or was stopped, ``exitcodes.OK`` otherwise (succeeded, or unknown).
    """
    stream = out if out is not None else sys.stdout
    state = RunState(source=source.name)
    printer = PlainPrinter(state, stream)
    queue: asyncio.Queue[Batch | None] = asyncio.Queue(maxsize=64)

    async def pump() -> None:
        try:
            async for batch in source.batches():
                await queue.put(batch)
        finally:
            await queue.put(None)

    supervised = isinstance(getattr(source, "run_dir", None), Path)
    reader = asyncio.create_task(pump())
    next_tick = clock() + interval
    next_check = clock() + ALERT_CHECK_S
    ended_at: float | None = None
    eof = False
    try:
        while True:
            now = clock()
            deadlines = [next_tick, next_check]
            if ended_at is not None:
                deadlines.append(ended_at + end_grace)
            timeout = max(0.0, min(deadlines) - now)
            item: Batch | None | _Nothing
            try:
                item = await asyncio.wait_for(queue.get(), timeout)
            except asyncio.TimeoutError:
                item = _NOTHING
            now = clock()
            if item is None:
                eof = True
                break
            if isinstance(item, Batch):
                printer.feed(item)
                if item.eof:
                    eof = True
                    break
            if now >= next_check:
                alerts_mod.check(state, now, catching_up=bool(getattr(source, "catching_up", False)))
                printer.print_new_alerts()
                next_check = now + ALERT_CHECK_S
            if notify is not None:
                notify.observe(state, now, catching_up=bool(getattr(source, "catching_up", False)))
            if now >= next_tick:
                # How far the reading lags a fast writer (issue 22: the source says, the model's fmt spells it).
                behind = fmt_behind(getattr(source, "behind_bytes", None))
                printer.emit("status", printer.status_text(now) + (f" | {behind}" if behind else ""))
                next_tick = now + interval
            # A supervised run ends when its supervisor records the exit (the source then ends), not when its log
            # looks finished: the process may still fail while shutting down.
            if figures.is_ended(state) and not follow and not supervised:
                if ended_at is None:
                    ended_at = now
                elif now >= ended_at + end_grace:
                    break
    finally:
        source.close()
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await reader
    now = clock()
    if notify is not None:
        notify.observe(state, now)
        notify.close()
    final = figures.display_status(state, now)
    how = "source ended" if eof else "run ended"
    # The status with the end reason (``failed — TIMEOUT after 1h00m (time limit)``) and the run's error.
    said = " | ".join([fmt_status_line(state, now), *state_fields(state, now)])
    printer.emit("end", f"{how} | {said}")
    error = run_error(state)
    told = {alert.message for alert in state.alerts if alert.kind == "failed"}
    if final == "failed" and error and error not in told:
        printer.emit("error", safe_text(error))
    cause = fmt_cause(state.cause)
    if final == "failed" and cause:
        printer.emit("cause", safe_text(cause, 400))
    from hwmon.store.history import record_if_ended

    record_if_ended(state, getattr(source, "history_key", source.name), final)
    return exitcodes.RUN_FAILED if final in ("failed", "stopped") else exitcodes.OK
