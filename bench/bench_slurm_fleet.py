"""What a big cluster costs ``hwmon ls`` and the fleet view: N jobs on the controller, a few of them yours.

    python bench/bench_slurm_fleet.py [--jobs 50000] [--mine 5] [--repeat 3] [--src SRC_DIR]

The Slurm client commands are the test doubles of ``tests/fakes/fake_bin`` (``squeue``, ``scontrol``) answering
for a generated cluster as slurm-wlm 22.05 would; ``--src`` runs another checkout's ``src`` (to measure the code
before a change in the same conditions). Printed per measure: wall seconds, hwmon's own CPU seconds, the Slurm
tools' CPU seconds (children) and hwmon's peak RSS; the fleet view's share of a core is its CPU per Slurm poll
divided by the poll interval (5 s). Baseline, in the same run: the fake ``scontrol show job -o`` listing the whole
cluster, counted by ``grep -c`` (what merely producing and scanning the cluster's listing costs).
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FAKE_BIN = ROOT / "tests" / "fakes" / "fake_bin"

MEASURE = r"""
import json, resource, sys, time
mode = sys.argv[1]
t0, c0 = time.perf_counter(), time.process_time()
if mode == "ls":
    from hwmon.cli import main
    import io, contextlib
    with contextlib.redirect_stdout(io.StringIO()) as out:
        rc = main(["ls"])
    assert rc == 0, rc
    rows = out.getvalue().count("\n")
else:
    from hwmon.sources.fleet import Fleet
    fleet = Fleet()
    fleet.refresh(force=True)
    rows = len(fleet._jobs)
wall, cpu = time.perf_counter() - t0, time.process_time() - c0
kids = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"wall": wall, "cpu": cpu, "children_cpu": kids.ru_utime + kids.ru_stime,
                  "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "rows": rows}))
"""


def cluster(path: Path, jobs: int, mine: int, logs: Path) -> None:
    user = getpass.getuser()
    own = [
        {
            "id": str(10 + i),
            "user": user,
            "uid": os.getuid(),
            "state": "RUNNING",
            "name": f"mine-{i}",
            "workdir": str(logs),
            "stdout": str(logs / "slurm-%j.out"),
            "nodes": "node0001",
        }
        for i in range(mine)
    ]
    path.write_text(json.dumps({"user": user, "uid": os.getuid(), "jobs": own, "others": jobs - mine}))


def run(mode: str, env: dict[str, str]) -> dict[str, float]:
    proc = subprocess.run(
        [sys.executable, "-c", MEASURE, mode], env=env, capture_output=True, text=True, timeout=600, check=False
    )
    if proc.returncode != 0:
        raise SystemExit(f"{mode} failed: {proc.stderr[-2000:]}")
    result: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def median(results: list[dict[str, float]], key: str) -> float:
    return statistics.median(r[key] for r in results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=50_000)
    parser.add_argument("--mine", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--src", type=Path, default=ROOT / "src", help="the hwmon source tree to measure")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hwmon-bench-slurm-") as tmp:
        base = Path(tmp)
        (base / "logs").mkdir()
        state = base / "cluster.json"
        cluster(state, args.jobs, args.mine, base / "logs")
        (base / "slurm.conf").write_text("# the fake tools need no configuration\n")
        env = {
            **os.environ,
            "PATH": f"{FAKE_BIN}{os.pathsep}{os.environ['PATH']}",
            "HWMON_FAKE_SLURM": str(state),
            "SLURM_CONF": str(base / "slurm.conf"),
            "HWMON_RUNS_DIR": str(base / "runs"),
            "XDG_STATE_HOME": str(base / "state"),
            "PYTHONPATH": str(args.src.resolve()),
        }
        env.pop("HWMON_FAKE_ARGV_LOG", None)
        t0 = time.perf_counter()
        count = subprocess.run(
            "scontrol show job -o | grep -c JobId=", shell=True, env=env, capture_output=True, text=True, check=True
        ).stdout.strip()
        baseline = time.perf_counter() - t0
        print(f"cluster: {args.jobs} jobs, {args.mine} yours; src {args.src}; load {os.getloadavg()[0]:.2f}")
        print(f"baseline: scontrol show job -o | grep -c  -> {count} jobs in {baseline:.3f}s")
        for mode in ("ls", "fleet"):
            results = [run(mode, env) for _ in range(args.repeat)]
            wall, cpu, kids = (median(results, k) for k in ("wall", "cpu", "children_cpu"))
            rss = max(r["maxrss_mb"] for r in results)
            line = (
                f"{mode:5s}: wall {wall:.3f}s ({wall / baseline:.2f}x baseline), hwmon cpu {cpu:.3f}s, "
                f"slurm tools cpu {kids:.3f}s, peak RSS {rss:.0f} MB, rows {int(results[0]['rows'])}"
            )
            if mode == "fleet":
                line += f", share of a core at one poll per 5 s: {100 * (cpu + kids) / 5.0:.1f}%"
            print(line)


if __name__ == "__main__":
    main()
