"""`--notify` in the views of one run: plain mode tells what happens after it opened the log (not the backlog); the
dashboard of a supervised run rings the terminal when the run fails without being asked (a pty is its terminal)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.notify.conftest import ExecRecorder
from tests.notify.test_watch_runs import Pty

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

LINE = (
    "2024-03-30 13:03:{sec:02d},540 INFO:   | Train Device=CSX, Step={step}, Loss={loss}, Rate=100.00 samples/sec, "
    "GlobalRate=100.00 samples/sec\n"
)


def test_plain_mode_tells_what_happens_after_it_opened_the_log(
    tmp_path: Path, watch_env: dict[str, str], exec_recorder: ExecRecorder
) -> None:
    log = tmp_path / "train.log"
    log.write_text(LINE.format(sec=1, step=1, loss="nan"))  # the backlog's NaN: not told
    out = (tmp_path / "plain.out").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "hwmon", "attach", "--plain", "--interval", "60", str(log),
         "--notify", exec_recorder.spec, "--on", "nan,failed"],
        stdout=out, stderr=subprocess.STDOUT, env=watch_env,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while b"step 1" not in (tmp_path / "plain.out").read_bytes() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.1)
        with log.open("a") as fh:
            fh.write(LINE.format(sec=2, step=2, loss=2.5))
            fh.write(LINE.format(sec=3, step=3, loss="nan"))
            fh.write("Traceback (most recent call last):\nRuntimeError: boom\n")
        assert proc.wait(60) == 1
    finally:
        if proc.poll() is None:
            proc.kill()
        out.close()
    told = [(r["env"]["HWMON_EVENT"], r["env"]["HWMON_MESSAGE"]) for r in exec_recorder.wait_for(2)]
    assert told == [("nan", "loss is not finite (NaN/Inf) at step 3"), ("failed", "RuntimeError: boom")]


def test_a_supervised_runs_dashboard_rings_the_terminal_when_it_fails(
    tmp_path: Path, watch_env: dict[str, str]
) -> None:
    script = tmp_path / "fails.py"
    script.write_text(
        "import time\n"
        "for n in range(1, 4):\n"
        f"    print({LINE!r}.format(sec=n, step=n, loss=2.5), end='', flush=True)\n"
        "    time.sleep(0.4)\n"
        "raise SystemExit(3)\n"
    )
    terminal = Pty()
    env = dict(watch_env, TERM="xterm-256color", COLUMNS="80", LINES="24")
    proc = subprocess.Popen(
        [sys.executable, "-m", "hwmon", "run", "--", sys.executable, str(script)],
        stdout=terminal.slave, stderr=terminal.slave, env=env, **terminal.popen_args(),
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while b"\x1b]777;notify;" not in terminal.bytes() and time.monotonic() < deadline:
            time.sleep(0.05)
        os.write(terminal.master, b"q")
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
        terminal.close()
    raw = terminal.bytes().decode("utf-8", "replace")
    notes = re.findall(r"\x1b\]777;notify;([^;\x07]*);([^\x07]*)\x07", raw)
    assert len(notes) == 1, raw[-2000:]
    title, body = notes[0]
    assert title.startswith("hwmon: ") and title.endswith(" failed")
    assert "\x1b]9;hwmon: " in raw and "\x07\x1b]9;" in raw  # the bell, then OSC 9
