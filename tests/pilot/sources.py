"""Test-only sources for the dashboard: replay prepared batches (no files, no threads) with a fixed clock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field

from hwmon.events import Event


@dataclass(frozen=True, slots=True)
class FakeBatch:
    """Same shape as ``hwmon.sources.source.Batch``."""

    events: list[Event]
    lines: list[str]
    status: str | None = None
    eof: bool = False
    at: float = 0.0
    partial: str | None = None
    first_line: int = 0


@dataclass
class ReplaySourceForTests:
    """Yields the given batches, then (unless ``hold_open``) ends; records that ``close()`` was called."""

    batches_to_yield: list[FakeBatch]
    name: str = "replay.log"
    hold_open: bool = False
    delay: float = 0.0
    closed: bool = False
    queue: asyncio.Queue[FakeBatch] | None = field(default=None, repr=False)

    async def batches(self) -> AsyncIterator[FakeBatch]:
        for batch in self.batches_to_yield:
            if self.delay:
                await asyncio.sleep(self.delay)
            yield batch
            if batch.eof:
                return
        if self.queue is None and not self.hold_open:
            return
        while not self.closed:
            if self.queue is None:
                await asyncio.sleep(0.05)
                continue
            item = await self.queue.get()
            yield item
            if item.eof:
                return

    def push(self, batch: FakeBatch) -> None:
        """Hand one more batch to a running app (needs ``queue``)."""
        assert self.queue is not None
        self.queue.put_nowait(batch)

    def close(self) -> None:
        self.closed = True


def parse_fixture(data: bytes) -> tuple[list[Event], list[str]]:
    """Events and final raw lines of a whole fixture, through the real stream parser."""
    from hwmon.parsers.stream import StreamParser

    parser = StreamParser(keep_lines=100_000)
    events = parser.feed(data) + parser.finish()
    return events, parser.pop_lines()


def replay_fixture(data: bytes, *, name: str, chunks: Iterable[bytes] | None = None) -> ReplaySourceForTests:
    """A source that yields the fixture's events and lines in one batch and ends."""
    events, lines = parse_fixture(data)
    return ReplaySourceForTests([FakeBatch(events, lines, eof=True)], name=name)
