"""The learned stage's cost per line (issue 17: "cheap per line: this stage sees every line no rule took").

    python bench/bench_learned.py [PATH] [--size 20M]

On the same (page-cached) mixed GPU log (``bench/gen_gpu_log.py``; generated when PATH is not given), in one run:

1. ``grep -c ''`` and ``grep -c loss``: the baseline (one C pass over the file);
2. the whole file through ``StreamParser`` with the learned stage and with it switched off: the stage's overhead
   on a log whose every step line a rule reads (it sees only what no rule took), in µs per line;
3. the stage alone (structured lines, column tables, templates) fed EVERY record of the file: the worst case, as if
   no rule existed — µs per line, and for templates how often a line was read by a whole-template match (the last
   templates tried first) rather than cut at its numbers;
4. the whole file through ``StreamParser`` with the Megatron and HF Trainer rules removed from the chain, so that
   templates and structured lines read every step: MB/s, µs per line and the ratio to ``grep -c``.

Every figure is CPU time (the fastest of ``--repeat`` runs; grep's as a child's user+system time), so the
machine's other load, which wall time would count, does not; the load is printed anyway. Not a timed test.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(_HERE))


def _grep(pattern: str, path: Path) -> float:
    """CPU seconds of ``grep -c PATTERN PATH`` (a child's user+system time: the machine's other load does not
    count, as it would in wall time)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(["grep", "-c", pattern, str(path)], capture_output=True, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _parse(data: bytes) -> tuple[float, int]:
    """CPU seconds of the whole stream over ``data`` and the number of events."""
    from hwmon.parsers.stream import StreamParser

    parser = StreamParser(blocks=True)
    start = time.process_time()
    events = len(parser.feed(data))
    events += len(parser.finish())
    return time.process_time() - start, events


def _best(run: Callable[[], tuple[float, int]], times: int) -> float:
    return min(run()[0] for _ in range(times))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("path", nargs="?", type=Path)
    ap.add_argument("--size", default="20M", help="size of the generated log when PATH is not given (default 20M)")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each stream measure; the fastest counts (default 3)")
    args = ap.parse_args()
    tmp: tempfile.TemporaryDirectory[str] | None = None
    path = args.path
    if path is None:
        tmp = tempfile.TemporaryDirectory()
        path = Path(tmp.name) / "gpu.log"
        subprocess.run(
            [sys.executable, str(_HERE / "gen_gpu_log.py"), "--out", str(path), "--size", args.size],
            check=True,
            capture_output=True,
        )
    data = path.read_bytes()
    lines = data.count(b"\n")
    mb = len(data) / 1e6
    print(f"file {path}: {mb:.1f} MB, {lines} lines; load: {os.getloadavg()[0]:.2f} (1 min)")
    grep_all = min(_grep("", path) for _ in range(5))
    grep_loss = min(_grep("loss", path) for _ in range(5))
    print(f"CPU seconds (fastest of {args.repeat}; wall time is the machine's load, CPU time is ours):")
    print(f"grep -c '': {grep_all:.3f} s   grep -c loss: {grep_loss:.3f} s")

    from hwmon.parsers import learned, stream
    from hwmon.parsers.hftrainer import HfTrainerParser
    from hwmon.parsers.megatron import MegatronParser

    real_after = learned.LearnedStage.after
    ons: list[float] = []
    offs: list[float] = []
    for _ in range(args.repeat):  # alternated, so drifts in the machine's load hit both alike
        ons.append(_parse(data)[0])
        learned.LearnedStage.after = lambda self, record, events: None  # type: ignore[method-assign]
        offs.append(_parse(data)[0])
        learned.LearnedStage.after = real_after  # type: ignore[method-assign]
    on, off = min(ons), min(offs)
    print(
        f"(2) stream with the learned stage {on:.2f} s, without {off:.2f} s: "
        f"{(on - off) / lines * 1e6:+.2f} µs/line overhead ({(on / off - 1) * 100:+.1f} %)"
    )

    from hwmon.parsers.lines import LineSplitter
    from hwmon.parsers.records import RecordReader
    from hwmon.parsers.structured import StructuredLines
    from hwmon.parsers.tables import ColumnTables
    from hwmon.parsers.templates import TemplateStage

    reader = RecordReader()
    records = [reader.read(line) for line in LineSplitter().feed(data) if getattr(line, "final", False)]
    for name, factory in (("structured", StructuredLines), ("tables", ColumnTables), ("templates", TemplateStage)):
        stage = factory()
        start = time.process_time()
        for record in records:
            stage.feed(record)
        took = time.process_time() - start
        extra = ""
        if isinstance(stage, TemplateStage):
            share = stage.whole_matches / len(records) * 100
            extra = f", {len(stage.templates)} templates learned, {share:.0f} % of lines matched whole"
        print(f"(3) {name} alone on every line: {took / len(records) * 1e6:.2f} µs/line{extra}")

    chain = stream.PARSER_CHAIN
    stream.PARSER_CHAIN = tuple(p for p in chain if p not in (MegatronParser, HfTrainerParser))
    try:
        without_rules = _best(lambda: _parse(data), args.repeat)
    finally:
        stream.PARSER_CHAIN = chain
    print(
        f"(4) without the Megatron/HF rules (templates read every step): {without_rules:.2f} s, "
        f"{mb / without_rules:.1f} MB/s, {without_rules / lines * 1e6:.1f} µs/line, "
        f"{without_rules / grep_loss:.0f}x grep -c loss; with the rules: {on:.2f} s, {on / grep_loss:.0f}x"
    )
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
