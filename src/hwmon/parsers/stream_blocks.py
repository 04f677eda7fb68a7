"""The stream's bulk half. Pure; a mixin of ``hwmon.parsers.stream.StreamParser``.

- A ``LineBlock`` (a large clean region of the input) is offered to each format's fast path (``feed_block``), and
  when none takes it, halved at a newline and offered again, down to ``MIN_BLOCK_LINES`` lines, which are then fed
  one by one.
- A run of (bar line, step line) pairs that arrived together is read in bulk where it qualifies
  (``hwmon.parsers.stream_runs``).
- A run of ``\\r`` redraws of one line that arrived together (at least ``MIN_REDRAW_RUN``; a catch-up read) is
  offered to every reader of redraws at once: when each says the run changes nothing of its own but what it reads
  (``accepts_redraws``: tqdm's plain bars, ``hwmon.parsers.tqdm_redraws``), each takes it (``take_redraws``) and
  the run becomes one ``ProgressBatch``; otherwise its first redraw goes the ordinary way (it may release what
  waits for the bar) and the rest are offered again, then go one by one.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from hwmon.events import Event, ProgressBatch, StepBatch
from hwmon.parsers.base import Line, LineBlock, RedrawnLine
from hwmon.parsers.lines import Item
from hwmon.parsers.ranks import RankLines
from hwmon.parsers.stream_runs import StreamRuns

__all__ = ["MIN_BLOCK_LINES", "MIN_REDRAW_RUN", "StreamBlocks"]

MIN_BLOCK_LINES = 128
"""Blocks no parser takes are halved down to about this many lines, then fed line by line."""
MIN_REDRAW_RUN = 3
"""Fewer redraws of one line than this arriving together go one by one."""
_TREE_REDRAWS = 8  # the model tree keeps at most this many redraws of a line (modeltree._feed)
_F_METRIC = 1  # (stream._F_METRIC: the line's metrics were reported; a ProgressUpdate is one)

BlockFeeder = Callable[[LineBlock, Callable[[Line], "list[Event]"]], "list[Event] | None"]


class StreamBlocks(StreamRuns):
    """The block methods; the state they use is ``StreamParser``'s."""

    blocks: bool
    lines_seen: int
    keep_lines: int
    _kept: deque[str]
    _block_feeders: list[BlockFeeder]
    _ranks: RankLines
    _redraw_parsers: list[Any]
    _tree: Any
    learned: Any

    def _parse_line(self, raw: Line, out: list[Event]) -> None:
        raise NotImplementedError

    def _line(self, line: Line, out: list[Event]) -> None:
        raise NotImplementedError

    def _remember(self, number: int, flags: int) -> None:
        raise NotImplementedError

    def _items(self, items: list[Item], out: list[Event]) -> None:
        """What the splitter gave for one slice of input, in order: blocks in bulk, runs of (bar line, step line)
        pairs in bulk where they qualify, runs of redraws of one line together (in bulk reading), every other line
        the ordinary way."""
        i, n = 0, len(items)
        retry = 0  # (no run of pairs is tried again before this index)
        while i < n:
            item = items[i]
            if isinstance(item, LineBlock):
                self._block(item, out)
                i += 1
                continue
            if isinstance(item, RedrawnLine):
                if i >= retry:
                    try:
                        go, retry = self._run_of_pairs(items, i, out)
                    except Exception as exc:
                        # A failing reader of runs leaves them to the line path (after saying so).
                        out.extend(self._fault(self._run_of_pairs, item.number, exc))
                        go, retry = i, n
                    if go > i:
                        i = go
                        continue
                self._redrawn(item.lines(), out)
                i += 1
                continue
            j = i + 1
            if self.blocks and not item.final:
                while j < n:
                    following = items[j]
                    if not isinstance(following, Line) or following.final or following.number != item.number:
                        break
                    j += 1
            if j - i >= MIN_REDRAW_RUN:
                self._redraws([line for line in items[i:j] if isinstance(line, Line)], out)
            else:
                self._line(item, out)
                j = i + 1
            i = j

    def _redrawn(self, lines: list[Line], out: list[Event]) -> None:
        """A redrawn line's ``Line`` objects (``RedrawnLine.lines()``) as the loop above reads them one by one: its
        redraws together when there are enough, then its final line."""
        redraws = lines[:-1]
        if len(redraws) >= MIN_REDRAW_RUN:
            self._redraws(redraws, out)
        else:
            for line in redraws:
                self._line(line, out)
        self._line(lines[-1], out)

    def _redraws(self, lines: list[Line], out: list[Event]) -> None:
        if self._take_redraws(lines, out):
            return
        self._line(lines[0], out)  # (it may release what waits for the bar: an HF loss dict)
        rest = lines[1:]
        if len(rest) < MIN_REDRAW_RUN or not self._take_redraws(rest, out):
            for line in rest:
                self._line(line, out)

    def _take_redraws(self, lines: list[Line], out: list[Event]) -> bool:
        """The run ``lines`` (redraws of one line) in bulk when every reader of redraws accepts it (see the module
        doc); False (nothing done) otherwise."""
        if self._ranks.watching:
            return False
        texts = [line.text for line in lines]
        for parser in self._redraw_parsers:
            accepts = getattr(parser, "accepts_redraws", None)
            if accepts is None or not accepts(texts):
                return False
        number = lines[0].number
        events: list[Event] = []
        for parser in self._redraw_parsers:
            events.extend(parser.take_redraws(texts, number))
        for line in lines[:_TREE_REDRAWS]:
            self._tree.feed(line)  # (it keeps a line's first redraws: a root glued behind a bar)
        for event in events:
            if isinstance(event, ProgressBatch) and not event.last.name and event.last.total:
                self.learned.structured.bar(event.last.n)  # (what LearnedStage.after does for each redraw)
        if events:
            self._remember(number, _F_METRIC)
        out.extend(events)
        return True

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
        cut = mid + 1
        left_places = tuple(place for place in block.places if place[0] < cut)
        base_at, base_index = left_places[-1] if left_places else (0, 0)
        left_count = base_index + data.count(b"\n", base_at, cut)
        right_places = tuple((at - cut, index - left_count) for at, index in block.places if at >= cut)
        self._parse_block(LineBlock(block.first_number, block.offset, left, left_count, left_places), out)
        self._parse_block(
            LineBlock(
                block.first_number + left_count,
                block.offset + cut,
                data[cut:],
                block.count - left_count,
                right_places,
            ),
            out,
        )
