"""``hwmon compare``: figures from the model's own functions, throughput normalisation, loss at matching steps, the
--json/--md/plain outputs, and the compare screen (pilot + snapshots at 80x24 and 160x48) with a Cerebras, a
PopTorch and a GPU run."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from hwmon import exitcodes
from hwmon.cli import main
from hwmon.commands.compare import collect
from hwmon.events import StepMetrics
from hwmon.model import compare as compare_mod
from hwmon.model.compare import RunCollector, compare_dict, matching_steps, normalise_rate
from hwmon.model.summary import summary_dict
from hwmon.sources.read import summarize_bytes

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
sys.path.insert(0, str(ROOT / "tests" / "pilot"))
from screen import screen_text  # noqa: E402

RUNS = [FIXTURES / "tui_cerebras_run.log", FIXTURES / "tui_poptorch_run.log", FIXTURES / "generic_train.log"]


def test_figures_are_the_summarys(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", *map(str, RUNS), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["schema"] == "hwmon.compare/1"
    assert [r["vendor"] for r in data["runs"]] == ["cerebras", "graphcore", "gpu"]
    for run, path in zip(data["runs"], RUNS, strict=True):
        summary = summary_dict(summarize_bytes(path.read_bytes(), str(path)))
        assert run["status"] == summary["status"]
        assert run["wall_seconds"] == summary["wall_seconds"]
        totals: dict[str, float] = defaultdict(float)
        for phase in summary["phases"]:  # type: ignore[attr-defined]
            if phase["seconds"] is not None:
                totals[phase["name"]] += phase["seconds"]
        got = {p["name"]: p["seconds"] for p in run["phases"] if p["seconds"] is not None}
        assert got == pytest.approx(dict(totals))
        wall = summary["wall_seconds"]
        for p in run["phases"]:
            if p["seconds"] is not None and wall:
                assert p["share"] == pytest.approx(p["seconds"] / wall)
        assert run["loss"]["final"] == summary["train"]["loss"]["last"]  # type: ignore[index]
        assert run["loss"]["min"] == summary["train"]["loss"]["min"]  # type: ignore[index]
        assert run["checkpoints"] == len(summary["checkpoints"])  # type: ignore[arg-type]
    cerebras = data["runs"][0]
    # time to first step: first log timestamp (09:14:02.101) to the start of training ("Beginning appliance run",
    # 09:23:17.271)
    assert cerebras["time_to_first_step"] == pytest.approx(555.17)
    assert cerebras["throughput"]["unit"] == "samples/s"
    assert [s["step"] for s in data["loss_at_steps"]] == [100, 200, 300]


def test_throughput_is_normalised_to_samples_per_second() -> None:
    assert normalise_rate(10.0, "it/s", 16) == (160.0, "samples/s")
    assert normalise_rate(10.0, "it/s", None) == (10.0, "it/s")
    assert normalise_rate(410.5, "samples/sec", 32) == (410.5, "samples/s")
    assert normalise_rate(99.0, "sequences/sec", None) == (99.0, "samples/s")
    assert normalise_rate(5.0, "tokens/sec", 8) == (5.0, "tokens/sec")
    assert normalise_rate(float("nan"), "it/s", 8) == (None, "it/s")


def _collector(name: str, steps: range, loss: Any = lambda s: 1.0 / s, rate: Any = float) -> RunCollector:
    collector = RunCollector(name)
    for step in steps:
        collector.feed(StepMetrics(step, None, step, loss=loss(step), rate=rate(step), rate_unit="it/s"))
    return collector


def test_steady_state_is_the_median_of_the_last_step_rates() -> None:
    # a slow warm-up (steps 1..150 at 1 it/s), then 100 it/s with one outlier at the very end
    figures = _collector(
        "a", range(1, 201), rate=lambda s: 1.0 if s <= 150 else 1000.0 if s == 200 else 100.0
    ).figures()
    # the median of the last RATE_WINDOW (50) rates: not the mean (118), not the last (1000), not all (1.0)
    assert figures.throughput == pytest.approx(100.0)
    assert figures.throughput_window == compare_mod.RATE_WINDOW
    assert figures.throughput_unit == "it/s"


def test_loss_at_matching_steps_is_exact() -> None:
    a = _collector("a", range(1, 101)).figures()
    b = _collector("b", range(1, 51), loss=lambda s: 2.0 / s).figures()
    steps = matching_steps([a, b])
    assert steps[-1] == 50 and steps[0] >= 1 and len(steps) == 5
    for step in steps:
        assert a.loss_at(step) == pytest.approx(1.0 / step)
        assert b.loss_at(step) == pytest.approx(2.0 / step)
    rows = compare_dict([a, b])["loss_at_steps"]
    assert rows == [{"step": s, "loss": [pytest.approx(1.0 / s), pytest.approx(2.0 / s)]} for s in steps]


def test_long_curves_are_decimated_to_exact_points(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compare_mod, "CURVE_POINTS", 100)
    figures = _collector("a", range(1, 1001)).figures()
    assert 50 <= len(figures.curve) <= 100
    stride = figures.curve[1].step - figures.curve[0].step
    assert stride > 1 and all(p.step % stride == 0 for p in figures.curve)
    assert all(p.loss == pytest.approx(1.0 / p.step) for p in figures.curve)
    assert figures.curve[-1].step == 1000 - 1000 % stride


def test_markdown_and_plain_tables(tmp_path: Path) -> None:
    odd = tmp_path / "run_[b]|x*.log"
    odd.write_bytes(RUNS[2].read_bytes())
    md = subprocess.run(
        [sys.executable, "-m", "hwmon", "compare", str(RUNS[0]), str(odd), "--md"], capture_output=True, check=True
    ).stdout.decode()
    assert "| wall time | 13m46s | 40s |" in md
    assert "run\\_\\[b\\]\\|x\\*.log" in md
    plain = subprocess.run(
        [sys.executable, "-m", "hwmon", "compare", *map(str, RUNS)], capture_output=True, check=True
    ).stdout.decode()
    assert "time to first step" in plain and "tui_poptorch_run.log" in plain
    assert "\x1b" not in plain  # not a terminal: no styles


def test_bad_sources() -> None:
    one = subprocess.run([sys.executable, "-m", "hwmon", "compare", str(RUNS[0])], capture_output=True, check=False)
    assert one.returncode == exitcodes.USAGE and b"at least two" in one.stderr
    missing = subprocess.run(
        [sys.executable, "-m", "hwmon", "compare", str(RUNS[0]), "nope/missing.log"], capture_output=True, check=False
    )
    assert missing.returncode == exitcodes.BAD_INPUT and b"Traceback" not in missing.stderr


# --- the compare screen ---------------------------------------------------------------------------------------------


def _app() -> Any:
    from hwmon.tui.compare import CompareApp

    return CompareApp(collect([str(p) for p in RUNS]))


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
async def test_compare_screen_views(size: tuple[int, int]) -> None:
    app = _app()
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        text = screen_text(app)
        assert "time to first step" in text and "cerebras (CSX)" in text and "graphcore (IPU)" in text
        assert "loss @ step 200" in text
        await pilot.press("2")
        await pilot.pause()
        text = screen_text(app)
        assert "loss vs step" in text and "loss vs wall time" in text
        assert any("\u2800" < ch <= "\u28ff" for ch in text)  # braille curves drawn
        # the step axis runs to the longest curve's last step (PopTorch's per-epoch steps laid end to end)
        longest = max(p.step for r in app.runs for p in r.curve)
        assert longest > 600 and str(longest) in text
        await pilot.press("3")
        await pilot.pause()
        text = screen_text(app)
        # rows start with the run's marker letter (A: the Cerebras run, C: the GPU run)
        rows = [line for line in text.splitlines() if line.startswith(("A ", "C "))]
        assert len(rows) == 2
        # one time axis: the 40 s GPU run is a short bar against the 13m46s Cerebras run
        assert rows[0].count("T") + rows[0].count("C") > 10 * rows[1].count("E") > 0
        await pilot.press("tab")
        await pilot.pause()
        assert "time to first step" in screen_text(app)


async def _settle(pilot: Any) -> None:
    await pilot.pause()


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
@pytest.mark.parametrize("view", ["1", "2", "3"], ids=["figures", "curves", "timelines"])
def test_compare_snapshot(snap_compare: Any, size: tuple[int, int], view: str) -> None:
    assert snap_compare(_app(), terminal_size=size, press=[view], run_before=_settle)


async def test_run_names_are_shown_literally(tmp_path: Path) -> None:
    from hwmon.tui.compare import CompareApp

    odd = tmp_path / "[red]x[-]\x1b[2J.log"
    odd.write_bytes(RUNS[2].read_bytes())
    app = CompareApp(collect([str(RUNS[0]), str(odd)]))
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        text = screen_text(app)
        assert "[red]x[-]" in text
        assert "\x1b" not in text


def test_steps_that_restart_each_epoch_make_one_continuous_curve() -> None:
    collector = RunCollector("epochs")
    for epoch in range(3):
        for step in (0, 100, 200):
            collector.feed(StepMetrics(0, None, step, loss=10.0 - epoch * 3 - step / 100, epoch=float(epoch)))
    curve = collector.figures().curve
    assert [p.step for p in curve] == [0, 100, 200, 300, 400, 500, 600, 700, 800]
    assert [p.loss for p in curve] == [10.0, 9.0, 8.0, 7.0, 6.0, 5.0, 4.0, 3.0, 2.0]
    assert collector.figures().loss_at(450) == 6.0
