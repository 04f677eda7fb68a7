"""Kept points read later (issue 17 point 6, fourth round): ``apply_all`` folds a batch of steps into the series by
counts alone and reads the points it keeps from the batch's lines after its last event (``BoundedSeries.hold`` /
``settle``), so a new run begun later in the same ``apply_all`` throws them away unread. The series must end exactly
as when every point is read at once (``apply`` one event at a time), whatever the chunking, and a series' min/max
must fold in the order the values came."""

from __future__ import annotations

import dataclasses
import gc
import math
import random
from typing import cast

import pytest

import hwmon.model.reducer.steps as reducer_steps
from hwmon.events import Event, StepBatch, StepColumns, StepMetrics
from hwmon.model.reducer import apply, apply_all
from hwmon.model.series import BoundedSeries, Holder
from hwmon.model.state import RunState
from hwmon.parsers.stream import StreamParser

_PUBLIC = ("capacity", "points", "count", "nonfinite", "first", "last", "min", "max", "_stride", "_index")


def _series(state: RunState) -> str:
    # (repr: NaN equals itself there)
    return repr([[getattr(getattr(state, name), field) for field in _PUBLIC] for name in ("steps", "loss", "rate")])


def _megatron(rng: random.Random, runs: int) -> bytes:
    """Short Megatron runs one after another (each restarts at iteration 1), with odd rates now and then."""
    lines: list[str] = []
    for _ in range(runs):
        total = rng.randrange(300, 1500)
        lines.append("[default0]:training ...")
        for i in range(1, total + 1):
            # (the rate rises along a run: its highest is its last step's, often not a kept point)
            ms = f"{600 - i / 10:.2f}" if rng.random() > 0.01 else rng.choice(["0.0", "nan"])
            lines.append(
                f"[default0]: iteration {i:8d}/{total:8d} | consumed samples: {i * 512:12d} | elapsed time per "
                f"iteration (ms): {ms} | learning rate: 6.000E-07 | global batch size:   512 | lm loss: "
                f"{9.99 - i / 1000:.6E} | loss scale: 1.0 | grad norm: 0.621 | number of skipped iterations:   0 | "
                f"number of nan iterations:   0 |"
            )
    return ("\n".join(lines) + "\n").encode()


def _parse(data: bytes, chunk: int, fold: str) -> RunState:
    parser = StreamParser(blocks=True)
    state = RunState(source="x")

    def fold_in(found: list[Event]) -> None:
        if fold == "all":
            apply_all(state, found)
        else:
            for event in found:
                apply(state, event)  # (one at a time: every kept point read at once)

    for start in range(0, len(data), chunk):
        fold_in(parser.feed(data[start : start + chunk]))
    fold_in(parser.finish())
    return state


@pytest.mark.parametrize("seed", range(4))
def test_points_read_after_the_last_event_equal_points_read_at_once(seed: int) -> None:
    rng = random.Random(seed)
    data = _megatron(rng, runs=rng.randrange(3, 7))
    chunk = rng.choice([len(data), 1 << 16, 200_000])
    at_once = _parse(data, chunk, "one")
    later = _parse(data, chunk, "all")
    assert at_once.steps.count > 0 and at_once.rate.points
    assert _series(later) == _series(at_once)
    assert later.runs == at_once.runs and later.version == at_once.version


def test_a_run_thrown_away_later_in_the_same_apply_all_is_never_read(monkeypatch: pytest.MonkeyPatch) -> None:
    data = _megatron(random.Random(7), runs=4)
    read: list[int] = []
    original = reducer_steps._read_back

    def counting(event: StepBatch, offsets: list[int], wanted: list[bytes]) -> object:
        read.append(event.first.line)
        return original(event, offsets, wanted)

    monkeypatch.setattr(reducer_steps, "_read_back", counting)
    state = _parse(data, len(data), "all")
    assert state.runs == 4 and read  # (the log holds four runs)
    starts = [n for n, line in enumerate(data.split(b"\n"), 1) if line.endswith(b"training ...")]
    assert all(line > starts[-1] for line in read)  # only the last run's batches were read back


class _Held(Holder):
    """A ``Holder`` of given values: a point's key is its place in ``values``."""

    def __init__(self) -> None:
        self.given: list[tuple[float, float]] = []

    def held(self, pair: tuple[float, float]) -> tuple[float, float]:
        self.given.append(pair)
        return cast("tuple[float, float]", (self, len(self.given) - 1))

    def value(self, key: int) -> tuple[float, float]:
        return self.given[key]


@pytest.mark.parametrize("seed", range(30))
def test_held_values_and_folds_settle_as_values_known_at_once(seed: int) -> None:
    """Random adds, aggregates and kept blocks (some held, their (min, max) folds held too, NaN among them: the
    first fold into an empty min/max decides): settled, the series is the one fed the values at once."""
    rng = random.Random(seed)
    known, held = BoundedSeries(capacity=16), BoundedSeries(capacity=16)
    values = [1.0, 2.0, -3.0, 7.5, math.nan, math.inf, 0.0]
    for _ in range(rng.randrange(1, 40)):
        kind = rng.random()
        if kind < 0.4:
            y = rng.choice(values)
            known.add(float(known.count), y)
            held.add(float(held.count), y)
        elif kind < 0.6:
            pair = (rng.choice(values), rng.choice(values))
            for series in (known, held):
                series.add_aggregate((0.0, 1.0), (1.0, 2.0), 3, min(pair), max(pair), 0, [(0.5, 1.5)])
        else:
            n = rng.randrange(1, 30)
            offsets = known.kept_offsets(n)
            assert offsets == held.kept_offsets(n)
            points = [(float(known.count + o), rng.choice(values)) for o in offsets]
            fold = (rng.choice(values), rng.choice(values))
            first = points[0] if points else (1.0, 1.0)
            known.add_kept(first, (9.0, 9.0), n, fold[0], fold[1], points)
            if rng.random() < 0.5:
                holder, folds = _Held(), _Held()
                late = [holder.held(p) for p in points]
                held.add_kept(holder.held(first) if points else first, (9.0, 9.0), n, None, None, late)
                folds.held(fold)
                held.hold(folds)
            else:
                held.add_kept(first, (9.0, 9.0), n, fold[0], fold[1], points)
    held.settle()
    assert repr([getattr(held, f) for f in _PUBLIC]) == repr([getattr(known, f) for f in _PUBLIC])
    assert not held._held and not any(isinstance(p[0], Holder) for p in held.points)
    assert held.first is None or not isinstance(held.first[0], Holder)


class _Numbers:
    """A decoder of lines that are step numbers: loss step/10, rate 2.0 but for the step ``peak`` (rate 99.0)."""

    rule = "test:numbers"

    def __init__(self, peak: int = 0) -> None:
        self.peak = peak

    def decode(self, raw: bytes, first_line: int) -> list[StepColumns]:
        rows = [int(r) for r in raw.split(b"\n")[:-1]]
        return [
            StepColumns(
                lines=range(first_line, first_line + len(rows)),
                step=rows,
                loss=[r / 10 for r in rows],
                rate=[99.0 if r == self.peak else 2.0 for r in rows],
                rule=self.rule,
            )
        ]


def _batch(count: int, decoder: object) -> StepBatch:
    peak = getattr(decoder, "peak", 0)
    steps = [
        StepMetrics(k, None, step=k, loss=k / 10, rate=99.0 if k == peak else 2.0, rule="test:numbers")
        for k in range(1, count + 1)
    ]
    return StepBatch(
        count,
        None,
        first=steps[0],
        last=steps[-1],
        count=count,
        loss_min=0.1,
        loss_max=count / 10,
        samples=(steps[0], steps[-1]),
        raw=b"".join(b"%d\n" % k for k in range(1, count + 1)),
        decoder=decoder,  # type: ignore[arg-type]
        rule="test:numbers",
    )


def test_a_held_rate_fold_holds_the_batchs_last_rate() -> None:
    """The rate series' max is the batch's last rate, which no kept point holds (the last of 2000 steps is not on
    the stride): read later, the fold still holds it."""
    batch = _batch(2000, _Numbers(peak=2000))
    at_once, later = RunState(source="x"), RunState(source="x")
    apply(at_once, batch)
    apply_all(later, [batch])
    assert all(x != 2000.0 for x, _ in at_once.rate.points) and at_once.rate.max == 99.0
    assert _series(later) == _series(at_once)


def test_a_batch_whose_lines_do_not_read_back_is_read_step_by_step() -> None:
    """A decoder that reads the kept lines short (a broken StepBatch contract): the held points are the batch's
    steps as its decoder reads the whole batch (``StepBatch.steps``), never a point short."""

    class Short:
        rule = "test:short"

        def decode(self, raw: bytes, first_line: int) -> list[StepColumns]:
            rows = raw.split(b"\n")[:-1]
            return [
                StepColumns(
                    lines=range(first_line, first_line + len(rows)),
                    step=[int(r) for r in rows],
                    loss=[float(r) / 10 for r in rows],
                    rate=[2.0] * len(rows),
                    rule=self.rule,
                )
            ]

        def decode_series(self, raw: bytes, first_line: int) -> list[StepColumns]:
            return [_short(c) for c in self.decode(raw, first_line)]

    steps = [StepMetrics(k, None, step=k, loss=k / 10, rate=2.0, rule="test:short") for k in range(1, 41)]
    raw = b"".join(b"%d\n" % k for k in range(1, 41))
    batch = StepBatch(
        40,
        None,
        first=steps[0],
        last=steps[-1],
        count=40,
        loss_min=0.1,
        loss_max=4.0,
        samples=(steps[0], steps[-1]),
        raw=raw,
        decoder=Short(),  # type: ignore[arg-type]
        rule="test:short",
    )
    state = RunState(source="x")
    apply_all(state, [batch])
    assert [p for p in state.loss.points] == [(float(k), k / 10) for k in range(1, 41)]
    assert state.rate.points and not any(isinstance(p[0], Holder) for p in state.rate.points)


def _short(columns: StepColumns) -> StepColumns:
    n = len(columns) - 1
    return StepColumns(
        lines=columns.lines[:n],
        step=list(columns.step[:n]),
        loss=None if columns.loss is None else list(columns.loss[:n]),
        rate=None if columns.rate is None else list(columns.rate[:n]),
        rule=columns.rule,
    )


def test_a_batch_short_of_lines_is_folded_from_its_samples_as_at_once() -> None:
    """A batch whose raw text holds fewer lines than it counts (``raw_lines_at`` finds none): nothing is held, the
    batch is folded from its samples as ``apply`` folds it."""
    batch = dataclasses.replace(_batch(50, _Numbers()), raw=b"".join(b"%d\n" % k for k in range(1, 11)))
    at_once, later = RunState(source="x"), RunState(source="x")
    apply(at_once, batch)
    apply_all(later, [batch])
    assert len(at_once.loss.points) == 2  # (the samples: first and last)
    assert _series(later) == _series(at_once)


def test_held_lines_are_freed_as_soon_as_their_run_is_thrown_away_or_settled() -> None:
    """No reference cycle keeps a batch's held lines (and its raw block) alive until the cyclic GC runs: with the GC
    off, none is left after ``apply_all`` (peak memory: a thrown-away run's blocks are freed at its reset)."""
    data = _megatron(random.Random(3), runs=4)
    gc.collect()
    gc.disable()
    try:
        _parse(data, 1 << 16, "all")
        alive = [o for o in gc.get_objects() if type(o).__name__ in ("_HeldPick", "_HeldPoints", "_HeldRates")]
    finally:
        gc.enable()
    assert not alive


def test_a_batch_whose_series_keep_few_of_its_steps_is_read_at_once() -> None:
    """Holding costs about what reading does: a batch that keeps fewer than ``HOLD_MIN`` points (a long run's) is
    read at once, one that keeps more (right after a new run) is held."""
    batch = _batch(100, _Numbers())
    few = list(range(reducer_steps.HOLD_MIN - 1))
    assert reducer_steps._HeldPick.of(batch, few, 1.0, None) is None
    assert reducer_steps._HeldPick.of(batch, [*few, 99], 1.0, None) is not None
