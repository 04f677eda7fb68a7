"""tqdm progress bars, wherever they appear in a line (vendor-neutral).

tqdm draws ``{desc}: {pct:3.0f}%|{bar}| {n}/{total} [{elapsed}<{remaining}, {rate}{postfix}]`` and, without a
total, ``{desc}: {n}{unit} [{elapsed}, {rate}{postfix}]``. Captured logs glue bars to each other and to unrelated
output (a bar redrawn with ``\\r`` and never ended with ``\\n``; a second bar or a log line written after it), and a
terminal copy can overwrite the start of a bar with other text. So this parser *searches* every line for every bar
in it instead of matching whole lines, and recovers what it can from a damaged one.

Conventions of the events it emits (``hwmon.events.ProgressUpdate``):

- ``name`` is the bar's description without the metrics in it (``Epoch 1 Loss:0.14 | Accuracy:95.78%`` ->
  ``Epoch 1``), "" for an anonymous bar or one whose description was overwritten.
- ``rate`` is always *units per second* and ``unit`` the bare unit (``it``, ``tensors``): tqdm's inverted
  ``10.81s/it`` becomes ``1/10.81`` it/s; ``?it/s`` gives ``None``. With ``unit_scale`` (``1.2k/10.0k``) the SI
  prefixes of n/total and of the rate are multiplied out (base 1000).
- ``metrics`` holds the numbers found in the description and the postfix (``loss=0.12``); percentages become
  fractions (95.78 % -> 0.9578). Keys are lower-cased.
- A bar whose count was lost but whose percentage survived (``94%|███`` followed by debris) is reported as
  ``n=pct, total=100`` with any rate/remaining time recoverable from the debris.
- A description-only bar (``Initializing module X: [00:02, note=...]``) has ``n=0, total=None``.
- Lines that are ``\\r`` redraws (``Line.final`` False) give updates with ``redraw=True``.

Phases: bars named like compilation, weight sending, checkpoint saving, training or evaluation open that phase
(``PhaseStarted``, ``detail`` = the bar name) the first time they appear and close it (``PhaseEnded`` with the bar's
elapsed time as ``seconds``) when they reach their total. A training bar that carries a loss also yields
``StepMetrics`` (step = the bar's n; for per-epoch bars ``Epoch E`` the step counts on across epochs).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from hwmon.events import (
    EvalMetric,
    Event,
    PhaseEnded,
    PhaseName,
    PhaseStarted,
    ProgressUpdate,
    StepMetrics,
    TargetStated,
)
from hwmon.parsers import vocab
from hwmon.parsers.base import Line
from hwmon.parsers.records import RecordReader, as_record
from hwmon.parsers.rules import stamp
from hwmon.parsers.tqdm_bars import MAX_DESC, FoundBar, find_bars, parse_duration, parse_metrics
from hwmon.parsers.tqdm_redraws import TqdmRedraws

__all__ = [
    "MAX_BARS",
    "MAX_DESC",
    "BarState",
    "FoundBar",
    "TqdmParser",
    "bar_phase",
    "find_bars",
    "parse_duration",
    "parse_metrics",
]

MAX_BARS = 256
"""Named bars remembered (for phase and step bookkeeping) at most; the least recently drawn is forgotten first."""

_STEP_UNITS = frozenset({"it", "its", "step", "steps", "batch", "batches", "iter", "iters", "iteration"})
_EPOCH_IN_NAME = re.compile(r"\bepoch\s*\[?(\d{1,18})\b", re.I)
# An outer bar over the epochs (``Epochs: 50%|…| 1/2``; ``epoch`` at ``position=0``) around per-epoch batch bars.
_EPOCHS_BAR = re.compile(r"^epochs?$", re.I)

_PHASE_RULES: tuple[tuple[re.Pattern[str], PhaseName], ...] = (
    (re.compile(r"compil", re.I), "compile"),
    (re.compile(r"sending initial weights|initial weights", re.I), "setup"),
    (re.compile(r"sav\w* checkpoint|checkpoint sav", re.I), "checkpoint"),
    (re.compile(r"\b(?:evaluat|validat|valid\b|val\b|eval\b|test)", re.I), "eval"),
    (re.compile(r"\b(?:epoch|train)", re.I), "train"),
)


def bar_phase(name: str, metrics: tuple[tuple[str, float], ...] = ()) -> PhaseName | None:
    """The run phase a bar of this name stands for, or None (an anonymous bar is training only when it carries a
    loss/accuracy)."""
    if name:
        for pattern, phase in _PHASE_RULES:
            if pattern.search(name):
                return phase
    # Any other bar (anonymous, "batch", "step") is training when it carries a loss/accuracy.
    if any("loss" in key or "acc" in key for key, _ in metrics):
        return "train"
    return None


@dataclass(slots=True)
class BarState:
    """What the parser remembers about one named bar: the phase instance it opened and the last step it gave."""

    phase: PhaseName | None
    ended: bool = False
    end_elapsed: float | None = None
    last_step: int | None = None
    last_loss: float | None = None


class TqdmParser(TqdmRedraws):
    """Pure parser of tqdm bars (see the module docstring for the conventions). Never raises on any line."""

    RULE = "tqdm:bar"
    """The provenance of every event this parser emits (``Event.rule``)."""

    def __init__(self) -> None:
        self._bars: dict[str, BarState] = {}
        # Per-epoch bars ("Epoch 3") count steps on from the first epoch number seen (0- or 1-based).
        self._epoch_base: int | None = None
        self._step_total: int | None = None
        # pytorch-lightning 1.x: the epoch bar counts train + validation batches (20 + 5 = 25 per epoch). A
        # validation bar that starts while the epoch bar is short of its total shows the train batches per epoch.
        self._epoch_bar: tuple[int, int | None] | None = None  # (n, total) of the last epoch bar drawn
        self._train_per_epoch: int | None = None
        self._epochs_done: int | None = None  # the outer epochs bar's n while it runs
        self._eval_seen: dict[str, float] = {}
        self._reader = RecordReader()
        self._redraw_run = ""  # (the joined run accepts_redraws accepted last)

    def feed(self, line: Line) -> list[Event]:
        """Events for every bar in this line (redraws included)."""
        text = as_record(line, self._reader).text  # no launcher prefix
        if "%|" not in text and "[" not in text:
            return []
        bars = find_bars(text)
        events: list[Event] = []
        for bar in bars:
            self._bar_events(bar, line, events)
        stamp(events, 0, self.RULE)
        return events

    def finish(self) -> list[Event]:
        """Nothing is held across lines."""
        return []

    def _anonymous_is_plain(self) -> bool:
        """The anonymous bar opened no phase (or has not been drawn yet): a plain redraw of it is only a state."""
        state = self._bars.get("")
        return state is None or state.phase is None

    def _touch_anonymous(self) -> None:
        """What drawing the anonymous plain bar does to this parser (``_bar_events``): it becomes the most recently
        drawn bar (created without a phase when new)."""
        state = self._bars.pop("", None) or BarState(phase=None)
        if len(self._bars) >= MAX_BARS:
            del self._bars[next(iter(self._bars))]
        self._bars[""] = state

    def _bar_events(self, bar: FoundBar, line: Line, out: list[Event]) -> None:
        number = line.number
        if bar.total and _EPOCHS_BAR.match(bar.name):
            self._epochs_done = bar.n if bar.n < bar.total else None
        phase = bar_phase(bar.name, bar.metrics)
        state = self._bars.get(bar.name)
        new_instance = state is None or (
            state.ended
            and (bar.total is None or bar.n < bar.total or bar.elapsed_s != state.end_elapsed)
            and phase is not None
        )
        if _EPOCH_IN_NAME.search(bar.name) is not None:
            self._epoch_bar = (bar.n, bar.total)
        elif phase == "eval" and (state is None or new_instance) and self._epoch_bar is not None:
            n, total = self._epoch_bar
            if total is not None and 0 < n < total:
                self._train_per_epoch = n
        if state is None or new_instance:
            state = BarState(phase=phase)
            if phase is not None:
                out.append(PhaseStarted(number, None, phase, bar.name))
        elif state.phase is None and phase is not None:
            # An anonymous bar that starts showing a loss is the training bar after all.
            state.phase = phase
            out.append(PhaseStarted(number, None, phase, bar.name))
        # Least recently updated first, so that the bound below forgets bars no longer drawn.
        self._bars.pop(bar.name, None)
        if len(self._bars) >= MAX_BARS:
            # Bounded memory however many differently named bars a run prints.
            del self._bars[next(iter(self._bars))]
        self._bars[bar.name] = state
        out.append(
            ProgressUpdate(
                number,
                None,
                bar.name,
                bar.n,
                bar.total,
                bar.elapsed_s,
                bar.remaining_s,
                bar.rate,
                bar.unit,
                bar.metrics,
                redraw=not line.final,
            )
        )
        if phase == "train":
            self._step(bar, state, number, out)
        if bar.metrics:
            self._evals(bar, number, out)
        if (
            state.phase is not None
            and not state.ended
            and bar.total is not None
            and bar.total > 0
            and bar.n >= bar.total
        ):
            state.ended = True
            state.end_elapsed = bar.elapsed_s
            out.append(PhaseEnded(number, None, state.phase, bar.elapsed_s))

    def _step(self, bar: FoundBar, state: BarState, number: int, out: list[Event]) -> None:
        stated_step: int | None = None
        step_total: int | None = None
        rate, rate_unit = bar.rate, f"{bar.unit}/s"
        extra: list[tuple[str, float]] = []
        picked = vocab.pick_loss(bar.metrics)
        if picked is None:
            picked = next(((k, v) for k, v in bar.metrics if k.endswith("loss") and vocab.role(k) != "eval"), None)
        for key, value in bar.metrics:
            kind = vocab.role(key)
            if picked is not None and key == picked[0]:
                continue
            if kind == "step" and stated_step is None and math.isfinite(value) and 0 <= value < 2**53:
                stated_step = int(value)
            elif key == "step_total" and math.isfinite(value) and 0 < value < 2**53:
                step_total = int(value)
            elif kind == "rate":
                rate, rate_unit = value, key if "/" in key else "samples/sec"
            elif kind not in ("eval", "loss"):
                extra.append((key, value))
        if step_total is not None and step_total != self._step_total:
            self._step_total = step_total
            out.append(TargetStated(number, None, "step", step_total, stated_step))
        if picked is None:
            return
        loss = picked[1]
        # A bar counting samples/tokens/bytes (unit_scale) does not count steps.
        step: int | None = bar.n if bar.unit in _STEP_UNITS else None
        if stated_step is not None:
            step = stated_step
        epoch: float | None = None
        m = _EPOCH_IN_NAME.search(bar.name)
        if m is not None and stated_step is None and step is not None:
            e = int(m.group(1))
            epoch = float(e)
            if self._epoch_base is None:
                self._epoch_base = 0 if e == 0 else 1
            if bar.total is not None and e >= self._epoch_base:
                per_epoch = bar.total
                if self._train_per_epoch is not None and self._train_per_epoch < bar.total:
                    per_epoch = self._train_per_epoch
                step = (e - self._epoch_base) * per_epoch + min(bar.n, per_epoch)
        elif stated_step is None and step is not None and self._epochs_done is not None and bar.total:
            if not _EPOCHS_BAR.match(bar.name):
                step = self._epochs_done * bar.total + bar.n  # a per-epoch bar inside an epochs bar counts on
        if state.last_step == step and state.last_loss == loss:
            return
        # The same step redrawn with a new loss (a postfix set after the step) is reported again: the last wins.
        state.last_step, state.last_loss = step, loss
        out.append(
            StepMetrics(
                number,
                None,
                step,
                loss=loss,
                rate=rate,
                rate_unit=rate_unit,
                remaining_s=bar.remaining_s,
                epoch=epoch,
                extra=tuple(extra),
            )
        )

    def _evals(self, bar: FoundBar, number: int, out: list[Event]) -> None:
        """``val_*``/``eval_*``/``test_*`` values in a bar's metrics are evaluation results (reported when they
        change, not on every redraw)."""
        for key, value in bar.metrics:
            if vocab.role(key) == "eval" and self._eval_seen.get(key) != value:
                if len(self._eval_seen) < MAX_BARS:
                    self._eval_seen[key] = value
                out.append(EvalMetric(number, None, key, value))
