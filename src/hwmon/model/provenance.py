"""Provenance: which line, read by which rule, set each figure of a run. Pure.

The reducer calls ``observe(provenance, state, event, before)`` after it applied ``event`` (``before`` is
``figures_before(state)`` taken just before, ``provenance`` the state's before the event): every figure the event
changed is remembered with the event's line and rule (``Event.rule``: a built-in row ``<format>:<row>``,
``template:<id>``, ``structured:<kind>``, ``table:<id>``, ``format:<file>/<rule>``; ``""`` when the producer names
none). Figures are keyed by their path in the summary JSON (``hwmon.summary/1``):

``status``, ``vendor``, ``phases.<name>.start`` / ``phases.<name>.end`` (the first start and the last end of that
phase), ``train.steps.last``, ``train.loss.last``, ``train.rate.last``, ``eval.<name>``, ``checkpoints[i]``.

It also keeps, for the last ``MAX_LINES`` lines that produced an event with a rule, that rule: the record view
says which rule read the line under the cursor. A new run in the same log (the reducer's ``reset_run``) starts a
fresh ``Provenance``, as it starts a fresh state.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

from hwmon.events import EvalMetric, Event, StepBatch

if TYPE_CHECKING:
    from hwmon.model.state import Phase, RunState

__all__ = ["MAX_LINES", "Figures", "Provenance", "Source", "figures_before", "observe"]

MAX_LINES = 20000
"""Lines whose rule is remembered for the record view (the raw log view keeps no more lines than this)."""


class Source(NamedTuple):
    """Where a figure came from: the 1-based line and the rule that read it."""

    line: int
    rule: str

    def as_json(self) -> dict[str, object]:
        return {"line": self.line, "rule": self.rule}


@dataclass(slots=True)
class Provenance:
    """Per figure path, the line and rule that set it; per recent line, the rule that read it."""

    figures: dict[str, Source] = field(default_factory=dict)
    lines: OrderedDict[int, str] = field(default_factory=OrderedDict)

    def rule_of_line(self, line: int) -> str | None:
        """The rule that read ``line`` (None when no rule-named event came from it, or it is too old)."""
        return self.lines.get(line)

    def as_json(self) -> dict[str, dict[str, object]]:
        """``{path: {"line": N, "rule": "..."}}`` for ``hwmon.summary/1``'s ``"provenance"``."""
        return {path: source.as_json() for path, source in sorted(self.figures.items(), key=_path_order)}


class Figures(NamedTuple):
    """The figures an event can change, as they stood before it (cheap to take for every event)."""

    steps: tuple[float, float] | None
    loss: tuple[float, float] | None
    rate: tuple[float, float] | None
    vendor: str | None
    status: str
    last_phase: Phase | None
    last_phase_closed: bool
    checkpoints: int
    runs: int

    @classmethod
    def of(cls, state: RunState) -> Figures:
        last = state.phases[-1] if state.phases else None
        return cls(
            state.steps.last,
            state.loss.last,
            state.rate.last,
            state.vendor,
            state.status,
            last,
            last is not None and last.closed,
            len(state.checkpoints),
            state.runs,
        )


def figures_before(state: RunState) -> Figures:
    """The figures as they stand, to compare with after an event (``Figures.of``)."""
    return Figures.of(state)


def observe(provenance: Provenance, state: RunState, event: Event, before: Figures) -> Provenance:
    """Remember what ``event`` set; returns the provenance to keep (a fresh one after a new run began)."""
    if state.runs != before.runs:
        provenance = Provenance(lines=provenance.lines)
    rule = event.rule
    if not rule and isinstance(event, StepBatch):
        rule = event.last.rule
    source = Source(event.line, rule)
    if rule and event.line > 0:
        lines = provenance.lines
        lines[event.line] = rule
        if len(lines) > MAX_LINES:
            lines.popitem(last=False)
    figures = provenance.figures
    if state.steps.last != before.steps and state.steps.last is not None:
        figures["train.steps.last"] = source
    if state.loss.last != before.loss and state.loss.last is not None:
        figures["train.loss.last"] = source
    if state.rate.last != before.rate and state.rate.last is not None:
        figures["train.rate.last"] = source
    if state.vendor != before.vendor and state.vendor is not None:
        figures["vendor"] = source
    if state.status != before.status:
        figures["status"] = source
    _phases(figures, state, before, source)
    if len(state.checkpoints) > before.checkpoints:
        for i in range(before.checkpoints, len(state.checkpoints)):
            figures[f"checkpoints[{i}]"] = source
    if isinstance(event, EvalMetric) and event.name in state.eval:
        figures[f"eval.{event.name}"] = source
    return provenance


def _phases(figures: dict[str, Source], state: RunState, before: Figures, source: Source) -> None:
    """Phases the event opened (their first start) and closed (their last end)."""
    previous = before.last_phase
    if previous is not None and not before.last_phase_closed and previous.closed:
        figures[f"phases.{previous.name}.end"] = source
    opened: list[Phase] = []
    for phase in reversed(state.phases):
        if phase is previous:
            break
        opened.append(phase)
    for phase in reversed(opened):
        figures.setdefault(f"phases.{phase.name}.start", source)
        if phase.closed:
            figures[f"phases.{phase.name}.end"] = source


def _path_order(item: tuple[str, Source]) -> tuple[int, str]:
    path = item[0]
    order = ("status", "vendor", "phases.", "train.", "eval.", "checkpoints[")
    for i, prefix in enumerate(order):
        if path.startswith(prefix):
            return i, path
    return len(order), path
