"""The learned stage: what the stream does with a line no format rule read. Pure.

``StreamParser`` calls it at two points of each line (see ``hwmon.parsers.stream``):

- ``user(record)`` before the built-in rules: a line a user format (``hwmon.parsers.userformats``) matches is that
  format's, and the built-in format parsers do not see it;
- ``after(record, events)`` after them, with the events they gave for the line: when they gave no step, eval
  metric or end of their own, the line goes to the structured lines (JSON / dict reprs), the column tables and the
  learned templates, in that order (a checkpoint line, ``hwmon.parsers.checkpoints``, before the templates); the
  first that reads it takes it. ``name: value`` lines under a heading that
  names an evaluation (``Test results:``) are that evaluation's metrics (``structured:eval-block``). A line that
  only drew a progress bar is offered to the column tables (a table row followed by a bar) and tells the
  structured stage where the anonymous bar stands; an epoch a rule stated is the epoch of the steps after it.

``after`` returns ``None`` when no learned reader took the line (the generic parser then reads it as before), else
the events (possibly none yet: a template's first lines are held until it shows what its numbers are).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from hwmon.events import (
    CheckpointSaved,
    EvalMetric,
    Event,
    ProgressUpdate,
    RunCompleted,
    StepBatch,
    StepMetrics,
    TargetStated,
)
from hwmon.parsers.checkpoints import read_checkpoint
from hwmon.parsers.fields import bookkeeping, eval_name, eval_step, field_role, share
from hwmon.parsers.records import Record
from hwmon.parsers.structured import StructuredLines
from hwmon.parsers.tables import ColumnTables
from hwmon.parsers.templates import TemplateStage
from hwmon.parsers.userformats import Format, UserFormats

__all__ = ["LearnedStage"]

_READ = (StepMetrics, StepBatch, EvalMetric, RunCompleted, CheckpointSaved, TargetStated)
# A heading that names an evaluation: "Test results:", "Validation summary:", "=== Evaluation ===".
_EVAL_HEADING = re.compile(
    r"^\W*(?:[A-Za-z]+\s+){0,3}?(?:eval|evaluation|validation|valid|test|testing)\b[^\d]{0,60}?"
    r"(?::\s*$|\s*[*=#-]{3,}\s*$)"
    # h17g: a line led by the evaluation's word that states only where it stands ("[test] epoch: 10/10").
    r"|^\W*(?:eval|evaluation|validation|valid|val|test|testing|dev)\W*\s+(?:epoch|step|iter|iteration)\b[\s:=#]*"
    r"\d+(?:\s*/\s*\d+)?\s*$"
    # A line that is only the evaluation's word ("Evaluation", "Running validation...", "[INFO] Testing").
    r"|^\W*(?:\[\w{1,12}\]\s*)?(?:running\s+|start(?:ing)?\s+)?"
    r"(?:eval|evaluation|evaluating|validation|validating|testing)\W*$",
    re.IGNORECASE,
)


# The end of a progress bar ("| 750/750 [01:18<00:00, 9.5it/s]") followed by other text on the same line.
_BAR_END = re.compile(r"\|\s?\d+(?:\.\d+)?[kMGT]?/\d+(?:\.\d+)?[kMGT]?\s?\[[^\[\]\n]{0,160}\]\s+(?=\S)")


def glued_tail(record: Record) -> Record | None:
    """The text after the last progress bar of a line, as a record of its own (same line number, time and
    level), when it holds words and numbers; None otherwise."""
    msg = record.msg
    ends = [m.end() for m in _BAR_END.finditer(msg)]
    if not ends:
        return None
    tail = msg[ends[-1] :]
    if not any(c.isalpha() for c in tail) or not any(c.isdigit() for c in tail):
        return None
    return replace(record, text=tail, msg=tail)


class LearnedStage:
    """User formats, structured lines, column tables and learned templates of one stream."""

    def __init__(self, formats: Sequence[Format] = ()) -> None:
        self._user = UserFormats(formats) if formats else None
        self.structured = StructuredLines()
        self.tables = ColumnTables()
        self.templates = TemplateStage()
        self._in_eval_block = False
        self._block_loss = False
        self.ended = False
        """The run's own (not tentative) end line has been read: ``name: value`` lines after it are its final
        evaluation (the stream sets it)."""

    @property
    def steady(self) -> bool:
        """Whether lines the rules read as a bar's states and steps (a run of pairs, ``hwmon.parsers.stream_runs``)
        change nothing here but where the anonymous bar stands: no user format, no table, no evaluation block."""
        return self._user is None and self.tables.idle and not self._in_eval_block

    def user(self, record: Record) -> list[Event] | None:
        """The events of the first user-format rule that matches the line, or None (no user format, no match)."""
        if self._user is None:
            return None
        return self._user.feed(record)

    def after(self, record: Record, events: Sequence[Event]) -> list[Event] | None:
        """The learned readers' events for a line the built-in rules gave ``events`` for (see the module doc); a
        redraw (not final) only shows where a bar stands."""
        bar = False
        taken = False
        for event in events:
            if isinstance(event, _READ):
                taken = True
            if isinstance(event, TargetStated) and event.what == "epoch" and event.current is not None:
                self.templates.epoch = float(event.current)  # steps without an epoch of their own are in it
            if isinstance(event, ProgressUpdate):
                bar = True
                if not event.name and event.total:
                    self.structured.bar(event.n)
        if taken or not record.final:
            return None  # read by a rule, or a redraw: only what it said about epochs and bars matters
        if bar:
            tail = glued_tail(record)
            if tail is not None:
                # Output printed while a bar had not ended its line (a notebook's interleaved stderr and stdout):
                # the text after the bar is a record of its own.
                found = self.structured.feed(tail)
                if found is None:
                    found = self.templates.feed(tail)
                if found is not None:
                    return found
            return self.tables.feed(record)
        found = self.structured.feed(record)
        if found is not None:
            return found
        found = self.tables.feed(record)
        if found is not None:
            return found
        checkpoint = read_checkpoint(record) if not events else None
        if checkpoint is not None:
            return [checkpoint]
        if self.ended and not events and not self.templates.knows(record):
            found = self._after_end(record)
            if found is not None:
                return found
        found = self._eval_block(record) if not events else None  # (a block a rule reads is the rule's)
        if found is not None:
            return found
        return self.templates.feed(record)

    def _after_end(self, record: Record) -> list[Event] | None:
        """A line of ``name: value`` pairs after the run's own end line (``Training complete.`` then ``MSE: 14.2,
        R2 Score: 0.93``) of no template seen before it: the trained model's final evaluation, not a training step
        (a line of a known template after the end is read by its template: a new run's step)."""
        fields = self.templates.named_fields(record)
        if not fields:
            return None
        for name, _ in fields:
            if field_role(name) in ("counter", "epoch") or bookkeeping(name):
                return None
        rule = "structured:after-end"
        return [EvalMetric(record.number, record.ts, eval_name(n), share(n, v), rule=rule) for n, v in fields]

    def _eval_block(self, record: Record) -> list[Event] | None:
        """``name: value`` lines under a heading that names an evaluation (``Test results:``, ``=== Validation
        ===``) are that evaluation's metrics."""
        msg = record.msg
        if self._in_eval_block:
            field = self.templates.single_field(record)
            if field is not None:
                name, value = field
                if field_role(name) in ("counter", "epoch") or bookkeeping(name):
                    return []  # the evaluation's size, not a result of it
                rule = "structured:eval-block"
                value = share(name, value)
                events: list[Event] = [EvalMetric(record.number, record.ts, eval_name(name), value, rule=rule)]
                found = eval_step(record.number, record.ts, [(eval_name(name), value)], rule)
                if found is not None and not self._block_loss:
                    self._block_loss = True  # one eval step per block: its loss
                    events.append(found)
                return events
            self._in_eval_block = False
        if record.logger and len(record.logger) <= 12:
            msg = f"[{record.logger}] {msg}"  # h17g: "[test] epoch: 10/10": the tag is the line's leading word
        if len(msg) < 100 and _EVAL_HEADING.search(msg) is not None:
            self._in_eval_block = True
            self._block_loss = False
        return None

    def finish(self) -> list[Event]:
        """End of input: what the readers still hold."""
        out = self.structured.finish()
        out.extend(self.tables.finish())
        out.extend(self.templates.finish())
        return out
