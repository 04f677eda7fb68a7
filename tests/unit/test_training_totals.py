"""The training loop's own totals ("(N samples in S s)") fill the summary's samples/seconds without ending the run:
the MNIST workload prints them before its test evaluation (issue 9: samples stayed null)."""

from __future__ import annotations

from pathlib import Path

from hwmon.events import RunCompleted, TrainingTotals
from hwmon.model.reducer import apply_all
from hwmon.model.state import RunState
from hwmon.model.summary import summary_dict
from hwmon.parsers.stream import parse_bytes
from hwmon.sources.read import summarize_bytes

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def test_mnist_log_gives_the_training_loops_samples_and_seconds() -> None:
    s = summary_dict(summarize_bytes((FIXTURES / "mnist_cpu_3epochs.log").read_bytes(), "mnist"))
    assert (s["train"]["samples"], s["train"]["seconds"]) == (1920, 1.47)
    assert s["status"] == "succeeded"


def test_totals_line_is_not_the_end_of_the_run() -> None:
    log = (
        b"Loss:2.30 | Accuracy:10.00%: 100%|##########| 10/10 [00:01<00:00, 9.50it/s]\n"
        b"Train throughput: 160.0 samples/sec (160 samples in 1.00 s)\n"
    )
    events = parse_bytes(log)
    assert [e for e in events if isinstance(e, TrainingTotals)] == [TrainingTotals(2, None, 160, 1.0)]
    assert not any(isinstance(e, RunCompleted) for e in events)
    state = RunState()
    apply_all(state, events)
    assert (state.samples, state.seconds) == (160, 1.0)
    assert state.status != "succeeded"


def test_a_throughput_alone_is_not_a_total() -> None:
    events = parse_bytes(b"Train throughput: 1072.5 samples/sec over 22 s\n1072 samples/sec in 3 s windows\n")
    assert not any(isinstance(e, TrainingTotals) for e in events)
