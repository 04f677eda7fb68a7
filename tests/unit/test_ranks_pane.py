"""The ranks pane (issue 21): a row per rank when they fit, a heat-strip for many (512 ranks at 80 columns stay
readable: one cell each, totals above, the ranks that need a look below), the characters meaningful without colour,
and the pane in a real Textual app."""

from __future__ import annotations

import asyncio

from textual.app import App, ComposeResult

from hwmon.events import RankError, RankLine
from hwmon.model.reducer import apply
from hwmon.model.state import RunState
from hwmon.tui.widgets.ranks import RanksPane, render_ranks


def many_ranks(count: int = 512, steps: int = 30) -> RunState:
    """``count`` ranks stepping once a second; rank 17 stops after step 20, ranks 100-101 after step 27, rank 300
    fails at the end."""
    state = RunState()
    line = 0
    for step in range(1, steps + 1):
        for rank in range(count):
            if (rank == 17 and step > 20) or (rank in (100, 101) and step > 27):
                continue
            line += 1
            apply(
                state,
                RankLine(line, None, rank, 1, step, f"node{rank // 8:02d}", f"step={step} loss=1.0"),
                step + 0.001,
            )
    apply(state, RankError(line + 1, None, 300, "RuntimeError: boom", True), float(steps))
    return state


def test_a_row_per_rank_when_they_fit() -> None:
    state = RunState()
    for step in range(1, 5):
        for rank in range(4):
            apply(
                state,
                RankLine(step * 4 + rank, None, rank, 1, min(step, 2) if rank == 2 else step, "gpu-a"),
                float(step),
            )
    text = render_ranks(state, 6.0, 78, 10).plain.splitlines()
    assert text[0] == "4 ranks · steps 2–4 (median 4)"
    assert text[1].split() == ["rank", "host", "step", "lag", "quiet", "lines", "err", "state"]
    assert text[4].split() == ["2", "gpu-a", "2", "-2", "2s", "4", "0"]
    assert len(text) == 6


def test_512_ranks_are_a_heat_strip_with_the_ranks_that_need_a_look() -> None:
    state = many_ranks()
    rows = render_ranks(state, 31.0, 76, 14).plain.splitlines()
    assert rows[0] == "512 ranks · steps 20–30 (median 30) · 1 failed · 1 silent"
    strip = rows[1:8]
    assert [len(row) for row in strip] == [76] * 6 + [512 - 6 * 76]
    cells = "".join(strip)
    assert cells[17] == "!" and cells[100:102] == "▓▓" and cells[300] == "x"
    assert cells.count("█") == 512 - 4
    assert rows[8].startswith("rank 300 (node37) failed at step 30: RuntimeError: boom")
    assert rows[9].startswith("rank 17 (node02) silent at step 20, quiet 11s")


def test_the_pane_in_an_app_at_80x24() -> None:
    state = many_ranks()

    class Host(App[None]):
        def compose(self) -> ComposeResult:
            yield RanksPane(id="ranks")

    async def run() -> None:
        app = Host()
        async with app.run_test(size=(80, 24)) as pilot:
            pane = app.query_one(RanksPane)
            assert not pane.has_ranks()
            pane.show(state, 31.0)
            await pilot.pause()
            assert pane.has_ranks()
            assert pane.size.height == 11  # totals, 7 strip rows of 80 cells, 3 rows for notes
            shown = pane.render().plain.splitlines()
            assert shown[0].startswith("512 ranks") and [len(row) for row in shown[1:8]] == [80] * 6 + [32]
            assert shown[8].startswith("rank 300 (node37) failed")

    asyncio.run(run())
