"""SIGTERM and SIGHUP to a Textual screen in a real terminal (tmux), for every entry point — the dashboard
(``attach``), the compare screen and the fleet view (``top``): the terminal is given back (normal screen, cursor
shown, no mouse reporting) and the exit status says which signal ended it (issue 22, item 12; before, the
shell was left on the alternate screen with mouse reporting on and the cursor hidden)."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.tmux import Tmux, private_server

pytestmark = [pytest.mark.tmux, pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux not on PATH")]

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "tui_cerebras_run.log"
MARKER = "HWMON-DONE"
FLAGS = "#{alternate_on} #{cursor_flag} #{mouse_any_flag} #{mouse_button_flag} #{mouse_standard_flag}"


def _hwmon() -> list[str]:
    script = ROOT / ".venv" / "bin" / "hwmon"
    return [str(script)] if script.exists() else [sys.executable, "-m", "hwmon"]


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Tmux]:
    with private_server("hwmon-signals", tmp_path) as server:
        yield server


def _screens(log: Path) -> dict[str, tuple[list[str], str]]:
    """Each Textual entry point: its command line, and text that shows it is drawn."""
    return {
        "attach": (["attach", str(log)], "h Help"),
        "compare": (["compare", str(log), str(log)], "q quit"),
        "top": (["top"], "hwmon fleet"),
    }


def _pid_of(tmux: Tmux) -> int:
    """The hwmon process in the pane (the shell's child)."""
    shell = int(tmux.fmt("hw", "#{pane_pid}"))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        children = Path(f"/proc/{shell}/task/{shell}/children")
        pids = [int(p) for p in children.read_text().split()] if children.exists() else []
        if pids:
            return pids[0]
        time.sleep(0.05)
    raise AssertionError("no hwmon process under the shell")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
@pytest.mark.parametrize("screen", ["attach", "compare", "top"])
def test_signal_gives_the_terminal_back(tmp_path: Path, tmux: Tmux, screen: str, signum: int) -> None:
    log = tmp_path / "run.log"
    log.write_bytes(FIXTURE.read_bytes())
    args, drawn = _screens(log)[screen]
    tmux.new_session(tmp_path, 100, 30)
    command = " ".join(shlex.quote(part) for part in [*_hwmon(), *args])
    tmux("send-keys", "-t", "hw", f"{command}; echo {MARKER}-$?", "Enter")
    tmux.wait_for("hw", lambda s: drawn in s, f"the {screen} screen")
    assert tmux.fmt("hw", FLAGS).split()[0] == "1"  # on the alternate screen
    os.kill(_pid_of(tmux), signum)
    shown = tmux.wait_for("hw", lambda s: re.search(MARKER + r"-\d", s) is not None, f"{screen} to exit on {signum}")
    assert f"{MARKER}-{128 + signum}" in shown, shown
    alternate, cursor, *mouse = tmux.fmt("hw", FLAGS).split()
    assert (alternate, cursor, mouse) == ("0", "1", ["0", "0", "0"]), (screen, signum, tmux.fmt("hw", FLAGS))


_CRASH = """
import os, sys
from textual.app import App
from hwmon.tui.terminal import run_app

class Crashing(App[None]):
    def run(self, *args, **kwargs):  # a crash that leaves the terminal as an app had set it up
        os.write(1, b"\\x1b[?1049h\\x1b[?1000h\\x1b[?1003h\\x1b[?25l")
        raise RuntimeError("boom")

try:
    run_app(Crashing()) if sys.argv[1] == "guarded" else Crashing().run()
except RuntimeError:
    sys.exit(3)
"""


@pytest.mark.parametrize("guarded", [True, False])
def test_an_exception_gives_the_terminal_back(tmp_path: Path, tmux: Tmux, guarded: bool) -> None:
    """An exception out of the app: ``run_app`` restores the terminal. Positive control (``guarded=False``): the
    same crash without it leaves the alternate screen, mouse reporting and the hidden cursor."""
    script = tmp_path / "crash.py"
    script.write_text(_CRASH)
    tmux.new_session(tmp_path, 100, 30)
    python = ROOT / ".venv" / "bin" / "python"
    command = f"{shlex.quote(str(python if python.exists() else sys.executable))} {script} "
    tmux("send-keys", "-t", "hw", f"{command}{'guarded' if guarded else 'bare'}; echo {MARKER}-$?", "Enter")
    tmux.wait_for("hw", lambda s: f"{MARKER}-3" in s, "the crash (exit status 3)")
    alternate, cursor, *mouse = tmux.fmt("hw", FLAGS).split()
    restored = (alternate, cursor, mouse) == ("0", "1", ["0", "0", "0"])
    assert restored is guarded, tmux.fmt("hw", FLAGS)
