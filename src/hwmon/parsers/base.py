"""Shared types of the pure parsing layer: lines out of the splitter, and the parser interface.

The splitter (``hwmon.parsers.lines``) turns bytes into ``Line`` objects (and, for large clean regions of a file,
``LineBlock`` objects that a parser may process in bulk). Format parsers turn lines into events
(``hwmon.events``). Nothing in this package does I/O or imports a UI library.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from hwmon.events import Event


@dataclass(frozen=True, slots=True, init=False)
class Line:
    """One line of output, cleaned: decoded (invalid UTF-8 -> U+FFFD), escape sequences and control characters
    removed, cut with a marker if longer than the cap.

    ``number`` is the 1-based line number in the stream and ``offset`` the byte offset of the line's first byte.
    A progress bar that redraws itself with bare ``\\r`` produces one ``Line`` per redraw with ``final=False``
    (same number and offset as the line it belongs to) and then the last state with ``final=True``: only final
    lines belong in a raw log view, but every redraw is a state a parser may use.
    """

    number: int
    offset: int
    text: str
    final: bool = True
    truncated: bool = False

    def __init__(self, number: int, offset: int, text: str, final: bool = True, truncated: bool = False) -> None:
        # The generated __init__ of a frozen dataclass sets each field through ``object.__setattr__``; the slots'
        # own setters are cheaper, and a catch-up read makes a Line per progress bar redraw (~10 per bar line).
        _set_number(self, number)
        _set_offset(self, offset)
        _set_text(self, text)
        _set_final(self, final)
        _set_truncated(self, truncated)


_set_number = Line.__dict__["number"].__set__
_set_offset = Line.__dict__["offset"].__set__
_set_text = Line.__dict__["text"].__set__
_set_final = Line.__dict__["final"].__set__
_set_truncated = Line.__dict__["truncated"].__set__


@dataclass(frozen=True, slots=True)
class RedrawnLine:
    """A complete line redrawn with bare ``\\r`` (a progress bar's states), handed over whole: ``texts`` are the
    ``Line`` texts the splitter would give for it one by one (its non-blank redraws, then its final text; at least
    one redraw). The splitter makes these only when asked for blocks (``LineSplitter.feed(..., blocks=True)``), so a
    bulk reader takes a run of bar lines without a ``Line`` per state; ``lines()`` gives those ``Line`` objects."""

    number: int
    offset: int
    texts: tuple[str, ...]

    def lines(self) -> list[Line]:
        number, offset = self.number, self.offset
        out = [Line(number, offset, text, False) for text in self.texts[:-1]]
        out.append(Line(number, offset, self.texts[-1]))
        return out


@dataclass(frozen=True, slots=True)
class LineBlock:
    """Many complete, clean lines at once (ASCII, no control bytes but ``\\n``, each shorter than the cap).

    The splitter emits these only for large regions so a parser can take a vectorised fast path (e.g. count and
    aggregate thousands of homogeneous step lines with C-level ``bytes`` operations). ``data`` ends with ``\\n``.
    ``lines()`` gives the same ``Line`` objects the splitter would have produced one by one.
    """

    first_number: int
    offset: int
    data: bytes
    count: int
    places: tuple[tuple[int, int], ...] = ()
    """(offset in ``data``, line index in the block) of line starts about every ``PLACE_EVERY`` bytes, ascending,
    from the splitter's one counting pass (``count_lines``): a fast path finds a line's number near any offset
    without counting from the start again. Empty: not known."""

    def lines(self) -> Iterator[Line]:
        number = self.first_number
        offset = self.offset
        for raw in self.data.split(b"\n")[:-1]:
            yield Line(number, offset, raw.decode("ascii"))
            number += 1
            offset += len(raw) + 1


PLACE_EVERY = 1 << 16
"""The spacing of ``LineBlock.places`` in bytes."""


def count_lines(data: bytes, every: int = PLACE_EVERY) -> tuple[int, tuple[tuple[int, int], ...]]:
    """The number of ``\n`` in ``data`` and, in the same pass, (offset, index) of a line start about every
    ``every`` bytes (``LineBlock.places``)."""
    places: list[tuple[int, int]] = []
    index = previous = 0
    rfind, count = data.rfind, data.count
    for cut in range(every, len(data), every):
        start = rfind(b"\n", previous, cut) + 1
        if start <= previous:
            continue
        index += count(b"\n", previous, start)
        places.append((start, index))
        previous = start
    return index + count(b"\n", previous), tuple(places)


class LineParser(Protocol):
    """A pure, stateful parser of one format. It must not raise on any input."""

    def feed(self, line: Line) -> list[Event]:
        """Events for this line (possibly none; possibly events for earlier lines it was holding)."""
        ...

    def finish(self) -> list[Event]:
        """End of input: flush anything held (an open module tree, a traceback)."""
        ...
