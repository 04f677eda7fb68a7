"""Monitoring overhead: samples/s of `hwmon run mnist --cpu` (supervised, output parsed live by the plain
watcher) versus the same workload script run bare, same data, limits and thread count, alternating, several
repetitions. Prints each measurement, the medians and the overhead (target <= 3 %).

    .venv/bin/python bench/bench_overhead.py [--reps 5] [--limit-batches 300] [--threads 1] [--data DIR]
        [--device cpu|gpu]

``--device gpu`` measures the same on CUDA (``scripts/gpu_check.sh`` runs it on a GPU machine).
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from hwmon.runners.workloads import mnist
from hwmon.store import registry

THROUGHPUT = re.compile(r"^Train throughput: ([0-9.]+) samples/sec", re.M)
FASHION = "/usr/share/datasets/fashion-mnist"


def throughput(text: str) -> float:
    match = THROUGHPUT.search(text)
    if match is None:
        raise SystemExit(f"no throughput line in output:\n{text[-2000:]}")
    return float(match.group(1))


def workload_args(args: argparse.Namespace) -> list[str]:
    return [
        "--data", args.data, "--epochs", "1", "--limit-batches", str(args.limit_batches),
        "--threads", str(args.threads), "--seed", "0",
    ]  # fmt: skip


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


CPU: dict[str, list[float]] = {"bare": [], "monitor": []}


def bare(args: argparse.Namespace, out_dir: Path, rep: int) -> float:
    """The workload alone, its output to a file (as the supervisor does), nothing reading it."""
    log = out_dir / f"bare-{rep}.log"
    cpu0 = children_cpu()
    with open(log, "wb") as fh:
        subprocess.run(
            [sys.executable, mnist.__file__, "--device", args.device, *workload_args(args)],
            stdout=fh,
            stderr=subprocess.STDOUT,
            env=dict(os.environ, PYTHONUNBUFFERED="1"),
            check=True,
        )
    CPU["bare"].append(children_cpu() - cpu0)
    return throughput(log.read_text(errors="replace"))


def monitored(args: argparse.Namespace, runs: Path) -> float:
    """`hwmon run mnist --cpu --no-tui`: supervisor + live parsing of the log by the plain watcher."""
    before = {r.run_id for r in registry.list_runs(runs)}
    # CPU of the `hwmon run` process (launch + live parsing); the daemonised supervisor and the workload are not
    # its waited-for children, so they are not in this figure.
    cpu0 = children_cpu()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "hwmon",
            "run",
            "mnist",
            f"--{args.device}",
            "--no-tui",
            "--no-check",
            *workload_args(args),
        ],
        stdout=subprocess.DEVNULL,
        env=dict(os.environ, HWMON_RUNS_DIR=str(runs)),
        check=True,
    )
    CPU["monitor"].append(children_cpu() - cpu0)
    [record] = [r for r in registry.list_runs(runs) if r.run_id not in before]
    return throughput(record.log_path.read_text(errors="replace"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--limit-batches", type=int, default=300)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--data", default=FASHION)
    parser.add_argument("--device", choices=["cpu", "gpu"], default="cpu")
    args = parser.parse_args()
    if not Path(args.data).is_dir():
        raise SystemExit(f"no IDX data at {args.data} (install dataset-fashion-mnist or pass --data)")
    with tempfile.TemporaryDirectory(prefix="hwmon-bench-") as tmp:
        out_dir = Path(tmp)
        runs = out_dir / "runs"
        # One warm-up of each so page cache and imports are equally warm.
        bare(args, out_dir, -1)
        monitored(args, runs)
        bare_rates: list[float] = []
        mon_rates: list[float] = []
        for rep in range(args.reps):
            # Alternate the order so drift (thermal, other load) hits both sides alike.
            if rep % 2 == 0:
                bare_rates.append(bare(args, out_dir, rep))
                mon_rates.append(monitored(args, runs))
            else:
                mon_rates.append(monitored(args, runs))
                bare_rates.append(bare(args, out_dir, rep))
            print(f"rep {rep}: bare {bare_rates[-1]:8.1f} samples/s   monitored {mon_rates[-1]:8.1f} samples/s")
    b, m = statistics.median(bare_rates), statistics.median(mon_rates)
    overhead = (b - m) / b * 100.0
    pair = statistics.median((x - y) / x * 100.0 for x, y in zip(bare_rates, mon_rates, strict=True))
    mon_cpu = statistics.median(CPU["monitor"][1:])
    work_cpu = statistics.median(CPU["bare"][1:])
    print(
        f"batches/rep={args.limit_batches} batch=16 threads={args.threads} reps={args.reps} cpus={os.cpu_count()}\n"
        f"bare      median {b:8.1f} samples/s  (min {min(bare_rates):.1f}, max {max(bare_rates):.1f})\n"
        f"monitored median {m:8.1f} samples/s  (min {min(mon_rates):.1f}, max {max(mon_rates):.1f})\n"
        f"overhead  {overhead:+.2f} % of medians, {pair:+.2f} % median of paired runs  (target <= 3 %)\n"
        f"monitor CPU {mon_cpu:.2f} s per run (hwmon run: launch + live parsing) vs workload CPU {work_cpu:.2f} s "
        f"= {mon_cpu / work_cpu * 100:.1f} % (load-independent; startup included)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
