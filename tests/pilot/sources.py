"""Test-only sources for the dashboard: replay prepared batches (no files, no threads) with a fixed clock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any

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
    yielded: int = 0  # batches handed to the app so far (tests wait on it, never on a sleep)

    @property
    def drained(self) -> bool:
        """Every prepared batch (and every pushed one) has been handed to the app."""
        return self.yielded >= len(self.batches_to_yield) and (self.queue is None or self.queue.empty())

    async def batches(self) -> AsyncIterator[FakeBatch]:
        for batch in self.batches_to_yield:
            if self.delay:
                await asyncio.sleep(self.delay)
            self.yielded += 1
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
            self.yielded += 1
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


async def settle_app(pilot: Any) -> None:
    """Wait until the app's replay source has handed over every batch (state, not a sleep), let the app handle
    them, then paint once without waiting for the timer; two frames: the log scrolls to its end after the refresh
    that lays out the lines just written."""
    source = getattr(pilot.app, "_source", None)
    deadline = asyncio.get_running_loop().time() + 30.0
    while isinstance(source, ReplaySourceForTests) and not source.drained:
        assert asyncio.get_running_loop().time() < deadline, "the app did not take the replay source's batches"
        await pilot.pause(0.01)
    await pilot.pause()
    pilot.app.repaint_now()
    await pilot.pause()
    await pilot.pause()
