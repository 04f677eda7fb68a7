"""Keras progress output (``model.fit(verbose=1)``: TensorFlow's Keras 2 and Keras 3, any backend, on any
device) -> events. Pure; a rule table with the epoch as its only state.

Read from Keras ``utils/progbar.py`` (``Progbar.update``) and ``callbacks/progbar_logger.py`` (tests/fixtures/
SOURCES.md): ``Epoch 3/10`` headers, then ``2000/2000 [==============================] - 12s 6ms/step - loss: 0.62 -
accuracy: 0.79 - val_loss: 0.5`` (Keras 2) or ``20/20 ━━━━━━━━━━━━━━━━━━━━ 1s 3ms/step - loss: 0.62`` (Keras 3):

- the bar -> ``ProgressUpdate("train", n, total, ...)`` and, when it carries a loss, ``StepMetrics`` (step counted
  on across epochs); its ``val_*`` metrics on the final line -> ``EvalMetric``;
- ``Epoch E/N`` -> ``TargetStated("epoch", N, E)``; ``Epoch 1/N`` after earlier epochs -> ``RunStarted`` (a second
  ``fit()``).
- ModelCheckpoint(verbose=1) ``Epoch 3: saving model to PATH`` -> ``CheckpointSaved(step=3 x batches per epoch)``;
- the last epoch's bar complete (``N/N`` in ``Epoch N/N``) -> ``RunCompleted`` (``fit()`` returned); a bar after that
  is ``evaluate()``'s: an eval phase whose ``loss``/metrics are ``EvalMetric("test_*")``, not training steps.
"""

from __future__ import annotations

import re

from hwmon.events import (
    CheckpointSaved,
    EvalMetric,
    Event,
    PhaseEnded,
    PhaseStarted,
    ProgressUpdate,
    RunCompleted,
    RunStarted,
    StepMetrics,
    TargetStated,
)
from hwmon.parsers import vocab
from hwmon.parsers.records import Record
from hwmon.parsers.rules import RuleParser, rule
from hwmon.parsers.tqdm_redraws import rows_match_no_plain_bar, rows_take_none

__all__ = ["KerasParser"]

_TIME = re.compile(
    r"(?P<el>\d{1,9}(?:\.\d+)?)(?P<elu>ms|us|µs|s|m)\s+(?P<per>\d{1,9}(?:\.\d+)?)(?P<peru>ms|us|µs|s)/"
    r"(?P<what>step|sample)"
)
_ETA = re.compile(r"ETA:\s*(?:(?P<h>\d{1,9}):)?(?:(?P<m>\d{1,9}):)?(?P<s>\d{1,9})s?\b")
_UNIT_SECONDS = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "m": 60.0}


class KerasParser(RuleParser):
    """See the module doc."""

    TRIGGER = re.compile(r"^(?:Epoch \d|\d{1,18}/\d)")

    @rule("saving model to", r"^Epoch (?P<e>\d{1,9}): saving model to (?P<path>\S+)")
    def _checkpoint(self, m: re.Match[str], record: Record, out: list[Event]) -> None:
        # ModelCheckpoint(verbose=1): "Epoch 3: saving model to PATH" (then "finished saving model to PATH").
        epoch = int(m["e"])
        step = epoch * self._per_epoch if self._per_epoch else None
        out.append(CheckpointSaved(record.number, record.ts, step, m["path"]))

    def accepts_redraws(self, texts: list[str]) -> bool:
        """A run of plain tqdm redraws (``hwmon.parsers.tqdm_redraws``) changes nothing here when no row takes
        any of them (``before`` acts on final lines only)."""
        return rows_take_none(self, texts)

    PLAIN_BAR_FREE = frozenset({"keras:checkpoint", "keras:epoch_header", "keras:bar"})
    """Rows that match no plain tqdm bar (``rows_match_no_plain_bar``): ``Epoch N: saving model to`` and ``Epoch N/M``
    need a word and a space; the bar row needs ``N/`` at the start of the message, where a plain bar has ``N%``."""

    def accepts_plain_redraws(self, units: frozenset[str]) -> bool | None:
        """``accepts_redraws`` of a run of plain tqdm bars, known without reading it (None: read it)."""
        return rows_match_no_plain_bar(self, self.PLAIN_BAR_FREE)

    def take_redraws(self, texts: list[str], line: int) -> list[Event]:
        return []

    def __init__(self) -> None:
        super().__init__()
        self._epoch: int | None = None
        self._epochs: int | None = None
        self._last_step: int | None = None
        self._per_epoch: int | None = None  # batches per epoch (the bar's total)
        self._fitted = False  # the last epoch's bar completed: later bars are evaluate()'s
        self._evaluating = False

    @rule("Epoch ", r"^Epoch (?P<e>\d{1,18})/(?P<n>\d{1,18})\s*$")
    def _epoch_header(self, m: re.Match[str], record: Record, out: list[Event]) -> None:
        epoch, total = int(m["e"]), int(m["n"])
        if epoch == 1 and self._epoch is not None:
            # Keras starts counting again: a second fit() (or a second run in the same file).
            self._last_step = None
            out.append(RunStarted(record.number, record.ts, None))
        self._epoch, self._epochs = epoch, total
        self._fitted = self._evaluating = False
        out.append(TargetStated(record.number, record.ts, "epoch", total, epoch))

    @rule("/", r"^(?P<n>\d{1,18})/(?P<total>\d{1,18})\s+(?:\[[=>.]*\]|[━─]+)\s*(?P<rest>.*)$")
    def _bar(self, m: re.Match[str], record: Record, out: list[Event]) -> None:
        n, total = int(m["n"]), int(m["total"])
        rest = m["rest"]
        if not self._fitted:
            self._per_epoch = total
        elapsed: float | None = None
        remaining: float | None = None
        rate: float | None = None
        unit = "step"
        t = _TIME.search(rest)
        if t is not None:
            elapsed = float(t["el"]) * _UNIT_SECONDS[t["elu"]]
            per = float(t["per"]) * _UNIT_SECONDS[t["peru"]]
            unit = t["what"]
            rate = 1.0 / per if per > 0 else None
        eta = _ETA.search(rest)
        if eta is not None:
            remaining = 0.0
            for part in (eta["h"], eta["m"], eta["s"]):
                if part is not None:
                    remaining = remaining * 60 + int(part)
        elif n >= total:
            remaining = 0.0
        metrics = [(p.key, p.value) for p in vocab.pairs(rest) if p.key != "eta"]
        number, ts = record.number, record.ts
        if self._fitted and not any(vocab.role(k) == "eval" for k, _ in metrics):
            # (The last epoch's line drawn again after its callbacks' output, now with its val_* metrics, is still
            # fit()'s: evaluate() prints no val_*.)
            self._evaluate(n, total, elapsed, remaining, rate, unit, metrics, record, out)
            return
        out.append(
            ProgressUpdate(
                number, ts, "train", n, total, elapsed, remaining, rate, unit, tuple(metrics), not record.final
            )
        )
        step = n
        if self._epoch is not None and self._epoch >= 1:
            step = (self._epoch - 1) * total + n
        train = [(k, v) for k, v in metrics if vocab.role(k) != "eval"]
        loss = next((v for k, v in train if k == "loss"), None)
        if loss is not None and step != self._last_step:
            self._last_step = step
            out.append(
                StepMetrics(
                    number,
                    ts,
                    step,
                    loss=loss,
                    rate=rate,
                    rate_unit=f"{unit}s/sec",
                    remaining_s=remaining,
                    epoch=None if self._epoch is None else float(self._epoch),
                    extra=tuple((k, v) for k, v in train if k != "loss"),
                )
            )
        if record.final:
            for k, v in metrics:
                if vocab.role(k) == "eval":
                    out.append(EvalMetric(number, ts, k, v))
            if n >= total and self._epoch is not None and self._epoch == self._epochs and not self._fitted:
                self._fitted = True
                out.append(RunCompleted(number, ts, message=f"fit: epoch {self._epoch}/{self._epochs} done"))

    def _evaluate(
        self,
        n: int,
        total: int,
        elapsed: float | None,
        remaining: float | None,
        rate: float | None,
        unit: str,
        metrics: list[tuple[str, float]],
        record: Record,
        out: list[Event],
    ) -> None:
        number, ts = record.number, record.ts
        if not self._evaluating:
            self._evaluating = True
            out.append(PhaseStarted(number, ts, "eval", "evaluate"))
        out.append(
            ProgressUpdate(
                number, ts, "eval", n, total, elapsed, remaining, rate, unit, tuple(metrics), not record.final
            )
        )
        if record.final and n >= total:
            for k, v in metrics:
                out.append(EvalMetric(number, ts, k if vocab.role(k) == "eval" else f"test_{k}", v))
            out.append(PhaseEnded(number, ts, "eval"))
            self._evaluating = False
