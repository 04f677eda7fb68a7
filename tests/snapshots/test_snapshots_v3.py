"""SVG snapshots of dashboard v3 (issue 19) at 80x24 and 160x48, one per point: every big phase with a row and the
maximised timeline's spans, the raw log's live row, a smoothed chart, the tab row and a side pane in the log's
place, help scrolled, a maximised progress pane, the ``&`` prompt that opens empty, and the fleet with its sort,
filter and a Slurm that does not answer.

Deterministic like ``test_snapshots.py``: whole fixtures replayed through the real parser, a fixed clock, no
history. Update with ``pytest tests/snapshots --snapshot-update`` after checking the new SVGs by eye.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from sources import FakeBatch, ReplaySourceForTests, parse_fixture
from tests.helpers.records import run_record

from hwmon import exitcodes
from hwmon.parsers.stream import StreamParser
from hwmon.tui.app import HwmonApp

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "src" / "hwmon" / "examples"
FIXTURES = ROOT / "tests" / "fixtures"
FIXED_CLOCK = 5000.0
SIZES = pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])


@pytest.fixture(autouse=True)
def _no_history(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HWMON_HISTORY", "off")


def _app(path: Path, *, cut: float = 1.0, title: str | None = None) -> HwmonApp:
    data = path.read_bytes()
    partial = None
    if cut < 1.0:
        data = data[: int(len(data) * cut)]
        parser = StreamParser(keep_lines=100_000)
        events, lines, partial = parser.feed(data), parser.pop_lines(), parser.partial()
    else:
        events, lines = parse_fixture(data)
    source = ReplaySourceForTests([FakeBatch(events, lines, eof=cut >= 1.0, partial=partial)], name=path.name)
    return HwmonApp(source, clock=lambda: FIXED_CLOCK, title=title or path.name)


async def _settle(pilot: Any) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    pilot.app.repaint_now()
    await pilot.pause()
    await pilot.wait_for_scheduled_animations()
    await pilot.pause()
    await pilot.pause()


# name -> (log, fraction replayed, keys pressed after the first frame)
VIEWS: dict[str, tuple[Path, float, list[str]]] = {
    "phases": (EXAMPLES / "cerebras_gpt_small.log", 1.0, []),
    "phases_maximised": (EXAMPLES / "cerebras_gpt_small.log", 1.0, ["1", "z"]),
    "live_row": (EXAMPLES / "mnist_cpu.log", 0.55, []),
    "chart_smoothed": (EXAMPLES / "mnist_cpu.log", 1.0, ["3", "S"]),
    "chart_metric_lr": (FIXTURES / "megatron_gpt_train.log", 1.0, ["3", "m", "m", "m", "m"]),
    "tab_model": (FIXTURES / "tui_poptorch_run.log", 1.0, ["5"]),
    "help_scrolled": (FIXTURES / "tui_poptorch_run.log", 1.0, ["h", "pagedown"]),
    "progress_maximised": (FIXTURES / "tui_poptorch_run.log", 1.0, ["2", "z"]),
    "filter_prompt_empty": (EXAMPLES / "cerebras_gpt_small.log", 1.0, ["ampersand", *"Step=", "enter", "ampersand"]),
}


@SIZES
@pytest.mark.parametrize("view", sorted(VIEWS))
def test_v3_view_snapshot(snap_compare: Any, view: str, size: tuple[int, int]) -> None:
    log, cut, keys = VIEWS[view]

    async def keys_then_settle(pilot: Any) -> None:
        # Settled twice (after the data, after the keys): a frame taken while a layout change is still being
        # applied would differ from run to run on a loaded machine.
        await _settle(pilot)
        for key in keys:
            await pilot.press(key)
            await pilot.pause()
        await _settle(pilot)

    assert snap_compare(_app(log, cut=cut), terminal_size=size, run_before=keys_then_settle)


@SIZES
def test_v3_fleet_snapshot(
    snap_compare: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, size: tuple[int, int]
) -> None:
    from hwmon.sources.fleet import Fleet
    from hwmon.store import registry
    from hwmon.tui.fleet import FleetApp

    root = tmp_path / "runs"
    monkeypatch.setenv("HWMON_RUNS_DIR", str(root))
    for index, (log, status) in enumerate(
        [
            ("tui_poptorch_run.log", "succeeded"),
            ("tui_cerebras_run.log", "failed"),
            ("mnist_cpu_3epochs.log", "succeeded"),
        ]
    ):
        run_dir = root / f"20261129-22000{index}-mnist-abc{index}"
        run_dir.mkdir(parents=True)
        shutil.copy(FIXTURES / log, run_dir / registry.LOG_FILE)
        registry.save(
            run_record(
                run_dir,
                workload=["mnist", "gpt", "mnist"][index],
                started=f"2026-11-29T22:0{index}:00",
                ended=f"2026-11-29T22:0{index + 5}:00",
                exit_code=0 if status == "succeeded" else 1,
                status=status,
            )
        )

    def unreachable() -> list[Any]:
        raise exitcodes.HwmonError("squeue did not answer within 20s (is slurmctld reachable?)", 5)

    app = FleetApp(Fleet(jobs=unreachable, recents=lambda: []), threaded=False)

    async def sorted_and_filtered(pilot: Any) -> None:
        await pilot.pause()
        await pilot.press("greater_than_sign", "i", "slash", *"mni", "enter")
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=sorted_and_filtered)


@SIZES
def test_v3_stall_snapshot(snap_compare: Any, size: tuple[int, int]) -> None:
    """A fast loop (a step every 0.2 s) that then waits 31 s: the header's stall notice, the alert in the tab row."""
    import asyncio

    from hwmon.events import PhaseStarted, StepMetrics

    clock = [100.0]
    source = ReplaySourceForTests([], name="fast.log")
    source.queue = asyncio.Queue()
    app = HwmonApp(source, clock=lambda: clock[0], title="a fast loop that stops")

    async def stall(pilot: Any) -> None:
        source.push(FakeBatch([PhaseStarted(1, None, phase="train")], ["training"]))
        for step in range(1, 21):
            source.push(FakeBatch([StepMetrics(step + 1, None, step=step, loss=2.0 - step / 40)], [f"step {step}"]))
            await pilot.pause(0.02)
            pilot.app.repaint_now()
            clock[0] += 0.2
        clock[0] += 31.0
        await pilot.pause(0.02)
        pilot.app.repaint_now()
        await pilot.pause()
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=stall)
