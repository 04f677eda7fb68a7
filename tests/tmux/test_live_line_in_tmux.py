"""The raw log's live row in a real terminal: a progress bar that redraws itself with ``\\r`` (as tqdm and PopTorch
do) shows its current state while its line is still under way, in place (one row that changes, not a flood of
rows), can be found with ``/``, and its final state stays once the line ends."""

from __future__ import annotations

import shlex
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.helpers.tmux import Tmux, private_server

pytestmark = [pytest.mark.tmux, pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux not on PATH")]

ROOT = Path(__file__).resolve().parents[2]
MARKER = "HWMON-DONE"


def hwmon_command() -> list[str]:
    script = ROOT / ".venv" / "bin" / "hwmon"
    return [str(script)] if script.exists() else [sys.executable, "-m", "hwmon"]


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Tmux]:
    with private_server("hwmon-live", tmp_path) as server:
        yield server


def bar(n: int, loss: float) -> str:
    return f"\rLoss:{loss:.4f} | Accuracy:{n:.2f}%: {n:3d}%|#   | {n}/100 [00:0{n // 20}<00:09, 10.0it/s]"


def test_a_redrawn_bar_shows_live_in_one_row_is_searchable_and_its_final_state_stays(
    tmp_path: Path, tmux: Tmux
) -> None:
    log = tmp_path / "train.log"
    log.write_text("epoch 1 starting\n" + bar(1, 2.3012))
    tmux.new_session(tmp_path, 80, 24)
    command = " ".join(shlex.quote(part) for part in [*hwmon_command(), "attach", str(log)])
    tmux("send-keys", "-t", "hw", f"HWMON_HISTORY=off {command}; echo {MARKER}-$?", "Enter")

    # The bar's line has not ended, yet its current state is on screen (before: only once the epoch ended).
    tmux.wait_for("hw", lambda s: "Loss:2.3012" in s and "1/100" in s, "the bar's first redraw, live")
    with log.open("a") as handle:
        handle.write(bar(37, 1.2345))
    screen = tmux.wait_for("hw", lambda s: "Loss:1.2345" in s, "the bar's newer redraw")
    # In place: the older state is gone, and the bar takes one row of the log.
    assert "Loss:2.3012" not in screen
    assert sum(1 for row in screen.splitlines() if "Loss:" in row) == 1

    # Searchable while it is live.
    tmux("send-keys", "-t", "hw", "/")
    tmux.wait_for("hw", lambda s: "search forward" in s, "the search prompt")
    tmux("send-keys", "-t", "hw", "-l", "Loss:1\\.23")
    tmux("send-keys", "-t", "hw", "Enter")
    tmux.wait_for("hw", lambda s: "/Loss:1\\.23 1/1 matches" in s, "the live row found by the search")

    # The line ends: its final state is a line of the log like any other (kept, still found).
    with log.open("a") as handle:
        handle.write(bar(100, 0.5) + "\nepoch 1 done\n")
    screen = tmux.wait_for("hw", lambda s: "epoch 1 done" in s and "Loss:0.5000" in s, "the final state kept")
    assert "Loss:1.2345" not in screen
    tmux("send-keys", "-t", "hw", "q")
    tmux.wait_for("hw", lambda s: f"{MARKER}-0" in s, "hwmon to exit with status 0")
