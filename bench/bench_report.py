"""`hwmon report` on a big log: the HTML file's size (bounded: the model's downsampled series and the last 200
lines), the time to write it and its peak memory, against ``grep -c ''`` on the same file in the same run. Prints
figures; it is not a timed test.

    python bench/gen_cerebras_log.py --out /tmp/cs_1g.log --size 1G
    .venv/bin/python bench/bench_report.py /tmp/cs_1g.log [/tmp/other.log ...]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def timed(argv: list[str]) -> tuple[float, float, subprocess.CompletedProcess[bytes]]:
    """(seconds, peak RSS in MB of the child, result)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        result = subprocess.CompletedProcess(argv, proc.returncode, out.read(), err.read())
    return seconds, usage.ru_maxrss / 1024, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("logs", nargs="+", type=Path)
    args = parser.parse_args()
    script = ROOT / ".venv" / "bin" / "hwmon"
    hwmon = [str(script)] if script.exists() else [sys.executable, "-m", "hwmon"]
    print(f"load: {os.getloadavg()[0]:.2f} (1 min), {os.cpu_count()} cores")
    os.environ["HWMON_HISTORY"] = "off"
    for log in args.logs:
        size_mb = log.stat().st_size / 1e6
        grep_s, _, grep = timed(["grep", "-c", "", str(log)])
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "report.html"
            report_s, rss, done = timed([*hwmon, "report", str(log), "-o", str(out)])
            if done.returncode != 0:
                print(f"{log}: hwmon report failed: {done.stderr.decode(errors='replace')[-500:]}")
                continue
            html_kb = out.stat().st_size / 1024
        lines = int(grep.stdout.decode().strip() or 0)
        print(
            f"{log.name}: {size_mb:.0f} MB, {lines} lines -> report {html_kb:.1f} KiB in {report_s:.1f} s "
            f"({size_mb / report_s:.0f} MB/s; {report_s / grep_s:.1f}x grep -c's {grep_s:.2f} s), peak RSS {rss:.0f} MB"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
