"""LineSplitter: line endings, redraws, UTF-8, escape sequences, caps, offsets, blocks, chunking invariance."""

from __future__ import annotations

import random
import tracemalloc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.helpers.chunking import assert_chunking_invariant, split_lines

from hwmon.parsers.base import Line, LineBlock, RedrawnLine
from hwmon.parsers.lines import BLOCK_MIN, Item, LineSplitter, clean_bytes


def lines_of(data: bytes, **kw: int) -> list[Line]:
    return split_lines([data], **kw)


def finals(data: bytes) -> list[str]:
    return [line.text for line in lines_of(data) if line.final]


# ---------------------------------------------------------------------------------------------- line endings


def test_lf_crlf_and_unterminated_last_line() -> None:
    lines = lines_of(b"one\ntwo\r\nthree")
    assert [(x.number, x.offset, x.text, x.final) for x in lines] == [
        (1, 0, "one", True),
        (2, 4, "two", True),
        (3, 9, "three", True),
    ]


def test_empty_input_and_empty_lines() -> None:
    assert lines_of(b"") == []
    assert [x.text for x in lines_of(b"\n\n")] == ["", ""]


def test_bare_cr_redraws_share_number_and_offset() -> None:
    lines = lines_of(b"head\n\rbar 10%\rbar 50%\rbar 100%\nnext\n")
    assert [(x.number, x.offset, x.text, x.final) for x in lines] == [
        (1, 0, "head", True),
        (2, 5, "bar 10%", False),
        (2, 5, "bar 50%", False),
        (2, 5, "bar 100%", True),
        (3, 31, "next", True),
    ]


def test_crlf_is_not_a_redraw_even_when_split() -> None:
    splitter = LineSplitter()
    assert splitter.feed(b"abc\r") == []
    assert splitter.feed(b"\n") == [Line(1, 0, "abc")]


def test_cr_followed_by_text_across_chunks_is_a_redraw() -> None:
    splitter = LineSplitter()
    assert splitter.feed(b"a 1%\r") == []
    assert splitter.feed(b"a 2%") == [Line(1, 0, "a 1%", final=False)]
    assert splitter.finish() == [Line(1, 0, "a 2%")]


def test_blank_last_segment_keeps_last_drawn_state() -> None:
    # tqdm(leave=False) erases its bar with "\r" + spaces + "\r": the final line keeps the bar's last state.
    assert finals(b"bar 100%\r        \r\n") == ["bar 100%"]
    assert finals(b"x\ry\r\r\n") == ["y"]


def test_plain_spaces_line_stays_as_is() -> None:
    assert finals(b"   \n") == ["   "]


def test_finish_after_trailing_cr() -> None:
    splitter = LineSplitter()
    splitter.feed(b"a\rb\r")
    assert splitter.finish() == [Line(1, 0, "b")]
    assert splitter.finish() == []


# ---------------------------------------------------------------------------------------------- decoding


def test_split_utf8_character_decodes_like_whole() -> None:
    text = "Epochs: 100%|██████████| 10/10 é 中 😀"
    data = text.encode() + b"\n"
    for cut in range(len(data)):
        assert split_lines([data[:cut], data[cut:]]) == [Line(1, 0, text)]


def test_invalid_bytes_become_replacement_characters() -> None:
    assert finals(b"a\xffb\xe2\x96\n\xc3") == ["a\ufffdb\ufffd", "\ufffd"]


def test_truncated_sequence_before_newline_is_one_replacement() -> None:
    # The seed log's cut character: an incomplete 3-byte sequence glued to the next text.
    assert finals(b"\xe2\x96TrainingModelWithLoss(\n") == ["\ufffdTrainingModelWithLoss("]


# ---------------------------------------------------------------------------------------------- cleaning


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"\x1b[31mred\x1b[0m plain", "red plain"),
        (b"\x1b[2Jcleared\x1b[H", "cleared"),
        (b"\x1b[?25lhidden cursor\x1b[?25h", "hidden cursor"),
        (b"\x1b[38;5;196mcolour\x1b[m", "colour"),
        (b"a\x1b]52;c;SGVsbG8gd29ybGQ=\x07b", "ab"),  # OSC 52 clipboard write, BEL-terminated
        (b"a\x1b]0;title\x1b\\b", "ab"),  # OSC, ST-terminated
        (b"a\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\b", "alinkb"),  # hyperlink
        (b"a\x1bPq#0;2;0;0;0\x1b\\b", "ab"),  # DCS (sixel)
        (b"a\x1b_apc\x1b\\b\x1b^pm\x1b\\c\x1bXsos\x1b\\d", "abcd"),
        (b"a\x1b7b\x1b8c\x1b(Bd\x1bce", "abcde"),  # two-character ESC sequences
        (b"a\x1b", "a"),  # lone ESC at end of line
        (b"a\x00b\x07c\x08d\x0be\x0cf\x7fg", "abcdefg"),  # NUL, BEL, BS, VT, FF, DEL
        (b"tab\there", "tab\there"),  # tab kept
        ("a\u009b31mb\u009dtitle\u009cc\u0085d".encode(), "abcd"),  # 8-bit C1 CSI/OSC/ST/NEL
        ("a\u202eevil\u202cb\u2066c\u2069d\u2028e".encode(), "aevilbcde"),  # bidi overrides, line separator
        (b"[bold]not markup[/bold]", "[bold]not markup[/bold]"),
    ],
)
def test_escape_sequences_and_controls_removed(raw: bytes, expected: str) -> None:
    assert finals(raw + b"\n") == [expected]
    assert clean_bytes(raw) == expected


def test_escape_sequence_split_across_chunks() -> None:
    data = b"x\x1b]52;c;SGVsbG8=\x07y\x1b[1;31mz\x1b[0m\n"
    for cut in range(1, len(data)):
        assert [x.text for x in split_lines([data[:cut], data[cut:]])] == ["xyz"]


def test_newline_ends_an_unterminated_osc() -> None:
    assert finals(b"a\x1b]0;no terminator\nnext line\n") == ["a", "next line"]


# ---------------------------------------------------------------------------------------------- caps and memory


def test_long_line_is_cut_with_marker() -> None:
    lines = lines_of(b"x" * 100 + b"\nshort\n", max_line=40)
    assert lines[0].truncated
    assert lines[0].text == "x" * 40 + " … [cut: 60 bytes]"
    assert lines[1] == Line(2, 101, "short")


def test_long_line_cut_same_for_any_chunking() -> None:
    data = ("é" * 300).encode() + b"\r" + b"y" * 500 + b"\n" + b"z" * 10
    assert_chunking_invariant(lambda chunks: split_lines(chunks, max_line=64), data, bytewise=False)


def test_ten_megabyte_line_without_newline_uses_bounded_memory() -> None:
    splitter = LineSplitter(max_line=65536)
    chunk = b"A" * 65536
    tracemalloc.start()
    try:
        for _ in range(160):  # 10 MiB
            assert splitter.feed(chunk) == []
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2 * 1024 * 1024, peak
    (line,) = splitter.finish()
    assert line.truncated and line.number == 1 and line.offset == 0
    assert line.text.startswith("A" * 65536)
    assert line.text.endswith(f" … [cut: {160 * 65536 - 65536} bytes]")


def test_offsets_and_numbers_after_a_cut_line() -> None:
    data = b"a\n" + b"b" * 1000 + b"\nc\n"
    lines = lines_of(data, max_line=100)
    assert [(x.number, x.offset) for x in lines] == [(1, 0), (2, 2), (3, 1003)]


# ---------------------------------------------------------------------------------------------- chunking


def _sample_stream() -> bytes:
    parts = [
        b"2024-03-30 12:53:41,263 INFO:   | Train Device=CSX, Step=100, Loss=9.48438\n",
        "Epochs:  50%|█████     | 5/10 [00:53<00:53, 10.7s/it]\r".encode(),
        "Epochs:  60%|██████    | 6/10 [01:04<00:42, 10.7s/it]\r\n".encode(),
        b"\x1b[32mgreen\x1b[0m \x1b]52;c;aGk=\x07done\r\n",
        b"\xe2\x96\x88\xe2\x96TrainingModelWithLoss(\n",
        b"nul\x00byte \xff bad\n",
        b"\r\r\rcr only\r",
        b"\ttabbed\n",
        b"no newline at end",
    ]
    return b"".join(parts)


def test_bytewise_and_random_chunkings_equal_whole() -> None:
    lines = assert_chunking_invariant(split_lines, _sample_stream())
    assert [x.number for x in lines if x.final] == list(range(1, 8))
    assert Line(6, lines[-2].offset, "cr only", final=False) in lines  # "\r" then "\t": a redraw


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                b"a",
                b"\xc3\xa9",
                b"\xe2\x96\x88",
                b"\r",
                b"\n",
                b"\r\n",
                b"\x1b[1m",
                b"\x1b]0;t\x07",
                b"\x9b",
                b"\xff",
                b" ",
            ]
        ),
        max_size=60,
    ),
    st.integers(0, 2**32),
)
def test_any_chunking_equals_whole(pieces: list[bytes], seed: int) -> None:
    data = b"".join(pieces)
    rng = random.Random(seed)
    cuts = sorted(rng.sample(range(len(data) + 1), min(len(data) + 1, 6)))
    chunks = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
    assert split_lines(chunks, max_line=16) == split_lines([data], max_line=16)


# ---------------------------------------------------------------------------------------------- blocks


def _step_lines(first: int, count: int) -> bytes:
    return b"".join(
        b"2024-03-30 13:03:05,540 INFO:   | Train Device=CSX, Step=%d, Loss=7.25, Rate=6697.53 samples/sec\n" % i
        for i in range(first, first + count)
    )


def _expand(items: list[Item]) -> list[Line]:
    out: list[Line] = []
    for item in items:
        out.extend(item.lines() if isinstance(item, LineBlock | RedrawnLine) else [item])
    return out


def test_large_clean_region_becomes_one_block_equal_to_lines() -> None:
    data = b"partial start\n" + _step_lines(1, 2000) + b"tail without newline"
    splitter = LineSplitter()
    items = splitter.feed(data, blocks=True) + list(splitter.finish())
    blocks = [x for x in items if isinstance(x, LineBlock)]
    assert len(blocks) == 1 and blocks[0].count >= 1999
    assert len(blocks[0].data) >= BLOCK_MIN and blocks[0].data.endswith(b"\n")
    assert _expand(items) == lines_of(data)


def test_dirty_line_inside_large_region_keeps_clean_pieces_as_blocks() -> None:
    data = _step_lines(1, 1500) + b"\x1b[31merror in red\x1b[0m\r\n" + _step_lines(1501, 1500)
    splitter = LineSplitter()
    items = splitter.feed(data, blocks=True) + list(splitter.finish())
    assert any(isinstance(x, LineBlock) for x in items)
    assert _expand(items) == lines_of(data)
    assert "error in red" in [x.text for x in items if isinstance(x, Line)]


def test_no_block_for_small_regions_non_ascii_or_long_lines() -> None:
    small = _step_lines(1, 10)
    assert all(isinstance(x, Line) for x in LineSplitter().feed(small, blocks=True))
    non_ascii = _step_lines(1, 1000).replace(b"Loss", "Löss".encode())
    assert all(isinstance(x, Line) for x in LineSplitter().feed(non_ascii, blocks=True))
    long_lines = (b"y" * 300 + b"\n") * 400
    items = LineSplitter(max_line=256).feed(long_lines, blocks=True)
    assert all(isinstance(x, Line) and x.truncated for x in items)


def test_blocks_in_random_chunkings_expand_to_the_same_lines() -> None:
    data = _step_lines(1, 3000) + b"\rredraw\n" + _step_lines(3001, 3000)
    expected = lines_of(data)
    rng = random.Random(7)
    splitter = LineSplitter()
    items: list[Line | LineBlock] = []
    i = 0
    while i < len(data):
        size = rng.randint(1, 300_000)
        items.extend(splitter.feed(data[i : i + size], blocks=True))
        i += size
    items.extend(splitter.finish())
    assert _expand(items) == expected


def test_clean_lines_right_after_a_redrawn_line_join_the_block() -> None:
    # A progress bar's line (dirty: \r, non-ASCII) then a format's clean lines: only the bar's few KiB go line by
    # line; the clean lines from the next sub-piece on are one block (not the rest of a 64 KiB piece line by line).
    bar = "\r".join(f"{n:3d}%|{'█' * (n // 10):<10}| {n}/100 [00:01<00:09, 9.00it/s]" for n in range(100))
    data = (bar + "\n").encode() + _step_lines(1, 3000)
    splitter = LineSplitter()
    items = splitter.feed(data, blocks=True) + list(splitter.finish())
    loose = [x for x in items if isinstance(x, Line) and x.final]
    assert len(loose) < 1 + 4096 // 40  # the bar's line and at most one sub-piece of step lines
    assert _expand(items) == lines_of(data)


_REDRAWN = [
    b"\r  1%|  | 1/9 [00:01<00:09]\r  2%|  | 2/9 [00:02<00:08]\r  3%|  | 3/9 [00:03<00:07]\n",  # (a first \r)
    b"a 1%\r\r   \ra 2%\r\n",  # blank redraws are none; \r\n ends the line
    b"a 1%\ra 2%\r   \n",  # erased to spaces: the last state shown is the final one
    b"a 1%\ra 2%\r\n",  # \r\n after a \r
    b"only\r\n",  # no redraw at all
    b"\r\rfinal only\n",
    "a 1%\ra █ 2%\ra 3%\n".encode(),  # not ASCII
    b"a \x1b[1m1%\x1b[0m\ra 2%\n",  # an escape: the byte-wise path
    b"x" * 300 + b"\ry\n",  # longer than the cap: the byte-wise path
    b"plain line\n",
]


@pytest.mark.parametrize("seed", range(6))
def test_redrawn_lines_come_whole_with_blocks_and_expand_to_the_same_lines(seed: int) -> None:
    rng = random.Random(seed)
    data = b"".join(rng.choice(_REDRAWN) for _ in range(400)) + _step_lines(1, 300)
    expected = split_lines([data], max_line=256)
    splitter = LineSplitter(max_line=256)
    items: list[Item] = []
    i = 0
    while i < len(data):
        size = rng.choice([1, 7, 97, 5000, 40000, len(data)])
        items.extend(splitter.feed(data[i : i + size], blocks=True))
        i += size
    items.extend(splitter.finish())
    assert _expand(items) == expected
    whole = [item for item in items if isinstance(item, RedrawnLine)]
    assert all(len(item.texts) > 1 for item in whole)
    assert whole  # (some lines did come whole)
