"""End to end in a real terminal: ``hwmon attach LOG`` in a detached 80x24 tmux session while the test appends to
the log; ``capture-pane`` must show the phase and the step, and ``q`` must exit and restore the terminal."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

pytestmark = [pytest.mark.tmux, pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux not on PATH")]

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "tui_cerebras_run.log"
MARKER = "HWMON-DONE"


def hwmon_command() -> list[str]:
    script = ROOT / ".venv" / "bin" / "hwmon"
    return [str(script)] if script.exists() else [sys.executable, "-m", "hwmon"]


class Tmux:
    """A private tmux server (its own socket) so the test never touches the user's sessions."""

    def __init__(self, socket: str) -> None:
        self.socket = socket

    def __call__(self, *args: str) -> str:
        result = subprocess.run(
            ["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=10, check=True
        )
        return result.stdout

    def capture(self) -> str:
        return self("capture-pane", "-p", "-t", "hw")

    def wait_for(self, condition: Callable[[str], bool], what: str, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.capture()
            if condition(screen):
                return screen
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}; screen:\n{screen}")


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Tmux]:
    server = Tmux(f"hwmon-test-{os.getpid()}-{tmp_path.name}")
    try:
        yield server
    finally:
        subprocess.run(["tmux", "-L", server.socket, "kill-server"], capture_output=True, timeout=10)


def test_attach_in_tmux_shows_phase_and_step_and_q_restores_the_terminal(tmp_path: Path, tmux: Tmux) -> None:
    lines = FIXTURE.read_text().splitlines(keepends=True)
    compile_at = next(i for i, line in enumerate(lines) if "Exploring floorplans" in line)
    log = tmp_path / "run.log"
    log.write_text("".join(lines[: compile_at + 1]))

    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "TERM": "xterm-256color",
        "HWMON_RUNS_DIR": str(tmp_path / "runs"),
        "LANG": "C.UTF-8",
    }
    shell = "bash --norc --noprofile"
    tmux("new-session", "-d", "-s", "hw", "-x", "80", "-y", "24", *[f"-e{k}={v}" for k, v in env.items()], shell)
    tmux("set-option", "-t", "hw", "status", "off")
    command = " ".join(shlex.quote(part) for part in [*hwmon_command(), "attach", str(log)])
    tmux("send-keys", "-t", "hw", f"{command}; echo {MARKER}-$?", "Enter")

    screen = tmux.wait_for(lambda s: "phase compile" in s, "the compile phase on screen")
    assert "Exploring floorplans" in screen
    assert tmux("display-message", "-p", "-t", "hw", "#{alternate_on}").strip() == "1"

    train_at = next(i for i, line in enumerate(lines) if "Step=200," in line)
    with log.open("a") as handle:
        handle.writelines(lines[compile_at + 1 : train_at + 1])
    screen = tmux.wait_for(lambda s: "step 200" in s and "phase train" in s, "phase train and step 200")
    # The raw log follows too (its newest line is on screen).
    screen = tmux.wait_for(lambda s: "Step=200" in s, "the newest raw line")
    assert "q Quit" in screen.splitlines()[-1]

    tmux("send-keys", "-t", "hw", "q")
    screen = tmux.wait_for(lambda s: f"{MARKER}-0" in s, "hwmon to exit with status 0")
    assert tmux("display-message", "-p", "-t", "hw", "#{alternate_on}").strip() == "0"
    # The dashboard was drawn on the alternate screen: once it is left, none of it remains on the shell's screen.
    assert "q Quit" not in screen and "phase train" not in screen
    assert "attach" in screen  # the shell's own command line is back


def _start_shell(tmux: Tmux, tmp_path: Path) -> None:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "TERM": "xterm-256color",
        "HWMON_RUNS_DIR": str(tmp_path / "runs"),
        "LANG": "C.UTF-8",
    }
    shell = "bash --norc --noprofile"
    tmux("new-session", "-d", "-s", "hw", "-x", "80", "-y", "24", *[f"-e{k}={v}" for k, v in env.items()], shell)
    tmux("set-option", "-t", "hw", "status", "off")


def test_ctrl_c_quits_with_0_restores_the_terminal_and_says_how_to_come_back(tmp_path: Path, tmux: Tmux) -> None:
    log = tmp_path / "run.log"
    log.write_bytes(FIXTURE.read_bytes())
    _start_shell(tmux, tmp_path)
    command = " ".join(shlex.quote(part) for part in [*hwmon_command(), "attach", str(log)])
    tmux("send-keys", "-t", "hw", f"{command}; echo {MARKER}-$?", "Enter")
    tmux.wait_for(lambda s: "step 600" in s and "h Help" in s, "the dashboard")
    assert tmux("display-message", "-p", "-t", "hw", "#{alternate_on}").strip() == "1"
    tmux("send-keys", "-t", "hw", "C-c")
    screen = tmux.wait_for(lambda s: f"{MARKER}-0" in s, "hwmon to exit with status 0 on Ctrl-C")
    assert tmux("display-message", "-p", "-t", "hw", "#{alternate_on}").strip() == "0"
    assert "h Help" not in screen
    # One line after the dashboard: how the run stands and how to come back to it.
    assert "succeeded" in screen and f"hwmon attach {log}" in screen.replace("\n", "")


def test_ctrl_c_leaves_a_supervised_run_running(tmp_path: Path, tmux: Tmux) -> None:
    _start_shell(tmux, tmp_path)
    command = " ".join(shlex.quote(part) for part in [*hwmon_command(), "run", "--", "sh", "-c", "echo hi; sleep 60"])
    tmux("send-keys", "-t", "hw", f"{command}; echo {MARKER}-$?", "Enter")
    tmux.wait_for(lambda s: "hi" in s and "Stop run" in s, "the dashboard of the supervised run")
    tmux("send-keys", "-t", "hw", "C-c")
    tmux.wait_for(lambda s: f"{MARKER}-0" in s, "hwmon run to exit with status 0")
    env = {**os.environ, "HWMON_RUNS_DIR": str(tmp_path / "runs")}
    listing = subprocess.run([*hwmon_command(), "ls"], capture_output=True, text=True, env=env, timeout=30)
    run_ids = [path.name for path in (tmp_path / "runs").iterdir() if path.is_dir()]
    try:
        assert "running" in listing.stdout, listing.stdout
    finally:
        for run_id in run_ids:
            subprocess.run([*hwmon_command(), "stop", run_id], capture_output=True, text=True, env=env, timeout=60)
