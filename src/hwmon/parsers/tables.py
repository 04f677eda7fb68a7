"""Column tables: a header line of names, then rows of values under it (once, or repeated per epoch). Pure; no
format is named here.

A *header* is a line of 2 to 32 names (``epoch  train_loss  valid_loss  accuracy  time``, ``| step | loss |``),
none of them a number, at least one of them a counter, epoch, loss or eval name (``hwmon.parsers.fields``), so
prose is not a header. The header stays the table's until another header comes. A *row* is a later line whose
first N cells (N names) are all values: numbers, percentages, ``3/10`` (a position and its total), ``00:05`` /
``1:02:03`` (a duration), a number with a unit (``3.91G``, ``12ms``), or ``-``/``nan``; text after the N cells (a
progress bar drawn behind the row) is ignored. A header whose names hold spaces is split at runs of 2+ spaces
when that gives as many names as the row has values.

h17g: a header's columns have places. A rule of dashes under the header (``---  ------  -----``) states each
column's extent; else each name's own extent does. A row whose cells do not match the names one to one (blank
cells: a column not filled yet) is read by place: each cell belongs to the column it overlaps most (or lies
nearest to), two cells in one column make it no row. Between bars (``|  1 |     |``) a blank cell is an empty
column. A header printed behind a logger's name (``loop: Epoch  Step  Loss``) reads its rows behind the same
name. A ``#`` column is the step counter. In a table with no training-loss column (two per-component losses named
``LOSS X``, or none), its share-like and score columns (``F``, ``P``, ``R``, ``TAG_ACC``, ``SCORE``) are the
evaluation's results.

A table printed whole again under the same header (a table kept across epochs and printed after each, one row
longer every time) repeats its earlier rows: a row that repeats, in order, the row at its place in the printing
before is no new step; the first row of the printing's own ends the repeat.

A row becomes a ``StepMetrics`` (the counter column as the step, the epoch column as the epoch, the training loss
column as the loss, the other numbers as extras) and one ``EvalMetric`` per eval column; ``3/10`` in the counter or
epoch column also states the target. Events carry ``rule="table:<id>"`` (the id is a hash of the header's names).
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import re
from dataclasses import dataclass

from hwmon.events import EvalMetric, Event, StepMetrics, TargetStated
from hwmon.parsers.fields import (
    best_loss,
    eval_name,
    eval_step,
    field_role,
    is_count_name,
    normal_name,
    parse_number,
    rate_unit,
    share,
    share_like,
)
from hwmon.parsers.records import Record

__all__ = ["ColumnTables", "Table", "cell_value"]

_MAX_COLUMNS = 32
_MAX_REPRINTED = 4096  # rows of one printing kept to recognise them when the table is printed again
_MAX_LINE = 1000
_SPLIT = re.compile(r"[\s|]+")
_WIDE = re.compile(r"\s{2,}|\s*\|\s*|\t")
_NAME = re.compile(r"^(?:#|[A-Za-z_%][\w./%()\-#]*)$")
_RULE = re.compile(r"^[\s|+:]*[-=]{2,}(?:[\s|+:]+[-=]{2,})+[\s|+:]*$")  # h17g: the dashes under a header
_RUN = re.compile(r"[-=]{2,}")
_LEAD = re.compile(r"^([A-Za-z_][\w.\-]{0,40}:)\s+(?=\S)")
_TOKEN = re.compile(r"\S+")
_WIDE_TOKEN = re.compile(r"\S+(?: \S+)*")
_SCORE_WORDS = frozenset({"f", "p", "r", "score", "f1", "fscore"})
_HINT = re.compile(r"loss|epoch|step|iter|acc|val|eval|test|map|prec|recall|f1|iou|dice|auc|\bP\b", re.IGNORECASE)
# h17c: a progress bar drawn behind a header ("... mAP50-95: 100%|####| 4/4 [00:01<00:00]") is not part of it.
_BAR_TAIL = re.compile(r"[:\s]+\d{1,3}(?:\.\d+)?%\s*(?:\||[\u2500-\u259f#=>]).*$")
# h17c: the row of an evaluation table that holds its result (per-class rows are detail): an aggregate or a split.
_RESULT_LABELS = frozenset(
    {"all", "overall", "total", "mean", "avg", "average", "macro", "micro", "weighted", "val", "valid", "validation"}
    | {"test", "eval", "dev"}
)
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
    evaluation: bool = False  # h17c: names metrics and no counter/epoch/loss: its rows are an evaluation's results
    places: tuple[tuple[int, int], ...] = ()  # h17g: each column's extent on the line (from a rule under it, or names)
    place_names: tuple[str, ...] = ()  # h17g: the names the places are of
    ruled: bool = False
    scores: bool = False  # h17g: no training-loss column: share-like/score columns are the evaluation's results
    lead: str = ""  # h17g: a logger's name the header (and so its rows) is printed behind
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
        self._train: Table | None = None  # h17c: the last training table (rows may resume after an evaluation's)
        # A table reprinted whole under the same header (a growing table printed every epoch) repeats its rows:
        # the rows (hashes) of the printing before (``_before``), how many of them this printing has repeated so far in
        # order (``_echo``; -1: it has printed a row of its own since), and this printing's rows (``_printed``).
        self._before: list[int] = []
        self._printed: list[int] = []
        self._echo = -1

    @property
    def table(self) -> Table | None:
        """The header rows are read under now (one a row has confirmed)."""
        return self._table

    @property
    def idle(self) -> bool:
        """No table header or table is being read (a bar line is then no row of one)."""
        return self._pending is None and self._table is None

    def feed(self, record: Record) -> list[Event] | None:
        msg = record.msg
        if len(msg) > _MAX_LINE:
            return None
        current = self._pending or self._table
        if current is not None and current.lead and msg.startswith(current.lead):
            msg = msg[len(current.lead) :].lstrip()  # h17g: the logger name the header was printed behind
            record = dataclasses.replace(record, msg=msg)
        text = msg.strip().strip("|").strip()
        if not text:
            return None
        if text[0] in "-=|+" and _RULE.match(msg) is not None:
            return self._rule(record)
        if text[0] in _ROW_START:
            pending = self._pending
            if pending is not None:
                found = self._row(pending, record, text)
                if found is not None:
                    # The first row under a new header confirms it (a line of names that no row follows was prose).
                    if self._table is None or self._table.names != pending.names:
                        self._before, self._printed, self._echo = [], [], -1
                    self._table, self._pending = pending, None
                    if not pending.evaluation:
                        self._train = pending
                    return self._new_row(text, found)
            table = self._table
            found = None if table is None else self._row(table, record, text)
            if found is None and table is not None and table.evaluation and self._train is not None:
                found = self._row(self._train, record, text)  # h17c: training rows again after an evaluation
            return found if found is None else self._new_row(text, found)
        if "%" in text:
            text = _BAR_TAIL.sub("", text)
        current = self._pending or self._table
        if current is not None and current.evaluation:
            found = self._label_row(current, record, text)
            if found is not None:
                self._table, self._pending = current, None
                return found
        if _HINT.search(text) is not None and _NUMBER_CELL.search(text) is None:
            header = _header(text, record.number)
            lead = _LEAD.match(msg)
            if header is None and lead is not None:
                # h17g: "loop: Epoch  Step  Loss": a logger's name before the header (and before its rows).
                record = dataclasses.replace(record, msg=msg[lead.end() :])
                header = _header(record.msg.strip().strip("|").strip(), record.number)
                if header is not None:
                    header.lead = lead.group(1)
            if header is not None:
                _place(header, record)
                if self._table is not None and self._table.names == header.names:
                    self._pending = None  # the same header again (printed per epoch, or the whole table again)
                    self._before, self._printed, self._echo = self._printed, [], 0
                    return []
                self._pending = header
                return []
        return None

    def finish(self) -> list[Event]:
        return []

    def _new_row(self, text: str, found: list[Event]) -> list[Event]:
        """``found`` for a row of this printing, or ``[]`` for a row that repeats, in order, the row the printing
        before had at its place (a reprinted table's earlier rows are no new steps)."""
        echo = self._echo
        if len(self._printed) < _MAX_REPRINTED:
            self._printed.append(hash(text))
        if 0 <= echo < len(self._before) and self._before[echo] == hash(text):
            self._echo = echo + 1
            return []
        self._echo = -1
        return found

    def _rule(self, record: Record) -> list[Event] | None:
        """h17g: a rule of dashes right under a header states its columns' extents (``[]``); None otherwise."""
        table = self._pending or self._table
        if table is None or table.ruled or record.number - table.line > 1:
            return None
        base = _base(record)
        runs = [(base + m.start(), base + m.end()) for m in _RUN.finditer(record.msg)]
        names = table.place_names or (table.wide if len(runs) == len(table.wide) else table.names)
        if len(runs) != len(names):
            return None
        table.places, table.place_names, table.ruled = tuple(runs), names, True
        return []

    def _row(self, table: Table, record: Record, text: str) -> list[Event] | None:
        if table.evaluation:
            return None  # its rows are led by a label (_label_row)
        if "|" in text:
            piped = self._piped_row(table, record)
            if piped is not None:
                return piped
        cells = _SPLIT.split(text)
        names, wide = table.names, table.wide
        if wide and len(cells) == len(wide):
            names = wide  # the header's names hold spaces: "train loss  val loss"
        elif len(cells) < len(names):
            return self._placed_row(table, record)
        values: list[tuple[float, int | None]] = []
        for cell in cells[: len(names)]:
            value = cell_value(cell)
            if value is None:
                return None
            values.append(value)
        return self._events(table, record, names, values)

    def _piped_row(self, table: Table, record: Record) -> list[Event] | None:
        """h17g: a row of cells between bars (``|  1 |  100 |       |``): blank cells are columns not filled yet."""
        parts = [part.strip() for part in record.msg.strip().strip("|").split("|")]
        names = table.wide if table.wide and len(parts) == len(table.wide) else table.names
        if len(parts) != len(names) or not parts[0]:
            return None
        kept: list[str] = []
        values: list[tuple[float, int | None]] = []
        for name, part in zip(names, parts, strict=True):
            if not part:
                continue
            value = cell_value(part)
            if value is None:
                return None
            kept.append(name)
            values.append(value)
        return self._events(table, record, tuple(kept), values) if len(values) >= 2 else None

    def _placed_row(self, table: Table, record: Record) -> list[Event] | None:
        """h17g: a row with blank cells, read by place: each cell is the value of the column it overlaps most (or
        lies nearest to); None when a cell is no value or two cells fall in one column."""
        places = table.places
        if not places:
            return None
        base = _base(record)
        taken: dict[int, tuple[float, int | None]] = {}
        for m in _TOKEN.finditer(record.msg):
            start, end = base + m.start(), base + m.end()
            if m.group() == "|":
                continue
            best, score = -1, -(10**9)
            for i, (a, b) in enumerate(places):
                overlap = min(end, b) - max(start, a)  # negative: the gap to the column
                if overlap > score:
                    best, score = i, overlap
            value = cell_value(m.group().strip("|"))
            if value is None or best in taken or score < -2:
                return None
            taken[best] = value
        if len(taken) < 2 or 0 not in taken:
            return None
        order = sorted(taken)
        return self._events(table, record, tuple(table.place_names[i] for i in order), [taken[i] for i in order])

    def _label_row(self, table: Table, record: Record, text: str) -> list[Event] | None:
        """A row of an evaluation table led by its label (``all 100 200 0.94 0.95 ...``): the result row (an
        aggregate's or a split's label) gives one eval metric per metric column, by the header's names; a per-class
        row is consumed without events; None when the line is not a row of the table."""
        cells = _SPLIT.split(text)
        names = table.names
        if len(cells) != len(names) or cell_value(cells[0]) is not None:
            return None
        values = [cell_value(cell) for cell in cells[1:]]
        if any(value is None for value in values):
            return None
        if cells[0].lower() not in _RESULT_LABELS:
            return []
        number, ts, rule = record.number, record.ts, table.rule
        out: list[Event] = []
        for name, value in zip(names[1:], values, strict=True):
            assert value is not None
            if is_count_name(name) or field_role(name) in ("counter", "epoch", "rate", "lr", None):
                continue
            if math.isfinite(value[0]):
                out.append(EvalMetric(number, ts, eval_name(name), share(name, value[0]), rule=rule))
        found = eval_step(number, ts, [(e.name, e.value) for e in out if isinstance(e, EvalMetric)], rule)
        if found is not None:
            out.append(found)
        return out

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
            elif role == "eval" or (role == "metric" and table.scores and _score_like(name)):
                if math.isfinite(value):
                    out.append(EvalMetric(number, ts, eval_name(name), share(name, value), rule=rule))
            elif role == "loss":
                losses.append((name, value))
            elif role == "rate" and rate is None:
                rate, unit = value, rate_unit(name)
            elif role in ("lr", "metric") and len(extra) < 16 and not math.isnan(value):
                extra.append(("lr" if role == "lr" else name, value if role == "lr" else share(name, value)))
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
    evaluation = False
    if not any(field_role(name) in ("counter", "epoch", "loss", "eval") for name in names):
        # h17c: a header of metric names only (``Class Images P R mAP50``): an evaluation's table.
        if sum(1 for name in names if share_like(name)) < 2:
            return None
        evaluation = True
    wide_tokens = [t for t in _WIDE.split(text) if t]
    wide = tuple(normal_name(t) for t in wide_tokens) if 2 <= len(wide_tokens) != len(tokens) else ()
    scores = not evaluation and not any(field_role(name) == "loss" for name in (wide or names))
    digest = hashlib.blake2b("\x00".join(names).encode(), digest_size=4).hexdigest()
    return Table(digest, names, wide, line, evaluation, scores=scores)


def _base(record: Record) -> int:
    """Where the record's message starts on its line (the places of columns are counted on the line)."""
    found = record.text.find(record.msg[:16]) if record.msg else -1
    return max(found, 0)


def _place(table: Table, record: Record) -> None:
    """h17g: each column's extent on the line, from the header's names (a rule under it may restate them)."""
    base = _base(record)
    msg = record.msg
    for pattern, names in ((_WIDE_TOKEN, table.wide), (_TOKEN, table.names)):
        if not names:
            continue
        spans = [(base + m.start(), base + m.end()) for m in pattern.finditer(msg) if m.group() != "|"]
        if len(spans) == len(names):
            table.places, table.place_names = tuple(spans), names
            return


def _score_like(name: str) -> bool:
    """h17g: a column that holds an evaluation's result in a table with no training loss: share-like (``TAG_ACC``,
    ``F``), or a score (``SCORE``, ``ents_f``); never a training-named one."""
    words = re.split(r"[\s_/.\-]+", name)
    if words[0] in ("train", "training"):
        return False
    return share_like(name) or words[-1] in _SCORE_WORDS
