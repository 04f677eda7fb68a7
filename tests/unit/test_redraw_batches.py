"""Runs of ``\\r`` redraws read in bulk (``ProgressBatch``, h17r): the stream's events with ``blocks=True``, batches
expanded into their redraws, are the line path's events, field by field and rule by rule, in every chunking (whole,
byte at a time, random); the model's state after every chunk is the line path's (the reducer folds a batch's first
and last redraw); runs that change more than the bar (a restart, two bars, a warning, a named or nested bar, a
held loss dict, a bar with a loss) are read as the line path reads them."""

from __future__ import annotations

import random

import pytest
from tests.helpers.chunking import chunkings

from hwmon.events import Event, ProgressBatch, ProgressUpdate, StepBatch, StepMetrics, expand_steps
from hwmon.model.reducer import apply_all
from hwmon.model.state import RunState
from hwmon.parsers.stream import StreamParser


def _bar(n: int, total: int = 50, elapsed: int | None = None, tail: str = "") -> str:
    pct = 100 * n // total
    seconds = n // 3 if elapsed is None else elapsed
    clock = f"{seconds // 60:02d}:{seconds % 60:02d}"
    return f"{pct:3d}%|{'█' * (pct // 10):<10}| {n}/{total} [{clock}<00:30, {9 + n / 7:.2f}it/s{tail}]"


def _line(texts: list[str]) -> bytes:
    return ("\r".join(texts) + "\n").encode()


def _run(ns: range | list[int], total: int = 50, name: str = "", tail: str = "") -> list[str]:
    return [f"{name}{_bar(n, total, tail=tail)}" for n in ns]


def flat(found: list[Event]) -> list[tuple[str, str, str]]:
    """Every event, batches expanded (steps and redraws): (kind, repr, rule)."""
    out: list[tuple[str, str, str]] = []
    for event in found:
        if isinstance(event, StepMetrics | StepBatch):
            out += [("StepMetrics", repr(s), s.rule) for s in expand_steps(event)]
        elif isinstance(event, ProgressBatch):
            out += [("ProgressUpdate", repr(u), u.rule) for u in event.updates()]
        else:
            out.append((type(event).__name__, repr(event), event.rule))
    return out


def feed(chunks: list[bytes], blocks: bool) -> tuple[list[list[Event]], list[Event]]:
    """The events of each chunk, and of ``finish``."""
    parser = StreamParser(blocks=blocks)
    return [parser.feed(chunk) for chunk in chunks], parser.finish()


def _fields(state: RunState) -> dict[str, object]:
    fields = dict(vars(state)) if hasattr(state, "__dict__") else {}
    return fields or {name: getattr(state, name) for name in state.__dataclass_fields__}


def check(data: bytes, *, seeds: tuple[int, ...] = (0, 1, 2), bytewise: bool = True) -> list[Event]:
    """Bulk == line path for every chunking, events and model state after every chunk; returns the bulk events
    of the whole input."""
    whole: list[Event] | None = None
    for label, chunks in chunkings(data, seeds=seeds, max_size=211, bytewise=bytewise):
        fast, fast_end = feed(chunks, blocks=True)
        slow, slow_end = feed(chunks, blocks=False)
        fast_state, slow_state = RunState(source="x"), RunState(source="x")
        for i, (got, want) in enumerate(zip(fast, slow, strict=True)):
            assert flat(got) == flat(want), f"{label}: chunk {i}"
            apply_all(fast_state, got, now=float(i))
            apply_all(slow_state, want, now=float(i))
            assert _fields(fast_state) == _fields(slow_state), f"{label}: state after chunk {i}"
        assert flat(fast_end) == flat(slow_end), label
        apply_all(fast_state, fast_end)
        apply_all(slow_state, slow_end)
        assert _fields(fast_state) == _fields(slow_state), f"{label}: state at the end"
        if whole is None:
            whole = [e for events in fast for e in events] + fast_end
    assert whole is not None
    return whole


def batches(found: list[Event]) -> list[ProgressBatch]:
    return [e for e in found if isinstance(e, ProgressBatch)]


def test_plain_runs_are_batches_equal_to_their_redraws_in_every_chunking() -> None:
    data = b"start\n" + b"".join(_line(_run(range(k * 10, k * 10 + 10))) for k in range(5)) + b"done\n"
    found = check(data)
    got = batches(found)
    assert len(got) == 5 and all(b.count == 9 for b in got)  # (each line's last state is its final line)
    assert all(b.rule == "tqdm:bar" and b.first.redraw and b.last.redraw for b in got)
    assert [b.last.n for b in got] == [k * 10 + 8 for k in range(5)]


def test_a_live_line_cut_mid_run_gives_the_model_every_redraw_so_far() -> None:
    # No newline yet: the redraws read so far are the live state (a follower reading a run in progress).
    data = b"start\n" + _line(_run(range(0, 30)))[:-1] + b"\r"
    found = check(data)
    assert sum(b.count for b in batches(found)) >= 20


@pytest.mark.parametrize(
    "data",
    [
        # A bar that restarts inside a line (the next loop), then one that restarts across lines.
        _line(_run([*range(10, 20), *range(0, 10)])) + _line(_run(range(40, 50))) + _line(_run(range(0, 10))),
        # A count that goes back while the elapsed time does not (a bar reset without its clock).
        _line([_bar(n, elapsed=40 + i // 5) for i, n in enumerate([*range(10, 20), *range(0, 10)])]),
        # Elapsed time that goes back while the count goes on (a new loop of the same size).
        _line([_bar(n, elapsed=30 - n) for n in range(10, 20)]),
        # Two bars of different totals interleaved on one line (nested bars without cursor moves).
        _line([_bar(n, total) for n in range(10) for total in (50, 60)]),
        # Warnings printed between redraws on the same line, and between the bar's lines.
        _line([*_run(range(5)), "WARNING: careful", *_run(range(5, 12))])
        + b"UserWarning: something\n"
        + _line(_run(range(12, 22))),
        # Nested (position=1) bars: the inner drawn below the outer with cursor moves.
        b"".join(
            b"\r" + _bar(e, 5).encode() + b"\n" + _line(_run(range(0, 10), total=10)).rstrip(b"\n") + b"\x1b[A"
            for e in range(3)
        )
        + b"\n",
        # Named bars (a phase of their own), an epochs bar, a bar with a loss (training steps).
        _line(_run(range(10), name="Epoch 1: ")) + _line(_run(range(3), total=3, name="Epochs: ")),
        _line(_run(range(10), tail=", loss=0.5")),
        # The anonymous bar opened a phase with a loss; plain redraws reaching its total end it.
        _line(_run(range(3), tail=", loss=0.5")) + _line(_run([*range(44, 51), 50, 50])),
        # An HF loss dict waits for the bar drawn next: the first redraw releases it.
        b"{'loss': 0.5, 'learning_rate': 1e-05, 'epoch': 0.1}\n" + _line(_run(range(10, 20))),
        # A PopTorch warning whose unprefixed repeat the Graphcore parser waits to swallow, an abort waiting for
        # its what().
        b"[12:00:00.000] [poptorch::python] [warning] careful\n" + _line(_run(range(10))),
        b"terminate called after throwing an instance of 'poplar::graph_memory_allocation_error'\n"
        + _line(_run(range(10))),
        # A bar with a unit of seconds, a rate of '?', and no total.
        _line([f"{n * 2}%|█ | {n}/50 [00:0{n}<00:30, 2.0s/s]" for n in range(1, 9)])
        + _line([f" {n * 2}%|█ | {n}/50 [00:00<?, ?it/s]" for n in range(1, 9)])
        + _line([f"{n}it [00:0{n}, 3.00it/s]" for n in range(1, 9)]),
        # A bar cut in two by a \r (each half is no bar; the halves joined would look like one).
        _line([*_run(range(4)), " 10%|█         | 5/50", "[00:01<00:09, 5.00it/s]", *_run(range(6, 10))]),
        # Redraws erased to nothing (\r and spaces) and a \r\n ending.
        _line([*_run(range(8)), "     ", ""]) + _line(_run(range(8, 16))).replace(b"\n", b"\r\n"),
    ],
    ids=[
        "restart",
        "count-back",
        "elapsed-back",
        "two-bars",
        "warnings",
        "nested",
        "named",
        "loss-postfix",
        "phase-bar",
        "hf-dict",
        "poptorch-repeat",
        "poplar-abort",
        "odd-bars",
        "cut-bar",
        "erased",
    ],
)
def test_runs_that_are_more_than_one_bar_moving_on_read_as_line_by_line(data: bytes) -> None:
    check(b"x\n" + data * 3)


def test_a_restart_inside_a_run_is_never_inside_one_batch() -> None:
    found = check(_line(_run([*range(10, 20), *range(0, 10)])) * 2, seeds=(), bytewise=False)
    for batch in batches(found):
        ns = [u.n for u in batch.updates()]
        assert ns == sorted(ns) and len(ns) == batch.count


def test_random_mixes_of_bars_lines_and_dicts() -> None:
    rng = random.Random(17)
    pieces: list[bytes] = []
    n = 0
    for _ in range(60):
        kind = rng.random()
        if kind < 0.5:
            k = rng.randint(1, 12)
            pieces.append(_line(_run(range(n, n + k), total=400)))
            n += k if rng.random() < 0.9 else -min(n, k)  # now and then the bar starts again
        elif kind < 0.7:
            pieces.append(f"{{'loss': {rng.random():.4f}, 'learning_rate': 1e-05, 'epoch': 0.{n}}}\n".encode())
        elif kind < 0.8:
            pieces.append(b"WARNING: a warning\n")
        else:
            pieces.append(_line(_run(range(n, n + 5), total=400))[:-1] + b"\rsome text\n")
    check(b"".join(pieces), seeds=(3, 4))


def test_the_model_folds_a_batch_as_every_redraw() -> None:
    # The reducer alone: a batch applied == its redraws applied one by one, on a fresh bar and on a bar already
    # drawn (its loop and its place on the log clock).
    updates = [ProgressUpdate(3, None, "", n, 50, n / 3, 10.0, 9.5, "it", (), redraw=True) for n in range(5, 15)]
    batch = ProgressBatch(3, None, updates[0], updates[-1], len(updates), "", _Given(updates))
    before = [ProgressUpdate(2, None, "", 1, 50, 0.5, 10.0, 9.5, "it", (), redraw=False)]
    for prefix in ([], before):
        one, many = RunState(source="x"), RunState(source="x")
        apply_all(one, [*prefix, batch], now=5.0)
        apply_all(many, [*prefix, *updates], now=5.0)
        assert _fields(one) == _fields(many)
        assert one.progress[""].n == 14 and one.version == many.version


class _Given:
    """A RedrawDecoder that gives back the updates it was made with."""

    def __init__(self, updates: list[ProgressUpdate]) -> None:
        self.updates = updates

    def decode(self, raw: str, line: int) -> list[ProgressUpdate]:
        return list(self.updates)


def test_a_rule_parser_accepts_a_run_only_when_none_of_its_rows_matches() -> None:
    # No plain bar can match a Keras or Lightning row (the stream never offers them one), so the check is shown on
    # texts that do match a row: one such text anywhere in the run is enough to say no.
    from hwmon.parsers.keras import KerasParser
    from hwmon.parsers.lightning import LightningParser
    from hwmon.parsers.tqdm_redraws import rows_take_none

    plain = _run(range(5))
    assert rows_take_none(LightningParser(), plain) and rows_take_none(KerasParser(), plain)
    gpu = "GPU available: True (cuda), used: True"
    assert not rows_take_none(LightningParser(), [*plain, gpu])
    assert not rows_take_none(KerasParser(), [plain[0], "Epoch 1: saving model to /tmp/m.keras", plain[1]])
