"""Checkpoint lines no format rule reads (``hwmon.parsers.checkpoints``, issue 17): a save verb and a saved thing,
or a line led by ``Checkpoint``, with the step from a step word or from the path. Every line here is written for
these tests."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from hwmon.events import CheckpointSaved, PhaseStarted
from hwmon.model.reducer import apply
from hwmon.model.state import RunState
from hwmon.parsers.base import Line
from hwmon.parsers.checkpoints import read_checkpoint
from hwmon.parsers.records import RecordReader
from hwmon.sources.read import summarize_bytes


def _read(text: str) -> tuple[int | None, str | None] | None:
    found = read_checkpoint(RecordReader().read(Line(7, 0, text)))
    return None if found is None else (found.step, found.path)


@pytest.mark.parametrize(
    ("text", "step", "path"),
    [
        ("Saved checkpoint at step 500", 500, None),
        ("2025-01-01 10:00:00 INFO: wrote the weights after 1200 updates", None, None),
        ("storing model at the end of round 4, iters 880", 880, None),
        ("[ITER 7000] Saving checkpoint", 7000, None),
        ("Checkpoint the policy after step 5000", 5000, None),
        ("sharded checkpoint saved to /runs/a/step1500-sharded", 1500, "/runs/a/step1500-sharded"),
        ("Saved optimizer to /c/global_step_40/actor/optim_rank_0.pt", 40, "/c/global_step_40"),
        ("write_lora_file: saving to adapter-v2-30.gguf", 30, "adapter-v2-30.gguf"),
        ("Saving model checkpoint to out/checkpoint-1000", 1000, "out/checkpoint-1000"),
        ("saving model to 'ckpt/iter_0000300/'", 300, "ckpt/iter_0000300"),
        # A short line that is only a save at a named step, whatever it calls the model.
        ("[ITER 4500] Saving splats", 4500, None),
        ("step 800: writing generator and critic", 800, None),
        ("[ITER 4500] Saving splats [12/01 08:55:00]", 4500, None),
    ],
)
def test_checkpoint_lines_and_their_steps(text: str, step: int | None, path: str | None) -> None:
    found = _read(text)
    if step is None:
        assert found is None  # "after 1200 updates": a step word after its number is no step
    else:
        assert found == (step, path)


@pytest.mark.parametrize(
    "text",
    [
        "Saving global sampler indices...",
        "sampler indices saved to '/home/u/checkpoints/run/data/indices.npy'",
        "Loading checkpoint from /runs/a/step500",
        "resuming from checkpoint step 500",
        "checkpoint_every: 500",
        "save_steps=500",
        "--save-every 10",
        "will save a checkpoint every 1000 steps",
        "Saved 12 images to /tmp/out/step12",
        "saving best model (epoch 3) to best-epoch3.pt",
        "Epoch 2: finished saving model to /w/model_02.keras",
        "checkpoint save failed at step 300: disk full",
        # A save led line that writes what a loop writes beside its weights, or says no step.
        "[ITER 4500] Saving samples",
        "step 800: writing the validation images",
        "Saving splats",
        "[ITER 4500] Saving splats, which took longer than the last time it did so",
    ],
)
def test_lines_that_are_not_a_checkpoint_with_a_step(text: str) -> None:
    assert _read(text) is None


def test_the_files_of_one_checkpoint_directory_are_one_checkpoint() -> None:
    text = "it 1 | objective 0.5\nit 2 | objective 0.4\n" + "".join(
        f"[w0] Saved {part} to /ck/run/global_step_2/actor/{part}_rank_0.pt\n" for part in ("model", "optim", "extra")
    )
    state = summarize_bytes(text.encode(), "x")
    assert [(c.step, c.path) for c in state.checkpoints] == [(2, "/ck/run/global_step_2")]


def test_checkpoints_of_a_loop_no_rule_knows_reach_the_summary() -> None:
    lines = []
    for step in range(1, 31):
        lines.append(f"it {step} | objective 0.{100 - step:03d}")
        if step % 10 == 0:
            lines.append(f"Checkpoint written to runs/x/step{step}.pt")
    state = summarize_bytes(("\n".join(lines) + "\n").encode(), "x")
    assert [c.step for c in state.checkpoints] == [10, 20, 30]
    assert state.steps.last is not None and state.steps.last[0] == 30


def test_a_save_under_way_names_the_checkpoint_but_does_not_end_its_phase() -> None:
    t0 = datetime(2026, 1, 1, 10, 0, 0)
    state = RunState()
    apply(state, PhaseStarted(1, t0, "checkpoint"))
    under_way = read_checkpoint(
        RecordReader().read(Line(2, 0, "2026-01-01 10:00:30 INFO: Saving step 40 in the loader checkpoint"))
    )
    assert under_way is not None and under_way.pending and under_way.step == 40
    apply(state, under_way)
    apply(state, CheckpointSaved(3, t0 + timedelta(seconds=70), 40, "ckpt/step40"))
    phase = state.phases[-1]
    assert phase.name == "checkpoint" and phase.end == t0 + timedelta(seconds=70)
    assert [(c.step, c.path) for c in state.checkpoints] == [(40, "ckpt/step40")]


def test_one_save_that_writes_several_files_is_one_checkpoint() -> None:
    text = "".join(f"it {i} | objective 0.{90 - i}\n" for i in range(1, 11))
    text += "save_state: saving to run-a-10.gguf\nsave_adapter: saving to adapter-a-10.bin\n"
    text += "".join(f"it {i} | objective 0.{90 - i}\n" for i in range(11, 21))
    text += "save_state: saving to run-a-20.gguf\nsave_adapter: saving to adapter-a-20.bin\n"
    state = summarize_bytes(text.encode(), "x")
    assert [(c.step, c.path) for c in state.checkpoints] == [(10, "run-a-10.gguf"), (20, "run-a-20.gguf")]
