"""Per-rank state is bounded (issue 21): memory and time of reading a multi-rank log, at growing line counts.

Writes a torchrun ``--tee`` style log (``[defaultR]:<timestamp> INFO step=S loss=X``, RANKS ranks taking turns,
one rank falling behind and one going silent so the alerts run too) of each size, then reads it the way
``hwmon summary`` does (``summarize_chunks``: the stream with its rank tracker, the reducer) in a fresh process per
size, and prints for each: the peak RSS of that process, the size of the ranks' state, the time, and the ratios to
``grep -c`` on the same file and to the same read with the rank tracker switched off (the stream as before issue
21: other ranks' lines dropped; what the tracking costs). Memory is flat when the RSS and the ranks' state do not
grow with the lines.

    .venv/bin/python bench/bench_ranks.py                      # 512 ranks; 1e4, 1e5, 1e6 lines
    .venv/bin/python bench/bench_ranks.py --ranks 512 --lines 100000 1000000 4000000
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

_CHILD = r"""
import json, resource, sys, time
from hwmon.sources.read import summarize_chunks
import hwmon.parsers.stream as stream

class NoRanks:
    # The stream as before issue 21: other ranks' lines dropped, nothing counted per rank.
    watching = False
    def feed(self, record, raw, voice): return []
    def feed_unranked(self, record): return []
    def feed_batch(self, batch): return []
    def finish(self, voice): return []

if sys.argv[2] == "off":
    stream.RankLines = NoRanks

def chunks(path):
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            yield chunk

start = time.perf_counter()
state = summarize_chunks(chunks(sys.argv[1]), sys.argv[1])
seconds = time.perf_counter() - start
ranks = state.ranks
size = sum(sys.getsizeof(info) + sys.getsizeof(info.text) + sys.getsizeof(info.host or "")
           for info in ranks.table.values()) + sys.getsizeof(ranks.table)
print(json.dumps({
    "seconds": seconds,
    "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "ranks": len(ranks.table),
    "ranks_state_kb": size / 1024,
    "alerts": sorted({a.kind for a in state.alerts}),
    "last_step": ranks.front_step,
}))
"""


def write_log(path: Path, ranks: int, lines: int) -> None:
    """``lines`` lines: RANKS ranks take turns each step (a second apart); rank 1 stops at a quarter of the steps,
    rank 2 falls ever further behind after half of them."""
    steps = max(1, lines // ranks)
    t0 = datetime(2026, 12, 7, 10, 0, 0)
    written = 0
    with path.open("w") as out:
        for step in range(1, steps + 1):
            stamp = (t0 + timedelta(seconds=step)).strftime("%Y-%m-%d %H:%M:%S,000")
            batch = []
            for rank in range(ranks):
                if rank == 1 and step > steps // 4:
                    continue
                shown = step if rank != 2 or step < steps // 2 else steps // 2 + (step - steps // 2) // 3
                batch.append(f"[default{rank}]:{stamp} INFO step={shown} loss={4.0 / step:.4f}\n")
            out.writelines(batch)
            written += len(batch)
            if written >= lines:
                break


def run_child(path: Path, tracker: str = "on") -> dict[str, object]:
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, str(path), tracker], capture_output=True, text=True, check=True
    )
    result: dict[str, object] = json.loads(proc.stdout)
    return result


def grep_seconds(path: Path) -> float:
    start = time.perf_counter()
    subprocess.run(["grep", "-c", "step=", str(path)], capture_output=True, check=False)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ranks", type=int, default=512)
    parser.add_argument("--lines", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    args = parser.parse_args()
    print(f"load: {os.getloadavg()[0]:.2f} (1 min)  ranks: {args.ranks}")
    head = f"{'lines':>9} {'MB':>7} {'RSS MB':>7} {'(off)':>6} {'ranks KB':>9} {'s':>7} {'x grep':>7} {'x off':>6}"
    print(head + "  alerts")
    with tempfile.TemporaryDirectory() as tmp:
        for lines in args.lines:
            log = Path(tmp) / "ranked.log"
            write_log(log, args.ranks, lines)
            grep = grep_seconds(log)
            got = run_child(log)
            off = run_child(log, "off")
            seconds = float(got["seconds"])  # type: ignore[arg-type]
            print(
                f"{lines:>9} {log.stat().st_size / 1e6:>7.1f} {float(got['rss_mb']):>7.1f} "  # type: ignore[arg-type]
                f"{float(off['rss_mb']):>6.1f} {float(got['ranks_state_kb']):>9.1f} "  # type: ignore[arg-type]
                f"{seconds:>7.2f} {seconds / grep:>7.0f} {seconds / float(off['seconds']):>6.2f}"  # type: ignore[arg-type]
                f"  {','.join(got['alerts'])}"  # type: ignore[arg-type]
            )
            log.unlink()


if __name__ == "__main__":
    main()
