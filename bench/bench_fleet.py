"""Fleet view benchmark: ``hwmon top`` in a real 80x24 pseudo-terminal watching 20 live supervised runs. Prints
figures; it is not a timed test.

    .venv/bin/python bench/bench_fleet.py [--runs 20] [--seconds 30] [--interval 1.0]

Set-up: RUNS real supervised runs (``hwmon run --detach -- python -c WRITER``), each printing one Cerebras-style
step line every INTERVAL seconds into its own log, in a throwaway registry (``HWMON_RUNS_DIR``).

Measures (the app's own process only):
  * CPU of ``hwmon top`` over SECONDS after a warm-up (target < 1 % of a core with 20 runs);
  * baseline in the same run: CPU of ``hwmon attach`` (the one-run dashboard) on one of the same runs;
  * in-process: the cost of one ``Fleet.refresh()`` over the 20 runs and the bytes it reads, against re-parsing
    every log whole (what a refresh that is not incremental would cost each tick).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_tui import PtyApp  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

WRITER = r"""
import sys, time, datetime
interval, seconds = float(sys.argv[1]), float(sys.argv[2])
print(f"{datetime.datetime.now():%Y-%m-%d %H:%M:%S},000 INFO:   Beginning appliance run", flush=True)
start = time.monotonic()
step = 0
while time.monotonic() - start < seconds:
    step += 10
    now = datetime.datetime.now()
    print(
        f"{now:%Y-%m-%d %H:%M:%S},{now.microsecond // 1000:03d} INFO:   | Train Device=CSX, Step={step}, "
        f"Loss={8.0 / (1 + step / 500):.5f}, Rate=905.10 samples/sec, GlobalRate=907.70 samples/sec",
        flush=True,
    )
    time.sleep(interval)
"""


def _pty_app(args: list[str], runs_dir: Path) -> PtyApp:
    """Start ``hwmon ARGS`` on an 80x24 pty (PtyApp starts ``attach LOG``; run the command we want instead)."""
    import fcntl
    import struct
    import termios
    import threading

    import psutil

    app = PtyApp.__new__(PtyApp)
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    script = ROOT / ".venv" / "bin" / "hwmon"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "hwmon"]
    env = dict(os.environ, TERM="xterm-256color", COLUMNS="80", LINES="24", HWMON_RUNS_DIR=str(runs_dir))
    app.proc = subprocess.Popen(
        [*command, *args], stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True, close_fds=True
    )
    os.close(slave)
    app.master = master
    app.chunks = []
    app._lock = threading.Lock()
    app._stop = False
    app._thread = threading.Thread(target=app._drain, daemon=True)
    app._thread.start()
    app.ps = psutil.Process(app.proc.pid)
    return app


def cpu_over(app: PtyApp, seconds: float) -> float:
    before, t0 = app.cpu(), time.monotonic()
    time.sleep(seconds)
    return 100.0 * (app.cpu() - before) / (time.monotonic() - t0)


def refresh_figures(runs_dir: Path, reps: int = 20) -> tuple[float, float, int, int]:
    """(median ms of one incremental refresh, ms to re-parse every log whole, bytes read per refresh, total bytes)."""
    os.environ["HWMON_RUNS_DIR"] = str(runs_dir)
    from hwmon.sources.fleet import Fleet, LogTracker
    from hwmon.sources.read import summarize_bytes

    fleet = Fleet(jobs=lambda: [], recents=lambda: [], registry_every=0.0)
    fleet.refresh(force=True)
    trackers = [e.tracker for e in fleet._entries.values() if isinstance(e.tracker, LogTracker)]
    before = sum(t._pos for t in trackers)
    times = []
    for _ in range(reps):
        time.sleep(0.1)
        start = time.perf_counter()
        fleet.refresh()
        times.append((time.perf_counter() - start) * 1000)
    per_refresh = (sum(t._pos for t in trackers) - before) // reps
    total = sum(os.path.getsize(t.path) for t in trackers)
    start = time.perf_counter()
    for tracker in trackers:
        summarize_bytes(tracker.path.read_bytes(), str(tracker.path))
    whole_ms = (time.perf_counter() - start) * 1000
    return statistics.median(times), whole_ms, per_refresh, total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--warmup", type=float, default=6.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hwmon-bench-fleet-") as tmp:
        runs_dir = Path(tmp) / "runs"
        env = dict(os.environ, HWMON_RUNS_DIR=str(runs_dir), PYTHONUNBUFFERED="1")
        lifetime = args.warmup * 2 + args.seconds * 2 + 60
        run_ids = []
        for _ in range(args.runs):
            out = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "hwmon",
                    "run",
                    "--detach",
                    "--",
                    sys.executable,
                    "-c",
                    WRITER,
                    str(args.interval),
                    str(lifetime),
                ],
                capture_output=True,
                text=True,
                env=env,
                check=True,
            )
            run_ids.append(out.stdout.strip())
        print(f"{args.runs} supervised runs, one step line each per {args.interval:g} s")
        try:
            top = _pty_app(["top"], runs_dir)
            time.sleep(args.warmup)
            top_cpu = cpu_over(top, args.seconds)
            screen = top.output_since(0.0)
            top.close()
            shown = f"{args.runs} running".encode() in screen
            attach = _pty_app(["attach", run_ids[0]], runs_dir)
            time.sleep(args.warmup)
            attach_cpu = cpu_over(attach, args.seconds)
            attach.close()
            refresh_ms, whole_ms, per_refresh, total = refresh_figures(runs_dir)
        finally:
            for run_id in run_ids:
                subprocess.run(
                    [sys.executable, "-m", "hwmon", "stop", "-q", "--int-timeout", "2", run_id],
                    capture_output=True,
                    env=env,
                    check=False,
                )
    print(
        f"hwmon top ({args.runs} live runs, 80x24): {top_cpu:.2f} % of a core over {args.seconds:g} s "
        f"(target < 1 %); the header said '{args.runs} running': {shown}"
    )
    print(
        f"baseline, hwmon attach (1 run, same set-up): {attach_cpu:.2f} % of a core; "
        f"ratio top/attach = {top_cpu / attach_cpu if attach_cpu else float('nan'):.2f}"
    )
    print(
        f"one incremental Fleet.refresh over {args.runs} runs: {refresh_ms:.2f} ms median; re-parsing every log "
        f"whole ({total} bytes): {whole_ms:.1f} ms ({whole_ms / refresh_ms if refresh_ms else float('nan'):.0f}x); "
        f"bytes read per refresh: {per_refresh}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
