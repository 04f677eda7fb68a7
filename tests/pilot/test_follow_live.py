"""Pilot tests over a real log file that the test writes while the app follows it (``open_source``)."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from screen import screen_text

from hwmon.sources.open import open_source
from hwmon.tui.app import HwmonApp
from hwmon.tui.widgets import ChartPane, LogPane

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
CEREBRAS = (FIXTURES / "tui_cerebras_run.log").read_text().splitlines(keepends=True)


def upto(marker: str) -> int:
    """Index of the first fixture line containing ``marker``."""
    return next(i for i, line in enumerate(CEREBRAS) if marker in line)


async def wait_until(pilot: Any, condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    """Repaint and poll until ``condition`` holds (the follower and app run on their own schedule)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        await pilot.pause(0.05)
        pilot.app.repaint_now()
        if condition():
            return
    raise AssertionError(f"timed out waiting for {what}; screen:\n{screen_text(pilot.app)}")


def append(path: Path, lines: list[str]) -> None:
    with path.open("a") as handle:
        handle.writelines(lines)
        handle.flush()


def header(app: HwmonApp) -> str:
    return "\n".join(screen_text(app).splitlines()[:3])


async def test_lines_phases_progress_and_chart_follow_a_growing_file(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    compile_at = upto("Pre-optimization transforms")
    log.write_text("".join(CEREBRAS[: compile_at + 1]))
    app = HwmonApp(open_source(str(log)))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: "phase compile" in header(app), "the compile phase")
        assert "Pre-optimization transforms" in screen_text(app)
        assert "wsjob-q8xk2mf0aa7tzw" in header(app)

        programming = upto("Device programming is complete")
        append(log, CEREBRAS[compile_at + 1 : programming])
        await wait_until(pilot, lambda: "phase setup" in header(app), "the setup phase")
        assert "wsjob-n3vd7pl2c9rhbe" in header(app)

        first_steps = upto("Step=150,")
        append(log, CEREBRAS[programming : first_steps + 1])
        await wait_until(pilot, lambda: "step 150" in header(app), "step 150")
        assert "phase train" in header(app)
        chart = app.query_one("#chart-loss", ChartPane)
        await wait_until(
            pilot, lambda: "loss 7.932" in chart.title_text().plain and chart.draws > 0, "step 150 plotted"
        )

        more = upto("Step=450,")
        append(log, CEREBRAS[first_steps + 1 : more + 1])
        await wait_until(pilot, lambda: "step 450" in header(app), "step 450")
        await wait_until(pilot, lambda: "loss 3.988" in chart.title_text().plain, "step 450 plotted")
        assert "┤" in screen_text(app)
        assert "checkpoints     1 saved" in screen_text(app)
        assert "Step=450" in screen_text(app)  # the newest raw line is on screen (following)


async def test_error_line_in_file_raises_alert(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    log.write_text("".join(CEREBRAS[: upto("Step=100,") + 1]))
    app = HwmonApp(open_source(str(log)))
    notes: list[tuple[str, dict[str, Any]]] = []
    original = app.notify
    app.notify = lambda message, **kw: (notes.append((message, kw)), original(message, **kw))[-1]  # type: ignore
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: "step 100" in header(app), "step 100")
        append(
            log,
            [
                "2025-02-11 09:24:01,000 ERROR:   Initiating shutdown sequence due to Appliance error: "
                "[bold]link down[/bold]\n"
            ],
        )
        await wait_until(pilot, lambda: "alert" in header(app), "an alert in the header")
        assert "FAILED" in header(app) and "Appliance error: [bold]" in header(app)
        assert "Appliance error: [bold]li" in header(app)
        assert notes == []  # the header says it; nothing is drawn over the panes


async def test_truncation_and_rotation_are_followed(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    log.write_text("".join(CEREBRAS[:5]))
    app = HwmonApp(open_source(str(log)))
    async with app.run_test(size=(80, 24)) as pilot:
        pane = app.query_one(LogPane)
        await wait_until(pilot, lambda: pane.total_lines == 5, "5 lines")
        # copytruncate: the file is cut to zero and written again from the start.
        with log.open("w") as handle:
            handle.write("after truncation one\nafter truncation two\n")
        await wait_until(pilot, lambda: "after truncation two" in screen_text(app), "lines after truncation")
        assert "truncated" in app.status_message
        # rotation: rename away, then a new file at the same path.
        os.rename(log, tmp_path / "run.log.1")
        log.write_text("rotated file line\n")
        await wait_until(pilot, lambda: "rotated file line" in screen_text(app), "the rotated file's line")
        assert "rotated" in app.status_message


async def test_file_created_late_is_picked_up(tmp_path: Path) -> None:
    log = tmp_path / "late.log"
    app = HwmonApp(open_source(str(log)))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: "waiting" in header(app), "the waiting status")
        log.write_text("".join(CEREBRAS[: upto("compile job id") + 1]))
        await wait_until(pilot, lambda: "compile job id" in screen_text(app), "lines of the late file")
        await wait_until(pilot, lambda: "wsjob-q8xk2mf0aa7tzw" in header(app), "the job id")


async def test_injection_in_file_shows_literally(tmp_path: Path) -> None:
    log = tmp_path / "evil.log"
    log.write_bytes(
        b"[bold red]red?[/bold red] [link=https://example.invalid]x[/link]\n"
        b"osc \x1b]52;c;ZXZpbA==\x07 tail\n"
        b"clear \x1b[2J\x1b[H done\n"
    )
    app = HwmonApp(open_source(str(log)))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: "done" in screen_text(app), "the last line")
        text = screen_text(app)
        assert "[bold red]red?[/bold red] [link=https://example.invalid]x[/link]" in text
        assert "osc" in text and "tail" in text and "ZXZpbA" not in text
        assert "\x1b" not in text


@pytest.mark.parametrize("key", ["q"])
async def test_quit_closes_the_follower(tmp_path: Path, key: str) -> None:
    log = tmp_path / "run.log"
    log.write_text("one\n")
    source = open_source(str(log))
    app = HwmonApp(source)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: "one" in screen_text(app), "the line")
        await pilot.press(key)
        await pilot.pause()
    assert not app.is_running


async def test_a_big_file_shows_its_end_at_once_then_the_parsed_lines(tmp_path: Path, monkeypatch: Any) -> None:
    from hwmon.tui import sidedata as app_module

    # A smaller "big" file keeps the test quick; the rule is the same.
    monkeypatch.setattr(app_module, "PREVIEW_MIN_BYTES", 256 << 10)
    log = tmp_path / "big.log"
    with log.open("w") as handle:
        for i in range(60_000):
            handle.write(f"2025-02-11 09:00:00,000 INFO:   | Train Device=CSX, Step={i}, Loss=1.5, Rate=10.0\n")
        handle.write("2025-02-11 09:00:01,000 INFO:   THE LAST LINE\n")

    class SlowStartSourceForTests:
        """The real file source, started a moment late: the parser has certainly not caught up at first."""

        def __init__(self) -> None:
            self.inner = open_source(str(log))
            self.follower = self.inner.follower  # type: ignore[attr-defined]
            self.name = self.inner.name

        async def batches(self) -> Any:
            await asyncio.sleep(1.0)
            async for batch in self.inner.batches():
                yield batch

        def close(self) -> None:
            self.inner.close()

    app = HwmonApp(SlowStartSourceForTests())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause(0.2)
        # The end of the file is on screen before the parser has read it, and the pane says so.
        assert app.state.last_step is None
        assert "THE LAST LINE" in screen_text(app) and "end of the file" in screen_text(app)
        await wait_until(pilot, lambda: app.log_pane.preview == "", "the parsed lines to take over")
        await wait_until(pilot, lambda: "step 59999" in header(app), "the last step")
        assert "THE LAST LINE" in screen_text(app)
        assert app.log_pane.log_widget.lines[-1].endswith("THE LAST LINE")
        assert app.log_pane.log_widget.lines[-2].endswith("Step=59999, Loss=1.5, Rate=10.0")
