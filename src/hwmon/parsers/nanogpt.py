"""nanoGPT-style training scripts -> events. Pure; a rule table over ``Record.msg``.

Read from karpathy/nanoGPT ``train.py`` (and the many scripts copied from it) and real output in its issue threads
(see tests/fixtures/SOURCES.md):

- ``iter 100: loss 4.2000, time 12.34ms, mfu 30.00%`` (``mfu`` missing in early versions) -> ``StepMetrics``
  (rate = iterations/sec from the step time; ``mfu`` as a fraction in ``extra``);
- ``step 250: train loss 1.5440, val loss 1.7220`` (the periodic estimate) -> an eval phase with
  ``EvalMetric("val_loss")`` and ``EvalMetric("train_loss_estimate")``;
- ``saving checkpoint to out`` -> ``CheckpointSaved`` (step = the evaluation's step) in a checkpoint phase;
- ``compiling the model... (takes a ~minute)`` (``torch.compile``) -> compile phase (the first ``iter`` ends it);
- ``Overriding: max_iters = 5000`` (``configurator.py``) -> ``TargetStated("step", 5000)``; the ``iter`` line that
  reaches it is the loop's last (``train.py`` breaks once ``iter_num > max_iters``) -> ``RunCompleted``.
"""

from __future__ import annotations

import re

from hwmon.events import (
    CheckpointSaved,
    EvalMetric,
    Event,
    PhaseEnded,
    PhaseStarted,
    RunCompleted,
    StepMetrics,
    TargetStated,
)
from hwmon.parsers import vocab
from hwmon.parsers.records import Record
from hwmon.parsers.rules import RuleParser, rule

__all__ = ["NanoGptParser"]

_NUM = vocab.NUM


class NanoGptParser(RuleParser):
    """See the module doc."""

    REDRAWS = False
    """Never drawn with ``\\r``: redraw segments (a progress bar's states) are not offered to this parser."""

    TRIGGER = re.compile(r"^(?:iter|step|saving checkpoint|compiling the model|Overriding: max_iters)")

    def __init__(self) -> None:
        super().__init__()
        self._training = False
        self._eval_step: int | None = None
        self._max_iters: int | None = None

    @rule("iter ", r"^iter (\d{1,18}): loss (" + _NUM + r"), time (\d{1,12}(?:\.\d+)?)ms(?:, mfu (" + _NUM + r")%)?")
    def _iter(self, m: re.Match[str], record: Record, out: list[Event]) -> None:
        if not self._training:
            self._training = True
            out.append(PhaseStarted(record.number, record.ts, "train", ""))
        ms = float(m.group(3))
        extra: tuple[tuple[str, float], ...] = ()
        if m.group(4) is not None:
            extra = (("mfu", float(m.group(4)) / 100.0),)
        step = int(m.group(1))
        out.append(
            StepMetrics(
                record.number,
                record.ts,
                step,
                loss=float(m.group(2)),
                rate=1000.0 / ms if ms > 0 else None,
                rate_unit="it/s",
                extra=extra,
            )
        )
        if self._max_iters is not None and step >= self._max_iters:
            self._max_iters = None
            out.append(RunCompleted(record.number, record.ts, message=f"iter {step}: max_iters reached"))

    @rule("step ", r"^step (\d{1,18}): train loss (" + _NUM + r"), val loss (" + _NUM + r")")
    def _estimate(self, m: re.Match[str], record: Record, out: list[Event]) -> None:
        self._training = False
        self._eval_step = int(m.group(1))
        out.append(PhaseStarted(record.number, record.ts, "eval", f"step {m.group(1)}"))
        out.append(EvalMetric(record.number, record.ts, "val_loss", float(m.group(3))))
        out.append(EvalMetric(record.number, record.ts, "train_loss_estimate", float(m.group(2))))
        out.append(PhaseEnded(record.number, record.ts, "eval"))

    @rule("saving checkpoint to ", r"^saving checkpoint to (\S+)")
    def _checkpoint(self, m: re.Match[str], record: Record, out: list[Event]) -> None:
        self._training = False
        out.append(PhaseStarted(record.number, record.ts, "checkpoint", m.group(1)[:80]))
        out.append(CheckpointSaved(record.number, record.ts, self._eval_step, m.group(1)))

    @rule("compiling the model", r"^compiling the model")
    def _compiling(self, m: re.Match[str], record: Record, out: list[Event]) -> None:
        out.append(PhaseStarted(record.number, record.ts, "compile", "torch.compile"))

    @rule("Overriding: max_iters", r"^Overriding: max_iters = (\d{1,18})\s*$")
    def _target(self, m: re.Match[str], record: Record, out: list[Event]) -> None:
        self._max_iters = int(m.group(1))
        out.append(TargetStated(record.number, record.ts, "step", self._max_iters, None))
