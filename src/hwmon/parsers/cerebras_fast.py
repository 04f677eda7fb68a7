"""The Cerebras bytes fast path: the hooks of ``hwmon.parsers.blocks.BlockSteps`` for the appliance's step lines
(plus, interleaved, its own checkpoint lines), and ``CerebrasDecoder``, which reads a batch's lines back as columns
with one compiled regex over its bytes. Pure.

``CerebrasFastPath`` is a mixin of ``CerebrasParser`` (it reads the parser's phase/multi-line state to know when a
step line would change nothing but the step itself). ``expand_batch`` / ``expand_columns`` are the decoder's per-line
and columnar halves, kept for callers that want one or the other.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import repeat

from hwmon.events import StepBatch, StepColumns, StepMetrics, StepTexts
from hwmon.parsers.blocks import BlockSteps, Losses, Shape
from hwmon.parsers.cerebras_steps import EVAL_MARK, STEP_RULE, TRAIN_MARK, Mode, _duration, step_from_line
from hwmon.parsers.multiline import MultilineErrors

__all__ = ["CerebrasDecoder", "CerebrasFastPath", "expand_batch", "expand_columns", "expand_texts"]

_B_TRAIN = TRAIN_MARK.encode()
_B_EVAL = EVAL_MARK.encode()
# Lines the fast path may take besides step lines: the appliance's own checkpoint lines between steps. Each found
# line is checked against _B_CKPT_LINE before it is claimed; anything else makes the block go line by line.
_B_CKPT_NEEDLE = b" checkpoint"
_B_CKPT_LINE = re.compile(rb"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d[,.]\d{1,9} INFO: +Sav(?:ing|ed) checkpoint [^\n|%]*\Z")
_B_LOSS_ANY = re.compile(rb"Loss=([^,\s]*)")
_LOSS_FIXED: dict[tuple[int, int], re.Pattern[bytes]] = {}
# The first step line (which gives the block's shape) must be within this many bytes of the block start.
_SHAPE_SEARCH = 1 << 16
_MAX_OTHER_LINES = 256


def _loss_fixed(decimals: int, digits: int = 0) -> re.Pattern[bytes]:
    """``Loss=D.DDD,`` with ``decimals`` decimals and exactly ``digits`` digits before the point (0: any)."""
    pattern = _LOSS_FIXED.get((decimals, digits))
    if pattern is None:
        whole = rb"\d{%d}" % digits if digits > 0 else rb"\d+"
        pattern = re.compile(rb"Loss=(" + whole + rb"\.\d{%d})," % decimals)
        _LOSS_FIXED[decimals, digits] = pattern
    return pattern


class CerebrasFastPath(BlockSteps):
    """The fast path's hooks; the state they read is ``CerebrasParser``'s."""

    _phase: str | None
    _device: str | None
    _cont: int
    _multi: MultilineErrors
    _eval_metrics: bool
    _reset_step: int

    def block_shape(self, data: bytes) -> Shape | None:
        found = _block_shape(data)
        return None if found is None else Shape(b"", (found[1],))

    def block_steady(self, shape: Shape) -> bool:
        mode: Mode = "eval" if _B_EVAL in shape.marks[0] else "train"
        return (
            self._phase == mode
            and self._device is not None
            and not self._cont
            and not self._multi.busy
            and not self._eval_metrics
        )

    def block_others(self, data: bytes, shape: Shape) -> list[tuple[int, int]] | None:
        """The appliance's own checkpoint lines between steps (anything else: the block goes another way)."""
        others: list[tuple[int, int]] = []
        pos = data.find(_B_CKPT_NEEDLE)
        while pos >= 0:
            start = data.rfind(b"\n", 0, pos) + 1
            end = data.find(b"\n", pos)
            if len(others) >= _MAX_OTHER_LINES or not _B_CKPT_LINE.match(data, start, end):
                return None
            others.append((start, end))
            pos = data.find(_B_CKPT_NEEDLE, end)
        return others

    def block_line(self, text: str, number: int) -> StepMetrics | None:
        return step_from_line(text, number, self._reset_step)

    def block_decoder(self, shape: Shape) -> CerebrasDecoder:
        return CerebrasDecoder(self._reset_step)

    def block_losses(self, data: bytes, start: int, end: int, count: int) -> Losses | None:
        # Exact loss min/max over every line, at C speed: fixed-decimal losses of one width compare as bytes.
        first_nl = data.index(b"\n", start)
        at = data.find(b"Loss=", start, first_nl)
        comma = data.find(b",", at, first_nl)
        dot = data.find(b".", at, comma)
        found: list[bytes] = []
        if at >= 0 and comma > 0 and dot > 0:
            # Usually every loss of a block has the first one's width: one pass finds them all and proves it.
            found = _loss_fixed(comma - dot - 1, dot - at - 5).findall(data, start, end)
            if len(found) == count:
                return float(min(found)), float(max(found)), 0  # one width: byte order is numeric order
            found = _loss_fixed(comma - dot - 1).findall(data, start, end)
        if len(found) == count:
            if len(set(map(len, found))) == 1:
                # One width, one number of decimals: byte order is numeric order (leading zeros included).
                return float(min(found)), float(max(found)), 0
            if data.count(b"Loss=0", start, end) != data.count(b"Loss=0.", start, end):
                values = list(map(float, found))  # leading zeros ("05.5"): compare as numbers
                return min(values), max(values), 0
            # Unsigned decimals without leading zeros: a wider one is larger, so (width, text) orders them.
            low = float(min(zip(map(len, found), found, strict=True))[1])
            high = float(max(zip(map(len, found), found, strict=True))[1])
            return low, high, 0
        found = _B_LOSS_ANY.findall(data, start, end)
        if len(found) != count:
            return None
        finite: list[float] = []
        nonfinite = 0
        for raw in found:
            try:
                value = float(raw)
            except ValueError:
                return None
            if math.isfinite(value):
                finite.append(value)
            else:
                nonfinite += 1
        if not finite:
            return None, None, nonfinite
        return min(finite), max(finite), nonfinite


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


@dataclass(frozen=True, slots=True)
class CerebrasDecoder:
    """The ``BlockDecoder`` of Cerebras step lines: the canonical train lines of one shape and rate unit as columns
    from one compiled regex (``expand_columns``), any other step line read by ``cerebras_steps.step_from_line`` (the
    line path's function) with the parser's ``reset_step`` at the time."""

    reset_step: int = 1
    rule: str = STEP_RULE

    def decode(self, raw: bytes, first_line: int) -> list[StepColumns]:
        """See ``hwmon.events.BlockDecoder``."""
        columns = expand_columns(raw, first_line, self.reset_step)
        if columns is not None:
            return [columns]
        return StepColumns.of(list(_per_line(raw, first_line, self.reset_step)))

    def texts(self, raw: bytes, first_line: int) -> StepTexts | None:
        """See ``hwmon.events.TextDecoder``: the canonical train lines of one shape and unit (no remaining times,
        plain losses) as their texts, from the one compiled regex ``decode`` reads them with."""
        return expand_texts(raw, first_line, self.reset_step)


def _per_line(data: bytes, number: int, reset_step: int) -> Iterator[StepMetrics]:
    start = 0
    while start < len(data):
        nl = data.find(b"\n", start)
        if nl < 0:
            nl = len(data)
        metrics = step_from_line(data[start:nl].decode("ascii", "replace"), number, reset_step)
        if metrics is not None:
            yield metrics
        start = nl + 1
        number += 1


def expand_batch(batch: StepBatch) -> Iterator[StepMetrics]:
    """Every step a Cerebras ``StepBatch`` stands for, in order, as the line-by-line parser reads them."""
    return _per_line(batch.raw, batch.first.line, batch.reset_step)


# --- columnar expansion --------------------------------------------------------------------------------------

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


# The columns of canonical lines without remaining times are checked against what _COL_TS/_COL_FIELDS accept:
# characters at C speed (``bytes.translate``), the few distinct seconds and fractions with these patterns.
_V_SECONDS = re.compile(rb"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d")
_V_FRACTION = re.compile(rb"\d{1,9}")
_TS_SECONDS = slice(0, 19)
_TS_DOT = slice(19, 20)
_TS_FRACTION = slice(20, None)
_SEP = b"\x00"  # never in a LineBlock (printable ASCII and \n only)


def _split_columns(data: bytes, shape: bytes, unit: bytes) -> tuple[tuple[bytes, ...], ...] | None:
    """The canonical train lines of ``data`` (no remaining times) cut into (seconds, fraction, step, loss, rate,
    global rate) columns with a few C passes: the constant text between the fields becomes one separator, the
    whole block is split once, and each column is checked against what the one-line pattern accepts. None when
    ``data`` is not all such lines (the pattern then reads it)."""
    if b"Remaining=" in data or _SEP in data:
        return None
    cut = (
        data.replace(shape, _SEP)
        .replace(b", Loss=", _SEP)
        .replace(b", Rate=", _SEP)
        .replace(b" " + unit + b", GlobalRate=", _SEP)
        .replace(b" " + unit + b"\n", _SEP)
    )
    fields = cut.split(_SEP)
    n = data.count(b"\n")
    if len(fields) != 5 * n + 1 or fields[-1]:
        return None
    stamps, steps, losses, rates, global_rates = (fields[i:-1:5] for i in range(5))
    # Steps: 1-18 digits. Rates: digits with at most one dot, a digit first. Losses: those, signed, or nan/inf.
    if not _digits(steps, dots=False) or max(map(len, steps)) > 18 or not _digits(rates) or not _digits(global_rates):
        return None
    if not _losses(losses):
        return None
    seconds = tuple(map(bytes.__getitem__, stamps, repeat(_TS_SECONDS, n)))
    dots = set(map(bytes.__getitem__, stamps, repeat(_TS_DOT, n)))
    fractions = tuple(map(bytes.__getitem__, stamps, repeat(_TS_FRACTION, n)))
    if not dots <= {b".", b","}:
        return None
    if not all(_V_SECONDS.fullmatch(text) for text in set(seconds)):
        return None
    if not all(_V_FRACTION.fullmatch(text) for text in set(fractions)):
        return None
    return seconds, fractions, tuple(steps), tuple(losses), tuple(rates), tuple(global_rates)


def _digits(column: list[bytes], dots: bool = True) -> bool:
    """Every value ``\\d+`` (``dots``: ``\\d+(?:\\.\\d*)?``), checked at C speed."""
    if b"" in column:
        return False
    joined = b"\n".join(column)
    if joined.translate(None, b"0123456789.\n" if dots else b"0123456789\n"):
        return False
    # A dot never first, never two in one value.
    return not dots or not (joined[:1] == b"." or b"\n." in joined or _TWO_DOTS.search(joined))


_TWO_DOTS = re.compile(rb"\.[0-9]*\.")
_V_LOSS = re.compile(rb"[-+]?(?:\d+(?:\.\d*)?|nan|inf)")


def _losses(column: list[bytes]) -> bool:
    """Every value ``[-+]?(?:\\d+(?:\\.\\d*)?|nan|inf)``: plain decimals at C speed, signed or nan/inf ones each."""
    joined = b"\n".join(column)
    if b"-" not in joined and b"+" not in joined and b"n" not in joined:
        return _digits(column)
    return all(_V_LOSS.fullmatch(value) for value in column)


def _column_pattern(shape: bytes, unit: bytes) -> re.Pattern[bytes]:
    pattern = _COL_PATTERNS.get((shape, unit))
    if pattern is None:
        if len(_COL_PATTERNS) > 64:
            _COL_PATTERNS.clear()
        unit_re = re.escape(unit)
        pattern = re.compile(_COL_TS + re.escape(shape) + _COL_FIELDS % (unit_re, unit_re) + _COL_ETA)
        _COL_PATTERNS[(shape, unit)] = pattern
    return pattern


def expand_columns(data: bytes, first_line: int, reset: int) -> StepColumns | None:
    """The step lines ``data`` (the first numbered ``first_line``) as columns, read with one compiled regex (no
    per-line Python parse); ``None`` when they are not all canonical train lines of one shape and unit."""
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
    split = _split_columns(data, shape, unit_m.group(1))
    if split is not None:
        seconds, fracs, step_b, loss_b, rate_b, grate_b = split
        n = len(step_b)
        loop_b = left_b = (b"",) * n
    else:
        rows = _column_pattern(shape, unit_m.group(1)).findall(data)
        n = len(rows)
        if n != data.count(b"\n"):
            return None
        (seconds, fracs, step_b, loss_b, rate_b, grate_b, loop_b, left_b) = zip(*rows, strict=True)
    # Column by column, at C speed (map/zip); the values are built exactly as ``parse_step_text`` builds them.
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
    remaining: list[float | None] | None = None
    extra: list[tuple[str, list[float | None]]] = []
    if any(loop_b):
        durations = {text: _duration(text.decode()) for text in {*loop_b, *left_b} if text}
        remaining = [durations[text] if text else None for text in left_b]
        extra.append(("loop_remaining_s", [durations[text] if text else None for text in loop_b]))
    if reset in steps:
        raw_rate: list[float | None] = [None] * n
        raw_global: list[float | None] = [None] * n
        for i, step in enumerate(steps):
            if step == reset:
                raw_rate[i], raw_global[i] = float(rate_b[i]), float(grate_b[i])
                rates[i] = global_rates[i] = None
        extra += [("raw_rate", raw_rate), ("raw_global_rate", raw_global)]
    device = device_m.group(1).decode()
    return StepColumns(
        lines=range(first_line, first_line + n),
        step=steps,
        loss=losses,
        ts=ts,
        iso=iso,
        rate=rates,
        global_rate=global_rates,
        remaining_s=remaining,
        extra=tuple(extra),
        rate_unit=unit_m.group(1).decode(),
        device=device or None,
        rule=STEP_RULE,
    )


# --- texts -------------------------------------------------------------------------------------------------------

# A number as its float's shortest text (``repr``) prints it, read off a text with any number of trailing zeros:
# the group stops before them ("11.06250" -> "11.0625", "11.00000" -> "11.0"). Whole parts below 10**7 without
# leading zeros, at most 8 decimals (at most 15 significant digits, so the decimal is that float's shortest text),
# nothing below 0.0001 (repr writes those with an exponent): anything else does not match and decode() reads it.
# (Atomic and possessive where backtracking cannot find another match anyway: a few % fewer regex steps.)
_TXT_NUM = rb"((?>[1-9]\d{0,6}|0(?!\.0000))\.(?:\d{0,7}[1-9]|0))0*+"
_TXT_STEP = rb"(0|[1-9]\d{0,17}+)"
# The timestamp's seconds as any 19 characters (each distinct text is checked by _clock, far fewer than lines).
_TXT_TS = rb"(?m)^([^\n]{19})[.,](\d{1,9})"
_TXT_PATTERNS: dict[tuple[bytes, bytes], re.Pattern[bytes]] = {}


def _text_pattern(shape: bytes, unit: bytes) -> re.Pattern[bytes]:
    pattern = _TXT_PATTERNS.get((shape, unit))
    if pattern is None:
        if len(_TXT_PATTERNS) > 64:
            _TXT_PATTERNS.clear()
        unit_re = re.escape(unit)
        fields = b", Loss=%s, Rate=%s %s, GlobalRate=%s %s\n" % (_TXT_NUM, _TXT_NUM, unit_re, _TXT_NUM, unit_re)
        pattern = re.compile(_TXT_TS + re.escape(shape) + _TXT_STEP + fields)
        _TXT_PATTERNS[(shape, unit)] = pattern
    return pattern


def _clock(stamp: bytes) -> datetime | None:
    """A ``_COL_TS`` seconds text as a time, as ``expand_columns`` (and ``records._ymd``) read it; None when it is
    not one (not that shape, not a date)."""
    # fromisoformat reads this shape (any one character between date and time, from Python 3.10 on) as
    # datetime() of its six fields does (expand_columns), and refuses what datetime() refuses, at a third of the
    # cost (once per distinct second of a batch: ~18 lines each). Hour 24 is refused first: a newer Python may read
    # it as the next midnight.
    if _V_SECONDS.fullmatch(stamp) is None or stamp[11:13] == b"24":
        return None
    try:
        return datetime.fromisoformat(stamp.decode("ascii"))
    except ValueError:
        return None


def expand_texts(data: bytes, first_line: int, reset: int) -> StepTexts | None:
    """The step lines ``data`` as texts (``hwmon.events.StepTexts``: every number as its value's shortest text),
    read with one compiled regex; ``None`` unless every line is a canonical train line of the first line's shape and
    unit without remaining times whose numbers that regex takes (see ``_TXT_NUM``): ``expand_columns`` then reads
    them."""
    if not data or data[-1:] != b"\n" or not data.isascii():
        return None
    found = _block_shape(data)
    if found is None or found[0] != "train":
        return None
    shape = found[1]
    if shape.count(_B_TRAIN) != 1 or b"\n" in shape or _COL_DEVICE.match(shape) is None:
        return None
    unit_m = _COL_UNIT.search(data, 0, data.find(b"\n"))
    if unit_m is None:
        return None
    rows = _text_pattern(shape, unit_m.group(1)).findall(data)
    n = len(rows)
    if n != data.count(b"\n"):
        return None
    seconds, fracs, steps, losses, rates, global_rates = zip(*rows, strict=True)
    extra: tuple[tuple[str, Sequence[bytes]], ...] = ()
    reset_text = b"%d" % reset
    if reset_text in steps:
        # The reset tracker's first rate is not the step's rate (cerebras_steps): it moves to the raw_ columns.
        raw_rate, raw_global = [b""] * n, [b""] * n
        rate_list, global_list = list(rates), list(global_rates)
        for i, step in enumerate(steps):
            if step == reset_text:
                raw_rate[i], raw_global[i] = rate_list[i], global_list[i]
                rate_list[i] = global_list[i] = b""
        rates, global_rates = tuple(rate_list), tuple(global_list)
        extra = (("raw_rate", raw_rate), ("raw_global_rate", raw_global))
    return StepTexts(
        lines=range(first_line, first_line + n),
        step=steps,
        loss=losses,
        rate=rates,
        global_rate=global_rates,
        extra=extra,
        stamps=seconds,
        fractions=fracs,
        clock=_clock,
        rate_unit=unit_m.group(1).decode(),
    )
