"""The dashboard's input thread sleeps while nothing happens (hwmon.tui.driver.QuietLinuxDriver), and still reads a
lone Esc (told apart from an escape sequence by the key parser's own deadline) and ``q`` at once.

Textual's own driver wakes its input thread every 0.1 s to look for the exit request: ~20 wake-ups in 2 s, most of
an idle dashboard's CPU on a shared login node. The real ``hwmon attach`` runs on a pseudo-terminal; wake-ups are
counted from the kernel's per-thread ``voluntary_ctxt_switches`` (not timed)."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from hwmon.tui.driver import FALLBACK_WAIT_S, parser_wait

IDLE_WINDOW_S = 2.0
# Textual's driver: ~20 in the window. The quiet one: 0, plus a stray wake-up or two (a resize, a signal).
MOST_INPUT_THREAD_WAKEUPS = 4


class Parser:
    def __init__(self, deadline: float | None) -> None:
        self._timeout_time = deadline


def test_the_input_thread_waits_as_long_as_the_key_parser_allows() -> None:
    assert parser_wait(Parser(None), 100.0) is None  # nothing pending: sleep until input or exit
    assert parser_wait(Parser(100.25), 100.0) == pytest.approx(0.25)  # a lone Esc is due in 0.25 s
    assert parser_wait(Parser(99.0), 100.0) == 0.0  # overdue: tick now
    assert parser_wait(object(), 100.0) == FALLBACK_WAIT_S  # a parser that does not say: Textual's interval


class Pty:
    def __init__(self, log: Path, command: list[str] | None = None) -> None:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
        env = dict(os.environ, TERM="xterm-256color", LANG="C.UTF-8", HWMON_RUNS_DIR=str(log.parent / "runs"))
        self.proc = subprocess.Popen(
            command or [sys.executable, "-m", "hwmon", "attach", str(log)],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            start_new_session=True,
            close_fds=True,
        )
        os.close(slave)
        self.master = master
        self.out = bytearray()

    def read_until(self, marker: bytes, since: int = 0, timeout: float = 30.0) -> int:
        """Read until ``marker`` appears after offset ``since``; returns the offset just past it."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            found = self.out.find(marker, since)
            if found >= 0:
                return found + len(marker)
            ready, _, _ = select.select([self.master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(self.master, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                self.out += chunk
        raise AssertionError(f"{marker!r} not written within {timeout} s; tail: {bytes(self.out[-400:])!r}")

    def settle(self, quiet_s: float = 1.0, timeout: float = 30.0) -> None:
        """Read until the app has written nothing for ``quiet_s`` (its first screens are done)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            ready, _, _ = select.select([self.master], [], [], quiet_s)
            if not ready:
                return
            try:
                chunk = os.read(self.master, 65536)
            except OSError:
                return
            if not chunk:
                return
            self.out += chunk
        raise AssertionError(f"the app kept writing for {timeout} s")

    def threads(self) -> dict[str, int]:
        """Voluntary context switches of each of the app's threads."""
        out = {}
        task = Path(f"/proc/{self.proc.pid}/task")
        for tid in os.listdir(task):
            try:
                status = (task / tid / "status").read_text()
            except OSError:
                continue
            for line in status.splitlines():
                if line.startswith("voluntary_ctxt_switches:"):
                    out[tid] = int(line.split()[1])
        return out

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        os.close(self.master)


@pytest.mark.integration
@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux's /proc per-thread status")
def test_an_idle_dashboard_sleeps_and_still_reads_esc_and_q(tmp_path: Path) -> None:
    log = tmp_path / "quiet-run.log"
    log.write_text("".join(f"step {i} loss {2.0 + 1.0 / i:.4f}\n" for i in range(1, 200)) + "Training finished\n")
    old = time.time() - 3600
    os.utime(log, (old, old))
    app = Pty(log)
    try:
        shown = app.read_until(b"quiet-run.log")
        shown = app.read_until(b"finished", shown)  # the status field of the settled header
        app.settle()
        before = app.threads()
        time.sleep(IDLE_WINDOW_S)  # the measuring window (nothing waits on it)
        after = app.threads()
        main = str(app.proc.pid)
        others = {tid: after[tid] - before.get(tid, 0) for tid in after if tid != main}
        assert others and max(others.values()) <= MOST_INPUT_THREAD_WAKEUPS, others

        at = len(app.out)
        os.write(app.master, b"h")
        at = app.read_until(b"hwmon: keys", at)
        os.write(app.master, b"\x1b")  # a lone Esc: delivered on the parser's deadline, not at the next key
        app.read_until(b"quiet-run.log", at, timeout=10)  # the dashboard's header again: the help closed
        os.write(app.master, b"q")
        assert app.proc.wait(10) == 0
    finally:
        app.close()


# The console script's way out after a dashboard (hwmon.shutdown.leave): atexit handlers run and the closing line is
# flushed, but the interpreter's teardown (0.2-0.3 s of freeing objects after q) is skipped. A module-level object's
# __del__ is the teardown's witness.
LEAVE = """
import atexit, os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_APPEND)
atexit.register(lambda: os.write(fd, b"atexit ran\\n"))
class Witness:
    def __init__(self):
        self.write = os.write  # kept: the teardown may have cleared the module by the time __del__ runs
    def __del__(self):
        self.write(fd, b"teardown ran\\n")
witness = Witness()
sys.argv = ["hwmon", "attach", sys.argv[2]]
from hwmon.cli import entry
entry()
"""


@pytest.mark.integration
def test_q_leaves_without_the_interpreter_teardown_but_runs_atexit_and_flushes(tmp_path: Path) -> None:
    log = tmp_path / "quiet-run.log"
    log.write_text("step 1 loss 2.5\nstep 2 loss 2.4\nTraining finished\n")
    marks = tmp_path / "marks.txt"
    app = Pty(log, [sys.executable, "-c", LEAVE, str(marks), str(log)])
    try:
        shown = app.read_until(b"quiet-run.log")
        app.settle()
        os.write(app.master, b"q")
        app.read_until(b"hwmon attach", shown)  # the closing line, written after the app gave the screen back
        assert app.proc.wait(10) == 0
    finally:
        app.close()
    assert marks.read_text() == "atexit ran\n"
