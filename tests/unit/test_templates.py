"""Learned line templates (``hwmon.parsers.templates``): training loops nobody wrote a rule for, read by the words
next to their numbers. The fixtures under tests/fixtures/learned/ are the project's own, in its own words."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
from tests.helpers.chunking import assert_chunking_invariant, stream_events

from hwmon.events import EvalMetric, Event, StepMetrics, TargetStated
from hwmon.model.summary import summary_dict
from hwmon.parsers.base import Line
from hwmon.parsers.records import RecordReader
from hwmon.parsers.templates import HOLD, MAX_TEMPLATES, NUMBER, TemplateStage
from hwmon.sources.read import summarize_bytes

LEARNED = Path(__file__).resolve().parents[1] / "fixtures" / "learned"
SRC = Path(__file__).resolve().parents[2] / "src" / "hwmon" / "parsers"


def feed(lines: list[str]) -> tuple[TemplateStage, list[Event]]:
    stage = TemplateStage()
    reader = RecordReader()
    out: list[Event] = []
    for number, text in enumerate(lines, start=1):
        found = stage.feed(reader.read(Line(number, 0, text)))
        if found:
            out.extend(found)
    out.extend(stage.finish())
    return stage, out


def steps(events: list[Event]) -> list[StepMetrics]:
    return [e for e in events if isinstance(e, StepMetrics)]


def summary(text: str) -> dict[str, object]:
    return summary_dict(summarize_bytes(text.encode(), "t.log"))


# Hand-written loops in layouts of the same family (the issue's own three, and others in this project's words).
LAYOUTS = [
    "step {i} loss {loss:.4f}",
    "step {i}, loss {loss:.4f}",
    "Step {i} | loss {loss:.4f}",
    "It {i} Loss {loss:.4f}",
    "Batch {i}: Loss {loss:.4f} | LR 3e-4",
    "iter={i} cost_loss={loss:.4f}",
    "Iteration #{i}  train loss = {loss:.4f}  (lr 0.01)",
    "({i}/120) loss: {loss:.4f}",
    "{i}/120 - loss: {loss:.4f} - acc: 0.91",
    "global_step: {i:>6d} | train/loss: {loss:.4f} | tok/s: 8112",
    "(Step {i}) train_loss={loss:.4f}",
    "ep 1 it {i} loss {loss:.4f}",
    "update {i}  loss {loss:.4f}  |  2.1 s",
]


@pytest.mark.parametrize("layout", LAYOUTS)
def test_any_layout_of_a_loop_gives_its_last_step_and_loss(layout: str) -> None:
    lines = ["training a small model", "optimizer: sgd"]
    loss = 3.0
    for i in range(1, 121):
        loss = round(loss * 0.99, 4)
        lines.append(layout.format(i=i, loss=loss))
    lines.append("bye")
    s = summary("\n".join(lines) + "\n")
    train = s["train"]
    assert isinstance(train, dict)
    assert train["steps"] == {"first": 1, "last": 120, "count": 120}, layout
    assert math.isclose(train["loss"]["last"], loss), layout


def test_a_template_knows_its_rule_id_and_the_line_that_taught_it() -> None:
    stage, events = feed(["warming up", "It 1 Loss 0.5000", "It 2 Loss 0.4000"])
    (template,) = [t for t in stage.templates if t.kind == "step"]
    assert template.taught_by == 2
    assert all(e.rule == template.rule for e in events)
    assert re.fullmatch(r"template:[0-9a-f]{8}", template.rule)
    assert template.text() == "It <*> Loss <*>"


def test_an_unnamed_rising_integer_counts_steps_once_it_rises() -> None:
    _, events = feed([f"[{i}/50] loss: {1 / i:.4f}" for i in range(1, 6)])
    got = steps(events)
    # The first line is held until the second shows which integer counts; none is lost.
    assert [s.step for s in got] == [1, 2, 3, 4, 5]
    assert [e.total for e in events if isinstance(e, TargetStated)] == [50]


def test_integers_that_never_rise_do_not_count_steps() -> None:
    _, events = feed([f"(seed 7) loss: {1 / i:.4f}" for i in range(1, HOLD + 3)])
    got = steps(events)
    assert len(got) == HOLD + 2 and all(s.step is None for s in got)


def test_a_one_off_summary_line_is_not_a_step() -> None:
    _, events = feed(["step 1 loss 0.9", "step 2 loss 0.8", "best loss 0.7 at epoch 3"])
    assert [s.loss for s in steps(events)] == [0.9, 0.8]


def test_eval_fields_are_eval_metrics_not_the_training_loss() -> None:
    _, events = feed(
        [
            "step 10: train loss 0.31, val loss 0.66",
            "step 20: train loss 0.29, val loss 0.61",
            "Validation: loss 0.5900 acc 81.5%",
            "Test set: Average loss: 0.0347, Accuracy: 97.5%",
        ]
    )
    assert [(s.step, s.loss) for s in steps(events) if s.mode == "train"] == [(10, 0.31), (20, 0.29)]
    assert [s.loss for s in steps(events) if s.mode == "eval"] == [0.59, 0.0347]  # eval-only lines: eval steps
    evals = {e.name: e.value for e in events if isinstance(e, EvalMetric)}
    assert evals["val_loss"] == 0.61
    assert evals["loss"] == 0.59 and evals["acc"] == pytest.approx(0.815)
    assert evals["average_loss"] == 0.0347 and evals["accuracy"] == pytest.approx(0.975)


def test_an_evaluation_of_the_training_split_is_an_evaluation() -> None:
    _, events = feed(
        [
            "[IT 100] Evaluating train: MSE 0.04 SSIM 0.81",
            "[IT 200] Evaluating train: MSE 0.03 SSIM 0.85",
            "[IT 200] evaluation on the training set: PSNR 24.5",
        ]
    )
    assert not [s for s in steps(events) if s.mode == "train"]
    evals = {e.name: e.value for e in events if isinstance(e, EvalMetric)}
    assert evals == {"mse": 0.03, "ssim": 0.85, "psnr": 24.5}


def test_scores_of_decoded_output_are_evaluations_wherever_they_are_printed() -> None:
    _, events = feed(["Epoch 01/4 | loss=2.1000 | WER=0.6100", "Epoch 02/4 | loss=1.9000 | WER=0.5500 | train_cer=0.2"])
    assert [(s.epoch, s.loss) for s in steps(events) if s.mode == "train"] == [(1.0, 2.1), (2.0, 1.9)]
    assert {e.name: e.value for e in events if isinstance(e, EvalMetric)} == {"wer": 0.55}


def test_a_loss_line_right_after_a_counter_line_is_that_counters_step() -> None:
    text = (LEARNED / "two_line_records.log").read_text()
    _, events = feed(text.splitlines())
    train = [s for s in steps(events) if s.mode == "train"]
    with_loss = [s for s in train if s.loss is not None]
    # Every loss line has the step of the counter line above it, that line's time and its figures.
    assert [s.step for s in with_loss] == list(range(2, 41))
    assert with_loss[-1].loss == 1.1 and with_loss[-1].ts is not None and with_loss[-1].ts.second == 40
    assert "frames" in dict(with_loss[-1].extra)
    # Once the pairing is known the counter line gives no step of its own: one step per update, never going back.
    assert len(train) <= 41 and [s.step for s in train] == sorted(s.step for s in train if s.step is not None)
    state = summarize_bytes(text.encode(), "t.log")
    assert (state.runs, state.last_step.step if state.last_step else None) == (1, 40)


def test_a_counter_line_the_log_ends_on_is_the_last_step() -> None:
    text = (LEARNED / "two_line_records.log").read_text() + "2030-01-01 10:00:41, update i:41, frames:200\n"
    _, events = feed(text.splitlines())
    last = steps(events)[-1]
    assert (last.step, last.loss, dict(last.extra)) == (41, None, {"frames": 200.0})
    assert summarize_bytes(text.encode(), "t.log").last_step.step == 41  # type: ignore[union-attr]


def test_a_line_that_only_counts_gives_its_step_to_the_loss_line_after_it() -> None:
    lines = [line for i in range(1, 8) for line in (f"-- now at iteration {i}th --", f"objective loss: {1 / i:.4f}")]
    _, events = feed([*lines, "-- now at iteration 8th --"])
    assert [(s.step, s.loss) for s in steps(events)][-3:] == [(6, 0.1667), (7, 0.1429), (8, None)]
    assert [s.step for s in steps(events)] == list(range(1, 9))


def test_a_count_that_rises_on_lines_of_its_own_is_the_loops_position() -> None:
    lines = [line for i in (100, 200, 300) for line in ("REPORT", f"  Global-step = {i}", "  rho = 0.1", "")]
    _, events = feed([*lines, "evaluating step 300", "evaluating step 400", "Saving weights at step 500"] * 1)
    _, more = feed(["Saving weights at step 100", "Saving weights at step 200"])
    assert steps(more) == []
    _, more = feed(["[1]:", "  exitcode: 1", "[2]:", "  exitcode: 1", "[3]:"])  # a report's numbered items
    assert steps(more) == []
    assert [(s.step, s.loss) for s in steps(events)] == [(200, None), (300, None)]


def test_a_loss_line_far_from_a_counter_line_takes_no_step() -> None:
    _, events = feed(["update i:1, frames:10", "unrelated words", "more words", "loss:0.5,ent:3.9", "loss:0.4,ent:3.8"])
    assert [(s.step, s.loss) for s in steps(events) if s.loss is not None] == [(None, 0.5), (None, 0.4)]


def test_accuracy_figures_on_a_line_of_their_own_are_an_evaluation() -> None:
    _, events = feed(
        [
            "it 1 loss 2.5",
            "it 2 loss 2.4",
            "-- Epoch: 3/10, top 1 acc: 0.41 --",
            "-- Epoch: 3/10, top 5 acc: 0.77 --",
            "train accuracy 0.95",
            "Epoch 3 accuracy 88.5",
        ]
    )
    evals = {e.name: e.value for e in events if isinstance(e, EvalMetric)}
    assert evals == {"top_1_acc": 0.41, "top_5_acc": 0.77, "accuracy": 0.885}


def test_the_k_of_a_top_k_figure_is_part_of_its_name() -> None:
    assert NUMBER.split("top 5 acc 91.2 stop 5 laptop 3")[1::2] == ["91.2", "5", "3"]


def test_a_validate_heading_makes_its_figures_an_evaluation_but_not_its_timings() -> None:
    _, events = feed(
        [
            "Train: [1/9]  lr 0.01  time 0.35 (0.41)  loss 0.90 (0.95)",
            "Train: [2/9]  lr 0.01  time 0.35 (0.41)  loss 0.80 (0.85)",
            "Validate:  Time 0.109 (0.172)  Loss 0.7528 (0.7402)  Acc@1 74.617 (74.850)",
        ]
    )
    assert [s.loss for s in steps(events) if s.mode == "train"] == [0.9, 0.8]
    evals = {e.name: e.value for e in events if isinstance(e, EvalMetric)}
    assert evals["loss"] == 0.7528 and "time" not in evals


def test_a_figure_named_before_its_step() -> None:
    _, events = feed(
        ["Loss at step 300 is 2.5", "Loss at step 400 is 2.4", "Validation loss at epoch 4 is 1.1", "x at step 5 is 3"]
    )
    assert [(s.step, s.loss) for s in steps(events) if s.mode == "train"] == [(300, 2.5), (400, 2.4)]
    assert {e.name: e.value for e in events if isinstance(e, EvalMetric)} == {"validation_loss": 1.1}


def test_an_unnamed_outer_count_that_rises_as_the_counter_falls_is_the_epoch() -> None:
    lines = [f"<{e}, {b:4d}> loss: {2 / (e * 10 + b / 100):.3f}" for e in (1, 2, 3) for b in (100, 200, 300)]
    _, events = feed(lines)
    assert [(s.epoch, s.step) for s in steps(events)][2:5] == [(None, 300), (2.0, 100), (2.0, 200)]
    state = summarize_bytes("".join(line + "\n" for line in lines).encode(), "t.log")
    assert (state.runs, state.last_step.step if state.last_step else None) == (1, 300)


def test_a_position_counted_in_batches_is_the_counter() -> None:
    lines = [
        f"| ep {e} | {b:4d}/ 900 batches | ms/batch 5.1 | loss {5 - b / 1000:.2f} |" for e in (1, 2) for b in (300, 600)
    ]
    _, events = feed(lines)
    assert [s.step for s in steps(events)] == [300, 600, 300, 600]
    _, events = feed(lines[:1])
    assert [s.step for s in steps(events)] == [300]  # a counter from its first line, not an integer that must rise
    state = summarize_bytes("".join(line + "\n" for line in lines).encode(), "t.log")
    assert (state.runs, state.last_step.step if state.last_step else None) == (1, 600)
    assert "ms/batch" in dict(state.last_step.extra if state.last_step else ())  # a time per batch: no counter


def test_a_splits_own_figure_is_its_objective() -> None:
    _, events = feed([f"Epoch {e:4d}/900 | train: -{e}.5 (-0.1 bpd) | val: -{e}.2 (-0.2 bpd)" for e in (1, 2, 3)])
    assert [(s.epoch, s.loss) for s in steps(events) if s.mode == "train"] == [(1.0, -1.5), (2.0, -2.5), (3.0, -3.5)]
    assert [(e.name, e.value) for e in events if isinstance(e, EvalMetric)][-1] == ("val", -3.2)
    # A word inside an address is no split's figure.
    stage, _ = feed(["[done] saved as 'w' (svc://ab12:train:0/weights/w)"])
    assert [(slot.name, slot.role) for slot in stage.templates[0].slots] == [("train", "metric")]


def test_a_position_of_its_total_in_words() -> None:
    _, events = feed(["Epoch 3 of 20", "Batch 7 of 50 loss 0.5", "Batch 8 out of 50 loss 0.4"])
    targets = [(e.what, e.total, e.current) for e in events if isinstance(e, TargetStated)]
    assert targets == [("epoch", 20, 3), ("step", 50, 7), ("step", 50, 8)]


def test_a_name_between_commas_names_the_figure_after_it() -> None:
    lines = [f"epoch 1, phase fit, step {i}, loss_train, 0.{90 - i}" for i in (10, 20, 30)]
    _, events = feed([*lines, "epoch 1, phase check, loss_val, 0.7, acc_val, 0.8"])
    assert [(s.step, s.loss) for s in steps(events) if s.mode == "train"] == [(10, 0.8), (20, 0.7), (30, 0.6)]
    assert {e.name: e.value for e in events if isinstance(e, EvalMetric)} == {"loss_val": 0.7, "acc_val": 0.8}


def test_an_eval_word_inside_a_fields_own_name_is_not_an_evaluation() -> None:
    _, events = feed(["Modules in eval mode: 0", "Modules in train mode: 12"])
    assert events == []


def test_a_per_epoch_counter_starting_again_is_not_a_new_run() -> None:
    lines = [f"Iter: {b:3d}, Loss: {2 - e / 10 - b / 1000:.3f}" for e in range(3) for b in range(0, 50, 10)]
    s = summary("\n".join(lines) + "\n")
    assert s["runs"] == 1
    assert s["train"]["steps"]["last"] == 40 and s["train"]["steps"]["count"] == 15  # type: ignore[index]
    _, events = feed(lines)
    assert {s.epoch for s in steps(events)} == {None, 2.0, 3.0}


def test_configuration_dumps_and_prose_are_not_steps() -> None:
    _, events = feed(
        [
            "Namespace(batch_size=32, lr=0.001, model='tiny', epochs=3, seed=1, amp=False, step=5)",
            "Loaded 50000 images from /data/train in 12.5 s",
            "Saved checkpoint at step 100",
            "(conv): Conv2d(1, 32, kernel_size=(3, 3), stride=(1, 1))",
            "(conv): Conv2d(32, 64, kernel_size=(3, 3), stride=(1, 1))",
        ]
    )
    assert steps(events) == []


def test_numbers_are_values_not_parts_of_words() -> None:
    text = "step_100 v1.2.3 0x1f acc@5 mAP50-95 loss 3.91G 12ms 95.5% 1,024 nan_count=2 number of nan iterations: 0"
    text += " x=nan"
    values = NUMBER.split(text)[1::2]
    assert values == ["3.91", "12", "95.5", "1,024", "2", "0", "nan"]
    assert NUMBER.split("delta -0.5 x=-2")[1::2] == ["-0.5", "-2"]


def test_templates_are_bounded_per_source() -> None:
    lines = [f"event {i} kind{i} loss {i}.5" for i in range(MAX_TEMPLATES * 3)]
    stage, _ = feed(lines)
    assert len(stage.templates) <= MAX_TEMPLATES


def test_learned_fixtures_are_chunking_invariant_through_the_stream() -> None:
    # Byte at a time and random chunkings give the events (and their rules) of a whole-file feed.
    for path in sorted(LEARNED.glob("*.log")):
        data = path.read_bytes()
        got = assert_chunking_invariant(lambda chunks: [repr(e) for e in stream_events(chunks)], data, seeds=(1, 2))
        assert any(isinstance(e, StepMetrics) for e in stream_events([data])), path
        assert got


FRAMEWORKS = (
    "megatron", "deepspeed", "transformers", "hugging", "lightning", "keras", "tensorflow", "nanogpt", "fairseq",
    "composer", "mosaic", "torchtitan", "mmengine", "openmmlab", "ultralytics", "yolo", "detectron", "flax", "jax",
    "mlperf", "mllog", "paddle", "fastai", "timm", "opennmt", "espnet", "llm.c", "litgpt", "torchtune", "xgboost",
    "lightgbm", "mxnet", "dgl", "cerebras", "graphcore", "poptorch", "trainer", "absl", "tqdm",
)  # fmt: skip
STAGE_FILES = (
    "templates.py",
    "structured.py",
    "structured_box.py",
    "tables.py",
    "fields.py",
    "learned.py",
    "checkpoints.py",
)


@pytest.mark.parametrize("name", STAGE_FILES)
def test_no_framework_is_named_in_the_learned_stage(name: str) -> None:
    text = (SRC / name).read_text().lower()
    named = [word for word in FRAMEWORKS if re.search(rf"(?<![a-z]){re.escape(word)}(?![a-z])", text)]
    assert not named, f"{name} names {named}: the learned stage must read formats by their shape"


def test_an_epoch_line_gives_the_steps_after_it_their_epoch() -> None:
    lines = ["=== Epoch 1/3 ===", "train loss: 0.50, acc: 0.80", "=== Epoch 2/3 ===", "train loss: 0.40, acc: 0.85"]
    _, events = feed(lines)
    assert [(s.line, s.loss, s.epoch) for s in steps(events)] == [(2, 0.5, 1.0), (4, 0.4, 2.0)]
    assert [(e.what, e.total, e.current) for e in events if isinstance(e, TargetStated)] == [("epoch", 3, 1)]


def test_name_value_lines_under_an_evaluation_heading_are_its_metrics() -> None:
    data = b"step 1 loss 0.9\nstep 2 loss 0.8\nTest results:\n  loss: 0.35\n  accuracy: 88.5%\nsaving\n  lr: 0.1\n"
    s = summary(data.decode())
    assert s["eval"] == {"loss": 0.35, "accuracy": 0.885}
    assert s["train"]["loss"]["last"] == 0.8  # type: ignore[index]
    assert "lr" not in s["eval"]  # the block ended at the first line that is not name: value


def test_an_evaluation_blocks_size_is_not_a_result() -> None:
    data = "Evaluation:\n  num samples: 500\n  batch size = 32\n  accuracy: 0.91\n"
    assert summary(data)["eval"] == {"accuracy": 0.91}


def test_a_counter_with_other_numbers_only_must_count_before_it_is_a_step() -> None:
    _, once = feed(["attempt 0 of job 7 starting at step 1", "step 1 loss 0.5"])
    assert [(s.step, s.loss) for s in steps(once)] == [(1, 0.5)]
    _, timed = feed([f"step {i} took {0.1 * i:.1f}s" for i in range(1, 4)])
    assert [s.step for s in steps(timed)] == [1, 2, 3]


def test_a_count_of_a_total_with_its_percentage_is_the_percentage() -> None:
    _, events = feed(["Test: avg loss 0.0412, correct: 9871/10000 (98.71%)"])
    assert {e.name: e.value for e in events if isinstance(e, EvalMetric)} == {"avg_loss": 0.0412, "correct": 0.9871}
