"""Dashboard v3's pure parts: round, distinct chart ticks; TensorBoard's debiased EMA; fields dropped whole; the
layout plan; the per-metric table; daemon-thread calls that quitting never waits for; the fleet's rows while Slurm
hangs; ``hwmon help``; the demo's pacing."""

from __future__ import annotations

import asyncio
import math
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from rich.text import Text

from hwmon.model.metrics import MAX_SERIES, MetricTable, chartable, record_bar, record_eval, record_step
from hwmon.model.smoothing import ema_debiased, fmt_smoothing
from hwmon.tui import layout
from hwmon.tui.chart import nice_ticks, render_chart, tick_labels
from hwmon.tui.fit import field, fit_fields

ROOT = Path(__file__).resolve().parents[2]

# ---------------------------------------------------------------------------------------------- ticks


@pytest.mark.parametrize(
    ("lo", "hi"),
    [(1.85, 10.6), (2.2801, 2.2999), (0.0001, 0.0165), (1_000_001.0, 1_016_600.0), (-3.0, 4.5), (0.1918, 2.06)],
)
@pytest.mark.parametrize("height", [5, 6, 12])
def test_y_ticks_are_round_distinct_and_inside_the_range(lo: float, hi: float, height: int) -> None:
    points = [(float(i), lo + (hi - lo) * i / 99) for i in range(100)]
    rows = [row.plain for row in render_chart(points, width=60, height=height)]
    labels = [row.split("┤")[0].strip() for row in rows[:-1] if "┤" in row]
    assert len(labels) >= 2, rows
    assert len(set(labels)) == len(labels), labels  # never "2.30, 2.30"
    values = [
        float(label.rstrip("kM")) * (1e3 if label.endswith("k") else 1e6 if label.endswith("M") else 1)
        for label in labels
    ]
    assert values == sorted(values, reverse=True)
    assert all(lo - 1e-9 <= v <= hi + 1e-9 for v in values)


def test_x_ticks_are_whole_steps() -> None:
    points = [(float(i), 1.0 / i) for i in range(1, 166)]
    axis = render_chart(points, width=78, height=5)[-1].plain.split()
    assert axis[0] == "└"
    assert all(label.isdigit() for label in axis[1:]), axis  # no "52.5", no "83"-then-"165" halves
    assert [int(label) for label in axis[1:]] == sorted(int(label) for label in axis[1:])


def test_tick_labels_use_the_decimals_of_their_step() -> None:
    assert tick_labels([2.28, 2.285, 2.29], 0.005) == ["2.280", "2.285", "2.290"]
    assert tick_labels([5000.0, 10000.0, 15000.0], 5000.0) == ["5k", "10k", "15k"]
    assert tick_labels([12500.0, 15000.0], 2500.0) == ["12.5k", "15.0k"]
    assert nice_ticks(1.0, 165.0, 5, integer=True) == [50.0, 100.0, 150.0]


def test_epoch_boundaries_are_dotted_where_the_plot_is_empty() -> None:
    points = [(float(i), 5.0 - i / 50) for i in range(200)]
    rows = render_chart(points, width=60, height=6, boundaries=[100.0])
    assert any("┆" in row.plain for row in rows[:-1])
    assert not any("┆" in row.plain for row in render_chart(points, width=60, height=6))


# ---------------------------------------------------------------------------------------------- smoothing


def test_ema_is_tensorboards_debiased_average() -> None:
    # By hand at weight 0.6: 1st = 0.4*1/(1-0.6) = 1; 2nd = (0.6*0.4 + 0.4*2)/(1-0.36) = 1.04/0.64 = 1.625;
    # 3rd = (0.6*1.04 + 0.4*3)/(1-0.216) = 1.824/0.784.
    smoothed = ema_debiased([(1, 1.0), (2, 2.0), (3, 3.0)], 0.6)
    assert [x for x, _ in smoothed] == [1, 2, 3]
    assert [y for _, y in smoothed] == pytest.approx([1.0, 1.625, 1.824 / 0.784])
    # A constant series stays constant (the debiasing: no pull towards 0 at the start).
    assert [y for _, y in ema_debiased([(i, 5.0) for i in range(10)], 0.9)] == pytest.approx([5.0] * 10)
    # NaN is kept out of the average.
    assert ema_debiased([(1, 1.0), (2, math.nan), (3, 1.0)], 0.6) == [(1, 1.0), (2, 1.0), (3, 1.0)]
    assert ema_debiased([(1, 3.0)], 0.0) == [(1, 3.0)]
    assert fmt_smoothing(0.6) == "EMA 0.6" and fmt_smoothing(None) == ""


def test_smoothing_draws_the_raw_series_faint_behind_the_line() -> None:
    noisy = [(float(i), 2.0 + (0.5 if i % 2 else -0.5)) for i in range(120)]
    rows = render_chart(noisy, width=60, height=6, smoothed=ema_debiased(noisy, 0.9))
    styles = {str(span.style) for row in rows for span in row.spans}
    assert "dim cyan" in styles and "cyan" in styles


# ---------------------------------------------------------------------------------------------- fields


def test_fit_fields_drops_whole_fields_highest_rank_first() -> None:
    fields = [field("step 1162/3750", 0), field("epoch 2/10", 2), field("ETA 7m02s", 1)]
    assert fit_fields(fields, 80, "  ").plain == "step 1162/3750  epoch 2/10  ETA 7m02s"
    assert fit_fields(fields, 30, "  ").plain == "step 1162/3750  ETA 7m02s"
    assert fit_fields(fields, 20, "  ").plain == "step 1162/3750"
    # A name may give up its start; a figure never loses a digit.
    named = [field("/very/long/path/to/run.log", 0, shrink=True, min_cells=12), field("wall 3m02s", 1)]
    out = fit_fields(named, 26, " | ").plain
    assert out.endswith("run.log | wall 3m02s") and out.startswith("/ver") and "…" in out and len(out) <= 26
    assert isinstance(fit_fields([], 10), Text)


# ---------------------------------------------------------------------------------------------- layout


def test_the_plan_gives_every_big_phase_its_row_before_the_chart() -> None:
    # 80x24 with a 3-row header: 20 body rows. Six phase kinds (7 rows with the title), progress 3, chart 6.
    plan = layout.plan(20, layout.Need(7, 7), layout.Need(2, 3), layout.Need(4, 6))
    assert plan.timeline == 7 and plan.bottom >= layout.BOTTOM_MIN
    assert plan.timeline + plan.progress + plan.charts + plan.bottom == 20
    # Too short for the chart beside the needs: the chart goes before a phase does.
    short = layout.plan(14, layout.Need(7, 7), layout.Need(2, 3), layout.Need(4, 6))
    assert short.timeline == 7 and short.charts == 0
    # Expected phases (history) come after the chart has its size.
    extra = layout.plan(40, layout.Need(3, 3, extra=3), layout.Need(2, 2), layout.Need(4, 12))
    assert extra.charts == 12 and extra.timeline == 6


# ---------------------------------------------------------------------------------------------- metrics


def test_the_metric_table_keys_series_by_name_and_stays_bounded() -> None:
    table = MetricTable()
    for step in range(1, 101):
        fields = (("lr", 1e-3 / step), ("grad_norm", 1.0 + step % 3), ("v_num", 7.0), ("loss", 9.0))
        record_step(table, step, fields, epoch=step / 50)
    record_eval(table, 100, "accuracy", 0.9)
    record_bar(table, 100, (("accuracy", 0.5),))
    names = [entry.label for entry in chartable(table)]
    # The loss has its own series; a constant (a version number) and a 1-point bar figure are not charts; one
    # evaluation is (a point per evaluation).
    assert names == ["lr", "grad_norm", "eval accuracy"]
    assert table.series["train:lr"].series.count == 100
    assert table.epoch_starts == [50, 100]
    for index in range(MAX_SERIES + 10):
        table.add(f"k{index}", "train", 1.0, 1.0)
    assert len(table.series) == MAX_SERIES and table.dropped > 0


# ---------------------------------------------------------------------------------------------- off the UI


def test_call_off_loop_runs_in_a_daemon_thread_and_returns_its_value() -> None:
    from hwmon.sources.offthread import call_off_loop

    seen: list[bool] = []

    def work() -> int:
        seen.append(threading.current_thread().daemon)
        return 42

    assert asyncio.run(call_off_loop(work)) == 42 and seen == [True]

    def fail() -> int:
        raise ValueError("no answer")

    with pytest.raises(ValueError, match="no answer"):
        asyncio.run(call_off_loop(fail))


def test_a_program_quits_while_a_call_off_the_loop_still_hangs() -> None:
    # The whole point of daemon threads: asyncio.run (and so a Textual app) does not wait for them at its end.
    code = (
        "import asyncio, time\n"
        "from hwmon.sources.offthread import call_off_loop\n"
        "async def main():\n"
        "    task = asyncio.ensure_future(call_off_loop(lambda: time.sleep(60)))\n"
        "    await asyncio.sleep(0.1)\n"
        "    task.cancel()\n"
        "asyncio.run(main())\n"
    )
    started = time.monotonic()
    subprocess.run([sys.executable, "-c", code], check=True, timeout=30)
    assert time.monotonic() - started < 10


def test_poller_keeps_the_last_answer_and_says_when_the_call_is_slow() -> None:
    from hwmon.sources.offthread import Poller

    release = threading.Event()
    answers = iter([1, 2])

    def call() -> int:
        value = next(answers)
        if value == 2:
            release.wait(10)
        return value

    poller = Poller(call, 0.01, what="squeue", slow_s=0.05)
    poller.start()
    deadline = time.monotonic() + 5
    while not poller.has_result and time.monotonic() < deadline:
        time.sleep(0.01)
    assert poller.latest == 1
    while "has not answered" not in poller.note and time.monotonic() < deadline:
        time.sleep(0.01)
    assert poller.note.startswith("squeue has not answered for")
    assert poller.latest == 1  # the last good answer stays while the next one hangs
    release.set()
    poller.stop()


def test_fleet_rows_answer_while_squeue_hangs() -> None:
    from hwmon.sources.fleet import Fleet

    release = threading.Event()

    def hanging_jobs() -> list[object]:
        release.wait(10)
        return []

    fleet = Fleet(runs=lambda: [], jobs=hanging_jobs, recents=lambda: [])  # type: ignore[arg-type]
    asker = threading.Thread(target=fleet.poll_slurm, daemon=True)
    asker.start()
    time.sleep(0.05)
    started = time.monotonic()
    fleet.refresh(slurm=False)
    assert fleet.rows() == []
    assert time.monotonic() - started < 1.0  # not held by the lock while squeue is asked
    release.set()
    asker.join(5)


# ---------------------------------------------------------------------------------------------- words


def _hwmon(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hwmon", *args], capture_output=True, text=True, timeout=60)


def test_hwmon_help_explains_hwmon_or_one_command() -> None:
    overall = _hwmon("help")
    assert overall.returncode == 0 and "attach" in overall.stdout and "exit codes" in overall.stdout
    one = _hwmon("help", "attach")
    assert one.returncode == 0 and one.stdout.startswith("usage: hwmon attach")
    assert _hwmon("attach", "--help").stdout == one.stdout
    typo = _hwmon("help", "atach")
    assert typo.returncode == 64 and "did you mean 'attach'" in typo.stderr


def test_the_mnist_demo_lasts_at_least_20_seconds() -> None:
    from hwmon.commands.demo import EXAMPLE_SPEEDS, example_log
    from hwmon.sources.replay import MAX_REAL_GAP_S, plan_replay

    for name in ("mnist", "cerebras"):
        plan = plan_replay(example_log(name).read_bytes())
        speed = EXAMPLE_SPEEDS[name]
        seconds = sum(
            min(MAX_REAL_GAP_S, max(0.0, (b.at - a.at) / speed)) for a, b in zip(plan, plan[1:], strict=False)
        )
        assert seconds >= 20.0, (name, seconds)
