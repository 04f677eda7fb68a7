"""Load: a big log (default 1 GB, made by ``bench/gen_cerebras_log.py``) attached with follow. Prints the time to the
first full dashboard and the peak RSS.

Two paths, each in its own child process (so each peak RSS is its own):

* ``source``: what every live view runs — ``hwmon.sources.source.file_source`` (the ``tail -F`` follower, 4 MiB
  batches, ``StreamParser(blocks=True)``) and the reducer, until the state holds the file's last step. The "first
  full dashboard" is the moment the follower has caught up with the whole file.
* ``app``: the real ``HwmonApp`` headless (``App.run_test`` at 160x48) on the same source, until its ``RunState``
  shows the last step and one frame has been painted from it (``repaint_now``).

    python bench/bench_load.py [--log PATH] [--size 1G] [--mode source|app|both]

Without ``--log`` the log is generated at /tmp/hwmon_bench_load_<size>.log (kept for reuse).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def last_step(path: Path) -> int:
    """The step number of the last ``Step=`` line (read from the end of the file)."""
    with path.open("rb") as handle:
        handle.seek(0, os.SEEK_END)
        size = handle.tell()
        handle.seek(max(0, size - (4 << 20)))
        tail = handle.read()
    at = tail.rfind(b"Step=")
    if at < 0:
        raise SystemExit(f"{path}: no Step= line near the end")
    end = at + 5
    while tail[end : end + 1].isdigit():
        end += 1
    return int(tail[at + 5 : end])


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def source_path(path: Path, target: int) -> dict[str, float]:
    from hwmon.model.reducer import apply_all
    from hwmon.model.state import RunState
    from hwmon.sources.source import file_source

    started = time.perf_counter()
    source = file_source(path)
    state = RunState(source=path.name)
    first_batch: float | None = None
    async for batch in source.batches():
        if first_batch is None:
            first_batch = time.perf_counter() - started
        apply_all(state, batch.events, now=batch.at)
        last = state.steps.last
        if last is not None and last[0] >= target:
            break
    elapsed = time.perf_counter() - started
    source.close()
    return {"first_batch_s": first_batch or 0.0, "full_s": elapsed, "steps": float(state.steps.count)}


async def app_path(path: Path, target: int) -> dict[str, float]:
    from hwmon.sources.source import file_source
    from hwmon.tui.app import HwmonApp

    started = time.perf_counter()
    app = HwmonApp(file_source(path), title=path.name)
    first_paint: float | None = None
    async with app.run_test(size=(160, 48)) as pilot:
        while True:
            await pilot.pause(0.05)
            if first_paint is None and app.state.lines > 0:
                first_paint = time.perf_counter() - started
            last = app.state.steps.last
            if last is not None and last[0] >= target:
                app.repaint_now()
                await pilot.pause()
                break
        elapsed = time.perf_counter() - started
        steps = app.state.steps.count
        await pilot.press("q")
    return {"first_batch_s": first_paint or 0.0, "full_s": elapsed, "steps": float(steps)}


def child(mode: str, path: Path) -> None:
    target = last_step(path)
    run = source_path if mode == "source" else app_path
    figures = asyncio.run(run(path, target))
    figures["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(figures))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--log", type=Path, help="an existing Cerebras log (default: generate one)")
    parser.add_argument("--size", default="1G", help="size to generate when --log is not given (default 1G)")
    parser.add_argument("--mode", choices=("source", "app", "both"), default="both")
    parser.add_argument("--child", choices=("source", "app"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.log)
        return 0
    path: Path = args.log or Path(f"/tmp/hwmon_bench_load_{args.size}.log")
    if not path.exists():
        print(f"generating {path} ({args.size}) ...", flush=True)
        subprocess.run(
            [sys.executable, str(HERE / "gen_cerebras_log.py"), "--out", str(path), "--size", args.size], check=True
        )
    size_mb = path.stat().st_size / (1 << 20)
    print(f"log {path}: {size_mb:.0f} MiB, last step {last_step(path)}")
    modes = ("source", "app") if args.mode == "both" else (args.mode,)
    for mode in modes:
        result = subprocess.run(
            [sys.executable, __file__, "--child", mode, "--log", str(path)], capture_output=True, text=True
        )
        if result.returncode != 0:
            print(f"{mode}: FAILED\n{result.stderr[-3000:]}")
            return 1
        figures = json.loads(result.stdout.strip().splitlines()[-1])
        print(
            f"{mode:>6}: first data {figures['first_batch_s']:.2f} s, full dashboard {figures['full_s']:.1f} s "
            f"({size_mb / figures['full_s']:.0f} MiB/s), {figures['steps']:.0f} steps, "
            f"peak RSS {figures['peak_rss_mb']:.0f} MB"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
