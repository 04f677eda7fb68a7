"""Full-resolution export rows: events in, table rows out. Pure (no I/O): ``hwmon.commands.export`` reads the log
and writes the rows; this module decides what a row holds.

Three tables:

- **steps**: one row per step line of the log (a bulk fast path's ``StepBatch`` is read back as
  ``hwmon.events.StepColumns`` by the decoder it carries: this module never imports a parser), train and eval steps
  both (``mode``), with the log's time, the seconds since the run's first log timestamp (``wall_s``), loss, rate,
  global rate, lr and every other per-step metric the line carries (``StepMetrics.extra``, by name).
  A batch's columns are turned into rows column by column, the same cells: as dicts (``feed``) or, for the CSV
  writer once its header is fixed, as tuples in header order (``feed_tuples``) or CSV text (``feed_csv``). A batch
  whose decoder reads its lines as number texts (``hwmon.events.StepTexts``: each number the text ``repr``/``str``
  writes for it, read straight off the line) is written as CSV from those texts: no float parsed or formatted per
  cell, the time and wall_s texts computed once per distinct second and fraction, the line numbers counted; the
  same bytes as the general path (``tests/export/test_texts.py``).
- **eval**: one row per evaluation metric (``EvalMetric``) with the last training step seen before it.
- **phases**: one row per phase of the last run, durations and shares of wall time from the same model functions
  ``hwmon summary`` uses (``hwmon.model.figures.phase_durations``, ``wall_seconds``, no clock).

The builder also folds every event into a ``RunState`` with the one reducer, so phases, the run's start and the
``summary`` figures of an export are those of ``hwmon summary`` on the same log.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import repeat
from typing import cast

from hwmon.events import EvalMetric, Event, StepBatch, StepColumns, StepMetrics, StepTexts
from hwmon.model.figures import phase_durations, phase_shares
from hwmon.model.reducer import apply
from hwmon.model.state import RunState

__all__ = [
    "EVAL_COLUMNS",
    "PHASE_COLUMNS",
    "STEP_COLUMNS",
    "TABLES",
    "ExportBuilder",
    "Row",
    "lr_of",
]

Value = float | int | str | None
Row = dict[str, Value]

STEP_COLUMNS: tuple[str, ...] = (
    "step",
    "mode",
    "epoch",
    "time",
    "wall_s",
    "loss",
    "rate",
    "global_rate",
    "rate_unit",
    "lr",
    "line",
)
"""The fixed leading columns of the steps table; per-step metrics the log carries follow, by name."""

EVAL_COLUMNS: tuple[str, ...] = ("step", "time", "wall_s", "name", "value", "line")
PHASE_COLUMNS: tuple[str, ...] = ("index", "name", "start", "end", "seconds", "share", "detail", "repeats")
TABLES: dict[str, tuple[str, ...]] = {"steps": STEP_COLUMNS, "eval": EVAL_COLUMNS, "phases": PHASE_COLUMNS}

# Names under which logs print the learning rate (Model Zoo ``lr``, HF ``learning_rate``, Megatron
# ``learning rate``): the first present fills the ``lr`` column.
_LR_KEYS = ("lr", "learning_rate", "learning rate", "learning-rate")


def lr_of(extra: tuple[tuple[str, float], ...]) -> tuple[str, float] | None:
    """(name, value) of the learning rate among a step's extra metrics, if it carries one."""
    for key in _LR_KEYS:
        for name, value in extra:
            if name == key:
                return name, value
    return None


def _iso(ts: datetime | None) -> str | None:
    return None if ts is None else ts.isoformat()


@dataclass(slots=True)
class ExportBuilder:
    """Turns a stream of events into rows. Feed every event in order (``feed``), then ask for ``phase_rows``."""

    state: RunState = field(default_factory=RunState)
    step_count: int = 0
    eval_count: int = 0
    # Steps without a number (HF-Trainer dicts, Keras lines) are numbered by their order per mode, as the reducer
    # numbers them on the loss chart.
    _last_step: dict[str, int] = field(default_factory=dict)
    _last_train_step: int | None = None
    _start: datetime | None = None
    # The columns of the last batch asked for (feed_tuples declining a batch, then feed, read it once).
    _read: tuple[Event, list[StepColumns]] | None = None
    # The texts of the fractions of a second seen in step timestamps (``feed_csv``): microseconds, ISO text, and
    # per fraction of the run's start, whether it carries a second and the wall_s text after the whole seconds.
    _frac_us: dict[bytes, int] = field(default_factory=dict)
    _frac_iso: dict[bytes, dict[bytes, bytes]] = field(default_factory=dict)
    _tails: dict[int, tuple[dict[bytes, bool], dict[bytes, bytes], _Folds]] = field(default_factory=dict)

    def feed(self, event: Event) -> tuple[list[Row], list[Row]]:
        """The step rows and eval rows ``event`` stands for (both usually empty)."""
        apply(self.state, event, None)
        if self._start is None and event.ts is not None:
            self._start = event.ts
        steps: list[Row] = []
        if isinstance(event, StepMetrics):
            steps.append(self._step_row(event))
        elif isinstance(event, StepBatch):
            for columns in self._columns(event):
                steps.extend(self._step_row(m) for m in columns.rows())
        evals: list[Row] = []
        if isinstance(event, EvalMetric):
            evals.append(self._eval_row(event))
        return steps, evals

    def feed_tuples(self, event: Event, header: list[str]) -> list[tuple[Value, ...]] | None:
        """The step rows of ``event`` as tuples in ``header`` order (its last column ``more``, always empty here),
        the values ``feed`` gives; ``None`` (nothing done) unless ``event`` is a batch whose every column fits
        ``header`` (every metric has a column, steps are numbered). Then ``feed`` must not be called for it."""
        planned = self._plan(event, header)
        if planned is None:
            return None
        rows: list[tuple[Value, ...]] = []
        for cells in planned:
            rows.extend(zip(*cells, strict=True))
        return rows

    def feed_csv(self, event: Event, header: list[str]) -> tuple[bytes, int] | None:
        """``feed_tuples`` written as CSV (UTF-8) and the number of rows; ``None`` as for ``feed_tuples``. A batch
        whose decoder gives the log's own number texts (``StepBatch.texts``) is joined from them (``_text_rows``:
        no number parsed or formatted, the time cells once per distinct timestamp); other batches are built from
        their columns at C speed, as the ``csv`` module writes those tuples (None as an empty cell, a float as its
        repr, text quoted when it must be)."""
        fast = self._text_rows(event, header)
        if fast is not None:
            return fast
        planned = self._plan(event, header)
        if planned is None:
            return None
        parts: list[str] = []
        count = 0
        for cells in planned:
            texts = [_csv_cells(cell) for cell in cells]
            n = len(cells[0])
            if n:
                parts.append("\n".join(map(",".join, zip(*texts, strict=True))))
                parts.append("\n")
            count += n
        return "".join(parts).encode(), count

    def _text_rows(self, event: Event, header: list[str]) -> tuple[bytes, int] | None:
        """The batch's rows joined from its number texts (see ``feed_csv``), the batch folded into the state and
        counted; None (nothing done) when it has no texts or they do not fit ``header``."""
        if not isinstance(event, StepBatch):
            return None
        texts = event.texts()
        if texts is None or not len(texts):
            return None
        index = _header_index(header)
        if index is None:
            return None
        fits, lr = _fits([name for name, _ in texts.extra], index)
        if not fits:
            return None
        bases = self._bases(texts)
        if bases is None:
            return None
        self._fold(event, texts)
        return _join_rows(self._text_cells(texts, lr, header, index, bases)), len(texts)

    def feed_jsonl(self, event: Event) -> tuple[bytes, int] | None:
        """The step rows of a batch whose decoder gives number texts (``StepBatch.texts``) as JSON Lines (UTF-8), the
        bytes ``json.dumps`` writes for ``feed``'s rows (a non-finite number as null), and their number; the batch
        is folded into the state and counted. ``None`` (nothing done) for any other event, or texts whose metrics'
        names a row would spell otherwise (twice, several lr spellings, named like a fixed column)."""
        if not isinstance(event, StepBatch):
            return None
        texts = event.texts()
        if texts is None or not len(texts):
            return None
        names = [name for name, _ in texts.extra]
        lrs = [name for name in names if name in _LR_KEYS]
        if len(set(names)) != len(names) or len(lrs) > 1 or set(names) & set(STEP_COLUMNS):
            return None
        bases = self._bases(texts)
        if bases is None:
            return None
        self._fold(event, texts)
        n = len(texts)
        lr = lrs[0] if lrs else None
        extra = dict(texts.extra)

        def value(values: Sequence[bytes] | None) -> _Piece:
            return b"null" if values is None else _json_numbers(values)

        pieces: list[_Piece] = [b'{"step": ', texts.step, b', "mode": ' + _json_text(texts.mode) + b', "epoch": ']
        pieces.append(value(texts.epoch))
        pieces.append(b', "time": ')
        pieces.extend(self._time_cells(texts, bases, b', "wall_s": ', json=True))
        for name, values in (("loss", texts.loss), ("rate", texts.rate), ("global_rate", texts.global_rate)):
            pieces += [b', "%s": ' % name.encode(), value(values)]
        units = self._units(texts, _json_text(texts.rate_unit))
        pieces += [b', "rate_unit": ', [u or b"null" for u in units] if isinstance(units, list) else units or b"null"]
        pieces += [b', "lr": ', value(None if lr is None else extra[lr]), b', "line": ', _LineNumbers(texts.lines)]
        for name, values in texts.extra:
            if name == lr:
                continue
            key = b", " + _json_text(name) + b": "
            if b"" in values:
                # A row without the metric has no key for it; NaN/Inf is null.
                pieces.append([b"" if not v else key + (b"null" if v in _NON_FINITE else v) for v in values])
            else:
                pieces += [key, _json_numbers(values)]
        pieces.append(b"}\n")
        return _join_rows(pieces), n

    def _bases(self, texts: StepTexts) -> dict[bytes, datetime] | None:
        """Each distinct stamp's time, or None when one does not read as the text path needs (no time, aware, or
        sub-second with a fraction column): the columns then say what the line path reads."""
        bases: dict[bytes, datetime] = {}
        if texts.stamps is not None and texts.clock is not None:
            for stamp in set(texts.stamps):
                base = texts.clock(stamp)
                if base is None or base.tzinfo is not None or (texts.fractions is not None and base.microsecond):
                    return None
                bases[stamp] = base
        return bases

    def _fold(self, event: StepBatch, texts: StepTexts) -> None:
        """The batch into the state, and counted, as ``feed`` does."""
        apply(self.state, event, None)
        if self._start is None and event.ts is not None:
            self._start = event.ts
        self.step_count += len(texts)
        last = int(texts.step[-1])
        self._last_step[texts.mode] = last
        if texts.mode == "train":
            self._last_train_step = last

    @staticmethod
    def _units(texts: StepTexts, unit: bytes) -> bytes | list[bytes]:
        """The rate_unit cells: the unit where a row has a rate or a global rate, else empty."""
        rates, global_rates = texts.rate, texts.global_rate
        if rates is None and global_rates is None:
            return b""
        if (rates is None or b"" not in rates) and (global_rates is None or b"" not in global_rates):
            return unit
        n = len(texts)
        pairs = zip(rates or repeat(b"", n), global_rates or repeat(b"", n), strict=False)
        return [b"" if not r and not g else unit for r, g in pairs]

    def _text_cells(
        self,
        texts: StepTexts,
        lr: str | None,
        header: list[str],
        index: dict[str, int],
        bases: dict[bytes, datetime],
    ) -> list[_Piece]:
        """The rows of ``texts`` as pieces (a constant, a column of texts, a lookup) whose concatenation, row by
        row, is the row's CSV line: the cells in ``header`` order with their commas and the newline."""
        rates, global_rates = texts.rate, texts.global_rate
        units = self._units(texts, _quoted(texts.rate_unit).encode())
        cells: list[_Piece] = [b""] * len(header)
        cells[:11] = [
            texts.step,
            _quoted(texts.mode).encode(),
            b"" if texts.epoch is None else texts.epoch,
            b"",  # time and wall_s: below
            b"",
            b"" if texts.loss is None else texts.loss,
            b"" if rates is None else rates,
            b"" if global_rates is None else global_rates,
            units,
            b"",
            _LineNumbers(texts.lines),
        ]
        for name, values in texts.extra:
            cells[9 if name == lr else index[name]] = values
        pieces: list[_Piece] = []
        for j, cell in enumerate(cells):
            if j == 3:
                pieces.extend(self._time_cells(texts, bases))  # time and wall_s with the comma between them
                continue
            pieces.append(cell)
            pieces.append(b"\n" if j == len(cells) - 1 else b",")
        return pieces

    def _time_cells(
        self, texts: StepTexts, bases: dict[bytes, datetime], between: bytes = b",", json: bool = False
    ) -> list[_Piece]:
        """The time and wall_s cells of ``texts`` with ``between`` between them, each text computed once per
        distinct timestamp (or second, and fraction): the ISO text ``datetime.isoformat`` gives, and the seconds
        since the run's start as the float the general path computes and ``repr`` writes (``json``: the time
        quoted, ``null`` for no value)."""
        stamps, fractions = texts.stamps, texts.fractions
        quote, none = (b'"', b"null") if json else (b"", b"")
        if stamps is None or not bases:
            return [none + between + none]
        # Per distinct stamp, column by column at C speed (map/zip): a batch has one per ~20 lines here.
        keys, times = list(bases), list(bases.values())
        spelled = map(str.encode, map(datetime.isoformat, times))
        iso = dict(zip(keys, map(quote.__add__, spelled) if quote else spelled, strict=True))
        start = self.state.first_ts or self._start
        if start is None or start.tzinfo is not None:
            offsets: dict[bytes, int] = {}
        else:
            since = map(operator.sub, times, repeat(start))
            offsets = dict(zip(keys, map(operator.floordiv, since, repeat(_MICROSECOND)), strict=True))
        if fractions is None:
            walls = {stamp: _wall_text(m) for stamp, m in offsets.items()}
            return [_Table(stamps, iso), quote + between, _Table(stamps, walls) if walls else none]
        micro = self._frac_us
        if len(micro) > _MAX_FRACTIONS:
            micro.clear()
            self._frac_iso.clear()
            self._tails.clear()
        distinct = set(fractions)
        for f in distinct.difference(micro):
            micro[f] = int((f + b"000000")[:6]) if f else 0
        frac_iso = self._frac_iso.get(quote + between)
        if frac_iso is None or len(frac_iso) != len(micro):
            after = quote + between
            frac_iso = self._frac_iso[after] = {f: (b".%06d" % us if us else b"") + after for f, us in micro.items()}
        time: list[_Piece] = [_Table(stamps, iso), list(map(frac_iso.__getitem__, fractions))]
        if not offsets:
            return [*time, none]
        low, high = min(offsets.values()), max(offsets.values())
        if low < 2 * _MILLION or high >= 10**15:
            # Near the run's start (repr may write an exponent), before it, or far after: each row's float, as the
            # general path computes it.
            rows = map(operator.add, map(offsets.__getitem__, stamps), map(micro.__getitem__, fractions))
            return [*time, list(map(_wall_text, rows))]
        # wall = whole seconds + fraction, both texts (at most 15 significant digits: the float's repr is the exact
        # decimal): the fraction's text once per fraction (and the start's own fraction), the whole seconds' once
        # per second and carry (a fraction past the start's own carries a second).
        rest = low % _MILLION  # the same for every stamp: whole seconds (see _text_rows) after the same start
        carries, tails, folds = self._tails.setdefault(rest, ({}, {}, {}))
        for f in distinct.difference(carries):
            total = rest + micro[f]
            carries[f] = total >= _MILLION
            tails[f] = _fraction_text(total % _MILLION)
        whole = list(map(operator.floordiv, offsets.values(), repeat(_MILLION)))
        choose = (
            dict(zip(offsets, map(b"%d".__mod__, whole), strict=True)),
            dict(zip(offsets, map(b"%d".__mod__, map((1).__add__, whole)), strict=True)),
        )
        # Each of the batch's fractions picks the seconds of its carry: two lookups per line.
        pick = {f: choose[carries[f]] for f in distinct}
        seconds = list(map(dict.__getitem__, map(pick.__getitem__, fractions), stamps))
        return [*time, seconds, _Table(fractions, tails, folds)]

    def _plan(self, event: Event, header: list[str]) -> list[list[Sequence[Value]]] | None:
        """Each piece of the batch as cell columns in ``header`` order (see ``feed_tuples``); the batch is folded
        into the state and counted. None (nothing done) when it does not fit."""
        if not isinstance(event, StepBatch):
            return None
        pieces = self._columns(event)
        index = _header_index(header)
        if index is None:
            return None
        plans: list[tuple[StepColumns, str | None]] = []
        for columns in pieces:
            fits, lr = _fits([name for name, _ in columns.extra], index)
            if not fits or None in columns.step:
                return None  # unnumbered steps: the general row builder
            plans.append((columns, lr))
        apply(self.state, event, None)
        if self._start is None and event.ts is not None:
            self._start = event.ts
        planned: list[list[Sequence[Value]]] = []
        for columns, lr in plans:
            planned.append(self._cells(columns, lr, header, index))
            self._count_columns(columns)
        return planned

    def _cells(
        self, columns: StepColumns, lr: str | None, header: list[str], index: dict[str, int]
    ) -> list[Sequence[Value]]:
        """``_step_row`` of every row of ``columns`` as cell columns in ``header`` order, built column by column
        (map/zip at C speed)."""
        n = len(columns)
        none: Sequence[None] = [None] * n
        start = self.state.first_ts or self._start
        ts = columns.ts
        walls: Sequence[float | None]
        if start is None or ts is None:
            walls = none
        elif None in ts:
            walls = [None if t is None else round((t - start).total_seconds(), 6) for t in ts]
        else:
            seconds = map(timedelta.total_seconds, map(operator.sub, ts, repeat(start, n)))
            walls = list(map(round, seconds, repeat(6, n)))
        iso: Sequence[str | None] = none
        if columns.iso is not None:
            iso = columns.iso
        elif ts is not None:
            iso = [None if t is None else t.isoformat() for t in ts]
        rates = columns.rate
        global_rates = columns.global_rate
        unit = columns.rate_unit
        units: Sequence[str | None]
        if rates is None and global_rates is None:
            units = none
        elif global_rates is None:
            assert rates is not None
            units = [None if r is None else unit for r in rates] if None in rates else [unit] * n
        elif rates is None:
            units = [None if g is None else unit for g in global_rates] if None in global_rates else [unit] * n
        else:
            units = [None if r is None and g is None else unit for r, g in zip(rates, global_rates, strict=True)]
        tail: list[Sequence[Value]] = [none for _ in header[len(STEP_COLUMNS) :]]
        lr_cells: Sequence[Value] = none
        for name, values in columns.extra:
            if name == lr:
                lr_cells = values
            else:
                tail[index[name] - len(STEP_COLUMNS)] = values
        return [
            columns.step,
            [columns.mode] * n,
            none if columns.epoch is None else columns.epoch,
            iso,
            walls,
            none if columns.loss is None else columns.loss,
            none if rates is None else rates,
            none if global_rates is None else global_rates,
            units,
            lr_cells,
            columns.lines,
            *tail,
        ]

    def _columns(self, event: StepBatch) -> list[StepColumns]:
        read = self._read
        if read is not None and read[0] is event:
            return read[1]
        columns = event.columns()
        self._read = (event, columns)
        return columns

    def _count_columns(self, columns: StepColumns) -> None:
        if len(columns):
            self.step_count += len(columns)
            last = columns.step[-1]
            assert last is not None
            self._last_step[columns.mode] = last
            if columns.mode == "train":
                self._last_train_step = last

    def _wall(self, ts: datetime | None) -> float | None:
        start = self.state.first_ts or self._start
        if ts is None or start is None:
            return None
        return round((ts - start).total_seconds(), 6)

    def _step_row(self, m: StepMetrics) -> Row:
        self.step_count += 1
        step = m.step
        if step is None:
            step = self._last_step.get(m.mode, 0) + 1
        self._last_step[m.mode] = step
        if m.mode == "train":
            self._last_train_step = step
        lr = lr_of(m.extra)
        row: Row = {
            "step": step,
            "mode": m.mode,
            "epoch": m.epoch,
            "time": _iso(m.ts),
            "wall_s": self._wall(m.ts),
            "loss": m.loss,
            "rate": m.rate,
            "global_rate": m.global_rate,
            "rate_unit": m.rate_unit if (m.rate is not None or m.global_rate is not None) else None,
            "lr": None if lr is None else lr[1],
            "line": m.line,
        }
        lr_name = None if lr is None else lr[0]
        for name, value in m.extra:
            if name == lr_name:
                continue  # it is the lr column
            key = name if name not in row else f"extra_{name}"
            if key not in row:
                row[key] = value
        return row

    def _eval_row(self, event: EvalMetric) -> Row:
        self.eval_count += 1
        return {
            "step": self._last_train_step,
            "time": _iso(event.ts),
            "wall_s": self._wall(event.ts),
            "name": event.name,
            "value": event.value,
            "line": event.line,
        }

    def phase_rows(self) -> list[Row]:
        """One row per phase of the (last) run, as ``hwmon summary`` reports them."""
        state = self.state
        rows: list[Row] = []
        # The model's durations and shares (``hwmon.model.figures``), as every view shows them.
        spans = zip(state.phases, phase_durations(state, None), phase_shares(state, None), strict=True)
        for index, (phase, seconds, fraction) in enumerate(spans):
            share = None if fraction is None else round(fraction, 6)
            rows.append(
                {
                    "index": index,
                    "name": phase.name,
                    "start": _iso(phase.start),
                    "end": _iso(phase.end),
                    "seconds": seconds,
                    "share": share,
                    "detail": phase.detail,
                    "repeats": phase.repeats,
                }
            )
        return rows


_MICROSECOND = timedelta(microseconds=1)
_MILLION = 1_000_000

_MAX_FRACTIONS = 1 << 14


_Folds = dict[tuple[bytes, bytes], tuple[int, dict[bytes, bytes]]]
"""A ``_Table``'s folded tables kept across batches: (constant before, constant after) -> (the size of the table
when folded, the folded table)."""


class _Table:
    """A column of texts looked up per row, ``table[keys[i]]`` (each text computed once per distinct key); the
    constants around it in a row are folded into the table's values. With ``folds``, a table that is only ever
    added to (never changed or emptied in place) keeps its folded form across batches: folded again only when it
    has grown (the wall_s fractions' table: ~1,000 texts, folded per batch it cost ~100 ns per row)."""

    __slots__ = ("folds", "keys", "table")

    def __init__(self, keys: Sequence[bytes], table: dict[bytes, bytes], folds: _Folds | None = None) -> None:
        self.keys = keys
        self.table = table
        self.folds = folds

    def texts(self, before: bytes, after: bytes) -> list[bytes]:
        table = self.table
        if before or after:
            kept = None if self.folds is None else self.folds.get((before, after))
            if kept is not None and kept[0] == len(table):
                table = kept[1]
            else:
                table = {key: before + text + after for key, text in table.items()}
                if self.folds is not None:
                    self.folds[before, after] = (len(self.table), table)
        return list(map(table.__getitem__, self.keys))

    def columns(self, before: bytes, after: bytes) -> list[list[bytes]]:
        return [self.texts(before, after)]


# The last four digits of a line number with the constant text after it, per constant (see _LineNumbers.columns).
_LOW_DIGITS: dict[bytes, list[bytes]] = {}
_LOW = 10_000


class _LineNumbers:
    """The line column of a run of rows (written ``%d`` per row, with the constants around it)."""

    __slots__ = ("lines",)

    def __init__(self, lines: range) -> None:
        self.lines = lines

    def texts(self, before: bytes, after: bytes) -> list[bytes]:
        template = before.replace(b"%", b"%%") + b"%d" + after.replace(b"%", b"%%")
        return list(map(template.__mod__, self.lines))

    def columns(self, before: bytes, after: bytes) -> list[list[bytes]]:
        """The cells as one column (``texts``) or, for consecutive numbers of five digits or more, two whose
        concatenation row by row is the same text: ``before`` + the digits above the last four (one text per
        10,000 lines) and the last four digits + ``after`` (slices of a table made once per ``after``). Formatting
        a number per row is most of the cost of the column; a slice of a table is almost none."""
        lines = self.lines
        if lines.step != 1 or not lines or lines.start < _LOW:
            return [self.texts(before, after)]
        table = _LOW_DIGITS.get(after)
        if table is None:
            if len(_LOW_DIGITS) > 16:
                _LOW_DIGITS.clear()
            table = _LOW_DIGITS[after] = [b"%04d" % low + after for low in range(_LOW)]
        high: list[bytes] = []
        low: list[bytes] = []
        first, stop = lines.start, lines.stop
        while first < stop:
            top, at = divmod(first, _LOW)
            end = min(stop, (top + 1) * _LOW)  # the first number of the next ten thousand, or the end
            high += [before + b"%d" % top] * (end - first)
            low += table[at : at + end - first]
            first = end
        return [high, low]


_Piece = bytes | Sequence[bytes] | _Table | _LineNumbers
"""A piece of a run of rows: one text for every row, a text per row, a lookup per row, the line numbers."""


def _join_rows(pieces: list[_Piece]) -> bytes:
    """The rows whose pieces are ``pieces``: constants merged and folded into the lookups and line numbers around
    them, every row's pieces interleaved (extended slices) and joined once."""
    merged: list[_Piece] = []
    for piece in pieces:
        if isinstance(piece, bytes) and merged and isinstance(merged[-1], bytes):
            merged[-1] += piece
        elif not (isinstance(piece, bytes) and not piece):
            merged.append(piece)
    columns: list[bytes | Sequence[bytes]] = []
    for i, piece in enumerate(merged):
        if isinstance(piece, (_Table, _LineNumbers)):
            before = b""
            if columns and isinstance(columns[-1], bytes):
                before = cast(bytes, columns.pop())
            after = merged[i + 1] if i + 1 < len(merged) else b""
            if isinstance(after, bytes):
                merged[i + 1] = b""  # taken
            else:
                after = b""
            columns.extend(piece.columns(before, after))
        elif isinstance(piece, bytes):
            if piece:
                columns.append(piece)
        else:
            columns.append(piece)
    n = next(len(c) for c in columns if not isinstance(c, bytes))
    width = len(columns)
    rows: list[bytes] = [b""] * (n * width)
    for k, column in enumerate(columns):
        rows[k::width] = [column] * n if isinstance(column, bytes) else column
    return b"".join(rows)


_NON_FINITE = (b"nan", b"inf", b"-inf")


def _json_numbers(values: Sequence[bytes]) -> Sequence[bytes]:
    """Number texts as JSON writes them: null for no value and for NaN/Inf (JSON has neither)."""
    if b"" not in values and not any(text in values for text in _NON_FINITE):
        return values
    return [b"null" if not v or v in _NON_FINITE else v for v in values]


def _json_text(text: str) -> bytes:
    return json.dumps(text, ensure_ascii=False).encode()


def _header_index(header: list[str]) -> dict[str, int] | None:
    """Column positions of a steps header (the fixed columns first, ``more`` last), else None."""
    if header[: len(STEP_COLUMNS)] != list(STEP_COLUMNS) or header[-1] != "more":
        return None
    return {name: i for i, name in enumerate(header)}


def _fits(names: list[str], index: dict[str, int]) -> tuple[bool, str | None]:
    """Whether each of a run's extra metric ``names`` has its own column in the header (not: a metric twice on one
    line, several lr spellings, a metric without a column or named like a fixed column; the general row builder
    then decides), and the lr metric among them (None: none)."""
    if len(set(names)) != len(names):
        return False, None
    lrs = [name for name in names if name in _LR_KEYS]
    if len(lrs) > 1 or not set(names) - set(lrs) <= index.keys() or set(names) & set(STEP_COLUMNS):
        return False, None
    return True, lrs[0] if lrs else None


def _wall_text(micro: int) -> bytes:
    """``wall_s`` of a time ``micro`` microseconds after the start, as the general path writes it."""
    return float.__repr__(round(micro / _MILLION, 6)).encode()


def _fraction_text(micro: int) -> bytes:
    """The text after the whole seconds of ``repr`` of a float of 1 to 10**9 seconds and ``micro`` (< 10**6)
    microseconds: such a number has at most 15 significant digits, so its shortest text is its exact decimal."""
    return (b".%06d" % micro).rstrip(b"0") if micro else b".0"


def _csv_cells(values: Sequence[Value]) -> Sequence[str]:
    """One cell column as the ``csv`` module writes its cells: None empty, a float its ``repr``, an int its
    ``str``, text quoted (``""`` for a quote) when it holds the delimiter, a quote or a line break."""
    n = len(values)
    if not n:
        return []
    kinds = set(map(type, values))
    if kinds == {float}:
        return list(map(float.__repr__, values))
    if kinds == {int}:
        return list(map(int.__repr__, values))
    if kinds == {type(None)}:
        return [""] * n
    if kinds <= {float, type(None)}:
        return ["" if v is None else float.__repr__(v) for v in values]
    if kinds <= {str, type(None)}:
        texts = cast("Sequence[str]", values if None not in values else ["" if v is None else v for v in values])
        joined = "\x00".join(texts)
        if "," in joined or '"' in joined or "\n" in joined or "\r" in joined:
            return list(map(_quoted, texts))
        return texts
    return [_cell(v) for v in values]


def _quoted(text: str) -> str:
    if "," in text or '"' in text or "\n" in text or "\r" in text:
        return '"' + text.replace('"', '""') + '"'
    return text


def _cell(value: Value) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return _quoted(value)
    return repr(value) if isinstance(value, float) else str(value)
