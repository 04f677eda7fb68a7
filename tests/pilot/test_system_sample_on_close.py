"""A system sample posted by the sampler thread while the app closes (its panes already gone) is dropped, not a
crash: CI saw ``NoMatches: SystemPane`` after the stop key's dialog (tests/pilot/test_stop_key.py)."""

from __future__ import annotations

from sources import ReplaySourceForTests

from hwmon.sources.system import SystemSample
from hwmon.tui.app import HwmonApp
from hwmon.tui.messages import SystemSampled
from hwmon.tui.widgets import SystemPane


async def test_a_sample_after_the_panes_are_gone_is_dropped() -> None:
    app = HwmonApp(ReplaySourceForTests([], name="x.log", hold_open=True))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.post_message(SystemSampled(SystemSample(processes=1, cpu_percent=5.0)))
        await pilot.pause()
        assert app.system_sample is not None  # taken while the pane is there
        await app.query_one(SystemPane).remove()
        app.post_message(SystemSampled(SystemSample(processes=2, cpu_percent=7.0)))
        await pilot.pause()
        await pilot.pause()
        assert app.system_sample is not None and app.system_sample.processes == 2
        assert app.is_running
