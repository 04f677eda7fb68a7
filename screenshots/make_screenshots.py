"""Regenerate the README's screenshots from the real app, headless.

    .venv/bin/python screenshots/make_screenshots.py

Replays a bundled example log (``hwmon.examples``) or, for PopTorch (no bundled example: the project has no IPU
run of its own), the project's PopTorch test fixture
into ``HwmonApp`` through the real stream parser, with a fixed clock, and saves SVGs at 80x24 and 160x48 into this
folder. The Cerebras run is cut during training so the picture shows a live run (current phase, step, ETA); the
PopTorch run is shown finished.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from hwmon.events import Event
from hwmon.parsers.stream import StreamParser
from hwmon.tui.app import HwmonApp

HERE = Path(__file__).resolve().parent
FIXTURES = HERE.parent / "tests" / "fixtures"
FIXED_CLOCK = 5000.0
SIZES = ((80, 24), (160, 48))
# name -> (bundled example, fallback fixture, fraction of lines to replay, title)
RUNS = {
    "cerebras": ("cerebras_gpt_small.log", "tui_cerebras_run.log", 0.8, "GPT-2 small on a CS-X"),
    "poptorch": ("", "tui_poptorch_run.log", 1.0, "MNIST on an IPU (PopTorch)"),
}


@dataclass(frozen=True, slots=True)
class ReplayBatch:
    events: list[Event]
    lines: list[str]
    status: str | None
    eof: bool
    at: float


class ReplaySource:
    """Yields one batch holding a whole log (parsed), then ends: a still picture of the run at that point."""

    def __init__(self, data: bytes, name: str) -> None:
        self.name = name
        parser = StreamParser(keep_lines=100_000)
        self._events = parser.feed(data)
        self._lines = parser.pop_lines()

    async def batches(self) -> AsyncIterator[ReplayBatch]:
        yield ReplayBatch(self._events, self._lines, None, True, FIXED_CLOCK)

    def close(self) -> None:
        pass


def load(example: str, fallback: str) -> tuple[bytes, str]:
    if not example:
        return (FIXTURES / fallback).read_bytes(), fallback
    try:
        return resources.files("hwmon.examples").joinpath(example).read_bytes(), example
    except (FileNotFoundError, ModuleNotFoundError):
        return (FIXTURES / fallback).read_bytes(), fallback


def cut(data: bytes, fraction: float) -> bytes:
    if fraction >= 1.0:
        return data
    lines = data.splitlines(keepends=True)
    return b"".join(lines[: max(1, int(len(lines) * fraction))])


# Feature pictures for the README: (file stem, run, size, pane to focus first or None, keys to press).
FEATURES = (
    ("chart_100x30", "cerebras", (100, 30), "#chart-loss", ["z"]),
    ("search_80x24", "cerebras", (80, 24), None, ["slash", *"Loss=[3-4]", "enter", "n"]),
)


async def shoot(
    run: str, size: tuple[int, int], *, stem: str | None = None, focus: str | None = None, keys: list[str] | None = None
) -> Path:
    example, fallback, fraction, title = RUNS[run]
    data, name = load(example, fallback)
    app = HwmonApp(ReplaySource(cut(data, fraction), name), clock=lambda: FIXED_CLOCK, title=title)
    out = HERE / f"{stem or run + f'_{size[0]}x{size[1]}'}.svg"
    async with app.run_test(size=size) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        app.repaint_now()
        await pilot.pause()
        await pilot.pause()
        if focus is not None:
            app.query_one(focus).focus()
        if keys:
            await pilot.press(*keys)
            await pilot.pause()
            await pilot.pause()
        app.save_screenshot(filename=out.name, path=str(HERE))
    return out


async def main() -> int:
    for run in RUNS:
        for size in SIZES:
            print(await shoot(run, size))
    for stem, run, size, focus, keys in FEATURES:
        print(await shoot(run, size, stem=stem, focus=focus, keys=keys))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
