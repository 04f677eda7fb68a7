"""End to end in a real terminal: ``hwmon attach LOG`` in a detached 80x24 tmux session while the test appends to
the log; ``capture-pane`` must show the phase and the step, and ``q`` must exit and restore the terminal."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.helpers.tmux import Tmux, private_server

pytestmark = [
    pytest.mark.integration,
    pytest.mark.tmux,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux not on PATH"),
]

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "tui_cerebras_run.log"
MARKER = "HWMON-DONE"


def hwmon_command() -> list[str]:
    script = ROOT / ".venv" / "bin" / "hwmon"
    return [str(script)] if script.exists() else [sys.executable, "-m", "hwmon"]


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Tmux]:
    with private_server("hwmon-test", tmp_path) as server:
        yield server


def test_attach_in_tmux_shows_phase_and_step_and_q_restores_the_terminal(tmp_path: Path, tmux: Tmux) -> None:
    lines = FIXTURE.read_text().splitlines(keepends=True)
    compile_at = next(i for i, line in enumerate(lines) if "Exploring floorplans" in line)
    log = tmp_path / "run.log"
    log.write_text("".join(lines[: compile_at + 1]))

    tmux.new_session(tmp_path, 80, 24)
    command = " ".join(shlex.quote(part) for part in [*hwmon_command(), "attach", str(log)])
    tmux("send-keys", "-t", "hw", f"{command}; echo {MARKER}-$?", "Enter")

    screen = tmux.wait_for("hw", lambda s: "phase compile" in s, "the compile phase on screen")
    assert "Exploring floorplans" in screen
    assert tmux.fmt("hw", "#{alternate_on}") == "1"

    train_at = next(i for i, line in enumerate(lines) if "Step=200," in line)
    with log.open("a") as handle:
        handle.writelines(lines[compile_at + 1 : train_at + 1])
    screen = tmux.wait_for("hw", lambda s: "step 200" in s and "phase train" in s, "phase train and step 200")
    # The raw log follows too (its newest line is on screen).
    screen = tmux.wait_for("hw", lambda s: "Step=200" in s, "the newest raw line")
    assert "q Quit" in screen.splitlines()[-1]

    tmux("send-keys", "-t", "hw", "q")
    screen = tmux.wait_for("hw", lambda s: f"{MARKER}-0" in s, "hwmon to exit with status 0")
    assert tmux.fmt("hw", "#{alternate_on}") == "0"
    # The dashboard was drawn on the alternate screen: once it is left, none of it remains on the shell's screen.
    assert "q Quit" not in screen and "phase train" not in screen
    assert "attach" in screen  # the shell's own command line is back


def _start_shell(tmux: Tmux, tmp_path: Path) -> None:
    tmux.new_session(tmp_path, 80, 24)


def test_ctrl_c_quits_with_0_restores_the_terminal_and_says_how_to_come_back(tmp_path: Path, tmux: Tmux) -> None:
    log = tmp_path / "run.log"
    log.write_bytes(FIXTURE.read_bytes())
    _start_shell(tmux, tmp_path)
    command = " ".join(shlex.quote(part) for part in [*hwmon_command(), "attach", str(log)])
    tmux("send-keys", "-t", "hw", f"{command}; echo {MARKER}-$?", "Enter")
    tmux.wait_for("hw", lambda s: "step 600" in s and "h Help" in s, "the dashboard")
    assert tmux.fmt("hw", "#{alternate_on}") == "1"
    tmux("send-keys", "-t", "hw", "C-c")
    screen = tmux.wait_for("hw", lambda s: f"{MARKER}-0" in s, "hwmon to exit with status 0 on Ctrl-C")
    assert tmux.fmt("hw", "#{alternate_on}") == "0"
    assert "h Help" not in screen
    # One line after the dashboard: how the run stands and how to come back to it.
    assert "succeeded" in screen and f"hwmon attach {log}" in screen.replace("\n", "")


def test_ctrl_c_leaves_a_supervised_run_running(tmp_path: Path, tmux: Tmux) -> None:
    _start_shell(tmux, tmp_path)
    command = " ".join(shlex.quote(part) for part in [*hwmon_command(), "run", "--", "sh", "-c", "echo hi; sleep 60"])
    tmux("send-keys", "-t", "hw", f"{command}; echo {MARKER}-$?", "Enter")
    tmux.wait_for("hw", lambda s: "hi" in s and "Stop run" in s, "the dashboard of the supervised run")
    tmux("send-keys", "-t", "hw", "C-c")
    tmux.wait_for("hw", lambda s: f"{MARKER}-0" in s, "hwmon run to exit with status 0")
    env = {**os.environ, "HWMON_RUNS_DIR": str(tmp_path / "runs")}
    listing = subprocess.run([*hwmon_command(), "ls"], capture_output=True, text=True, env=env, timeout=30)
    run_ids = [path.name for path in (tmp_path / "runs").iterdir() if path.is_dir()]
    try:
        assert "running" in listing.stdout, listing.stdout
    finally:
        for run_id in run_ids:
            subprocess.run([*hwmon_command(), "stop", run_id], capture_output=True, text=True, env=env, timeout=60)
