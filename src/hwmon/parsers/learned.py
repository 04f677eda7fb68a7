"""The learned stage: what the stream does with a line no format rule read. Pure.

``StreamParser`` calls it at two points of each line (see ``hwmon.parsers.stream``):

- ``user(record)`` before the built-in rules: a line a user format (``hwmon.parsers.userformats``) matches is that
  format's, and the built-in format parsers do not see it;
- ``after(record, events)`` after them, with the events they gave for the line: when they gave no step, eval
  metric or end of their own, the line goes to the structured lines (JSON / dict reprs), the column tables and the
  learned templates, in that order; the first that reads it takes it. A line that only drew a progress bar is
  offered to the column tables (a table row followed by a bar) and tells the structured stage where the
  anonymous bar stands.

``after`` returns ``None`` when no learned reader took the line (the generic parser then reads it as before), else
the events (possibly none yet: a template's first lines are held until it shows what its numbers are).
"""

from __future__ import annotations

from collections.abc import Sequence

from hwmon.events import (
    CheckpointSaved,
    EvalMetric,
    Event,
    ProgressUpdate,
    RunCompleted,
    StepBatch,
    StepMetrics,
)
from hwmon.parsers.records import Record
from hwmon.parsers.structured import StructuredLines
from hwmon.parsers.tables import ColumnTables
from hwmon.parsers.templates import TemplateStage
from hwmon.parsers.userformats import Format, UserFormats

__all__ = ["LearnedStage"]

_READ = (StepMetrics, StepBatch, EvalMetric, RunCompleted, CheckpointSaved)


class LearnedStage:
    """User formats, structured lines, column tables and learned templates of one stream."""

    def __init__(self, formats: Sequence[Format] = ()) -> None:
        self._user = UserFormats(formats) if formats else None
        self.structured = StructuredLines()
        self.tables = ColumnTables()
        self.templates = TemplateStage()

    def user(self, record: Record) -> list[Event] | None:
        """The events of the first user-format rule that matches the line, or None (no user format, no match)."""
        if self._user is None:
            return None
        return self._user.feed(record)

    def after(self, record: Record, events: Sequence[Event]) -> list[Event] | None:
        """The learned readers' events for a line the built-in rules gave ``events`` for (see the module doc); a
        redraw (not final) only shows where a bar stands."""
        bar = False
        for event in events:
            if isinstance(event, _READ):
                return None
            if isinstance(event, ProgressUpdate):
                bar = True
                if not event.name and event.total:
                    self.structured.bar(event.n)
        if not record.final:
            return None  # a redraw: only where the anonymous bar stands matters
        if bar:
            return self.tables.feed(record)
        found = self.structured.feed(record)
        if found is not None:
            return found
        found = self.tables.feed(record)
        if found is not None:
            return found
        return self.templates.feed(record)

    def finish(self) -> list[Event]:
        """End of input: what the readers still hold."""
        out = self.structured.finish()
        out.extend(self.tables.finish())
        out.extend(self.templates.finish())
        return out
