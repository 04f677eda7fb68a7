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

Runs of iteration lines in a large block take the bulk fast path (``hwmon.parsers.blocks.BlockSteps``): the first
line's fields become a template (``MegatronDecoder``: the line with every value a group), read back as columns.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache

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
from hwmon.parsers.base import Line
from hwmon.parsers.blocks import BlockSteps, Losses, Shape, float_losses
from hwmon.parsers.megatron_block import MegatronDecoder, iteration_shape, loss_pattern
from hwmon.parsers.records import Record
from hwmon.parsers.rules import RuleParser, rule

__all__ = ["ITERATION", "MegatronParser", "iteration_step"]

_VALUE_SUFFIX = re.compile(r"\s+value$")
ITERATION = re.compile(r"^iteration\s+(\d{1,18})\s*/\s*(\d{1,18})\s*\|(.*)$")
STEP_RULE = "megatron:iteration"


def iteration_step(m: re.Match[str], record: Record) -> StepMetrics:
    """The StepMetrics of an iteration line (``ITERATION``'s match on its message): the line path's reading, which
    the fast path's samples and ``MegatronDecoder``'s per-line fallback share."""
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
    return StepMetrics(
        record.number,
        record.ts,
        int(m.group(1)),
        loss=metrics.loss,
        rate=rate,
        rate_unit=unit,
        extra=tuple(metrics.extra),
        rule=STEP_RULE,
    )


@lru_cache(maxsize=64)
def _last_iteration(total: int) -> re.Pattern[bytes]:
    return re.compile(rb"iteration\s+0*%d\s*/" % total)


_MAX_OTHER_LINES = 4096


@lru_cache(maxsize=16)
def _not_led(lead: bytes) -> re.Pattern[bytes]:
    """A line's end whose next line does not start with ``lead`` (a literal first: the engine finds each ``\\n`` at
    C speed and looks ahead once)."""
    return re.compile(rb"\n(?!" + re.escape(lead) + rb")")


class MegatronParser(RuleParser, BlockSteps):
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
        # The template of the block being read (set by block_shape).
        self._block_total = -1
        self._block_rank: int | None = None
        self._block_template = b""
        self._rank: int | None = None  # the launcher rank of the last iteration line given

    def _to(self, phase: PhaseName, record: Record, out: list[Event], detail: str = "") -> None:
        if self._phase != phase:
            self._phase = phase
            out.append(PhaseStarted(record.number, record.ts, phase, detail))

    # --- the bulk fast path (BlockSteps' hooks) ----------------------------------------------------------------

    def block_shape(self, data: bytes) -> Shape | None:
        found = iteration_shape(data)
        if found is None:
            return None
        shape, total, rank, template = found
        self._block_total, self._block_rank, self._block_template = total, rank, template
        return shape

    def block_steady(self, shape: Shape) -> bool:
        # The stream passes this parser one rank's lines: the block's must be the rank it was last given.
        return (
            self._vendor
            and self._phase == "train"
            and self._target == self._block_total
            and self._block_rank == self._rank
            and not self._done
        )

    def block_stop(self, data: bytes, start: int, end: int, shape: Shape) -> int:
        # The loop's last iteration completes the run: it goes the ordinary way.
        last = _last_iteration(self._block_total).search(data, start, end)
        return end if last is None else data.rfind(b"\n", start, last.start()) + 1 or start

    def block_others(self, data: bytes, shape: Shape) -> list[tuple[int, int]] | None:
        """The lines between iteration lines that do not start as they do (validation, checkpoint, rules of
        dashes), found by one regex over the block: they go the ordinary way, the iteration runs between them in
        bulk (the runner's count check refuses a block where a line starts like an iteration line and is not one)."""
        others: list[tuple[int, int]] = []
        size = len(data)
        starts = [m.end() for m in _not_led(shape.lead).finditer(data)]  # (a \n not followed by the lead)
        if not data.startswith(shape.lead):
            starts.insert(0, 0)
        if len(starts) > _MAX_OTHER_LINES:
            return None
        for start in starts:
            if start < size:
                others.append((start, data.index(b"\n", start)))
        return others

    def block_line(self, text: str, number: int) -> StepMetrics | None:
        record = self._reader.read(Line(number, 0, text))
        m = ITERATION.match(record.msg)
        return None if m is None else iteration_step(m, record)

    def block_losses(self, data: bytes, start: int, end: int, count: int) -> Losses | None:
        pattern = loss_pattern(self._block_template)
        return None if pattern is None else float_losses(pattern.findall(data, start, end), count)

    def block_decoder(self, shape: Shape) -> MegatronDecoder | None:
        return MegatronDecoder.of(self._block_template, self.block_line)

    # --- rows ---------------------------------------------------------------------------------------------------

    @rule("iteration", ITERATION.pattern)
    def _iteration(self, m: re.Match[str], record: Record, out: list[Event]) -> None:
        if not self._vendor:
            self._vendor = True
            out.append(VendorDetected(record.number, record.ts, "gpu", None))
        step, total = int(m.group(1)), int(m.group(2))
        self._rank = record.rank
        if self._done and step < total:
            self._done = False  # iterations again after the last one: a new loop (a restart, a second run)
        if total != self._target:
            self._target = total
            out.append(TargetStated(record.number, record.ts, "step", total, step))
        self._to("train", record, out)
        out.append(iteration_step(m, record))
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
