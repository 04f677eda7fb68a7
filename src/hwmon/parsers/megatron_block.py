"""Megatron iteration lines in bulk: the shape of a block's iteration lines and ``MegatronDecoder``, the columns of a
batch of them from one template regex. Pure.

The template is the block's first iteration line with every value a group: its launcher prefix, ``iteration N/
TOTAL |``, then each ``| key: value |`` field with its key as printed (spaces around separators may vary: the
numbers are padded). Each field's role is the one ``vocab.read`` gives its key, so a row is what the line path
(``megatron.iteration_step``) reads; a line the template does not take is read by that function itself.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache

from hwmon.events import StepColumns, StepMetrics, StepTexts
from hwmon.parsers import vocab
from hwmon.parsers.blocks import Shape
from hwmon.parsers.decoders import texts_of
from hwmon.parsers.records import strip_prefix

__all__ = ["MegatronDecoder", "iteration_shape", "loss_pattern"]

RULE = "megatron:iteration"
_NUM = vocab.NUM_B
_B_ITERATION = re.compile(rb"(?m)^([^\n]{0,80}?)iteration( +)(\d{1,18}) */ *(\d{1,18}) *\|")
# vocab's "| key: value |" field, in bytes (its _BAR_FIELD), over the text after the first "|".
_B_FIELD = re.compile(rb"(?:^|\|)\s*([A-Za-z_][^|:=]{0,80}?)\s*:\s*(" + _NUM + rb")\s*(%?)\s*(?=\||$)", re.I)
_SEARCH = 1 << 16
_MAX_EXTRA = 16
# Runs of spaces in a template never give back what they took (possessive, Python 3.11+: the same matches, as what
# follows a run of spaces never starts with one; ~13 % less time in the template's findall, ~20 % in the loss's).
_SP, _WS = (rb" *+", rb"\s*+") if sys.version_info >= (3, 11) else (rb" *", rb"\s*")


def iteration_shape(data: bytes) -> tuple[Shape, int, int | None, bytes] | None:
    """(shape, target, launcher rank, the first iteration line) of the iteration lines near the start of ``data``,
    or None. Every such line starts with the same launcher prefix and ``iteration`` and holds ``/ TOTAL |`` as the
    first does."""
    m = _B_ITERATION.search(data, 0, _SEARCH)
    if m is None:
        return None
    lead = m.group(1)
    rest, rank = strip_prefix(lead.decode("ascii", "replace"))
    if rest.strip():
        return None  # something else before "iteration": not a line whose message starts with it
    line_end = data.find(b"\n", m.end())
    mark = data[m.end(3) : m.end()]
    return Shape(lead + b"iteration", (mark,)), int(m.group(4)), rank, data[m.start() : line_end]


def _literal(text: bytes) -> bytes:
    """``text`` as a regex where any run of spaces may be any (possibly empty) run of spaces."""
    return _SP.join(re.escape(part) for part in text.split(b" "))


@lru_cache(maxsize=64)
def _template(line: bytes) -> tuple[re.Pattern[bytes], list[tuple[str, bool]]] | None:
    """The template of ``line`` (one pattern over a whole line, a group per value) and each value's (key, percent)."""
    m = _B_ITERATION.match(line)
    if m is None:
        return None
    rest_at = m.end()
    rest = line[rest_at:]
    if b"=" in rest or b"'" in rest or b"{" in rest:
        return None  # other spellings between the bars: the line path's own reading
    parts = [re.escape(m.group(1)) + rb"iteration +(\d{1,18})" + _SP + _literal(line[m.end(3) : m.end()])]
    fields: list[tuple[str, bool]] = []
    pos = 0
    for f in _B_FIELD.finditer(rest):
        parts.append(_literal(rest[pos : f.start(1)]))
        parts.append(
            re.escape(f.group(1)) + _SP + b":" + _SP + b"(" + _NUM + b")" + (_SP + b"%" if f.group(3) else b"")
        )
        fields.append((f.group(1).decode("ascii").lower(), bool(f.group(3))))
        pos = f.end(3) if f.group(3) else f.end(2)
    parts.append(_literal(rest[pos:]))
    return re.compile(rb"(?m)^" + b"".join(parts) + rb"\n", re.I), fields


@lru_cache(maxsize=64)
def loss_pattern(line: bytes) -> re.Pattern[bytes] | None:
    """A pattern finding the loss text of each iteration line shaped like ``line`` (one match per line)."""
    found = _template(line)
    if found is None:
        return None
    key = next((k for k, _ in found[1] if vocab.role(k) == "loss"), None)
    if key is None:
        return None
    return re.compile(
        rb"\|" + _WS + re.escape(key.encode()) + _WS + b":" + _WS + b"(" + _NUM + b")" + _WS + rb"(?=\|)", re.I
    )


class MegatronDecoder:
    """The ``BlockDecoder`` of iteration lines shaped like one template (see the module doc)."""

    __slots__ = ("_batch", "_extras", "_line", "_loss", "_ms", "_pattern", "_rate", "_series", "rule")

    def __init__(
        self,
        pattern: re.Pattern[bytes],
        fields: list[tuple[str, bool]],
        line: Callable[[str, int], StepMetrics | None],
    ) -> None:
        self.rule = RULE
        self._pattern = pattern
        self._line = line
        self._loss: int | None = None
        self._rate: tuple[int, str] | None = None
        self._extras: list[tuple[str, int, bool]] = []
        self._ms = next((i for i, (k, _) in enumerate(fields) if k.startswith("elapsed time per iteration")), None)
        self._batch = next((i for i, (k, _) in enumerate(fields) if k == "global batch size"), None)
        lr = False
        # As vocab.read folds a line's pairs: the first loss, the first rate, evals left out, the rest extras.
        for i, (key, percent) in enumerate(fields):
            kind = vocab.role(key)
            if kind == "loss" and self._loss is None:
                self._loss = i
            elif kind == "rate" and self._rate is None:
                self._rate = (i, key if "/" in key else ("%" if percent else "samples/sec"))
            elif kind == "eval":
                continue
            elif len(self._extras) < _MAX_EXTRA:
                if kind == "lr" and not lr:
                    lr, key = True, "lr"
                self._extras.append((key, i, percent))
        series = [self._loss, self._rate[0]] if self._rate is not None else [self._loss, self._ms, self._batch]
        self._series = _series_pattern(pattern, [i for i in series if i is not None])

    @staticmethod
    def of(line: bytes, read: Callable[[str, int], StepMetrics | None]) -> MegatronDecoder | None:
        """The decoder of lines shaped like ``line`` (None when its fields cannot be read as a template: a step or
        epoch among them, a percentage loss, other spellings)."""
        found = _template(line)
        if found is None:
            return None
        pattern, fields = found
        roles = [vocab.role(key) for key, _ in fields]
        if "step" in roles or "epoch" in roles:
            return None  # value-dependent in vocab.read (a non-finite step is an extra): the line path decides
        loss = next((i for i, r in enumerate(roles) if r == "loss"), None)
        if loss is not None and fields[loss][1]:
            return None
        return MegatronDecoder(pattern, fields, read)

    def decode(self, raw: bytes, first_line: int) -> list[StepColumns]:
        """See ``hwmon.events.BlockDecoder``."""
        n = raw.count(b"\n")
        rows = self._pattern.findall(raw)
        if len(rows) != n or not n:
            return StepColumns.of(self._slow(raw, first_line))
        columns = list(zip(*rows, strict=True))
        values: list[list[float | None]] = [list(map(float, col)) for col in columns[1:]]
        extra: list[tuple[str, list[float | None]]] = []
        for key, i, percent in self._extras:
            extra.append((key, [v / 100.0 for v in values[i] if v is not None] if percent else values[i]))
        rated = self._rates(values, n)
        if rated is None:
            return StepColumns.of(self._slow(raw, first_line))  # the unit changes row by row: per line
        rate, unit = rated
        return [
            StepColumns(
                lines=range(first_line, first_line + n),
                step=list(map(int, columns[0])),
                loss=None if self._loss is None else values[self._loss],
                rate=rate,
                extra=tuple(extra),
                rate_unit=unit,
                rule=RULE,
            )
        ]

    def _rates(
        self, values: Mapping[int, list[float | None]] | Sequence[list[float | None]], n: int
    ) -> tuple[list[float | None] | None, str] | None:
        """The rate column and its unit, from the line's own rate field or from its time per iteration and batch
        size; None when the unit changes row by row (a row without a rate keeps the line path's default unit, the
        rows with one say it/s without a batch)."""
        if self._rate is not None:
            i, unit = self._rate
            return values[i], unit
        if self._ms is None:
            return None, "samples/sec"
        ms = [v or 0.0 for v in values[self._ms]]
        batch = [v or 0.0 for v in values[self._batch]] if self._batch is not None else [0.0] * n
        rate = [_rate(b, t) for b, t in zip(batch, ms, strict=True)]
        units = {"it/s" if r is not None and not b > 0 else "samples/sec" for b, r in zip(batch, rate, strict=True)}
        if len(units) > 1:
            return None
        return rate, units.pop()

    def decode_series(self, raw: bytes, first_line: int) -> list[StepColumns]:
        """``decode`` of the columns a chart plots (step, loss, rate: see ``hwmon.events.BlockDecoder``), ``extra``
        left empty: one ``findall`` of a pattern capturing only the values they come from, those converted."""
        n = raw.count(b"\n")
        if self._series is None or not n:
            return self.decode(raw, first_line)
        pattern, groups = self._series
        rows = pattern.findall(raw)
        if len(rows) != n:
            return self.decode(raw, first_line)
        columns = dict(zip(groups, zip(*rows, strict=True), strict=True))
        values: dict[int, list[float | None]] = {i - 2: list(map(float, col)) for i, col in columns.items() if i > 1}
        rated = self._rates(values, n)
        if rated is None:
            return self.decode(raw, first_line)
        rate, unit = rated
        return [
            StepColumns(
                lines=range(first_line, first_line + n),
                step=list(map(int, columns[1])),
                loss=None if self._loss is None else values[self._loss],
                rate=rate,
                rate_unit=unit,
                rule=RULE,
            )
        ]

    def texts(self, raw: bytes, first_line: int) -> StepTexts | None:
        """See ``hwmon.events.TextDecoder``. Megatron prints its numbers ``%.6E`` (not their shortest texts), so
        they are read as ``decode`` reads them and spelled once per distinct value."""
        pieces = self.decode(raw, first_line)
        return texts_of(pieces[0]) if len(pieces) == 1 else None

    def _slow(self, raw: bytes, first_line: int) -> list[StepMetrics]:
        steps: list[StepMetrics] = []
        for offset, text in enumerate(raw.split(b"\n")[:-1]):
            step = self._line(text.decode("ascii", "replace"), first_line + offset)
            if step is not None:
                steps.append(step)
        return steps


def _series_pattern(pattern: re.Pattern[bytes], fields: list[int]) -> tuple[re.Pattern[bytes], list[int]] | None:
    """``pattern`` (a template: group 1 the step, group ``i + 2`` field ``i``) capturing only the step and
    ``fields``, and the numbers in ``pattern`` of the groups it keeps, in order; None where the groups cannot be
    told apart."""
    keep = sorted({1, *(i + 2 for i in fields)})
    seen = 0

    def one(m: re.Match[bytes]) -> bytes:
        nonlocal seen
        seen += 1
        return b"(" if seen in keep else b"(?:"

    found = re.compile(re.sub(rb"(?<!\\)\((?!\?)", one, pattern.pattern), pattern.flags)
    if seen != pattern.groups or found.groups != len(keep):
        return None
    return found, keep


def _rate(batch: float, ms: float) -> float | None:
    if not (ms > 0 and math.isfinite(ms)):
        return None
    return batch * 1000.0 / ms if batch > 0 else 1000.0 / ms
