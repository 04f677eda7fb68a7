"""TqdmParser: every tqdm bar in a line, glued and garbled bars, phases and steps from bars.

Fixtures are hand-written in tqdm's formats (``tests/fixtures/tqdm_*.log``); the corpus test reads real logs from
``../shared`` when present and skips cleanly otherwise.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.helpers.chunking import assert_chunking_invariant, parse_with, split_lines

from hwmon.events import Event, PhaseEnded, PhaseStarted, ProgressUpdate, StepMetrics
from hwmon.parsers.base import Line
from hwmon.parsers.tqdm import MAX_BARS, MAX_DESC, TqdmParser, bar_phase, find_bars, parse_duration, parse_metrics

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"
BLOCK = "█"


def feed_texts(*texts: str, final: bool = True) -> list[Event]:
    parser = TqdmParser()
    events: list[Event] = []
    for number, text in enumerate(texts, start=1):
        events.extend(parser.feed(Line(number, 0, text, final)))
    events.extend(parser.finish())
    return events


def updates(events: list[Event]) -> list[ProgressUpdate]:
    return [e for e in events if isinstance(e, ProgressUpdate)]


# --- single formats ---------------------------------------------------------------------------------------------


def test_full_bar_fields() -> None:
    (bar,) = find_bars(f"Training:  40%|{BLOCK * 4}      | 400/1000 [01:05<01:38,  6.12it/s]")
    assert (bar.name, bar.n, bar.total) == ("Training", 400, 1000)
    assert (bar.elapsed_s, bar.remaining_s, bar.rate, bar.unit) == (65.0, 98.0, 6.12, "it")


def test_inverted_rate_is_per_second() -> None:
    (bar,) = find_bars(f"Epochs: 100%|{BLOCK * 10}| 10/10 [01:48<00:00, 10.81s/it]")
    assert bar.rate is not None and math.isclose(bar.rate, 1 / 10.81)
    assert bar.unit == "it"


def test_unknown_rate_and_remaining() -> None:
    (bar,) = find_bars("  0%|          | 0/50 [00:00<?, ?it/s]")
    assert (bar.name, bar.n, bar.total, bar.elapsed_s, bar.remaining_s, bar.rate) == ("", 0, 50, 0.0, None, None)


def test_custom_unit_with_space() -> None:
    (bar,) = find_bars("Sending initial weights: 100%|#####| 88/88 [00:01<00:00, 61.50 tensors/s]")
    assert (bar.unit, bar.rate) == ("tensors", 61.5)


def test_unit_scale_suffixes_and_day_times_and_postfix_metrics() -> None:
    (bar,) = find_bars("Train: 12%|#2        | 1.2k/10.0k [1:02:03<1 day, 2:00:00, 3.21kit/s, loss=0.12, acc=95%]")
    assert (bar.n, bar.total) == (1200, 10000)
    assert bar.elapsed_s == 3723.0
    assert bar.remaining_s == 86400.0 + 7200.0
    assert bar.rate is not None and math.isclose(bar.rate, 3210.0)
    assert bar.metrics == (("loss", 0.12), ("acc", 0.95))


def test_metrics_in_description_and_percentages_as_fractions() -> None:
    (bar,) = find_bars(f"Epoch 2 Loss:0.1422 | Accuracy:95.78%:  50%|{BLOCK * 5}     | 50/100 [00:10<00:10,  4.90it/s]")
    assert bar.name == "Epoch 2"
    assert bar.metrics[0] == ("loss", 0.1422)
    assert bar.metrics[1][0] == "accuracy" and math.isclose(bar.metrics[1][1], 0.9578)


def test_no_total_bars() -> None:
    (bar,) = find_bars("123it [00:01, 99.9it/s]")
    assert (bar.name, bar.n, bar.total, bar.elapsed_s, bar.rate) == ("", 123, None, 1.0, 99.9)
    (bar,) = find_bars("Reading: 4.5kit [00:02, 2.25kit/s]")
    assert (bar.name, bar.n, bar.rate) == ("Reading", 4500, 2250.0)


def test_description_only_bar_glued_to_a_log_line() -> None:
    bars = find_bars("Initializing module M.x: [00:02, note=Initializing parameters]2024-01-01 00:00:00,000 INFO:   hi")
    assert len(bars) == 1
    assert (bars[0].name, bars[0].n, bars[0].total, bars[0].elapsed_s) == ("Initializing module M.x", 0, None, 2.0)


def test_two_bars_glued_in_one_line() -> None:
    text = (
        f"Epochs: 100%|{BLOCK * 10}| 10/10 [01:48<00:00, 10.81s/it]"
        + " " * 25
        + f"Graph compilation: 100%|{BLOCK * 10}| 100/100 [00:14<00:00]"
    )
    names = [(b.name, b.n, b.total, b.elapsed_s) for b in find_bars(text)]
    assert names == [("Epochs", 10, 10, 108.0), ("Graph compilation", 100, 100, 14.0)]


@pytest.mark.parametrize(
    "tail",
    [
        "Saving model checkpoint to ./results/checkpoint-1000",
        "{'loss': 0.605, 'learning_rate': 1.6e-05, 'epoch': 0.06}",
        "2023-04-27T03:39:53.291853Z PL:POPLIN    3888383.3888383 W: something",
    ],
)
def test_bar_followed_by_other_text(tail: str) -> None:
    (bar,) = find_bars(f" 40%|####      | 1000/2496 [06:53<10:09,  2.46it/s]{tail}")
    assert (bar.n, bar.total, bar.elapsed_s, bar.remaining_s, bar.rate) == (1000, 2496, 413.0, 609.0, 2.46)


def test_bar_cut_by_a_log_line_keeps_what_it_has() -> None:
    (bar,) = find_bars("Epochs:   0%|          | 0/10 [00:00<?,[16:58:56.683] [poptorch:cpp] [warning] x")
    assert (bar.name, bar.n, bar.total, bar.elapsed_s) == ("Epochs", 0, 10, 0.0)


def test_garbled_bar_recovers_percentage_rate_and_remaining() -> None:
    (bar,) = find_bars(f" 94%|{BLOCK * 7}\ufffdTrainingModelWithLoss(00, 14.18it/s]<00:02]")
    assert (bar.name, bar.n, bar.total, bar.rate, bar.remaining_s) == ("", 94, 100, 14.18, 2.0)


def test_overwritten_description_is_not_taken_as_the_name() -> None:
    (bar,) = find_bars("TrainingModelWithLoss(%|#########▋| 97/100 [00:13<00:01]")
    assert (bar.name, bar.n, bar.total, bar.elapsed_s) == ("", 97, 100, 13.0)


@pytest.mark.parametrize(
    "text",
    [
        "[12:00:01] INFO a timestamped line",
        "Processed 2048 [12:00:01] records",
        "| 50%| of the table |",
        "2024-03-30 13:03:05,540 INFO:   | Train Device=CSX, Step=100, Loss=9.48438, Rate=6855.28 samples/sec",
        "",
        "%|%|%|",
    ],
)
def test_not_bars(text: str) -> None:
    assert find_bars(text) == []


def test_parse_duration() -> None:
    assert parse_duration("01:48") == 108.0
    assert parse_duration("2:03:04") == 7384.0
    assert parse_duration("1 day, 0:00:01") == 86401.0
    assert parse_duration("3 days, 1:00:00") == 3 * 86400.0 + 3600.0
    assert parse_duration("?") is None


def test_parse_metrics_leaves_the_name() -> None:
    metrics, rest = parse_metrics("Epoch 1/3 loss=0.5, lr=1e-3")
    assert metrics == (("loss", 0.5), ("lr", 0.001))
    assert rest == "Epoch 1/3"


@pytest.mark.parametrize(
    ("name", "metrics", "phase"),
    [
        ("Graph compilation", (), "compile"),
        ("Compiling", (), "compile"),
        ("Sending initial weights", (), "setup"),
        ("Saving checkpoint", (), "checkpoint"),
        ("Epochs", (), "train"),
        ("Epoch 3", (), "train"),
        ("Training", (), "train"),
        ("Evaluating", (), "eval"),
        ("Validation", (), "eval"),
        ("Testing", (), "eval"),
        ("", (("loss", 0.5),), "train"),
        ("", (), None),
        ("Downloading", (), None),
    ],
)
def test_bar_phase(name: str, metrics: tuple[tuple[str, float], ...], phase: str | None) -> None:
    assert bar_phase(name, metrics) == phase


# --- the parser: phases, redraws, steps -------------------------------------------------------------------------


def test_redraws_are_states_and_phase_spans_the_bar() -> None:
    redraws = [
        f"Graph compilation:  {p:2d}%|{BLOCK * (p // 10)}{' ' * (10 - p // 10)}| {p}/100 [00:{p // 10:02d}<00:05]"
        for p in (10, 50)
    ]
    parser = TqdmParser()
    events: list[Event] = []
    for text in redraws:
        events.extend(parser.feed(Line(1, 0, text, final=False)))
    done = f"Graph compilation: 100%|{BLOCK * 10}| 100/100 [00:17<00:00]"
    events.extend(parser.feed(Line(1, 0, done, final=False)))
    events.extend(parser.feed(Line(1, 0, done, final=True)))
    assert [type(e).__name__ for e in events] == [
        "PhaseStarted",
        "ProgressUpdate",
        "ProgressUpdate",
        "ProgressUpdate",
        "PhaseEnded",
        "ProgressUpdate",
    ]
    assert [u.redraw for u in updates(events)] == [True, True, True, False]
    (ended,) = [e for e in events if isinstance(e, PhaseEnded)]
    assert (ended.phase, ended.seconds) == ("compile", 17.0)


def test_a_bar_of_the_same_name_later_is_a_new_phase() -> None:
    done = "Graph compilation: 100%|##########| 100/100 [00:{:02d}<00:00]"
    events = feed_texts(done.format(20), "Epochs: 100%|##########| 3/3 [00:30<00:00, 10.00s/it]", done.format(13))
    phases = [(type(e).__name__, e.phase) for e in events if isinstance(e, PhaseStarted | PhaseEnded)]
    assert phases == [
        ("PhaseStarted", "compile"),
        ("PhaseEnded", "compile"),
        ("PhaseStarted", "train"),
        ("PhaseEnded", "train"),
        ("PhaseStarted", "compile"),
        ("PhaseEnded", "compile"),
    ]


def test_finished_bar_printed_again_is_not_a_new_phase() -> None:
    done = "Saving checkpoint: 100%|####| 40/40 [00:03<00:00, 13.33 tensors/s]"
    events = feed_texts(done, done)
    assert sum(isinstance(e, PhaseStarted) for e in events) == 1
    assert sum(isinstance(e, PhaseEnded) for e in events) == 1


def test_train_bar_with_loss_gives_steps_counted_across_epochs() -> None:
    events = feed_texts(
        "Epoch 1 loss=0.9: 50%|#####     | 5/10 [00:05<00:05, 1.00it/s]",
        "Epoch 1 loss=0.7: 100%|##########| 10/10 [00:10<00:00, 1.00it/s]",
        "Epoch 2 loss=0.5: 50%|#####     | 5/10 [00:05<00:05, 1.00it/s]",
        "Epoch 2 loss=0.5: 50%|#####     | 5/10 [00:05<00:05, 1.00it/s]",
    )
    steps = [(e.step, e.loss, e.epoch) for e in events if isinstance(e, StepMetrics)]
    assert steps == [(5, 0.9, 1.0), (10, 0.7, 1.0), (15, 0.5, 2.0)]


def test_anonymous_bar_with_postfix_loss_is_training() -> None:
    events = feed_texts(" 20%|##        | 20/100 [00:04<00:16,  5.00it/s, loss=1.25]")
    (step,) = [e for e in events if isinstance(e, StepMetrics)]
    assert (step.step, step.loss, step.rate, step.rate_unit, step.remaining_s) == (20, 1.25, 5.0, "it/s", 16.0)
    assert any(isinstance(e, PhaseStarted) and e.phase == "train" for e in events)


def test_anonymous_bar_that_starts_showing_a_loss_becomes_training() -> None:
    events = feed_texts(
        "  0%|          | 0/100 [00:00<?, ?it/s]",
        " 10%|#         | 10/100 [00:01<00:09,  9.00it/s, loss=2.5]",
        "100%|##########| 100/100 [00:10<00:00,  9.90it/s, loss=0.5]",
    )
    assert [(type(e).__name__, e.line) for e in events if isinstance(e, PhaseStarted | PhaseEnded)] == [
        ("PhaseStarted", 2),
        ("PhaseEnded", 3),
    ]
    assert [e.step for e in events if isinstance(e, StepMetrics)] == [10, 100]


def test_a_bar_drawn_all_along_is_not_forgotten() -> None:
    parser = TqdmParser()
    events: list[Event] = []
    for i in range(MAX_BARS * 2):
        events.extend(
            parser.feed(Line(2 * i + 1, 0, f"Epochs:  10%|#         | 1/10 [00:{i % 60:02d}<01:00, 0.10it/s]"))
        )
        events.extend(parser.feed(Line(2 * i + 2, 0, f"Batch {i}: 100%|##########| 5/5 [00:01<00:00, 5.00it/s]")))
    started = [e for e in events if isinstance(e, PhaseStarted) and e.detail == "Epochs"]
    assert len(started) == 1


def test_lines_without_bars_cost_nothing() -> None:
    assert feed_texts("plain", "2024-01-01 00:00:00,000 INFO: no bars here") == []


# --- fixtures and chunkings -------------------------------------------------------------------------------------


def test_fixture_mixed_bars_is_chunking_invariant_and_complete() -> None:
    data = (FIXTURES / "tqdm_mixed.log").read_bytes()
    events = list(assert_chunking_invariant(lambda chunks: parse_with(TqdmParser, chunks), data))
    by_name: dict[str, list[ProgressUpdate]] = {}
    for u in updates(events):
        by_name.setdefault(u.name, []).append(u)
    assert set(by_name) >= {
        "Epoch 1",
        "Epochs",
        "Graph compilation",
        "",
        "Train",
        "Streaming",
        "Initializing module Net.head",
        "Evaluating",
        "Sending initial weights",
        "Saving checkpoint",
    }
    epoch1 = by_name["Epoch 1"]
    assert [u.n for u in epoch1] == [0, 25, 50, 100]
    assert [u.redraw for u in epoch1] == [True, True, True, False]
    assert epoch1[-1].metrics[0] == ("loss", 0.2107)
    assert [u.n for u in by_name["Graph compilation"]] == [100, 12]
    assert [(u.n, u.total, u.rate) for u in by_name[""]] == [(300, 1000, 4.81), (87, 100, 11.52)]
    started = [e.phase for e in events if isinstance(e, PhaseStarted)]
    assert started == ["train", "train", "compile", "train", "eval", "setup", "checkpoint", "compile"]
    ended = {(e.phase, e.seconds) for e in events if isinstance(e, PhaseEnded)}
    assert ended == {
        ("train", 4.0),
        ("train", 130.0),
        ("compile", 31.0),
        ("eval", 5.0),
        ("setup", 1.0),
        ("checkpoint", 4.0),
    }
    assert [e.step for e in events if isinstance(e, StepMetrics)] == [25, 50, 100, 1500]
    # The last three lines of the fixture are not bars.
    assert max(e.line for e in events) == 11


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("0123456789%|[]<>:,./ ?itsk█#abcdEpoch=-\ufffd\r")), max_size=120))
def test_never_raises_on_bar_like_noise(text: str) -> None:
    parser = TqdmParser()
    for line in split_lines([text.encode("utf-8", "replace")]):
        # find_bars directly: the parser's own safety net would hide a bug from this test.
        find_bars(line.text)
        parser.feed(line)
    parser.finish()


# --- real logs (skipped without ../shared) ----------------------------------------------------------------------


def _shared(relative: str) -> bytes:
    path = SHARED / relative
    if not path.is_file():
        pytest.skip(f"{relative} not available (../shared is absent)")
    return path.read_bytes()


def test_corpus_cerebras_client_bars() -> None:
    data = _shared("corpus/cerebras_2025_esm2_tqdm_checkpoint_train.log")
    events = parse_with(TqdmParser, [data])
    bars = updates(events)
    assert [(u.name, u.n, u.total, u.unit) for u in bars] == [
        ("Sending initial weights", 1007, 1007, "tensors"),
        ("Saving checkpoint", 1321, 1321, "tensors"),
        ("Saving checkpoint", 1321, 1321, "tensors"),
    ]
    assert [(e.phase, e.seconds) for e in events if isinstance(e, PhaseEnded)] == [
        ("setup", 2.0),
        ("checkpoint", 9.0),
        ("checkpoint", 8.0),
    ]


def test_corpus_cerebras_description_only_bars() -> None:
    data = _shared("corpus/cerebras_2024-03_gpt2_compile_and_train.log")
    bars = updates(parse_with(TqdmParser, [data]))
    assert bars and all(u.name.startswith("Initializing module ") and u.total is None for u in bars)
    assert {u.elapsed_s for u in bars} <= {2.0, 3.0}


def test_seed_graphcore_glued_and_garbled_bars() -> None:
    data = _shared("seed/graphcore_mnist_hw7.log")
    events = assert_chunking_invariant(lambda chunks: parse_with(TqdmParser, chunks), data)
    bars = [(u.name, u.n, u.total, u.elapsed_s) for u in updates(list(events))]
    assert bars == [("Epochs", 10, 10, 108.0), ("Graph compilation", 100, 100, 14.0), ("", 94, 100, None)]
    assert [(e.phase, e.seconds) for e in events if isinstance(e, PhaseEnded)] == [("train", 108.0), ("compile", 14.0)]


def test_corpus_poptorch_mnist_bars() -> None:
    data = _shared("corpus/graphcore_sdk3.3_mnist_poptorch_srun.log")
    events = parse_with(TqdmParser, [data])
    bars = [(u.name, u.n, u.total) for u in updates(events)]
    assert bars == [
        ("Epochs", 0, 10),
        ("Graph compilation", 100, 100),
        ("Epochs", 10, 10),
        ("Graph compilation", 100, 100),
        ("", 97, 100),
    ]
    compiles = [e.seconds for e in events if isinstance(e, PhaseEnded) and e.phase == "compile"]
    assert compiles == [20.0, 13.0]


def test_bar_memory_is_bounded() -> None:
    parser = TqdmParser()
    for i in range(MAX_BARS * 3):
        parser.feed(Line(i + 1, 0, f"Epoch {i}: 100%|##########| 10/10 [00:01<00:00, 9.00it/s]"))
    assert len(parser._bars) <= MAX_BARS


def test_pathological_long_line_is_fast() -> None:
    import time

    text = ("%|" + "x" * 1500) * 40 + "Epochs: 50%|#####     | 5/10 [00:05<00:05, 1.00it/s]" + " [00:01, " * 3000
    start = time.perf_counter()
    bars = find_bars(text)
    assert time.perf_counter() - start < 2.0
    # Text glued to a description without any separator cannot be told apart from it; the name stays bounded.
    assert [(b.n, b.total) for b in bars] == [(5, 10)]
    assert bars[0].name.endswith("Epochs") and len(bars[0].name) <= MAX_DESC


def test_log_tag_glued_before_a_description_is_not_part_of_the_name() -> None:
    (bar,) = find_bars(
        "[1,0]<stderr>:[12:00:00.000] [poptorch:cpp] [info] x]Epochs:  50%|#####     | 5/10 [00:05<00:05]"
    )
    assert bar.name == "Epochs"


@pytest.mark.parametrize("desc", ["Epoch [1/10]", "Epoch [1/10] train"])
def test_brackets_inside_a_description_stay(desc: str) -> None:
    (bar,) = find_bars(f"{desc}:  50%|#####     | 5/10 [00:05<00:05, 1.00it/s]")
    assert bar.name == desc


# --- the one-match shortcut for a plain anonymous bar --------------------------------------------------------------

_PLAIN_SHAPES = [
    "  7%|▋         | 70/1000 [00:03<00:45, 20.40it/s]",
    "100%|██████████| 1000/1000 [10:00<00:00, 1.67it/s]",
    "  0%|          | 0/5 [00:00<?, ?it/s]",
    "  3%|3         | 3/100 [1:02:03<5:00:00, 0.50img/s]",
    " 42%|####2     | 42/100 [00:01<00:01, 35.2it/s] ",
    "100%|██████████| 999999999999999/999999999999999 [00:00<00:00, 1it/s]",
]
_NOT_PLAIN = [
    "Epoch 1:  7%|▋   | 70/1000 [00:03<00:45, 20.40it/s]",  # a name
    "  7%|▋   | 70/1000 [00:03<00:45, 20.40it/s, loss=0.5]",  # a postfix
    "  7%|▋   | 70/1000 [00:03<00:45,  2.04s/it]",  # an inverted rate
    "  7%|▋   | 7.0k/10.0k [00:03<00:45, 2.04kit/s]",  # unit_scale
    "  7%|▋   | 70/1000 [00:03<00:45, 20.40it/s]  9%|▉   | 90/1000 [00:04<00:44, 20.5it/s]",  # two bars
    "1000%|▋   | 70/1000 [00:03<00:45, 20.40it/s]",
    "  7%|▋   | 70/1000 [1 day, 00:03<00:45, 20.40it/s]",
]


@pytest.mark.parametrize("text", _PLAIN_SHAPES + _NOT_PLAIN)
def test_the_plain_bar_shortcut_reads_what_the_general_path_reads(text: str) -> None:
    from hwmon.parsers.tqdm_bars import find_bars_general

    assert find_bars(text) == find_bars_general(text)
    assert find_bars(text)


@given(
    st.integers(0, 100),
    st.integers(0, 10**6),
    st.integers(1, 10**6),
    st.sampled_from(["00:00", "59:59", "1:02:03", "123:00:00"]),
    st.sampled_from(["00:01", "?", "10:00:00"]),
    st.sampled_from(["20.40", "?", "0", "1.5e3", "7."]),
    st.sampled_from(["it", "img", "tokens", "s", "B"]),
    st.sampled_from(["", " ", "  "]),
)
@settings(max_examples=300, deadline=None)
def test_the_plain_bar_shortcut_agrees_on_generated_bars(
    pct: int, n: int, total: int, elapsed: str, remaining: str, rate: str, unit: str, pad: str
) -> None:
    from hwmon.parsers.tqdm_bars import find_bars_general

    text = f"{pad}{pct:3d}%|{'█' * (pct // 10):<10}| {n}/{total} [{elapsed}<{remaining}, {rate}{unit}/s]{pad}"
    assert find_bars(text) == find_bars_general(text)
