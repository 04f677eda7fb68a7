"""Pilot tests of dashboard v2: long lines (Left/Right, wrap, the record view), maximise, Ctrl-C, the less/vi
keys, chart keys, panes that appear when they have something, live stall texts, and the rough edges of issue 10."""

from __future__ import annotations

import asyncio
from typing import Any

from runs import compile_events, model_events, setup_events, train_events, ts
from screen import screen_text
from sources import FakeBatch, ReplaySourceForTests, settle_app

from hwmon.events import ProgressUpdate, StepMetrics
from hwmon.tui.app import HwmonApp
from hwmon.tui.screens import HelpScreen, RecordScreen
from hwmon.tui.widgets import ChartPane, LogPane

CLOCK = [1000.0]


def make_app(*batches: FakeBatch, name: str = "run.log") -> tuple[HwmonApp, ReplaySourceForTests]:
    source = ReplaySourceForTests(list(batches), name=name)
    source.queue = asyncio.Queue()
    return HwmonApp(source, clock=lambda: CLOCK[0]), source


async def settle(pilot: Any) -> None:
    await settle_app(pilot)


LONG = "2025-02-11 09:23:33,023 INFO:   | Train Device=CSX, Step=50, Loss=10.83247, Rate=3321.61 samples/sec, " + (
    "GlobalRate=3321.61 samples/sec, LoopTime=12.3s, TimeRemaining=4m01s THE-END"
)


def full_run() -> list[FakeBatch]:
    c_ev, c_lines = compile_events()
    s_ev, s_lines = setup_events()
    t_ev, t_lines = train_events(1, 10)
    return [FakeBatch(c_ev, c_lines), FakeBatch(s_ev, s_lines), FakeBatch(t_ev + model_events(), t_lines)]


async def test_right_scrolls_long_lines_and_left_comes_back() -> None:
    app, _ = make_app(FakeBatch([], ["short", LONG]))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert "THE-END" not in screen_text(app)
        for _ in range(12):
            await pilot.press("right")
        await pilot.pause()
        text = screen_text(app)
        assert "THE-END" in text and "from column" in text
        for _ in range(12):
            await pilot.press("left")
        await pilot.pause()
        assert "THE-END" not in screen_text(app) and "2025-02-11 09:23:33" in screen_text(app)


async def test_w_wraps_long_lines() -> None:
    app, _ = make_app(FakeBatch([], ["short", LONG]))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("w")
        await pilot.pause()
        text = screen_text(app)
        assert "THE-END" in text and "wrap" in text
        await pilot.press("w")
        await pilot.pause()
        assert "THE-END" not in screen_text(app)


async def test_enter_opens_the_whole_record_and_y_copies_it_only_on_request() -> None:
    lines = ["step 1", "Traceback (most recent call last):", '  File "x.py", line 1', "ValueError: " + "v" * 150]
    app, _ = make_app(FakeBatch([], lines))
    copied: list[str] = []
    app.copy_to_clipboard = copied.append  # type: ignore[method-assign]
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("k")  # cursor on the last line: the exception line
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, RecordScreen)
        assert app.screen.lines == lines[1:]
        text = screen_text(app)
        assert "record · 3 lines" in text and "v" * 70 in text  # the long line is wrapped, whole
        assert copied == []  # nothing goes to the clipboard by itself
        await pilot.press("y")
        await pilot.pause()
        assert copied == ["\n".join(lines[1:])]
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, RecordScreen)


async def test_z_maximises_the_focused_pane_and_restores() -> None:
    app, _ = make_app(*full_run())
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("z")
        await pilot.pause()
        assert app.screen.maximized is app.query_one(LogPane)
        text = screen_text(app)
        assert "phases" not in text and "Step=1000" in text
        await pilot.press("z")
        await pilot.pause()
        assert app.screen.maximized is None and "phases" in screen_text(app)


async def test_ctrl_c_quits() -> None:
    app, source = make_app(*full_run())
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+c")
        await pilot.pause()
        assert not app.is_running
    assert source.closed


async def test_j_k_g_G_move_and_follow() -> None:
    app, _ = make_app(FakeBatch([], [f"line {i}" for i in range(200)]))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        log = app.query_one(LogPane).log_widget
        await pilot.press("g")
        await pilot.pause()
        assert log.cursor == 0 and not log.follow and log.scroll_y == 0
        await pilot.press("j", "j")
        assert log.cursor == 2
        await pilot.press("k")
        assert log.cursor == 1
        await pilot.press("pagedown")
        assert log.cursor is not None and log.cursor > 5
        await pilot.press("G")
        await pilot.pause()
        assert log.follow and log.cursor is None and log.scroll_y == log.max_scroll_y


async def test_chart_keys_log_y_zoom_and_kind() -> None:
    app, _ = make_app(*full_run())
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        chart = app.query_one("#chart-loss", ChartPane)
        await pilot.press("L")
        assert chart.view.log_y and "log-y" in chart.title_text().plain
        await pilot.press("plus", "plus")
        assert chart.view.zoom == 2 and "last 1/4" in chart.title_text().plain
        await pilot.press("minus")
        assert chart.view.zoom == 1
        await pilot.press("0")
        assert chart.view.zoom == 0
        await pilot.press("c")
        await pilot.pause()
        assert chart.kind == "rate" and "throughput" in screen_text(app)
        await pilot.press("x")
        assert chart.view.x_time


async def test_wide_terminal_puts_charts_side_by_side() -> None:
    app, _ = make_app(*full_run())
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        rows = screen_text(app).splitlines()
        assert any("loss 3.333" in row and "throughput 6710" in row for row in rows)


async def test_panes_appear_when_they_have_something() -> None:
    app, source = make_app(FakeBatch([], ["just a line"]))
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        for pane in ("#timeline", "#progress", "#charts", "#model", "#alerts", "#side"):
            assert not app.query_one(pane).display, pane
        # The log gets the screen: header (2 rows) and footer aside.
        assert app.query_one(LogPane).size.height >= 48 - 2 - 1 - 1
        t_ev, t_lines = train_events(1, 3)
        source.push(FakeBatch(t_ev, t_lines))
        await settle(pilot)
        assert app.query_one("#charts").display and app.query_one("#progress").display
        assert not app.query_one("#model").display
        source.push(FakeBatch(model_events(), []))
        await settle(pilot)
        assert app.query_one("#model").display and app.query_one("#side").display


async def test_stall_text_counts_live_and_clears_when_the_run_moves() -> None:
    CLOCK[0] = 1000.0
    app, source = make_app()
    events = [StepMetrics(i, ts(i), step=i, loss=1.0) for i in range(1, 6)]
    async with app.run_test(size=(80, 24)) as pilot:
        for event in events:
            source.push(FakeBatch([event], [f"step {event.step}"]))
            await settle(pilot)
            CLOCK[0] += 1.0
        CLOCK[0] += 30.0
        await settle(pilot)
        header = "\n".join(screen_text(app).splitlines()[:3])
        assert "no new step for 31s" in header
        CLOCK[0] += 4.0
        await settle(pilot)
        assert "no new step for 35s" in "\n".join(screen_text(app).splitlines()[:3])
        source.push(FakeBatch([StepMetrics(9, ts(9), step=6, loss=1.0)], ["step 6"]))
        await settle(pilot)
        header = "\n".join(screen_text(app).splitlines()[:3])
        assert "no new step" not in header and "stalled" not in header.lower()
    CLOCK[0] = 1000.0


async def test_progress_shows_one_row_per_thing() -> None:
    steps = [StepMetrics(1, ts(1), step=1162, loss=1.0)]
    bars = [
        ProgressUpdate(10, None, name="", n=1162, total=3750, rate=5.0),
        ProgressUpdate(11, None, name="Epochs", n=0, total=1),
        ProgressUpdate(12, None, name="Initializing model weights", n=0),
        ProgressUpdate(13, None, name="Loading a very long named dataset shard", n=3, total=10),
    ]
    app, _ = make_app(FakeBatch(steps + bars, []))
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        text = screen_text(app)
        assert "step 1162/3750" in text and "epoch 0/1" in text
        assert "progress " not in text and "Initializing" not in text
        assert "Loading a very long named da" in text  # names get the room there is (not 15 characters)


async def test_binary_file_gets_a_warning_in_the_header() -> None:
    app, _ = make_app(FakeBatch([], ["\ufffd\ufffdELF\ufffd\ufffd\ufffd\x00\ufffd" * 20]))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert "looks like a binary file" in screen_text(app)


async def test_timeline_keeps_a_row_for_every_big_phase_even_at_60x18() -> None:
    c_ev, c_lines = compile_events()
    s_ev, s_lines = setup_events()
    t_ev, t_lines = train_events(1, 3)
    from hwmon.events import PhaseStarted

    extra = [PhaseStarted(900, ts(2000), phase="checkpoint"), PhaseStarted(901, ts(2100), phase="eval")]
    app, _ = make_app(FakeBatch(c_ev + s_ev + t_ev + extra, c_lines + s_lines + t_lines))
    async with app.run_test(size=(60, 18)) as pilot:
        await settle(pilot)
        text = screen_text(app)
        rows = text.splitlines()
        names = ("compile", "setup", "train", "checkpoint", "eval")
        shown = [name for name in names if any(row.startswith((f" {name} ", f"▶{name} ")) for row in rows)]
        # Where the wall time went is the pane's point: the layout gives the timeline its rows before the chart
        # (dashboard v3), so even 18 rows hold every phase, the current one (the last) included.
        assert shown == list(names), text
        assert "earlier phase" not in text


async def test_help_lists_every_key_without_wrapping_into_the_key_column() -> None:
    from hwmon.tui.screens import HELP_SECTIONS

    app, _ = make_app(*full_run())
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        await pilot.press("h")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        text = screen_text(app)
        for _, rows in HELP_SECTIONS:
            for key, what in rows:
                assert key in text, key
                assert what.split(" (")[0][:30] in text, what
        # Every binding of the app is in the help.
        keys_in_help = " ".join(key for _, rows in HELP_SECTIONS for key, _ in rows)
        for binding in app.BINDINGS:
            key = getattr(binding, "key_display", None) or getattr(binding, "key", "")
            names = {"question_mark": "?", "slash": "/", "ampersand": "&", "plus,equals_sign": "+", "minus": "-"}
            names["escape"] = "Esc"
            shown = names.get(key, key).split(",")[0].replace("ctrl+c", "Ctrl-C").replace("shift+tab", "tab")
            assert shown in keys_in_help, key


async def test_a_finished_quiet_log_costs_no_repaints() -> None:
    from pathlib import Path

    from sources import parse_fixture

    fixture = Path(__file__).resolve().parents[1] / "fixtures" / "tui_cerebras_run.log"
    events, lines = parse_fixture(fixture.read_bytes())
    # A follower's status ("following ...") stays in the header of a finished log; it must not keep the clock busy.
    source = ReplaySourceForTests([FakeBatch(events, lines, status="following run.log")], hold_open=True)
    app = HwmonApp(source, clock=lambda: 5000.0)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.pause(0.5)
        assert app.state.status == "succeeded"
        before = app.repaints
        await pilot.pause(2.5)
        assert app.repaints == before


async def test_a_click_puts_the_cursor_on_a_line_and_a_double_click_opens_it() -> None:
    app, _ = make_app(FakeBatch([], [f"line {i}" for i in range(5)]))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        log = app.query_one(LogPane).log_widget
        await pilot.click(log, offset=(2, 1))
        await pilot.pause()
        assert log.cursor == 1 and not log.follow
        await pilot.click(log, offset=(2, 3), times=2)
        await pilot.pause()
        assert isinstance(app.screen, RecordScreen) and app.screen.lines == ["line 3"]
