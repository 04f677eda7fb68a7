"""Lines lost and read twice when a followed log is rotated under a steady writer: hwmon's follower next to GNU
``tail -F``, both following the same file in the same run. Prints figures; it is not a timed test.

    .venv/bin/python bench/bench_rotate.py [--rate 2000] [--seconds 10] [--every 1.0] [--cases copytruncate,rewrite]

A writer process appends numbered lines (``ID-0000001``) at RATE lines/s for SECONDS, flushing every 10 ms. Every
EVERY seconds the log is rotated one way:

  * ``copytruncate`` (logrotate's option): a separate rotator process copies the file to ``run.log.<k>`` and
    truncates it in place, while the writer (O_APPEND) goes on writing. Lines written between the end of the
    copy and the truncation are in no file at all: they are lost by the rotation itself, for any reader, and
    are counted separately ("gone").
  * ``rewrite`` (atomic replace): the writer writes the whole content to a temporary file and renames it over the
    log, then goes on appending to the new file. Nothing is lost by the rotation; a reader that reads the new file
    from its start reads everything again.

Both followers start before the writer. The hwmon follower is ``FollowSource(FileFollower(log))`` (inotify, the
same code ``hwmon attach`` uses) in its own process, printing every line it yields. Columns: lines written, lines
lost (written, not "gone", never seen), lines seen more than once (extra copies), and the "gone" count.
"""

from __future__ import annotations

import argparse
import collections
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

WRITER = r"""
import os, sys, time
path, rate, seconds, every, mode = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
tick = 0.01
per_tick = max(1, round(rate * tick))
n = 0
k = 0
fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
start = time.monotonic()
next_rotation = start + every
ticks = 0
while time.monotonic() - start < seconds:
    lines = []
    for _ in range(per_tick):
        n += 1
        lines.append(f"ID-{n:07d}\n")
    os.write(fd, "".join(lines).encode())
    ticks += 1
    now = time.monotonic()
    if now >= next_rotation:
        next_rotation += every
        k += 1
        if mode == "copytruncate":
            pass  # done by the rotator (a separate process, as logrotate is), while this writer goes on
        else:
            with open(path, "rb") as src:
                content = src.read()
            tmp = f"{path}.tmp"
            with open(tmp, "wb") as dst:
                dst.write(content)
            os.replace(tmp, path)
            os.close(fd)
            fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    delay = start + ticks * tick - time.monotonic()
    if delay > 0:
        time.sleep(delay)
os.write(fd, b"END\n")
os.close(fd)
print(n)
"""

ROTATOR = r"""
import os, shutil, sys, time
path, seconds, every = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
start = time.monotonic()
k = 0
while True:
    k += 1
    wake = start + k * every
    if wake >= start + seconds:
        break
    time.sleep(max(0.0, wake - time.monotonic()))
    shutil.copyfile(path, f"{path}.{k}")  # logrotate's copytruncate: copy, then truncate in place
    os.truncate(path, 0)
"""

HWMON_FOLLOWER = r"""
import asyncio, sys
from hwmon.sources.follow import FileFollower
from hwmon.sources.source import FollowSource

async def main() -> None:
    source = FollowSource(FileFollower(sys.argv[1]), keep_lines=1_000_000)
    out = sys.stdout
    async for batch in source.batches():
        out.write("".join(line + "\n" for line in batch.lines))
        out.flush()
        if "END" in batch.lines:
            source.close()
            return

asyncio.run(main())
"""


def count(path: Path) -> collections.Counter[str]:
    seen: collections.Counter[str] = collections.Counter()
    with path.open("rb") as fh:
        for raw in fh:
            line = raw.decode("ascii", "replace").strip()
            if line.startswith("ID-"):
                seen[line] += 1
    return seen


def run_case(
    mode: str, rate: float, seconds: float, every: float, hwmon_src: str | None
) -> list[tuple[str, int, int, int, int]]:
    env = dict(os.environ)
    if hwmon_src:
        env["PYTHONPATH"] = hwmon_src  # another hwmon tree (e.g. an older commit's src/) for a before/after
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "run.log"
        log.touch()
        tail_out, hwmon_out = Path(tmp) / "tail.out", Path(tmp) / "hwmon.out"
        python = (
            str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv" / "bin" / "python").exists() else sys.executable
        )
        with tail_out.open("wb") as t_out, hwmon_out.open("wb") as h_out:
            tail = subprocess.Popen(["tail", "-F", "-n", "+1", str(log)], stdout=t_out, stderr=subprocess.DEVNULL)
            follower = subprocess.Popen([python, "-c", HWMON_FOLLOWER, str(log)], stdout=h_out, env=env)
            time.sleep(1.0)  # both are following before the first line
            rotator = None
            if mode == "copytruncate":
                rotator = subprocess.Popen([python, "-c", ROTATOR, str(log), str(seconds), str(every)])
            writer = subprocess.run(
                [python, "-c", WRITER, str(log), str(rate), str(seconds), str(every), mode],
                capture_output=True,
                text=True,
                check=True,
                env=env,
            )
            written = int(writer.stdout.strip())
            if rotator is not None:
                rotator.wait(10)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and follower.poll() is None:
                time.sleep(0.1)
            time.sleep(1.0)  # tail -F has no end: give it the same second after the last line
            tail.terminate()
            if follower.poll() is None:
                follower.terminate()
            tail.wait(10)
            follower.wait(10)
        # What is still somewhere on disk: the copies and the final log. A line in none of them was lost by the
        # rotation itself (copytruncate's window), not by a reader.
        on_disk: set[str] = set()
        for path in Path(tmp).glob("run.log*"):
            on_disk.update(count(path))
        expected = {f"ID-{i:07d}" for i in range(1, written + 1)}
        gone = len(expected - on_disk)
        rows = []
        for name, out in (("tail -F", tail_out), ("hwmon", hwmon_out)):
            seen = count(out)
            lost = len((expected & on_disk) - set(seen))
            dup = sum(c - 1 for c in seen.values() if c > 1)
            rows.append((name, written, lost, dup, gone))
        return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=2000.0, help="lines per second (default 2000)")
    parser.add_argument("--seconds", type=float, default=10.0, help="how long the writer writes (default 10)")
    parser.add_argument("--every", type=float, default=1.0, help="seconds between rotations (default 1)")
    parser.add_argument("--cases", default="copytruncate,rewrite")
    parser.add_argument("--hwmon-src", help="import hwmon from this src/ directory instead (a before/after)")
    args = parser.parse_args()
    print(f"{'case':13s} {'follower':9s} {'written':>8s} {'lost':>7s} {'dup':>8s} {'gone':>6s}")
    for mode in args.cases.split(","):
        for name, written, lost, dup, gone in run_case(mode, args.rate, args.seconds, args.every, args.hwmon_src):
            print(
                f"{mode:13s} {name:9s} {written:8d} {lost:7d} {dup:8d} {gone:6d}"
                f"   lost {100.0 * lost / max(1, written):5.2f} %"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
