"""Parsing throughput of hwmon on a mixed GPU-framework log, against ``grep -c`` on the same file in the same run.

    python bench/gen_gpu_log.py --out /tmp/gpu_300m.log --size 300M && python bench/bench_gpu.py /tmp/gpu_300m.log

Baselines: ``grep -c loss PATH`` (one C pass that finds the lines carrying a loss) and ``grep -c '' PATH``. hwmon:
the whole file through ``StreamParser(blocks=True)`` and the reducer in a child process (``bench_parse.py``'s child,
so the two benchmarks measure the same pipeline). Prints MB/s, the child's peak RSS and the ratios to ``grep -c``.
Megatron's iteration lines take the bulk fast path; in the HF segments a run of (bar line, log dict) pairs is one
``ProgressBatch`` and one ``StepBatch`` (``hwmon.parsers.stream_runs``); its last pair, evals and checkpoints go line by
line.
Targets (issue 17): >= 60 MB/s and <= 30x ``grep -c``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_parse import _grep, _warm  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", type=Path, help="log file (bench/gen_gpu_log.py makes one)")
    parser.add_argument("--chunk", default=str(4 << 20), help="read size in bytes (default 4 MiB)")
    args = parser.parse_args(argv)
    path: Path = args.path
    _warm(path)
    grep_loss_s, grep_loss = _grep(["-c", "loss", str(path)])
    grep_all_s, grep_lines = _grep(["-c", "", str(path)])
    child = [sys.executable, str(Path(__file__).resolve().parent / "bench_parse.py"), "--child", str(path)]
    done = subprocess.run([*child, "--chunk", args.chunk], capture_output=True, text=True, check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    mb = result["bytes"] / 1e6
    seconds = result["seconds"]
    print(f"{path} ({mb:.1f} MB, {grep_lines} lines, {grep_loss} with 'loss')")
    print(f"  grep -c loss       {grep_loss_s:8.3f} s   {mb / grep_loss_s:8.0f} MB/s")
    print(f"  grep -c ''         {grep_all_s:8.3f} s   {mb / grep_all_s:8.0f} MB/s")
    cpu_mb_s = mb / max(1e-9, result["cpu_seconds"])
    print(
        f"  hwmon (StreamParser(blocks=True) + reducer)\n"
        f"                     {seconds:8.3f} s   {mb / seconds:8.1f} MB/s   ({cpu_mb_s:.1f}"
        f" MB per CPU second)   peak RSS {result['peak_kib'] / 1024:.0f} MiB   {result['events']} events,"
        f" {result['steps']} steps"
    )
    ratio = seconds / grep_loss_s
    print(f"  ratio to grep -c loss {ratio:.1f}x   (to grep -c '': {seconds / grep_all_s:.1f}x)")
    met = mb / seconds >= 60 and ratio <= 30
    print(f"targets (issue 17: >= 60 MB/s, <= 30x grep -c): {'MET' if met else 'MISS'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
