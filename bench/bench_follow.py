"""Benchmarks of the live path (file follower + stream parser + reducer), printing figures against the targets.

(a) latency: a writer in another process appends a step line, stamping ``time.monotonic_ns()`` just before the
    write; this process records when its ``RunState`` first shows that step. Targets p50 <= 20 ms, p99 <= 100 ms.
(b) idle CPU: following a quiet file for ``--quiet-seconds`` (default 60), inotify and polling. Target <= 0.5 %.
(c) flood CPU: a writer appends ``--flood-rate`` lines/s (default 10 000) for ``--flood-seconds``; CPU of this
    process (follower + parser + reducer) and whether every step arrived. Target <= 30 % of a core.

Run: ``python bench/bench_follow.py`` (``--quick`` for a short smoke run). CPU is ``resource.getrusage`` of this
process (user + system) over wall time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

from hwmon.model.reducer import apply_all
from hwmon.model.state import RunState
from hwmon.sources.source import file_source

STEP_LINE = (
    "2025-02-11 08:05:40,000 INFO:   | Train Device=CSX, Step={step}, Loss=5.12500, Rate=910.40 samples/sec, "
    "GlobalRate=910.40 samples/sec\n"
)

LATENCY_WRITER = textwrap.dedent(
    """
    import os, random, sys, time
    path, count, gap = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    line = sys.argv[4]
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    for step in range(1, count + 1):
        time.sleep(gap * random.uniform(0.5, 1.5))
        data = line.replace("{step}", str(step)).encode()
        stamp = time.monotonic_ns()
        os.write(fd, data)
        print(step, stamp, flush=True)
    """
)

FLOOD_WRITER = textwrap.dedent(
    """
    import os, sys, time
    path, rate, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    line = sys.argv[4]
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    tick = 0.01
    per_tick = max(1, int(rate * tick))
    start = time.monotonic()
    step = 0
    while time.monotonic() - start < seconds:
        chunk = "".join(line.replace("{step}", str(step + i + 1)) for i in range(per_tick))
        os.write(fd, chunk.encode())
        step += per_tick
        next_at = start + (step / per_tick) * tick
        delay = next_at - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    print(step, flush=True)
    """
)


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


async def bench_latency(tmp: Path, count: int, gap: float, use_inotify: bool) -> list[float]:
    log = tmp / f"latency-{use_inotify}.log"
    log.touch()
    source = file_source(log, use_inotify=use_inotify)
    state = RunState()
    seen_at: dict[int, int] = {}
    stamps: dict[int, int] = {}
    writer = subprocess.Popen(
        [sys.executable, "-c", LATENCY_WRITER, str(log), str(count), str(gap), STEP_LINE],
        stdout=subprocess.PIPE,
        text=True,
    )

    def read_stamps() -> None:
        assert writer.stdout is not None
        for row in writer.stdout:
            step, stamp = row.split()
            stamps[int(step)] = int(stamp)

    reader = threading.Thread(target=read_stamps, daemon=True)
    reader.start()
    last = 0
    async for batch in source.batches():
        apply_all(state, batch.events, batch.at)
        now = time.monotonic_ns()
        current = state.last_step.step if state.last_step is not None and state.last_step.step is not None else 0
        for step in range(last + 1, current + 1):
            seen_at[step] = now
        last = max(last, current)
        if last >= count:
            break
    source.close()
    writer.wait()
    reader.join(5)
    return [(seen_at[s] - stamps[s]) / 1e6 for s in range(1, count + 1) if s in stamps and s in seen_at]


async def bench_quiet(tmp: Path, seconds: float, use_inotify: bool) -> tuple[float, bool]:
    log = tmp / f"quiet-{use_inotify}.log"
    log.write_text(STEP_LINE.replace("{step}", "1") * 100)
    follower_source = file_source(log, use_inotify=use_inotify)
    state = RunState()

    async def consume() -> None:
        async for batch in follower_source.batches():
            apply_all(state, batch.events, batch.at)

    task = asyncio.ensure_future(consume())
    await asyncio.sleep(1.0)  # let it read the existing content first
    cpu0, wall0 = cpu_seconds(), time.monotonic()
    await asyncio.sleep(seconds)
    cpu1, wall1 = cpu_seconds(), time.monotonic()
    using = follower_source.follower.using_inotify  # type: ignore[attr-defined]
    follower_source.close()
    await task
    return (cpu1 - cpu0) / (wall1 - wall0), bool(using)


async def bench_flood(tmp: Path, rate: int, seconds: float) -> tuple[float, int, int, float]:
    log = tmp / "flood.log"
    log.touch()
    source = file_source(log)
    state = RunState()
    writer = subprocess.Popen(
        [sys.executable, "-c", FLOOD_WRITER, str(log), str(rate), str(seconds), STEP_LINE],
        stdout=subprocess.PIPE,
        text=True,
    )
    cpu0, wall0 = cpu_seconds(), time.monotonic()

    async def consume() -> None:
        async for batch in source.batches():
            apply_all(state, batch.events, batch.at)

    task = asyncio.ensure_future(consume())
    while writer.poll() is None:
        await asyncio.sleep(0.05)
    assert writer.stdout is not None
    written = int(writer.stdout.read().strip() or 0)
    lag0 = time.monotonic()
    while state.steps.count < written and time.monotonic() - lag0 < 30:
        await asyncio.sleep(0.005)
    lag = time.monotonic() - lag0
    cpu1, wall1 = cpu_seconds(), time.monotonic()
    source.close()
    await task
    return (cpu1 - cpu0) / (wall1 - wall0), written, state.steps.count, lag


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency-lines", type=int, default=300)
    parser.add_argument(
        "--latency-gap", type=float, default=0.2, help="mean seconds between latency lines (uniform 0.5x-1.5x)"
    )
    parser.add_argument("--quiet-seconds", type=float, default=60.0)
    parser.add_argument("--flood-rate", type=int, default=10_000)
    parser.add_argument("--flood-seconds", type=float, default=10.0)
    parser.add_argument("--quick", action="store_true", help="short run: 100 lines, 5 s quiet, 3 s flood")
    args = parser.parse_args()
    if args.quick:
        args.latency_lines, args.quiet_seconds, args.flood_seconds = 100, 5.0, 3.0
    print(f"python {sys.version.split()[0]} on {os.uname().sysname} {os.uname().release}, pid {os.getpid()}")
    with tempfile.TemporaryDirectory(prefix="hwmon-bench-") as tmpdir:
        tmp = Path(tmpdir)
        for use_inotify in (True, False):
            mode = "inotify" if use_inotify else "poll"
            lat = asyncio.run(bench_latency(tmp, args.latency_lines, args.latency_gap, use_inotify))
            p50, p99 = statistics.median(lat), percentile(lat, 99)
            print(
                f"(a) latency [{mode}] n={len(lat)}: p50 {p50:.1f} ms (target <= 20, ratio {p50 / 20:.2f}), "
                f"p99 {p99:.1f} ms (target <= 100, ratio {p99 / 100:.2f}), max {max(lat):.1f} ms"
            )
        for use_inotify in (True, False):
            mode = "inotify" if use_inotify else "poll"
            share, using = asyncio.run(bench_quiet(tmp, args.quiet_seconds, use_inotify))
            print(
                f"(b) quiet file {args.quiet_seconds:g} s [{mode}, inotify active={using}]: CPU {share * 100:.3f} % "
                f"of a core (target <= 0.5 %, ratio {share * 100 / 0.5:.2f})"
            )
        share, written, seen, lag = asyncio.run(bench_flood(tmp, args.flood_rate, args.flood_seconds))
        print(
            f"(c) flood {args.flood_rate} lines/s for {args.flood_seconds:g} s: CPU {share * 100:.1f} % of a core "
            f"(target <= 30 %, ratio {share * 100 / 30:.2f}); steps written {written}, in state {seen}, "
            f"caught up {lag * 1000:.0f} ms after the writer stopped"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
