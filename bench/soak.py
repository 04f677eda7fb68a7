"""Soak: follow a log that a writer (another process) grows at ``--rate`` lines/s (default 100) for ``--minutes``
(default 30), sampling this process's RSS every ``--sample`` seconds, then print the samples' linear-fit slope.

The monitor is the live path every view runs: ``file_source`` (``tail -F`` follower + ``StreamParser``) and the
reducer, plus the stall/silence alert check once a second; ``--app`` runs the real ``HwmonApp`` headless instead
(``App.run_test``, 120x40, repainting from its own timer). The writer emits Cerebras step lines with timestamps,
a checkpoint every 500 steps, a warning every 1000 lines and a tqdm eval bar every 2000 steps.

    python bench/soak.py [--minutes 30] [--rate 100] [--sample 10] [--app]

The slope is fitted after a warm-up (the first 10 % of samples, at least one): flat memory means a slope near
0 MB/h; it is printed with the RSS at the start and end of the fitted window.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import psutil

WRITER = textwrap.dedent(
    """
    import sys, time, datetime
    path, rate, seconds = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
    start = time.monotonic()
    n = 0
    step = 0
    with open(path, "a", buffering=1) as out:
        out.write("2025-01-01 00:00:00,000 INFO:   Beginning appliance run\\n")
        while time.monotonic() - start < seconds:
            n += 1
            due = start + n / rate
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            stamp = (datetime.datetime(2025, 1, 1) + datetime.timedelta(seconds=n / rate)).strftime(
                "%Y-%m-%d %H:%M:%S,%f")[:-3]
            if n % 1000 == 0:
                out.write(f"{stamp} WARNING:   slow host {n}\\n")
                continue
            step += 1
            out.write(f"{stamp} INFO:   | Train Device=CSX, Step={step}, Loss={1 + 1 / step:.5f}, "
                      f"Rate={900 + step % 50:.2f} samples/sec, GlobalRate=910.00 samples/sec\\n")
            if step % 500 == 0:
                out.write(f"{stamp} INFO:   Saving checkpoint at step {step}\\n")
                out.write(f"{stamp} INFO:   Saved checkpoint model_dir/checkpoint_{step}.mdl\\n")
            if step % 2000 == 0:
                out.write("Eval: 100%|##########| 50/50 [00:01<00:00, 40.00it/s]\\n")
    """
)


def fit_slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (x, y) points."""
    n = len(points)
    if n < 2:
        return 0.0
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    sxy = sum((x - mx) * (y - my) for x, y in points)
    return sxy / sxx if sxx else 0.0


async def monitor_source(path: Path, stop_at: float, sample_s: float, samples: list[tuple[float, float]]) -> int:
    from hwmon.model import alerts
    from hwmon.model.reducer import apply_all
    from hwmon.model.state import RunState
    from hwmon.sources.source import file_source

    me = psutil.Process()
    source = file_source(path)
    state = RunState(source=path.name)
    started = time.monotonic()

    async def sampler() -> None:
        while time.monotonic() < stop_at:
            samples.append((time.monotonic() - started, me.memory_info().rss / (1 << 20)))
            alerts.check(state, time.monotonic())
            await asyncio.sleep(sample_s)
        source.close()

    task = asyncio.get_running_loop().create_task(sampler())
    async for batch in source.batches():
        apply_all(state, batch.events, now=batch.at)
    await task
    return state.steps.count


async def monitor_app(path: Path, stop_at: float, sample_s: float, samples: list[tuple[float, float]]) -> int:
    from hwmon.sources.source import file_source
    from hwmon.tui.app import HwmonApp

    me = psutil.Process()
    app = HwmonApp(file_source(path), title=path.name)
    started = time.monotonic()
    async with app.run_test(size=(120, 40)) as pilot:
        while time.monotonic() < stop_at:
            samples.append((time.monotonic() - started, me.memory_info().rss / (1 << 20)))
            await pilot.pause(sample_s)
        steps = app.state.steps.count
        await pilot.press("q")
    return steps


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--rate", type=float, default=100.0, help="lines per second (default 100)")
    parser.add_argument("--sample", type=float, default=10.0, help="seconds between RSS samples (default 10)")
    parser.add_argument("--app", action="store_true", help="run the headless HwmonApp instead of source+reducer")
    args = parser.parse_args()
    seconds = args.minutes * 60
    with tempfile.TemporaryDirectory(prefix="hwmon-soak-") as tmp:
        path = Path(tmp) / "soak.log"
        path.touch()
        writer = subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(args.rate), str(seconds)])
        samples: list[tuple[float, float]] = []
        stop_at = time.monotonic() + seconds
        cpu0 = psutil.Process().cpu_times()
        try:
            run = monitor_app if args.app else monitor_source
            steps = asyncio.run(run(path, stop_at, args.sample, samples))
        finally:
            writer.terminate()
            writer.wait(10)
        cpu1 = psutil.Process().cpu_times()
        lines = path.read_bytes().count(b"\n")
    warm = max(1, len(samples) // 10)
    window = samples[warm:]
    slope_per_s = fit_slope(window)
    cpu = (cpu1.user + cpu1.system - cpu0.user - cpu0.system) / seconds * 100
    print(
        f"soak ({'app' if args.app else 'source+reducer'}): {args.minutes:g} min at {args.rate:g} lines/s, "
        f"{lines} lines written, {steps} steps reduced, CPU {cpu:.1f} % of a core"
    )
    for t, rss in samples:
        print(f"  t={t:7.0f} s  rss={rss:7.1f} MB")
    if window:
        print(
            f"RSS {window[0][1]:.1f} -> {window[-1][1]:.1f} MB over the fitted window ({len(window)} samples); "
            f"slope {slope_per_s * 3600:+.2f} MB/h"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
