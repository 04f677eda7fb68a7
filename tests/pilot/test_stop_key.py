"""The dashboard's confirm-guarded stop key, on a real supervised run (a real process group, a real run.json)."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from screen import screen_text

from hwmon.runners import supervisor
from hwmon.sources.open import open_source
from hwmon.store import registry
from hwmon.tui.app import HwmonApp
from hwmon.tui.screens import ConfirmScreen

pytestmark = pytest.mark.integration

# Prints, then sleeps until stopped (SIGINT ends it with KeyboardInterrupt).
SLEEPER = "import time\nprint('worker up', flush=True)\ntime.sleep(120)\n"


@pytest.fixture()
def running(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[registry.RunRecord]:
    monkeypatch.setenv("HWMON_RUNS_DIR", str(tmp_path / "runs"))
    record = supervisor.launch([sys.executable, "-c", SLEEPER], workload="sleeper")
    yield record
    current = registry.load(record.dir)
    if current is not None and current.status == "running":
        supervisor.stop_run(current, int_timeout=1, term_timeout=1, kill_timeout=2)


async def _wait(pilot: Any, condition: Any, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        await pilot.pause(0.1)
        if condition():
            return
    raise AssertionError(f"timed out waiting for {what}; screen:\n{screen_text(pilot.app)}")


async def test_stop_key_asks_first_and_no_leaves_the_run_going(running: registry.RunRecord) -> None:
    app = HwmonApp(open_source(running.run_id))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("s")
        await _wait(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the confirmation")
        await pilot.press("n")
        await _wait(pilot, lambda: not isinstance(app.screen, ConfirmScreen), "the confirmation to close")
        await pilot.pause(0.5)
        record = registry.load(running.dir)
        assert record is not None and record.status == "running"


async def test_stop_key_yes_stops_the_supervised_run(running: registry.RunRecord) -> None:
    app = HwmonApp(open_source(running.run_id))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("s")
        await _wait(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the confirmation")
        await pilot.press("y")

        def stopped() -> bool:
            record = registry.load(running.dir)
            return record is not None and record.status != "running"

        await _wait(pilot, stopped, "the run to be stopped")
        # Once the dashboard knows the run ended, s says so instead of asking "Stop run?" again.
        await _wait(pilot, lambda: "Stop run" not in screen_text(app).splitlines()[-1], "s to leave the footer")
        await pilot.press("s")
        await _wait(pilot, lambda: "the run has already ended" in screen_text(app), "the reason s does nothing")
        assert not isinstance(app.screen, ConfirmScreen)
    record = registry.load(running.dir)
    assert record is not None and record.status == "stopped"
    assert not registry.process_alive(record.pid, record.pid_start)


async def test_stop_key_is_disabled_for_a_plain_log(tmp_path: Path) -> None:
    log = tmp_path / "plain.log"
    log.write_text("hello\n")
    app = HwmonApp(open_source(str(log)))
    async with app.run_test(size=(80, 24)) as pilot:
        await _wait(pilot, lambda: "hello" in screen_text(app), "the log's line")
        await pilot.press("s")
        await pilot.pause(0.3)
        assert not isinstance(app.screen, ConfirmScreen)
        # Not silent: the header's status row says why nothing happens.
        assert "nothing to stop: this is a log" in screen_text(app)
        assert "Stop run" not in screen_text(app).splitlines()[-1]


async def test_system_pane_samples_the_supervised_process(running: registry.RunRecord) -> None:
    app = HwmonApp(open_source(running.run_id))
    async with app.run_test(size=(160, 48)) as pilot:
        await _wait(pilot, lambda: app.system_sample is not None and app.system_sample.processes > 0, "a sample")
        await _wait(pilot, lambda: "RSS" in screen_text(app), "the system pane")
        text = screen_text(app)
        assert f"pid {running.pid}" in text and "host  mem" in text
        # This machine has no NVIDIA driver: the pane says so instead of showing nothing.
        assert "no NVML" in text or "gpu0" in text
        assert "Stop run" in text.splitlines()[-1]
