"""Column tables: a header line of names, then rows of values under it (once, or repeated per epoch). Pure; no
format is named here.

A *header* is a line of 2 to 32 names (``epoch  train_loss  valid_loss  accuracy  time``, ``| step | loss |``),
none of them a number, at least one of them a counter, epoch, loss or eval name (``hwmon.parsers.fields``), so
prose is not a header. The header stays the table's until another header comes. A *row* is a later line whose
first N cells (N names) are all values: numbers, percentages, ``3/10`` (a position and its total), ``00:05`` /
``1:02:03`` (a duration), a number with a unit (``3.91G``, ``12ms``), or ``-``/``nan``; text after the N cells (a
progress bar drawn behind the row) is ignored. A header whose names hold spaces is split at runs of 2+ spaces
when that gives as many names as the row has values.

A row becomes a ``StepMetrics`` (the counter column as the step, the epoch column as the epoch, the training loss
column as the loss, the other numbers as extras) and one ``EvalMetric`` per eval column; ``3/10`` in the counter or
epoch column also states the target. Events carry ``rule="table:<id>"`` (the id is a hash of the header's names).
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass

from hwmon.events import EvalMetric, Event, StepMetrics, TargetStated
from hwmon.parsers.fields import best_loss, eval_name, eval_step, field_role, normal_name, parse_number, rate_unit
from hwmon.parsers.records import Record

__all__ = ["ColumnTables", "Table", "cell_value"]

_MAX_COLUMNS = 32
_MAX_LINE = 1000
_SPLIT = re.compile(r"[\s|]+")
_WIDE = re.compile(r"\s{2,}|\s*\|\s*|\t")
_NAME = re.compile(r"^[A-Za-z_%][\w./%()\-]*$")
_HINT = re.compile(r"loss|epoch|step|iter|acc|val|eval|test", re.IGNORECASE)
_DURATION = re.compile(r"^(?:(\d{1,4}):)?(\d{1,2}):(\d{2}(?:\.\d+)?)$")
_UNIT = re.compile(r"^([-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)([KMGTP]i?B?|[KMGTP]|%|ms|s|x)$")
_ROW_START = frozenset("0123456789+-.")
_NUMBER_CELL = re.compile(r"(?:^|[\s|])[-+]?\.?\d[\d.,eE+-]*%?(?:[\s|]|$)")  # a header has no number cell


@dataclass(slots=True)
class Table:
    """A header: its names as split at single spaces and at wide gaps, its id and the line that stated it."""

    id: str
    names: tuple[str, ...]
    wide: tuple[str, ...]
    line: int
    epoch_total: int | None = None
    step_total: int | None = None

    @property
    def rule(self) -> str:
        return f"table:{self.id}"


def cell_value(cell: str) -> tuple[float, int | None] | None:
    """A table cell's value and, for ``a/b``, its total; None when the cell is not a value."""
    cell = cell.rstrip(",;:")
    if not cell:
        return None
    if "/" in cell:
        head, _, tail = cell.partition("/")
        if head.isdigit() and tail.isdigit() and len(head) <= 18 and len(tail) <= 18:
            return float(head), int(tail)
        return None
    number = parse_number(cell)
    if number is not None:
        return number, None
    if cell == "-":
        return math.nan, None
    m = _DURATION.match(cell)
    if m is not None:
        hours = int(m.group(1) or 0)
        return hours * 3600.0 + int(m.group(2)) * 60.0 + float(m.group(3)), None
    m = _UNIT.match(cell)
    if m is not None:
        value = float(m.group(1))
        return (value / 100.0 if m.group(2) == "%" else value), None
    return None


class ColumnTables:
    """See the module doc. ``feed`` returns a row's events, ``[]`` for a header, or None for any other line."""

    def __init__(self) -> None:
        self._table: Table | None = None
        self._pending: Table | None = None

    @property
    def table(self) -> Table | None:
        """The header rows are read under now (one a row has confirmed)."""
        return self._table

    def feed(self, record: Record) -> list[Event] | None:
        msg = record.msg
        if len(msg) > _MAX_LINE:
            return None
        text = msg.strip().strip("|").strip()
        if not text:
            return None
        if text[0] in _ROW_START:
            pending = self._pending
            if pending is not None:
                found = self._row(pending, record, text)
                if found is not None:
                    # The first row under a new header confirms it (a line of names that no row follows was prose).
                    self._table, self._pending = pending, None
                    return found
            table = self._table
            return None if table is None else self._row(table, record, text)
        if _HINT.search(text) is not None and _NUMBER_CELL.search(text) is None:
            header = _header(text, record.number)
            if header is not None:
                if self._table is not None and self._table.names == header.names:
                    self._pending = None  # the same header again (printed per epoch)
                    return []
                self._pending = header
                return []
        return None

    def finish(self) -> list[Event]:
        return []

    def _row(self, table: Table, record: Record, text: str) -> list[Event] | None:
        cells = _SPLIT.split(text)
        names, wide = table.names, table.wide
        if wide and len(cells) == len(wide):
            names = wide  # the header's names hold spaces: "train loss  val loss"
        elif len(cells) < len(names):
            return None
        values: list[tuple[float, int | None]] = []
        for cell in cells[: len(names)]:
            value = cell_value(cell)
            if value is None:
                return None
            values.append(value)
        return self._events(table, record, names, values)

    def _events(
        self, table: Table, record: Record, names: tuple[str, ...], values: list[tuple[float, int | None]]
    ) -> list[Event]:
        number, ts, rule = record.number, record.ts, table.rule
        out: list[Event] = []
        step: int | None = None
        epoch: float | None = None
        losses: list[tuple[str, float]] = []
        extra: list[tuple[str, float]] = []
        rate: float | None = None
        unit = "samples/sec"
        for name, (value, total) in zip(names, values, strict=False):
            role = field_role(name)
            if role == "counter" and step is None and math.isfinite(value) and value >= 0:
                step = int(value)
                if total is not None and total != table.step_total:
                    table.step_total = total
                    out.append(TargetStated(number, ts, "step", total, step, rule=rule))
            elif role == "epoch" and epoch is None and math.isfinite(value):
                epoch = value
                if total is not None and total != table.epoch_total:
                    table.epoch_total = total
                    out.append(TargetStated(number, ts, "epoch", total, int(value), rule=rule))
            elif role == "eval":
                if math.isfinite(value):
                    out.append(EvalMetric(number, ts, eval_name(name), value, rule=rule))
            elif role == "loss":
                losses.append((name, value))
            elif role == "rate" and rate is None:
                rate, unit = value, rate_unit(name)
            elif role in ("lr", "metric") and len(extra) < 16 and not math.isnan(value):
                extra.append(("lr" if role == "lr" else name, value))
        picked = best_loss([n for n, _ in losses])
        loss = losses[picked][1] if picked is not None else None
        if picked is not None:
            extra.extend(item for i, item in enumerate(losses) if i != picked)
        if loss is not None and math.isnan(loss):
            loss = None
        if loss is not None or rate is not None or ((step is not None or epoch is not None) and extra):
            out.append(
                StepMetrics(
                    number, ts, step, loss=loss, rate=rate, rate_unit=unit, epoch=epoch, extra=tuple(extra), rule=rule
                )
            )
        else:
            found = eval_step(number, ts, [(e.name, e.value) for e in out if isinstance(e, EvalMetric)], rule, step)
            if found is not None:
                out.append(found)
        return out


def _header(text: str, line: int) -> Table | None:
    tokens = _SPLIT.split(text)
    if not 2 <= len(tokens) <= _MAX_COLUMNS:
        return None
    for token in tokens:
        if _NAME.match(token) is None or parse_number(token) is not None:
            return None
    names = tuple(normal_name(token) for token in tokens)
    if not any(field_role(name) in ("counter", "epoch", "loss", "eval") for name in names):
        return None
    wide_tokens = [t for t in _WIDE.split(text) if t]
    wide = tuple(normal_name(t) for t in wide_tokens) if 2 <= len(wide_tokens) != len(tokens) else ()
    digest = hashlib.blake2b("\x00".join(names).encode(), digest_size=4).hexdigest()
    return Table(digest, names, wide, line)
