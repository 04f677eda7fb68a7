"""Pilot tests of the dashboard over hand-built batches (no parser, no files): panes, alerts, keys, log safety."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from runs import compile_events, error_events, model_events, setup_events, train_events
from screen import screen_text
from sources import FakeBatch, ReplaySourceForTests, settle_app
from textual.widgets import Tree

from hwmon.tui.app import HwmonApp
from hwmon.tui.screens import HelpScreen
from hwmon.tui.widgets import ChartPane, LogPane, ModelTree

CLOCK = 1000.0


def make_app(*batches: FakeBatch, name: str = "run.log") -> tuple[HwmonApp, ReplaySourceForTests]:
    source = ReplaySourceForTests(list(batches), name=name)
    source.queue = asyncio.Queue()
    return HwmonApp(source, clock=lambda: CLOCK), source


async def settle(pilot: Any) -> None:
    await settle_app(pilot)


def full_run() -> list[FakeBatch]:
    c_ev, c_lines = compile_events()
    s_ev, s_lines = setup_events()
    t_ev, t_lines = train_events(1, 10)
    return [FakeBatch(c_ev, c_lines), FakeBatch(s_ev, s_lines), FakeBatch(t_ev + model_events(), t_lines)]


def record_notifications(app: HwmonApp) -> list[tuple[str, dict[str, Any]]]:
    calls: list[tuple[str, dict[str, Any]]] = []
    original = app.notify

    def notify(message: str, **kwargs: Any) -> None:
        calls.append((message, kwargs))
        original(message, **kwargs)

    app.notify = notify  # type: ignore[method-assign]
    return calls


async def test_essentials_visible_at_80x24() -> None:
    app, _ = make_app(*full_run())
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        text = screen_text(app)
        rows = text.splitlines()
        assert len(rows) == 24
        header = rows[0] + rows[1]
        for expected in ("run.log", "cerebras CSX", "RUNNING", "wsjob-testexecute02", "phase train", "step 1000"):
            assert expected in header, expected
        # Timeline: every phase with a duration and share of wall time.
        assert any("compile" in row and "4m55s" in row for row in rows)
        assert any("setup" in row and "3m59s" in row for row in rows)
        assert any(row.startswith("▶train") for row in rows)
        # Progress with ETA, loss/rate figures, newest log line, footer keys.
        assert "step 1000" in text and "ETA" in text
        assert "loss 3.333" in text and "6710 samples/sec" in text
        assert "┤" in text and "└" in text  # the chart has a y axis with labels and an x axis
        assert "Step=1000" in text
        for key in ("q Quit", "h Help", "/ Search", "& Filter", "e Errors", "w Wrap", "z Max"):
            assert key in rows[-1], key
        # The model tree collapses first at 80 columns.
        assert not app.query_one(ModelTree).display or app.query_one("#side").display is False


async def test_wide_layout_uses_columns() -> None:
    app, _ = make_app(*full_run())
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        rows = screen_text(app).splitlines()
        assert any("phases" in row and "model" in row for row in rows), "timeline and model tree side by side"
        assert any("TrainingModelWithLoss" in row and "compile" in row for row in rows)
        tree = app.query_one(ModelTree)
        assert tree.root.is_expanded
        assert [child.is_expanded for child in tree.root.children] == [True, False]


async def test_phases_advance_and_progress_and_chart_update() -> None:
    c_ev, c_lines = compile_events()
    app, source = make_app(FakeBatch(c_ev, c_lines))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert "phase compile (Exploring floorplans)" in screen_text(app)
        s_ev, s_lines = setup_events()
        source.push(FakeBatch(s_ev, s_lines))
        await settle(pilot)
        text = screen_text(app)
        assert "phase setup" in text and "Sending initial weights" not in text  # label is cut to the column
        assert "Sending initia" in text and "400/1000" in text
        t_ev, t_lines = train_events(1, 3)
        source.push(FakeBatch(t_ev, t_lines))
        await settle(pilot)
        chart = app.query_one("#chart-loss", ChartPane)
        assert chart.display and "loss 6.250" in chart.title_text().plain
        assert "step 300" in screen_text(app)
        drawn = chart.draws
        t_ev, t_lines = train_events(4, 5)
        source.push(FakeBatch(t_ev, t_lines))
        await settle(pilot)
        assert chart.draws > drawn and "loss 3.846" in chart.title_text().plain
        assert "step 800" in screen_text(app)
        assert app.state.loss.count == 8


async def test_error_line_raises_alert_in_header_never_over_a_pane() -> None:
    app, source = make_app(*full_run())
    calls = record_notifications(app)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        e_ev, e_lines = error_events("RuntimeError: [bold red]device lost[/]")
        source.push(FakeBatch(e_ev, e_lines))
        await settle(pilot)
        header = "".join(screen_text(app).splitlines()[:3])
        assert "alert: error" in header
        assert "[bold red]device lost[/]" in header
        # The header says it; no toast covers the panes (and repeats the header).
        assert calls == []


async def test_nan_loss_alerts() -> None:
    from hwmon.events import StepMetrics

    app, source = make_app(*full_run())
    calls = record_notifications(app)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        source.push(FakeBatch([StepMetrics(400, None, step=1100, loss=float("nan"))], ["Step=1100, Loss=nan"]))
        await settle(pilot)
        assert "NaN/Inf" in screen_text(app)
        assert calls == []


INJECTIONS = [
    "[bold red]not bold[/bold red]",
    "[link=https://example.invalid]click[/link]",
    "clipboard \x1b]52;c;ZXZpbA==\x07 end",
    "clear \x1b[2J\x1b[H screen",
    "bell \x07 backspace \x08 nul \x00",
]


async def test_markup_and_escapes_in_log_text_show_literally_and_safely() -> None:
    app, _ = make_app(FakeBatch([], INJECTIONS))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        text = screen_text(app)
        assert "[bold red]not bold[/bold red]" in text
        assert "[link=https://example.invalid]click[/link]" in text
        assert "clipboard  end" in text  # the OSC 52 sequence is removed whole
        assert "clear  screen" in text
        assert "\x1b" not in text and "\x07" not in text and "\x00" not in text
        log_lines = list(app.query_one(LogPane).log_widget.lines)
        assert all("\x1b" not in line and "\x07" not in line for line in log_lines)
        # Nothing in what would be written to the terminal carries an escape from the log.
        for strip in app.screen._compositor.render_strips():
            for segment in strip:
                assert "\x1b" not in segment.text


async def test_source_name_with_markup_is_literal() -> None:
    app, _ = make_app(FakeBatch([], ["x"]), name="[red]evil[/red].log")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert "[red]evil[/red].log" in screen_text(app).splitlines()[0]


async def test_q_quits() -> None:
    app, source = make_app(*full_run())
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("q")
        await pilot.pause()
        assert not app.is_running
    assert source.closed


async def test_help_opens_and_closes() -> None:
    app, _ = make_app(*full_run())
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("h")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        assert "quit the dashboard" in screen_text(app)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, HelpScreen)
        # ? is help outside the raw log (in the log it is less's backward search).
        await pilot.press("tab")
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("q")  # q closes the help rather than quitting from under it
        await pilot.pause()
        assert app.is_running and not isinstance(app.screen, HelpScreen)


async def test_help_is_composed_once_and_opens_again_at_its_top() -> None:
    app, _ = make_app(*full_run())
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("h")
        await pilot.pause()
        first = app.screen
        assert isinstance(first, HelpScreen)
        top = screen_text(app)
        await pilot.press("j", "j", "j")
        await pilot.pause()
        assert screen_text(app) != top  # scrolled (80x24 cannot show every key)
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("h")
        await pilot.pause()
        await pilot.pause()
        assert app.screen is first  # the same screen, not composed again
        assert screen_text(app) == top  # and from its top, as a fresh one


async def test_help_is_composed_off_screen_once_the_dashboard_is_idle() -> None:
    app, _ = make_app(*full_run())
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        before = screen_text(app)
        for _ in range(400):  # the dashboard prepares it a moment after its first frames (PREPARE_HELP_AFTER_S)
            if app.is_screen_installed("help") and app.get_screen("help").query("#help-text"):
                break
            await asyncio.sleep(0.01)
        prepared = app.get_screen("help")
        assert isinstance(prepared, HelpScreen) and prepared.is_running
        assert len(app.screen_stack) == 1 and not isinstance(app.screen, HelpScreen)  # not shown
        assert screen_text(app) == before
        await pilot.press("h")
        await pilot.pause()
        assert app.screen is prepared and "quit the dashboard" in screen_text(app)


async def test_search_highlights_keeps_context_and_n_steps_through_matches() -> None:
    lines = [f"line {i} {'needle' if i % 7 == 0 else 'hay'}" for i in range(60)]
    app, _ = make_app(FakeBatch([], lines))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        pane = app.query_one(LogPane)
        log = pane.log_widget
        await pilot.press("slash")
        await pilot.pause()
        assert pane.prompting
        await pilot.press(*"needle")
        await pilot.pause()
        # The typed pattern shows in the prompt row itself (not only in a title).
        assert any(row.startswith("/") and "needle" in row for row in screen_text(app).splitlines())
        await pilot.press("enter")
        await pilot.pause()
        # A search, not a filter: every line stays; the cursor is on the first match (wrapping from the end).
        assert list(log.lines) == lines
        assert log.cursor == 0 and pane.match_count == 9
        assert "/needle 1/9 matches" in screen_text(app)
        await pilot.press("n")
        assert log.cursor == 7
        await pilot.press("n", "n")
        assert log.cursor == 21 and pane.match_index == 4
        await pilot.press("N")
        assert log.cursor == 14
        await pilot.pause()
        assert "/needle 3/9 matches" in screen_text(app)
        # "n" and "N" are in the footer while a search stands.
        assert "n Next" in screen_text(app).splitlines()[-1]
        await pilot.press("escape")
        await pilot.pause()
        assert pane.search_term == "" and log.pattern is None


async def test_search_backward_regex_and_smart_case() -> None:
    lines = ["Loss=7.1 at step 1", "loss=7x1", "Loss=7.15 at step 3", "nothing"]
    app, _ = make_app(FakeBatch([], lines))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        pane = app.query_one(LogPane)
        await pilot.press("question_mark", *r"Loss=7\.1", "enter")
        await pilot.pause()
        # Backward from the end; capital L makes it case-sensitive; \. is a literal dot.
        assert pane.log_widget.cursor == 2 and pane.match_count == 2
        await pilot.press("n")
        assert pane.log_widget.cursor == 0
        await pilot.press("slash", *"loss=7", "enter")
        await pilot.pause()
        assert pane.match_count == 3  # all lower case: case-insensitive


async def test_invalid_regex_gets_a_one_line_message_not_a_crash() -> None:
    app, _ = make_app(FakeBatch([], ["a (b", "c"]))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"(b", "enter")
        await pilot.pause()
        pane = app.query_one(LogPane)
        assert pane.prompting and pane.note.startswith("invalid regex")
        assert any("invalid regex" in row for row in screen_text(app).splitlines())
        await pilot.press("escape")
        await pilot.pause()
        assert app.is_running and not pane.prompting


async def test_ampersand_filters_and_empty_ampersand_clears() -> None:
    lines = [f"line {i} {'needle' if i % 7 == 0 else 'hay'}" for i in range(60)]
    app, _ = make_app(FakeBatch([], lines))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        pane = app.query_one(LogPane)
        await pilot.press("ampersand", *"needle", "enter")
        await pilot.pause()
        assert list(pane.log_widget.lines) == [line for line in lines if "needle" in line]
        assert "&needle" in screen_text(app)
        await pilot.press("ampersand", "ctrl+u", "enter")
        await pilot.pause()
        assert list(pane.log_widget.lines) == lines and pane.filter_term == ""
        await pilot.press("ampersand", *"nomatch", "enter")
        await pilot.pause()
        assert "no line matches &nomatch" in screen_text(app)


async def test_search_term_with_markup_is_literal() -> None:
    app, _ = make_app(FakeBatch([], ["a [b] c", "plain"]))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("ampersand", *r"\[b\]", "enter")
        await pilot.pause()
        assert list(app.query_one(LogPane).log_widget.lines) == ["a [b] c"]
        assert r"&\[b\]" in screen_text(app)


async def test_errors_only_filter() -> None:
    lines = [
        "INFO all good",
        "WARNING: disk slow",
        "ERROR: device lost",
        "step 5",
        "Traceback (most recent call last):",
    ]
    app, _ = make_app(FakeBatch([], lines))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        pane = app.query_one(LogPane)
        await pilot.press("e")
        await pilot.pause()
        assert list(pane.log_widget.lines) == [lines[1], lines[2], lines[4]]
        assert "errors/warnings only" in screen_text(app)
        await pilot.press("e")
        await pilot.pause()
        assert list(pane.log_widget.lines) == lines


async def test_errors_only_with_no_match_says_so() -> None:
    app, _ = make_app(FakeBatch([], ["INFO all good", "step 5"]))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("e")
        await pilot.pause()
        assert "no error or warning lines" in screen_text(app)


async def test_follow_pauses_on_scroll_up_and_resumes_with_f_and_end() -> None:
    app, source = make_app(FakeBatch([], [f"early {i}" for i in range(100)]))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        log = app.query_one(LogPane).log_widget
        assert log.following and log.scroll_y == log.max_scroll_y > 0
        await pilot.press("pageup")
        await pilot.pause()
        assert not log.following
        position = log.scroll_y
        source.push(FakeBatch([], [f"late {i}" for i in range(20)]))
        await settle(pilot)
        assert log.scroll_y == position  # scrolled up: new lines do not drag the view
        assert "paused" in screen_text(app)
        await pilot.press("end")
        await pilot.pause()
        assert log.following
        await pilot.press("f")  # follow off explicitly
        await pilot.pause()
        assert not log.follow
        source.push(FakeBatch([], [f"later {i}" for i in range(20)]))
        await settle(pilot)
        assert not log.following
        await pilot.press("f")
        await pilot.pause()
        assert log.following and log.scroll_y == log.max_scroll_y


async def test_tab_moves_between_panes() -> None:
    app, _ = make_app(*full_run())
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        seen = []
        for _ in range(7):
            await pilot.press("tab")
            await pilot.pause()
            assert app.focused is not None
            seen.append(app.focused.id)
        assert {"timeline", "progress", "chart-loss", "chart-rate", "log", "model"} <= set(seen)


async def test_l_toggles_log_and_shows_model_tree_when_narrow() -> None:
    app, _ = make_app(*full_run())
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("l")
        await pilot.pause()
        assert not app.query_one(LogPane).display or app.screen.has_class("-nolog")
        text = screen_text(app)
        assert "TrainingModelWithLoss" in text and "Step=1000" not in text
        assert isinstance(app.focused, Tree)
        await pilot.press("l")
        await pilot.pause()
        assert "Step=1000" in screen_text(app)


async def test_source_failure_is_shown_not_raised() -> None:
    class BrokenSourceForTests:
        name = "broken.log"

        def batches(self) -> Any:
            async def gen() -> Any:
                yield FakeBatch([], ["one line"])
                raise OSError("disk vanished")

            return gen()

        def close(self) -> None:
            pass

    app = HwmonApp(BrokenSourceForTests(), clock=lambda: CLOCK)
    async with app.run_test(size=(80, 24)) as pilot:
        await app.workers.wait_for_complete()
        await settle(pilot)
        assert app.source_error is not None and "disk vanished" in app.source_error
        assert "source failed" in screen_text(app)
        assert "one line" in screen_text(app)


@pytest.mark.parametrize("size", [(80, 24), (100, 30), (60, 20), (200, 60)])
async def test_layout_survives_sizes(size: tuple[int, int]) -> None:
    app, _ = make_app(*full_run())
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        rows = screen_text(app).splitlines()
        assert len(rows) == size[1]
        assert "step 1000" in rows[1]


async def test_cerebras_loop_target_gives_a_step_bar_and_an_eta() -> None:
    # "Starting training loop 1, from global step 0 to N" and "Effective batch size is B" let the train line show
    # step/target with a bar and an ETA of (target - step) * B / GlobalRate.
    from hwmon.events import Info

    c_ev, c_lines = compile_events()
    s_ev, s_lines = setup_events()
    t_ev, t_lines = train_events(1, 10)
    facts = [Info(1, None, "effective_batch_size", "112"), Info(2, None, "target_step", "4000")]
    app, _ = make_app(FakeBatch(facts + c_ev, c_lines), FakeBatch(s_ev, s_lines), FakeBatch(t_ev, t_lines))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        text = screen_text(app)
        assert "step 1000/4000" in text
        assert "ETA -" not in text


async def test_a_pattern_typed_then_cancelled_stops_highlighting() -> None:
    app, _ = make_app(FakeBatch([], ["alpha", "beta"]))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        pane = app.query_one(LogPane)
        await pilot.press("slash", *"alp")
        await pilot.pause()
        assert pane.log_widget.pattern is not None  # highlighted while typing
        await pilot.press("escape")
        await pilot.pause()
        assert pane.log_widget.pattern is None and pane.search_term == ""
