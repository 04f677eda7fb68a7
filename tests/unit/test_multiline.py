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
