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

Runs of ``iter`` lines in a large block take the bulk fast path (``hwmon.parsers.blocks``): the line's template as
a ``TemplateDecoder`` (step, loss, the step time as the rate, mfu), each odd line read by ``iter_step``.
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
from hwmon.parsers.base import Line
from hwmon.parsers.blocks import BlockSteps, Losses, Shape, TemplateDecoder, float_losses
from hwmon.parsers.records import Record, RecordReader
from hwmon.parsers.rules import RuleParser, rule

__all__ = ["ITER", "NanoGptParser", "iter_step"]

_NUM = vocab.NUM
ITER = re.compile(r"^iter (\d{1,18}): loss (" + _NUM + r"), time (\d{1,12}(?:\.\d+)?)ms(?:, mfu (" + _NUM + r")%)?")
_RULE = "nanogpt:iter"
_READER = RecordReader()

# The bulk path: an iter line from its start (no timestamp or prefix before it), whatever follows as the line path.
_B_ITER = re.compile(rb"(?m)^iter \d{1,18}: loss ")
_TEMPLATE = (
    rb"iter (?P<step>\d{1,18}): loss (?P<loss>" + vocab.NUM_B + rb"), time (?P<ms>\d{1,12}(?:\.\d+)?)ms"
    rb"(?:, mfu (?P<mfu>" + vocab.NUM_B + rb")%)?[^\n]*"
)
_B_LINE = re.compile(rb"(?m)^" + _TEMPLATE + rb"\n")
_B_STEP = re.compile(rb"(?m)^iter (\d{1,18}):")
_SHAPE = Shape(b"iter ", (b": loss ", b", time "))


def iter_step(m: re.Match[str], record: Record) -> StepMetrics:
    """The StepMetrics of an ``iter`` line (``ITER``'s match on its message): the line path's reading, shared by the
    fast path's samples and its decoder's odd lines."""
    ms = float(m.group(3))
    extra: tuple[tuple[str, float], ...] = ()
    if m.group(4) is not None:
        extra = (("mfu", float(m.group(4)) / 100.0),)
    return StepMetrics(
        record.number,
        record.ts,
        int(m.group(1)),
        loss=float(m.group(2)),
        rate=1000.0 / ms if ms > 0 else None,
        rate_unit="it/s",
        extra=extra,
        rule=_RULE,
    )


def _line_step(text: str, number: int) -> StepMetrics | None:
    record = _READER.read(Line(number, 0, text))
    m = ITER.search(record.msg)
    return None if m is None else iter_step(m, record)


_DECODER = TemplateDecoder(
    _RULE,
    _TEMPLATE,
    {"step": "step", "loss": "loss", "ms": "per_step_ms", "mfu": "extra%:mfu"},
    rate_unit="it/s",
    line=_line_step,
)


class NanoGptParser(RuleParser, BlockSteps):
    """See the module doc."""

    REDRAWS = False
    """Never drawn with ``\\r``: redraw segments (a progress bar's states) are not offered to this parser."""

    TRIGGER = re.compile(r"^(?:iter|step|saving checkpoint|compiling the model|Overriding: max_iters)")

    def __init__(self) -> None:
        super().__init__()
        self._training = False
        self._eval_step: int | None = None
        self._max_iters: int | None = None

    # --- the bulk fast path (BlockSteps' hooks) ----------------------------------------------------------------

    def block_shape(self, data: bytes) -> Shape | None:
        return _SHAPE if _B_ITER.search(data, 0, 1 << 16) is not None else None

    def block_steady(self, shape: Shape) -> bool:
        return self._training

    def block_stop(self, data: bytes, start: int, end: int, shape: Shape) -> int:
        # The iter line that reaches max_iters completes the run: it goes the ordinary way.
        if self._max_iters is None:
            return end
        for m in _B_STEP.finditer(data, start, end):
            if int(m.group(1)) >= self._max_iters:
                return m.start()
        return end

    def block_line(self, text: str, number: int) -> StepMetrics | None:
        return _line_step(text, number)

    def block_losses(self, data: bytes, start: int, end: int, count: int) -> Losses | None:
        # Every line of the run must be the template's (a line that only looks like one is read line by line).
        rows = _B_LINE.findall(data, start, end)
        return float_losses([row[1] for row in rows], count)

    def block_decoder(self, shape: Shape) -> TemplateDecoder:
        return _DECODER

    # --- rows ---------------------------------------------------------------------------------------------------

    @rule("iter ", ITER.pattern)
    def _iter(self, m: re.Match[str], record: Record, out: list[Event]) -> None:
        if not self._training:
            self._training = True
            out.append(PhaseStarted(record.number, record.ts, "train", ""))
        out.append(iter_step(m, record))
        step = int(m.group(1))
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
