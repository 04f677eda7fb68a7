"""Dashboard v3 (issue 19), pilot tests at 80x24 and 160x48: the phase timeline never hides a big phase, the raw
log's live row, charts' smoothing and ticks, panes you can find (keys, tab row, z on any pane, help that scrolls),
fields dropped whole, the keys and words."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from screen import screen_text
from sources import FakeBatch, ReplaySourceForTests, parse_fixture, settle_app

from hwmon.tui.app import HwmonApp
from hwmon.tui.screens import HelpScreen
from hwmon.tui.widgets import LogPane, ModelTree, PhaseTimeline, ProgressPane

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "src" / "hwmon" / "examples"
FIXTURES = ROOT / "tests" / "fixtures"
CLOCK = 5000.0
SIZES = pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])


def replay(path: Path, *, name: str | None = None, cut: float = 1.0) -> ReplaySourceForTests:
    data = path.read_bytes()
    if cut < 1.0:
        lines = data.splitlines(keepends=True)
        data = b"".join(lines[: int(len(lines) * cut)])
    events, lines = parse_fixture(data)
    return ReplaySourceForTests([FakeBatch(events, lines, eof=cut >= 1.0)], name=name or path.name)


async def settle(pilot: Any) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    pilot.app.repaint_now()
    await pilot.pause()
    await pilot.pause()


async def live_settle(pilot: Any) -> None:
    """A source held open (the worker never completes): wait until the app took every pushed batch (state, not a
    sleep), then paint."""
    await settle_app(pilot)


def rows_named(text: str, names: tuple[str, ...]) -> list[str]:
    """Which phase names have a row of their own in the timeline on screen."""
    rows = text.splitlines()
    return [name for name in names if any(row.startswith((f" {name} ", f"▶{name} ")) for row in rows)]


# ---------------------------------------------------------------------------------------------- 1. phases


@SIZES
async def test_every_phase_kind_with_a_share_of_the_wall_has_a_row(size: tuple[int, int]) -> None:
    # The bundled Cerebras example: compile is 38 % of the wall and checkpoint 2 %; at 80x24 both were hidden.
    app = HwmonApp(replay(EXAMPLES / "cerebras_gpt_small.log"), clock=lambda: CLOCK)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        text = screen_text(app)
        timeline = app.query_one(PhaseTimeline)
        wall = [row for row in timeline.rows]
        big = [row.name for row in wall if row.seconds >= 0.01 * sum(r.seconds for r in wall)]
        assert {"compile", "checkpoint", "queue", "setup", "train"} <= set(big)
        assert set(big) <= set(rows_named(text, tuple(row.name for row in wall))), text
        assert "not shown" not in text
        # Repeats fold into one row with their count and total.
        assert any(row.startswith(" compile ") and "×2" in row for row in text.splitlines())


async def test_small_phases_fold_into_one_row_when_rows_run_short() -> None:
    # The PopTorch run: train (64 %) and compile (36 %) are big; queue and eval (0 s each) are not.
    app = HwmonApp(replay(FIXTURES / "tui_poptorch_run.log"), clock=lambda: CLOCK)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        timeline = app.query_one(PhaseTimeline)
        assert [row.name for row in timeline.rows] == ["queue", "train", "compile", "eval"]
        assert len(timeline.pane_rows(80, 4)) == 4  # room for every kind: every kind
        rows = [text.plain for text in timeline.pane_rows(80, 3)]
        assert [row.split()[0] for row in rows[:2]] == ["train", "compile"]
        # No log time measures queue and eval (the model says '?', as summary says '-'): not known to be big.
        assert rows[2].startswith(" + queue ?, eval ?") and "not measured" in rows[2]
        # Fewer rows than even the big ones need (a terminal below 80x24): a note says what else there is, and
        # the pane is never empty.
        tiny = [text.plain for text in timeline.pane_rows(80, 2)]
        assert tiny[0].startswith(" + ") and "z shows all" in tiny[0] and tiny[1].split()[0] == "compile"
        assert timeline.pane_rows(80, 1)[0].plain.split()[0] in ("train", "compile")


def test_measured_small_phases_fold_with_their_share_and_big_ones_keep_rows() -> None:
    """Kinds under 1 % of the wall fold into one row ('<1% each'); the shares are the model's (phase_totals)."""
    from datetime import datetime, timedelta

    from hwmon.events import PhaseEnded, PhaseStarted
    from hwmon.model import figures
    from hwmon.model.reducer import apply
    from hwmon.model.state import RunState
    from hwmon.tui import view

    t0 = datetime(2026, 1, 1, 12, 0, 0)
    state = RunState()
    line = 0
    for name, start, seconds in (
        ("setup", 0, 0.5),
        ("compile", 0.5, 40),
        ("checkpoint", 40.5, 0.3),
        ("train", 41, 959),
    ):
        line += 1
        apply(state, PhaseStarted(line, t0 + timedelta(seconds=start), name), 0.0)
        line += 1
        apply(state, PhaseEnded(line, t0 + timedelta(seconds=start + seconds), name), 0.0)
    pane = PhaseTimeline()
    pane._timeline = view.timeline(state, 0.0)
    rows = [text.plain for text in pane.pane_rows(80, 3)]
    assert [row.split()[0] for row in rows[:2]] == ["compile", "train"]
    assert rows[2] == " + setup 1s, checkpoint 0s (<1% each)"
    shares = {t.name: figures.fmt_share(t.share) for t in figures.phase_totals(state, 0.0)}
    assert rows[0].split()[-1] == shares["compile"] == "4%" and rows[1].split()[-1] == shares["train"] == "96%"


@SIZES
async def test_z_on_the_timeline_lists_every_span_and_scrolls(size: tuple[int, int]) -> None:
    app = HwmonApp(replay(EXAMPLES / "cerebras_gpt_small.log"), clock=lambda: CLOCK)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        app.query_one(PhaseTimeline).focus()
        await pilot.press("z")
        await pilot.pause()
        text = screen_text(app)
        spans = app.query_one(PhaseTimeline)._timeline
        assert spans is not None and len(spans.spans) == 13
        assert "every span, in order (13)" in text
        assert "╱" not in text  # the pane's content, not hatching
        if size == (80, 24):
            assert "↓" in text and "more" in text  # more spans than rows: it says so and scrolls
            before = text
            await pilot.press("G")
            await pilot.pause()
            after = screen_text(app)
            assert after != before and " 13 " in after
        else:
            assert " 13 " in text


async def test_an_ended_run_s_timeline_is_never_empty() -> None:
    app = HwmonApp(replay(EXAMPLES / "mnist_cpu.log"), clock=lambda: CLOCK)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        text = screen_text(app)
        assert rows_named(text, ("train", "eval")) == ["train", "eval"]
        assert "not shown" not in text


# ---------------------------------------------------------------------------------------------- 2. live log


async def test_the_live_row_shows_the_redraw_in_place_is_searched_and_gives_way_to_the_final_line() -> None:
    source = ReplaySourceForTests([FakeBatch([], ["epoch 1"], partial="Loss:2.30 | 1/9")], name="bar.log")
    source.queue = asyncio.Queue()
    app = HwmonApp(source, clock=lambda: CLOCK)
    async with app.run_test(size=(80, 24)) as pilot:
        await live_settle(pilot)
        pane = app.query_one(LogPane)
        assert pane.log_widget.live == "Loss:2.30 | 1/9" and "Loss:2.30 | 1/9" in screen_text(app)
        source.push(FakeBatch([], [], partial="Loss:2.10 | 5/9"))
        await live_settle(pilot)
        text = screen_text(app)
        assert "Loss:2.10 | 5/9" in text and "Loss:2.30" not in text
        assert pane.log_widget.lines == ["epoch 1"]  # in place: no line added
        await pilot.press("slash", *"Loss:2\\.1", "enter")
        await pilot.pause()
        assert "1/1 matches" in screen_text(app)
        source.push(FakeBatch([], ["Loss:1.90 | 9/9"], partial=None))
        await live_settle(pilot)
        assert pane.log_widget.live == "" and pane.log_widget.lines == ["epoch 1", "Loss:1.90 | 9/9"]


async def test_the_live_row_is_filtered_like_any_line() -> None:
    source = ReplaySourceForTests([FakeBatch([], ["a warning: slow disk"], partial="Loss:2.3 | 1/9")])
    app = HwmonApp(source, clock=lambda: CLOCK)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("e")
        await pilot.pause()
        assert "Loss:2.3" not in screen_text(app) and "slow disk" in screen_text(app)
        await pilot.press("e")
        await pilot.pause()
        assert "Loss:2.3" in screen_text(app)


# ---------------------------------------------------------------------------------------------- 3. charts


async def test_s_smooths_the_chart_and_says_its_weight() -> None:
    app = HwmonApp(replay(EXAMPLES / "mnist_cpu.log"), clock=lambda: CLOCK)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.action_pane(3)
        await pilot.pause()
        before = screen_text(app)
        await pilot.press("S")
        await pilot.pause()
        after = screen_text(app)
        assert "EMA 0.6" in after and "EMA" not in before
        assert after != before


async def test_m_goes_through_every_series_the_run_has() -> None:
    # Megatron prints lr, grad norm, loss scale... beside the loss; its eval prints val lm loss and ppl.
    app = HwmonApp(replay(FIXTURES / "megatron_gpt_train.log"), clock=lambda: CLOCK)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        from hwmon.tui.widgets import ChartPane
        from hwmon.tui.widgets.charts import chart_kinds

        kinds = chart_kinds(app.state)
        assert kinds[0] == "loss" and "metric:train:lr" in kinds and "metric:train:grad norm" in kinds
        assert "metric:eval:val lm loss" in kinds
        chart = app.query_one("#chart-loss", ChartPane)
        await pilot.press("3")
        seen = []
        for _ in range(len(kinds)):
            await pilot.press("m")
            await pilot.pause()
            seen.append(chart.kind)
            title = chart.title_text().plain
            assert f"{len(seen) % len(kinds) + 1}/{len(kinds)} m" in title, title
        assert seen[-1] == "loss" and set(seen) == set(kinds)  # every series, then round again
        while chart.kind != "metric:train:lr":
            await pilot.press("m")
            await pilot.pause()
        text = screen_text(app)
        assert "3 lr " in text and "┤" in text


# ---------------------------------------------------------------------------------------------- 4. panes


async def test_the_tab_row_names_hidden_panes_with_their_keys_and_the_keys_show_them() -> None:
    app = HwmonApp(replay(FIXTURES / "tui_poptorch_run.log"), clock=lambda: CLOCK)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        rows = screen_text(app).splitlines()
        tab_row = next(row for row in rows if " 4 log " in row)
        assert "5 model" in tab_row  # the model pane has no room at 80x24: its key is named
        await pilot.press("5")
        await pilot.pause()
        text = screen_text(app)
        assert "TrainingModelWithLoss" in text and isinstance(app.focused, ModelTree)
        await pilot.press("4")
        await pilot.pause()
        assert "TrainingModelWithLoss" not in screen_text(app)
        # A pane with nothing to show says why instead of doing nothing.
        await pilot.press("6")
        await pilot.pause()
        assert "no system to show yet" in screen_text(app)


@SIZES
async def test_z_on_any_pane_shows_its_content_not_filler(size: tuple[int, int]) -> None:
    app = HwmonApp(replay(EXAMPLES / "cerebras_gpt_small.log", cut=0.8), clock=lambda: CLOCK)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        for number in (1, 2, 3, 4):
            app.action_pane(number)
            await pilot.pause()
            await pilot.press("z")
            await pilot.pause()
            text = screen_text(app)
            assert "╱" not in text, (number, text)
            assert app.screen.maximized is not None
            await pilot.press("z")
            await pilot.pause()
            assert app.screen.maximized is None


async def test_help_scrolls_with_j_and_page_down_at_80x24() -> None:
    app = HwmonApp(replay(FIXTURES / "tui_poptorch_run.log"), clock=lambda: CLOCK)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("h")
        await pilot.pause()
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        first = screen_text(app)
        assert "rows 1-" in first and "j/k" in first
        assert "record view" not in first  # the end is below: it scrolls
        await pilot.press("pagedown", "pagedown", "pagedown")
        await pilot.pause()
        last = screen_text(app)
        assert "record view" in last and "copy the record" in last
        await pilot.press("g")
        await pilot.pause()
        assert "rows 1-" in screen_text(app)


async def test_a_progress_row_drops_whole_fields_never_a_cut_number() -> None:
    from hwmon.events import StepMetrics, TargetStated

    events = [TargetStated(1, None, what="step", total=37500), StepMetrics(2, None, step=1162, loss=2.5)]
    app = HwmonApp(ReplaySourceForTests([FakeBatch(events, [])]), clock=lambda: CLOCK)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        pane = app.query_one(ProgressPane)
        for width in (40, 50, 60, 80):
            row = pane.pane_rows(width, 5)[0].plain
            assert len(row) <= width and "…" not in row
            assert "step 1162/37500" in row
            if "ETA" in row:
                assert row.rstrip().endswith(("s", "m", "h", "d", "-")), row


async def test_the_header_names_a_supervised_run_by_its_id(tmp_path: Path) -> None:
    source = replay(FIXTURES / "tui_poptorch_run.log", name="20261207-003409-mnist-a1b7")
    source.run_dir = tmp_path  # type: ignore[attr-defined]
    app = HwmonApp(source, clock=lambda: CLOCK, title="mnist ipu")
    async with app.run_test(size=(100, 24)) as pilot:
        await settle(pilot)
        assert "run 20261207-003409-mnist-a1b7" in screen_text(app).splitlines()[0]


# ---------------------------------------------------------------------------------------------- 5. keys/words


async def test_ampersand_opens_empty_and_enter_on_it_clears_the_filter() -> None:
    lines = [f"line {i} {'needle' if i % 7 == 0 else 'hay'}" for i in range(40)]
    app = HwmonApp(ReplaySourceForTests([FakeBatch([], lines)]), clock=lambda: CLOCK)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        pane = app.query_one(LogPane)
        await pilot.press("ampersand", *"needle", "enter")
        await pilot.pause()
        assert pane.filter_term == "needle"
        await pilot.press("ampersand")
        await pilot.pause()
        from textual.widgets import Input

        box = app.query_one("#search", Input)
        assert box.value == "" and "&needle" in box.placeholder
        await pilot.press("enter")
        await pilot.pause()
        assert pane.filter_term == "" and list(pane.log_widget.lines) == lines


def test_the_demo_closing_line_offers_the_demo_not_a_temporary_file() -> None:
    source = replay(EXAMPLES / "mnist_cpu.log", name="demo: mnist_cpu.log")
    source.closing_hint = "again with: hwmon demo --example mnist"  # type: ignore[attr-defined]
    app = HwmonApp(source, clock=lambda: CLOCK)
    line = app.closing_line()
    assert line.endswith("again with: hwmon demo --example mnist") and "hwmon attach" not in line


# ---------------------------------------------------------------------------------------------- 7. stalls


async def test_a_fast_loop_s_jitter_is_no_stall_a_long_wait_is() -> None:
    from hwmon.events import PhaseStarted, StepMetrics

    clock = [100.0]
    source = ReplaySourceForTests([], name="fast.log")
    source.queue = asyncio.Queue()
    app = HwmonApp(source, clock=lambda: clock[0])
    async with app.run_test(size=(80, 24)) as pilot:
        source.push(FakeBatch([PhaseStarted(1, None, phase="train")], ["training"]))
        for step in range(1, 21):  # a step every 0.2 s
            source.push(FakeBatch([StepMetrics(step + 1, None, step=step, loss=1.0)], [f"step {step}"]))
            await live_settle(pilot)
            clock[0] += 0.2
        clock[0] += 0.86  # 1.06 s since the last step: 5.3x the usual 0.2 s
        await live_settle(pilot)
        assert "stalled" not in screen_text(app) and not app.state.alerts
        clock[0] += 30.0
        await live_settle(pilot)
        header = "\n".join(screen_text(app).splitlines()[:3])
        assert "stalled" in header and "no new step for 31s" in header
        assert [alert.kind for alert in app.state.alerts] == ["stall"]


# ---------------------------------------------------------------------------------------------- record view


async def test_the_record_view_says_which_rule_read_the_line() -> None:
    from hwmon.events import PhaseStarted, StepMetrics
    from hwmon.tui.screens import RecordScreen

    # Lines 101-120 of a log: a train phase, then steps, each read by a (named) rule.
    lines = ["training starts", *(f"it={n} obj={3.0 - n / 10:.2f}" for n in range(1, 20))]
    events = [PhaseStarted(101, None, phase="train", rule="mytrainer:phase")]
    events += [StepMetrics(101 + n, None, step=n, loss=3.0 - n / 10, rule="mytrainer:step") for n in range(1, 20)]
    source = ReplaySourceForTests([FakeBatch(events, lines, eof=True, first_line=101)], name="run.log")
    app = HwmonApp(source, clock=lambda: CLOCK)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        assert app.state.provenance.rule_of_line(112) == "mytrainer:step"
        await pilot.press("slash", *"it=11 ", "enter")
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, RecordScreen)
        assert app.screen.first_line == 112 and app.screen.rule == "mytrainer:step"
        title = str(app.screen.query_one("Vertical").border_title)
        assert "line 112" in title and "read by mytrainer:step" in title
        # Filtered, the lines keep their numbers.
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("ampersand", *"it=1", "enter", "slash", *"it=13 ", "enter")
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, RecordScreen) and app.screen.first_line == 114
    # A source that does not give its lines' numbers (0): no rule is named rather than a wrong one.
    source = ReplaySourceForTests([FakeBatch(events, lines, eof=True)], name="run.log")
    app = HwmonApp(source, clock=lambda: CLOCK)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"it=11 ", "enter")
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, RecordScreen) and app.screen.first_line == 0 and app.screen.rule is None
