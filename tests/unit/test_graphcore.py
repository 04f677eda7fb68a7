"""GraphcoreParser: PopTorch/Poplar/PopART lines, HF Trainer/optimum, Keras, GPT-2 steps, Poplar OOM, Slurm.

Fixtures are hand-written in the same formats (``tests/fixtures/graphcore_*.log``); the corpus tests read the real
Graphcore logs from ``../shared`` when present and skip cleanly otherwise.
"""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.helpers.chunking import assert_chunking_invariant, parse_with, stream_events

from hwmon.events import (
    CheckpointSaved,
    ErrorSeen,
    EvalMetric,
    Event,
    Info,
    JobIdSeen,
    PhaseEnded,
    PhaseStarted,
    ProgressUpdate,
    RunCompleted,
    RunStarted,
    StepMetrics,
    VendorDetected,
    WarningSeen,
)
from hwmon.model.reducer import apply_all
from hwmon.model.state import RunState
from hwmon.parsers.base import Line
from hwmon.parsers.graphcore import GraphcoreParser
from hwmon.parsers.hftrainer import HfTrainerParser
from hwmon.parsers.keras import KerasParser

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"


class IpuStack:
    """The parsers an IPU run's output goes through (PopTorch/Poplar, then the trainers people run on IPUs), in the
    stream's order, without the stream's other parsers."""

    def __init__(self) -> None:
        self.parsers = (GraphcoreParser(), HfTrainerParser(), KerasParser())

    def feed(self, line: Line) -> list[Event]:
        return [event for parser in self.parsers for event in parser.feed(line)]

    def finish(self) -> list[Event]:
        return [event for parser in self.parsers for event in parser.finish()]


def feed_texts(*texts: str) -> list[Event]:
    parser = IpuStack()
    events: list[Event] = []
    for number, text in enumerate(texts, start=1):
        events.extend(parser.feed(Line(number, 0, text)))
    events.extend(parser.finish())
    return events


def of(events: list[Event] | tuple[Event, ...], kind: type[Event]) -> list[Event]:
    return [e for e in events if isinstance(e, kind)]


def fixture_events(name: str) -> list[Event]:
    data = (FIXTURES / name).read_bytes()
    return list(assert_chunking_invariant(lambda chunks: parse_with(IpuStack, chunks), data))


# --- log lines of the Graphcore stack ---------------------------------------------------------------------------


def test_poptorch_cpp_warning_and_vendor() -> None:
    events = feed_texts("[poptorch:cpp] [warning] [DISPATCHER] Type coerced from Long to Int")
    assert of(events, VendorDetected) == [VendorDetected(1, None, "graphcore", "IPU")]
    (w,) = of(events, WarningSeen)
    assert isinstance(w, WarningSeen)
    assert (w.message, w.source) == ("[DISPATCHER] Type coerced from Long to Int", "poptorch:cpp")


def test_poptorch_python_warning_counts_once_with_its_unprefixed_repeat() -> None:
    events = feed_texts(
        "[04:09:02.177] [poptorch::python] [warning] Ignoring unexpected attribute: ['x']",
        "Ignoring unexpected attribute: ['x']",
        "Ignoring unexpected attribute: ['x']",
    )
    assert len(of(events, WarningSeen)) == 1


def test_poptorch_error_level() -> None:
    (e,) = of(feed_texts("[poptorch::python] [error] bad thing"), ErrorSeen)
    assert isinstance(e, ErrorSeen)
    assert (e.message, e.fatal) == ("bad thing", False)


def test_poplar_levels_and_timestamps() -> None:
    events = feed_texts(
        "2023-04-27T03:39:53.291853Z PL:POPLIN    3888383.3888383 W: preplan is deprecated",
        "2023-04-27T03:39:54.000001Z PO:ENGINE   1.2 E: engine failure",
        "2023-04-27T03:39:55.5Z popart:session 1.2 C: critical thing",
        "2023-04-27T03:39:56.000000Z PL:POPLAR   1.2 I: info only",
        "2023-04-27T03:39:57.000000Z PL:POPLAR   1.2 D: debug only",
    )
    (w,) = of(events, WarningSeen)
    assert isinstance(w, WarningSeen)
    assert w.ts == datetime(2023, 4, 27, 3, 39, 53, 291853)
    assert (w.message, w.source) == ("preplan is deprecated", "PL:POPLIN")
    errors = of(events, ErrorSeen)
    assert [(e.message, e.line) for e in errors if isinstance(e, ErrorSeen)] == [
        ("engine failure", 2),
        ("critical thing", 3),
    ]


def test_poplar_older_bracketed_level_format() -> None:
    events = feed_texts("09:16:12.345 4242 PO:ENGINE   [W] old style warning", "PL:POPLIN 1.2 [E] old style error")
    assert [(type(e).__name__, e.line) for e in events if isinstance(e, WarningSeen | ErrorSeen)] == [
        ("WarningSeen", 1),
        ("ErrorSeen", 2),
    ]


def test_poplar_line_glued_after_a_bar() -> None:
    events = feed_texts(
        "Graph compilation:   4%|▍         | 4/100 [00:29<11:57]2023-04-27T03:39:53.291853Z PL:POPLIN    1.1 W: x"
    )
    assert [e.message for e in of(events, WarningSeen) if isinstance(e, WarningSeen)] == ["x"]
    assert len(of(events, VendorDetected)) == 1


def test_compile_markers() -> None:
    events = feed_texts("Compiling Model...", "Compiled/Loaded model in 31.030112855136395 secs")
    assert events[1] == PhaseStarted(1, None, "compile", "Compiling Model")
    (ended,) = of(events, PhaseEnded)
    assert isinstance(ended, PhaseEnded)
    assert ended.phase == "compile" and ended.seconds is not None and math.isclose(ended.seconds, 31.030112855136395)


def test_test_accuracy_is_a_fraction_and_an_eval_not_the_end() -> None:
    # Scripts print accuracy after every epoch: the line is an evaluation, never the run's end.
    events = feed_texts("Accuracy on test set: 98.72%")
    assert [type(e) for e in events] == [PhaseStarted, EvalMetric, PhaseEnded]
    metric = events[1]
    assert isinstance(metric, EvalMetric)
    assert metric.name == "test_accuracy" and math.isclose(metric.value, 0.9872)


# --- HF Trainer / optimum ---------------------------------------------------------------------------------------


def test_hf_dicts() -> None:
    events = feed_texts(
        "{'loss': 0.605, 'learning_rate': 1.6e-05, 'epoch': 0.06}",
        "{'eval_loss': 0.25, 'eval_accuracy': 0.9, 'eval_runtime': 3.0, 'epoch': 1.0}",
        "{'train_runtime': 1038.1587, 'train_samples_per_second': 307.745, 'train_loss': 0.21, 'epoch': 3.0}",
        "{'loss': 0.2381, 'learning_rate': 0.0001, 'epoch': 0.",
    )
    (step,) = of(events, StepMetrics)
    assert isinstance(step, StepMetrics)
    assert (step.step, step.loss, step.epoch, step.extra) == (None, 0.605, 0.06, (("learning_rate", 1.6e-05),))
    assert [(e.name, e.value) for e in of(events, EvalMetric) if isinstance(e, EvalMetric)] == [
        ("eval_loss", 0.25),
        ("eval_accuracy", 0.9),
    ]
    (done,) = of(events, RunCompleted)
    assert isinstance(done, RunCompleted)
    assert done.seconds == 1038.1587 and done.samples == round(307.745 * 1038.1587)


def test_json_style_dict_and_config_json_lines() -> None:
    events = feed_texts(
        '{"loss": 0.5, "grad_norm": 1.5, "epoch": 1.0}', '  "n_layer": 12,', '  "task": {"loss_type": 1},'
    )
    steps = [(e.loss, e.epoch, e.extra) for e in of(events, StepMetrics) if isinstance(e, StepMetrics)]
    assert steps == [(0.5, 1.0, (("grad_norm", 1.5),))]


def test_checkpoint_glued_after_a_bar() -> None:
    (ckpt,) = of(
        feed_texts(" 40%|####      | 1000/2496 [06:53<10:09,  2.46it/s]Saving model checkpoint to ./r/checkpoint-1000"),
        CheckpointSaved,
    )
    assert ckpt == CheckpointSaved(1, None, 1000, "./r/checkpoint-1000")


def test_fixture_hf_trainer() -> None:
    events = fixture_events("graphcore_hf_trainer.log")
    assert of(events, RunStarted) == [RunStarted(4, None, None)]
    info = {e.key: e.value for e in of(events, Info) if isinstance(e, Info)}
    assert info["num_examples"] == "5000"
    assert info["num_epochs"] == "2"
    assert info["total_optimization_steps"] == "156"
    assert info["total_train_batch_size"] == "64"
    assert info["eval_num_examples"] == "500"
    assert [(e.step, e.path) for e in of(events, CheckpointSaved) if isinstance(e, CheckpointSaved)] == [
        (50, "./run/checkpoint-50")
    ]
    # The cut dict (no closing brace) gives nothing; the Device Allocation table gives no steps.
    assert [(e.loss, e.epoch) for e in of(events, StepMetrics) if isinstance(e, StepMetrics)] == [
        (1.25, 0.5),
        (0.875, 1.0),
        (0.5, 1.5),
    ]
    evals = [(e.name, e.value) for e in of(events, EvalMetric) if isinstance(e, EvalMetric)]
    assert evals == [("eval_loss", 0.5), ("eval_accuracy", 0.8125), ("eval_accuracy", 0.8438), ("eval_loss", 0.4375)]
    done = [e for e in of(events, RunCompleted) if isinstance(e, RunCompleted)]
    assert done[-1].seconds == 125.0 and done[-1].samples == 10000
    phases = [(type(e).__name__, e.phase) for e in events if isinstance(e, PhaseStarted | PhaseEnded)]
    assert phases[:3] == [("PhaseStarted", "compile"), ("PhaseEnded", "compile"), ("PhaseStarted", "train")]
    assert ("PhaseStarted", "eval") in phases
    assert not of(events, ErrorSeen) and not of(events, WarningSeen)


# --- Keras and GPT-2 step lines ---------------------------------------------------------------------------------


def test_fixture_keras() -> None:
    events = fixture_events("graphcore_keras.log")
    bars = [e for e in of(events, ProgressUpdate) if isinstance(e, ProgressUpdate)]
    assert [(b.n, b.total, b.redraw) for b in bars] == [
        (10, 100, True),
        (50, 100, True),
        (100, 100, False),
        (100, 100, False),
        (100, 100, False),
    ]
    assert bars[0].remaining_s == 65.0 and bars[1].remaining_s == 12.0
    assert bars[2].elapsed_s == 20.0 and bars[2].rate is not None and math.isclose(bars[2].rate, 5.0)
    steps = [(e.step, e.loss, e.epoch) for e in of(events, StepMetrics) if isinstance(e, StepMetrics)]
    assert steps == [(10, 2.3026, 1.0), (50, 1.5, 1.0), (100, 1.0, 1.0), (200, 0.5, 2.0), (300, 0.25, 3.0)]
    evals = [(e.name, e.value) for e in of(events, EvalMetric) if isinstance(e, EvalMetric)]
    assert evals == [("val_loss", 0.9), ("val_accuracy", 0.7), ("val_loss", 0.6), ("val_accuracy", 0.8)]


def test_keras_epoch_one_again_starts_a_new_run() -> None:
    line = "10/10 [==============================] - 1s 100ms/step - loss: 0.5000"
    events = feed_texts("Epoch 1/1", line, "Epoch 1/1", line)
    assert [e.line for e in of(events, RunStarted)] == [3]
    assert [e.step for e in of(events, StepMetrics) if isinstance(e, StepMetrics)] == [10, 10]


def test_fixture_gpt2() -> None:
    events = fixture_events("graphcore_gpt2.log")
    steps = [e for e in of(events, StepMetrics) if isinstance(e, StepMetrics)]
    assert [(s.step, s.loss, s.rate, s.epoch) for s in steps] == [
        (0, 9.5, 12.5, 0.0),
        (1, 9.25, 512.75, 0.0),
        (2, 9.0, 513.25, 1.0),
    ]
    assert steps[0].rate_unit == "samples/sec"
    assert dict(steps[0].extra) == {"acc": 1.5e-05, "lr": 0.0001}
    # Namespace(...) and the GPT2Config JSON (which mentions loss and step) give no steps: only the 3 step lines.
    assert all(s.line >= 34 for s in steps)
    warnings = [e for e in of(events, WarningSeen) if isinstance(e, WarningSeen)]
    assert [w.source for w in warnings] == [
        "PL:POPLIN",
        "PL:POPLIN",
        "PO:ENGINE",
        "poptorch::python",
        "poptorch::python",
    ]
    assert [e.message for e in of(events, ErrorSeen) if isinstance(e, ErrorSeen)] == ["something went wrong in session"]
    assert of(events, VendorDetected) == [VendorDetected(3, None, "graphcore", "IPU")]


# --- Poplar out of memory ---------------------------------------------------------------------------------------


def test_fixture_oom_on_tile() -> None:
    events = fixture_events("graphcore_oom_tile.log")
    (err,) = of(events, ErrorSeen)
    assert isinstance(err, ErrorSeen)
    assert (err.kind, err.fatal, err.line) == ("oom", True, 3)
    assert err.message.startswith("Out of memory on tile 7: 700000 bytes used")


def test_fixture_oom_sdk3_wording_and_profile() -> None:
    events = fixture_events("graphcore_oom_sdk3.log")
    (err,) = of(events, ErrorSeen)
    assert isinstance(err, ErrorSeen)
    assert err.kind == "oom" and err.fatal and "Cannot fit all variable data" in err.message
    assert Info(2, None, "poplar_profile", "./oom_report/profile.pop") in events


def test_fixture_oom_without_what_is_flushed_at_finish() -> None:
    events = fixture_events("graphcore_oom_no_what.log")
    (err,) = of(events, ErrorSeen)
    assert isinstance(err, ErrorSeen)
    assert (err.kind, err.fatal, err.line) == ("oom", True, 1)


def test_oom_counts_once_through_the_whole_stream() -> None:
    # The generic parser also reports terminate/what(); the stream keeps the specific one (kind="oom").
    for name in ("graphcore_oom_tile.log", "graphcore_oom_sdk3.log"):
        events = stream_events([(FIXTURES / name).read_bytes()])
        memory = [e for e in of(events, ErrorSeen) if isinstance(e, ErrorSeen) and "Out of memory" in e.message]
        assert [e.kind for e in memory] == ["oom"], name


def test_oom_terminate_followed_by_other_line_is_released_then() -> None:
    events = feed_texts(
        "terminate called after throwing an instance of 'poplar::graph_memory_allocation_error'",
        "Aborted (core dumped)",
    )
    assert [(e.line, e.kind) for e in of(events, ErrorSeen) if isinstance(e, ErrorSeen)] == [(1, "oom")]


def test_oom_echoed_nearby_counts_once_but_a_later_one_counts_again() -> None:
    oom = "poptorch.Error: Out of memory: Cannot fit all variable data onto one or more tiles."
    events = feed_texts(oom, "traceback noise", oom, *(["filler"] * 60), oom)
    assert [e.line for e in of(events, ErrorSeen)] == [1, 64]


def test_other_terminate_is_left_to_the_generic_parser() -> None:
    events = feed_texts("terminate called after throwing an instance of 'std::runtime_error'", "  what():  boom")
    assert not of(events, ErrorSeen)


# --- Slurm / launcher prefixes, mnist ---------------------------------------------------------------------------


def test_fixture_poprun_tagged() -> None:
    events = fixture_events("graphcore_poprun_tagged.log")
    (step,) = of(events, StepMetrics)
    assert isinstance(step, StepMetrics) and (step.step, step.loss, step.rate) == (5, 3.5, 100.5)
    assert [e.message for e in of(events, WarningSeen) if isinstance(e, WarningSeen)] == ["tagged warning"]
    assert of(events, JobIdSeen) == [JobIdSeen(3, None, "777", "slurm")]


def test_fixture_poptorch_mnist() -> None:
    events = fixture_events("graphcore_poptorch_mnist.log")
    assert events[0] == RunStarted(1, None, None)
    assert of(events, JobIdSeen) == [JobIdSeen(1, None, "5151", "slurm")]
    assert PhaseStarted(1, None, "queue", "Slurm queue") in events and PhaseEnded(2, None, "queue") in events
    # srun lines are not Graphcore's: the vendor comes from the first poptorch line.
    assert of(events, VendorDetected) == [VendorDetected(4, None, "graphcore", "IPU")]
    evals = [e for e in of(events, EvalMetric) if isinstance(e, EvalMetric)]
    assert len(evals) == 1 and evals[0].name == "test_accuracy" and math.isclose(evals[0].value, 0.9731)
    assert isinstance(events[-1], PhaseEnded) and events[-1].phase == "eval"  # a result, not the end


def test_mnist_run_through_the_whole_stream_succeeds() -> None:
    data = (FIXTURES / "graphcore_poptorch_mnist.log").read_bytes()
    state = RunState(source="t")
    apply_all(state, stream_events([data]))
    assert state.vendor == "graphcore"
    assert state.status == "succeeded"
    assert math.isclose(state.eval["test_accuracy"], 0.9731)


@pytest.mark.parametrize(
    "text",
    [
        "Arguments: Namespace(batch_size=1, epochs=1, loss_scaling=1.0, ipus_per_replica=4, training_steps=10)",
        '  "n_layer": 12,',
        "Layer 4  --> IPU 2",
        "-------------------- Device Allocation --------------------",
        "Data loaded in 2.358953586081043 secs",
        "2024-03-30 13:03:05,540 INFO:   | Train Device=CSX, Step=100, Loss=9.48438, Rate=6855.28 samples/sec",
        "Epoch 3 of 10: nothing to see",
        "",
    ],
)
def test_no_bogus_steps_or_errors(text: str) -> None:
    events = feed_texts(text)
    assert not [e for e in events if not isinstance(e, VendorDetected)]


_NOISE = st.text(
    alphabet=st.sampled_from(list("0123456789%|[]{}()<>:,./ =*-'\"?abcdeEpochstepIPUPLO:WZT\ufffd━")),
    max_size=100,
)
_SEEDS = st.sampled_from(
    [
        "",
        "***** Running training *****",
        "  Num examples = ",
        "{'loss': ",
        "step 1 of epoch ",
        "Epoch 1/",
        "10/10 [====] - ",
        "2023-04-27T03:39:53.291853Z PL:POPLIN 1.1 ",
        "[01:02:03.004] [poptorch::python] [warning] ",
        "terminate called after throwing an instance of 'poplar::graph_memory_allocation_error'",
        "  what():  Out of memory",
        "Accuracy on test set: ",
        "Compiled/Loaded model in ",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_SEEDS, _NOISE), max_size=8))
def test_never_raises_on_fuzzed_lines(pieces: list[tuple[str, str]]) -> None:
    parser = GraphcoreParser()
    out: list[Event] = []
    for number, (seed, noise) in enumerate(pieces, start=1):
        # _feed directly: the parser's own safety net would hide a bug from this test.
        parser._feed(Line(number, 0, seed + noise), out)
    out.extend(parser.finish())


def test_never_raises_on_odd_input() -> None:
    nasty = [
        "{'loss': nan, 'epoch': inf}",
        "{'loss': 1e999999, 'epoch': 1}",
        "step 99999999999999999999 of epoch 1, loss: nan",
        "1/0 [] - 0s 0ms/step - loss: 1",
        "***** *****",
        "  = ",
        "what():",
        "Compiled/Loaded model in . secs",
        "\ufffd" * 1000,
    ]
    events = feed_texts("***** Running training *****", *nasty)
    assert isinstance(events, list)


# --- real logs (skipped without ../shared) ----------------------------------------------------------------------


def _shared(relative: str) -> bytes:
    path = SHARED / relative
    if not path.is_file():
        pytest.skip(f"{relative} not available (../shared is absent)")
    return path.read_bytes()


def test_seed_mnist() -> None:
    events = parse_with(IpuStack, [_shared("seed/graphcore_mnist_hw7.log")])
    assert of(events, VendorDetected) == [VendorDetected(1, None, "graphcore", "IPU")]
    (metric,) = of(events, EvalMetric)
    assert isinstance(metric, EvalMetric) and math.isclose(metric.value, 0.9872)
    assert isinstance(events[-1], PhaseEnded) and events[-1].phase == "eval"  # the test result is an eval
    assert not of(events, ErrorSeen)


def test_corpus_oom_on_tile() -> None:
    events = parse_with(IpuStack, [_shared("corpus/graphcore_sdk2.3_poplar_oom_on_tile_terminate.log")])
    (err,) = of(events, ErrorSeen)
    assert isinstance(err, ErrorSeen)
    assert err.kind == "oom" and err.fatal and err.message.startswith("Out of memory on tile 1:")


def test_corpus_optimum_vit() -> None:
    data = _shared("corpus/graphcore_sdk3.0_optimum_vit_finetune_trainer_checkpoints.log")
    events = list(assert_chunking_invariant(lambda chunks: parse_with(IpuStack, chunks), data, seeds=(0, 1)))
    ckpts = [(e.step, e.path) for e in of(events, CheckpointSaved) if isinstance(e, CheckpointSaved)]
    assert ckpts == [(1000, "./results/checkpoint-1000"), (2000, "./results/checkpoint-2000")]
    info = {e.key: e.value for e in of(events, Info) if isinstance(e, Info)}
    assert (info["num_examples"], info["num_epochs"], info["total_optimization_steps"]) == ("106514", "3", "2496")
    steps = [e for e in of(events, StepMetrics) if isinstance(e, StepMetrics)]
    # 12 dict lines, 2 of them cut by the notebook's elision: 10 steps.
    assert len(steps) == 10 and steps[0].loss == 0.605 and steps[-1].loss == 0.1544
    done = [e for e in of(events, RunCompleted) if isinstance(e, RunCompleted)]
    assert done[-1].seconds == 1038.1587
    compile_end = [e for e in of(events, PhaseEnded) if isinstance(e, PhaseEnded) and e.phase == "compile"]
    assert compile_end[0].seconds is not None and math.isclose(compile_end[0].seconds, 31.030112855136395)
    assert not of(events, ErrorSeen) and not of(events, WarningSeen)


def test_corpus_gpt2_pod4() -> None:
    data = _shared("corpus/graphcore_sdk3.3_gpt2_pod4_train.log")
    events = list(assert_chunking_invariant(lambda chunks: parse_with(IpuStack, chunks), data, seeds=(0, 1)))
    steps = [e for e in of(events, StepMetrics) if isinstance(e, StepMetrics)]
    assert [s.step for s in steps] == [0, 1, 2, 3]
    assert steps[-1].loss is not None and math.isclose(steps[-1].loss, 10.829036712646484)
    assert steps[-1].rate is not None and math.isclose(steps[-1].rate, 1064.4397806661352)
    warnings = [e for e in of(events, WarningSeen) if isinstance(e, WarningSeen)]
    # 4 PL:POPLIN + PO:ENGINE + popart:session + 3 poptorch::python (their unprefixed repeats not counted).
    assert len(warnings) == 9
    assert warnings[0].ts == datetime(2023, 4, 27, 3, 39, 53, 291853)
    assert not of(events, ErrorSeen)


def test_corpus_mnist_srun() -> None:
    events = parse_with(IpuStack, [_shared("corpus/graphcore_sdk3.3_mnist_poptorch_srun.log")])
    assert of(events, JobIdSeen)[0] == JobIdSeen(1, None, "2623", "slurm")
    assert [e.message for e in of(events, WarningSeen) if isinstance(e, WarningSeen)] == [
        "[DISPATCHER] Type coerced from Long to Int for tensor id 10"
    ]
    (metric,) = of(events, EvalMetric)
    assert isinstance(metric, EvalMetric) and math.isclose(metric.value, 0.9859)
    assert isinstance(events[-1], PhaseEnded) and events[-1].phase == "eval"  # the test result is an eval
