"""Feed bytes whole, one byte at a time and in seeded random chunkings, and check the results agree.

A streaming parser must not depend on where ``read()`` happened to cut the stream (h11 ``tests/test_io.py`` does
the same). Typical use in a parser test::

    from tests.helpers.chunking import assert_chunking_invariant, parse_with

    def test_my_parser_is_chunking_invariant() -> None:
        data = FIXTURE.read_bytes()
        events = assert_chunking_invariant(lambda chunks: parse_with(MyParser, chunks), data)
        assert any(isinstance(e, StepMetrics) for e in events)

``assert_chunking_invariant`` returns the whole-input result so the test can go on asserting facts about it.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol, TypeVar

from hwmon.events import Event
from hwmon.parsers.base import Line
from hwmon.parsers.lines import LineSplitter
from hwmon.parsers.stream import StreamParser

T = TypeVar("T")

DEFAULT_SEEDS: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 6, 7)


class _LineParser(Protocol):
    def feed(self, line: Line) -> list[Event]: ...

    def finish(self) -> list[Event]: ...


def split_whole(data: bytes) -> list[bytes]:
    """The whole input as one chunk."""
    return [data]


def split_bytewise(data: bytes) -> list[bytes]:
    """One byte per chunk (the harshest chunking: every UTF-8 character and escape sequence is split)."""
    return [data[i : i + 1] for i in range(len(data))]


def split_random(data: bytes, seed: int, max_size: int = 97) -> list[bytes]:
    """Chunks of random sizes from 1 to ``max_size`` bytes, reproducible from ``seed``."""
    rng = random.Random(seed)
    chunks: list[bytes] = []
    i = 0
    while i < len(data):
        size = rng.randint(1, max_size)
        chunks.append(data[i : i + size])
        i += size
    return chunks


def chunkings(
    data: bytes, *, seeds: Iterable[int] = DEFAULT_SEEDS, max_size: int = 97, bytewise: bool = True
) -> list[tuple[str, list[bytes]]]:
    """(label, chunks) for every chunking tried: whole, byte-at-a-time (optional), and one per seed."""
    result: list[tuple[str, list[bytes]]] = [("whole", split_whole(data))]
    if bytewise:
        result.append(("bytewise", split_bytewise(data)))
    for seed in seeds:
        result.append((f"random(seed={seed}, max={max_size})", split_random(data, seed, max_size)))
    return result


def split_lines(chunks: Iterable[bytes], *, max_line: int = 65536) -> list[Line]:
    """All ``Line`` objects (redraws included) a ``LineSplitter`` makes of these chunks, finish included."""
    splitter = LineSplitter(max_line)
    lines: list[Line] = []
    for chunk in chunks:
        lines.extend(item for item in splitter.feed(chunk) if isinstance(item, Line))
    lines.extend(splitter.finish())
    return lines


def parse_with(factory: Callable[[], _LineParser], chunks: Iterable[bytes], *, max_line: int = 65536) -> list[Event]:
    """Run one format parser (made by ``factory``) over the lines of these chunks; ``finish`` included."""
    parser = factory()
    events: list[Event] = []
    splitter = LineSplitter(max_line)
    for chunk in chunks:
        for item in splitter.feed(chunk):
            if isinstance(item, Line):
                events.extend(parser.feed(item))
    for line in splitter.finish():
        events.extend(parser.feed(line))
    events.extend(parser.finish())
    return events


def stream_events(chunks: Iterable[bytes], *, blocks: bool = False) -> list[Event]:
    """The events of a full ``StreamParser`` (all format parsers) over these chunks; ``finish`` included."""
    parser = StreamParser(blocks=blocks)
    events: list[Event] = []
    for chunk in chunks:
        events.extend(parser.feed(chunk))
    events.extend(parser.finish())
    return events


def assert_chunking_invariant(
    run: Callable[[list[bytes]], Sequence[T]],
    data: bytes,
    *,
    seeds: Iterable[int] = DEFAULT_SEEDS,
    max_size: int = 97,
    bytewise: bool = True,
) -> Sequence[T]:
    """Assert ``run(chunks)`` gives the same result for every chunking of ``data``; return the whole-input result.

    On a difference the message names the chunking and the first differing item, so a failure is debuggable.
    """
    expected: Sequence[T] | None = None
    for label, chunks in chunkings(data, seeds=seeds, max_size=max_size, bytewise=bytewise):
        got = run(chunks)
        if expected is None:
            expected = got
            continue
        if list(got) != list(expected):
            first = next(
                (i for i, (a, b) in enumerate(zip(got, expected, strict=False)) if a != b),
                min(len(got), len(expected)),
            )
            want = expected[first] if first < len(expected) else "<end>"
            have = got[first] if first < len(got) else "<end>"
            raise AssertionError(
                f"{label}: result differs from whole-input feed at item {first} "
                f"(lengths {len(got)} vs {len(expected)}):\n  whole: {want!r}\n  {label}: {have!r}"
            )
    assert expected is not None
    return expected


def parse_text(text: str, chunk: int = 0) -> list[Event]:
    """The stream parser's events for ``text``: in one piece, or in ``chunk``-byte pieces."""
    data = text.encode()
    pieces = [data] if not chunk else [data[i : i + chunk] for i in range(0, len(data), chunk)]
    return stream_events(pieces)
