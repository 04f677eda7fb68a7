"""Fuzzing every format parser directly and the stream parser: hostile lines never raise, and any chunking (one byte
at a time included) gives the same events as the whole input.

``StreamParser`` shields the stream from a parser that raises (one catch, reported as a warning); these tests run it
``strict`` so a parser exception fails the test instead of silently dropping the line's events.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hwmon.events import Event, StepMetrics
from hwmon.model.reducer import apply_all
from hwmon.model.state import RunState
from hwmon.model.summary import summary_dict
from hwmon.parsers import stream
from hwmon.parsers.base import Line, LineBlock
from hwmon.parsers.cerebras import CerebrasParser
from hwmon.parsers.generic import GenericParser
from hwmon.parsers.graphcore import GraphcoreParser
from hwmon.parsers.lines import BLOCK_MIN, LineSplitter
from hwmon.parsers.modeltree import ModelTreeParser
from hwmon.parsers.stream import StreamParser
from hwmon.parsers.tqdm import TqdmParser
from tests.fuzz.strategies import (
    backwards_log,
    chunked,
    count_case,
    cut_points,
    fuzz_settings,
    log_bytes,
    log_line,
    random_bytes,
)

PARSERS = (CerebrasParser, TqdmParser, GraphcoreParser, ModelTreeParser, GenericParser)


@pytest.fixture(autouse=True, scope="module")
def strict_stream() -> Iterator[None]:
    """A parser's exception propagates out of ``StreamParser`` (its one catch is off) for this module, whatever
    the suite-wide default is."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(stream.StreamParser, "STRICT_DEFAULT", True)
        yield


def lines_of(data: bytes) -> list[Line]:
    splitter = LineSplitter()
    out = [item for item in splitter.feed(data) if isinstance(item, Line)]
    return out + splitter.finish()


def feed_stream(chunks: list[bytes], *, keep_lines: int = 0) -> tuple[list[Event], list[str]]:
    parser = StreamParser(keep_lines=keep_lines)
    events: list[Event] = []
    kept: list[str] = []
    for chunk in chunks:
        events.extend(parser.feed(chunk))
        kept.extend(parser.pop_lines())
    events.extend(parser.finish())
    kept.extend(parser.pop_lines())
    return events, kept


def run_parser_directly(factory: type, lines: list[Line]) -> list[Event]:
    parser = factory()
    events: list[Event] = []
    for line in lines:
        got = parser.feed(line)
        assert isinstance(got, list)
        events.extend(got)
    events.extend(parser.finish())
    assert all(isinstance(e, Event) for e in events)
    return events


@fuzz_settings(ci=120, long=120_000)
@given(data=log_bytes(max_lines=40))
def test_every_parser_directly_survives_hostile_lines(data: bytes) -> None:
    count_case("parsers.direct")
    lines = lines_of(data)
    for factory in PARSERS:
        run_parser_directly(factory, lines)


@fuzz_settings(ci=60, long=60_000)
@given(texts=st.lists(log_line(), max_size=30), final=st.lists(st.booleans(), max_size=30))
def test_every_parser_directly_survives_redraw_flags(texts: list[str], final: list[bool]) -> None:
    # Lines built by hand: redraw (final=False) states and truncated flags in any order, numbers not increasing.
    count_case("parsers.direct_flags")
    lines = [
        Line(1 + i // 2, i * 10, text, final[i] if i < len(final) else True, i % 7 == 0) for i, text in enumerate(texts)
    ]
    for factory in PARSERS:
        run_parser_directly(factory, lines)


@fuzz_settings(ci=100, long=150_000)
@given(data=log_bytes(max_lines=25), cuts=cut_points)
def test_stream_bytewise_and_any_chunking_equal_whole(data: bytes, cuts: list[int]) -> None:
    count_case("parsers.stream_chunking")
    whole, whole_lines = feed_stream([data], keep_lines=100_000)
    # repr, not ==: a NaN loss never equals itself.
    expected = repr(whole)
    assert repr(feed_stream(chunked(data, cuts), keep_lines=100_000)) == repr((whole, whole_lines))
    assert repr(feed_stream([data[i : i + 1] for i in range(len(data))])[0]) == expected


@fuzz_settings(ci=100, long=150_000)
@given(data=random_bytes, cuts=cut_points)
def test_stream_random_bytes(data: bytes, cuts: list[int]) -> None:
    count_case("parsers.stream_random")
    whole, _ = feed_stream([data])
    assert repr(feed_stream(chunked(data, cuts))[0]) == repr(whole)


def test_timestamps_going_backwards_keep_every_step() -> None:
    events, _ = feed_stream([backwards_log(60)])
    steps = [e.step for e in events if isinstance(e, StepMetrics)]
    assert steps == [i * 10 for i in range(60)]
    state = RunState(source="backwards")
    apply_all(state, events)
    summary = summary_dict(state)
    assert summary["train"]["steps"] == {"first": 0, "last": 590, "count": 60}  # type: ignore[index]
    for phase in summary["phases"]:  # type: ignore[attr-defined]
        assert phase["seconds"] is None or phase["seconds"] >= 0


@fuzz_settings(ci=8, long=3_000)
@given(
    losses=st.lists(
        st.sampled_from(["0.5", "nan", "inf", "-inf", "1e309", "9" * 400, "-1", "0.25", "3.0"]), min_size=1, max_size=9
    ),
    steps=st.sampled_from(["{}", "-{}", "{}0", "{}" + "9" * 30]),
    filler=st.sampled_from(["", "x" * 50]),
)
def test_block_fast_path_agrees_with_line_path(losses: list[str], steps: str, filler: str) -> None:
    """A large clean region (the block fast path, as when catching up a big file) gives the same run summary as
    the same bytes parsed line by line, whatever the loss values."""
    count_case("parsers.blocks_vs_lines")
    rows = []
    n = 0
    while sum(len(r) for r in rows) < 2 * BLOCK_MIN:
        n += 1
        loss = losses[n % len(losses)]
        rows.append(
            f"2024-05-06 07:08:{n % 60:02d},000 INFO:   | Train Device=CSX, Step={steps.format(n)}, Loss={loss}, "
            f"Rate=12.5 samples/sec, GlobalRate=12.0 samples/sec{filler}\n"
        )
    data = "".join(rows).encode()

    def summarize(blocks: bool) -> dict[str, object]:
        parser = StreamParser(blocks=blocks)
        events = parser.feed(data) + parser.finish()
        state = RunState(source="x")
        apply_all(state, events)
        return summary_dict(state)

    by_block = summarize(True)
    by_line = summarize(False)
    assert repr(by_block["train"]) == repr(by_line["train"])
    assert by_block["status"] == by_line["status"]
    assert by_block["errors"] == by_line["errors"]


@fuzz_settings(ci=20, long=20_000)
@given(data=log_bytes(max_lines=40))
def test_cerebras_feed_block_on_any_ascii_block(data: bytes) -> None:
    """``feed_block`` must not raise on any block the splitter could build (ASCII, no controls but \\n)."""
    count_case("parsers.feed_block")
    clean = bytes(b for b in data if 0x20 <= b < 0x7F or b == 0x0A)
    if not clean.endswith(b"\n"):
        clean += b"\n"
    block = LineBlock(1, 0, clean, clean.count(b"\n"))
    result = CerebrasParser().feed_block(block)
    assert result is None or all(isinstance(e, Event) for e in result)


@pytest.mark.integration
def test_stream_memory_is_flat_in_log_length() -> None:
    """Peak traced memory of the stream parser + reducer over 8x more hostile log is about the same."""
    import random

    rng = random.Random(5)
    pool = [
        b"2024-01-01 00:00:00,000 INFO:   | Train Device=CSX, Step=%d, Loss=nan, Rate=1e309 samples/sec\n",
        b"2024-02-30 25:00:00,000 INFO:   | Train Device=CSX, Step=-1, Loss=" + b"9" * 400 + b"\n",
        b"Epochs:  50%|#####     | %d/100 [00:01<00:01, 1.00it/s]\r",
        b"{'loss': inf, 'epoch': %d}\n",
        b"\x1b]52;c;aGVsbG8=\x07\x1b[2J[bold]x[/]\n",
        b"ERROR: something %d\n",
        b"  (fc%d): Linear(in_features=1, out_features=2)\n",
    ]
    long_line = b"Z" * 100_000 + b"\n"

    def peak_for(lines: int) -> int:
        parser = StreamParser(keep_lines=100)
        state = RunState(source="m")
        buf = bytearray()
        tracemalloc.start()
        try:
            for i in range(lines):
                item = rng.choice(pool)
                buf += item.replace(b"%d", str(i).encode()) if i % 500 else long_line
                if len(buf) > 1 << 16:
                    apply_all(state, parser.feed(bytes(buf)), now=float(i))
                    parser.pop_lines()
                    buf.clear()
            apply_all(state, parser.feed(bytes(buf)) + parser.finish(), now=float(lines))
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    small = peak_for(2_000)
    large = peak_for(16_000)
    assert large < small * 1.5 + (2 << 20), (small, large)


CANON = "2024-01-01 00:00:00,000 INFO:   | Train Device=CSX, Step=1, Loss="
PREFIXES = ("", "Loss=", "loss: ", "{'loss': ", CANON, "Epochs: 50%|", "[00:01<", "  (a): Linear(", "x=", "Epoch 1/")
FILLERS = ("Z", "E", "9", "1.", " ", "9 ", "=", "|", "#", "%|", "[", "e9", "9:", "'", "9s")
FOLLOWERS = ("  (fc): Linear(in_features=1, out_features=2)", ")", "Epochs: 50%|##| 1/2 [00:01<00:01]", "x")


def assert_linear_time(prefix: str, filler: str) -> None:
    import time

    text = (prefix + filler * (65536 // len(filler) + 1))[:65536]
    for factory in PARSERS:
        parser = factory()
        started = time.perf_counter()
        parser.feed(Line(1, 0, text))
        for i, follower in enumerate(FOLLOWERS):
            parser.feed(Line(2 + i, 0, follower))
        parser.feed(Line(9, 0, text, final=False))
        parser.feed(Line(9, 0, FOLLOWERS[0]))
        parser.finish()
        elapsed = time.perf_counter() - started
        assert elapsed < 1.5, (factory.__name__, prefix, filler, elapsed)


@pytest.mark.parametrize("prefix", PREFIXES)
def test_no_parser_is_quadratic_on_a_max_length_line(prefix: str) -> None:
    """A 64 KiB line (the splitter's cap) of one repeated pattern behind a format's prefix, then lines that make
    parsers look back at it (a module-tree child looks for its root), takes well under a second per parser.
    Regressions: the module tree's root search (~30 s on capitals), the generic rate search and Cerebras'
    ``\\d+\\.?\\d*`` (minutes on a long run of digits)."""
    for filler in FILLERS:
        assert_linear_time(prefix, filler)
