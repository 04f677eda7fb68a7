"""Export throughput and memory of ``hwmon export`` on a large log, against ``grep -c`` on the same file in the same
run.

    python bench/bench_export.py [PATH] [--size 1G] [--format csv] [--keep]

Without PATH a Cerebras log of ``--size`` is generated (``bench/gen_cerebras_log.py``, seed 0) in a temporary
directory and removed afterwards (unless ``--keep``). Baseline: ``grep -c 'Step='`` over the file (one C pass; its
count is the number of step lines). Then ``hwmon export PATH --format FMT -o OUT`` runs as a child process (the real
command: read in 1 MiB chunks -> StreamParser(blocks=True) -> the reducer + the full-resolution row builder (CSV
and JSON Lines: a bulk batch whose decoder gives number texts is joined from them) -> the writer), its wall time,
peak RSS and CPU time measured (sampled with psutil every 10 ms), and the output's row count checked against
grep's. Prints rows/s, MB/s, the ratio to ``grep -c``, the child's peak RSS and CPU seconds; with the default
generated log a second, 8x smaller one is measured too, to show that peak RSS does not grow with file size.

Memory must stay flat (rows are streamed, never held). Target (issue 17, CSV): <= 20x ``grep -c``, <= 150 MB.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_HERE = Path(__file__).resolve().parent


def _warm(path: Path) -> None:
    with path.open("rb") as f:
        while f.read(16 << 20):
            pass


def _grep_steps(path: Path) -> tuple[float, int]:
    start = time.perf_counter()
    done = subprocess.run(["grep", "-c", "Step=", str(path)], capture_output=True, text=True, check=False)
    return time.perf_counter() - start, int(done.stdout.strip() or 0)


def _rows(out: Path, fmt: str) -> int:
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return int(pq.ParquetFile(out).metadata.num_rows)
    with out.open("rb") as f:
        count = sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(16 << 20), b""))
    return count - 1 if fmt == "csv" else count  # csv: minus the header


def _export(path: Path, fmt: str, out: Path) -> tuple[float, int, float]:
    """Wall seconds, peak RSS (KiB) and CPU seconds of ``hwmon export`` in a child process, its RSS sampled every
    10 ms with psutil (a child's own ru_maxrss would count the memory it shared with this process before exec); its
    CPU time is the last sample's (within 10 ms of the end): on a shared machine it moves less than the wall time."""
    import psutil

    start = time.perf_counter()
    proc = psutil.Popen(
        [sys.executable, "-m", "hwmon", "export", str(path), "--format", fmt, "-o", str(out)],
        env={**os.environ, "HWMON_HISTORY": "off"},
    )
    peak = 0
    cpu = 0.0
    while proc.poll() is None:
        try:
            peak = max(peak, proc.memory_info().rss)
            times = proc.cpu_times()
            cpu = times.user + times.system
        except psutil.Error:
            break
        time.sleep(0.01)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"hwmon export failed with {proc.returncode}")
    return elapsed, peak // 1024, cpu


def measure(path: Path, fmt: str, workdir: Path) -> dict[str, float]:
    _warm(path)
    grep_s, step_lines = _grep_steps(path)
    out = workdir / f"export.{'parquet' if fmt == 'parquet' else fmt}"
    export_s, peak_kib, cpu_s = _export(path, fmt, out)
    rows = _rows(out, fmt)
    out.unlink(missing_ok=True)
    size = path.stat().st_size
    return {
        "mb": size / 1e6,
        "grep_s": grep_s,
        "step_lines": step_lines,
        "export_s": export_s,
        "cpu_s": cpu_s,
        "rows": rows,
        "rows_per_s": rows / export_s,
        "mb_per_s": size / 1e6 / export_s,
        "ratio": export_s / grep_s if grep_s > 0 else float("inf"),
        "peak_rss_mb": peak_kib / 1024,
        "csv": 1.0 if fmt == "csv" else 0.0,
    }


def _print(label: str, m: dict[str, float]) -> None:
    ok = "==" if m["rows"] == m["step_lines"] else "!="
    print(
        f"{label}: {m['mb']:.0f} MB, {m['rows']:.0f} rows ({ok} grep -c Step= {m['step_lines']:.0f})\n"
        f"  grep -c      {m['grep_s']:7.2f} s\n"
        f"  hwmon export {m['export_s']:7.2f} s  {m['rows_per_s']:,.0f} rows/s  {m['mb_per_s']:.1f} MB/s  "
        f"{m['ratio']:.1f}x grep -c  peak RSS {m['peak_rss_mb']:.0f} MB  (CPU {m['cpu_s']:.2f} s)"
    )
    if m.get("csv"):
        met = m["ratio"] <= 20 and m["peak_rss_mb"] <= 150
        print(f"  target (issue 17, CSV: <= 20x grep -c, <= 150 MB): {'PASS' if met else 'MISS'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", nargs="?", type=Path, help="a log (default: generate a Cerebras log of --size)")
    parser.add_argument("--size", default="1G", help="size of the generated log (default 1G)")
    parser.add_argument("--format", default="csv", choices=["csv", "jsonl", "parquet"], help="export format")
    parser.add_argument("--keep", action="store_true", help="keep the generated log")
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="hwmon-bench-export-"))
    try:
        if args.path is not None:
            _print(str(args.path), measure(args.path, args.format, workdir))
            return 0
        sys.path.insert(0, str(_HERE))
        from gen_cerebras_log import parse_size

        size = parse_size(args.size)
        results = []
        for label, nbytes in ((f"{args.size}/8", size // 8), (args.size, size)):
            log = workdir / f"cs_{nbytes}.log"
            # Generated in a child process, so that this process stays small (the export child starts as its copy).
            subprocess.run(
                [sys.executable, str(_HERE / "gen_cerebras_log.py"), "--out", str(log), "--size", str(nbytes)],
                check=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            results.append((label, measure(log, args.format, workdir)))
            if not args.keep:
                log.unlink()
            else:
                print(f"kept {log}")
        for label, m in results:
            _print(f"generated {label} ({args.format})", m)
        small, big = results[0][1], results[1][1]
        print(
            f"peak RSS {big['peak_rss_mb']:.0f} MB at {big['mb']:.0f} MB vs {small['peak_rss_mb']:.0f} MB at "
            f"{small['mb']:.0f} MB: {'flat' if big['peak_rss_mb'] < 1.5 * small['peak_rss_mb'] else 'GROWS'}"
        )
        return 0
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
