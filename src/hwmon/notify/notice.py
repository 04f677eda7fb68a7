"""What is told: a ``Notice`` per event of a run, and the detector that finds new ones in a ``RunState``.

An event is the run's end (``failed``, ``succeeded``, ``stopped``: the status every view shows) or an alert the
reducer raised, by the alert's own name — ``stall`` is told as ``stalled`` and ``silence`` as ``silent``; any other
kind (``nan``, ``error``, ``phase-overrun``, ``eta``, ``rank-behind``, ``rank-silent``, or one added later) passes
through under its own name, so new alert kinds need no change here.

Each notice has a ``key`` that names the event within the run across restarts of the watch (the ledger keeps the
keys already told): an end is ``end`` (one per run), an alert raised by a log line is its name and a digest of its
text (the same line gives the same text when the log is read again), an alert raised by time (a stall, silence, an
overrun) is its name and the step it happened at (time alerts are not raised again by re-reading the log).

Pure: no I/O; figures come from ``hwmon.model`` (status, last step and loss), log text passes through
``safe_text``.
"""

from __future__ import annotations

import hashlib
import re
import shlex
from dataclasses import dataclass, field

from hwmon.model import distributed, figures
from hwmon.model.state import RunState
from hwmon.model.text import safe_text

__all__ = [
    "DEFAULT_EXCLUDED",
    "END_EVENTS",
    "KNOWN_EVENTS",
    "Notice",
    "NoticeDetector",
    "RunFacts",
    "end_event",
    "event_name",
    "parse_on",
]

END_EVENTS = ("failed", "succeeded", "stopped")
# Alert kinds of the reducer told under another name (the word a person reads in "run X stalled").
_RENAMED = {"stall": "stalled", "silence": "silent"}
# Every event name the watch knows of today. ``--on`` accepts any well-formed name as well, so an alert kind added
# to the reducer later is told without a change here.
KNOWN_EVENTS = (
    *END_EVENTS,
    "stalled",
    "silent",
    "nan",
    "error",
    "phase-overrun",
    "eta",
    "rank-behind",
    "rank-silent",
)
# What ``--on`` leaves out unless named: every error line of a run would be one message each.
DEFAULT_EXCLUDED = frozenset({"error"})
_NAME = re.compile(r"^[a-z][a-z0-9-]{0,39}$")
# Statuses of the views (supervisor records, Slurm job states, the model's own) and the end they mean.
_ENDS = {
    "succeeded": "succeeded",
    "completed": "succeeded",
    "failed": "failed",
    "lost": "failed",
    "timeout": "failed",
    "out_of_memory": "failed",
    "node_fail": "failed",
    "boot_fail": "failed",
    "deadline": "failed",
    "preempted": "failed",
    "stopped": "stopped",
    "cancelled": "stopped",
}
MESSAGE_LIMIT = 500
_TEXT_FIELDS = (
    ("event", 40),
    ("run", 300),
    ("name", 120),
    ("host", 120),
    ("status", 40),
    ("message", MESSAGE_LIMIT),
    ("ref", 300),
    ("attach", 400),
)


def event_name(alert_kind: str) -> str:
    """The event an alert of ``alert_kind`` is told as."""
    return _RENAMED.get(alert_kind, alert_kind)


def end_event(status: str) -> str | None:
    """The end event a view's status word means (``completed`` → ``succeeded``, ``cancelled`` → ``stopped``,
    ``timeout`` → ``failed``...), or None while the run has not ended."""
    return _ENDS.get(status.strip().lower().replace(" ", "_").split("+")[0])


def parse_on(text: str | None) -> frozenset[str] | None:
    """``--on EVENT[,EVENT]``: the set of event names, or None for "every event but ``error``" (the default).
    ``all`` means every event. Raises ``ValueError`` naming a malformed name."""
    if text is None:
        return None
    names: set[str] = set()
    for part in text.split(","):
        name = part.strip().lower()
        if not name:
            continue
        if name == "all":
            return frozenset({"all"})
        name = _RENAMED.get(name, name)
        if not _NAME.match(name):
            raise ValueError(f"not an event name: {safe_text(part, 60)!r} (known: {', '.join(KNOWN_EVENTS)})")
        names.add(name)
    if not names:
        raise ValueError("--on names no event")
    return frozenset(names)


def wanted(on: frozenset[str] | None, event: str) -> bool:
    """Whether ``event`` is told under the ``--on`` choice ``on`` (see ``parse_on``)."""
    if on is None:
        return event not in DEFAULT_EXCLUDED
    return "all" in on or event in on


@dataclass(frozen=True, slots=True)
class RunFacts:
    """Who a run is, as the watch lists it. ``key`` identifies it for the ledger ("run:ID", "file:PATH",
    "slurm:ID", "ssh:HOST:PATH"); ``run`` is what ``HWMON_RUN`` says (the run id, or a plain log's path); ``ref``
    (with ``ssh_opts``) is what ``hwmon attach`` takes; ``status`` is the status word the views show."""

    key: str
    run: str
    name: str
    host: str
    status: str
    ref: str
    ssh_opts: tuple[str, ...] = ()


def attach_command(ref: str, ssh_opts: tuple[str, ...] = ()) -> str:
    """The command line that opens the run's dashboard (quoted for a POSIX shell)."""
    words = ["hwmon", "attach", *(f"--ssh-opt={opt}" for opt in ssh_opts), ref]
    return " ".join(shlex.quote(safe_text(word)) for word in words)


@dataclass(frozen=True, slots=True)
class Notice:
    """One event of one run, as every sink tells it. Every text field is terminal-safe (``safe_text``)."""

    event: str
    key: str
    run_key: str
    run: str
    name: str
    host: str
    status: str
    step: int | None
    loss: float | None
    message: str
    ref: str
    attach: str
    # When the event was seen (the injected clock of the watch: Unix seconds), for the latency figures.
    seen_at: float | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Whoever builds a notice, its text is inert: no escape sequence, no control character, one line each.
        for name, limit in _TEXT_FIELDS:
            value = getattr(self, name)
            object.__setattr__(self, name, safe_text(value, limit))

    @property
    def title(self) -> str:
        """One line: ``hwmon: NAME failed`` (the run's name and the event)."""
        return safe_text(f"hwmon: {self.name} {self.event}", 200)

    @property
    def body(self) -> str:
        """Several lines: what happened, where the run stands, how to open it."""
        figures_line = f"status {self.status}"
        if self.step is not None:
            figures_line += f" · step {self.step}"
        if self.loss is not None:
            figures_line += f" · loss {_loss_text(self.loss)}"
        lines = [
            f"{self.event}: {self.message}" if self.message else self.event,
            f"run {self.run} on {self.host}",
            figures_line,
            self.attach,
        ]
        return "\n".join(lines)

    def env(self) -> dict[str, str]:
        """The ``HWMON_*`` variables an ``exec:`` command gets."""
        return {
            "HWMON_EVENT": self.event,
            "HWMON_RUN": self.run,
            "HWMON_NAME": self.name,
            "HWMON_HOST": self.host,
            "HWMON_STATUS": self.status,
            "HWMON_STEP": "" if self.step is None else str(self.step),
            "HWMON_LOSS": "" if self.loss is None else _loss_text(self.loss),
            "HWMON_MESSAGE": self.message,
            "HWMON_REF": self.ref,
            "HWMON_ATTACH": self.attach,
        }

    def to_json(self) -> dict[str, object]:
        """The JSON object an ``exec:`` command reads on stdin (``hwmon.notice/1``)."""
        loss = (
            self.loss if self.loss is not None and self.loss == self.loss and abs(self.loss) != float("inf") else None
        )
        return {
            "schema": "hwmon.notice/1",
            "event": self.event,
            "run": self.run,
            "name": self.name,
            "host": self.host,
            "status": self.status,
            "step": self.step,
            "loss": loss,
            "loss_text": None if self.loss is None else _loss_text(self.loss),
            "message": self.message,
            "ref": self.ref,
            "attach": self.attach,
            "key": self.key,
        }


def _loss_text(loss: float) -> str:
    from hwmon.model.fmt import fmt_number

    return fmt_number(loss)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:12]


class NoticeDetector:
    """The new notices of one run: call ``update`` whenever its state or status may have changed.

    Ends are told once per run; alerts are taken in the order the reducer raised them (by ``alert_count``, so a
    bounded ``alerts`` list never hides one). A tracker that started the run over (a truncated or replaced log)
    hands in a new ``RunState``: the detector starts over with it.
    """

    def __init__(self, facts: RunFacts) -> None:
        self.facts = facts
        # The state last seen (held, not its id(): a freed state's id may be reused by its successor).
        self._state: RunState | None = None
        self._alerts_seen = 0
        self._ended = False
        self.generation = 0

    def update(self, facts: RunFacts, state: RunState | None, now: float | None = None) -> list[Notice]:
        """The notices that ``facts`` (the run's current status) and ``state`` hold and were not returned before."""
        self.facts = facts
        out: list[Notice] = []
        if state is not None:
            if self._state is not None and state is not self._state:
                # The log started over (truncated, replaced): a new run in the same place.
                self.generation += 1
                self._alerts_seen = 0
                self._ended = False
            self._state = state
            new = state.alert_count - self._alerts_seen
            if new > 0:
                for alert in state.alerts[-new:] if new <= len(state.alerts) else state.alerts:
                    out.extend(self._alert_notice(state, alert.kind, alert.message, alert.line, alert.at, now))
                self._alerts_seen = state.alert_count
        end = end_event(facts.status)
        if end is not None and not self._ended:
            message = _end_message(facts.status, state)
            out.append(self._notice(end, "end", state, message, now))
            self._ended = True
        return out

    def _alert_notice(
        self, state: RunState, kind: str, message: str, line: int, at: float | None, now: float | None
    ) -> list[Notice]:
        event = event_name(kind)
        if event in END_EVENTS:
            # The log's own "this run failed" and the status that follows it are one event.
            if self._ended:
                return []
            self._ended = True
            cause = distributed.fmt_cause(state.cause)
            if cause:
                message += f" ({cause})"
            return [self._notice(event, "end", state, message, at if at is not None else now)]
        step, _ = figures.last_loss(state)
        anchor = f"{event}:{_digest(message)}" if line > 0 else f"{event}:step{step if step is not None else '-'}"
        return [self._notice(event, anchor, state, message, at if at is not None else now)]

    def _notice(self, event: str, anchor: str, state: RunState | None, message: str, at: float | None) -> Notice:
        facts = self.facts
        step, loss = figures.last_loss(state) if state is not None else (None, None)
        generation = f"#{self.generation}" if self.generation else ""
        return Notice(
            event=event,
            key=f"{anchor}{generation}",
            run_key=facts.key,
            run=safe_text(facts.run, 300),
            name=safe_text(facts.name, 120),
            host=safe_text(facts.host, 120),
            status=safe_text(event if event in END_EVENTS else facts.status, 40),
            step=step,
            loss=loss,
            message=safe_text(message, MESSAGE_LIMIT),
            ref=safe_text(facts.ref, 300),
            attach=attach_command(facts.ref, facts.ssh_opts),
            seen_at=at,
        )


def _end_message(status: str, state: RunState | None) -> str:
    """What an end says: the status (Slurm's word when it is not ours) with its reason (``TIMEOUT after 1h00m``),
    and for a failure the run's error and its likely cause with what to try (``hwmon.model.distributed``)."""
    text = f"the run {status}" if status in END_EVENTS else f"the run ended: {status}"
    if state is None:
        return text
    reason = distributed.fmt_end_reason(state)
    if reason:
        text += f" — {reason}"
    if end_event(status) == "failed":
        error = distributed.run_error(state)
        if error:
            text += f": {error}"
        cause = distributed.fmt_cause(state.cause)
        if cause:
            text += f" ({cause})"
    return text
