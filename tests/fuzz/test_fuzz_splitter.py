"""Fuzzing the line splitter: random bytes and chunkings, escape soup, long lines, bounded memory."""

from __future__ import annotations

import re
import tracemalloc

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hwmon.parsers.base import Line, LineBlock
from hwmon.parsers.lines import BLOCK_MIN, LineSplitter
from tests.fuzz.strategies import (
    ESCAPES,
    alphabet_bytes,
    chunked,
    count_case,
    cut_points,
    fuzz_settings,
    log_bytes,
    random_bytes,
)

# What must never survive cleaning: C0 controls but tab, DEL, C1 controls, bidi overrides/isolates, line separators.
_UNSAFE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def split(chunks: list[bytes], max_line: int = 65536) -> list[Line]:
    splitter = LineSplitter(max_line=max_line)
    out: list[Line] = []
    for chunk in chunks:
        for item in splitter.feed(chunk):
            assert isinstance(item, Line)
            out.append(item)
    out.extend(splitter.finish())
    return out


def check_lines(lines: list[Line], data: bytes, max_line: int) -> None:
    """Invariants of any split: numbering, offsets inside the input, clean text, bounded length."""
    finals = [line for line in lines if line.final]
    assert [line.number for line in finals] == list(range(1, len(finals) + 1))
    previous = -1
    for line in lines:
        assert 0 <= line.offset <= max(0, len(data) - 1) or (line.offset == len(data) and not line.text)
        assert line.offset >= previous
        previous = line.offset
        assert _UNSAFE.search(line.text) is None, repr(line.text)
        limit = max_line + len(" … [cut:  bytes]") + 20
        assert len(line.text) <= limit
        assert not line.truncated or line.text.endswith(" bytes]")
    # Every \n ends exactly one line; an unterminated tail adds one more.
    expected = data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)
    assert len(finals) == expected


@fuzz_settings(ci=150, long=150_000)
@given(data=random_bytes, cuts=cut_points)
def test_random_bytes_any_chunking_equals_whole(data: bytes, cuts: list[int]) -> None:
    count_case("splitter.random_bytes")
    whole = split([data])
    check_lines(whole, data, 65536)
    assert split(chunked(data, cuts)) == whole


@fuzz_settings(ci=150, long=150_000)
@given(data=alphabet_bytes, cuts=cut_points, max_line=st.sampled_from([16, 17, 40, 65536]))
def test_escape_soup_bytewise_equals_whole(data: bytes, cuts: list[int], max_line: int) -> None:
    count_case("splitter.escape_soup")
    whole = split([data], max_line)
    check_lines(whole, data, max_line)
    assert split([data[i : i + 1] for i in range(len(data))], max_line) == whole
    assert split(chunked(data, cuts), max_line) == whole


@fuzz_settings(ci=100, long=100_000)
@given(data=log_bytes(), cuts=cut_points)
def test_log_looking_lines_bytewise_equals_whole(data: bytes, cuts: list[int]) -> None:
    count_case("splitter.log_bytes")
    whole = split([data])
    check_lines(whole, data, 65536)
    assert split([data[i : i + 1] for i in range(len(data))]) == whole
    assert split(chunked(data, cuts)) == whole


@fuzz_settings(ci=40, long=20_000)
@given(
    pieces=st.lists(
        st.sampled_from([b"x" * 100, b"y" * 37 + b"\n", b"\r", b"\n", b"\xc3\xa9", b"\x1b[2J"]), max_size=80
    ),
    repeat=st.integers(min_value=1, max_value=40),
    cuts=cut_points,
)
def test_long_lines_cut_the_same_for_any_chunking(pieces: list[bytes], repeat: int, cuts: list[int]) -> None:
    count_case("splitter.long_lines")
    data = b"".join(pieces) * repeat
    whole = split([data], 64)
    check_lines(whole, data, 64)
    assert split(chunked(data, cuts), 64) == whole


@fuzz_settings(ci=10, long=2_000)
@given(
    clean=st.lists(st.sampled_from([b"Step=1, Loss=0.5\n", b"a b c d\n", b"x" * 90 + b"\n"]), min_size=1, max_size=5),
    dirty=st.sampled_from(ESCAPES + (b"\r", b"\t", b"\xc3\xa9")),
    where=st.floats(min_value=0, max_value=1),
    cuts=st.lists(st.integers(min_value=0, max_value=1 << 20), max_size=6),
)
def test_blocks_expand_to_the_same_lines(clean: list[bytes], dirty: bytes, where: float, cuts: list[int]) -> None:
    count_case("splitter.blocks")
    unit = b"".join(clean)
    body = unit * (2 * BLOCK_MIN // len(unit) + 1)
    at = body.find(b"\n", int(len(body) * where)) + 1
    data = body[:at] + dirty + b"\n" + body[at:]
    splitter = LineSplitter()
    got: list[Line] = []
    for chunk in chunked(data, cuts):
        for item in splitter.feed(chunk, blocks=True):
            got.extend(item.lines() if isinstance(item, LineBlock) else [item])
    got.extend(splitter.finish())
    assert got == split([data])


@pytest.mark.integration
def test_memory_stays_flat_over_a_long_hostile_input() -> None:
    """Peak traced memory feeding 24 MiB (long lines without newline, escape soup, redraws) in 64 KiB reads
    is not more than feeding 3 MiB of the same: the splitter keeps a bounded line, not the input."""

    def peak_for(megabytes: int) -> int:
        pattern = (
            b"A" * 300_000  # a 300 kB line: longer than the 64 KiB cap
            + b"\n"
            + b"".join(ESCAPES) * 50
            + b"\r".join([b"bar 10%", b"bar 50%", b"bar 99%"]) * 1000
            + b"\n"
            + b"\xff\xfe\x00" * 10_000
            + b"\n"
        )
        block = (pattern * (1 + (1 << 20) // len(pattern)))[: 1 << 20]
        splitter = LineSplitter()
        tracemalloc.start()
        try:
            for _ in range(megabytes):
                for i in range(0, len(block), 1 << 16):
                    splitter.feed(block[i : i + (1 << 16)])
            splitter.finish()
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    small = peak_for(3)
    large = peak_for(24)
    assert large < small * 1.5 + (1 << 20), (small, large)
    assert large < 16 << 20, large
