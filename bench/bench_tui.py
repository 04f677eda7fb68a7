"""Dashboard benchmark in a real pseudo-terminal. Prints figures; it is not a timed test.

    .venv/bin/python bench/bench_tui.py [--rate 10000] [--seconds 10] [--quiet-seconds 10] [--presses 15]
                                        [--open-size 300M] [--no-open]

Measures (the app's own process only: writers are separate processes):
  * idle: CPU of ``hwmon attach`` on a quiet, finished log at each of --sizes (default 80x24 and 160x48; target
    <= 0.3 % of a core), with the key-to-repaint latency on that quiet log (p95 <= 100 ms) and the time from ``q``
    to the process's exit (target <= 0.5 s);
  * load: CPU of the app at 80x24 following RATE lines/s appended by a writer (target <= 30 % at 10 000 lines/s);
  * key-to-repaint latency while following RATE lines/s: from writing a key to the pty until the bytes the app
    writes to the terminal contain the text that key makes appear ("h" -> the help's title, "e" -> the log title's
    "errors/warnings only"), target p95 <= 100 ms;
  * open: a generated Cerebras log of --open-size (default 300 MB) opened at 80x24 by ``hwmon attach`` and by
    ``lnav`` in the same run: seconds to the first screen and to the last step's line/figure on screen (target:
    hwmon no slower than lnav). lnav is skipped, with a note, when it is not installed (apt-get install lnav).
"""

from __future__ import annotations

import argparse
import fcntl
import math
import os
import select
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]

WRITER = r"""
import sys, time, math
path, rate, seconds = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
tick = 0.02
per_tick = max(1, int(rate * tick))
step = 0
start = time.monotonic()
with open(path, "a", buffering=1 << 20) as out:
    n = 0
    while time.monotonic() - start < seconds:
        lines = []
        for _ in range(per_tick):
            step += 1
            if step % 10:
                loss = 2.0 + 8.0 * math.exp(-step / 50000.0)
                lines.append(
                    f"2025-02-11 09:30:{(step // 1000) % 60:02d},{step % 1000:03d} INFO:   | Train Device=CSX, "
                    f"Step={step}, Loss={loss:.5f}, Rate=3301.52 samples/sec, GlobalRate=3300.10 samples/sec\n"
                )
            else:
                lines.append(f"2025-02-11 09:30:00,000 INFO:   data loader heartbeat {step}\n")
        out.write("".join(lines))
        out.flush()
        n += 1
        delay = start + n * tick - time.monotonic()
        if delay > 0:
            time.sleep(delay)
"""


def hwmon_command() -> list[str]:
    script = ROOT / ".venv" / "bin" / "hwmon"
    return [str(script)] if script.exists() else [sys.executable, "-m", "hwmon"]


class PtyApp:
    """``hwmon attach`` on a pty of the given size; a thread drains its output and keeps it with arrival times."""

    def __init__(self, log: Path, size: tuple[int, int] = (80, 24), command: list[str] | None = None) -> None:
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", size[1], size[0], 0, 0))
        if command is None:
            command = [*hwmon_command(), "attach", str(log)]
        env = dict(os.environ, TERM="xterm-256color", COLUMNS=str(size[0]), LINES=str(size[1]))
        env["HWMON_RUNS_DIR"] = str(log.parent / "runs")
        env["HOME"] = str(log.parent)  # lnav keeps its config and index under $HOME: start it fresh each time
        self.proc = subprocess.Popen(
            command,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            start_new_session=True,
            close_fds=True,
        )
        os.close(slave)
        self.master = master
        self.chunks: list[tuple[float, bytes]] = []
        self._lock = threading.Lock()
        self._stop = False
        self._thread = threading.Thread(target=self._drain, daemon=True)
        self._thread.start()
        self.ps = psutil.Process(self.proc.pid)

    def _drain(self) -> None:
        while not self._stop:
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if not ready:
                continue
            try:
                data = os.read(self.master, 1 << 16)
            except OSError:
                return
            if not data:
                return
            with self._lock:
                self.chunks.append((time.monotonic(), data))

    def output_since(self, since: float) -> bytes:
        with self._lock:
            return b"".join(data for at, data in self.chunks if at >= since)

    def trim(self) -> None:
        with self._lock:
            self.chunks = self.chunks[-200:]

    def wait_for(self, marker: bytes, since: float, timeout: float = 5.0) -> float | None:
        """Seconds from ``since`` to the first output chunk (after ``since``) that completes ``marker``."""
        deadline = since + timeout
        seen = b""
        index = 0
        while time.monotonic() < deadline:
            with self._lock:
                fresh = [(at, data) for at, data in self.chunks[index:] if at >= since]
                index = len(self.chunks)
            for at, data in fresh:
                seen += data
                if marker in seen:
                    return at - since
            time.sleep(0.002)
        return None

    def press(self, key: bytes) -> float:
        at = time.monotonic()
        os.write(self.master, key)
        return at

    def cpu(self) -> float:
        times = self.ps.cpu_times()
        return float(times.user + times.system)

    def close_after_exit(self) -> None:
        """Release the pty of an app that has already exited."""
        self._stop = True
        self._thread.join(timeout=2)
        os.close(self.master)

    def close(self, quit_key: bytes = b"q") -> int | None:
        try:
            os.write(self.master, quit_key)
            self.proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        self._stop = True
        self._thread.join(timeout=2)
        os.close(self.master)
        return self.proc.returncode


def cpu_percent(app: PtyApp, seconds: float) -> float:
    before, t0 = app.cpu(), time.monotonic()
    time.sleep(seconds)
    return 100.0 * (app.cpu() - before) / (time.monotonic() - t0)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def measure_keys(app: PtyApp, presses: int) -> dict[str, list[float]]:
    results: dict[str, list[float]] = {"h (help opens)": [], "e (errors filter on)": []}
    failures = 0
    for _ in range(presses):
        at = app.press(b"h")
        latency = app.wait_for(b"hwmon: keys", at)
        if latency is None:
            failures += 1
        else:
            results["h (help opens)"].append(latency)
        app.press(b"\x1b")
        time.sleep(0.3)
        at = app.press(b"e")
        latency = app.wait_for(b"errors/warnings only", at)
        if latency is None:
            failures += 1
        else:
            results["e (errors filter on)"].append(latency)
        app.press(b"e")
        time.sleep(0.3)
        app.trim()
    if failures:
        print(f"  ({failures} presses never showed their marker within 5 s)")
    return results


def ui_only_cpu(rate: float, seconds: float) -> float:
    """CPU % of the dashboard alone (in this process, headless 80x24) fed pre-parsed batches at ``rate`` lines/s:
    the share of the total that is the UI's (the rest is the follower and the stream parser)."""
    import asyncio
    from collections.abc import AsyncIterator
    from dataclasses import dataclass

    from hwmon.events import Event
    from hwmon.parsers.stream import StreamParser
    from hwmon.tui.app import HwmonApp

    @dataclass(frozen=True, slots=True)
    class PreparsedBatch:
        events: list[Event]
        lines: list[str]
        status: str | None
        eof: bool
        at: float

    interval = 0.05
    per_batch = int(rate * interval)
    batches_needed = int((seconds + 2.0) / interval) + 1
    parser = StreamParser(keep_lines=per_batch)
    prepared: list[PreparsedBatch] = []
    step = 0
    for _ in range(batches_needed):
        chunk = []
        for _ in range(per_batch):
            step += 1
            chunk.append(
                f"2025-02-11 09:30:00,000 INFO:   | Train Device=CSX, Step={step}, "
                f"Loss={2 + 8 / (1 + step / 1e4):.5f}, "
                "Rate=3301.52 samples/sec, GlobalRate=3300.10 samples/sec\n"
            )
        events = parser.feed("".join(chunk).encode())
        prepared.append(PreparsedBatch(events, parser.pop_lines(), None, False, 0.0))

    class PreparsedSource:
        name = "preparsed.log"

        async def batches(self) -> AsyncIterator[PreparsedBatch]:
            start = time.monotonic()
            for index, batch in enumerate(prepared):
                delay = start + index * interval - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                yield batch

        def close(self) -> None:
            pass

    async def run() -> float:
        app = HwmonApp(PreparsedSource())
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause(2.0)
            cpu0, t0 = time.process_time(), time.monotonic()
            await pilot.pause(seconds)
            return 100.0 * (time.process_time() - cpu0) / (time.monotonic() - t0)

    return asyncio.run(run())


def open_times(command: list[str], log: Path, markers: list[bytes], quit_key: bytes) -> list[float | None]:
    """Seconds from start until each of ``markers`` is on the terminal (the first: the first screen)."""
    started = time.monotonic()
    app = PtyApp(log, size=(80, 24), command=command)
    try:
        return [app.wait_for(marker, started, timeout=300) for marker in markers]
    finally:
        app.close(quit_key)


def open_comparison(tmp: Path, size: str) -> None:
    """hwmon and lnav on the same generated log, one after the other, in this run."""
    import shutil

    log = tmp / "big.log"
    subprocess.run(
        [sys.executable, str(ROOT / "bench" / "gen_cerebras_log.py"), "--out", str(log), "--size", size],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    last_step = b""
    last_line = b""
    with log.open("rb") as handle:
        handle.seek(max(0, log.stat().st_size - (1 << 20)))
        for line in handle.read().splitlines():
            if b"Train Device=CSX, Step=" in line:
                last_step = line.split(b"Step=", 1)[1].split(b",", 1)[0]
            if line.strip():
                last_line = line
    megabytes = log.stat().st_size / 1e6

    def fmt(value: float | None) -> str:
        return f"{value:6.2f} s" if value is not None else "  never"

    print(
        f"open a {megabytes:.0f} MB Cerebras log at 80x24 (same file, same run; load average {os.getloadavg()[0]:.2f}):"
    )
    # The file's last line (lnav shows the end of the file it opens; hwmon's raw log follows to the end).
    tail_text = last_line.split(b"INFO:   ", 1)[-1][:24]
    first, step, end = open_times(
        [*hwmon_command(), "attach", str(log)], log, [log.name.encode(), b"step " + last_step, tail_text], b"q"
    )
    print(
        f"  hwmon  first screen {fmt(first)}   end of the file on screen {fmt(end)}   "
        f"last step in the header {fmt(step)}"
    )
    lnav = shutil.which("lnav")
    if lnav is None:
        print("  lnav   not installed (apt-get install -y lnav): no baseline in this run")
        return
    # lnav draws "Loading NN%" at once and shows the end of the file once it has indexed it all.
    lnav_first, lnav_end = open_times([lnav, str(log)], log, [b"Loading", tail_text], b"q")
    print(f"  lnav   first screen {fmt(lnav_first)}   end of the file on screen {fmt(lnav_end)}")
    if None not in (first, end, lnav_first, lnav_end):
        assert first is not None and end is not None and lnav_first is not None and lnav_end is not None
        print(
            f"  hwmon / lnav: first screen {first / lnav_first:.2f}x, end of the file {end / lnav_end:.2f}x "
            "(target <= 1.0x)"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=10_000.0, help="lines per second to append (default 10000)")
    parser.add_argument("--seconds", type=float, default=10.0, help="measurement window under load (default 10)")
    parser.add_argument("--quiet-seconds", type=float, default=10.0, help="quiet-file window (default 10; 60 in CI)")
    parser.add_argument("--presses", type=int, default=15, help="key presses per key for latency (default 15)")
    parser.add_argument("--sizes", default="80x24,160x48", help="terminal sizes for idle/keys/quit (80x24,160x48)")
    parser.add_argument("--no-load", action="store_true", help="skip the following-under-load part")
    parser.add_argument("--ui-only", action="store_true", help="also measure the UI alone, in-process, headless")
    parser.add_argument("--open-size", default="300M", help="size of the generated log for the open test (300M)")
    parser.add_argument("--no-open", action="store_true", help="skip the open-a-big-log comparison with lnav")
    args = parser.parse_args()

    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; python {sys.version.split()[0]}")
    with tempfile.TemporaryDirectory() as tmp:
        finished = Path(tmp) / "finished.log"
        finished.write_bytes((ROOT / "tests" / "fixtures" / "tui_cerebras_run.log").read_bytes())
        for size_text in args.sizes.split(","):
            width, height = (int(part) for part in size_text.lower().split("x"))
            started = time.monotonic()
            idle_app = PtyApp(finished, size=(width, height))
            quit_s: float | None = None
            try:
                if idle_app.wait_for(b"SUCCEEDED", started, timeout=30) is None:
                    print("the dashboard did not start; output:", idle_app.output_since(0.0)[-2000:])
                    return 1
                time.sleep(3.0)
                quiet = cpu_percent(idle_app, args.quiet_seconds)
                print(
                    f"idle at {width}x{height}: quiet finished log, {args.quiet_seconds:.0f} s: app CPU {quiet:.2f} % "
                    "of a core (target <= 0.3 %)"
                )
                for key, values in measure_keys(idle_app, args.presses).items():
                    if values:
                        ms = [v * 1000 for v in values]
                        print(
                            f"  key {key:<22} p50 {statistics.median(ms):6.1f} ms  p95 {percentile(ms, 0.95):6.1f} ms  "
                            f"max {max(ms):6.1f} ms  (target p95 <= 100 ms)"
                        )
                at = idle_app.press(b"q")
                idle_app.proc.wait(timeout=30)
                quit_s = time.monotonic() - at
                print(f"  q to exit: {quit_s:.2f} s (target <= 0.5 s)")
            finally:
                if quit_s is None:
                    idle_app.close()
                else:
                    idle_app.close_after_exit()

        if args.no_load:
            return 0
        log = Path(tmp) / "run.log"
        log.write_text("2025-02-11 09:14:02,101 INFO:   Effective batch size is 1024.\n")
        started = time.monotonic()
        app = PtyApp(log)
        try:
            if app.wait_for(b"Effective batch size", started, timeout=30) is None:
                print("the dashboard did not start; output:", app.output_since(0.0)[-2000:])
                return 1
            time.sleep(2.0)

            total = args.seconds + 3.0 + args.presses * 1.0 + 5.0
            writer = subprocess.Popen([sys.executable, "-c", WRITER, str(log), str(args.rate), str(total)])
            try:
                time.sleep(3.0)  # let the follower catch up and the series fill
                size0, t0 = log.stat().st_size, time.monotonic()
                load = cpu_percent(app, args.seconds)
                written = (log.stat().st_size - size0) / (time.monotonic() - t0)
                print(
                    f"following {args.rate:.0f} lines/s ({written / 1e6:.2f} MB/s written), {args.seconds:.0f} s: "
                    f"app CPU {load:.1f} % of a core (target <= 30 %)"
                )
                print(f"key-to-repaint while following {args.rate:.0f} lines/s ({args.presses} presses per key):")
                for key, values in measure_keys(app, args.presses).items():
                    if values:
                        ms = [v * 1000 for v in values]
                        print(
                            f"  {key:<22} p50 {statistics.median(ms):6.1f} ms  p95 {percentile(ms, 0.95):6.1f} ms  "
                            f"max {max(ms):6.1f} ms  (target <= 100 ms)"
                        )
            finally:
                writer.terminate()
                writer.wait(timeout=10)
            rss = app.ps.memory_info().rss / 1e6
            print(f"app RSS at the end: {rss:.0f} MB; log size {log.stat().st_size / 1e6:.0f} MB")
        finally:
            code = app.close()
        print(f"app exit status after q: {code}")
        if not args.no_open:
            open_comparison(Path(tmp), args.open_size)
    if args.ui_only:
        ui = ui_only_cpu(args.rate, args.seconds)
        print(f"UI alone (headless, pre-parsed batches) at {args.rate:.0f} lines/s: {ui:.1f} % of a core")
    return 0


if __name__ == "__main__":
    sys.exit(main())
