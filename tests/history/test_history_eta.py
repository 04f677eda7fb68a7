"""ETAs from the run history on the dashboard: a new run of a job recorded before shows the expected duration of
each phase it has not reached and an ETA for the whole run."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from hwmon.cli import main
from hwmon.model.fmt import fmt_duration
from hwmon.model.history import Expected, expected_remaining
from hwmon.sources.read import summarize_bytes
from hwmon.tui.app import HwmonApp

ROOT = Path(__file__).resolve().parents[2]
CEREBRAS = ROOT / "tests" / "fixtures" / "cerebras_appliance_train.log"
sys.path.insert(0, str(ROOT / "tests" / "pilot"))
from screen import screen_text  # noqa: E402
from sources import replay_fixture  # noqa: E402


def _run_on(day: int, tmp_path: Path, lines: int | None = None) -> Path:
    text = CEREBRAS.read_text().replace("2025-01-20", f"2025-01-{day:02d}")
    if lines is not None:
        text = "".join(text.splitlines(keepends=True)[:lines])
    path = tmp_path / f"run-{day}.log"
    path.write_text(text)
    return path


async def _dashboard_text(log: Path) -> tuple[str, HwmonApp]:
    source = replay_fixture(log.read_bytes(), name=log.name)
    app = HwmonApp(source, clock=lambda: 5000.0)
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.pause(0.05)
        app.repaint_now()
        await app.workers.wait_for_complete()
        await pilot.pause()
        app.repaint_now()
        await pilot.pause()
        return screen_text(app), app


async def test_a_cut_run_of_a_known_job_shows_expected_phases_and_a_run_eta(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["summary", str(_run_on(20, tmp_path))]) == 0  # the past run, recorded
    capsys.readouterr()
    cut = _run_on(21, tmp_path, lines=36)  # compiled (the hash is known), not yet set up or trained
    text, app = await _dashboard_text(cut)
    assert set(app.expected) >= {"setup", "train", "eval"}
    past = summarize_bytes(_run_on(20, tmp_path).read_bytes(), "past")
    setup_total = sum(p.seconds(now=None) or 0.0 for p in past.phases if p.name == "setup")
    assert app.expected["setup"].seconds == pytest.approx(setup_total)
    lines = text.splitlines()
    setup_row = next(line for line in lines if "setup" in line and "exp" in line)
    assert f"~{fmt_duration(setup_total)}" in setup_row
    assert any("train" in line and "exp" in line for line in lines)
    # the header's ETA for the whole run: the phases still to come, as expected
    remaining = expected_remaining(app.state, app.expected, None)
    assert remaining is not None and remaining >= setup_total
    assert f"run ETA {fmt_duration(remaining)}" in text


async def test_without_history_no_expectation_is_shown(tmp_path: Path) -> None:
    text, app = await _dashboard_text(_run_on(21, tmp_path, lines=36))
    assert app.expected == {}
    assert "run ETA" not in text and " exp" not in text


def test_expected_remaining_counts_phases_not_reached_and_the_loop_eta() -> None:
    state = summarize_bytes("".join(CEREBRAS.read_text().splitlines(keepends=True)[:36]).encode(), "cut")
    state.status = "running"
    expected = {
        "queue": Expected(600.0, 3, "same vendor"),
        "setup": Expected(100.0, 1, "same job"),
        "train": Expected(50.0, 1, "same job"),
    }
    # queue was reached already: only setup and train are still to come
    assert expected_remaining(state, expected, None) == pytest.approx(150.0)
    # once the loop has its own ETA, it replaces the train expectation
    assert expected_remaining(state, expected, 20.0) == pytest.approx(120.0)
    state.status = "succeeded"
    assert expected_remaining(state, expected, None) is None


async def _settle(pilot: Any) -> None:
    await pilot.pause(0.05)
    pilot.app.repaint_now()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    pilot.app.repaint_now()
    await pilot.pause()


def test_expected_phases_snapshot(snap_compare: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The dashboard at 80x24 with a past run of the same job in the history (timeline rows ``~1m45s exp``, the
    header's ``run ETA``)."""
    assert main(["summary", str(_run_on(20, tmp_path))]) == 0
    capsys.readouterr()
    log = _run_on(21, tmp_path, lines=36)
    app = HwmonApp(replay_fixture(log.read_bytes(), name="run-21.log"), clock=lambda: 5000.0)
    assert snap_compare(app, terminal_size=(80, 24), run_before=_settle)
