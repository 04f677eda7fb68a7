"""The stream's bulk half: a ``LineBlock`` (a large clean region of the input) offered to each format's fast path
(``feed_block``), and when none takes it, halved at a newline and offered again, down to ``MIN_BLOCK_LINES`` lines,
which are then fed one by one. Pure; a mixin of ``hwmon.parsers.stream.StreamParser``."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from hwmon.events import Event, StepBatch
from hwmon.parsers.base import Line, LineBlock
from hwmon.parsers.ranks import RankLines

__all__ = ["MIN_BLOCK_LINES", "StreamBlocks"]

MIN_BLOCK_LINES = 128
"""Blocks no parser takes are halved down to about this many lines, then fed line by line."""

BlockFeeder = Callable[[LineBlock, Callable[[Line], "list[Event]"]], "list[Event] | None"]


class StreamBlocks:
    """The block methods; the state they use is ``StreamParser``'s."""

    lines_seen: int
    keep_lines: int
    _kept: deque[str]
    _block_feeders: list[BlockFeeder]
    _ranks: RankLines

    def _parse_line(self, raw: Line, out: list[Event]) -> None:
        raise NotImplementedError

    def _fault(self, parser: object, number: int, exc: Exception) -> list[Event]:
        raise NotImplementedError

    def _block(self, block: LineBlock, out: list[Event]) -> None:
        self.lines_seen += block.count
        if self.keep_lines:
            keep = self.keep_lines
            parts = block.data.rsplit(b"\n", keep + 1)
            tail = parts[1:-1] if len(parts) == keep + 2 else parts[:-1]
            self._kept.extend(raw.decode("ascii") for raw in tail)
        self._parse_block(block, out)

    def _other_line(self, line: Line) -> list[Event]:
        """One line of a block through every parser and stage, as the line path reads it (for a fast path that
        takes only some of a block's lines)."""
        events: list[Event] = []
        self._parse_line(line, events)
        return events

    def _parse_block(self, block: LineBlock, out: list[Event]) -> None:
        for feed_block in self._block_feeders:
            try:
                events = feed_block(block, self._other_line)
            except Exception as exc:
                # A failing fast path falls back to the line path (after saying so).
                out.extend(self._fault(feed_block, block.first_number, exc))
                events = None
            if events is not None:
                out.extend(events)
                for event in events:
                    if isinstance(event, StepBatch):
                        # A rank's step lines read in bulk are still that rank's lines (issue 21).
                        out.extend(self._ranks.feed_batch(event))
                return
        if block.count <= MIN_BLOCK_LINES:
            for line in block.lines():
                self._parse_line(line, out)
            return
        data = block.data
        mid = data.find(b"\n", len(data) // 2 - 1)
        if mid == -1 or mid + 1 >= len(data):
            for line in block.lines():
                self._parse_line(line, out)
            return
        left = data[: mid + 1]
        left_count = left.count(b"\n")
        self._parse_block(LineBlock(block.first_number, block.offset, left, left_count), out)
        self._parse_block(
            LineBlock(
                block.first_number + left_count, block.offset + mid + 1, data[mid + 1 :], block.count - left_count
            ),
            out,
        )
