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
- ``GPU available: True (cuda), used: True`` -> ``VendorDetected("gpu")`` (a banner line for an accelerator that is
  absent or unused, ``TPU available: False, using: 0 TPU cores``, is not evidence of anything).
- `` `Trainer.fit` stopped: `max_epochs=2` reached.`` -> ``RunCompleted``.
"""

from __future__ import annotations

import re

from hwmon.events import (
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

__all__ = ["LightningParser"]

_CONTINUATION = re.compile(r"^(?:[A-Za-z_][\w/.-]{0,60}: [-+]?[\w.]+\s*)+$")
_EPOCH_DESC = re.compile(r"^Epoch (\d{1,9})(?:/(\d{1,9}))?")


class LightningParser(RuleParser):
    """See the module doc."""

    TRIGGER = re.compile(r"it/s|available: True|Trainer\.\w+` stopped")

    def __init__(self) -> None:
        super().__init__()
        self._bar: tuple[str, int] | None = None  # (name, step) of the last rich bar, for wrapped metrics
        self._phase: PhaseName | None = None
        self._evals: dict[str, float] = {}
        self._epochs: int | None = None
        self._last_step: int | None = None

    def before(self, record: Record, out: list[Event]) -> bool:
        if self._bar is None:
            return False
        if record.final and _CONTINUATION.match(record.msg) is not None:
            metrics = tuple((p.key, p.value) for p in vocab.pairs(record.msg))
            self._evals_of(metrics, record, out)
            return True
        if record.final:
            self._bar = None
        return False

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
        loss = next((v for k, v in metrics if vocab.role(k) == "loss"), None)
        if epoch is not None and loss is not None and step != self._last_step:
            self._last_step = step
            extra = tuple((k, v) for k, v in metrics if vocab.role(k) not in ("loss", "eval"))
            out.append(StepMetrics(number, ts, step, loss=loss, rate=rate, rate_unit="it/s", extra=extra))
        self._evals_of(metrics, record, out)
        self._bar = (desc, step)

    @rule("available: True", r"^GPU available: True \((?P<kind>\w+)\), used: True")
    def _gpu(self, m: re.Match[str], record: Record, out: list[Event]) -> None:
        out.append(VendorDetected(record.number, record.ts, "gpu", m["kind"]))

    @rule("` stopped", r"`Trainer\.(?:fit|validate|test)` stopped: (.*)$")
    def _stopped(self, m: re.Match[str], record: Record, out: list[Event]) -> None:
        self._phase = None
        out.append(RunCompleted(record.number, record.ts, message=record.msg[:2000]))
