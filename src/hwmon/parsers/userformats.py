"""User formats, lnav-style: rules a user writes in a TOML file, compiled and matched here. Pure: the text of the
files comes from the I/O layer (``hwmon.sources.formats``), which finds them.

A format file::

    name = "mytrainer"                 # optional; the file's name otherwise
    [[rule]]
    name = "step"                      # optional; the rule's number otherwise
    match = 'it=(?P<step>\\d+) obj=(?P<loss>\\S+) thr=(?P<rate>[\\d.]+)/s'
    [[rule]]
    match = '^ALL DONE$'
    event = "completed"

A rule's ``match`` is a Python regex, searched in the line (without a launcher's rank tag) and, when that fails, in
the line's message (without its timestamp and level). Its named groups are fields by their names — ``step``,
``total_steps``, ``epoch``, ``total_epochs``, ``loss``, ``rate``, ``lr``, ``eval_NAME`` (the eval metric NAME),
``path``, ``message``; any other group is a metric of that name — or by the rule's ``fields`` table
(``fields = { acc = "eval:accuracy", tput = "rate" }``). ``event`` says what a match is: ``step`` (the default),
``eval``, ``completed``, ``failed``, ``checkpoint``, ``phase-start``/``phase-end`` (with ``phase = "train"``,
or ``"phase-start:eval"``), ``error``, ``warning`` or ``ignore`` (the line is the format's, and says nothing).

The first rule (of the first format) that matches a line takes it: the built-in rules never see it. Events carry
``rule="format:<file-name>/<rule name or number>"``. A file that does not compile raises ``FormatError``, one line
naming the file, the rule and, for a bad regex, the position in it.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hwmon.events import (
    PHASE_NAMES,
    CheckpointSaved,
    ErrorSeen,
    EvalMetric,
    Event,
    PhaseEnded,
    PhaseName,
    PhaseStarted,
    RunCompleted,
    StepMetrics,
    TargetStated,
    WarningSeen,
)
from hwmon.parsers.fields import parse_number
from hwmon.parsers.records import Record

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = [
    "EVENTS",
    "FIELDS",
    "CauseSpec",
    "Format",
    "FormatError",
    "FormatRule",
    "UserFormats",
    "compile_format",
    "parse_format",
]

FIELDS = ("step", "total_steps", "epoch", "total_epochs", "loss", "rate", "lr", "path", "message")
"""Field names a group may have or be mapped to (besides ``eval:NAME`` and ``metric:NAME``)."""
EVENTS = (
    "step",
    "eval",
    "completed",
    "failed",
    "checkpoint",
    "phase-start",
    "phase-end",
    "error",
    "warning",
    "ignore",
)
_TOP_KEYS = {"name", "description", "rule", "cause"}
_CAUSE_KEYS = {"match", "name", "hint", "end", "weight"}
_RULE_KEYS = {"name", "match", "event", "phase", "fields"}
_MAX_RULES = 256
_MAX_MESSAGE = 2000


class FormatError(ValueError):
    """A format file that cannot be used; the message names the file, the rule and what is wrong."""


@dataclass(frozen=True, slots=True)
class FormatRule:
    """One compiled rule: its label (for provenance), regex, event and group -> field map."""

    label: str
    pattern: re.Pattern[str]
    event: str
    phase: PhaseName | None
    fields: tuple[tuple[str, str], ...]
    rule: str

    def describe(self) -> str:
        """The rule as ``hwmon formats`` lists it."""
        what = self.event + (f":{self.phase}" if self.phase else "")
        return f"{self.label}: {what} /{self.pattern.pattern}/"


@dataclass(frozen=True, slots=True)
class CauseSpec:
    """A known failure a user adds (a ``[[cause]]`` table, issue 21): a regex searched in the run's errors, its
    name, what to try, the end reason it means when it ends the run (``""`` none) and its weight (1 a consequence,
    2 a hang or a limit, 3 a root cause). ``hwmon.sources.formats`` hands these to ``hwmon.model.causes``."""

    name: str
    pattern: re.Pattern[str]
    hint: str
    end: str
    weight: int


@dataclass(frozen=True, slots=True)
class Format:
    """A compiled user format: its name, where it came from (a file path or an entry point), its rules and the
    known failures it adds (``[[cause]]``)."""

    name: str
    source: str
    rules: tuple[FormatRule, ...]
    causes: tuple[CauseSpec, ...] = ()


def parse_format(text: str, source: str) -> Format:
    """Compile a format file's TOML ``text``; ``source`` (its path) names it in errors and provenance."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise FormatError(f"{source}: not valid TOML: {exc}") from None
    return compile_format(data, source)


def compile_format(data: Mapping[str, Any], source: str) -> Format:
    """Compile an already parsed format (a TOML table, or a dict an entry point gave)."""
    file_name = _file_name(source)
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise FormatError(f"{source}: unknown key {unknown[0]!r} (a format has: name, description, [[rule]])")
    name = data.get("name", _stem(file_name))
    if not isinstance(name, str) or not name.strip():
        raise FormatError(f"{source}: 'name' must be a non-empty string")
    tables = data.get("cause", [])
    if not isinstance(tables, list) or len(tables) > _MAX_RULES:
        raise FormatError(f"{source}: 'cause' must be a list of [[cause]] tables (at most {_MAX_RULES})")
    causes = tuple(_compile_cause(table, i, source) for i, table in enumerate(tables, start=1))
    rows = data.get("rule")
    if rows is None and causes:
        rows = []  # a file of known failures only
    elif not isinstance(rows, list) or not rows:
        raise FormatError(f"{source}: no rules: add at least one [[rule]] with a 'match' regex")
    if len(rows) > _MAX_RULES:
        raise FormatError(f"{source}: {len(rows)} rules; at most {_MAX_RULES}")
    rules = tuple(_compile_rule(row, i, source, file_name) for i, row in enumerate(rows, start=1))
    return Format(name.strip(), source, rules, causes)


def _compile_cause(table: object, index: int, source: str) -> CauseSpec:
    """One ``[[cause]]`` table: ``match`` (a regex), ``name``, ``hint``, optional ``end`` and ``weight``."""
    where = f"{source}: cause {index}"
    if not isinstance(table, Mapping):
        raise FormatError(f"{where}: not a table")
    unknown = sorted(set(table) - _CAUSE_KEYS)
    if unknown:
        raise FormatError(f"{where}: unknown key {unknown[0]!r} (a cause has: match, name, hint, end, weight)")
    pattern, name, hint = table.get("match"), table.get("name"), table.get("hint", "")
    end, weight = table.get("end", ""), table.get("weight", 3)
    if not isinstance(name, str) or not name.strip():
        raise FormatError(f"{where}: 'name' must be a non-empty string")
    if not isinstance(pattern, str) or not pattern:
        raise FormatError(f"{where} ({name}): 'match' must be a regex")
    if not isinstance(hint, str) or not isinstance(end, str):
        raise FormatError(f"{where} ({name}): 'hint' and 'end' must be strings")
    if not isinstance(weight, int) or isinstance(weight, bool) or not 1 <= weight <= 3:
        raise FormatError(f"{where} ({name}): 'weight' must be 1, 2 or 3")
    try:
        compiled = re.compile(pattern, re.IGNORECASE)
    except re.error as exc:
        raise FormatError(f"{where} ({name}): bad regex at position {exc.pos}: {exc.msg}") from None
    return CauseSpec(name.strip()[:80], compiled, hint.strip()[:300], end.strip().upper()[:32], weight)


def _compile_rule(row: object, index: int, source: str, file_name: str) -> FormatRule:
    where = f"{source}: rule {index}"
    if not isinstance(row, dict):
        raise FormatError(f"{where}: a rule must be a table ([[rule]])")
    label = row.get("name", str(index))
    if not isinstance(label, str) or not label.strip():
        raise FormatError(f"{where}: 'name' must be a non-empty string")
    label = label.strip()
    if label != str(index):
        where = f"{where} ({label!r})"
    unknown = sorted(set(row) - _RULE_KEYS)
    if unknown:
        raise FormatError(f"{where}: unknown key {unknown[0]!r} (a rule has: {', '.join(sorted(_RULE_KEYS))})")
    regex = row.get("match")
    if not isinstance(regex, str) or not regex:
        raise FormatError(f"{where}: 'match' (a regex) is missing")
    try:
        pattern = re.compile(regex)
    except re.error as exc:
        pos = exc.pos if exc.pos is not None else 0
        before = regex[max(0, pos - 30) : pos]
        shown = regex if len(regex) <= 100 else regex[:100] + "..."
        raise FormatError(
            f"{where}: bad regex at position {pos} (after '{before}'): {exc.msg}; the regex: {shown}"
        ) from None
    event = row.get("event", "step")
    phase: object = row.get("phase")
    if isinstance(event, str) and event.startswith(("phase-start:", "phase-end:")):
        event, _, phase = event.partition(":")
    if event not in EVENTS:
        raise FormatError(f"{where}: unknown event {event!r} (one of: {', '.join(EVENTS)})")
    if event in ("phase-start", "phase-end"):
        if phase not in PHASE_NAMES:
            raise FormatError(f"{where}: event {event!r} needs phase = one of: {', '.join(PHASE_NAMES)}")
    elif phase is not None:
        raise FormatError(f"{where}: 'phase' is only for the phase-start and phase-end events")
    fields = _fields(row.get("fields", {}), pattern, where)
    if event in ("step", "eval") and not any(f != "message" for _, f in fields):
        raise FormatError(f"{where}: a {event} rule needs a named group, e.g. (?P<loss>\\S+)")
    rule = f"format:{file_name}/{label}"
    phase_name = next((p for p in PHASE_NAMES if p == phase), None)
    return FormatRule(label, pattern, str(event), phase_name, fields, rule)


def _fields(mapping: object, pattern: re.Pattern[str], where: str) -> tuple[tuple[str, str], ...]:
    if not isinstance(mapping, dict):
        raise FormatError(f"{where}: 'fields' must be a table of group = \"field\"")
    out: dict[str, str] = {}
    for group in pattern.groupindex:
        if group in FIELDS:
            out[group] = group
        elif group.startswith("eval_") and len(group) > 5:
            out[group] = "eval:" + group[5:]
        else:
            out[group] = "metric:" + group
    for group, target in mapping.items():
        if group not in pattern.groupindex:
            raise FormatError(f"{where}: fields names group {group!r}, which the regex does not have")
        if not isinstance(target, str) or not (
            target in FIELDS or (target.startswith(("eval:", "metric:")) and len(target.split(":", 1)[1]) > 0)
        ):
            raise FormatError(
                f"{where}: field {target!r} for group {group!r} is not one of {', '.join(FIELDS)}, eval:NAME, "
                "metric:NAME"
            )
        out[group] = target
    return tuple(out.items())


def _file_name(source: str) -> str:
    return source.replace("\\", "/").rsplit("/", 1)[-1] or source


def _stem(file_name: str) -> str:
    return file_name[:-5] if file_name.endswith(".toml") else file_name


class UserFormats:
    """The user formats of one stream, matched line by line (see the module doc)."""

    def __init__(self, formats: Sequence[Format]) -> None:
        self._rules = tuple(rule for fmt in formats for rule in fmt.rules)
        self._steps: dict[str, int] = {}
        self._targets: dict[tuple[str, str], int] = {}

    def feed(self, record: Record) -> list[Event] | None:
        """The events of the first rule that matches ``record``, or None when none does."""
        found = self.match(record)
        return None if found is None else self._events(found[0], found[1], record)

    def match(self, record: Record) -> tuple[FormatRule, re.Match[str]] | None:
        """The first rule that matches ``record`` (its line, else its message) and its match."""
        text, msg = record.text, record.msg
        for rule in self._rules:
            m = rule.pattern.search(text)
            if m is None and msg != text:
                m = rule.pattern.search(msg)
            if m is not None:
                return rule, m
        return None

    def _events(self, rule: FormatRule, m: re.Match[str], record: Record) -> list[Event]:
        number, ts, name = record.number, record.ts, rule.rule
        values: dict[str, str] = {}
        for group, target in rule.fields:
            raw = m.group(group)
            if raw is not None:
                values[target] = raw
        message = values.get("message", record.msg.strip())[:_MAX_MESSAGE]
        event = rule.event
        if event == "ignore":
            return []
        if event == "completed":
            return [RunCompleted(number, ts, message=message, rule=name)]
        if event == "failed":
            return [ErrorSeen(number, ts, message, True, "format", rule=name)]
        if event == "error":
            return [ErrorSeen(number, ts, message, False, "format", rule=name)]
        if event == "warning":
            return [WarningSeen(number, ts, message, "format", rule=name)]
        if event == "phase-start" and rule.phase is not None:
            return [PhaseStarted(number, ts, rule.phase, message[:80], rule=name)]
        if event == "phase-end" and rule.phase is not None:
            return [PhaseEnded(number, ts, rule.phase, rule=name)]
        if event == "checkpoint":
            return [CheckpointSaved(number, ts, _int(values.get("step")), values.get("path"), rule=name)]
        return self._metrics(rule, values, record)

    def _metrics(self, rule: FormatRule, values: dict[str, str], record: Record) -> list[Event]:
        number, ts, name = record.number, record.ts, rule.rule
        out: list[Event] = []
        step = _int(values.get("step"))
        epoch = _num(values.get("epoch"))
        for what, key in (("step", "total_steps"), ("epoch", "total_epochs")):
            total = _int(values.get(key))
            if total is not None and total > 0 and self._targets.get((name, what)) != total:
                self._targets[(name, what)] = total
                current = step if what == "step" else _whole(epoch)
                out.append(TargetStated(number, ts, "step" if what == "step" else "epoch", total, current, rule=name))
        extra: list[tuple[str, float]] = []
        for target, raw in values.items():
            value = _num(raw)
            if value is None:
                continue
            if target.startswith("eval:"):
                out.append(EvalMetric(number, ts, target[5:], value, rule=name))
            elif target.startswith("metric:") and len(extra) < 16:
                extra.append((target[7:], value))
            elif target == "lr":
                extra.append(("lr", value))
        if rule.event == "eval":
            return out
        loss = _num(values.get("loss"))
        rate = _num(values.get("rate"))
        if step is None and loss is None and rate is None and epoch is None and not extra:
            return out
        out.append(StepMetrics(number, ts, step, loss=loss, rate=rate, epoch=epoch, extra=tuple(extra), rule=name))
        return out


def _num(raw: str | None) -> float | None:
    return None if raw is None else parse_number(raw)


def _whole(value: float | None) -> int | None:
    return int(value) if value is not None and math.isfinite(value) else None


def _int(raw: str | None) -> int | None:
    value = _num(raw)
    if value is None or not math.isfinite(value) or value < 0 or value >= 2**53:
        return None
    return int(value)
