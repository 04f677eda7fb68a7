"""The Cerebras bytes fast path: a whole ``LineBlock`` of homogeneous step lines (plus, interleaved, the
appliance's own checkpoint lines) read with C-level ``bytes`` operations into ``StepBatch`` events equivalent to
feeding the lines one by one. Pure.

``CerebrasFastPath`` is a mixin of ``CerebrasParser`` (it reads the parser's phase/multi-line state to know when a
step line would change nothing but the step itself, and hands every other line to the line path).
``expand_batch`` turns a ``StepBatch`` back into every ``StepMetrics`` it stands for (``hwmon.parsers.expand_steps``);
``expand_columns`` gives the same values as columns, read with one compiled regex over the batch's bytes (the export's
fast path; ``None`` for a block that is not all canonical train lines, which then goes through ``expand_batch``).
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from hwmon.events import Event, PhaseName, StepBatch, StepMetrics
from hwmon.parsers.base import Line, LineBlock
from hwmon.parsers.cerebras_steps import EVAL_MARK, TRAIN_MARK, Mode, _duration, step_from_line
from hwmon.parsers.multiline import MultilineErrors

__all__ = ["SAMPLES_PER_BATCH", "CerebrasFastPath", "StepColumns", "expand_batch", "expand_columns"]

# --- fast path --------------------------------------------------------------------------------------------------

_B_TRAIN = TRAIN_MARK.encode()
_B_EVAL = EVAL_MARK.encode()
# Lines the fast path may take besides step lines: the appliance's own checkpoint lines between steps. Each found
# line is checked against _B_CKPT_LINE before it is claimed; anything else makes the block go line by line.
_B_CKPT_NEEDLE = b" checkpoint"
_B_CKPT_LINE = re.compile(rb"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d[,.]\d{1,9} INFO: +Sav(?:ing|ed) checkpoint [^\n|%]*\Z")
_B_LOSS_ANY = re.compile(rb"Loss=([^,\s]*)")
_LOSS_FIXED: dict[int, re.Pattern[bytes]] = {}
_MIN_BLOCK_LINES = 8
# Blocks up to this many lines that mix step lines with other lines are walked line by line (bulk step runs,
# other lines through every parser); larger ones are left for the stream to bisect.
_MIXED_MAX_LINES = 2048
# A run of fewer step lines than this (between checkpoint lines) is not worth a StepBatch.
_MIN_BATCH = 4
# The first step line (which gives the block's shape) must be within this many bytes of the block start.
_SHAPE_SEARCH = 1 << 16
_MAX_OTHER_LINES = 256
SAMPLES_PER_BATCH = 64
"""How many evenly spaced StepMetrics a StepBatch carries (first and last included)."""


def _loss_fixed(decimals: int) -> re.Pattern[bytes]:
    pattern = _LOSS_FIXED.get(decimals)
    if pattern is None:
        pattern = re.compile(rb"Loss=(\d+\.\d{%d})," % decimals)
        _LOSS_FIXED[decimals] = pattern
    return pattern


class CerebrasFastPath:
    """The fast path's methods; the state they read is ``CerebrasParser``'s."""

    _phase: PhaseName | None
    _device: str | None
    _cont: int
    _multi: MultilineErrors
    _eval_metrics: bool
    _reset_step: int

    def feed(self, line: Line) -> list[Event]:
        raise NotImplementedError

    def feed_block(self, block: LineBlock, other: Callable[[Line], list[Event]] | None = None) -> list[Event] | None:
        """Fast path for a block of step lines; ``None`` when it cannot take it.

        With ``other`` (the stream's way to run one line through every parser), a block that mixes step lines with
        other lines is taken too: runs of step lines in bulk, every other line handed to ``other`` in order, so a
        live log with a heartbeat line between steps still takes the fast path."""
        events = self._feed_block(block)
        if events is None and other is not None and block.count <= _MIXED_MAX_LINES:
            # Large blocks are better bisected by the stream first (a few odd lines in 30k step lines cost
            # two C passes that way, against a Python step per line here).
            events = self._mixed_block(block, other)
        return events

    def _steady(self, mode: Mode) -> bool:
        """True when a step line of ``mode`` would produce exactly its StepMetrics and change no state."""
        return (
            self._phase == mode
            and self._device is not None
            and not self._cont
            and not self._multi.busy
            and not self._eval_metrics
        )

    def _feed_block(self, block: LineBlock) -> list[Event] | None:
        n = block.count
        if n < _MIN_BLOCK_LINES:
            return None
        data = block.data
        found = _block_shape(data)
        if found is None:
            return None
        mode, shape = found
        # The only other lines taken here are the appliance's own checkpoint lines.
        others: list[tuple[int, int]] = []
        pos = data.find(_B_CKPT_NEEDLE)
        while pos >= 0:
            start = data.rfind(b"\n", 0, pos) + 1
            end = data.find(b"\n", pos)
            if len(others) >= _MAX_OTHER_LINES or not _B_CKPT_LINE.match(data, start, end):
                return None
            others.append((start, end))
            pos = data.find(_B_CKPT_NEEDLE, end)
        # Plan every run of step lines (pure: no state changes) and check that step lines + others == all lines:
        # each step line holds ``shape`` exactly once, so counting it is counting them.
        plans: list[tuple[int, int, _Walk]] = []
        pos = 0
        for start, end in [*others, (len(data), len(data))]:
            if start > pos:
                plans.append((pos, start, _walk(data, pos, start, shape)))
            pos = end + 1
        if sum(walk[2] for _, _, walk in plans) + len(others) != n:
            return None
        # Committed: from here every line of the block is taken.
        out: list[Event] = []
        number = block.first_number
        runs = iter(plans)
        run = next(runs, None)
        for o_start, o_end in [*others, (len(data), len(data))]:
            if run is not None and run[0] < o_start:
                number = self._segment(block, run[0], run[1], number, mode, shape, run[2], out)
                run = next(runs, None)
            if o_start < len(data):
                out.extend(self.feed(Line(number, block.offset + o_start, data[o_start:o_end].decode("ascii"))))
                number += 1
        return out

    def _mixed_block(self, block: LineBlock, other: Callable[[Line], list[Event]]) -> list[Event] | None:
        """Runs of step lines of one shape in bulk, every other line through ``other``, all in order."""
        data = block.data
        found = _block_shape(data)
        if found is None:
            return None
        mode, shape = found
        out: list[Event] = []
        number = block.first_number
        run_start = run_number = -1
        pos, end = 0, len(data)
        while pos < end:
            nl = data.index(b"\n", pos)
            if data.find(shape, pos, nl) >= 0:
                if run_start < 0:
                    run_start, run_number = pos, number
            else:
                if run_start >= 0:
                    walk = _walk(data, run_start, pos, shape)
                    self._segment(block, run_start, pos, run_number, mode, shape, walk, out)
                    run_start = -1
                out.extend(other(Line(number, block.offset + pos, data[pos:nl].decode("ascii"))))
            number += 1
            pos = nl + 1
        if run_start >= 0:
            self._segment(block, run_start, end, run_number, mode, shape, _walk(data, run_start, end, shape), out)
        return out

    def _segment(
        self,
        block: LineBlock,
        start: int,
        end: int,
        number: int,
        mode: Mode,
        shape: bytes,
        walk: _Walk,
        out: list[Event],
    ) -> int:
        """Step lines ``data[start:end]`` (the first numbered ``number``) -> events; returns the next number."""
        data = block.data
        if not self._steady(mode):
            # Entering train/eval, or leaving a checkpoint: the first line(s) go the ordinary way.
            while start < end and not self._steady(mode):
                nl = data.index(b"\n", start)
                out.extend(self.feed(Line(number, block.offset + start, data[start:nl].decode("ascii"))))
                start = nl + 1
                number += 1
            if start >= end:
                return number
            walk = _walk(data, start, end, shape)
        batch = self._step_batch(data, start, end, number, walk) if walk[2] >= _MIN_BATCH else None
        if batch is None:
            # Too short to be worth a batch, or a loss that does not parse: line by line.
            while start < end:
                nl = data.index(b"\n", start)
                out.extend(self.feed(Line(number, block.offset + start, data[start:nl].decode("ascii"))))
                start = nl + 1
                number += 1
            return number
        out.append(batch)
        return number + batch.count

    def _step_batch(self, data: bytes, start: int, end: int, number: int, walk: _Walk) -> StepBatch | None:
        positions, indexes, count = walk
        # Exact loss min/max over every line, at C speed: fixed-decimal losses of one width compare as bytes.
        first_nl = data.index(b"\n", start)
        loss_min: float | None = None
        loss_max: float | None = None
        nonfinite = 0
        at = data.find(b"Loss=", start, first_nl)
        comma = data.find(b",", at, first_nl)
        dot = data.find(b".", at, comma)
        found: list[bytes] = []
        if at >= 0 and comma > 0 and dot > 0:
            found = _loss_fixed(comma - dot - 1).findall(data, start, end)
        if len(found) == count:
            if len(set(map(len, found))) == 1:
                # One width, one number of decimals: byte order is numeric order (leading zeros included).
                loss_min, loss_max = float(min(found)), float(max(found))
            elif data.count(b"Loss=0", start, end) != data.count(b"Loss=0.", start, end):
                values = list(map(float, found))  # leading zeros ("05.5"): compare as numbers
                loss_min, loss_max = min(values), max(values)
            else:
                # Unsigned decimals without leading zeros: a wider one is larger, so (width, text) orders them.
                loss_min = float(min(zip(map(len, found), found, strict=True))[1])
                loss_max = float(max(zip(map(len, found), found, strict=True))[1])
        else:
            found = _B_LOSS_ANY.findall(data, start, end)
            if len(found) != count:
                return None
            finite: list[float] = []
            for raw in found:
                try:
                    value = float(raw)
                except ValueError:
                    return None
                if math.isfinite(value):
                    finite.append(value)
                else:
                    nonfinite += 1
            if finite:
                loss_min, loss_max = min(finite), max(finite)
        reset = self._reset_step
        samples: list[StepMetrics] = []
        for line_start, line_index in zip(positions, indexes, strict=True):
            nl = data.index(b"\n", line_start)
            sample = step_from_line(data[line_start:nl].decode("ascii"), number + line_index, reset)
            if sample is None:
                return None
            samples.append(sample)
        first, last = samples[0], samples[-1]
        return StepBatch(
            line=last.line,
            ts=last.ts,
            first=first,
            last=last,
            count=count,
            loss_min=loss_min,
            loss_max=loss_max,
            nonfinite=nonfinite,
            samples=tuple(samples),
            raw=data[start:end],
            reset_step=reset,
        )


def _block_shape(data: bytes) -> tuple[Mode, bytes] | None:
    """The step lines' shape: every step line carries the same text from after its timestamp up to ``Step=`` as
    the first one does (``INFO:   | Train Device=CSX, Step=``), found near the start of the block."""
    at = data.find(_B_TRAIN, 0, _SHAPE_SEARCH)
    eval_at = data.find(_B_EVAL, 0, at if at >= 0 else _SHAPE_SEARCH)
    mode: Mode = "train"
    if eval_at >= 0:
        at, mode = eval_at, "eval"
    if at < 0:
        return None
    line_start = data.rfind(b"\n", 0, at) + 1
    line_end = data.find(b"\n", at)
    step_at = data.find(b"Step=", at, line_end)
    if step_at < 0:
        return None
    # The level word and separators before the marker belong to the shape; the timestamp does not.
    lead = len(data[line_start:at].rstrip(b" :ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
    return mode, data[line_start + lead : step_at + 5]


_Walk = tuple[list[int], list[int], int]
"""Sample line starts, their line indexes in the run, and the number of step lines in the run."""


def _walk(data: bytes, start: int, end: int, shape: bytes) -> _Walk:
    """Evenly spaced sample lines of the step-line run ``data[start:end]`` with exact line indexes, and its count.

    Each step line holds ``shape`` once, so counting it between sample positions (one C pass over the run)
    gives every sample's line index and, at the end, the number of step lines.
    """
    last_start = data.rfind(b"\n", start, end - 1) + 1
    span = last_start - start
    # About one sample per ~500 lines (~64 KB), at most SAMPLES_PER_BATCH (first and last always): parsing a
    # sample costs ~10 us, and the plotted series keeps only a few hundred points however long the run.
    wanted = max(2, min(SAMPLES_PER_BATCH, span // 65536))
    positions: list[int] = [start]
    indexes: list[int] = [0]
    index = 0
    previous = start
    for j in range(1, wanted - 1):
        line_start = data.rfind(b"\n", previous, start + span * j // (wanted - 1)) + 1
        if line_start <= previous:
            continue
        index += data.count(shape, previous, line_start)
        positions.append(line_start)
        indexes.append(index)
        previous = line_start
    if last_start > previous:
        index += data.count(shape, previous, last_start)
        positions.append(last_start)
        indexes.append(index)
    count = index + data.count(shape, last_start, end)
    return positions, indexes, count


def expand_batch(batch: StepBatch) -> Iterator[StepMetrics]:
    """Every step a ``StepBatch`` stands for, in order, as the line-by-line parser reads them."""
    data = batch.raw
    number = batch.first.line
    start = 0
    while start < len(data):
        nl = data.find(b"\n", start)
        if nl < 0:
            nl = len(data)
        metrics = step_from_line(data[start:nl].decode("ascii", "replace"), number, batch.reset_step)
        if metrics is not None:
            yield metrics
        start = nl + 1
        number += 1


# --- columnar expansion -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StepColumns:
    """Every step line of a ``StepBatch`` as columns (one entry per line, in order), the same values
    ``expand_batch`` gives field by field: ``StepMetrics(line=lines[i], ts=ts[i], step=steps[i], loss=losses[i],
    rate=rates[i], global_rate=global_rates[i], rate_unit=rate_unit, remaining_s=remaining[i], mode="train",
    device=device, extra=extras[i])``; ``iso[i]`` is ``ts[i].isoformat()``. Only the canonical train line is read
    this way (see ``expand_columns``)."""

    lines: range
    ts: list[datetime]
    iso: list[str]
    steps: list[int]
    losses: list[float | None]
    rates: list[float | None]
    global_rates: list[float | None]
    remaining: list[float | None]
    extras: list[tuple[tuple[str, float], ...]]
    rate_unit: str
    device: str | None
    mode: Mode = "train"

    def metrics(self) -> Iterator[StepMetrics]:
        """The columns as ``StepMetrics`` (what ``expand_batch`` yields)."""
        for line, ts, step, loss, rate, global_rate, remaining, extra in zip(
            self.lines,
            self.ts,
            self.steps,
            self.losses,
            self.rates,
            self.global_rates,
            self.remaining,
            self.extras,
            strict=True,
        ):
            yield StepMetrics(
                line=line,
                ts=ts,
                step=step,
                loss=loss,
                rate=rate,
                global_rate=global_rate,
                rate_unit=self.rate_unit,
                remaining_s=remaining,
                mode=self.mode,
                device=self.device,
                extra=extra,
            )


# The block's step lines, one match per whole line: the Python-logging timestamp (as the record stage's ``ymd``
# format reads it), the block's shape (text after the timestamp up to ``Step=``), then the canonical train fields
# (``cerebras_steps._CANON_TRAIN``) with the first line's rate unit. Anything else fails to match and the block
# goes through ``expand_batch``.
_COL_TS = rb"(?m)^(\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d)[.,](\d{1,9})"
_COL_FIELDS = (
    rb"(\d{1,18}), Loss=([-+]?(?:\d+(?:\.\d*)?|nan|inf)), Rate=(\d+(?:\.\d*)?) %s, GlobalRate=(\d+(?:\.\d*)?) %s"
)
_COL_ETA = rb"(?:, LoopTimeRemaining=(\d+:\d\d:\d\d), TimeRemaining=(\d+:\d\d:\d\d))?\n"
_COL_DEVICE = re.compile(rb"[^|]*\| Train Device=([^,\s]*), Step=\Z")
_COL_UNIT = re.compile(rb"Rate=\d+(?:\.\d*)? ([\w/]+), ")
_COL_PATTERNS: dict[tuple[bytes, bytes], re.Pattern[bytes]] = {}


def _column_pattern(shape: bytes, unit: bytes) -> re.Pattern[bytes]:
    pattern = _COL_PATTERNS.get((shape, unit))
    if pattern is None:
        if len(_COL_PATTERNS) > 64:
            _COL_PATTERNS.clear()
        unit_re = re.escape(unit)
        pattern = re.compile(_COL_TS + re.escape(shape) + _COL_FIELDS % (unit_re, unit_re) + _COL_ETA)
        _COL_PATTERNS[(shape, unit)] = pattern
    return pattern


def expand_columns(batch: StepBatch) -> StepColumns | None:
    """``expand_batch(batch)`` as columns, read with one compiled regex over ``batch.raw`` (no per-line Python
    parse); ``None`` when the block is not all canonical train lines of one shape and unit (then use
    ``expand_batch``)."""
    data = batch.raw
    if not data or data[-1:] != b"\n" or not data.isascii():
        return None
    found = _block_shape(data)
    if found is None or found[0] != "train":
        return None
    shape = found[1]
    if shape.count(_B_TRAIN) != 1 or b"\n" in shape:
        return None
    device_m = _COL_DEVICE.match(shape)
    unit_m = _COL_UNIT.search(data, 0, data.find(b"\n"))
    if device_m is None or unit_m is None:
        return None
    rows = _column_pattern(shape, unit_m.group(1)).findall(data)
    n = len(rows)
    if n != data.count(b"\n"):
        return None
    # Column by column, at C speed (map/zip); the values are built exactly as ``parse_step_text`` builds them.
    (seconds, fracs, step_b, loss_b, rate_b, grate_b, loop_b, left_b) = zip(*rows, strict=True)
    # Each distinct second and fraction is converted once (as records._ymd/_micro read them); a line's time is
    # its second plus its fraction, and its ISO text (``datetime.isoformat``) the second's plus ``.ffffff``.
    bases: dict[bytes, datetime] = {}
    try:
        for text in set(seconds):
            bases[text] = datetime(
                int(text[0:4]), int(text[5:7]), int(text[8:10]), int(text[11:13]), int(text[14:16]), int(text[17:19])
            )
    except ValueError:  # a timestamp that is not a date (2024-13-45): the record stage reads no time there
        return None
    micro = {f: int((f + b"000000")[:6]) for f in set(fracs)}
    deltas = {f: timedelta(microseconds=us) for f, us in micro.items()}
    ts = list(map(operator.add, map(bases.__getitem__, seconds), map(deltas.__getitem__, fracs)))
    base_iso = {text: base.isoformat() for text, base in bases.items()}
    frac_iso = {f: f".{us:06d}" if us else "" for f, us in micro.items()}
    iso = list(map(operator.add, map(base_iso.__getitem__, seconds), map(frac_iso.__getitem__, fracs)))
    steps = list(map(int, step_b))
    # The loss group is one float() accepts whole (digits, nan, inf), as cerebras_steps.float_or_none reads it.
    losses: list[float | None] = list(map(float, loss_b))
    rates: list[float | None] = list(map(float, rate_b))
    global_rates: list[float | None] = list(map(float, grate_b))
    remaining: list[float | None]
    extras: list[tuple[tuple[str, float], ...]]
    if any(loop_b):
        durations = {text: _duration(text.decode()) for text in {*loop_b, *left_b} if text}
        remaining = [durations[text] if text else None for text in left_b]
        loops = [durations[text] if text else None for text in loop_b]
        extras = [() if loop is None else (("loop_remaining_s", loop),) for loop in loops]
    else:
        remaining = [None] * n
        extras = [()] * n
    reset = batch.reset_step
    if reset in steps:
        for i, step in enumerate(steps):
            if step == reset:
                extras[i] = (*extras[i], ("raw_rate", float(rate_b[i])), ("raw_global_rate", float(grate_b[i])))
                rates[i] = global_rates[i] = None
    device = device_m.group(1).decode()
    first = batch.first.line
    return StepColumns(
        lines=range(first, first + n),
        ts=ts,
        iso=iso,
        steps=steps,
        losses=losses,
        rates=rates,
        global_rates=global_rates,
        remaining=remaining,
        extras=extras,
        rate_unit=unit_m.group(1).decode(),
        device=device or None,
    )
