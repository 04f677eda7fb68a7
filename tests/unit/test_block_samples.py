"""``parsers.blocks.sample_lines``: the bulk runner counts a run's lines with the same pass that places its
samples, so every sample's index and the count (last index + 1) must be exact for any run: one line, lines of very
different lengths, a run that starts mid-buffer."""

from __future__ import annotations

import random

import pytest

from hwmon.events import StepBatch, StepMetrics
from hwmon.parsers.base import count_lines
from hwmon.parsers.blocks import SAMPLES_PER_BATCH, sample_lines
from hwmon.parsers.lines import LineSplitter


def _run(lengths: list[int], lead: bytes) -> tuple[bytes, int, int]:
    body = b"".join(b"x" * n + b"\n" for n in lengths)
    return lead + body + b"tail without newline", len(lead), len(lead) + len(body)


@pytest.mark.parametrize("seed", range(40))
def test_samples_are_line_starts_with_exact_indices_and_the_last_counts_the_run(seed: int) -> None:
    rng = random.Random(seed)
    n = rng.choice([1, 2, 3, 5, 100, 3000, 20000])
    lengths = [rng.choice([0, 1, 80, 135, 140, 2000]) for _ in range(n)]
    lead = b"y" * rng.randrange(0, 300) + b"\n" * rng.randrange(0, 3)
    data, start, end = _run(lengths, lead)
    found = sample_lines(data, start, end)
    assert found[0] == (start, 0)
    assert found[-1][1] + 1 == data.count(b"\n", start, end) == n
    assert len(found) <= max(2, SAMPLES_PER_BATCH)
    starts = [start]
    for size in lengths[:-1]:
        starts.append(starts[-1] + size + 1)
    assert found[-1][0] == starts[-1]
    for at, index in found:
        assert at == starts[index]
    assert [i for _, i in found] == sorted({i for _, i in found})


def _batch(raw: bytes, count: int, places: tuple[tuple[int, int], ...] = ()) -> StepBatch:
    step = StepMetrics(line=1, ts=None, step=1, loss=1.0)
    return StepBatch(
        line=count, ts=None, first=step, last=step, count=count, loss_min=1.0, loss_max=1.0, raw=raw, places=places
    )


@pytest.mark.parametrize("seed", range(40))
def test_a_batchs_lines_at_offsets_are_the_lines_a_split_gives(seed: int) -> None:
    # The reducer reads back the few lines a series keeps (``StepBatch.raw_lines_at``) by guessing their place from
    # the mean line length: lines of very different lengths must still come out exactly.
    rng = random.Random(seed)
    n = rng.choice([1, 2, 9, 10, 500, 5000])
    lines = [b"%d " % i + b"x" * rng.choice([0, 3, 135, 135, 135, 4000]) + b"\n" for i in range(n)]
    raw = b"".join(lines)
    offsets = sorted(rng.sample(range(n), min(n, rng.choice([1, 2, 5, 40, n // 16 + 1, n // 2 + 1, n]))))
    assert _batch(raw, n).raw_lines_at(offsets) == [lines[o] for o in offsets]
    # From the places the bulk runner hands over (its samples): the same lines.
    places = tuple(sample_lines(raw, 0, len(raw)))
    assert _batch(raw, n, places).raw_lines_at(offsets) == [lines[o] for o in offsets]
    assert _batch(raw, n).raw_lines_at([]) == []
    assert _batch(raw, n).raw_lines_at([*offsets, n]) is None
    # A last line without its ``\n`` is not a whole line, however many lines are wanted.
    unterminated = raw + b"%d tail" % n
    assert _batch(unterminated, n + 1).raw_lines_at([*offsets, n]) is None
    assert _batch(unterminated, n + 1).raw_lines_at(offsets) == [lines[o] for o in offsets]


@pytest.mark.parametrize("seed", range(40))
def test_the_splitters_places_spare_the_count_and_give_the_same_indices(seed: int) -> None:
    # The splitter counts a block's lines once and notes (offset, index) of a line start every 64 KB
    # (``count_lines``); a run anywhere in the block then places its samples and counts its lines from them.
    rng = random.Random(seed)
    lengths = [rng.choice([0, 1, 80, 135, 140, 2000, 9000]) for _ in range(rng.choice([3, 400, 4000, 30000]))]
    data = b"".join(b"x" * n + b"\n" for n in lengths)
    count, places = count_lines(data, every=rng.choice([64, 4096, 65536]))
    assert count == len(lengths)
    starts = [0]
    for size in lengths[:-1]:
        starts.append(starts[-1] + size + 1)
    assert all(starts[index] == at for at, index in places)
    first = rng.randrange(len(lengths))
    last = rng.randrange(first, len(lengths))
    start, end = starts[first], starts[last] + lengths[last] + 1
    found = sample_lines(data, start, end, places, first)
    assert found[0] == (start, 0)
    assert found[-1] == (starts[last], last - first)
    for at, index in found:
        assert at == starts[first + index]
    assert [i for _, i in found] == sorted({i for _, i in found})
    assert len(found) <= max(2, SAMPLES_PER_BATCH)


@pytest.mark.parametrize("seed", range(30))
def test_the_splitters_one_pass_is_the_clean_check_and_the_count(seed: int) -> None:
    # ``LineSplitter._clean_counted`` answers "block-clean?" and counts lines and places in one pass: it must say
    # what ``_block_clean`` and ``count_lines`` say, for clean pieces and for a control byte or an over-long line.
    rng = random.Random(seed)
    lines = [b"y" * rng.choice([0, 5, 120, 3000]) for _ in range(rng.choice([10, 800, 6000]))]
    if seed % 3 == 1:
        at = rng.randrange(len(lines))
        lines[at] = lines[at] + rng.choice([b"\r", b"\x1b[0m", b"\t", b"\x00", b"\xc3\xa9", b"\x7f"])
    if seed % 5 == 2:
        lines[rng.randrange(len(lines))] = b"z" * 70000
    piece = b"\n".join(lines) + b"\n"
    splitter = LineSplitter(max_line=65536)
    expected = count_lines(piece) if splitter._block_clean(piece) else None
    assert splitter._clean_counted(piece) == expected
