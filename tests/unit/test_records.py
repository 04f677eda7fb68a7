"""The record stage (prefix/rank, timestamp table, level, logger) and the metric vocabulary."""

from __future__ import annotations

from datetime import datetime

import pytest

from hwmon.parsers import vocab
from hwmon.parsers.base import Line
from hwmon.parsers.records import TIMESTAMP_FORMATS, RecordReader


@pytest.mark.parametrize(
    ("text", "ts", "level", "logger", "msg"),
    [
        (
            "2024-03-30 12:53:41,263 INFO:   Compiling",
            datetime(2024, 3, 30, 12, 53, 41, 263000),
            "INFO",
            None,
            "Compiling",
        ),
        (
            "2025-07-11 18:03:47,814:INFO pod-3 main",
            datetime(2025, 7, 11, 18, 3, 47, 814000),
            "INFO",
            None,
            "pod-3 main",
        ),
        (
            "[2024-05-01 10:00:00,123] [WARNING] [engine.py:1137:_configure] zero",
            datetime(2024, 5, 1, 10, 0, 0, 123000),
            "WARNING",
            "engine.py:1137:_configure",
            "zero",
        ),
        ("05/01/2024 10:00:00 - ERROR - __main__ - bad", datetime(2024, 5, 1, 10), "ERROR", "__main__", "bad"),
        ("INFO:tensorflow:loss = 1.0, step = 2", None, "INFO", "tensorflow", "loss = 1.0, step = 2"),
        ("WARN: low disk", None, "WARNING", None, "low disk"),
        (
            "2024-05-01 10:00:00.5: W tensorflow/core/x.cc:12] slow",
            datetime(2024, 5, 1, 10, 0, 0, 500000),
            "WARNING",
            "tensorflow/core/x.cc:12",
            "slow",
        ),
        (
            "2023-04-27T03:39:53.291853Z PL:POPLIN x",
            datetime(2023, 4, 27, 3, 39, 53, 291853),
            None,
            None,
            "PL:POPLIN x",
        ),
        (
            "bar 50%|#| 1/2 [00:01]2024-03-14 03:18:49,076 WARNING:   t",
            datetime(2024, 3, 14, 3, 18, 49, 76000),
            "WARNING",
            None,
            "t",
        ),
        ("2024-13-45 10:00:00 not a date", None, None, None, "2024-13-45 10:00:00 not a date"),
        # A level word, then the time and a source location (Python logging "%(levelname)s %(asctime)s ...").
        (
            "WARNING 2026-01-02 03:04:05 loop.py:88 slow batch",
            datetime(2026, 1, 2, 3, 4, 5),
            "WARNING",
            "loop.py:88",
            "slow batch",
        ),
        ("2026-01-02 03:04:05 INFO fit.py:12 step 3", datetime(2026, 1, 2, 3, 4, 5), "INFO", "fit.py:12", "step 3"),
        # logback / log4j's default layout after a time of day (which dates nothing).
        ("09:10:11.120 [worker-2] WARN com.acme.Fit - lr dropped", None, "WARNING", "com.acme.Fit", "lr dropped"),
        ("09:10:11 INFO: all good", None, "INFO", None, "all good"),
        ("09:10:11 all good", None, None, None, "all good"),
        # A Ray actor's prefix is a launcher's tag, not the message.
        ("(Learner pid=812, ip=10.0.0.7) step:3 loss:0.5", None, None, None, "step:3 loss:0.5"),
        ("Epoch 1/10", None, None, None, "Epoch 1/10"),
        # A time stamp closing the message is the record's time (when it names its year) and leaves the message.
        (
            "[IT 300] Eval: mse 0.25 [2025-03-04 05:06:07]",
            datetime(2025, 3, 4, 5, 6, 7),
            None,
            None,
            "[IT 300] Eval: mse 0.25",
        ),
        (
            "[IT 300] Writing the net [03/04/25 05:06:07]",
            datetime(2025, 3, 4, 5, 6, 7),
            None,
            None,
            "[IT 300] Writing the net",
        ),
        ("[IT 300] Writing the net [03/04 05:06:07]", None, None, None, "[IT 300] Writing the net"),
        ("[IT 300] Writing the net [05:06:07.5]", None, None, None, "[IT 300] Writing the net"),
        ("sizes [3, 4]", None, None, None, "sizes [3, 4]"),
    ],
)
def test_one_record_per_line(text: str, ts: datetime | None, level: str | None, logger: str | None, msg: str) -> None:
    record = RecordReader().read(Line(7, 0, text))
    assert (record.ts, record.level, record.logger, record.msg, record.line_no) == (ts, level, logger, msg, 7)


def test_glog_lines_borrow_the_year_of_the_last_full_timestamp() -> None:
    reader = RecordReader()
    assert reader.read(Line(1, 0, "E0711 18:04:02.654472867  609793 chttp2.cc:12] reset")).ts is None
    reader.read(Line(2, 0, "2025-07-11 18:04:01,000 INFO:   x"))
    glog = reader.read(Line(3, 0, "E0711 18:04:02.654472867  609793 chttp2.cc:12] reset"))
    assert (glog.ts, glog.level, glog.logger, glog.msg) == (
        datetime(2025, 7, 11, 18, 4, 2, 654472),
        "ERROR",
        "chttp2.cc:12",
        "reset",
    )


def test_the_timestamp_table_moves_the_format_that_matched_to_the_front() -> None:
    reader = RecordReader()
    assert reader._formats[0].name == TIMESTAMP_FORMATS[0].name == "ymd"
    reader.read(Line(1, 0, "05/01/2024 10:00:00 - INFO - m - x"))
    assert reader._formats[0].name == "mdy"
    assert [f.name for f in TIMESTAMP_FORMATS][0] == "ymd"  # the shared table itself is not reordered


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "{'loss': '0.5812', 'grad_norm': '1.472', 'epoch': '0.5'}",
            [("loss", 0.5812), ("grad_norm", 1.472), ("epoch", 0.5)],
        ),
        ('{"loss": 0.25, "eval_acc": 91.5%}', [("loss", 0.25), ("eval_acc", 0.915)]),
        ("| lm loss: 7.1E+00 | loss scale: 1.0 |", [("lm loss", 7.1), ("loss scale", 1.0)]),
        ("loss=0.223, v_num=77 [acc=0.875]", [("loss", 0.223), ("v_num", 77.0), ("acc", 0.875)]),
        ("- loss: 0.62 - val_loss: 0.5", [("loss", 0.62), ("val_loss", 0.5)]),
        (
            "iter 100: loss 4.2000, time 12.34ms, mfu 30.00%",
            [("iter", 100.0), ("loss", 4.2), ("time", 12.34), ("mfu", 0.3)],
        ),
    ],
)
def test_the_vocabulary_reads_every_spelling(text: str, expected: list[tuple[str, float]]) -> None:
    assert [(p.key, p.value) for p in vocab.pairs(text)] == [(k, pytest.approx(v)) for k, v in expected]


def test_roles_by_synonym() -> None:
    roles = {k: vocab.role(k) for k in ("iteration", "lm loss", "train/loss", "tokens/s", "learning rate", "val_acc")}
    assert roles == {
        "iteration": "step",
        "lm loss": "loss",
        "train/loss": "loss",
        "tokens/s": "rate",
        "learning rate": "lr",
        "val_acc": "eval",
    }
    assert vocab.role("eval_runtime") is None


def test_a_month_named_stamp_dates_the_record_once_the_year_is_known() -> None:
    reader = RecordReader()
    first = reader.read(Line(1, 0, "[Jun 3, 09:10:11] #> reading the corpus"))
    assert (first.ts, first.msg, first.stamp) == (None, "#> reading the corpus", "time")
    dated = reader.read(Line(2, 0, "[Jun 3, 2029, 09:10:12] step 4"))
    assert (dated.ts, dated.msg) == (datetime(2029, 6, 3, 9, 10, 12), "step 4")
    later = reader.read(Line(3, 0, "[Jun  4, 00:00:01] step 5"))
    assert (later.ts, later.msg) == (datetime(2029, 6, 4, 0, 0, 1), "step 5")
    assert reader.read(Line(4, 0, "[Jux 4, 00:00:01] step 6")).msg == "[Jux 4, 00:00:01] step 6"


def test_a_closing_stamp_without_a_year_takes_the_streams_year() -> None:
    reader = RecordReader()
    reader.read(Line(1, 0, "2031-02-03 04:05:06 INFO starting"))
    record = reader.read(Line(2, 0, "[IT 300] Writing the net [11/30 23:59:58]"))
    assert (record.ts, record.msg) == (datetime(2031, 11, 30, 23, 59, 58), "[IT 300] Writing the net")
    assert reader.read(Line(3, 0, "[IT 300] Writing the net [13/45 23:59:58]")).ts is None  # no such day
