"""Items 1 and 2 of hardening II, in a real terminal: a hostile *file name* (dashboard notices, "waiting for NAME
to appear") and hostile *run.json fields* (``hwmon ls``: command, host) must not reach the terminal. tmux records a
leaked OSC 0/2 as the pane title; a positive control in the same server shows the same bytes printed raw do set it.

The hostile strings are passed to hwmon through files and argv (a small driver script), never through send-keys,
so the shell never interprets them.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.tmux import SHELL, Tmux, private_server

pytestmark = [
    pytest.mark.integration,
    pytest.mark.tmux,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux not on PATH"),
]

ROOT = Path(__file__).resolve().parents[2]
SAFE = "SAFE-TITLE"
HOSTILE_NAME = "x\x1b]0;FNTITLE\x07\x1b[2J.log"


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Tmux]:
    with private_server("hwmon-names", tmp_path) as server:
        server.new_session(tmp_path, 100, 30)
        server("set-option", "-g", "allow-rename", "on")
        # Positive control: the same kind of sequence printed raw does set the title of a pane in this server.
        server("new-window", "-d", "-t", "hw:1", SHELL)
        server("send-keys", "-t", "hw:1", r"printf '\033]2;CONTROL-TITLE\033\\'", "Enter")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and server.title("hw:1") != "CONTROL-TITLE":
            time.sleep(0.1)
        assert server.title("hw:1") == "CONTROL-TITLE", "control: tmux ignored a raw OSC 2; this test could not fail"
        server("kill-window", "-t", "hw:1")
        server("select-pane", "-t", "hw:0", "-T", SAFE)
        yield server


def exited(screen: str) -> bool:
    return re.search(r"HWMON-EXIT-\d", screen) is not None


def driver(tmp_path: Path, *args: str) -> str:
    """A script that runs ``hwmon ARGS`` with the arguments exactly as given (hostile bytes included)."""
    script = tmp_path / "drive.py"
    script.write_text(
        "import os, sys, json\n"
        f"args = json.loads({json.dumps(json.dumps(list(args)))})\n"
        f"os.execv({sys.executable!r}, [{sys.executable!r}, '-m', 'hwmon', *args])\n"
    )
    return f"{sys.executable} {script}; echo HWMON-EXIT-$?"


def test_hostile_file_name_never_sets_the_title(tmp_path: Path, tmux: Tmux) -> None:
    log = tmp_path / HOSTILE_NAME
    log.write_text("epoch=1 step=3 loss=0.5\n")
    tmux("send-keys", "-t", "hw:0", driver(tmp_path, "attach", str(log)), "Enter")
    tmux.wait_for("hw:0", lambda s: "q Quit" in s, "the dashboard")
    # Replacing the file makes the follower report the name again ("log rotated"), and deleting it says "gone".
    time.sleep(1.0)
    log.unlink()
    time.sleep(1.0)
    log.write_text("epoch=1 step=4 loss=0.4\n")
    time.sleep(1.5)
    assert tmux.title("hw:0") == SAFE, "a file name set the terminal title"
    tmux("send-keys", "-t", "hw:0", "q")
    tmux.wait_for("hw:0", exited, "hwmon to exit")
    assert tmux.title("hw:0") == SAFE


def test_waiting_for_a_hostile_name_never_sets_the_title(tmp_path: Path, tmux: Tmux) -> None:
    # In a directory that exists: a missing *directory* is an error (exit 2), not a wait (issue 10).
    missing = tmp_path / HOSTILE_NAME
    tmux("send-keys", "-t", "hw:0", driver(tmp_path, "attach", str(missing)), "Enter")
    tmux.wait_for("hw:0", lambda s: "q Quit" in s, "the dashboard")
    tmux.wait_for("hw:0", lambda s: "waiting for" in s, "the waiting notice")
    time.sleep(0.5)
    assert tmux.title("hw:0") == SAFE, "a 'waiting for NAME' notice set the terminal title"
    tmux("send-keys", "-t", "hw:0", "q")
    tmux.wait_for("hw:0", exited, "hwmon to exit")


def test_ls_prints_no_run_json_field_raw(tmp_path: Path, tmux: Tmux) -> None:
    run_dir = tmp_path / "runs" / "20260101-000000-evil-0001"
    run_dir.mkdir(parents=True)
    (run_dir / "output.log").write_text("")
    record = {
        "run_id": "20260101-000000-evil-0001",
        "command": ["\x1b]2;WLTITLE\x1b\\", "arg"],
        "workload": None,
        "device": "cpu\x1b]2;DEVTITLE\x07",
        "host": "h\x1b]2;HOSTTITLE\x07",
        "status": "running",
        "supervisor_pid": 999999999,
        "pid": None,
        "started": "2026-01-01T00:00:00+00:00",
        "cwd": "/",
    }
    (run_dir / "run.json").write_text(json.dumps(record))
    tmux("send-keys", "-t", "hw:0", driver(tmp_path, "ls"), "Enter")
    screen = tmux.wait_for("hw:0", exited, "hwmon ls to finish")
    assert "HWMON-EXIT-0" in screen, screen
    assert "evil-0001" in screen and "lost" in screen, screen
    time.sleep(0.3)
    assert tmux.title("hw:0") == SAFE, "a run.json field set the terminal title"
