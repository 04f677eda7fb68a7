"""Megatron-LM (and Megatron-DeepSpeed) training logs -> events. Pure; a rule table over ``Record.msg``.

Read from Megatron-LM ``megatron/training/training.py`` (``training_log``, ``evaluate_and_print_results``,
``save_checkpoint``) and real output in issue threads (see tests/fixtures/SOURCES.md):

- `` iteration      122/  250000 | consumed samples: 124928 | elapsed time per iteration (ms): 86545.2 | learning
  rate: 9.150E-06 | global batch size:  1024 | lm loss: 2.504220E+00 | loss scale: 1.0 | grad norm: 0.231 |
  number of skipped iterations:   0 | ...`` -> ``StepMetrics`` (loss = the first loss key, ``lm loss`` for GPT;
  rate = global batch size / seconds per iteration in samples/sec, else iterations/sec) and, when the target
  changes, ``TargetStated("step", total, current)``. Megatron trains on CUDA GPUs only: ``VendorDetected("gpu")``.
- ``validation loss at iteration 100 | lm loss value: 5.1E+00 | lm loss PPL: 1.6E+02 |`` (also ``at the end of
  training ...``) -> an eval phase with one ``EvalMetric`` per value.
- ``saving checkpoint at iteration 100 to PATH`` -> checkpoint phase; ``successfully saved checkpoint from
  iteration 100 to PATH`` (older: ``at iteration``) -> ``CheckpointSaved``, training goes on.
- ``time to initialize megatron (seconds): 25.7`` -> the setup phase's stated length; the last iteration
  (``N/ N``) or ``[after training is done] datetime: ...`` -> ``RunCompleted`` (once).
"""

from __future__ import annotations

import math
import re

from hwmon.events import (
    CheckpointSaved,
    EvalMetric,
    Event,
    PhaseEnded,
    PhaseName,
    PhaseStarted,
    RunCompleted,
    StepMetrics,
    TargetStated,
    VendorDetected,
)
from hwmon.parsers import vocab
from hwmon.parsers.records import Record
from hwmon.parsers.rules import RuleParser, rule

__all__ = ["MegatronParser"]

_VALUE_SUFFIX = re.compile(r"\s+value$")


class MegatronParser(RuleParser):
    """See the module doc."""

    REDRAWS = False
    """Never drawn with ``\\r``: redraw segments (a progress bar's states) are not offered to this parser."""

    TRIGGER = re.compile(r"iteration|validation loss|megatron|after training")

    def __init__(self) -> None:
        super().__init__()
        self._phase: PhaseName | None = None
        self._target: int | None = None
        self._vendor = False
        self._done = False

    def _to(self, phase: PhaseName, record: Record, out: list[Event], detail: str = "") -> None:
        if self._phase != phase:
            self._phase = phase
            out.append(PhaseStarted(record.number, record.ts, phase, detail))

    @rule("iteration", r"^iteration\s+(\d{1,18})\s*/\s*(\d{1,18})\s*\|(.*)$")
    def _iteration(self, m: re.Match[str], record: Record, out: list[Event]) -> None:
        if not self._vendor:
            self._vendor = True
            out.append(VendorDetected(record.number, record.ts, "gpu", None))
        step, total = int(m.group(1)), int(m.group(2))
        if total != self._target:
            self._target = total
            out.append(TargetStated(record.number, record.ts, "step", total, step))
        self._to("train", record, out)
        found = vocab.pairs(m.group(3))
        metrics = vocab.read("", found)
        per_iteration_ms = next((p.value for p in found if p.key.startswith("elapsed time per iteration")), None)
        batch = next((p.value for p in found if p.key == "global batch size"), None)
        rate, unit = metrics.rate, metrics.rate_unit or "samples/sec"
        if rate is None and per_iteration_ms is not None and per_iteration_ms > 0 and math.isfinite(per_iteration_ms):
            if batch is not None and batch > 0:
                rate, unit = batch * 1000.0 / per_iteration_ms, "samples/sec"
            else:
                rate, unit = 1000.0 / per_iteration_ms, "it/s"
        out.append(
            StepMetrics(
                record.number,
                record.ts,
                step,
                loss=metrics.loss,
                rate=rate,
                rate_unit=unit,
                extra=tuple(metrics.extra),
            )
        )
        if step == total and not self._done:
            # The loop's last iteration: training is complete (an evaluation or a checkpoint may follow).
            self._done = True
            out.append(RunCompleted(record.number, record.ts, message=f"iteration {step}/{total}"))

    @rule("validation loss at", r"validation loss at ([^|]*)\|(.*)$")
    def _validation(self, m: re.Match[str], record: Record, out: list[Event]) -> None:
        out.append(PhaseStarted(record.number, record.ts, "eval", m.group(1).strip()[:80]))
        for pair in vocab.pairs(m.group(2)):
            name = "val " + _VALUE_SUFFIX.sub("", pair.key)
            out.append(EvalMetric(record.number, record.ts, name, pair.value))
        out.append(PhaseEnded(record.number, record.ts, "eval"))
        self._phase = None

    @rule("saving checkpoint at iteration", r"^saving checkpoint at iteration\s+(\d{1,18}) to (\S+)")
    def _saving(self, m: re.Match[str], record: Record, out: list[Event]) -> None:
        self._to("checkpoint", record, out, f"iteration {m.group(1)}")

    @rule("saved checkpoint", r"^successfully saved checkpoint (?:from|at) iteration\s+(\d{1,18}) to (\S+)")
    def _saved(self, m: re.Match[str], record: Record, out: list[Event]) -> None:
        out.append(CheckpointSaved(record.number, record.ts, int(m.group(1)), m.group(2)))
        self._phase = None

    @rule("time to initialize megatron", r"time to initialize megatron \(seconds\):\s*(\d{1,12}(?:\.\d{1,9})?)")
    def _initialised(self, m: re.Match[str], record: Record, out: list[Event]) -> None:
        out.append(PhaseEnded(record.number, record.ts, "setup", float(m.group(1))))

    @rule("after training is done", r"^\[after training is done\]")
    def _after_training(self, m: re.Match[str], record: Record, out: list[Event]) -> None:
        if not self._done:
            self._done = True
            out.append(RunCompleted(record.number, record.ts, message=record.msg[:2000]))
        self._phase = None
