"""Terminal conditions: resizing 200x60 -> 40x10 -> 200x60 (pilot), and the real ``hwmon attach`` on a pseudo-terminal
with TERM=dumb, NO_COLOR=1, 8/256/truecolor, and with stdout not a terminal. Nothing crashes; small sizes still
show the essentials; colour settings are honoured in the bytes written to the terminal."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "follow_cerebras_ok.log"


class ParsedFileSource:
    """The fixture through the real stream parser, delivered as one batch (test-only source)."""

    def __init__(self, data: bytes, name: str) -> None:
        self.name = name
        self._data = data
        self.closed = False

    async def batches(self) -> AsyncIterator[Any]:
        from hwmon.parsers.stream import StreamParser
        from hwmon.sources.source import Batch

        parser = StreamParser(keep_lines=10_000)
        events = parser.feed(self._data) + parser.finish()
        yield Batch(events, parser.pop_lines(), None, True, 1000.0)

    def close(self) -> None:
        self.closed = True


def rows_of(app: Any) -> list[str]:
    return [strip.text for strip in app.screen._compositor.render_strips()]


async def test_resize_big_small_big() -> None:
    from hwmon.tui.app import HwmonApp

    app = HwmonApp(ParsedFileSource(FIXTURE.read_bytes(), "cerebras-run.log"), clock=lambda: 1000.0)
    async with app.run_test(size=(200, 60)) as pilot:
        await pilot.pause(0.2)
        app.repaint_now()
        await pilot.pause()
        big = rows_of(app)
        assert len(big) == 60 and "cerebras-run.log" in big[0]
        assert any("train" in row for row in big)
        for width, height in ((120, 40), (80, 24), (60, 15), (40, 10), (20, 5), (40, 10)):
            await pilot.resize_terminal(width, height)
            await pilot.pause()
            app.repaint_now()
            await pilot.pause()
            rows = rows_of(app)
            assert len(rows) == height and all(len(row) <= width for row in rows)
            if (width, height) == (40, 10):
                # Still readable at 40x10: the header names the run and its state, the footer shows the quit key.
                head = " ".join(rows[:2])
                assert "cerebras" in head or "SUCCEEDED" in head.upper(), rows
                assert "q" in rows[-1], rows
                assert sum(bool(row.strip()) for row in rows) >= 3, rows
        await pilot.resize_terminal(200, 60)
        await pilot.pause()
        app.repaint_now()
        await pilot.pause()
        again = rows_of(app)
        assert len(again) == 60 and "cerebras-run.log" in again[0]
        assert any("train" in row for row in again)
        assert app.is_running
        await pilot.press("q")


# ----------------------------------------------------------------------------------------------- a real pty


def run_in_pty(env_extra: dict[str, str], log: Path, *, seconds: float = 3.0) -> tuple[int, bytes]:
    """``hwmon attach LOG`` on a fresh 80x24 pseudo-terminal; after ``seconds`` it gets ``q`` (then SIGTERM).
    Returns the exit status and every byte written to the terminal."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "COLORTERM", "TEXTUAL_COLOR_SYSTEM")}
    env.update({"TERM": "xterm-256color", "HWMON_RUNS_DIR": str(log.parent / "runs"), "LANG": "C.UTF-8"})
    env.update(env_extra)
    proc = subprocess.Popen(
        [sys.executable, "-m", "hwmon", "attach", str(log)],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        start_new_session=True,
        close_fds=True,
    )
    os.close(slave)
    out = bytearray()
    deadline = time.monotonic() + seconds
    sent_q = False
    end = time.monotonic() + 40
    while time.monotonic() < end:
        ready, _, _ = select.select([master], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        if not sent_q and time.monotonic() > deadline:
            os.write(master, b"q")
            sent_q = True
        if proc.poll() is not None and not ready:
            break
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    os.close(master)
    return proc.returncode, bytes(out)


@pytest.fixture
def log(tmp_path: Path) -> Path:
    path = tmp_path / "cerebras.log"
    path.write_bytes(FIXTURE.read_bytes())
    return path


TRUECOLOR = re.compile(rb"\x1b\[[0-9;]*[34]8;2;")
COLOR256 = re.compile(rb"\x1b\[[0-9;]*[34]8;5;")
SGR = re.compile(rb"\x1b\[([0-9;]*)m")
GREY_256 = {0, 7, 8, 15, 16, 59, 102, 145, 188, 231, *range(232, 256)}


def hues(out: bytes) -> list[str]:
    """Colours with a hue in the SGR sequences of ``out`` (greys, black and white do not count: Textual renders
    NO_COLOR as monochrome)."""
    found: list[str] = []
    for match in SGR.finditer(out):
        params = [int(p) if p else 0 for p in match.group(1).split(b";")]
        i = 0
        while i < len(params):
            p = params[i]
            if p in (38, 48) and i + 1 < len(params) and params[i + 1] == 5 and i + 2 < len(params):
                if params[i + 2] not in GREY_256:
                    found.append(f"{p};5;{params[i + 2]}")
                i += 3
            elif p in (38, 48) and i + 1 < len(params) and params[i + 1] == 2 and i + 4 < len(params):
                r, g, b = params[i + 2 : i + 5]
                if not r == g == b:
                    found.append(f"{p};2;{r};{g};{b}")
                i += 5
            else:
                if 31 <= p <= 36 or 41 <= p <= 46 or 91 <= p <= 96 or 101 <= p <= 106:
                    found.append(str(p))
                i += 1
    return found


def test_term_dumb_gets_plain_lines(log: Path) -> None:
    code, out = run_in_pty({"TERM": "dumb"}, log, seconds=8)
    assert b"Traceback" not in out
    assert b"\x1b[?1049h" not in out  # no alternate screen: the dashboard was not started
    assert b"succeeded" in out.lower() or b"train" in out
    assert code == 0


@pytest.mark.parametrize(
    ("name", "env", "check"),
    [
        ("no_color", {"NO_COLOR": "1"}, "none"),
        ("8_colors", {"TEXTUAL_COLOR_SYSTEM": "standard"}, "no_rich"),
        ("256_colors", {"TEXTUAL_COLOR_SYSTEM": "256"}, "no_truecolor"),
        ("truecolor", {"COLORTERM": "truecolor"}, "truecolor"),
    ],
)
def test_dashboard_on_a_pty_honours_colour_settings(name: str, env: dict[str, str], check: str, log: Path) -> None:
    code, out = run_in_pty(env, log)
    assert b"Traceback" not in out, out[-2000:]
    assert b"\x1b[?1049h" in out, "the dashboard did not start"
    assert code == 0, (code, out[-2000:])
    assert b"cerebras.log" in out
    # Left the alternate screen and restored the cursor on exit.
    assert out.rfind(b"\x1b[?1049l") > out.rfind(b"\x1b[?1049h")
    if check == "none":
        assert hues(out) == [], hues(out)[:10]
    elif check == "no_rich":
        assert TRUECOLOR.search(out) is None and COLOR256.search(out) is None
        assert hues(out), "expected some 8-colour output"
    elif check == "no_truecolor":
        assert TRUECOLOR.search(out) is None
        assert COLOR256.search(out) is not None
    else:
        assert TRUECOLOR.search(out) is not None


def test_stdout_not_a_tty_falls_back_to_plain(log: Path) -> None:
    env = {**os.environ, "HWMON_RUNS_DIR": str(log.parent / "runs"), "TERM": "xterm-256color"}
    result = subprocess.run(
        [sys.executable, "-m", "hwmon", "attach", str(log)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert b"\x1b" not in result.stdout  # plain text, no escape sequences into a pipe
    assert b"Traceback" not in result.stderr
    assert b"succeeded" in result.stdout.lower()
