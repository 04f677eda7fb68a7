"""The shape of a format parser: a table of ``(needle, pattern, handler)`` rows over ``Record.msg``. Pure.

A format module subclasses ``RuleParser`` and lists its rules; the base class turns each line into a record (or
takes the stream's), tries the rows in order — a row is tried only when its ``needle`` (a plain substring, a C-level
check) is in the message — and calls the first row whose pattern matches. A handler appends its events to ``out``;
state lives on the parser, only where the format has state.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from hwmon.events import Event
from hwmon.parsers.base import Line
from hwmon.parsers.records import Record, RecordReader, as_record

__all__ = ["Rule", "RuleParser", "rule"]

Handler = Callable[[Any, re.Match[str], Record, list[Event]], None]


class Rule:
    """One row: try ``pattern`` (``search``) on messages that contain ``needle``; on a match call ``handler``."""

    __slots__ = ("handler", "needle", "pattern")

    def __init__(self, needle: str, pattern: str | re.Pattern[str], handler: Handler, flags: int = 0) -> None:
        self.needle = needle
        self.pattern = pattern if isinstance(pattern, re.Pattern) else re.compile(pattern, flags)
        self.handler = handler


def rule(needle: str, pattern: str, flags: int = 0) -> Callable[[Handler], Handler]:
    """Decorator form: mark a method as the handler of a row (collected in definition order by ``RuleParser``)."""

    def mark(handler: Handler) -> Handler:
        setattr(handler, "_rule", Rule(needle, pattern, handler, flags))  # noqa: B010
        return handler

    return mark


class RuleParser:
    """Base of the table-driven format parsers (see the module doc)."""

    RULES: ClassVar[tuple[Rule, ...]] = ()
    TRIGGER: ClassVar[re.Pattern[str] | None] = None
    """When set, a message must match this (``search``) before any row is tried: one cheap test per line."""

    def __init_subclass__(cls) -> None:
        super().__init_subclass__()
        rows = [getattr(value, "_rule") for value in cls.__dict__.values() if hasattr(value, "_rule")]  # noqa: B009
        if rows:
            cls.RULES = tuple(rows)

    def __init__(self) -> None:
        self._reader = RecordReader()

    def feed(self, line: Line) -> list[Event]:
        """Events for one line (a ``Record`` from the stream, or a plain ``Line`` read here)."""
        record = as_record(line, self._reader)
        out: list[Event] = []
        if self.before(record, out):
            return out
        msg = record.msg
        if msg and (self.TRIGGER is None or self.TRIGGER.search(msg) is not None):
            self.match(record, msg, self.RULES, out)
        return out

    def match(self, record: Record, msg: str, rows: Sequence[Rule], out: list[Event]) -> bool:
        """Run the first row of ``rows`` that matches ``msg``; False when none does."""
        for row in rows:
            if row.needle in msg:
                m = row.pattern.search(msg)
                if m is not None:
                    row.handler(self, m, record, out)
                    return True
        return False

    def before(self, record: Record, out: list[Event]) -> bool:
        """Hook for per-line state (a block's continuation lines) before the rows are tried; True when the line
        was consumed by it."""
        return False

    def finish(self) -> list[Event]:
        """End of input: nothing held by default."""
        return []
