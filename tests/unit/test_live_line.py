"""The line under way (a progress bar's ``\\r`` redraws before its line ends): what the splitter says it shows now,
that asking changes nothing, that a quiet stream does not cut a bar into lines, and that a source hands it on in a
batch of its own when nothing else changed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

from hwmon.parsers.lines import PARTIAL_BYTES, LineSplitter
from hwmon.parsers.stream import StreamParser
from hwmon.sources.follow import Chunk
from hwmon.sources.source import FollowSource

STREAM = b"epoch 1\n\rLoss:2.30 | 1/9\rLoss:2.10 | 5/9\rLoss:1.90 | 9/9\nepoch 2\n\rLoss:1.8 | 1/9"


def terminal_view(data: bytes) -> str | None:
    """What a terminal shows on the line being written after ``data``: the text after the last \\r (or the last
    non-blank state), None when the last byte ended a line."""
    tail = data.rsplit(b"\n", 1)[-1]
    if not tail:
        return None
    states = [s for s in tail.split(b"\r") if s.strip()]
    return states[-1].decode() if states else None


def test_partial_is_what_a_terminal_shows_byte_by_byte() -> None:
    splitter = LineSplitter()
    for end in range(1, len(STREAM) + 1):
        splitter.feed(STREAM[end - 1 : end])
        assert splitter.partial() == terminal_view(STREAM[:end]), STREAM[:end]


def test_asking_for_the_partial_changes_no_output() -> None:
    quiet, asking = LineSplitter(), LineSplitter()
    out_quiet = [item for b in range(len(STREAM)) for item in quiet.feed(STREAM[b : b + 1])]
    out_asking = []
    for b in range(len(STREAM)):
        out_asking += asking.feed(STREAM[b : b + 1])
        asking.partial()
    assert out_asking == out_quiet
    assert asking.finish() == quiet.finish()


def test_a_huge_line_under_way_is_shown_by_its_start_only() -> None:
    splitter = LineSplitter()
    splitter.feed(b"\r" + b"x" * (PARTIAL_BYTES * 10))
    partial = splitter.partial()
    assert partial is not None and partial.startswith("x" * 100)
    assert len(partial) < PARTIAL_BYTES + 64 and "[cut:" in partial


def test_a_quiet_stream_does_not_cut_a_bar_whose_first_state_is_drawn() -> None:
    # tqdm starts every state with \r, so the first one has no non-blank redraw before it: still a bar, not a
    # crash's last words (ending it on a quiet spell would split the bar into a line per quiet spell).
    splitter = LineSplitter()
    splitter.feed(b"start\n\r  0%|          | 0/100")
    assert splitter.end_partial() == []
    assert splitter.partial() == "  0%|          | 0/100"
    # Last words without a \r are still ended on a quiet spell (the hold-back it exists for).
    other = LineSplitter()
    other.feed(b"start\nRuntimeError: out of memory")
    assert [line.text for line in other.end_partial()] == ["RuntimeError: out of memory"]


def test_stream_parser_exposes_the_partial() -> None:
    parser = StreamParser(keep_lines=10)
    parser.feed(b"a\n\rLoss:2.0 | 3/9")
    assert parser.partial() == "Loss:2.0 | 3/9"
    assert parser.pop_lines() == ["a"]
    parser.feed(b"\n")
    assert parser.partial() is None


@dataclass
class ChunksForTests:
    """A follower test double: yields the given chunks, then ends."""

    to_yield: list[Chunk]
    name: str = "bar.log"
    closed: bool = False

    async def chunks(self) -> AsyncIterator[Chunk]:
        for chunk in self.to_yield:
            yield chunk

    def close(self) -> None:
        self.closed = True


async def _collect(source: FollowSource) -> list[object]:
    return [batch async for batch in source.batches()]


def test_a_source_yields_a_batch_when_only_the_redraw_changed() -> None:
    # A redraw of a bar no parser reads gives no event and no finished line: the batch exists for the live row.
    chunks = [
        Chunk(b"start\n\rwarming 1/3", (), False, 1.0),
        Chunk(b"\rwarming 2/3", (), False, 2.0),
        Chunk(b"\rwarming 3/3\n", (), True, 3.0),
    ]
    source = FollowSource(ChunksForTests(chunks), name="bar.log")  # type: ignore[arg-type]
    batches = asyncio.run(_collect(source))
    partials = [getattr(batch, "partial", None) for batch in batches]
    assert partials[:2] == ["warming 1/3", "warming 2/3"]
    assert partials[-1] is None
    assert "warming 3/3" in [line for batch in batches for line in getattr(batch, "lines", [])]
