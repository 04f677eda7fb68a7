"""Runs side by side: the figures ``hwmon compare`` shows. Pure: events in, figures out.

Every figure comes from the model's own functions (``phase_durations``, ``wall_seconds``, ``time_to_first_step``,
the reducer's status), so a run's column in ``compare`` says what ``hwmon summary`` says of it. Steps are read at
full resolution (``ExportBuilder``, the export's row builder) for what the run state does not keep: the last step
rates (steady-state throughput) and exact losses at decimated steps (curves, loss at matching steps).
"""

from __future__ import annotations

import math
import re
import statistics
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from hwmon.events import Event
from hwmon.model.export import ExportBuilder
from hwmon.model.figures import display_status, fmt_loss, fmt_share, fmt_wall, phase_durations, phase_totals
from hwmon.model.history import job_key, time_to_first_step
from hwmon.model.state import RunState
from hwmon.model.summary import wall_seconds

__all__ = [
    "CURVE_POINTS",
    "RATE_WINDOW",
    "CurvePoint",
    "RunCollector",
    "RunFigures",
    "compare_dict",
    "matching_steps",
    "normalise_rate",
    "table_rows",
]

SCHEMA = "hwmon.compare/1"
RATE_WINDOW = 50
"""Steady-state throughput: the median of the last this many step rates."""
CURVE_POINTS = 4096
"""Loss points kept per run: every step until then, then every 2nd, 4th... (exact values at those steps)."""
MATCHING_STEPS = 5

_SAMPLE_UNITS = re.compile(r"^(samples?|sequences?|seqs?|images?|img|examples?|sentences?)\s*/\s*s(ec(ond)?)?$", re.I)
_STEP_UNITS = re.compile(r"^(it|iters?|iterations?|steps?|batch(es)?)\s*/\s*s(ec(ond)?)?$", re.I)
_BATCH_INFO = ("effective_batch_size", "global_batch_size", "batch_size", "train_batch_size")


@dataclass(frozen=True, slots=True)
class CurvePoint:
    step: int
    wall_s: float | None
    loss: float


def batch_size(state: RunState) -> int | None:
    """The samples per step, when the log states it: the model's typed ``batch_size`` (Cerebras ``effective batch
    size``...), else a ``batch_size``-like fact."""
    typed = state.batch_size
    if typed is not None and math.isfinite(typed) and typed > 0:
        return int(typed)
    for key in _BATCH_INFO:
        raw = state.info.get(key)
        if raw is None:
            continue
        try:
            value = int(float(raw))
        except ValueError:
            continue
        if value > 0:
            return value
    return None


def normalise_rate(value: float | None, unit: str, batch: int | None) -> tuple[float | None, str]:
    """A rate in samples/s when it can be: a samples-like unit as is, a per-step unit times the batch size; else
    the value in its own unit."""
    if value is None or not math.isfinite(value):
        return None, unit
    if _SAMPLE_UNITS.match(unit.strip()):
        return value, "samples/s"
    if _STEP_UNITS.match(unit.strip()) and batch:
        return value * batch, "samples/s"
    return value, unit


@dataclass(slots=True)
class RunCollector:
    """Folds one run's events; ``figures()`` at the end. A source holding several runs keeps the last, as the
    reducer does."""

    name: str
    command: str | None = None
    builder: ExportBuilder = field(default_factory=ExportBuilder)
    rates: deque[float] = field(default_factory=lambda: deque(maxlen=RATE_WINDOW))
    curve: list[CurvePoint] = field(default_factory=list)
    stride: int = 1
    rate_unit: str = ""
    _runs: int = 1
    # Steps that restart each epoch (PopTorch's "step N of epoch E") are laid end to end on the curve's x axis:
    # a restart continues from the previous step plus the usual gap between steps.
    _offset: int = 0
    _last_raw: int | None = None
    _last_x: int | None = None
    _gap: int = 1

    @property
    def state(self) -> RunState:
        return self.builder.state

    def feed(self, event: Event) -> None:
        rows, _ = self.builder.feed(event)
        if self.state.runs != self._runs:
            # A new run began in the same source: its figures start over.
            self._runs = self.state.runs
            self.rates.clear()
            self.curve.clear()
            self.stride = 1
            self._offset, self._last_raw, self._last_x, self._gap = 0, None, None, 1
        for row in rows:
            if row["mode"] != "train":
                continue
            rate = row["rate"] if row["rate"] is not None else row["global_rate"]
            if isinstance(rate, float) and math.isfinite(rate):
                self.rates.append(rate)
                self.rate_unit = str(row["rate_unit"] or self.rate_unit)
            loss, raw, wall = row["loss"], row["step"], row["wall_s"]
            if not isinstance(raw, int):
                continue
            step = self._continuous(raw)
            if isinstance(loss, float) and step % self.stride == 0:
                self.curve.append(CurvePoint(step, wall if isinstance(wall, float) else None, loss))
                if len(self.curve) > CURVE_POINTS:
                    self.stride *= 2
                    self.curve = [p for p in self.curve if p.step % self.stride == 0]

    def _continuous(self, raw: int) -> int:
        if self._last_raw is not None and self._last_x is not None and raw < self._last_raw:
            self._offset = self._last_x + self._gap - raw
        x = raw + self._offset
        if self._last_x is not None and x > self._last_x:
            self._gap = x - self._last_x
        self._last_raw, self._last_x = raw, x
        return x

    def figures(self) -> RunFigures:
        state = self.state
        wall = wall_seconds(state)
        # Spans of one phase add up (the model's phase totals, as every view shows them).
        phases = tuple(PhaseFigure(t.name, t.seconds, t.share, t.repeats) for t in phase_totals(state, None))
        spans = _spans(state)
        batch = batch_size(state)
        steady = statistics.median(self.rates) if self.rates else None
        value, unit = normalise_rate(steady, self.rate_unit or state.rate_unit, batch)
        steps = state.steps
        kind, key = job_key(state, self.command)
        return RunFigures(
            name=self.name,
            vendor=state.vendor,
            device=state.device,
            status=display_status(state, None),
            job_key=key,
            key_kind=kind,
            wall_s=wall,
            first_step_s=time_to_first_step(state),
            phases=phases,
            throughput=value,
            throughput_unit=unit,
            throughput_window=len(self.rates),
            batch_size=batch,
            final_loss=_finite(state.loss.last[1]) if state.loss.last is not None else None,
            min_loss=_finite(state.loss.min),
            last_step=int(steps.last[0]) if steps.last is not None else None,
            step_count=steps.count,
            checkpoints=state.checkpoint_count,
            eval=dict(state.eval),
            curve=tuple(self.curve),
            spans=spans,
        )


def _spans(state: RunState) -> tuple[tuple[str, float, float], ...]:
    """(phase, start offset, seconds) of each span on the run's own time axis: offsets from the log's timestamps
    (seconds since the run's first one), else each span placed after the previous (durations the log stated)."""
    out: list[tuple[str, float, float]] = []
    cursor = 0.0
    for phase, seconds in zip(state.phases, phase_durations(state, None), strict=True):
        if seconds is None:
            continue
        start = cursor
        if phase.start is not None and state.first_ts is not None:
            start = max(0.0, (phase.start - state.first_ts).total_seconds())
        out.append((phase.name, start, seconds))
        cursor = start + seconds
    return tuple(out)


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


@dataclass(frozen=True, slots=True)
class PhaseFigure:
    """A phase's total over the run (spans of the same phase add), its share of the wall time and span count."""

    name: str
    seconds: float | None
    share: float | None
    repeats: int


@dataclass(frozen=True, slots=True)
class RunFigures:
    name: str
    vendor: str | None
    device: str | None
    status: str
    job_key: str
    key_kind: str
    wall_s: float | None
    first_step_s: float | None
    phases: tuple[PhaseFigure, ...]
    throughput: float | None
    throughput_unit: str
    throughput_window: int
    batch_size: int | None
    final_loss: float | None
    min_loss: float | None
    last_step: int | None
    step_count: int
    checkpoints: int
    eval: dict[str, float]
    curve: tuple[CurvePoint, ...] = ()
    spans: tuple[tuple[str, float, float], ...] = ()

    def loss_at(self, step: int) -> float | None:
        """The loss at ``step`` exactly, else at the nearest kept step before it (None before the first)."""
        best: CurvePoint | None = None
        for point in self.curve:
            if point.step > step:
                break
            best = point
        return None if best is None else _finite(best.loss)


def matching_steps(runs: list[RunFigures], count: int = MATCHING_STEPS) -> list[int]:
    """Steps every run reached, spread over the range they share: steps kept by all runs where possible (exact
    losses), else evenly spaced steps up to the last common one (each run's loss at or just before it)."""
    curves = [r.curve for r in runs if r.curve]
    if len(curves) < 2 or len(curves) != len(runs):
        return []
    last = min(c[-1].step for c in curves)
    first = max(c[0].step for c in curves)
    if last < first:
        return []
    common = set.intersection(*({p.step for p in c if first <= p.step <= last} for c in curves))
    if common:
        ordered = sorted(common)
        if len(ordered) <= count:
            return ordered
        picks = {ordered[round(i * (len(ordered) - 1) / (count - 1))] for i in range(count)}
        return sorted(picks)
    if last == first:
        return [last]
    return sorted({round(first + i * (last - first) / (count - 1)) for i in range(count)})


def _num(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def compare_dict(runs: list[RunFigures]) -> dict[str, object]:
    """The ``hwmon.compare/1`` JSON-ready dict (no NaN)."""
    steps = matching_steps(runs)
    return {
        "schema": SCHEMA,
        "runs": [
            {
                "name": r.name,
                "vendor": r.vendor,
                "device": r.device,
                "status": r.status,
                "job_key": r.job_key,
                "key_kind": r.key_kind,
                "wall_seconds": _num(r.wall_s),
                "time_to_first_step": _num(r.first_step_s),
                "phases": [
                    {"name": p.name, "seconds": _num(p.seconds), "share": _num(p.share), "repeats": p.repeats}
                    for p in r.phases
                ],
                "throughput": {
                    "value": _num(r.throughput),
                    "unit": r.throughput_unit,
                    "window": r.throughput_window,
                    "batch_size": r.batch_size,
                }
                if r.throughput is not None
                else None,
                "loss": {"final": r.final_loss, "min": r.min_loss} if r.final_loss is not None else None,
                "steps": {"last": r.last_step, "count": r.step_count} if r.step_count else None,
                "checkpoints": r.checkpoints,
                "eval": {k: v for k, val in r.eval.items() if (v := _num(val)) is not None},
            }
            for r in runs
        ],
        "loss_at_steps": [{"step": s, "loss": [r.loss_at(s) for r in runs]} for s in steps],
    }


def table_rows(runs: list[RunFigures]) -> list[tuple[str, list[str]]]:
    """The comparison as (label, one cell per run) rows of plain text, for the terminal table, Markdown and the
    TUI alike. Log-derived text (names, eval metric names) is the caller's to make terminal-safe."""
    from hwmon.model.fmt import fmt_rate

    def cells(fn: Callable[[RunFigures], str]) -> list[str]:
        return [fn(r) for r in runs]

    rows: list[tuple[str, list[str]]] = [
        ("vendor", cells(lambda r: (r.vendor or "-") + (f" ({r.device})" if r.device else ""))),
        ("status", cells(lambda r: r.status)),
        ("wall time", cells(lambda r: fmt_wall(r.wall_s))),
        ("time to first step", cells(lambda r: fmt_wall(r.first_step_s))),
    ]
    names: list[str] = []
    for r in runs:
        for p in r.phases:
            if p.name not in names:
                names.append(p.name)

    def phase_cell(r: RunFigures, name: str) -> str:
        p = next((p for p in r.phases if p.name == name), None)
        if p is None:
            return "-"
        share = f" ({fmt_share(p.share)})" if p.share is not None else ""
        times = f" x{p.repeats}" if p.repeats > 1 else ""
        return f"{fmt_wall(p.seconds)}{share}{times}"

    for name in names:
        rows.append((f"  {name}", [phase_cell(r, name) for r in runs]))
    rows.append(("throughput (median)", cells(lambda r: fmt_rate(r.throughput, r.throughput_unit))))
    rows.append(("last step", cells(lambda r: "-" if r.last_step is None else f"{r.last_step} ({r.step_count})")))
    rows.append(("final loss", cells(lambda r: fmt_loss(r.final_loss))))
    rows.append(("min loss", cells(lambda r: fmt_loss(r.min_loss))))
    for step in matching_steps(runs):
        rows.append((f"loss @ step {step}", [fmt_loss(r.loss_at(step)) for r in runs]))
    rows.append(("checkpoints", cells(lambda r: str(r.checkpoints))))
    metrics: list[str] = []
    for r in runs:
        for key in r.eval:
            if key not in metrics:
                metrics.append(key)
    for key in metrics:
        rows.append((f"eval {key}", [fmt_loss(r.eval.get(key)) for r in runs]))
    return rows
