"""PyTorch Lightning output -> events: its rich progress bar, its banner and its end line. Pure; a rule table.

Lightning's tqdm bar (``Epoch 0:  92%|███| 932/1016 [00:33<00:03, 27.70it/s, loss=0.223, v_num=77]``) is
``tqdm``'s. Read from Lightning ``callbacks/progress/rich_progress.py`` and ``trainer/connectors`` (the banner) and
real output in issue threads (tests/fixtures/SOURCES.md):

- the rich bar ``Epoch 2/2 ━━━━━━━━ 20/20 0:00:00 • 0:00:00 1202.61it/s v_num: 0 train_loss: 0.292`` (remaining
  time optional, ``-`` bars without unicode) -> ``ProgressUpdate`` + ``StepMetrics`` when it carries a loss (step
  counted on across epochs) + ``TargetStated("epoch", N + 1, E + 1)`` (the description is ``Epoch E/N`` with
  0-based ``E`` and ``N = max_epochs - 1``); metrics rich wraps onto the following lines (``val_loss: 0.321``,
  ``val_acc: 0.931``) belong to that bar; ``val_*``/``test_*`` metrics -> ``EvalMetric`` when they change.
  ``Validation``/``Testing`` bars -> an eval phase.
- ``GPU available: True (cuda), used: True`` -> ``VendorDetected("gpu")``; ``used: False`` -> ``"cpu"`` (a banner
  line for another accelerator that is absent or unused, ``TPU available: False, using: 0 TPU cores``, is not
  evidence of it). ModelCheckpoint's ``Epoch 1, global step 40: 'val_loss' reached ... saving model to '...ckpt'``
  -> ``CheckpointSaved(40, path)``.
- `` `Trainer.fit` stopped: `max_epochs=2` reached.`` -> ``RunCompleted``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from hwmon.events import (
    CheckpointSaved,
    EvalMetric,
    Event,
    PhaseEnded,
    PhaseName,
    PhaseStarted,
    ProgressUpdate,
    RunCompleted,
    StepMetrics,
    TargetStated,
    VendorDetected,
)
from hwmon.parsers import vocab
from hwmon.parsers.records import Record
from hwmon.parsers.rules import RuleParser, rule
from hwmon.parsers.tqdm import parse_duration
from hwmon.parsers.tqdm_redraws import rows_match_no_plain_bar, rows_take_none

__all__ = ["LightningParser"]

# A line of the rich bar's metrics column. Rich wraps the column at word boundaries, so a key and its value may sit
# on different lines (``… loss: 0.127 v_num:`` / ``0 train_loss:`` / ``0.084 val_loss:``): any run of keys and
# numbers is one, and the column is read joined.
_TOKEN = r"(?:[A-Za-z_][\w/.-]{0,60}:|" + vocab.NUM + ")"
_CONTINUATION = re.compile(rf"^\s*{_TOKEN}(?:\s+{_TOKEN}){{0,39}}\s*$", re.I)
_EPOCH_DESC = re.compile(r"^Epoch (\d{1,9})(?:/(\d{1,9}))?")


@dataclass(slots=True)
class _Pending:
    line: int
    ts: datetime | None
    step: int
    rate: float
    epoch: bool
    metrics: list[tuple[str, float]]
    text: str = ""  # the metrics column as drawn so far (the bar line's, then the wrapped lines')


class LightningParser(RuleParser):
    """See the module doc."""

    TRIGGER = re.compile(r"it/s|GPU available: |Trainer\.\w+` stopped|saving model to")
    BEFORE_RULE = "rich_bar"

    def accepts_redraws(self, texts: list[str]) -> bool:
        """A run of plain tqdm redraws (``hwmon.parsers.tqdm_redraws``) changes nothing here when no row takes
        any of them (``before`` acts on final lines only)."""
        return rows_take_none(self, texts)

    PLAIN_BAR_FREE = frozenset({"lightning:rich_bar", "lightning:gpu", "lightning:checkpoint", "lightning:stopped"})
    """Rows that match no plain tqdm bar (``rows_match_no_plain_bar``): the rich bar's message starts with a letter
    (its description), a plain bar's with a digit; ``GPU available:`` and ``saving model to`` need words and spaces;
    the "` stopped" row a backtick."""

    def accepts_plain_redraws(self, units: frozenset[str]) -> bool | None:
        """``accepts_redraws`` of a run of plain tqdm bars, known without reading it (None: read it)."""
        return rows_match_no_plain_bar(self, self.PLAIN_BAR_FREE)

    def take_redraws(self, texts: list[str], line: int) -> list[Event]:
        return []

    def __init__(self) -> None:
        super().__init__()
        self._bar: _Pending | None = None  # the last rich bar, gathering the metrics wrapped below it
        self._phase: PhaseName | None = None
        self._evals: dict[str, float] = {}
        self._epochs: int | None = None
        self._last: tuple[int, float] | None = None

    def before(self, record: Record, out: list[Event]) -> bool:
        if self._bar is None:
            return False
        if record.final and _CONTINUATION.match(record.msg) is not None:
            self._bar.text += " " + record.msg.strip()
            metrics = tuple((p.key, p.value) for p in vocab.pairs(self._bar.text))
            self._bar.metrics = list(metrics)
            self._evals_of(metrics, record, out)
            # Reported now, not when a later line closes the block: a live follower may never see one (the rich
            # bar is Lightning's last output). A loss that changes further down is reported again.
            self._report(self._bar, out, record.number)
            return True
        if record.final:
            self._flush(out)
        return False

    def finish(self) -> list[Event]:
        out: list[Event] = []
        self._flush(out)
        return out

    def _flush(self, out: list[Event]) -> None:
        """The rich bar and the metrics wrapped below it are one report: its step and loss (the step's own value,
        ``train_loss``, over a running-mean ``loss``)."""
        bar, self._bar = self._bar, None
        if bar is not None:
            self._report(bar, out)

    def _report(self, bar: _Pending, out: list[Event], line: int | None = None) -> None:
        """The bar's step and loss so far (reported on the line that completed them: no other reader's)."""
        if not bar.epoch:
            return
        picked = vocab.pick_loss(bar.metrics)
        if picked is None or (bar.step, picked[1]) == self._last:
            return
        self._last = (bar.step, picked[1])
        extra = tuple((k, v) for k, v in bar.metrics if vocab.role(k) not in ("loss", "eval"))
        out.append(
            StepMetrics(
                bar.line if line is None else line,
                bar.ts,
                bar.step,
                loss=picked[1],
                rate=bar.rate,
                rate_unit="it/s",
                extra=extra,
                rule="lightning:rich_bar",
            )
        )

    def _evals_of(self, metrics: tuple[tuple[str, float], ...], record: Record, out: list[Event]) -> None:
        for key, value in metrics:
            if vocab.role(key) == "eval" and self._evals.get(key) != value:
                self._evals[key] = value
                out.append(EvalMetric(record.number, record.ts, key, value))

    def _to(self, phase: PhaseName, detail: str, record: Record, out: list[Event]) -> None:
        if self._phase != phase:
            if self._phase is not None:
                out.append(PhaseEnded(record.number, record.ts, self._phase))
            self._phase = phase
            out.append(PhaseStarted(record.number, record.ts, phase, detail))

    @rule(
        "it/s",
        r"^(?P<desc>[A-Za-z][^━─]{0,80}?)\s+[━╸╺─-][━╸╺─\s-]*\s(?P<n>\d{1,18})/(?P<total>\d{1,18}|\?)\s+"
        r"(?P<el>\d{1,6}:\d\d:\d\d)(?:\s*•\s*(?P<rem>\d{1,6}:\d\d:\d\d|-:--:--))?\s*(?:•\s*)?"
        r"(?P<rate>\d{1,12}(?:\.\d+)?)it/s(?P<rest>.*)$",
    )
    def _rich_bar(self, m: re.Match[str], record: Record, out: list[Event]) -> None:
        desc = m["desc"].strip()
        n = int(m["n"])
        total = int(m["total"]) if m["total"] != "?" else None
        rem = m["rem"]
        remaining = parse_duration(rem) if rem and rem != "-:--:--" else None
        rate = float(m["rate"])
        metrics = tuple((p.key, p.value) for p in vocab.pairs(m["rest"]))
        number, ts = record.number, record.ts
        epoch = _EPOCH_DESC.match(desc)
        step = n
        if epoch is not None:
            self._to("train", "", record, out)
            e = int(epoch.group(1))
            if epoch.group(2) is not None and int(epoch.group(2)) + 1 != self._epochs:
                self._epochs = int(epoch.group(2)) + 1
                out.append(TargetStated(number, ts, "epoch", self._epochs, e + 1))
            if total is not None:
                step = e * total + n
        elif desc.lower().startswith(("validation", "testing", "sanity")):
            self._to("eval", desc, record, out)
        out.append(
            ProgressUpdate(
                number, ts, desc, n, total, parse_duration(m["el"]), remaining, rate, "it", metrics, not record.final
            )
        )
        self._flush(out)
        self._evals_of(metrics, record, out)
        self._bar = _Pending(number, ts, step, rate, epoch is not None, list(metrics), m["rest"])
        if not record.final:
            self._flush(out)

    @rule(
        "GPU available: ", r"^GPU available: (?P<avail>True|False)(?: \((?P<kind>\w+)\))?, used: (?P<used>True|False)"
    )
    def _gpu(self, m: re.Match[str], record: Record, out: list[Event]) -> None:
        # The accelerator Lightning says it uses; "used: False" means the run is on the CPU (weakest evidence: any
        # accelerator named elsewhere outranks it).
        if m["used"] == "True":
            out.append(VendorDetected(record.number, record.ts, "gpu", m["kind"]))
        else:
            out.append(VendorDetected(record.number, record.ts, "cpu", None))

    @rule(
        "saving model to",
        r"Epoch (?P<epoch>\d{1,9}), global step (?P<step>\d{1,18}): .{0,200}?saving model to '(?P<path>[^']+)'",
    )
    def _checkpoint(self, m: re.Match[str], record: Record, out: list[Event]) -> None:
        # ModelCheckpoint(verbose=True); often glued behind a bar redraw on the same line.
        out.append(CheckpointSaved(record.number, record.ts, int(m["step"]), m["path"]))

    @rule("` stopped", r"`Trainer\.(?:fit|validate|test)` stopped: (.*)$")
    def _stopped(self, m: re.Match[str], record: Record, out: list[Event]) -> None:
        self._phase = None
        out.append(RunCompleted(record.number, record.ts, message=record.msg[:2000]))
