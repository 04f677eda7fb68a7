"""The one rule engine: every format's rows, ``(name, needle, pattern, handler)``, over a record. Pure.

A row is tried only when one of its needles (plain substrings: a C-level check) is in the text, then its pattern
(``search``, or ``match`` at the start); on a match its handler appends events to ``out``. A table runs in one of
two modes:

- ``first``: the first row that matches and takes the line wins (a handler that returns ``False`` did not take it,
  and the next rows are tried) — most formats, where one line says one thing;
- ``all``: every row that matches runs, in order — output where several records are glued into one line (a
  Graphcore line holding a bar's debris, a PopTorch warning and a compile line).

Rows read ``Record.msg`` (the message without timestamp, level and launcher prefix) by default, or ``Record.text``
(the line without its launcher prefix) when they say ``on="text"``.

Provenance: every event a row emits carries ``rule="<format>:<row>"`` (``Event.rule``), unless its handler named a
more specific one; ``summary --explain`` and the record view show it. A format module subclasses ``RuleParser``
(``FORMAT``, ``MODE``, rows as ``@rule`` methods), or builds a ``RuleTable`` of its own rows where the format has
more state than one table (Cerebras, Graphcore).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from itertools import repeat
from typing import Any, ClassVar, Literal

from hwmon.events import Event
from hwmon.parsers.base import Line
from hwmon.parsers.records import Record, RecordReader, as_record

__all__ = ["Rule", "RuleParser", "RuleTable", "rule", "stamp"]

Handler = Callable[[Any, re.Match[str], Record, list[Event]], "bool | None"]
Mode = Literal["first", "all"]


class Rule:
    """One row: on texts that hold one of ``needles``, try ``pattern``; on a match call ``handler``."""

    __slots__ = ("_find", "handler", "how", "name", "needle", "needles", "on", "on_text", "pattern")

    def __init__(
        self,
        name: str,
        needles: str | tuple[str, ...],
        pattern: str | re.Pattern[str],
        handler: Handler,
        flags: int = 0,
        *,
        on: Literal["msg", "text"] = "msg",
        how: Literal["search", "match"] = "search",
    ) -> None:
        self.name = name
        self.needles = (needles,) if isinstance(needles, str) else needles
        self.pattern = pattern if isinstance(pattern, re.Pattern) else re.compile(pattern, flags)
        self.handler = handler
        self.on = on
        self.on_text = on == "text"
        self.how = how
        self._find = self.pattern.search if how == "search" else self.pattern.match
        # One needle (the common case) is tested without a loop; "" is in every text.
        self.needle: str | None = self.needles[0] if len(self.needles) == 1 else None

    def finds_any(self, texts: Sequence[str]) -> bool:
        """Whether ``find`` matches any of ``texts`` (the needles tested on each, then the pattern, in C)."""
        needle = self.needle
        if needle is not None:
            texts = [text for text, has in zip(texts, map(str.__contains__, texts, repeat(needle)), strict=True) if has]
        else:
            texts = [text for text in texts if any(n in text for n in self.needles)]
        return any(map(self._find, texts))

    def find(self, text: str) -> re.Match[str] | None:
        """The row's match in ``text`` (its needles first), or None."""
        needle = self.needle
        if needle is not None:
            if needle not in text:
                return None
            return self._find(text)
        for needle in self.needles:  # (a loop, not ``any`` of a generator: this runs for every row of every line)
            if needle in text:
                return self._find(text)
        return None


def stamp(out: list[Event], start: int, name: str) -> None:
    """Name the rule of the events ``out[start:]`` that do not name one yet (they were just made by that rule and
    have not left the parser: the one place an event is touched after it is built)."""
    for i in range(start, len(out)):
        event = out[i]
        if not event.rule:
            object.__setattr__(event, "rule", name)


class RuleTable:
    """A format's rows and how they run (see the module doc)."""

    __slots__ = ("mode", "rows")

    def __init__(self, rows: Sequence[Rule], mode: Mode = "first") -> None:
        self.rows = tuple(rows)
        self.mode = mode

    def run(self, owner: object, record: Record, out: list[Event], text: str | None = None) -> bool:
        """Run the rows over ``record`` (its ``msg``, or ``text`` when given, for rows that read the message);
        True when a row took it."""
        msg = record.msg if text is None else text
        took = False
        for row in self.rows:
            m = row.find(record.text if row.on_text else msg)
            if m is None:
                continue
            start = len(out)
            if row.handler(owner, m, record, out) is False:
                del out[start:]
                continue
            stamp(out, start, row.name)
            took = True
            if self.mode == "first":
                return True
        return took


def rule(
    needles: str | tuple[str, ...],
    pattern: str,
    flags: int = 0,
    *,
    name: str = "",
    on: Literal["msg", "text"] = "msg",
    how: Literal["search", "match"] = "search",
) -> Callable[[Handler], Handler]:
    """Decorator form: mark a method as the handler of a row (collected in definition order by ``RuleParser``,
    named ``<FORMAT>:<name or the method's name>``)."""

    def mark(handler: Handler) -> Handler:
        row_name = name or handler.__name__.lstrip("_")
        setattr(handler, "_rule", Rule(row_name, needles, pattern, handler, flags, on=on, how=how))  # noqa: B010
        return handler

    return mark


class RuleParser:
    """Base of the table-driven format parsers (see the module doc)."""

    FORMAT: ClassVar[str] = ""
    """The format's name, the first half of its rows' names."""
    MODE: ClassVar[Mode] = "first"
    RULES: ClassVar[tuple[Rule, ...]] = ()
    TABLE: ClassVar[RuleTable] = RuleTable(())
    TRIGGER: ClassVar[re.Pattern[str] | None] = None
    """When set, a message must match this (``search``) before any row is tried: one cheap test per line."""
    BEFORE_RULE: ClassVar[str] = "block"
    """The row name of what ``before`` emits (a block's continuation lines)."""

    def __init_subclass__(cls) -> None:
        super().__init_subclass__()
        rows = [getattr(value, "_rule") for value in cls.__dict__.values() if hasattr(value, "_rule")]  # noqa: B009
        fmt = cls.FORMAT = cls.FORMAT or cls.__name__.removesuffix("Parser").lower()
        if rows:
            cls.RULES = tuple(
                Rule(f"{fmt}:{r.name}", r.needles, r.pattern, r.handler, on=r.on, how=r.how) for r in rows
            )
        cls.TABLE = RuleTable(cls.RULES, cls.MODE)

    def __init__(self) -> None:
        self._reader = RecordReader()

    def feed(self, line: Line) -> list[Event]:
        """Events for one line (a ``Record`` from the stream, or a plain ``Line`` read here)."""
        record = as_record(line, self._reader)
        out: list[Event] = []
        if self.before(record, out):
            stamp(out, 0, f"{self.FORMAT}:{self.BEFORE_RULE}")
            return out
        msg = record.msg
        if msg and (self.TRIGGER is None or self.TRIGGER.search(msg) is not None):
            self.TABLE.run(self, record, out)
        if out:
            stamp(out, 0, f"{self.FORMAT}:{self.BEFORE_RULE}")  # what ``before`` released (rows named theirs)
        return out

    def before(self, record: Record, out: list[Event]) -> bool:
        """Hook for per-line state (a block's continuation lines) before the rows are tried; True when the line
        was consumed by it."""
        return False

    def finish(self) -> list[Event]:
        """End of input: nothing held by default."""
        return []
