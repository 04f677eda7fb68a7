"""The one reader of multi-line error records (tracebacks, terminate/what) shared by the parsers."""

from __future__ import annotations

from hwmon.events import ErrorSeen
from hwmon.parsers.base import Line
from hwmon.parsers.multiline import MultilineErrors

CHAINED = [
    "Traceback (most recent call last):",
    '  File "train.py", line 3, in <module>',
    "    step()",
    "KeyError: 'x'",
    "",
    "The above exception was the direct cause of the following exception:",
    "",
    "Traceback (most recent call last):",
    '  File "train.py", line 5, in <module>',
    "RuntimeError: step failed",
    "  while reading batch 3",
    "2024-01-01 00:00:00,000 INFO:   next record",
]


def feed(reader: MultilineErrors, texts: list[str]) -> tuple[list[bool], list[ErrorSeen]]:
    consumed: list[bool] = []
    errors: list[ErrorSeen] = []
    for number, text in enumerate(texts, start=1):
        took, found = reader.feed(Line(number, 0, text))
        consumed.append(took)
        errors += found
    return consumed, errors + reader.finish()


def test_a_held_chain_reports_its_last_exception_when_the_next_record_starts() -> None:
    consumed, errors = feed(MultilineErrors(hold=True), CHAINED)
    assert [(e.line, e.message, e.kind, e.fatal) for e in errors] == [
        (10, "RuntimeError: step failed", "traceback", True)
    ]
    # Every line of the record is consumed (the message's continuation too); the next record is not.
    assert consumed == [True] * 11 + [False]


def test_unheld_reports_every_exception_as_it_comes() -> None:
    _, errors = feed(MultilineErrors(hold=False), CHAINED)
    assert [(e.line, e.message) for e in errors] == [(4, "KeyError: 'x'"), (10, "RuntimeError: step failed")]


def test_terminate_with_and_without_what() -> None:
    lines = [
        "terminate called after throwing an instance of 'poplar::graph_memory_allocation_error'",
        "  what():  Out of memory on tile 7",
        "terminate called after throwing an instance of 'std::bad_alloc'",
        "next line",
        "terminate called without an active exception",
    ]
    consumed, errors = feed(MultilineErrors(abort_kind="abort"), lines)
    assert [(e.line, e.message, e.kind) for e in errors] == [
        (2, "Out of memory on tile 7", "abort"),
        (3, "terminate called after throwing an instance of 'std::bad_alloc'", "abort"),
        (5, "terminate called without an active exception", "abort"),
    ]
    assert consumed == [True, True, True, False, True]


LOGGED = "[2031-02-03 04:05:06,789] jit.compile: [WARNING] "


def test_a_traceback_logged_at_warning_level_is_a_handled_exception() -> None:
    lines = [
        LOGGED + "could not compile, falling back",
        LOGGED + "Traceback (most recent call last):",
        LOGGED + '  File "/opt/lib/jit.py", line 40, in compile',
        LOGGED + "    run()",
        LOGGED + "jit.errors.CompileFailed: no compiler found",
        LOGGED + "  (set JIT_VERBOSE=1 for more)",
        LOGGED,
        "[2031-02-03 04:05:07,001] jit.compile: [WARNING] another record",
    ]
    consumed, errors = feed(MultilineErrors(hold=True), lines)
    assert [(e.line, e.message, e.fatal) for e in errors] == [(5, "jit.errors.CompileFailed: no compiler found", False)]
    # The exception's continuation lines carry the same prefix (the same record): they belong to it.
    assert consumed == [False] + [True] * 6 + [False]


def test_a_logged_traceback_at_error_level_or_unprefixed_frames_stay_fatal() -> None:
    at_error = ["[t] app: [ERROR] Traceback (most recent call last):", '[t] app: [ERROR]   File "a.py", line 1, in f']
    _, errors = feed(MultilineErrors(hold=True), [*at_error, "[t] app: [ERROR] ValueError: bad"])
    assert [(e.message, e.fatal) for e in errors] == [("ValueError: bad", True)]
    # The header behind a logger's prefix, the frames printed bare (logging's exc_info): read as they are.
    bare = ["WARNING:root:Traceback (most recent call last):", '  File "a.py", line 1, in f', "OSError: gone"]
    _, errors = feed(MultilineErrors(hold=True), bare)
    assert [(e.message, e.fatal) for e in errors] == [("OSError: gone", False)]


def test_frames_whose_header_was_lost_are_still_a_traceback() -> None:
    lines = [
        "epoch 7 loss 0.61",
        '  File "/home/u/train.py", line 280, in <module>',
        "    main(config)",
        '  File "/home/u/train.py", line 187, in train_one_epoch',
        "    meter.update(loss.item())",
        "KeyboardInterrupt",
    ]
    consumed, errors = feed(MultilineErrors(hold=True), lines)
    assert [(e.line, e.message, e.fatal) for e in errors] == [(6, "KeyboardInterrupt", True)]
    assert consumed == [False] + [True] * 5


def test_a_frame_marked_as_the_catching_one_is_still_a_frame() -> None:
    lines = [
        "Traceback (most recent call last):",
        '  File "/opt/app/run.py", line 12, in <module>',
        '> File "/opt/app/launch.py", line 147, in worker',
        "    main()",
        '  File "/opt/app/train.py", line 80, in main',
        "RuntimeError: device lost",
    ]
    _, errors = feed(MultilineErrors(hold=True), lines)
    assert [(e.line, e.message) for e in errors] == [(6, "RuntimeError: device lost")]


def test_a_threads_or_a_finalizers_traceback_is_not_the_programs_end() -> None:
    frames = ["Traceback (most recent call last):", '  File "/usr/lib/x.py", line 9, in run', "EOFError: gone"]
    for header in ("Exception in thread Writer-2:", "Exception ignored in: <function Pool.__del__ at 0x7f>"):
        _, errors = feed(MultilineErrors(hold=True), [header, "", "step 9 loss 0.1", *frames])
        assert [(e.message, e.fatal) for e in errors] == [("EOFError: gone", False)], header
    # Further away, the header said nothing about this traceback.
    lines = ["Exception in thread Writer-2:", *["step 9 loss 0.1"] * 4, *frames]
    _, errors = feed(MultilineErrors(hold=True), lines)
    assert [(e.message, e.fatal) for e in errors] == [("EOFError: gone", True)]
