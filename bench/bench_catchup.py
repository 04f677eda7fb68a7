"""Dashboard responsiveness while catching up a big, hostile file (hardening II, item 11), in a real pseudo-terminal
at 80x24 (the ``PtyApp`` of ``bench_tui.py``). Prints figures; it is not a timed test.

    .venv/bin/python bench/bench_catchup.py [--mb 50] [--presses 5] [--cases cr,tqdm,combining]

For each case a file is written first, then ``hwmon attach FILE`` starts on it, and as soon as the dashboard has
painted ``?`` is pressed (and Escape after the help shows) ``--presses`` times while it is still catching up. The
figure is the key-to-repaint latency: from writing ``?`` to the pty until the app's output contains the help's
title. Target: every press answered within 100 ms at any size. Cases:

  * ``cr``: MB of bare ``\\r`` bytes (no newline at all);
  * ``tqdm``: 10^6 tqdm bars, each with a different name (``shard-000123: 40%|████      | 4/10 [...]``);
  * ``combining``: lines of letters each followed by many combining accents.

As a baseline measured in the same run, the time ``wc -l`` takes over the same file is printed.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_tui import PtyApp  # noqa: E402


def write_cr(path: Path, mb: int) -> None:
    block = b"\r" * (1 << 20)
    with path.open("wb") as fh:
        for _ in range(mb):
            fh.write(block)


def write_tqdm(path: Path, bars: int) -> None:
    with path.open("wb") as fh:
        for start in range(0, bars, 10000):
            parts = []
            for i in range(start, min(bars, start + 10000)):
                parts.append(f"shard-{i:07d}: 40%|████      | 4/10 [00:01<00:01, 3.50it/s]\r".encode())
            fh.write(b"".join(parts))
        fh.write(b"\n")


def write_combining(path: Path, mb: int) -> None:
    line = ("a" + "\u0301\u0308\u0323" * 40 + " ") * 8 + "\n"
    raw = line.encode()
    count = (mb << 20) // len(raw)
    with path.open("wb") as fh:
        for _ in range(0, count, 1000):
            fh.write(raw * 1000)


def measure(path: Path, presses: int) -> tuple[list[float], int, float]:
    app = PtyApp(path)
    try:
        started = time.monotonic()
        if app.wait_for(b"Quit", started, timeout=60) is None:
            raise SystemExit("the dashboard never painted")
        latencies: list[float] = []
        missed = 0
        for _ in range(presses):
            at = app.press(b"?")
            latency = app.wait_for(b"hwmon: keys", at, timeout=30)
            if latency is None:
                missed += 1
            else:
                latencies.append(latency)
            app.press(b"\x1b")
            time.sleep(0.3)
            app.trim()
        return latencies, missed, time.monotonic() - started
    finally:
        app.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=int, default=50, help="size of the cr and combining files in MB (default 50)")
    parser.add_argument("--bars", type=int, default=1_000_000, help="tqdm bar names (default 10^6)")
    parser.add_argument("--presses", type=int, default=5)
    parser.add_argument("--cases", default="cr,tqdm,combining")
    args = parser.parse_args()
    writers = {
        "cr": lambda p: write_cr(p, args.mb),
        "tqdm": lambda p: write_tqdm(p, args.bars),
        "combining": lambda p: write_combining(p, args.mb),
    }
    with tempfile.TemporaryDirectory() as tmp:
        for case in args.cases.split(","):
            path = Path(tmp) / f"{case}.log"
            writers[case](path)
            size = path.stat().st_size
            began = time.monotonic()
            subprocess.run(["wc", "-l", str(path)], capture_output=True, check=True)
            wc = time.monotonic() - began
            latencies, missed, total = measure(path, args.presses)
            shown = ", ".join(f"{x * 1000:.0f}" for x in latencies)
            worst = max(latencies) * 1000 if latencies else float("nan")
            median = statistics.median(latencies) * 1000 if latencies else float("nan")
            print(
                f"{case:10s} {size / 1e6:7.1f} MB  '?' latency ms: median {median:.0f}, worst {worst:.0f} "
                f"[{shown}]{f' ({missed} never answered in 30 s)' if missed else ''}  "
                f"(wc -l on the same file: {wc * 1000:.0f} ms; run {total:.1f} s)"
            )
            path.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
