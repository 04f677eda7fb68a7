"""Learned line templates: read training loops nobody wrote a rule for. Pure.

Every message no format rule took is cut at its numbers (one C-level ``split``); the text between the numbers is
the message's *template* (``It <*> Loss <*>``, ``[<*>] loss=<*>, accuracy=<*>``), as in Drain (He et al., ICWS 2017)
and the loghub benchmark, with numbers as the variable tokens. A template is analysed once, when it is first seen:
each number is named by the words before it in any layout (``loss 2.4``, ``loss: 2.4``, ``loss=2.4``,
``'loss': 2.4``, ``| lm loss: 3.7E+00 |``, ``train loss 0.31, val loss 0.66``) and the name gets a role
(``hwmon.parsers.fields``). A template with a counter and metric fields is a **step template**:

- a counter named by the vocabulary (``step``, ``iter``, ``It``, ``Batch``, ``global_step``...), or ``[N]`` opening
  the message, reads from the first line;
- an unnamed integer (``[3/300]``, ``3/300 - loss: ...``) becomes the counter when it rises from one line of the
  template to the next: the template's first lines are held (at most ``HOLD``) until it does, then released with
  their steps (a template whose integers never rise gives its lines without a step);
- a number right after a counter and ``/`` is its total (``TargetStated``); a counter that falls back to 0 or 1
  while the line prints no epoch is a per-epoch index: its steps carry the count of such restarts as their epoch
  (so they are not read as a new run going back).

Eval-named fields (``val_loss``, ``test acc``, or any field after the word Validation/Test) are ``EvalMetric``s,
not the training loss. Templates are per source (one ``TemplateStage`` per stream), at most ``MAX_TEMPLATES`` of
them (the least used are forgotten first), and each knows the line that taught it (``Template.taught_by``); their
events carry ``rule="template:<id>"``.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass, field
from datetime import datetime

from hwmon.events import EvalMetric, Event, StepMetrics, TargetStated
from hwmon.parsers import vocab
from hwmon.parsers.fields import (
    as_share,
    best_loss,
    bookkeeping,
    context_is_eval,
    count_after,
    eval_name,
    eval_step,
    field_role,
    normal_name,
    objective_name,
    rate_unit,
    share,
    share_like,
)
from hwmon.parsers.records import Record

__all__ = ["HOLD", "MAX_LINE", "MAX_SLOTS", "MAX_TEMPLATES", "NUMBER", "Slot", "Template", "TemplateStage"]

MAX_TEMPLATES = 512
"""Templates remembered per source; beyond this the least used half is forgotten."""
MAX_SLOTS = 128
"""A message with more numbers than this is a table or a dump, not a step line (a reinforcement-learning step line has
~80 named figures)."""
MAX_LINE = 4096
"""Longer messages are not templated (a step line of ~80 ``key:value`` fields is ~3 KB; a 50 MB line must stay
cheap)."""
HOLD = 4
"""Lines of a template held while it is not yet known whether one of its integers counts steps."""

# A number as a log prints it: not glued to a word on its left (``step_100``, ``0x1f``, ``v1.2.3``, ``acc@5``,
# ``mAP50-95`` are names, not numbers), optionally followed by a short unit (``3.91G``, ``12ms``, ``95.5%``,
# ``850tokens/s``); ``nan``/``inf`` only as a value (after ``=`` or ``:``, or before a separator), so "number of
# nan iterations" stays words.
_NUMBER_BODY = (
    r"[-+]?(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
    r"(?=[A-Za-z%]{0,6}(?:/[A-Za-z]{1,6})?(?!\w)(?!\.\d))"
    r"|(?<=[=:])[-+]?(?:nan|inf)(?!\w)|(?<=[=:] )[-+]?(?:nan|inf)(?!\w)|[-+]?(?:nan|inf)(?=\s*(?:$|[,;|})\]]))"
)
# The padding before a number (``iteration       10/     100``) belongs to the number, so a column padded to
# its width is one template whatever the width of its values. The look-aheads only let the scan stop where a
# number can start.
# (``top 5 acc``: the k of a top-k figure is part of its name, like ``top5`` and ``top-5``.)
NUMBER = re.compile(
    r"(?=[ \t]*[-+\d.nNiI])(?<![ \t])[ \t]*(?<![\w.@])(?<!\w-)(?<!\btop )(" + _NUMBER_BODY + ")", re.IGNORECASE
)
_NUMBER_GROUP = r"[ \t]*(?<![\w.@])(?<!\w-)(?<!\btop )(" + _NUMBER_BODY + ")"
_DIGIT = re.compile(r"\d")
_RECENT = 4
_COUNTER_LINES = 8  # counter lines remembered for the loss lines after them (a held loss line is read late)
_GLOBAL_COUNTERS = frozenset({"step", "steps", "global_step", "global step", "globalstep", "update", "updates"})
# The name of a number: the last words of the text before it, back to a delimiter.
_NAME_END = re.compile(r"(?:\s|['\"]|[=:#\[]|tensor\(|\()+$")
_DELIMITER = re.compile(r"[|,;{}\[\]<>:=#]|\s-+\s|^-+\s")
_TOKEN = re.compile(r"\S+")
# h17g: the plain names an epoch's summary line gives its (mean) training loss under.
_SUMMARY_LOSS = frozenset(
    {"loss", "train loss", "training loss", "train_loss", "avg loss", "average loss", "mean loss"}
)
# h17g: a verb between a name and its number ("loss is 1.09", "loss was 0.5"): the name is the words before it.
_COPULA = re.compile(r"\s+(?:is|was|are|were|equals|becomes|now)$", re.IGNORECASE)
_WHERE = frozenset({"at", "@", "after", "before"})
_TRAIN_ALONE = frozenset({"train", "training"})
_WORDS = re.compile(r"[a-z]+")
_COUNT_MODIFIERS = frozenset({"current", "global", "total", "train", "training", "report"})
_COMMA_NAMED = re.compile(r"(?:^|,)\s*([A-Za-z_][\w./-]*)\s*,\s*$")
_COUNTED_UNIT = re.compile(r"\s*(batch(?:es)?|steps?|iters?|iterations?|updates?)\b", re.IGNORECASE)
_COPULA_ONLY = re.compile(r"^\s*(?:is|was|=|:)\s*$", re.IGNORECASE)
_NAMED_AT = re.compile(
    r"(?:^|[\s,;|\]])(?P<name>[A-Za-z][\w./-]*(?: [A-Za-z][\w./-]*){0,2}) (?:at|after|@) [A-Za-z_ ]{1,20}$"
)
_VALUE_UNIT = re.compile(r"(?<=\d) ?[A-Za-z\u00b5][A-Za-z/^\d]{0,7}\s*$")  # a unit after a value: "mm", "mm/s^2"
_WHOLE_NAME = re.compile(r"[A-Za-z][\w#@ ./-]*(?: \([^()\d]{1,24}\))?")
_NAME_NOTE = re.compile(r"\w \([^()\d]{1,24}\)$")  # "Error (MPJPE)": a name's own note in parentheses
_DETAIL_LINES = 3  # a counter-less loss line this close after a counted step details it (see Template.details)
_TOP_K = re.compile(r"@\s*\d|\btop[\s_-]?\d", re.IGNORECASE)  # "acc@1", "Acc@5", "top1", "top-5 acc"
_TRAIN_WORD = re.compile(r"(?<![A-Za-z])(?:train|training|batch|iter|iteration|step)(?![A-Za-z])", re.IGNORECASE)
# A word of a name: "loss", "(Step", "acc@1", "Acc(%)", "valid_1's" (h17c: a name's own percent sign, a possessive),
# or a unit "(%)", "(ms)".
_WORD = re.compile(r"['\"]?\(?[A-Za-z_][\w./@-]*(?:'s|\(%\)|%)?\)?['\"]?$|\([\w./%-]{1,12}\)$")
_UNIT_AFTER = re.compile(r"^\s?(?P<unit>[A-Za-z%]{1,8}(?:\s?/\s?[A-Za-z]{1,6})?)(?![\w])")
_KEY_SEP = "\x00"
# ``key=word`` assignments (``mode=train``, ``bias=True``, ``dataset='x'``): many of them make a line a
# configuration dump (an argparse Namespace, a kwargs repr), whatever numbers it also holds.
# An object's repr with keyword arguments (``Namespace(lr=0.1, ...)``, ``Config(steps=5)``): settings, not metrics.
_OBJECT_REPR = re.compile(r"^\W{0,3}[A-Za-z_][\w.]*\((?:[A-Za-z_]\w*=|\))")
_WORD_ASSIGNMENT = re.compile(r"(?<![\w.])[A-Za-z_][\w.-]*\s?=\s?['\"]?[A-Za-z_'\"]")


@dataclass(slots=True)
class Slot:
    """One number of a template: its name, role, and whether it is the total of the slot before it (``3/300``)."""

    name: str
    role: str | None
    integer: bool
    total_of: int = -1
    bracket_counter: bool = False
    percent: bool = False
    share: bool = False  # h17c: an accuracy-like name: a value in (1, 100] is a percent (fields.share)
    value_from: int = -1  # "Accuracy: 9890/10000 (99%)": the value is the percentage two numbers on


@dataclass(slots=True)
class Template:
    """A learned template: the text between the numbers, and what each number is. ``kind`` is ``step`` (a step
    template), ``candidate`` (metric fields and an unnamed integer that may count steps), ``eval`` (eval fields
    only), ``loss`` (a loss without any counter) or ``other`` (not a metric line: ignored)."""

    id: str
    literals: tuple[str, ...]
    slots: tuple[Slot, ...]
    taught_by: int
    kind: str = "other"
    counter: int = -1
    epoch: int = -1
    loss: int = -1
    rate: int = -1
    evals: tuple[int, ...] = ()
    extras: tuple[int, ...] = ()
    candidates: tuple[int, ...] = ()
    seen: int = 0
    # Counter state: the last counter value, how often it started again, the totals last stated.
    last: int | None = None
    last_values: list[str] | None = None  # the previous line's numbers (to see an outer counter rise)
    resets: int = 0
    start: int | None = None  # the first count the template printed (a loop that logs every 200 batches: 200)
    total: int | None = None
    epoch_total: int | None = None
    held: list[tuple[Record, list[str], float | None]] = field(default_factory=list)  # with the epoch then
    extra_spec: tuple[tuple[int, str, float, bool], ...] = ()  # (value slot, name, scale, share-like)
    per_epoch: bool = True
    fast: re.Pattern[str] | None = None
    # A counter line without a loss whose next line is a loss line without a counter (``batch i:30, len:12`` then
    # ``kl:0.02,loss:2.2,...``): the two are one step; this one gives its count (and its figures) to the next.
    marker: bool = False
    # Lines of this counter-less template printed right after a counted training step (``->> conf loss: 1.6 || loc
    # loss: 1.2`` under ``iter:46170 || Loss:4.93``): while every one of them was, they detail that step.
    details: int = 0

    def matcher(self) -> re.Pattern[str]:
        """One regex for the whole message: the template's text with its numbers as groups (what a block
        decoder runs over many lines; the stage tries the templates it used last with it before cutting a line)."""
        if self.fast is None:
            pieces = [re.escape(self.literals[0])]
            for literal in self.literals[1:]:
                pieces.append(_NUMBER_GROUP)
                pieces.append(re.escape(literal))
            self.fast = re.compile("".join(pieces), re.IGNORECASE)
        return self.fast

    @property
    def rule(self) -> str:
        return f"template:{self.id}"

    def text(self) -> str:
        """The template as text, numbers shown as ``<*>`` (after a space where a word or ``:`` came before it:
        the padding before a number is part of the number)."""
        parts = [self.literals[0]]
        for literal in self.literals[1:]:
            parts.append(" <*>" if parts[-1][-1:].isalpha() or parts[-1][-1:] in ":,|" else "<*>")
            parts.append(literal)
        return "".join(parts)


class TemplateStage:
    """Per-source learned templates (see the module doc). ``feed(record)`` returns the line's events, or ``None``
    when the line is not a metric line of any template (it is then left to the other readers)."""

    def __init__(self) -> None:
        self._templates: dict[str, Template] = {}
        self._recent: list[Template] = []  # the templates of the last lines, tried whole before a line is cut
        self.whole_matches = 0  # lines read by a whole-template match (bench/bench_learned.py reports it)
        self.epoch: float | None = None  # the epoch the last "Epoch N" line began
        self._stepped_at = 0  # h17g: the line of the latest training step read at once
        self._counted_at = -(10**9)  # the line of the latest training step with a count of its own
        self._counted_epoch: float | None = None  # h17g: the epoch of the latest counted step with a loss
        self._counted_step: int | None = None  # ... and that step
        # The latest counter lines without a loss: line -> (its step, its template, its figures).
        self._counter_lines: dict[int, tuple[int, Template, tuple[tuple[str, float], ...], datetime | None]] = {}

    @property
    def templates(self) -> list[Template]:
        """The templates learned so far, in the order they were first seen."""
        return sorted(self._templates.values(), key=lambda t: t.taught_by)

    def feed(self, record: Record) -> list[Event] | None:
        msg = record.msg
        if len(msg) > MAX_LINE:
            return None
        released: list[Event] = []
        for template in self._recent:
            m = template.matcher().fullmatch(msg)
            if m is not None:
                self.whole_matches += 1
                values = list(m.groups())
                if template is not self._recent[0]:
                    self._recent.remove(template)
                    self._recent.insert(0, template)
                break
        else:
            if _DIGIT.search(msg) is None:
                return None
            parts = NUMBER.split(msg)
            count = len(parts) // 2
            if count == 0 or count > MAX_SLOTS:
                return None
            key = _KEY_SEP.join(parts[0::2])
            found = self._templates.get(key)
            if found is None:
                if len(self._templates) >= MAX_TEMPLATES:
                    released = self._forget()
                template = self._learn(key, parts, record)
            else:
                template = found
            values = parts[1::2]
            if template.seen:
                # Seen before: worth trying whole next time (a one-off message is not).
                recent = self._recent
                if len(recent) >= _RECENT:
                    recent.pop()
                recent.insert(0, template)
        template.seen += 1
        kind = template.kind
        if (
            template.counter < 0
            and template.epoch < 0
            and kind in ("candidate", "loss")
            and record.number - self._counted_at <= _DETAIL_LINES
        ):
            template.details += 1
            if template.details == template.seen:
                return released  # figures of the counted step just read (its loss is that line's), not a step
        if kind == "other":
            if template.counter >= 0 and len(template.slots) == 1:
                counted = self._remember_counter(template, record, values[template.counter])  # "current step: 58th"
                if counted is not None:
                    return released + counted
            return released or None
        if kind == "epoch":
            return released + self._epoch_marker(template, record, values)
        if kind == "candidate" and template.counter < 0 and not template.candidates and self._after_counter(record):
            # A loss line right after a counter line: the counter line's step is its step (no need to wait for
            # it to repeat).
            template.kind = kind = _without_counter(template)
        if kind == "candidate":
            return released + self._candidate(template, record, values)
        out = released + self._read(template, record, values, template.counter, self.epoch)
        for event in out:
            if isinstance(event, StepMetrics) and event.mode == "train" and event.line > self._stepped_at:
                self._stepped_at = event.line
                if event.step is not None and template.counter >= 0:
                    self._counted_at = event.line
        return out

    def _epoch_marker(self, t: Template, record: Record, values: list[str]) -> list[Event]:
        """A line that only says which epoch begins: the steps without an epoch of their own that follow get it."""
        epoch = _float(values[t.epoch])
        if epoch is None or not math.isfinite(epoch):
            return []
        self.epoch = epoch
        total_slot = _total_slot(t, t.epoch)
        total = _int(values[total_slot]) if total_slot >= 0 else None
        if total is not None and total > 0 and total != t.epoch_total:
            t.epoch_total = total
            return [TargetStated(record.number, record.ts, "epoch", total, int(epoch), rule=t.rule)]
        return []

    def single_field(self, record: Record) -> tuple[str, float] | None:
        """The one named number of a ``name: value`` line (``  accuracy: 0.81``, ``loss = 0.43``), else None."""
        msg = record.msg
        if len(msg) > 200:
            return None
        msg = _VALUE_UNIT.sub("", msg)  # (a unit may follow the value: "Acceleration error: 0.87 mm/s^2")
        parts = NUMBER.split(msg)
        while len(parts) > 3 and parts[0].endswith("#"):
            parts = [parts[0] + parts[1] + parts[2], *parts[3:]]  # a numbered name: "Protocol #1 Error (MPJPE)"
        if len(parts) != 3 or parts[2].strip() not in ("", "%"):
            return None
        head = parts[0].strip(" \t:=|-*")
        name, _ = _name_before(parts[0])
        if name and _WHOLE_NAME.fullmatch(head) is not None and len(head.split()) <= 6:
            name = " ".join(head.split()).lower()  # the whole text before the value names it ("Protocol #1 Error")
        value = _float(parts[1])
        if not name or value is None or (head != head.split("(")[0] and _NAME_NOTE.search(head) is None):
            return None  # ("(" inside the name only for a note that ends it: "Error (MPJPE)")
        return name, value / 100.0 if parts[2].strip() == "%" else value

    def knows(self, record: Record) -> bool:
        """Whether the line is of a template already seen (its numbers masked), whatever that template reads."""
        parts = NUMBER.split(record.msg)
        return _KEY_SEP.join(parts[0::2]) in self._templates

    def named_fields(self, record: Record) -> list[tuple[str, float]] | None:
        """Every named number of a line made only of ``name: value`` pairs (``MSE: 14.2, R2 Score: 0.93``,
        ``test acc 91.2%, test loss 0.31``), else None."""
        msg = record.msg
        if len(msg) > 300:
            return None
        parts = NUMBER.split(msg)
        if len(parts) < 3 or parts[-1].strip(" .") not in ("", "%"):
            return None
        out: list[tuple[str, float]] = []
        for i in range(0, len(parts) - 1, 2):
            text = parts[i]
            percent = False
            if i > 0 and text.startswith("%"):
                percent, text = True, text[1:]
            if percent:
                before, number = out[-1]
                out[-1] = (before, number / 100.0)
            name, at = _name_before(text)
            value = _float(parts[i + 1])
            if not name or value is None or text[:at].strip(" \t,;|:=-") != "":
                return None
            out.append((name, value))
        if parts[-1].strip(" .") == "%":
            before, number = out[-1]
            out[-1] = (before, number / 100.0)
        return out

    def finish(self) -> list[Event]:
        """End of input: held lines of templates whose counter never showed itself, without a step."""
        out: list[Event] = []
        for template in self._templates.values():
            if template.held:
                out.extend(self._demote(template, final=True))
        if self._counter_lines:
            # The last counter line of a marker, with no loss line after it (the log ends between the two): the
            # step was reached all the same.
            number, (step, template, figures, ts) = max(self._counter_lines.items(), key=lambda item: item[0])
            if template.marker and number > self._stepped_at:
                out.append(StepMetrics(number, ts, step, extra=figures, rule=template.rule))
                self._stepped_at = number
            self._counter_lines.clear()
        out.sort(key=lambda e: e.line)
        # h17g: a line held until the end and older than a training step already read is not the run's latest
        # training step: its loss would stand after newer ones (the last printed loss wins).
        return [e for e in out if not (isinstance(e, StepMetrics) and e.mode == "train" and e.line < self._stepped_at)]

    # ------------------------------------------------------------------ learning

    def _learn(self, key: str, parts: list[str], record: Record) -> Template:
        literals = tuple(parts[0::2])
        values = parts[1::2]
        slots: list[Slot] = []
        for i, raw in enumerate(values):
            before, after = literals[i], literals[i + 1]
            integer = _is_integer(raw)
            if slots and before.strip() in ("/", "of", "out of"):
                slots.append(Slot(slots[-1].name + " total", None, integer, total_of=i - 1))
                continue
            name, name_at = _name_before(before)
            if not name and i > 0 and slots[i - 1].role in ("counter", "epoch") and _COPULA_ONLY.match(before):
                # "Loss at step 300 is 2.5": the figure is named before its step ("<name> at <counter> N is X").
                lead = _NAMED_AT.search(literals[i - 1])
                if lead is not None:
                    name, name_at = normal_name(lead.group("name")), -1
            if not name:
                named = _COMMA_NAMED.search(before)
                if named is not None:
                    # "step 1450, loss_train, 0.116": a name on its own between commas, its figure after it.
                    name, name_at = normal_name(named.group(1)), named.start(1)
            if not name:
                unit = _UNIT_AFTER.match(after)
                if unit is not None and field_role(normal_name(unit["unit"])) == "rate":
                    name = normal_name(unit["unit"])
            role = field_role(name) if name else None
            if name in _TRAIN_ALONE and (name_at == 0 or before[name_at - 1] in " \t|,;"):
                role = "loss"  # "train: -2256.9 | val: -2076.7": a split's own figure is its objective
            if role in ("metric", "loss") and not name.startswith(("train", "training")):
                # The words before the name (not the name's own) may put it in an evaluation.
                context = "".join(_interleave(literals, values, i))
                if context_is_eval(context[: len(context) - len(before) + name_at]) and not bookkeeping(name):
                    role = "eval"
            if role in ("eval", "metric") and count_after(after):
                role = "count"  # h17c: "100 found", "5000 images", "(0.1GB RAM)": a count or a size, not a metric
            bracket = i == 0 and not name and before.strip() in ("[", "(") and after.lstrip().startswith(("]", ")"))
            percent = after.startswith("%")
            shared = bool(name) and role in ("eval", "metric") and share_like(name)
            slots.append(Slot(name, role, integer, bracket_counter=bracket and integer, percent=percent, share=shared))
        if (
            len(slots) >= 3
            and slots[0].bracket_counter
            and literals[1].strip() == "]["
            and slots[2].total_of == 1
            and slots[1].integer
            and not slots[1].name
        ):
            # h17c: "[E][b/N]": the first bracket is the epoch, the second the batch of that epoch and its total.
            slots[0].role, slots[0].bracket_counter = "epoch", False
            slots[1].bracket_counter = True
        for i, slot in enumerate(slots):
            if slot.total_of >= 0 and slots[slot.total_of].role is None and slots[slot.total_of].integer:
                unit = _COUNTED_UNIT.match(literals[i + 1])
                if unit is not None:
                    # "| 200/ 2983 batches |": a position and its total, counted in batches/steps: the counter.
                    counted = slots[slot.total_of]
                    counted.name, counted.role = unit.group(1).lower(), "counter"
        for i, slot in enumerate(slots[:-2]):
            share = slots[i + 2]
            if slot.role in ("eval", "metric") and slots[i + 1].total_of == i and share.percent and not share.name:
                slot.value_from = i + 2
        _accuracy_alone_is_evaluated(slots, key)
        template = Template(_template_id(key), literals, tuple(slots), record.number)
        _classify(template)
        assignments = len(_WORD_ASSIGNMENT.findall(key))
        if (assignments >= 3 and assignments * 2 >= len(slots)) or _OBJECT_REPR.match(key) is not None:
            template.kind = "other"  # a configuration dump, not a metrics line
        self._templates[key] = template
        return template

    def _forget(self) -> list[Event]:
        """Drop the least used half of the templates; the lines they held go out as the end of input would
        give them."""
        out: list[Event] = []
        ranked = sorted(self._templates.items(), key=lambda kv: (kv[1].seen, kv[1].taught_by))
        for key, template in ranked[: len(ranked) // 2]:
            if template.held:
                out.extend(self._demote(template, final=True))
            del self._templates[key]
        kept = {id(t) for t in self._templates.values()}
        self._recent = [t for t in self._recent if id(t) in kept]
        out.sort(key=lambda e: e.line)
        return out

    # ------------------------------------------------------------------ reading

    def _candidate(self, template: Template, record: Record, values: list[str]) -> list[Event]:
        held = template.held
        if held:
            previous = held[-1][1]
            named = (template.counter,) if template.counter >= 0 else ()
            for slot in named or template.candidates:
                a, b = _int(previous[slot]), _int(values[slot])
                if a is not None and b is not None and (b > a or (named and b != a)):
                    template.kind = "step"
                    template.counter = slot
                    out: list[Event] = []
                    for old_record, old_values, old_epoch in held:
                        out.extend(self._read(template, old_record, old_values, slot, old_epoch))
                    held.clear()
                    out.extend(self._read(template, record, values, slot, self.epoch))
                    return out
            if not (named or template.candidates) or len(held) + 1 >= HOLD:
                # It repeats, and none of its integers counts: its lines are steps without a number.
                held.append((record, values, self.epoch))
                return self._demote(template)
        held.append((record, values, self.epoch))
        return []

    def _demote(self, template: Template, *, final: bool = False) -> list[Event]:
        """The template's integers do not count steps: its held lines (and later ones) are read without a step.
        At the end of input a line seen once is a step only when its loss is plainly named (``loss: 0.5``, not
        ``best loss 0.3``): one summary line is not a training step."""
        template.kind = _without_counter(template)
        out: list[Event] = []
        once = final and len(template.held) == 1 and template.seen == 1
        plain = template.loss >= 0 and vocab.role(template.slots[template.loss].name) == "loss"
        for old_record, old_values, old_epoch in template.held:
            if template.kind == "other":
                continue
            events = self._read(template, old_record, old_values, -1, old_epoch)
            if once and not plain:
                events = [e for e in events if isinstance(e, EvalMetric)]
            out.extend(events)
        template.held.clear()
        return out

    def _read(
        self, t: Template, record: Record, values: list[str], counter: int, context: float | None = None
    ) -> list[Event]:
        """The events of one line of ``t``; ``context`` is the epoch the line was printed in (held lines keep
        theirs)."""
        number, ts, rule = record.number, record.ts, t.rule
        out: list[Event] = []
        evals: list[tuple[str, float]] = []
        for i in t.evals:
            value = _value(t, values, i)
            if value is not None:
                evals.append((eval_name(t.slots[i].name), value))
                out.append(EvalMetric(number, ts, evals[-1][0], value, rule=rule))
        if t.kind == "eval" or (t.loss < 0 and not t.extras and t.rate < 0):
            found = eval_step(number, ts, evals, rule, _int(values[counter]) if counter >= 0 else None)
            if found is not None:
                out.append(found)
            return out
        step: int | None = None
        taken: tuple[tuple[str, float], ...] = ()
        if counter < 0 and t.loss >= 0:
            step, taken, stamped = self._take_counter(record.number)
            ts = ts or stamped  # the counter line's time is the step's
        if counter >= 0:
            raw = _int(values[counter])
            if raw is not None:
                raw *= _thousands(t.literals[counter + 1])  # "step:50K": the counter, rounded to thousands
                if t.epoch < 0 and t.last is not None and raw < t.last and t.candidates:
                    _find_outer(t, values, counter)
                t.last_values = values if t.candidates else None
                self._counted(t, raw)
                step = raw
                total_slot = _total_slot(t, counter)
                if total_slot >= 0:
                    total = _int(values[total_slot])
                    if total is not None and total != t.total and total > 0:
                        t.total = total
                        out.append(TargetStated(number, ts, "step", total, step, rule=rule))
        # After a per-epoch counter started again, the epoch is the number of times it did (1-based), so the
        # model knows its steps are per epoch and not a new run going back.
        epoch: float | None = context if context is not None else (float(t.resets + 1) if t.resets else None)
        if t.epoch >= 0:
            epoch = _float(values[t.epoch])
            total_slot = _total_slot(t, t.epoch)
            if total_slot >= 0:
                total = _int(values[total_slot])
                if total is not None and total != t.epoch_total and total > 0:
                    t.epoch_total = total
                    current = int(epoch) if epoch is not None and math.isfinite(epoch) else None
                    out.append(TargetStated(number, ts, "epoch", total, current, rule=rule))
        loss = _value(t, values, t.loss) if t.loss >= 0 else None
        rate = _float(values[t.rate]) if t.rate >= 0 else None
        unit = rate_unit(t.slots[t.rate].name) if t.rate >= 0 else "samples/sec"
        extra: list[tuple[str, float]] = list(taken)
        for i, name, scale, shared in t.extra_spec:
            text = values[i]
            try:
                value = float(text)
            except ValueError:
                parsed = _float(text)  # "1,024"
                if parsed is None:
                    continue
                value = parsed
            extra.append((name, share(name, value) if shared else value * scale))
        if step is not None and counter >= 0 and loss is None and rate is None:
            self._note_counter(number, step, t, tuple(extra), ts)
            if t.marker:
                return out  # its count and figures go with the loss line after it
        if loss is not None and epoch is not None:
            if step is not None:
                self._counted_epoch, self._counted_step = epoch, step
            elif epoch == self._counted_epoch and t.slots[t.loss].name in _SUMMARY_LOSS:
                # "EPOCH 3 done: loss 2.59" after that epoch's counted steps: the epoch's summary is the last
                # training loss the log prints (as people read it), at the epoch's last step — not one more step.
                step = self._counted_step
        out.append(
            StepMetrics(
                number,
                ts,
                step,
                loss=loss,
                rate=rate,
                rate_unit=unit,
                epoch=epoch,
                extra=tuple(extra),
                rule=rule,
            )
        )
        return out

    def _remember_counter(self, t: Template, record: Record, raw: str) -> list[Event] | None:
        """A line that only counts (no figure of its own): the loss line after it may be its step's. Until one
        is, a count that rises line over line is the loop's position: a step without figures."""
        step = _int(raw)
        if step is None:
            return None
        self._note_counter(record.number, step, t, (), record.ts)
        previous, t.last = t.last, step
        if t.marker or previous is None or step <= previous or not _only_counts(t):
            return None
        self._stepped_at = max(self._stepped_at, record.number)
        return [StepMetrics(record.number, record.ts, step, rule=t.rule)]

    def _note_counter(
        self, number: int, step: int, t: Template, figures: tuple[tuple[str, float], ...], ts: datetime | None
    ) -> None:
        lines = self._counter_lines
        lines[number] = (step, t, figures, ts)
        if len(lines) > _COUNTER_LINES:
            del lines[next(iter(lines))]

    def _after_counter(self, record: Record) -> bool:
        lines = self._counter_lines
        return (record.number - 1) in lines or (record.number - 2) in lines

    def _take_counter(self, line: int) -> tuple[int | None, tuple[tuple[str, float], ...], datetime | None]:
        """The step of the counter line right before a loss line that has no counter of its own (a blank line
        between them allowed), and that line's figures and time; the counter line's template becomes a marker."""
        lines = self._counter_lines
        found = lines.pop(line - 1, None) or lines.pop(line - 2, None)
        if found is None:
            return None, (), None
        step, template, figures, ts = found
        template.marker = True
        return step, figures, ts

    @staticmethod
    def _counted(t: Template, raw: int) -> None:
        """Follow the counter: one that falls back to 0 or 1, or to the count it first printed (a loop logging
        every 200 batches: ``batch:200/1600`` after ``batch:1600/1600``), while the line prints no epoch is a
        per-epoch index starting a new epoch (counted in ``t.resets``), not a new run — unless it is named as a
        global count (``step``, ``global_step``, ``update``): that one starting again is a new run."""
        last = t.last
        if t.start is None:
            t.start = raw
        if last is not None and raw < last and raw <= max(1, t.start) and t.epoch < 0 and t.per_epoch:
            t.resets += 1
        t.last = raw


# --------------------------------------------------------------------------- analysis helpers


def _only_counts(t: Template) -> bool:
    """Whether a one-number template says nothing but its count (``Batch = 300``, ``current step: 58th step``):
    not ``Saving checkpoint at step 100`` or ``evaluating step 300``, which count something else."""
    name = t.slots[t.counter].name.split()
    if not name:
        return False  # "[2]:" alone: a list's item number (a launcher's failure report), not a loop's position
    own = set(_WORDS.findall(name[-1])) | _COUNT_MODIFIERS
    words = _WORDS.findall(" ".join(t.literals).lower())
    return not any(len(word) >= 4 and word not in own for word in words)


def _find_outer(t: Template, values: list[str], counter: int) -> None:
    """The counter fell back: an unnamed integer that rose on the same line counts the loop around it (``[2,
    100] loss: 0.9`` after ``[1, 600] loss: 1.1``: the first is the epoch), so the counter is per epoch."""
    previous = t.last_values
    if previous is None:
        return
    for slot in t.candidates:
        if slot == counter:
            continue
        before, now = _int(previous[slot]), _int(values[slot])
        if before is not None and now is not None and now > before:
            t.epoch = slot
            t.per_epoch = True
            return


def _classify(t: Template) -> None:
    losses: list[int] = []
    evals: list[int] = []
    extras: list[int] = []
    candidates: list[int] = []
    for i, slot in enumerate(t.slots):
        role = slot.role
        if slot.total_of >= 0:
            continue
        if role == "counter" or slot.bracket_counter:
            if t.counter < 0:
                t.counter = i
                t.per_epoch = slot.name not in _GLOBAL_COUNTERS
            continue
        if role == "epoch":
            if t.epoch < 0:
                t.epoch = i
            continue
        if role == "loss":
            losses.append(i)
        elif role == "eval":
            evals.append(i)
        elif role == "rate" and t.rate < 0:
            t.rate = i
        elif role in ("lr", "metric", "rate"):
            extras.append(i)
        elif role is None and slot.integer:
            candidates.append(i)
    picked = best_loss([t.slots[i].name for i in losses])
    if picked is None and (t.counter >= 0 or t.epoch >= 0):
        # No loss-named figure on a loop's line: its one objective-named figure ("Iteration: 100  Error: 0.19",
        # "Cost after iteration 100: 0.69") is what the loop minimises.
        objectives = [
            i
            for i in extras
            if objective_name(t.slots[i].name) or (t.slots[i].name == "total" and not t.slots[i].integer)
        ]  # ("total=4.947e-03" beside its terms "PDE=", "DATA=": the sum the loop minimises; "total 1000" counts)
        if len(objectives) == 1:
            losses, picked = objectives, 0
            extras.remove(objectives[0])
    if picked is not None:
        t.loss = losses[picked]
        extras.extend(i for j, i in enumerate(losses) if j != picked)
        extras.sort()
    t.evals = tuple(evals)
    t.extras = tuple(extras)
    t.extra_spec = tuple(
        (
            j,
            "lr" if t.slots[i].role == "lr" else t.slots[i].name,
            0.01 if t.slots[j].percent else 1.0,
            t.slots[i].share and not t.slots[j].percent,
        )
        for i in extras
        for j in (t.slots[i].value_from if t.slots[i].value_from >= 0 else i,)
    )
    t.candidates = tuple(candidates)
    has_metrics = t.loss >= 0 or bool(evals) or t.rate >= 0 or bool(extras)
    if not has_metrics and t.epoch >= 0 and t.counter < 0 and not candidates and len(t.slots) <= 2:
        t.kind = "epoch"  # "Epoch 3", "=== Epoch 3/10 ===": the epoch the lines after it belong to
    elif not has_metrics:
        t.kind = "other"
    elif t.counter >= 0:
        # A counter with a loss or a rate is a step line at once; with other numbers only ("attempt 0 of job 7
        # starting at step 1") it must repeat with a new count first.
        t.kind = "step" if (t.loss >= 0 or t.rate >= 0) else ("candidate" if extras else "eval")
    elif (candidates and (t.loss >= 0 or t.rate >= 0)) or (t.loss >= 0 and t.epoch < 0):
        # An unnamed integer may count steps; a loss without any counter must repeat to be a step.
        t.kind = "candidate"
    else:
        t.kind = _without_counter(t)


def _accuracy_alone_is_evaluated(slots: list[Slot], key: str) -> None:
    """A line of accuracy-like figures with no loss, no step and no rate (``Epoch: 18/20, top 1 acc: 0.26``,
    ``accuracy 0.93``) reports an evaluation, unless its words say it is of training. So does one with top-k
    accuracies and a loss but no step, epoch or rate (``* Acc@1 0.480 Acc@5 1.670 loss 11.546``: the summary a
    test pass prints; a training loop's top-k figures come with its position)."""
    if any(s.role in ("counter", "rate", "eval") or s.bracket_counter for s in slots):
        return
    losses = [s for s in slots if s.role == "loss"]
    if losses and (
        any(s.role == "epoch" for s in slots) or not any(s.role == "metric" and _TOP_K.search(s.name) for s in slots)
    ):
        return
    if not any(s.role == "metric" and s.share for s in slots) or _TRAIN_WORD.search(key) is not None:
        return
    for s in slots:
        if (s.role == "metric" and s.share) or s.role == "loss":
            s.role = "eval"


def _without_counter(t: Template) -> str:
    """The kind of a template with no counter: an epoch and a loss still make a step (one line per epoch)."""
    if t.loss >= 0:
        return "step" if t.epoch >= 0 else "loss"
    return "eval" if t.evals else "other"


def _total_slot(t: Template, slot: int) -> int:
    following = slot + 1
    if following < len(t.slots) and t.slots[following].total_of == slot:
        return following
    return -1


def _interleave(literals: tuple[str, ...], values: list[str], upto: int) -> list[str]:
    out: list[str] = []
    for i in range(upto + 1):
        out.append(literals[i])
        if i < upto:
            out.append(values[i])
    return out


def _name_before(text: str) -> tuple[str, int]:
    """The words naming a number, from the text before it (``" | lm loss: "`` -> ``lm loss``), and where in
    ``text`` they start."""
    base = max(0, len(text) - 120)
    tail = _NAME_END.sub("", text[base:])
    tail = _NAME_END.sub("", _COPULA.sub("", tail)) if tail.endswith(("s", "S", "w", "l", "e")) else tail
    chunk = _DELIMITER.split(tail)[-1]
    at = base + len(tail) - len(chunk)
    words: list[str] = []
    start = len(text)
    tokens = list(_TOKEN.finditer(chunk))
    for index in range(len(tokens) - 1, -1, -1):
        token = tokens[index]
        word = token.group()
        if word.isdigit() and words and index > 0 and tokens[index - 1].group().lower() == "top":
            start = at + token.start()
            words.append(word)  # "top 5 acc": the k of a top-k figure
            continue
        if _WORD.match(word) is None or len(words) == 4 or (words and word.lower() in _WHERE):
            break  # "validation loss at iteration 50": the number is the iteration's, not the loss's
        start = at + token.start()
        if word.startswith("(") and not word.endswith(")") and not any(w.endswith(")") for w in words):
            words.append(word[1:])  # "(Step 5": the parenthesis opens the name
            start += 1
            break
        words.append(word)
    if not words:
        return "", len(text)
    return normal_name(" ".join(reversed(words))), start


_SUFFIX = re.compile(r"([kKM])(?![A-Za-z])")


def _thousands(after: str) -> int:
    """The scale a counter's suffix gives it: ``50K`` is 50 000, ``2M`` 2 000 000 (compact loggers round them)."""
    m = _SUFFIX.match(after)
    if m is None:
        return 1
    return 1_000_000 if m.group(1) == "M" else 1000


def _template_id(key: str) -> str:
    return hashlib.blake2b(key.encode("utf-8", "replace"), digest_size=4).hexdigest()


def _is_integer(raw: str) -> bool:
    return raw.lstrip("+-").replace(",", "").isdigit()


def _int(raw: str) -> int | None:
    text = raw.replace(",", "")
    if text.lstrip("+-").isdigit() and len(text) <= 18:
        return int(text)
    return None


def _value(t: Template, values: list[str], i: int) -> float | None:
    shared = t.slots[i].share
    if t.slots[i].value_from >= 0:
        i = t.slots[i].value_from
    value = _float(values[i])
    if value is not None and t.slots[i].percent:
        return value / 100.0
    if value is not None and shared:
        return as_share(value)  # the slot's name is share-like
    return value


def _float(raw: str) -> float | None:
    try:
        return float(raw.replace(",", "") if "," in raw else raw)
    except ValueError:
        return None
