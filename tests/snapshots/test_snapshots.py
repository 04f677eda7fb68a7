"""SVG snapshots of the dashboard at 80x24 and 160x48 for a Cerebras and a PopTorch run.

Deterministic: a test-only source replays a fixture whole, the clock is fixed, the input's cursor does not blink,
and the frame is taken after the source worker finished and the app painted. Update with
``pytest tests/snapshots --snapshot-update`` after checking the new SVGs by eye.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from screen import screen_text
from sources import replay_fixture

from hwmon.tui.app import HwmonApp

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
FIXED_CLOCK = 5000.0
RUNS = {
    "cerebras": ("tui_cerebras_run.log", "gpt-tiny on CSX (tui_cerebras_run.log)"),
    "poptorch": ("tui_poptorch_run.log", "mnist on IPU (tui_poptorch_run.log)"),
}


def make_app(run: str) -> HwmonApp:
    filename, title = RUNS[run]
    source = replay_fixture((FIXTURES / filename).read_bytes(), name=filename)
    return HwmonApp(source, clock=lambda: FIXED_CLOCK, title=title)


async def settle(pilot: Any) -> None:
    """Wait until the frame is final: the source worker done, the state painted, and the screen the same on two
    looks in a row (a loaded machine takes more frames to lay out; the test waits on the screen, not on time)."""
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    pilot.app.repaint_now()
    await stable(pilot)


async def stable(pilot: Any, looks: int = 200) -> None:
    previous = None
    for _ in range(looks):
        await pilot.pause()
        current = screen_text(pilot.app)
        if current == previous:
            return
        previous = current
    raise AssertionError("the screen never settled")


def settle_then(keys: list[str]) -> Any:
    """``run_before`` that settles, presses ``keys``, and settles again (each key's effect is on screen before the
    snapshot is taken)."""

    async def run(pilot: Any) -> None:
        await settle(pilot)
        for key in keys:
            await pilot.press(key)
        await stable(pilot)

    return run


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
@pytest.mark.parametrize("run", sorted(RUNS))
def test_dashboard_snapshot(snap_compare: Any, run: str, size: tuple[int, int]) -> None:
    assert snap_compare(make_app(run), terminal_size=size, run_before=settle)


SIZES = pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
# Each of dashboard v2's views, at both sizes, on the Cerebras run (its step lines are longer than 80 columns).
VIEWS = {
    "help": ["h"],
    "search_n": ["slash", *"Loss=[0-9]", "enter", "n", "n"],
    "search_N": ["question_mark", *"checkpoint", "enter", "N"],
    "filter": ["ampersand", *"Step=", "enter"],
    "hscroll": ["right"] * 6,
    "wrap": ["w"],
    "record": ["k", "k", "enter"],
    "maximise": ["z"],
    "chart_log_zoom": ["tab", "tab", "tab", "L", "plus"],
}


@SIZES
@pytest.mark.parametrize("view", sorted(VIEWS))
def test_view_snapshot(snap_compare: Any, view: str, size: tuple[int, int]) -> None:
    assert snap_compare(make_app("cerebras"), terminal_size=size, run_before=settle_then(VIEWS[view]))
