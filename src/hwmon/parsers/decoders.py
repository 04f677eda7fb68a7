"""Decoders that read a bulk fast path's step lines back as ``hwmon.events.StepColumns`` (the ``BlockDecoder``
protocol): ``TemplateDecoder`` (one bytes regex over a whole line, its named groups with roles), ``dict_decoder``
(the template of a one-line dict of numbers — a Python dict repr or a JSON object — compiled to a
``TemplateDecoder``), ``Renumbered`` (a batch's step lines that are not consecutive lines of the log: every other
line of a run of (progress bar, step line) pairs) and ``read_timestamps`` (a column of timestamp texts as the record
stage reads them). Pure."""

from __future__ import annotations

import dataclasses
import math
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, Literal

from hwmon.events import StepColumns, StepMetrics, StepTexts
from hwmon.parsers.records import RecordReader

__all__ = ["Renumbered", "TemplateDecoder", "dict_decoder", "dict_keys", "read_timestamps", "spelled", "texts_of"]

# --- decoding ---------------------------------------------------------------------------------------------------

Role = str
_FLOAT_ROLES = ("loss", "rate", "global_rate", "remaining_s", "epoch")


class TemplateDecoder:
    """A ``BlockDecoder`` for the lines of one template (see the module doc).

    ``pattern`` matches one whole line without its ``\\n`` (it is anchored here); ``roles`` maps its named groups
    to ``step``, ``batch`` (integers), ``loss``, ``rate``, ``global_rate``, ``remaining_s``, ``epoch`` (floats),
    ``extra:NAME`` / ``extra%:NAME`` (a metric kept under NAME, the second a percentage read as a fraction),
    ``ts`` (a timestamp as the record stage reads it), ``ts_frac`` (its fraction digits, when the pattern puts
    them in a group of their own: much faster), ``per_step_ms`` / ``per_step_s`` (a time per step: the rate is its
    inverse per second, ``None`` unless positive). A group that did not take part in a match is ``None`` in its row.
    ``line(text, number)`` reads a line the pattern does not take (the format's line path); without it such a
    line has no step. Extras come in the order of their groups in the pattern."""

    __slots__ = ("_groups", "_line", "_pattern", "_per_epoch", "device", "mode", "rate_unit", "rule")

    def __init__(
        self,
        rule: str,
        pattern: re.Pattern[bytes] | bytes,
        roles: Mapping[str, Role],
        *,
        mode: Literal["train", "eval"] = "train",
        rate_unit: str = "samples/sec",
        device: str | None = None,
        line: Callable[[str, int], StepMetrics | None] | None = None,
        steps_per_epoch: tuple[int, int] | None = None,
    ) -> None:
        source = pattern.pattern if isinstance(pattern, re.Pattern) else pattern
        flags = pattern.flags if isinstance(pattern, re.Pattern) else 0
        self._pattern = re.compile(rb"(?m)^(?:" + source + rb")\n", flags)
        index = self._pattern.groupindex
        self._groups = [(index[name], roles[name]) for name in sorted(roles, key=index.__getitem__)]
        self.rule = rule
        self.mode: Literal["train", "eval"] = mode
        self.rate_unit = rate_unit
        self.device = device
        self._line = line
        # (steps, epochs): without a step group, a row's step is round(epoch * steps / epochs) (a format that
        # prints only the epoch and states the steps of the run once).
        self._per_epoch = steps_per_epoch

    def unnumbered(self) -> TemplateDecoder:
        """The same decoder giving no step (where the format's line path numbers none: a step that went back)."""
        copy = TemplateDecoder.__new__(TemplateDecoder)
        for name in TemplateDecoder.__slots__:
            setattr(copy, name, getattr(self, name))
        copy._per_epoch = None
        copy._groups = [(group, role) for group, role in self._groups if role != "step"]
        return copy

    def decode(self, raw: bytes, first_line: int) -> list[StepColumns]:
        """See ``hwmon.events.BlockDecoder``."""
        n = raw.count(b"\n")
        rows = self._pattern.findall(raw)
        if len(rows) == n and n:
            if self._pattern.groups == 1:
                rows = [(row,) for row in rows]
            return [self._columns(list(zip(*rows, strict=True)), range(first_line, first_line + n))]
        return StepColumns.of(self._slow(raw, first_line))

    def _slow(self, raw: bytes, first_line: int) -> list[StepMetrics]:
        steps: list[StepMetrics] = []
        for offset, line in enumerate(raw.split(b"\n")[:-1]):
            number = first_line + offset
            found = self._pattern.findall(line + b"\n")
            if len(found) == 1:
                row = found[0] if self._pattern.groups > 1 else (found[0],)
                steps.append(self._columns([(value,) for value in row], range(number, number + 1)).row(0))
            elif self._line is not None:
                step = self._line(line.decode("ascii", "replace"), number)
                if step is not None:
                    steps.append(step)
        return steps

    def _columns(self, columns: list[tuple[bytes, ...]], lines: range) -> StepColumns:
        n = len(lines)
        values: dict[str, list[Any]] = {}
        extra: list[tuple[str, Sequence[float | None]]] = []
        ts: list[datetime | None] | None = None
        iso: list[str | None] | None = None
        frac: tuple[bytes, ...] | None = None
        stamps: tuple[bytes, ...] | None = None
        for group, role in self._groups:
            column = columns[group - 1]
            if role == "ts":
                stamps = column
            elif role == "ts_frac":
                frac = column
            elif role in ("step", "batch"):
                values[role] = _convert(column, int)
            elif role in _FLOAT_ROLES:
                values[role] = _convert(column, float)
            elif role in ("per_step_ms", "per_step_s"):
                scale = 1000.0 if role == "per_step_ms" else 1.0
                values["rate"] = [None if t is None or not t > 0 else scale / t for t in _convert(column, float)]
            elif role.startswith("extra%:"):
                extra.append((role[7:], [None if v is None else v / 100.0 for v in _convert(column, float)]))
            elif role.startswith("extra:"):
                extra.append((role[6:], _convert(column, float)))
        if stamps is not None:
            ts, iso = read_timestamps(stamps, frac)
        if "step" not in values and self._per_epoch is not None and values.get("epoch") is not None:
            steps, epochs = self._per_epoch
            values["step"] = [
                None if e is None or not math.isfinite(e) else int(round(e * steps / epochs)) for e in values["epoch"]
            ]
        return StepColumns(
            lines=lines,
            step=values.get("step") or [None] * n,
            loss=values.get("loss"),
            ts=ts,
            iso=iso,
            rate=values.get("rate"),
            global_rate=values.get("global_rate"),
            remaining_s=values.get("remaining_s"),
            epoch=values.get("epoch"),
            batch=values.get("batch"),
            extra=tuple(extra),
            mode=self.mode,
            rate_unit=self.rate_unit,
            device=self.device,
            rule=self.rule,
        )


_NUM = r"(?:[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|[-+]?(?i:nan|inf(?:inity)?))"  # (vocab.NUM)
_DICT_PAIR = re.compile(r"""(['"])([A-Za-z_][\w./-]{0,80})\1(\s*:\s*)(['"]?)(""" + _NUM + r")\4")
_DICT_GAP = re.compile(r"\s*,\s*")


def _dict_parts(text: str) -> list[re.Match[str]] | None:
    """The ``'key': number`` pairs of ``text`` when it is exactly ``{pair, pair, ...}`` (keys distinct), else None."""
    if not text.startswith("{") or not text.endswith("}"):
        return None
    found = list(_DICT_PAIR.finditer(text))
    if not found or found[0].start() != 1 or found[-1].end() != len(text) - 1:
        return None
    for a, b in zip(found, found[1:], strict=False):
        if _DICT_GAP.fullmatch(text, a.end(), b.start()) is None:
            return None
    keys = [m.group(2) for m in found]
    return found if len(set(keys)) == len(keys) else None


def dict_keys(text: str) -> list[str] | None:
    """The keys of a one-line dict whose every value is a number (quoted or not: ``{'loss': '0.5'}``), in order;
    None for any other line."""
    found = _dict_parts(text)
    return None if found is None else [m.group(2) for m in found]


@lru_cache(maxsize=64)
def _dict_pattern(text: str) -> tuple[bytes, tuple[str, ...]] | None:
    found = _dict_parts(text)
    if found is None or not text.isascii():
        return None
    parts = [re.escape(text[: found[0].start()])]
    for i, m in enumerate(found):
        if i:
            parts.append(re.escape(text[found[i - 1].end() : m.start()]))
        quote, key, sep, vq = m.group(1), m.group(2), m.group(3), m.group(4)
        parts.append(re.escape(quote + key + quote + sep + vq) + f"(?P<g{i}>{_NUM})" + re.escape(vq))
    parts.append(re.escape(text[found[-1].end() :]))
    return "".join(parts).encode("ascii"), tuple(m.group(2) for m in found)


def dict_decoder(
    text: str, roles: Mapping[str, Role], rule: str, steps_per_epoch: tuple[int, int] | None = None
) -> TemplateDecoder | None:
    """The ``TemplateDecoder`` of one-line dicts shaped like ``text``: the same keys in the same order, quoted and
    spaced the same, any numbers; ``roles`` gives each key's role (a key without one: None)."""
    compiled = _dict_pattern(text)
    if compiled is None:
        return None
    pattern, keys = compiled
    if any(k not in roles for k in keys):
        return None
    return TemplateDecoder(
        rule, pattern, {f"g{i}": roles[k] for i, k in enumerate(keys)}, steps_per_epoch=steps_per_epoch
    )


class Renumbered:
    """A ``BlockDecoder`` for step lines of one decoder that are not consecutive lines of the log (``lines``: the
    number of each): read back whole (``raw`` as the batch holds it, first line ``lines[0]``) every row gets its
    own line; any other subset is numbered on from ``first_line`` (the protocol's rule)."""

    __slots__ = ("_inner", "_lines", "rule")

    def __init__(self, inner: TemplateDecoder, lines: Sequence[int]) -> None:
        self._inner = inner
        self._lines = lines
        self.rule = inner.rule

    def decode(self, raw: bytes, first_line: int) -> list[StepColumns]:
        """See ``hwmon.events.BlockDecoder``."""
        found = self._inner.decode(raw, first_line)
        if first_line != self._lines[0] or sum(map(len, found)) != len(self._lines):
            return found
        out: list[StepColumns] = []
        at = 0
        for columns in found:
            n = len(columns)
            out.append(dataclasses.replace(columns, lines=self._lines[at : at + n]))
            at += n
        return out


def _convert(column: tuple[bytes, ...], kind: type[int] | type[float]) -> list[Any]:
    """One column's text as numbers (C-level ``map``); an empty group (it did not take part) is ``None``."""
    if b"" not in column:
        return list(map(kind, column))
    return [None if not v else kind(v) for v in column]


_READER = RecordReader()


def read_timestamps(
    stamps: Sequence[bytes], frac: Sequence[bytes] | None = None
) -> tuple[list[datetime | None], list[str | None]]:
    """The timestamps (as the record stage reads them) and their ISO text of a column of timestamp texts; with
    ``frac`` (the fraction digits in a column of their own) each distinct stamp and fraction is read once."""
    bases: dict[bytes, datetime | None] = {}
    for text in set(stamps):
        bases[text] = _READER.split(text.decode("ascii", "replace"))[0]
    if frac is None:
        ts = list(map(bases.__getitem__, stamps))
        iso_of = {text: None if base is None else base.isoformat() for text, base in bases.items()}
        return ts, list(map(iso_of.__getitem__, stamps))
    micro = {f: int((f + b"000000")[:6]) if f else 0 for f in set(frac)}
    base_iso = {text: None if base is None else base.isoformat() for text, base in bases.items()}
    deltas = {f: timedelta(microseconds=us) for f, us in micro.items()}
    frac_iso = {f: f".{us:06d}" if us else "" for f, us in micro.items()}
    if None not in bases.values():
        # Column by column at C speed: a line's time is its second plus its fraction, its ISO text the same.
        ts = list(map(operator.add, map(bases.__getitem__, stamps), map(deltas.__getitem__, frac)))
        iso = list(map(operator.add, map(base_iso.__getitem__, stamps), map(frac_iso.__getitem__, frac)))
        return ts, iso
    out_ts: list[datetime | None] = []
    out_iso: list[str | None] = []
    for text, f in zip(stamps, frac, strict=True):
        base = bases[text]
        if base is None:
            out_ts.append(None)
            out_iso.append(None)
        else:
            out_ts.append(base + deltas[f])
            out_iso.append(base_iso[text] + frac_iso[f])  # type: ignore[operator]
    return out_ts, out_iso


# --- texts ------------------------------------------------------------------------------------------------------


def spelled(values: Sequence[float | None]) -> list[bytes]:
    """Each value as the text Python writes for it (``repr``; ``b""`` for None), once per distinct value (a
    decoder's columns repeat values: a learning rate, a loss scale)."""
    kinds = set(map(type, values))
    if not kinds <= {float, type(None)} or 0.0 in values:
        # ints among floats, or zeros (0.0 and -0.0 are one key but two texts): each its own text
        return [b"" if v is None else repr(v).encode() for v in values]
    table: dict[float | None, bytes] = {None: b""}
    for value in set(values):
        if value not in table:
            table[value] = repr(value).encode()
    return list(map(table.__getitem__, values))


def texts_of(columns: StepColumns) -> StepTexts | None:
    """``columns`` as ``StepTexts``, for a decoder whose lines print numbers other than as their shortest texts
    (``3.7E+00``): each number spelled once per distinct value (``spelled``), each time by its ISO text; None when
    the rows are not numbered steps of consecutive lines."""
    n = len(columns)
    if not n or None in columns.step or list(columns.lines) != list(range(columns.lines[0], columns.lines[0] + n)):
        return None
    clock: dict[bytes, datetime | None] = {}
    stamps: list[bytes] | None = None
    if columns.ts is not None and any(t is not None for t in columns.ts):
        stamps = []
        for t in columns.ts:
            stamp = b"" if t is None else t.isoformat().encode()
            clock[stamp] = t
            stamps.append(stamp)

    def column(values: Sequence[float | None] | None) -> list[bytes] | None:
        return None if values is None else spelled(values)

    return StepTexts(
        lines=range(columns.lines[0], columns.lines[0] + n),
        step=[b"%d" % s for s in columns.step if s is not None],
        loss=column(columns.loss),
        rate=column(columns.rate),
        global_rate=column(columns.global_rate),
        epoch=column(columns.epoch),
        extra=tuple((name, spelled(values)) for name, values in columns.extra),
        stamps=stamps,
        clock=clock.get if stamps is not None else None,
        mode=columns.mode,
        rate_unit=columns.rate_unit,
    )
