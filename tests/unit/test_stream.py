"""StreamParser: prefixes, Slurm, parser chain and de-duplication, vendor, blocks, kept lines, corpus smoke test."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.helpers.chunking import assert_chunking_invariant, stream_events

from hwmon.events import (
    ErrorSeen,
    Event,
    JobIdSeen,
    ModelSummary,
    PhaseEnded,
    PhaseStarted,
    RunCompleted,
    RunStarted,
    StepBatch,
    StepMetrics,
    VendorDetected,
    WarningSeen,
)
from hwmon.model.reducer import apply_all
from hwmon.model.state import RunState
from hwmon.model.summary import summary_dict
from hwmon.parsers.base import Line, LineBlock
from hwmon.parsers.records import strip_prefix
from hwmon.parsers.stream import MIN_BLOCK_LINES, StreamParser, parse_bytes
from hwmon.sources.read import summarize_bytes

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"


def shared_logs() -> list[Path]:
    return sorted((SHARED / "seed").glob("*.log")) + sorted((SHARED / "corpus").glob("*.log"))


# ---------------------------------------------------------------------------------------------- prefixes


@pytest.mark.parametrize(
    ("raw", "stripped", "rank"),
    [
        ("[1,0]<stdout>:loss=0.5", "loss=0.5", 0),
        ("[1,3]<stderr>: Traceback (most recent call last):", "Traceback (most recent call last):", 3),
        ("[poprun] instance 2: loss=0.5", "instance 2: loss=0.5", None),
        ("[node17:3] loss=0.5", "loss=0.5", 3),
        ("[2] loss=0.5", "loss=0.5", 2),
        ("0: loss=0.5", "loss=0.5", 0),
        ("[rank1]: iteration 5/ 10 |", "iteration 5/ 10 |", 1),
        ("[default0]:step 10: train loss 4.2", "step 10: train loss 4.2", 0),
        ("[1,0]<stdout>:3: loss=0.5", "loss=0.5", 3),  # mpirun tag + srun label: the inner one names the rank
        ("[04:09:02.177] [poptorch::python] [warning] x", "[04:09:02.177] [poptorch::python] [warning] x", None),
        ("2024-03-30 12:53:41,263 INFO: x", "2024-03-30 12:53:41,263 INFO: x", None),
        ("[12:34] not a rank", "[12:34] not a rank", None),
        ("100%|████| 10/10", "100%|████| 10/10", None),
    ],
)
def test_strip_launcher_prefix(raw: str, stripped: str, rank: int | None) -> None:
    assert strip_prefix(raw) == (stripped, rank)


def test_prefixed_lines_reach_the_parsers_but_kept_lines_keep_the_prefix() -> None:
    data = (
        b"[1,0]<stdout>:epoch=1 step=5 loss=0.75\n"
        b"[1,0]<stderr>:Traceback (most recent call last):\n"
        b'[1,0]<stderr>:  File "t.py", line 3, in <module>\n'
        b"[1,0]<stderr>:ValueError: boom\n"
    )
    parser = StreamParser(keep_lines=10)
    got = parser.feed(data) + parser.finish()
    steps = [e for e in got if isinstance(e, StepMetrics)]
    assert [(s.step, s.loss) for s in steps] == [(5, 0.75)]
    assert [(e.message, e.kind) for e in got if isinstance(e, ErrorSeen)] == [("ValueError: boom", "traceback")]
    assert parser.pop_lines()[0] == "[1,0]<stdout>:epoch=1 step=5 loss=0.75"
    assert parser.pop_lines() == []


# ---------------------------------------------------------------------------------------------- Slurm


def test_srun_job_ids_run_start_and_queue_phase() -> None:
    data = (
        b"srun: job 2623 queued and waiting for resources\n"
        b"srun: job 2623 has been allocated resources\n"
        b"hello\n"
        b"srun: error: nid0042: task 0: Exited with exit code 1\n"
        b"srun: warning: can't honor --ntasks-per-node set to 8\n"
    )
    got = parse_bytes(data)
    assert got[:4] == [
        RunStarted(1, None, None),
        JobIdSeen(1, None, "2623", "slurm"),
        PhaseStarted(1, None, "queue", "Slurm: waiting for resources"),
        PhaseEnded(2, None, "queue"),
    ]
    assert [(e.kind, e.fatal) for e in got if isinstance(e, ErrorSeen)] == [("slurm", True)]
    assert [e.source for e in got if isinstance(e, WarningSeen)] == ["slurm"]
    assert sum(isinstance(e, JobIdSeen) for e in got) == 1


def test_salloc_granted_without_queue() -> None:
    got = parse_bytes(b"salloc: Granted job allocation 99\n")
    assert got == [RunStarted(1, None, None), JobIdSeen(1, None, "99", "slurm")]


# ---------------------------------------------------------------------------------------------- chain


def test_generic_step_dropped_when_a_format_parser_reported_the_line() -> None:
    line = b"2024-03-30 13:03:05,540 INFO:   | Train Device=CSX, Step=100, Loss=9.48438, Rate=6855.28 samples/sec\n"
    steps = [e for e in parse_bytes(line) if isinstance(e, StepMetrics)]
    assert len(steps) == 1 and steps[0].step == 100 and steps[0].loss == 9.48438


def test_generic_fills_in_for_unknown_formats() -> None:
    steps = [e for e in parse_bytes(b"iter 12 | loss=0.5 | acc=0.9\n") if isinstance(e, StepMetrics)]
    assert [(s.step, s.loss) for s in steps] == [(12, 0.5)]


def test_fixtures_chunking_invariant_through_the_whole_chain() -> None:
    for name in ("generic_train.log", "modeltree_glued.log"):
        data = (FIXTURES / name).read_bytes()
        got = assert_chunking_invariant(stream_events, data, seeds=(0, 1, 2))
        assert got, name
    tree = [e for e in stream_events([(FIXTURES / "modeltree_glued.log").read_bytes()]) if isinstance(e, ModelSummary)]
    assert [t.root.type for t in tree] == ["ResNetWithHead"]


# ---------------------------------------------------------------------------------------------- vendor


def test_vendor_evidence_is_facts_the_reducer_decides() -> None:
    # The parsers report every piece of evidence (once per vendor/device); the reducer decides: the first decides,
    # a stronger one refines, a weaker one later changes nothing.
    data = b"Using device: cpu\nUsing device: cpu\ndevice=cuda\nmoved to cuda:0\nUsing device: cpu\n"
    got = parse_bytes(data)
    hints = [(e.vendor, e.device) for e in got if isinstance(e, VendorDetected)]
    assert hints == [("cpu", None), ("gpu", None), ("gpu", "cuda:0")]
    state = summarize_bytes(data, "x")
    assert (state.vendor, state.device) == ("gpu", "cuda:0")


def test_vendor_none_for_plain_text() -> None:
    parser = StreamParser()
    got = parser.feed(b"hello\nworld\n") + parser.finish()
    assert not [e for e in got if isinstance(e, VendorDetected)] and parser.lines_seen == 2
    assert summarize_bytes(b"hello\nworld\n", "x").vendor is None


# ---------------------------------------------------------------------------------------------- lines and blocks


def test_pop_lines_keeps_only_final_lines_and_the_last_n() -> None:
    parser = StreamParser(keep_lines=3)
    parser.feed(b"a\nb\rc\nd\ne\nf")
    assert parser.pop_lines() == ["c", "d", "e"]
    parser.finish()
    assert parser.pop_lines() == ["f"]
    assert parser.lines_seen == 5


def test_pop_lines_disabled_by_default() -> None:
    parser = StreamParser()
    parser.feed(b"a\n")
    assert parser.pop_lines() == []


def _generic_lines(count: int) -> bytes:
    return b"".join(b"iteration %d: loss=%d.5 note=%s\n" % (i, i % 7, b"x" * 20) for i in range(count))


def test_block_nobody_takes_is_bisected_to_lines_with_equal_events() -> None:
    data = _generic_lines(6000)
    line_events = parse_bytes(data)
    parser = StreamParser(blocks=True, keep_lines=4)
    got = parser.feed(data) + parser.finish()
    assert got == line_events
    assert len([e for e in got if isinstance(e, StepMetrics)]) == 6000
    assert parser.lines_seen == 6000
    assert parser.pop_lines() == [f"iteration {i}: loss={i % 7}.5 note={'x' * 20}" for i in range(5996, 6000)]


class _CountingBlockParser:
    """A test double for a format parser with a fast path: takes blocks of at most ``limit`` lines."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.offered: list[int] = []

    def feed(self, line: object) -> list[Event]:
        return []

    def finish(self) -> list[Event]:
        return []

    def feed_block(self, block: LineBlock, other: object = None) -> list[Event] | None:
        self.offered.append(block.count)
        if block.count > self.limit:
            return None
        return [StepMetrics(block.first_number + block.count - 1, None, block.count)]


def test_bisection_offers_halves_until_a_parser_takes_them() -> None:
    parser = StreamParser(blocks=True)
    fake = _CountingBlockParser(limit=1500)
    parser._parsers.append(fake)  # noqa: SLF001 - inject a test double into the chain
    parser._block_feeders = [fake.feed_block]  # noqa: SLF001
    got = parser.feed(_generic_lines(4000)) + parser.finish()
    taken = [e for e in got if isinstance(e, StepMetrics) and e.loss is None]
    assert sum(e.step or 0 for e in taken) == 4000  # every line covered by exactly one accepted block
    assert fake.offered[0] == 4000 and all(n >= MIN_BLOCK_LINES for n in fake.offered)
    assert [e.line for e in taken] == sorted(e.line for e in taken)


# ---------------------------------------------------------------------------------------------- shared logs


def test_every_shared_log_parses_in_any_chunking() -> None:
    logs = shared_logs()
    if not logs:
        pytest.skip("../shared is not available")
    for path in logs:
        data = path.read_bytes()
        got = assert_chunking_invariant(stream_events, data, seeds=(3,), bytewise=len(data) < 8000)
        assert got, path.name
        # The bulk path (blocks of steps) reduces to what the line path reduces to: the same run, figure by figure.
        block_events = stream_events([data], blocks=True)
        lines_state, blocks_state = RunState(), RunState()
        apply_all(lines_state, got)
        apply_all(blocks_state, block_events)
        assert summary_dict(blocks_state) == summary_dict(lines_state), path.name


@pytest.mark.parametrize(
    ("name", "vendor"),
    [
        ("seed/graphcore_mnist_hw7.log", "graphcore"),
        ("corpus/graphcore_sdk3.3_mnist_poptorch_srun.log", "graphcore"),
    ],
)
def test_mnist_logs_model_summary_and_vendor(name: str, vendor: str) -> None:
    path = SHARED / name
    if not path.is_file():
        pytest.skip(f"{path} not available")
    parser = StreamParser()
    got = parser.feed(path.read_bytes()) + parser.finish()
    (summary,) = [e for e in got if isinstance(e, ModelSummary)]
    assert summary.root.type == "TrainingModelWithLoss" and summary.root.count() == 16
    assert summarize_bytes(path.read_bytes(), name).vendor == vendor


def test_srun_corpus_log_job_id() -> None:
    path = SHARED / "corpus" / "graphcore_sdk3.3_mnist_poptorch_srun.log"
    if not path.is_file():
        pytest.skip(f"{path} not available")
    got = parse_bytes(path.read_bytes())
    assert [(e.job_id, e.kind) for e in got if isinstance(e, JobIdSeen)] == [("2623", "slurm")]
    assert Counter(type(e) for e in got)[RunStarted] == 1


def test_chained_traceback_in_cerebras_failure_reports_final_exception() -> None:
    path = SHARED / "corpus" / "cerebras_r2.4.0_llama2_7b_appliance_error_job_failed.log"
    if not path.is_file():
        pytest.skip(f"{path} not available")
    errors = [e for e in parse_bytes(path.read_bytes()) if isinstance(e, ErrorSeen) and e.kind == "traceback"]
    assert errors and errors[-1].message.startswith("cerebras.appliance.errors.ApplianceUnknownError:")
    assert errors[-1].fatal


def test_large_feed_is_sliced_without_changing_events(monkeypatch: pytest.MonkeyPatch) -> None:
    data = (FIXTURES / "generic_train.log").read_bytes() * 3
    expected = parse_bytes(data)
    monkeypatch.setattr("hwmon.parsers.stream.FEED_SLICE", 37)
    assert parse_bytes(data) == expected


@settings(max_examples=80, deadline=None)
@given(st.binary(max_size=600), st.integers(1, 64))
def test_arbitrary_bytes_never_raise(data: bytes, chunk: int) -> None:
    parser = StreamParser(blocks=True, keep_lines=5)
    for i in range(0, len(data), chunk):
        parser.feed(data[i : i + chunk])
    parser.finish()
    assert len(parser.pop_lines()) <= 5


def test_error_released_at_finish_is_not_counted_twice() -> None:
    # Poplar OOM with no what(): line: the graphcore parser releases its error only at finish(); the generic
    # parser's own "terminate called" error for the same line must still be dropped.
    data = (FIXTURES / "graphcore_oom_no_what.log").read_bytes()
    errors = [e for e in parse_bytes(data) if isinstance(e, ErrorSeen)]
    assert len(errors) == 1, errors


def test_flush_releases_a_held_traceback_while_the_stream_goes_on() -> None:
    parser = StreamParser()
    events = parser.feed(b'Traceback (most recent call last):\n  File "x.py", line 1, in <module>\nValueError: boom\n')
    assert not [e for e in events if isinstance(e, ErrorSeen)]  # held: a chained traceback may follow
    released = parser.flush()
    assert [e.message for e in released if isinstance(e, ErrorSeen)] == ["ValueError: boom"]
    assert not [e for e in parser.finish() if isinstance(e, ErrorSeen)]  # not released twice


def _mixed_log(lines: int) -> bytes:
    out = []
    for i in range(1, lines + 1):
        if i % 10 == 0:
            out.append(f"2025-02-11 09:30:{i % 60:02d},000 INFO:   data loader heartbeat {i}\n")
        elif i % 97 == 0:
            out.append(f"2025-02-11 09:30:{i % 60:02d},000 WARNING:   slow input worker {i}\n")
        else:
            out.append(
                f"2025-02-11 09:30:{i % 60:02d},{i % 1000:03d} INFO:   | Train Device=CSX, Step={i}, "
                f"Loss={8.0 / (1 + i / 100):.5f}, Rate=3301.52 samples/sec, GlobalRate=3300.10 samples/sec\n"
            )
    return "".join(out).encode()


def test_mixed_block_takes_step_runs_in_bulk_and_other_lines_through_every_parser() -> None:
    # A live log with a heartbeat between steps: the fast path must take the step runs in bulk and still hand
    # every other line to all parsers, in order — the run model is the same as line by line.
    from hwmon.model.reducer import apply_all
    from hwmon.model.state import RunState
    from hwmon.model.summary import summary_dict

    data = _mixed_log(3000)
    head = b"2025-02-11 09:29:00,000 INFO:   Beginning appliance run\n"

    def summarise(blocks: bool, chunk: int) -> tuple[dict[str, object], list[Event]]:
        parser = StreamParser(blocks=blocks)
        state = RunState(source="x")
        events = parser.feed(head)
        for i in range(0, len(data), chunk):
            events += parser.feed(data[i : i + chunk])
        events += parser.finish()
        apply_all(state, events)
        return summary_dict(state), events

    by_line, line_events = summarise(False, 1 << 20)
    in_bulk, bulk_events = summarise(True, 64 << 10)
    assert any(isinstance(e, StepBatch) for e in bulk_events), "the mixed block was not taken in bulk"
    assert in_bulk == by_line
    warnings = [e for e in line_events if isinstance(e, WarningSeen)]
    assert warnings and [e.line for e in bulk_events if isinstance(e, WarningSeen)] == [e.line for e in warnings]


# ---------------------------------------------------------------------------------------------- the one catch


class RaisingParserDouble:
    """Test double: a format parser with a bug (raises on every line that mentions 'boom')."""

    def feed(self, line: Line) -> list[Event]:
        if "boom" in line.text:
            raise RuntimeError("parser bug")
        return []

    def finish(self) -> list[Event]:
        return []


def test_a_parser_fault_is_a_warning_with_its_line_and_the_stream_goes_on() -> None:
    parser = StreamParser(strict=False)
    parser._parsers.insert(0, RaisingParserDouble())
    events = parser.feed(b"loss=0.5 step=1\nboom\nloss=0.25 step=2\n") + parser.finish()
    faults = [e for e in events if isinstance(e, WarningSeen) and e.source == "hwmon"]
    assert [(f.line, "RaisingParserDouble" in f.message, "line 2" in f.message) for f in faults] == [(2, True, True)]
    assert [s.loss for s in events if isinstance(s, StepMetrics)] == [0.5, 0.25]


def test_a_strict_stream_lets_a_parser_fault_through() -> None:
    parser = StreamParser(strict=True)
    parser._parsers.insert(0, RaisingParserDouble())
    with pytest.raises(RuntimeError, match="parser bug"):
        parser.feed(b"boom\n")


# ---------------------------------------------------------------------------------------------- failure classes


def test_a_cut_last_line_makes_no_step_but_a_complete_one_does() -> None:
    line = b"2024-01-01 00:00:00,000 INFO:   | Train Device=CSX, Step=100, Loss=7.1"
    assert [e for e in parse_bytes(line) if isinstance(e, StepMetrics)] == []
    (step,) = [e for e in parse_bytes(line + b"4844\n") if isinstance(e, StepMetrics)]
    assert step.loss == 7.14844


def test_lines_after_completion_do_not_change_training_figures() -> None:
    # The parser reports the stray "loss" as a (guessed) step; the reducer decides it is not one of the run's. (Some
    # lines between: a loss line right under a counted step would detail that step, no step of its own.)
    data = (
        b"step=1 loss=0.9\nstep=2 loss=0.5\nFinished training\nwriting report\nsaving plots\nclosing writer\n"
        b"summary: loss=3.0 over all\n"
    )
    events = parse_bytes(data)
    assert [e.loss for e in events if isinstance(e, StepMetrics)] == [0.9, 0.5, 3.0]
    assert [e.line for e in events if isinstance(e, RunCompleted)] == [3]
    state = summarize_bytes(data, "x")
    assert (state.loss.count, state.loss.last, state.status) == (2, (2.0, 0.5), "succeeded")
    # A new run after the end (its steps start again) counts again: the last run, not ended yet (its own stray
    # summary line is one more loss of it; the first run's, released late by its reader, is not).
    again = summarize_bytes(data + b"Starting run 2\n" + data.replace(b"Finished training\n", b""), "x")
    assert (again.status, again.runs, again.loss.count, again.loss.first) == ("unknown", 2, 3, (1.0, 0.9))


def test_a_launcher_reporting_exit_code_0_completes_the_run() -> None:
    events = parse_bytes(b"loss=0.5\nworker process exited with exit code 0\n")
    assert [e.line for e in events if isinstance(e, RunCompleted)] == [2]


def test_other_ranks_give_their_errors_only() -> None:
    data = (
        b"[rank0]:step=1 loss=0.9\n[rank1]:step=1 loss=1.9\n"
        b"[rank1]:2024-01-01 00:00:00,000 ERROR: rank 1 lost its GPU\n[rank0]:step=2 loss=0.5\n"
    )
    events = parse_bytes(data)
    assert [e.loss for e in events if isinstance(e, StepMetrics)] == [0.9, 0.5]
    assert [(e.line, e.kind) for e in events if isinstance(e, ErrorSeen)] == [(3, "rank 1")]


@pytest.mark.parametrize(
    ("text", "vendor"),
    [
        (b"node1:123:456 [0] NCCL INFO Bootstrap : Using eth0:10.0.0.1<0>\n", "gpu"),
        (b"LOCAL_RANK: 0 - CUDA_VISIBLE_DEVICES: [0]\n", "gpu"),
        (b"    System/Peak GPU Memory (MB)=20,112\n", "gpu"),
        (b"step 3 | loss 2.1 | gpu_mem: 10.2\n", "gpu"),
        (b"GPU memory was not requested\n", None),
        # Inside a traceback too: its exception line and its message's lines.
        (b'Traceback (most recent call last):\n  File "a.py", line 1, in f\nRuntimeError: cuDNN error: X\n', "gpu"),
        (b'Traceback (most recent call last):\n  File "a.py", line 1, in f\nValueError: on cuda:0 and cpu\n', "gpu"),
        (b"IPU available: False, using: 0 IPUs\nHPU available: False, using: 0 HPUs\n", None),
        (b"$ source /opt/venv_cerebras_pt/bin/activate\n", "cerebras"),
        (b'  File "/usr/lib/python3/site-packages/cerebras/pytorch/backend.py", line 3, in run\n', "cerebras"),
    ],
)
def test_vendor_evidence_beyond_step_lines(text: bytes, vendor: str | None) -> None:
    found = [e.vendor for e in parse_bytes(text) if isinstance(e, VendorDetected)]
    assert found[:1] == ([vendor] if vendor else [])


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*.log")))
def test_every_fixture_is_chunking_invariant_through_the_stream(name: str) -> None:
    # Byte at a time and random chunkings give the events of a whole-file feed, for every fixture (compared as
    # reprs: a NaN loss is not equal to itself).
    data = (FIXTURES / name).read_bytes()
    assert assert_chunking_invariant(lambda chunks: [repr(e) for e in stream_events(chunks)], data, seeds=(5, 6))


def test_a_quiet_unterminated_line_shown_live_makes_no_step_either() -> None:
    parser = StreamParser()
    parser.feed(b"2024-01-01 00:00:00,000 INFO:   | Train Device=CSX, Step=100, Loss=7.1")
    assert [e for e in parser.flush() if isinstance(e, StepMetrics)] == []


def test_an_unterminated_last_line_whose_figures_all_ended_is_a_step() -> None:
    # A file saved without its final newline: text after the last figure says every figure was written whole.
    whole = b"step:1/9 train_loss:0.5 step_avg:12.5ms\nstep:2/9 train_loss:0.4 step_avg:12.5ms"
    assert summarize_bytes(whole, "x").last_step.step == 2  # type: ignore[union-attr]
    # Cut inside its last figure: that line gives no step.
    cut = b"step:1/9 train_loss:0.5 step_avg:12.5ms\nstep:2/9 train_loss:0.4 step_avg:12.5"
    assert summarize_bytes(cut, "x").last_step.step == 1  # type: ignore[union-attr]
    cut = b"step:1/9 train_loss:0.5\nstep:2/9 train_loss:0.4"
    assert summarize_bytes(cut, "x").last_step.step == 1  # type: ignore[union-attr]
