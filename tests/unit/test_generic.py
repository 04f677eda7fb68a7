"""GenericParser: key-value metrics, tracebacks, terminate/what(), error/warning lines, device hints."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from tests.helpers.chunking import assert_chunking_invariant, parse_with

from hwmon.events import ErrorSeen, EvalMetric, Event, StepMetrics, VendorDetected, WarningSeen
from hwmon.parsers.base import Line
from hwmon.parsers.generic import HOLD_LINES, GenericParser

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def events(text: str) -> list[Event]:
    return parse_with(GenericParser, [text.encode()])


def of(kind: type[Event], text: str) -> list[Event]:
    return [e for e in events(text) if isinstance(e, kind)]


def test_fixture_facts_and_chunking_invariance() -> None:
    data = (FIXTURES / "generic_train.log").read_bytes()
    got = assert_chunking_invariant(lambda chunks: parse_with(GenericParser, chunks), data)
    steps = [e for e in got if isinstance(e, StepMetrics)]
    assert [(s.step, s.loss, s.mode) for s in steps] == [
        (100, 2.3012, "train"),
        (200, 1.9021, "train"),
        (300, 1.5102, "train"),
        (None, 1.6011, "eval"),
    ]
    first = steps[0]
    assert first.ts == datetime(2025, 2, 3, 10, 0, 1)
    assert first.epoch == 1.0 and first.rate == 812.5 and first.rate_unit == "samples/sec"
    assert dict(first.extra) == {"acc": 0.112, "lr": 1e-3}
    assert dict(steps[2].extra) == {"eval_loss": 1.7201, "acc": 0.452}
    warnings = [e for e in got if isinstance(e, WarningSeen)]
    assert [w.source for w in warnings] == ["python", "log"]
    assert warnings[0].message.startswith("UserWarning: This DataLoader")
    assert warnings[1].message == "Gradient overflow, skipping step"
    errors = [e for e in got if isinstance(e, ErrorSeen)]
    assert [(e.kind, e.fatal, e.message) for e in errors] == [
        ("error", False, "Failed to write metrics to /tmp/m.json"),
        ("traceback", True, "RuntimeError: checkpoint missing"),  # the chain reports its last exception
    ]
    assert errors[1].line == 24
    assert [e for e in got if isinstance(e, VendorDetected)] == [VendorDetected(4, None, "gpu", None)]


@pytest.mark.parametrize(
    ("line", "loss", "step", "extra"),
    [
        ("loss=0.25", 0.25, None, {}),
        ("Loss = 1.5e-3 step: 12", 1.5e-3, 12, {}),
        ("iter 40 | loss: 3.1 | lr: 0.001 | grad_norm=2.5", 3.1, 40, {"lr": 0.001, "grad_norm": 2.5}),
        ("{'loss': 0.605, 'learning_rate': 4e-05, 'epoch': 0.06}", 0.605, None, {"learning_rate": 4e-05}),
        ("train_loss=nan global_step=7", float("nan"), 7, {}),
    ],
)
def test_key_values(line: str, loss: float, step: int | None, extra: dict[str, float]) -> None:
    (metrics,) = of(StepMetrics, line + "\n")
    assert isinstance(metrics, StepMetrics)
    assert metrics.step == step
    assert metrics.loss == pytest.approx(loss, nan_ok=True)
    assert dict(metrics.extra) == extra


@pytest.mark.parametrize(
    "line",
    [
        '"loss": "cross_entropy",',
        "loss_fn = CrossEntropyLoss()",
        "Using loss: mse",
        "no metrics here",
        "lossy=0.3",
    ],
)
def test_no_metrics_without_a_numeric_loss(line: str) -> None:
    assert of(StepMetrics, line + "\n") == []


def test_traceback_without_chain_released_by_next_record() -> None:
    text = (
        "Traceback (most recent call last):\n"
        '  File "x.py", line 1, in <module>\n'
        "KeyError: 'a'\n"
        "2025-01-01 00:00:00,000 INFO next record\n"
    )
    (error,) = of(ErrorSeen, text)
    assert error == ErrorSeen(3, None, "KeyError: 'a'", True, "traceback")


def test_traceback_with_multiline_message_and_direct_cause_chain() -> None:
    text = (
        "Traceback (most recent call last):\n"
        '  File "a.py", line 3, in f\n'
        "pkg.errors.RpcError: gRPC Error:\n"
        "  Status Code: StatusCode.INTERNAL\n"
        "Deadline Exceeded\n"
        "\n"
        "The above exception was the direct cause of the following exception:\n"
        "\n"
        "Traceback (most recent call last):\n"
        '  File "run.py", line 27, in <module>\n'
        "pkg.errors.UnknownError: Ran into error\n"
    )
    (error,) = of(ErrorSeen, text)
    assert error.message == "pkg.errors.UnknownError: Ran into error" and error.line == 11


def test_held_traceback_released_after_hold_limit() -> None:
    text = "Traceback (most recent call last):\n  File 'x'\nValueError: bad\n" + "more\n" * (HOLD_LINES + 1)
    parser = GenericParser()
    from tests.helpers.chunking import split_lines

    released: list[Event] = []
    for line in split_lines([text.encode()]):
        released.extend(parser.feed(line))
    assert [e.message for e in released if isinstance(e, ErrorSeen)] == ["ValueError: bad"]
    assert parser.finish() == []


def test_two_separate_tracebacks_both_reported() -> None:
    block = "Traceback (most recent call last):\n  File 'x'\n{}\n"
    text = block.format("ValueError: one") + "INFO restarted\n" + block.format("KeyboardInterrupt")
    assert [e.message for e in of(ErrorSeen, text)] == ["ValueError: one", "KeyboardInterrupt"]


def test_terminate_called_with_what() -> None:
    text = (
        "terminate called after throwing an instance of 'poplar::graph_memory_allocation_error'\n"
        "  what():  Out of memory on tile 7: 700000 bytes used\n"
        "next\n"
    )
    (error,) = of(ErrorSeen, text)
    assert error == ErrorSeen(2, None, "Out of memory on tile 7: 700000 bytes used", True, "terminate")


def test_terminate_without_what_is_still_fatal() -> None:
    (error,) = of(ErrorSeen, "terminate called after throwing an instance of 'std::bad_alloc'\n")
    assert isinstance(error, ErrorSeen) and error.fatal and "std::bad_alloc" in error.message


@pytest.mark.parametrize(
    ("line", "fatal", "kind"),
    [
        ("Killed", True, "signal"),
        ("/bin/sh: line 1: 4242 Killed                  python train.py", True, "signal"),
        ("Segmentation fault (core dumped)", True, "signal"),
        ("Error: could not open dataset", False, "error"),
        ("RuntimeError: CUDA out of memory.", False, "error"),
        ("[ERROR] worker 3 lost", False, "error"),
        ("2024-01-01 10:00:00 CRITICAL disk full", True, "error"),
        ("E0101 10:00:00.123456 1234 server.cc:42] connection reset", False, "glog"),
    ],
)
def test_error_lines(line: str, fatal: bool, kind: str) -> None:
    (error,) = of(ErrorSeen, line + "\n")
    assert isinstance(error, ErrorSeen)
    assert (error.fatal, error.kind) == (fatal, kind)


@pytest.mark.parametrize(
    "line", ["Killed 3 stale workers and restarted them", "error_rate=0.1 loss=0.2", "no errors found", "0 errors"]
)
def test_not_errors(line: str) -> None:
    assert of(ErrorSeen, line + "\n") == []


@pytest.mark.parametrize(
    ("line", "vendor", "device"),
    [
        ("Using device: cuda", "gpu", None),
        ("model moved to cuda:1", "gpu", "cuda:1"),
        ("device=cuda", "gpu", None),
        ("Using device: cpu", "cpu", None),
        ("device='cpu'", "cpu", None),
    ],
)
def test_device_hints(line: str, vendor: str, device: str | None) -> None:
    (hint,) = of(VendorDetected, line + "\n" + line + "\n")  # repeated hints are reported once
    assert isinstance(hint, VendorDetected) and (hint.vendor, hint.device) == (vendor, device)


def test_cuda_inside_a_library_name_is_not_a_hint() -> None:
    assert of(VendorDetected, "libc10_cuda.so: cannot open shared object file\n") == []


def test_redraws_are_ignored_and_garbage_never_raises() -> None:
    assert parse_with(GenericParser, [b"loss=1\rloss=2\n"]) == [
        StepMetrics(1, None, None, loss=2.0),
    ]
    assert isinstance(parse_with(GenericParser, [bytes(range(256)) * 20]), list)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("ERROR:root:dataset missing", "root:dataset missing"),
        ("2024-05-01 10:00:00,001 - trainer - ERROR - step failed", "step failed"),
        ("2024-05-01 10:00:00.001 | ERROR    | train:main:12 - boom", "train:main:12 - boom"),
    ],
)
def test_common_logging_formats_give_errors(line: str, message: str) -> None:
    (error,) = of(ErrorSeen, line + "\n")
    assert isinstance(error, ErrorSeen) and error.message == message and not error.fatal


def test_level_word_late_in_a_line_is_not_an_error() -> None:
    assert of(ErrorSeen, "INFO: finished epoch 3 of 10; validation found no ERROR\n") == []


@pytest.mark.parametrize(
    ("text", "name", "value"),
    [
        ("Test accuracy: 97.5%", "test_accuracy", 0.975),
        ("val_acc=0.91", "val_accuracy", 0.91),
        ("Accuracy on the validation set: 88.10%", "val_accuracy", 0.881),
        ("eval accuracy = 64.2", "eval_accuracy", 0.642),
    ],
)
def test_accuracy_lines_become_eval_metrics(text: str, name: str, value: float) -> None:
    events = [e for e in GenericParser().feed(Line(1, 0, text)) if isinstance(e, EvalMetric)]
    assert [(e.name, round(e.value, 6)) for e in events] == [(name, value)]


def test_training_accuracy_is_not_an_eval_metric() -> None:
    assert not [e for e in GenericParser().feed(Line(1, 0, "train accuracy: 99%")) if isinstance(e, EvalMetric)]


def test_supervisor_end_line_is_only_text() -> None:
    """A log that merely contains the supervisor's end line has not ended by it: the outcome comes from run.json
    (``RunOutcome``), never from log text a workload could print itself."""
    from hwmon.events import RunCompleted
    from hwmon.runners.supervisor import END_PREFIX, describe_end

    for returncode, stopped in ((0, False), (1, False), (-9, False), (-15, True)):
        events = GenericParser().feed(Line(1, 0, END_PREFIX + describe_end(returncode, stopped)))
        assert not [e for e in events if isinstance(e, RunCompleted | ErrorSeen)], events
