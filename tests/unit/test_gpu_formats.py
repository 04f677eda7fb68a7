"""GPU-framework formats read end to end: Megatron-LM, nanoGPT, HF Trainer (transformers 4 and 5), Lightning (tqdm
and rich bars), tqdm metrics in other spellings. Each fixture (tests/fixtures/SOURCES.md says where its format was
seen) goes through the whole stream (byte-at-a-time and random chunkings must agree with a whole-file feed) and the
reducer; the facts asserted are read off the fixture by hand."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests.helpers.chunking import assert_chunking_invariant, stream_events

from hwmon.events import Event, StepMetrics, TargetStated
from hwmon.model.summary import summarize_events, summary_dict

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def read(name: str) -> tuple[list[Event], dict[str, Any]]:
    data = (FIXTURES / name).read_bytes()
    events = assert_chunking_invariant(lambda chunks: stream_events(chunks), data, seeds=(0, 1, 2))
    return events, summary_dict(summarize_events(list(events), name))


def phases(summary: dict[str, Any]) -> list[str]:
    return [p["name"] for p in summary["phases"]]


def targets(events: list[Event]) -> list[tuple[str, int, int | None]]:
    return [(t.what, t.total, t.current) for t in events if isinstance(t, TargetStated)]


def test_megatron_iterations_eval_checkpoint_and_end() -> None:
    events, s = read("megatron_gpt_train.log")
    assert (s["vendor"], s["status"]) == ("gpu", "succeeded")
    train = s["train"]
    assert (train["steps"]["first"], train["steps"]["last"], train["steps"]["count"]) == (10, 100, 10)
    # 10 iterations, the lm loss falling 0.4 a report to iteration 50, then 0.3 a report.
    assert train["loss"]["first"] == pytest.approx(9.8) and train["loss"]["last"] == pytest.approx(6.6)
    # 64 samples per iteration at 612.3 ms an iteration (the last one).
    assert train["rate"]["last"] == pytest.approx(64 * 1000 / 612.3) and train["rate"]["unit"] == "samples/sec"
    assert s["eval"]["val lm loss"] == pytest.approx(7.654321)
    assert [(c["step"], c["path"]) for c in s["checkpoints"]] == [(50, "/ckpt/gpt")]
    assert phases(s) == ["setup", "train", "eval", "checkpoint", "train"]
    assert targets(events)[0] == ("step", 100, 10)


def test_megatron_second_rank_is_not_counted_twice() -> None:
    events, s = read("megatron_two_ranks.log")
    # Rank 1 prints the same iterations with other losses (10.x): only rank 0's are the run's.
    assert s["train"]["steps"]["count"] == 10
    assert s["train"]["loss"]["max"] == pytest.approx(9.8)
    assert len([e for e in events if isinstance(e, StepMetrics)]) == 10


def test_nanogpt_iters_estimates_and_checkpoint() -> None:
    events, s = read("nanogpt_char.log")
    assert s["vendor"] == "gpu"  # fused AdamW is used on CUDA only
    # The iter line that reaches the stated max_iters is the loop's last.
    assert s["status"] == "succeeded" and ("step", 270, None) in targets(events)
    train = s["train"]
    assert (train["steps"]["first"], train["steps"]["last"]) == (0, 270)
    assert train["loss"]["last"] == pytest.approx(1.9812)
    assert train["rate"]["last"] == pytest.approx(1000 / 102.05) and train["rate"]["unit"] == "it/s"
    assert s["eval"]["val_loss"] == pytest.approx(2.0801)
    assert [(c["step"], c["path"]) for c in s["checkpoints"]] == [(250, "out-shakespeare-char")]
    assert phases(s)[:2] == ["compile", "eval"] and "checkpoint" in phases(s)
    mfu = [dict(e.extra)["mfu"] for e in events if isinstance(e, StepMetrics) and e.step == 270]
    assert mfu == [pytest.approx(0.0335)]


@pytest.mark.parametrize("name", ["hf_trainer_v5_quoted.log", "hf_trainer_v4.log"])
def test_hf_trainer_both_number_spellings(name: str) -> None:
    events, s = read(name)
    assert s["status"] == "succeeded"
    train = s["train"]
    # Five loss dicts; the last loss is the last dict's, not the averaged train_loss 0.6101 of the final dict.
    assert train["steps"]["count"] == 5
    assert train["loss"]["last"] == pytest.approx(0.4931)
    assert s["eval"]["eval_loss"] == pytest.approx(0.5547) and s["eval"]["eval_accuracy"] == pytest.approx(0.81)
    assert "eval_runtime" not in s["eval"]
    assert [c["step"] for c in s["checkpoints"]] == [150, 250]
    assert "checkpoint" in phases(s)
    assert train["samples"] == 4000 and train["seconds"] == pytest.approx(12.5)
    assert ("epoch", 2, None) in targets(events) and ("step", 250, None) in targets(events)


def test_hf_trainer_v4_cuda_backend_is_gpu_evidence() -> None:
    _, s = read("hf_trainer_v4.log")
    assert s["vendor"] == "gpu"


def test_lightning_rich_bar() -> None:
    events, s = read("lightning_rich.log")
    assert (s["vendor"], s["status"]) == ("gpu", "succeeded")
    train = s["train"]
    # Three epochs of 20 batches; the step counts on across epochs.
    assert (train["steps"]["last"], train["loss"]["last"]) == (60, pytest.approx(0.292))
    # val_loss/val_acc come on the lines rich wrapped below the bar.
    assert s["eval"] == {"val_loss": pytest.approx(0.321), "val_acc": pytest.approx(0.931)}
    assert targets(events)[0] == ("epoch", 3, 1)


def test_lightning_tqdm_bar_and_absent_accelerators() -> None:
    _, s = read("lightning_tqdm.log")
    # "IPU available: False, using: 0 IPUs" is no evidence of an IPU.
    assert s["vendor"] != "graphcore"
    assert s["status"] == "succeeded"
    assert (s["train"]["steps"]["last"], s["train"]["loss"]["last"]) == (36, pytest.approx(0.62))
    assert s["eval"] == {"val_loss": pytest.approx(0.75)}
    assert "eval" in phases(s)


def test_tqdm_metrics_in_other_spellings() -> None:
    events, s = read("tqdm_spellings.log")
    train = s["train"]
    assert (train["steps"]["first"], train["steps"]["last"]) == (10, 100)
    assert train["loss"]["last"] == pytest.approx(0.5)
    assert (train["rate"]["last"], train["rate"]["unit"]) == (pytest.approx(220.0), "samples/sec")
    # The bar's name is not the metric soup.
    assert [b["name"] for b in s["progress"]] == [""]
    assert ("step", 100, 10) in targets(events)


def test_keras3_fit_then_evaluate() -> None:
    events, s = read("keras3_fit_evaluate.log")
    # TensorFlow's "Created device ... device:GPU:0" is GPU evidence.
    assert (s["vendor"], s["status"]) == ("gpu", "succeeded")
    train = s["train"]
    # Three epochs of 422 batches; evaluate()'s 313-batch bar after fit() is not a training step.
    assert (train["steps"]["last"], train["steps"]["count"]) == (1266, 3)
    assert train["loss"]["last"] == pytest.approx(0.0903)
    assert s["eval"]["val_loss"] == pytest.approx(0.0468)
    assert s["eval"]["test_accuracy"] == pytest.approx(0.9883)
    assert phases(s) == ["train", "eval"]
    assert targets(events)[-1] == ("epoch", 3, 3)


def facts(data: bytes) -> dict[str, Any]:
    events = assert_chunking_invariant(lambda chunks: stream_events(chunks), data, seeds=(0,))
    return summary_dict(summarize_events(list(events), "inline"))


def test_emitter_spellings_found_by_the_real_library_lane() -> None:
    # Shapes the real-emitter lane (issue 14) saw from tqdm 4.70, Lightning 1.9/2.6, Keras 3.15, transformers 5.
    plain = facts(
        b"train step 59/60 [00:00, 77.92it/s] , loss=0.0121\ntrain step 60/60 [00:00, 78.47it/s] , loss=0.00809\n"
    )
    assert (plain["train"]["steps"]["last"], plain["train"]["loss"]["last"]) == (60, pytest.approx(0.00809))
    samples = facts(b"\rtrain: 100%|##########| 1.92k/1.92k [00:00<00:00, 2.67ksamples/s, loss=0.00809]\n")
    assert samples["train"]["steps"]["last"] != 1920  # a sample count is not a step
    assert samples["train"]["loss"]["last"] == pytest.approx(0.00809)
    nested = facts(b"\rbatch:  85%|########5 | 17/20 [00:00<00:00, 78.41it/s, loss=0.00809]\x1b[A\n")
    assert nested["train"]["loss"]["last"] == pytest.approx(0.00809)
    # Lightning 1.x: the postfix's running-mean loss comes before the step's train_loss.
    running = facts(
        b"Epoch 1: 100%|##########| 20/20 [00:00<00:00, 90.0it/s, loss=0.127, v_num=0, train_loss=0.0836]\n"
    )
    assert running["train"]["loss"]["last"] == pytest.approx(0.0836)
    # The same n redrawn with the loss set after the step: the last one is the step's.
    redrawn = facts(
        b"Epoch 0: 100%|##########| 20/20 [00:00<00:00, 90.0it/s, train_loss=0.101]"
        b"\rEpoch 0: 100%|##########| 20/20 [00:00<00:00, 90.0it/s, train_loss=0.0836]\n"
    )
    assert redrawn["train"]["loss"]["last"] == pytest.approx(0.0836)
    lightning = facts(
        b"GPU available: False, used: False\nTPU available: False, using: 0 TPU cores\n"
        b"Epoch 1: 100%|##| 20/20 [00:00<00:00]Epoch 1, global step 40: 'val_loss' reached 0.10644 (best 0.10644), "
        b"saving model to '/w/checkpoints/epoch=1-step=40.ckpt' as top 2\n"
    )
    assert lightning["vendor"] == "cpu"
    assert [(c["step"], c["path"]) for c in lightning["checkpoints"]] == [(40, "/w/checkpoints/epoch=1-step=40.ckpt")]
    keras = facts(
        "Epoch 1/3\n20/20 ━━━━━━━━━━━━━━━━━━━━ 3s 139ms/step - accuracy: 0.9266 - loss: 0.2699\n"
        "Epoch 1: saving model to /w/model_01.keras\nEpoch 1: finished saving model to /w/model_01.keras\n".encode()
    )
    assert [(c["step"], c["path"]) for c in keras["checkpoints"]] == [(20, "/w/model_01.keras")]
    hf5 = facts(
        b"[transformers] ***** Running training *****\n[transformers]   Num Epochs = 2\n"
        b"[transformers]   Total optimization steps = 40\n"
        b"{'loss': '0.6101', 'grad_norm': '1.2', 'learning_rate': '4e-05', 'epoch': '0.5'}\n"
        b"{'loss': '0.5623', 'grad_norm': '1.093', 'learning_rate': '2.5e-05', 'epoch': '2'}\n"
    )
    # The step is the epoch times the steps per epoch the Trainer stated (40 / 2).
    assert (hf5["train"]["steps"]["first"], hf5["train"]["steps"]["last"]) == (10, 40)


def test_pytorch_lightning_1x_epoch_bar_counting_validation_batches() -> None:
    # pytorch-lightning 1.x draws one bar per epoch over 20 train + 5 validation batches (25); the step is the
    # trainer's global step (20 per epoch), read from where the validation bar starts.
    lines = []
    for epoch in range(2):
        lines += [f"Epoch {epoch}:  80%|########  | 20/25 [00:00<00:00, 570.0it/s, loss=0.4, v_num=0, train_loss=0.18]"]
        lines += ["Validation DataLoader 0:   0%|          | 0/5 [00:00<?, ?it/s]"]
        lines += [f"Epoch {epoch}: 100%|##########| 25/25 [00:00<00:00, 450.0it/s, loss=0.4, v_num=0, train_loss=0.08]"]
    s = facts(("\n".join(lines) + "\n").encode())
    assert s["train"]["steps"]["last"] == 40


def test_lightning_rich_bar_printed_once_to_a_file_with_the_loss_wrapped_below() -> None:
    # Lightning 2.6 with rich, writing to a file: one final render, the metrics on the lines below the bar.
    text = (
        "Epoch 1/1  ━━━━━━━━━━━━━━━━ 20/20 0:00:00 • 0:00:00 445.11it/s v_num: 0.000\n"
        + " " * 63
        + "train_loss: 0.084\n"
        + " " * 63
        + "val_loss: 0.106  \n"
        + " " * 63
        + "val_acc: 0.981   \n"
        "`Trainer.fit` stopped: `max_epochs=2` reached.\n"
    )
    s = facts(text.encode())
    assert (s["train"]["steps"]["last"], s["train"]["loss"]["last"]) == (40, pytest.approx(0.084))
    assert s["eval"] == {"val_loss": pytest.approx(0.106), "val_acc": pytest.approx(0.981)}
    assert s["status"] == "succeeded"
