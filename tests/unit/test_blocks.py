"""The bulk fast path of every format (``hwmon.parsers.blocks``): a block read in bulk gives the same events as the
same bytes fed line by line, field by field (provenance included), in any chunking; its batches read back as
columns (``StepBatch.columns()``, the decoder the batch carries) give every step the line path gives. Megatron's
iteration lines (the mixed GPU log of bench/gen_gpu_log.py, launcher prefixes, two ranks, the loop's last
iteration), and ``TemplateDecoder`` over hand-made lines."""

from __future__ import annotations

import random
import re
import subprocess
import sys
from pathlib import Path

import pytest

from hwmon.events import Event, ProgressBatch, RunCompleted, StepBatch, StepColumns, StepMetrics, expand_steps
from hwmon.parsers.base import Line
from hwmon.parsers.blocks import TemplateDecoder
from hwmon.parsers.megatron import ITERATION, iteration_step
from hwmon.parsers.records import RecordReader
from hwmon.parsers.stream import StreamParser

ROOT = Path(__file__).resolve().parents[2]
GEN_GPU = ROOT / "bench" / "gen_gpu_log.py"


def events(data: bytes, blocks: bool, chunks: list[int] | None = None) -> list[Event]:
    parser = StreamParser(blocks=blocks)
    out: list[Event] = []
    pos = 0
    for size in chunks or [len(data) or 1]:
        out += parser.feed(data[pos : pos + size])
        pos += size
    out += parser.feed(data[pos:])
    return out + parser.finish()


def flat(found: list[Event]) -> list[tuple[str, str, str]]:
    """Every event with batches expanded into their steps and redraws: (kind, repr, rule)."""
    out: list[tuple[str, str, str]] = []
    for event in found:
        if isinstance(event, StepMetrics | StepBatch):
            out += [("step", repr(s), s.rule) for s in expand_steps(event)]
        elif isinstance(event, ProgressBatch):
            out += [("ProgressUpdate", repr(u), u.rule) for u in event.updates()]
        else:
            out.append((type(event).__name__, repr(event), event.rule))
    return out


_LINE = re.compile(r"\(line=(\d+)")


def by_line(found: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """``flat`` events in the order of their lines (stable: within a line, as they came)."""
    return sorted(found, key=lambda item: int(m.group(1)) if (m := _LINE.match(item[1][item[1].index("(") :])) else 0)


def random_chunks(size: int, seed: int) -> list[int]:
    rng = random.Random(seed)
    chunks: list[int] = []
    while sum(chunks) < size:
        chunks.append(rng.choice([1, 7, 4096, 65537, 1 << 20]))
    return chunks


def check_batches(found: list[Event]) -> int:
    """Every batch's columns against the line path's reading of each of its lines; returns the steps batched."""
    reader = RecordReader()
    batched = 0
    for event in found:
        if not isinstance(event, StepBatch):
            continue
        rows = [m for piece in event.columns() for m in piece.rows()]
        lines = event.raw.decode().split("\n")[:-1]
        assert len(rows) == len(lines) == event.count
        for offset, (row, text) in enumerate(zip(rows, lines, strict=True)):
            record = reader.read(Line(row.line, 0, text))
            m = ITERATION.match(record.msg)
            if m is None:
                continue  # another format's batch (Cerebras): its own tests
            expected = iteration_step(m, record)
            assert repr(row) == repr(expected) and row.rule == expected.rule == "megatron:iteration", offset
            batched += 1
    return batched


@pytest.fixture(scope="module")
def gpu_log(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    out = tmp_path_factory.mktemp("gpu") / "gpu.log"
    subprocess.run([sys.executable, str(GEN_GPU), "--out", str(out), "--size", "5M"], check=True, capture_output=True)
    return out.read_bytes()


@pytest.mark.integration  # a real process for seconds: the integration lane
def test_the_mixed_gpu_log_in_bulk_equals_line_by_line(gpu_log: bytes) -> None:
    slow = flat(events(gpu_log, blocks=False))
    fast_events = events(gpu_log, blocks=True, chunks=[1 << 20] * 8)
    # A run of (bar line, log dict) pairs read in bulk (hwmon.parsers.stream_runs) gives its bar states, then its
    # steps: each line's events are the line path's, in its order; the lines' own order is compared.
    assert by_line(flat(fast_events)) == by_line(slow)
    iterations = len(re.findall(rb"\] iteration +\d+/", gpu_log))
    # The fast path took most iteration lines (not every one: those that change state go line by line).
    assert check_batches(fast_events) > 0.9 * iterations
    # The loop's last iteration is read line by line, and completes the run once per segment.
    completed = [e for e in fast_events if isinstance(e, RunCompleted) and e.rule == "megatron:iteration"]
    assert len(completed) == gpu_log.count(b"iteration     5000/    5000 |")


@pytest.mark.parametrize("seed", [1, 2])
def test_any_chunking_gives_the_same_events(gpu_log: bytes, seed: int) -> None:
    head = gpu_log[: 3 << 20]
    fast = flat(events(head, blocks=True, chunks=random_chunks(len(head), seed)))
    assert by_line(fast) == by_line(flat(events(head, blocks=False)))  # (runs of pairs: see the test above)


def _iteration(rank: int, step: int, total: int = 900, loss: str = "2.500000E+00") -> bytes:
    return (
        b"[default%d]: iteration %8d/%8d | consumed samples: %12d | elapsed time per iteration (ms): 512.5 | "
        b"learning rate: 3.000E-04 | global batch size:   512 | lm loss: %s | loss scale: 1.0 | grad norm: 0.250 |"
        b"\n" % (rank, step, total, step * 512, loss.encode())
    )


def test_other_ranks_iterations_are_not_counted_in_bulk() -> None:
    # Rank 1's lines come first (the stream reads the lowest rank seen), then rank 0 takes over: in bulk as line
    # by line, rank 1's iterations after that are not steps.
    data = b"".join(_iteration(1, s) for s in range(1, 200))
    data += b"".join(_iteration(0, s) + _iteration(1, s + 200) for s in range(1, 400))
    data += b"".join(_iteration(1, s) for s in range(400, 800))
    fast = events(data, blocks=True)
    assert flat(fast) == flat(events(data, blocks=False))
    steps = [s for e in fast for s in expand_steps(e)]
    assert any(isinstance(e, StepBatch) for e in fast)
    assert [s.step for s in steps[-5:]] == [395, 396, 397, 398, 399]  # rank 0's last iterations


def test_the_last_iteration_inside_a_block_completes_the_run_once() -> None:
    data = b"".join(_iteration(0, s, total=600) for s in range(1, 601))
    data += b"".join(_iteration(0, s, total=600) for s in range(1, 301))  # a second loop in the same file
    fast = events(data, blocks=True)
    assert flat(fast) == flat(events(data, blocks=False))
    assert [e.line for e in fast if isinstance(e, RunCompleted)] == [600]
    assert sum(e.count for e in fast if isinstance(e, StepBatch)) > 800


def test_odd_iteration_lines_in_a_batch_read_like_the_line_path() -> None:
    # A NaN loss, a field missing, a percentage: the template does not take those lines; the decoder reads them
    # with the line path's own function.
    lines = [_iteration(0, s) for s in range(1, 400)]
    lines[100] = _iteration(0, 101, loss="nan")
    lines[200] = lines[200].replace(b" grad norm: 0.250 |", b"")
    lines[300] = lines[300].replace(b"grad norm: 0.250", b"grad norm: 25.0%")
    data = b"".join(lines)
    fast = events(data, blocks=True)
    assert flat(fast) == flat(events(data, blocks=False))
    assert check_batches(fast) > 300


# --- TemplateDecoder ---------------------------------------------------------------------------------------------

_PATTERN = (
    rb"(?P<ts>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(?P<frac>\d{3}) step (?P<step>\d+) loss (?P<loss>\S+) acc (?P<acc>\S+)%"
)


def _fallback(text: str, number: int) -> StepMetrics | None:
    m = re.search(r"step (\d+) loss (\S+)", text)
    return None if m is None else StepMetrics(number, None, int(m.group(1)), loss=float(m.group(2)), rule="t:1")


def test_template_decoder_reads_columns_and_falls_back_per_line() -> None:
    decoder = TemplateDecoder(
        "t:1",
        _PATTERN,
        {"ts": "ts", "frac": "ts_frac", "step": "step", "loss": "loss", "acc": "extra%:acc"},
        rate_unit="it/s",
        line=_fallback,
    )
    raw = b"".join(b"2024-05-01 10:00:%02d,%03d step %d loss %d.25 acc 50%%\n" % (s, s * 7, s, s) for s in range(9))
    (columns,) = decoder.decode(raw, 41)
    rows = list(columns.rows())
    assert [r.line for r in rows] == list(range(41, 50)) and [r.step for r in rows] == list(range(9))
    assert rows[3].loss == 3.25 and rows[3].extra == (("acc", 0.5),) and rows[3].rule == "t:1"
    assert rows[3].ts is not None and rows[3].ts.isoformat() == "2024-05-01T10:00:03.021000"
    assert columns.iso is not None and columns.iso[3] == "2024-05-01T10:00:03.021000"
    # A line the template does not take: read by the format's own function, the rest still read.
    mixed = raw.replace(b"step 4 loss 4.25 acc 50%", b"step 4 loss 4.25")
    pieces = decoder.decode(mixed, 1)
    steps = [m for piece in pieces for m in piece.rows()]
    assert [m.step for m in steps] == list(range(9)) and steps[4].extra == () and steps[4].ts is None


def test_step_columns_of_and_row_agree() -> None:
    steps = [
        StepMetrics(1, None, 1, loss=2.0, extra=(("lr", 0.1),), rule="a:b"),
        StepMetrics(2, None, 2, loss=1.5, extra=(("lr", 0.1),), rule="a:b"),
        StepMetrics(3, None, 3, loss=1.0, extra=(("lr", 0.1), ("acc", 0.5)), rule="a:b"),
        StepMetrics(4, None, 4, loss=1.0, mode="eval", rule="a:b"),
    ]
    pieces = StepColumns.of(steps)
    assert len(pieces) == 3
    back = [m for piece in pieces for m in piece.rows()]
    assert back == steps and [m.rule for m in back] == ["a:b"] * 4


# --- nanoGPT ------------------------------------------------------------------------------------------------------


def _nanogpt_log(iters: int, max_iters: int | None = None) -> bytes:
    lines = [b"compiling the model... (takes a ~minute)"]
    if max_iters is not None:
        lines.insert(0, b"Overriding: max_iters = %d" % max_iters)
    for i in range(iters):
        if i % 250 == 0:
            lines.append(b"step %d: train loss %.4f, val loss %.4f" % (i, 4.0 - i / 1000, 4.1 - i / 1000))
            lines.append(b"saving checkpoint to out-shakespeare-char")
        mfu = b"" if i < 5 else b", mfu %.2f%%" % (30 + i % 7)
        time = b"0.00" if i == 3 else b"%.2f" % (40 + i % 11)
        lines.append(b"iter %d: loss %.4f, time %sms%s" % (i, 4.2 - i / 900, time, mfu))
        if i == 1200:
            lines.append(b"iter %d: loss 2.0, time elapsed 3ms" % i)  # looks like one, is not: no step
    return b"\n".join(lines) + b"\n"


@pytest.mark.parametrize("max_iters", [None, 1610])
def test_nanogpt_iter_lines_in_bulk_equal_line_by_line(max_iters: int | None) -> None:
    data = _nanogpt_log(2000, max_iters)
    data += b"iter 2000: loss 1.0000, time 1.00ms, mfu 1.00% (a note)\niter 2001: loss nan, time 1.00ms\n"
    fast = events(data, blocks=True)
    assert flat(fast) == flat(events(data, blocks=False))
    batched = [e for e in fast if isinstance(e, StepBatch)]
    assert sum(e.count for e in batched) > 1500 and all(e.rule == "nanogpt:iter" for e in batched)
    for batch in batched:
        rows = [m for piece in batch.columns() for m in piece.rows()]
        assert len(rows) == batch.count and all(m.rule == "nanogpt:iter" for m in rows)
    completed = [e.line for e in fast if isinstance(e, RunCompleted)]
    assert len(completed) == (1 if max_iters else 0)
    for seed in (3, 4):
        assert flat(events(data, blocks=True, chunks=random_chunks(len(data), seed))) == flat(
            events(data, blocks=False)
        )


# --- every format: the block path equals the line path -------------------------------------------------------------

FIXTURES = ROOT / "tests" / "fixtures"


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*.log")))
def test_every_fixture_read_in_blocks_equals_line_by_line(name: str) -> None:
    # Repeated to well past the splitter's block size, so each format's lines arrive in blocks (and, where a
    # format has a fast path, as batches), in two chunkings; the events, batches expanded, are the line path's.
    one = (FIXTURES / name).read_bytes()
    if not one.endswith(b"\n"):
        one += b"\n"
    data = one * max(1, (160 << 10) // max(1, len(one)))
    slow = flat(events(data, blocks=False))
    assert flat(events(data, blocks=True, chunks=[1 << 20])) == slow
    assert flat(events(data, blocks=True, chunks=[65537] * (len(data) // 65537 + 1))) == slow


# --- runs of \r redraws ---------------------------------------------------------------------------------------------


def _bar(n: int, total: int = 50, tail: str = "") -> str:
    pct = 100 * n // total
    return f"{pct:3d}%|{'█' * (pct // 10):<10}| {n}/{total} [00:{n % 60:02d}<00:30, {9 + n / 7:.2f}it/s{tail}]"


def _redraw_line(ns: range | list[int], total: int = 50, tail: str = "", name: str = "") -> bytes:
    return ("\r".join(f"{name}{_bar(n, total, tail)}" for n in ns) + "\n").encode()


def test_a_run_of_plain_redraws_is_one_batch_equal_to_its_redraws() -> None:
    data = b"start\n" + b"".join(_redraw_line(range(k * 10, k * 10 + 10)) for k in range(5)) + b"done\n"
    fast = events(data, blocks=True)
    assert flat(fast) == flat(events(data, blocks=False))
    batches = [e for e in fast if isinstance(e, ProgressBatch)]
    assert len(batches) == 5 and all(b.count == 9 for b in batches)  # the line's last state is its final line
    assert all(b.rule == "tqdm:bar" for b in batches)
    # The reducer's state after a batch is the state after its redraws one by one.
    from hwmon.model.summary import summarize_events, summary_dict

    slow_state = summarize_events(events(data, blocks=False), "x")
    assert summary_dict(summarize_events(fast, "x")) == summary_dict(slow_state)


@pytest.mark.parametrize(
    "data",
    [
        # A named bar: a phase of its own, not a plain redraw.
        _redraw_line(range(10), name="Epoch 1: "),
        # A postfix with a loss: training steps, one per redraw.
        _redraw_line(range(10), tail=", loss=0.5"),
        # The anonymous bar opened a phase (it showed a loss before): a redraw reaching the total ends it.
        _redraw_line(range(3), tail=", loss=0.5") + _redraw_line([*range(44, 51), 50, 50, 50]),
        # An HF loss dict waits for the bar drawn next: the first redraw releases it, the rest are a batch.
        b"{'loss': 0.5, 'learning_rate': 1e-05, 'epoch': 0.1}\n" + _redraw_line(range(10, 20)),
        # A PopTorch warning whose unprefixed repeat the Graphcore parser waits to swallow.
        b"[12:00:00.000] [poptorch::python] [warning] careful\n" + _redraw_line(range(10)),
        # An abort waiting for its what(): the next line (the bar's first redraw) reports it without one.
        b"terminate called after throwing an instance of 'poplar::graph_memory_allocation_error'\n"
        + _redraw_line(range(10)),
        # Bars of two totals on one line.
        _redraw_line(range(5)).rstrip(b"\n") + b"\r" + _redraw_line(range(5), total=60),
    ],
    ids=["named", "loss-postfix", "phase-bar", "hf-dict", "poptorch-repeat", "poplar-abort", "two-totals"],
)
def test_redraws_that_change_more_than_the_bar_go_one_by_one(data: bytes) -> None:
    data = b"x\n" + data * 3
    assert flat(events(data, blocks=True)) == flat(events(data, blocks=False))
    for seed in (5, 6):
        chunks = random_chunks(len(data), seed)
        assert flat(events(data, blocks=True, chunks=chunks)) == flat(events(data, blocks=False))


def test_the_mixed_gpu_log_reads_most_redraws_in_batches(gpu_log: bytes) -> None:
    head = gpu_log[: 2 << 20]
    fast = events(head, blocks=True, chunks=[1 << 20] * 3)
    batched = sum(e.count for e in fast if isinstance(e, ProgressBatch))
    assert batched > 0.7 * head.count(b"\r")
