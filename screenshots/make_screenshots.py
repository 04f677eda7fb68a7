"""Regenerate the README's screenshots from the real app, headless.

    .venv/bin/python screenshots/make_screenshots.py

Replays a bundled example log (``hwmon.examples``) or, for PopTorch (no bundled example: the project has no IPU
run of its own), the project's PopTorch test fixture
into ``HwmonApp`` through the real stream parser, with a fixed clock, and saves SVGs at 80x24 and 160x48 into this
folder. The Cerebras run is cut during training so the picture shows a live run (current phase, step, ETA); the
PopTorch run is shown finished. Feature pictures (dashboard v3): every phase with a row and every span (z), the
raw log's live row of a \r progress bar, a smoothed chart (S), a side pane in the log's place (5).
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
    # Cut in the middle of an epoch's \r progress bar: the raw log's live row shows it as it stands.
    "mnist": ("mnist_cpu.log", "mnist_cpu_3epochs.log", 0.55, "MNIST on CPU"),
    "cerebras_done": ("cerebras_gpt_small.log", "tui_cerebras_run.log", 1.0, "GPT-2 small on a CS-X"),
}


@dataclass(frozen=True, slots=True)
class ReplayBatch:
    events: list[Event]
    lines: list[str]
    status: str | None
    eof: bool
    at: float
    partial: str | None = None


class ReplaySource:
    """Yields one batch holding a whole log (parsed), then ends: a still picture of the run at that point."""

    def __init__(self, data: bytes, name: str) -> None:
        self.name = name
        parser = StreamParser(keep_lines=100_000)
        self._events = parser.feed(data)
        self._lines = parser.pop_lines()
        self._partial = parser.partial()

    async def batches(self) -> AsyncIterator[ReplayBatch]:
        yield ReplayBatch(self._events, self._lines, None, True, FIXED_CLOCK, self._partial)

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
    """The first ``fraction`` of the log, by lines; for a log of \r progress bars (few, long lines), by bytes, so
    the cut falls inside a bar that is still being drawn."""
    if fraction >= 1.0:
        return data
    lines = data.splitlines(keepends=True)
    if data.count(b"\r") > len(lines):
        return data[: int(len(data) * fraction)]
    return b"".join(lines[: max(1, int(len(lines) * fraction))])


# Feature pictures for the README: (file stem, run, size, pane to focus first or None, keys to press).
FEATURES = (
    ("chart_100x30", "cerebras", (100, 30), "#chart-loss", ["z"]),
    ("search_80x24", "cerebras", (80, 24), None, ["slash", *"Loss=[3-4]", "enter", "n"]),
    ("phases_80x24", "cerebras_done", (80, 24), None, []),
    ("spans_80x24", "cerebras_done", (80, 24), "#timeline", ["z"]),
    ("live_bar_80x24", "mnist", (80, 24), None, []),
    ("smoothed_100x30", "mnist", (100, 30), "#chart-loss", ["S", "z"]),
    ("model_tab_80x24", "poptorch", (80, 24), None, ["5"]),
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
    for run in ("cerebras", "poptorch"):
        for size in SIZES:
            print(await shoot(run, size))
    for stem, run, size, focus, keys in FEATURES:
        print(await shoot(run, size, stem=stem, focus=focus, keys=keys))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
