"""Structured lines: a JSON object or a Python dict repr on a line, behind any prefix (a logger's, a rank's, a
``:::TAG`` marker). Pure; no format is named here.

The object is parsed (``json``, else ``ast.literal_eval`` for a dict repr, else the vocabulary's quoted pairs for a
repr that holds ``tensor(...)`` or ``nan``), flattened (``{"metadata": {"epoch_num": 3}}`` -> ``metadata.epoch_num``)
and its numbers named by their keys, with the roles of ``hwmon.parsers.fields``:

- eval-named keys -> one ``EvalMetric`` each, at once;
- a counter key (``step``, ``iter``, ``global_step``...) with a loss or other metrics -> ``StepMetrics`` at once;
- a loss without a counter is a step only when records of the same shape (the same keys) repeat: the first is held
  until the second arrives (one end-of-run record with an averaged ``train_loss`` is a summary, not a step). Such a
  step takes the position of the anonymous progress bar drawn since the last record (metrics written under a bar),
  else it is numbered by its order;
- a *named record* — ``{"key": NAME, "value": V, ...}`` (also ``metric``/``name``/``tag`` for the name) — is the
  field ``NAME = V`` with the record's other numbers (its metadata) as context: ``{"key": "eval_accuracy",
  "value": 0.7, "metadata": {"epoch_num": 3}}`` is an eval metric. A named record without a value is an event of
  the run: ``run_start`` -> ``RunStarted``, ``run_stop``/``run_end`` -> ``RunCompleted`` (failed when its status
  says so), ``eval_start``/``eval_stop`` (and ``*_start``/``*_stop`` of eval, validation, train) -> that phase.

h17g: *tab-separated cells* are a record too: ``N:<TAB>learn: 0.84<TAB>test: 2.25<TAB>best: 2.25 (0)<TAB>total:
79.4ms<TAB>remaining: 1m 19s`` — a leading bare integer is the loop's counter, each other cell is ``name: value``
(a number, maybe followed by a parenthesis, or a duration such as ``1m 19s`` in seconds). Beside a cell named by
an evaluated set (``test``), a cell named by the training set (``learn``, ``train``) is the training loss. A
``remaining`` / ``eta`` time of zero at a counter says the loop reached its end there (``TargetStated`` there).

h17g: a vertical boxed table (``| key | value |`` rows between rules of dashes, ``hwmon.parsers.structured_box``)
is one record, read as a flattened object.

Events carry ``rule="structured:json"``, ``"structured:tabs"``, ``"structured:box"``, ``"structured:dict"`` or
``"structured:record"``.
"""

from __future__ import annotations

import ast
import json
import math
import re
from dataclasses import dataclass, field

from hwmon.events import (
    EvalMetric,
    Event,
    PhaseEnded,
    PhaseName,
    PhaseStarted,
    RunCompleted,
    RunStarted,
    StepMetrics,
    TargetStated,
)
from hwmon.parsers import vocab
from hwmon.parsers.fields import best_loss, eval_name, eval_step, field_role, normal_name, objective_name, share
from hwmon.parsers.fields import rate_unit as rate_unit_of
from hwmon.parsers.records import Record
from hwmon.parsers.structured_box import BoxedRecords

__all__ = ["MAX_BODY", "MAX_SHAPES", "StructuredLines", "flatten"]

MAX_BODY = 16384
"""A longer object is a dump, not a metrics record."""
MAX_SHAPES = 256
"""Record shapes remembered per source (the oldest are forgotten first)."""
_MAX_REPR = 4096  # a dict repr is parsed by the compiler (~100x json's cost): longer ones are read by their pairs
_MAX_FIELDS = 64
_MAX_DEPTH = 3
_NAME_KEYS = ("key", "metric", "name", "tag")
_FAILED = ("fail", "abort", "error", "crash", "killed", "timeout")
_PHASE_WORDS: dict[str, PhaseName] = {
    "eval": "eval",
    "evaluation": "eval",
    "validation": "eval",
    "val": "eval",
    "test": "eval",
    "train": "train",
    "training": "train",
    "checkpoint": "checkpoint",
    "save": "checkpoint",
}


@dataclass(slots=True)
class _Shape:
    """Records with the same keys: how often seen, the one held until the shape repeats."""

    seen: int = 0
    held: list[tuple[Record, StepMetrics]] = field(default_factory=list)


class StructuredLines:
    """See the module doc. ``feed`` returns the line's events, or ``None`` when it is not a structured line."""

    def __init__(self) -> None:
        self._shapes: dict[tuple[str, ...], _Shape] = {}
        self._bar_step: int | None = None
        self._last_step = -1
        self._target: int | None = None
        self._box = BoxedRecords()

    def bar(self, n: int) -> None:
        """An anonymous progress bar was drawn at position ``n`` (the position of metrics written under it)."""
        self._bar_step = n

    def feed(self, record: Record) -> list[Event] | None:
        msg = record.msg
        end = msg.rstrip()
        if end[:1] in _BOX_FIRST:
            boxed = self._box.feed(end)
            if boxed is not None:
                return self._fields(record, "structured:box", boxed) or [] if boxed else []
        if "\t" in end and len(end) <= _MAX_REPR:
            tabbed = _tab_cells(end)
            if tabbed is not None:
                return self._tabs(record, *tabbed)
        if not end.endswith("}") or len(end) > MAX_BODY:
            return None
        brace = end.find("{")
        if brace < 0:
            return None
        parsed = _parse(end[brace:])
        if parsed is None:
            return None
        kind, fields = parsed
        named = _named_record(fields)
        if named is not None:
            return self._record(record, named, fields)
        return self._fields(record, f"structured:{kind}", fields)

    def finish(self) -> list[Event]:
        """End of input: records held for a shape that never repeated are summaries, not steps; nothing comes out."""
        for shape in self._shapes.values():
            shape.held.clear()
        return []

    # ------------------------------------------------------------------ plain objects

    def _fields(self, record: Record, rule: str, fields: list[tuple[str, float | str]]) -> list[Event] | None:
        number, ts = record.number, record.ts
        out: list[Event] = []
        counter: int | None = None
        epoch: float | None = None
        total: int | None = None
        losses: list[tuple[str, float]] = []
        rate: float | None = None
        rate_unit = "samples/sec"
        extra: list[tuple[str, float]] = []
        names: list[str] = []
        for name, value in fields:
            if isinstance(value, str):
                continue
            names.append(name)
            role = field_role(_leaf(name))
            if role == "eval":
                out.append(EvalMetric(number, ts, eval_name(_leaf(name)), share(_leaf(name), value), rule=rule))
            elif role == "counter" and counter is None and _whole(value):
                counter = int(value)
            elif role == "epoch" and epoch is None and math.isfinite(value):
                epoch = value
            elif role == "loss":
                losses.append((_leaf(name), value))
            elif role == "rate" and rate is None:
                rate, rate_unit = value, rate_unit_of(_leaf(name))
            elif role in ("lr", "metric") and len(extra) < 16:
                if _leaf(name) in ("total_steps", "max_steps", "num_steps") and _whole(value):
                    total = int(value)
                    continue
                extra.append(("lr", value) if role == "lr" else (_leaf(name), share(_leaf(name), value)))
        picked = best_loss([n for n, _ in losses])
        loss = losses[picked][1] if picked is not None else None
        if picked is not None:
            extra.extend(item for i, item in enumerate(losses) if i != picked)
        elif counter is not None or epoch is not None:
            # No loss-named figure on a loop's record: its one objective-named figure (``Error``, ``cost``) is it.
            objectives = [i for i, (n, _) in enumerate(extra) if objective_name(n)]
            if len(objectives) == 1:
                loss = extra.pop(objectives[0])[1]
        if loss is None and rate is None and (counter is None or not extra):
            evals = [(e.name, e.value) for e in out if isinstance(e, EvalMetric)]
            found = eval_step(number, ts, evals, rule, counter)
            return [*out, found] if found is not None else (out or None)
        step = StepMetrics(
            number, ts, counter, loss=loss, rate=rate, rate_unit=rate_unit, epoch=epoch, extra=tuple(extra), rule=rule
        )
        if counter is not None:
            if total is not None and total != self._target:
                self._target = total
                out.append(TargetStated(number, ts, "step", total, counter, rule=rule))
            self._last_step = max(self._last_step, counter)
            out.append(step)
            return out
        # No counter: a step only when records of this shape repeat.
        key = tuple(sorted(names))
        shape = self._shape(key)
        shape.seen += 1
        step = _with_step(step, self._take_bar())
        if shape.seen == 1:
            shape.held.append((record, step))
            return out
        for _old_record, old in shape.held:
            out.append(self._numbered(old))
        shape.held.clear()
        out.append(self._numbered(step))
        return out

    def _tabs(self, record: Record, counter: int | None, fields: list[tuple[str, float | str]]) -> list[Event] | None:
        """h17g: a record of tab-separated cells (see the module doc)."""
        named: list[tuple[str, float | str]] = [("iteration", float(counter))] if counter is not None else []
        if any(field_role(name) == "eval" for name, _ in fields):
            # Beside an evaluated set's measure, the training set's own name is its measure: the loss it minimises.
            fields = [(f"{name} loss" if name in _TRAIN_SETS else name, value) for name, value in fields]
        out = self._fields(record, "structured:tabs", named + fields)
        if out is None or counter is None:
            return out
        if any(name in _REMAINING and value == 0.0 for name, value in fields):
            # Nothing remains at this counter: the loop's end is here.
            self._target = counter
            out.insert(0, TargetStated(record.number, record.ts, "step", counter, counter, rule="structured:tabs"))
        return out

    def _take_bar(self) -> int | None:
        n, self._bar_step = self._bar_step, None
        return n

    def _numbered(self, step: StepMetrics) -> StepMetrics:
        if step.step is not None:
            if step.step < self._last_step:
                return _with_step(step, None)  # never a step that goes back (a record printed late)
            self._last_step = step.step
        return step

    def _shape(self, key: tuple[str, ...]) -> _Shape:
        shape = self._shapes.get(key)
        if shape is None:
            if len(self._shapes) >= MAX_SHAPES:
                self._shapes.pop(next(iter(self._shapes)))
            shape = self._shapes[key] = _Shape()
        return shape

    # ------------------------------------------------------------------ named records

    def _record(
        self, record: Record, named: tuple[str, float | str | None], fields: list[tuple[str, float | str]]
    ) -> list[Event] | None:
        name, value = named
        rule = "structured:record"
        number, ts = record.number, record.ts
        context = [(k, v) for k, v in fields if k not in _NAME_KEYS and k != "value"]
        if isinstance(value, float):
            if field_role(name) == "eval":
                return [EvalMetric(number, ts, eval_name(name), share(name, value), rule=rule)]  # no eval step
            return self._fields(record, rule, [(name, value), *context])
        # An event of the run, named by its key.
        low = name.lower()
        head, _, tail = low.rpartition("_")
        status = next((str(v).lower() for k, v in context if _leaf(k) == "status" and isinstance(v, str)), "")
        if low in ("run_start", "init_start"):
            return [RunStarted(number, ts, None, rule=rule)] if low == "run_start" else None
        if low in ("run_stop", "run_end", "run_final"):
            failed = any(word in status for word in _FAILED)
            return [RunCompleted(number, ts, success=not failed, message=f"{name} {status}".strip(), rule=rule)]
        phase = _PHASE_WORDS.get(head)
        if phase is not None and tail in ("start", "begin"):
            return [PhaseStarted(number, ts, phase, name, rule=rule)]
        if phase is not None and tail in ("stop", "end", "done"):
            return [PhaseEnded(number, ts, phase, rule=rule)]
        return None


_BOX_FIRST = frozenset("|-=+")
_TRAIN_SETS = frozenset({"learn", "train", "training"})
_REMAINING = frozenset({"remaining", "eta", "time remaining", "time left", "left"})
_TAB_COUNTER = re.compile(r"^\[?(\d{1,12})\]?:?$")
_TAB_CELL = re.compile(r"^([A-Za-z][\w .'/%-]{0,48}?)\s*[:=]\s*(\S.*)$")
_TAB_NUMBER = re.compile(r"^([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|nan|inf)(?:\s*\([^)]*\))?$")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(d|h|m|min|s|sec|ms|us|\u00b5s|ns)\b")
_DURATION_UNITS = {"d": 86400.0, "h": 3600.0, "m": 60.0, "min": 60.0, "s": 1.0, "sec": 1.0}
_DURATION_UNITS.update({"ms": 1e-3, "us": 1e-6, "\u00b5s": 1e-6, "ns": 1e-9})


def _tab_cells(line: str) -> tuple[int | None, list[tuple[str, float | str]]] | None:
    """h17g: ``(counter, fields)`` of a line of tab-separated ``name: value`` cells behind an optional bare counter
    (at least two named numbers), else None."""
    cells = [cell.strip() for cell in line.split("\t")]
    cells = [cell for cell in cells if cell]
    if len(cells) < 2 or len(cells) > _MAX_FIELDS:
        return None
    counter: int | None = None
    m = _TAB_COUNTER.match(cells[0])
    if m is not None:
        counter = int(m.group(1))
        cells = cells[1:]
    fields: list[tuple[str, float | str]] = []
    for cell in cells:
        m = _TAB_CELL.match(cell)
        if m is None:
            return None
        value = _cell_number(m.group(2).strip())
        if value is None:
            return None
        fields.append((normal_name(m.group(1)), value))
    return (counter, fields) if len(fields) >= 2 else None


def _cell_number(text: str) -> float | None:
    """A cell's number (``0.25``, ``0.87 (198)``) or a duration in seconds (``79.4ms``, ``1m 19s``, ``0us``)."""
    m = _TAB_NUMBER.match(text)
    if m is not None:
        return float(m.group(1))
    parts = _DURATION_PART.findall(text)
    if not parts or _DURATION_PART.sub("", text).strip():
        return None
    return sum(float(n) * _DURATION_UNITS[unit] for n, unit in parts)


def _named_record(fields: list[tuple[str, float | str]]) -> tuple[str, float | str | None] | None:
    """``(NAME, value)`` of a ``{"key": NAME, "value": V}`` record (value None when it has none), else None."""
    keys = dict(fields)
    for name_key in _NAME_KEYS:
        name = keys.get(name_key)
        if isinstance(name, str) and name and len(name) <= 80:
            value = keys.get("value")
            if isinstance(value, float):
                return normal_name(name), value
            if "value" in keys or any(k.startswith("value.") for k in keys):
                return normal_name(name), None
            return (normal_name(name), None) if name_key == "key" else None
    return None


def _parse(body: str) -> tuple[str, list[tuple[str, float | str]]] | None:
    """``(kind, flattened fields)`` of an object's text, or None when it is not an object."""
    obj: object = None
    kind = "dict"
    if body[1:2] in ('"', "}") or body[1:3] == ' "':
        try:
            obj = json.loads(body)
            kind = "json"
        except ValueError:
            obj = None
    if obj is None and len(body) <= _MAX_REPR:
        try:
            obj = ast.literal_eval(body)
        except Exception:  # SyntaxError, ValueError, RecursionError, MemoryError: not a literal
            obj = None
    if isinstance(obj, dict):
        fields: list[tuple[str, float | str]] = []
        flatten(obj, "", fields, 0)
        return (kind, fields) if fields else None
    if obj is None and ("'" in body or '"' in body):
        found = vocab.pairs(body)
        if found:
            return "dict", [(p.key, p.value) for p in found[:_MAX_FIELDS]]
    return None


def flatten(obj: dict[object, object], prefix: str, out: list[tuple[str, float | str]], depth: int) -> None:
    """The numbers and strings of a nested object as ``(dotted.key, value)`` (numeric strings as numbers)."""
    for key, value in obj.items():
        if len(out) >= _MAX_FIELDS:
            return
        name = prefix + normal_name(str(key))
        if isinstance(value, bool) or value is None:
            if value is None and name == "value":
                out.append((name, "null"))
            continue
        if isinstance(value, int | float):
            try:
                out.append((name, float(value)))
            except OverflowError:  # an int past float's range
                out.append((name, math.inf if value > 0 else -math.inf))
        elif isinstance(value, str):
            number = _number(value)
            out.append((name, number if number is not None else value[:200]))
        elif isinstance(value, dict) and depth < _MAX_DEPTH:
            flatten(value, name + ".", out, depth + 1)


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _leaf(name: str) -> str:
    """The role-bearing part of a dotted key (``metadata.epoch_num`` -> ``epoch_num``)."""
    return name.rpartition(".")[2]


def _whole(value: float) -> bool:
    return math.isfinite(value) and value >= 0 and value == int(value) and value < 2**53


def _with_step(step: StepMetrics, n: int | None) -> StepMetrics:
    return StepMetrics(
        step.line,
        step.ts,
        n,
        loss=step.loss,
        rate=step.rate,
        rate_unit=step.rate_unit,
        epoch=step.epoch,
        extra=step.extra,
        rule=step.rule,
    )
