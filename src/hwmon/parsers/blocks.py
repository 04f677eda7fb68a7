"""The bulk fast path of every format: runs of step lines of one template in a ``LineBlock`` read with C-level
``bytes`` operations into ``StepBatch`` events equal to feeding the lines one by one, and the decoders that read a
batch's lines back as ``hwmon.events.StepColumns`` for the model. Pure.

- ``BlockSteps`` is the fast path a parser mixes in: ``feed_block(block, other)`` as the stream calls it. The
  parser says what its step lines look like (``block_shape``: a ``Shape``, literals every step line holds and no
  other line does), when a step line would change nothing but the step (``block_steady``), how to read one step
  line (``block_line``, the line path's own function: samples) and the losses of a run (``block_losses``), and which
  ``BlockDecoder`` reads its lines back (``block_decoder``). A block that is all step lines is checked with a few C
  passes (``bytes.count``); a smaller one mixing step lines with others is split once and walked run by run, every
  other line through ``other`` (the stream's whole line path), in order. Lines before the parser is steady
  (entering training, a new target) go the ordinary way too, so state changes are the line path's.
- ``TemplateDecoder`` (in ``hwmon.parsers.decoders``, re-exported here) is a ``BlockDecoder`` from one bytes regex
  over a whole line whose named groups have roles (``step``, ``loss``, ``rate``, ``extra:NAME``...): one
  ``findall`` over the batch, then one conversion per column. Lines the regex does not take are read by the
  format's own per-line function, so every row is the line path's.
"""

from __future__ import annotations

import math
import operator
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import repeat

from hwmon.events import BlockDecoder, Event, StepBatch, StepMetrics
from hwmon.parsers.base import Line, LineBlock
from hwmon.parsers.decoders import TemplateDecoder, read_timestamps

__all__ = [
    "MIN_BATCH",
    "SAMPLES_PER_BATCH",
    "BlockSteps",
    "Losses",
    "Shape",
    "TemplateDecoder",
    "float_losses",
    "read_timestamps",
    "sample_lines",
]

SAMPLES_PER_BATCH = 64
"""How many evenly spaced StepMetrics a StepBatch carries (first and last included)."""
MIN_BATCH = 4
"""A run of fewer step lines than this is not worth a StepBatch: it goes line by line."""
_MIN_BLOCK_LINES = 8
# Blocks up to this many lines that mix step lines with other lines are walked run by run here; larger ones are
# left for the stream to bisect (a few odd lines in 30k step lines cost two C passes that way).
_MIXED_MAX_LINES = 2048
_MAX_INDEX = 1 << 62

Other = Callable[[Line], "list[Event]"]
Losses = tuple[float | None, float | None, int]
"""(min, max of the finite losses, how many are not finite) of a run of step lines."""


@dataclass(frozen=True, slots=True)
class Shape:
    """What every step line of one template holds and no other line does: it starts with ``lead`` (``b""``: no
    constraint) and holds each of ``marks`` exactly once."""

    lead: bytes
    marks: tuple[bytes, ...]

    def count(self, data: bytes, start: int = 0, end: int | None = None) -> int:
        """Lines of ``data[start:end]`` (whole lines) that have the shape, when every one of its counts agrees;
        -1 when they disagree (some line holds one literal and not another)."""
        stop = len(data) if end is None else end
        counts = {data.count(mark, start, stop) for mark in self.marks}
        if self.lead:
            counts.add(data.count(b"\n" + self.lead, start, stop - 1) + data.startswith(self.lead, start))
        return counts.pop() if len(counts) == 1 else -1

    def holds(self, line: bytes) -> bool:
        """Whether one line (without its ``\\n``) has the shape."""
        return line.startswith(self.lead) and all(line.count(mark) == 1 for mark in self.marks)

    def flags(self, lines: list[bytes]) -> list[bool]:
        """``holds`` of each of ``lines``, at C speed (a line holding a mark twice counts as holding it: such a
        line is read by the decoder's per-line fallback, as the line path reads it)."""
        n = len(lines)
        flags: list[bool] = list(map(bytes.startswith, lines, repeat(self.lead, n)))
        for mark in self.marks:
            flags = list(map(operator.and_, flags, map(bytes.__contains__, lines, repeat(mark, n))))
        return flags


class BlockSteps:
    """The fast path's runner; the hooks below are the format's (see the module doc)."""

    def feed(self, line: Line) -> list[Event]:
        raise NotImplementedError

    # --- hooks ------------------------------------------------------------------------------------------------

    def block_shape(self, data: bytes) -> Shape | None:
        """The shape of the step lines of this format found near the start of ``data``, or None."""
        return None

    def block_steady(self, shape: Shape) -> bool:
        """Whether a step line of ``shape`` would now give exactly its ``StepMetrics`` and change no state."""
        return False

    def block_stop(self, data: bytes, start: int, end: int, shape: Shape) -> int:
        """Where in the steady run ``data[start:end]`` the first line starts that would do more than give its step
        (a format whose last step ends the run: that line), or ``end``. That line goes the ordinary way."""
        return end

    def block_others(self, data: bytes, shape: Shape) -> list[tuple[int, int]] | None:
        """Lines other than step lines that this format finds at C speed and takes among step lines in a large
        block ((start, end) of each, ``end`` at its ``\\n``); ``None`` to refuse the block."""
        return None

    def block_line(self, text: str, number: int) -> StepMetrics | None:
        """The line path's reading of one step line (the batch's first, last and sampled steps)."""
        return None

    def block_losses(self, data: bytes, start: int, end: int, count: int) -> Losses | None:
        """(min, max of the finite losses, how many are not finite) of the ``count`` step lines ``data[start:end]``;
        None when some line's loss does not read (the run then goes line by line)."""
        return None

    def block_decoder(self, shape: Shape) -> BlockDecoder | None:
        """The decoder that reads this shape's lines back as columns."""
        return None

    # --- the runner ---------------------------------------------------------------------------------------------

    def feed_block(self, block: LineBlock, other: Other | None = None) -> list[Event] | None:
        """Events for a block (its step runs in bulk, every other line the ordinary way), or None when this format
        cannot take it (the stream then bisects it or feeds it line by line)."""
        if block.count < _MIN_BLOCK_LINES:
            return None
        data = block.data
        shape = self.block_shape(data)
        if shape is None:
            return None
        found = shape.count(data)
        if found == block.count:
            out: list[Event] = []
            self._run(block, 0, len(data), block.first_number, shape, out, other)
            return out
        others = self.block_others(data, shape) if found > 0 else None
        if others is not None and found + len(others) == block.count:
            return self._with_others(block, shape, others, other)
        if other is not None and found > 0 and block.count <= _MIXED_MAX_LINES:
            return self._mixed(block, shape, other)
        return None

    def _one(self, block: LineBlock, start: int, end: int, number: int, other: Other | None) -> list[Event]:
        line = Line(number, block.offset + start, block.data[start:end].decode("ascii"))
        return other(line) if other is not None else self.feed(line)

    def _with_others(
        self, block: LineBlock, shape: Shape, others: list[tuple[int, int]], other: Other | None
    ) -> list[Event]:
        data = block.data
        out: list[Event] = []
        number = block.first_number
        pos = 0
        for o_start, o_end in [*others, (len(data), len(data))]:
            if o_start > pos:
                number = self._run(block, pos, o_start, number, shape, out, other)
            if o_start < len(data):
                out.extend(self._one(block, o_start, o_end, number, other))
                number += 1
            pos = o_end + 1
        return out

    def _mixed(self, block: LineBlock, shape: Shape, other: Other) -> list[Event]:
        lines = block.data.split(b"\n")
        lines.pop()
        flags = shape.flags(lines)
        out: list[Event] = []
        n = len(lines)
        i = pos = 0
        while i < n:
            j = _index(flags, not flags[i], i, n)
            size = sum(map(len, lines[i:j])) + (j - i)
            if flags[i]:
                self._run(block, pos, pos + size, block.first_number + i, shape, out, other)
            else:
                at = pos
                for k in range(i, j):
                    out.extend(other(Line(block.first_number + k, block.offset + at, lines[k].decode("ascii"))))
                    at += len(lines[k]) + 1
            pos += size
            i = j
        return out

    def _run(
        self, block: LineBlock, start: int, end: int, number: int, shape: Shape, out: list[Event], other: Other | None
    ) -> int:
        """Step lines ``data[start:end]`` (the first numbered ``number``) -> events; returns the next number."""
        data = block.data
        while start < end:
            if not self.block_steady(shape):
                # Entering training, a new target, the run's last step...: that line goes the ordinary way.
                nl = data.index(b"\n", start)
                out.extend(self._one(block, start, nl, number, other))
                start, number = nl + 1, number + 1
                continue
            stop = self.block_stop(data, start, end, shape)
            # One pass over the run counts its lines and places the samples (the last sample is its last line).
            samples = sample_lines(data, start, stop, block.places, number - block.first_number) if stop > start else []
            count = samples[-1][1] + 1 if samples else 0
            batch = self._batch(data, start, stop, number, count, shape, samples) if count >= MIN_BATCH else None
            if batch is not None:
                out.append(batch)
                start, number = stop, number + count
            while start < stop:
                # Too short to be worth a batch, or a loss that does not read: line by line.
                nl = data.index(b"\n", start)
                out.extend(self._one(block, start, nl, number, other))
                start, number = nl + 1, number + 1
            if stop < end:
                nl = data.index(b"\n", stop)
                out.extend(self._one(block, stop, nl, number, other))
                start, number = nl + 1, number + 1
        return number

    def _batch(
        self,
        data: bytes,
        start: int,
        end: int,
        number: int,
        count: int,
        shape: Shape,
        places: list[tuple[int, int]],
    ) -> StepBatch | None:
        losses = self.block_losses(data, start, end, count)
        decoder = self.block_decoder(shape)
        if losses is None or decoder is None:
            return None
        samples: list[StepMetrics] = []
        for line_start, index in places:
            nl = data.index(b"\n", line_start)
            sample = self.block_line(data[line_start:nl].decode("ascii"), number + index)
            if sample is None:
                return None
            samples.append(sample)
        first, last = samples[0], samples[-1]
        return StepBatch(
            line=last.line,
            ts=last.ts,
            first=first,
            last=last,
            count=count,
            loss_min=losses[0],
            loss_max=losses[1],
            nonfinite=losses[2],
            samples=tuple(samples),
            raw=data[start:end],
            places=tuple((at - start, index) for at, index in places),
            reset_step=getattr(self, "_reset_step", 1),
            decoder=decoder,
            rule=decoder.rule,
        )


def _index(flags: list[bool], value: bool, start: int, stop: int) -> int:
    try:
        return flags.index(value, start, stop)
    except ValueError:
        return stop


def sample_lines(
    data: bytes, start: int, end: int, places: Sequence[tuple[int, int]] = (), first: int = 0
) -> list[tuple[int, int]]:
    """Evenly spaced lines of ``data[start:end]`` (whole lines, at least one): (line start, line index in the run),
    the first and the last always, so the last index + 1 is the number of lines (the runner counts them here).
    About one per 64 KB, at most ``SAMPLES_PER_BATCH``: parsing a sample costs ~10 us, and the plotted series keeps
    only a few hundred points however long the run. ``places`` (``LineBlock.places``: (offset, index) of line
    starts in ``data``, ``first`` the index of the line at ``start``) spare the pass that counts the lines: only
    the bytes from the last place to the last line are counted."""
    last_start = data.rfind(b"\n", start, end - 1) + 1
    span = last_start - start
    wanted = max(2, min(SAMPLES_PER_BATCH, span // 65536))
    found = [(start, 0)]
    if places:
        lo = bisect_right(places, (start, _MAX_INDEX))
        hi = bisect_right(places, (last_start, _MAX_INDEX))
        inside = places[lo:hi]
        if inside:
            stride = -(-len(inside) // max(1, wanted - 2))
            found.extend((at, index - first) for at, index in inside[stride - 1 :: stride] if at < last_start)
            base_at, base_index = inside[-1]
            base_index -= first
        else:
            base_at, base_index = start, 0
        if last_start > start:
            found.append((last_start, base_index + data.count(b"\n", base_at, last_start)))
        return found
    index = 0
    previous = start
    for j in range(1, wanted - 1):
        line_start = data.rfind(b"\n", previous, start + span * j // (wanted - 1)) + 1
        if line_start <= previous:
            continue
        index += data.count(b"\n", previous, line_start)
        found.append((line_start, index))
        previous = line_start
    if last_start > previous:
        index += data.count(b"\n", previous, last_start)
        found.append((last_start, index))
    return found


def float_losses(values: Sequence[bytes], count: int) -> Losses | None:
    """``block_losses`` from the loss text of every line (one per line, ``count`` of them): exact min/max of the
    finite values, the number of others; None when their number is not ``count`` or one does not read."""
    if len(values) != count:
        return None
    try:
        numbers = list(map(float, values))
    except ValueError:
        return None
    finite = [v for v in numbers if math.isfinite(v)] if not all(map(math.isfinite, numbers)) else numbers
    if not finite:
        return None, None, count
    return min(finite), max(finite), count - len(finite)
