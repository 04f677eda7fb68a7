"""The vocabularies as data (``hwmon.parsers.evidence``) through the whole stream: device and vendor evidence (GPU
model names, ``cuda:N``, ``CUDA:0 (...)``, Apple ``mps``, TPU), the run's end in words, kill/signal/exit lines; the
one number pattern (``vocab.NUM``); and the provenance every row stamps on what it emits (``Event.rule``). Lines
here are written for these tests, in the shapes such tools print."""

from __future__ import annotations

import math
import re

import pytest

from hwmon.events import ErrorSeen, Event, RunCompleted, StepMetrics, VendorDetected
from hwmon.parsers import vocab
from hwmon.parsers.stream import StreamParser
from hwmon.sources.read import summarize_bytes


def parse(text: str) -> list[Event]:
    parser = StreamParser()
    return parser.feed(text.encode()) + parser.finish()


def vendors(text: str) -> list[tuple[str, str | None]]:
    return [(e.vendor, e.device) for e in parse(text) if isinstance(e, VendorDetected)]


@pytest.mark.parametrize(
    ("line", "vendor", "device"),
    [
        ("GPU 0: NVIDIA A100-SXM4-40GB (UUID: GPU-1234)", "gpu", "A100-SXM4-40GB"),
        ("|   0  NVIDIA H100 80GB HBM3          On  | 00000000:19:00.0 Off |", "gpu", "H100 80GB HBM3"),
        ("device name: NVIDIA GeForce RTX 4090", "gpu", "GeForce RTX 4090"),
        ("Running on NVIDIA RTX A6000 with 48 GB", "gpu", "RTX A6000"),
        ("found Tesla V100-SXM2-16GB, compute capability 7.0", "gpu", "Tesla V100-SXM2-16GB"),
        ("we have a GeForce GTX 1080 Ti here", "gpu", "GeForce GTX 1080 Ti"),
        ("Setup: torch-2.3.0 CUDA:0 (Tesla T4, 15102MiB)", "gpu", "Tesla T4"),
        ("model moved to cuda:1", "gpu", "cuda:1"),
        ("Using device: cuda", "gpu", None),
        ("NCCL INFO Bootstrap : Using eth0", "gpu", None),
        ("Using device: mps", "gpu", "mps"),
        ("tensor(..., device='mps:0')", "gpu", "mps"),
        ("Found TPU v4-8 with 4 chips", "tpu", "TPU v4-8"),
        ("replica on xla:0", "tpu", None),
        ("Using device: cpu", "cpu", None),
        ("running on device cpu", "cpu", None),
        ("[2026-01-02 03:04:05] Device: cpu", "cpu", None),
    ],
)
def test_device_evidence(line: str, vendor: str, device: str | None) -> None:
    assert vendors(line + "\n") == [(vendor, device)]


@pytest.mark.parametrize(
    "line",
    [
        "TPU available: False, using: 0 TPU cores",
        "Running on 0 TPU cores (TPU available: False)",
        "NVIDIA-SMI 535.54.03    Driver Version: 535.54.03",
        "NVIDIA Corporation, all rights reserved",
        "enable TF32 on NVIDIA TF32 capable hardware",
        "the mpsc channel closed",
        "a T4 B-tree leaf",
    ],
)
def test_no_device_evidence(line: str) -> None:
    assert vendors(line + "\n") == []


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        ("Killed", "signal"),
        ("train.sh: line 3: 4242 Killed                  python train.py", "signal"),
        ("Segmentation fault (core dumped)", "signal"),
        ("worker 3 received signal SIGTERM, shutting down", "signal"),
        ("Signal 9 (SIGKILL) received by PID 1234", "signal"),
        ("child died with <Signals.SIGKILL: 9>", "signal"),
        ("Out of memory: Killed process 4242 (python) total-vm:1234kB", "oom"),
        ("launcher: process exited with code 137", "exit"),
        ("failed (exitcode: -9) local_rank: 0 (pid: 123)", "exit"),
    ],
)
def test_kill_and_exit_lines_are_fatal(line: str, kind: str) -> None:
    errors = [e for e in parse(line + "\n") if isinstance(e, ErrorSeen)]
    assert [(e.fatal, e.kind) for e in errors] == [(True, kind)]
    assert errors[0].rule  # generic's row, or a format's that knows the line too (Graphcore: out of memory)
    assert summarize_bytes(f"step 1 loss=2.0\n{line}\n".encode(), "x").status == "failed"


@pytest.mark.parametrize(
    "line",
    [
        "Finished Training",
        "Training complete.",
        "Training completed successfully!",
        "All done!",
        "exited with code 0",
        "Training completed in 1:02:03",
        "training finished after 42.5 s.",
        "Total training time: 0:12:13 (0.5 s / it)",
        "main: total training time: 02:57:51",
        "Training finished. [03/04 05:06:07]",
        "2026-01-02 03:04:05 - INFO: Finish training: highest accuracy so far was 0.61 (round 12).",
        "Training took 812.3s",
    ],
)
def test_completion_phrases(line: str) -> None:
    ends = [e for e in parse(line + "\n") if isinstance(e, RunCompleted)]
    assert len(ends) == 1 and ends[0].success and ends[0].rule.startswith("generic:")


@pytest.mark.parametrize(
    "line",
    [
        "training finished for epoch 3, continuing",
        "Training done in 4 epochs of 10",
        "exited with code 01x",
        "Training completed in epoch 2",
        "Total training time so far is unknown",
        "epoch 3: total training time: 0:01:02",
        "Training took a while",
    ],
)
def test_not_completion(line: str) -> None:
    assert [e for e in parse(line + "\n") if isinstance(e, RunCompleted)] == []


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1", 1.0),
        ("-2.5", -2.5),
        ("+.5", 0.5),
        ("3.", 3.0),
        ("1e-3", 1e-3),
        ("7.1E+00", 7.1),
        ("NaN", math.nan),
        ("-inf", -math.inf),
        ("Infinity", math.inf),
    ],
)
def test_one_number_pattern_reads_what_float_reads(text: str, value: float) -> None:
    m = re.fullmatch(vocab.NUM, text)
    assert m is not None
    got = float(m.group(0))
    assert got == value or (math.isnan(got) and math.isnan(value))
    assert re.fullmatch(vocab.NUM_B, text.encode()) is not None


@pytest.mark.parametrize("text", ["", ".", "e5", "1e", "info", "nano", "--1"])
def test_one_number_pattern_rejects(text: str) -> None:
    assert re.fullmatch(vocab.NUM, text) is None


def test_every_event_of_a_format_names_its_rule() -> None:
    log = (
        "[default0]: iteration        1/     100 | lm loss: 7.0E+00 | elapsed time per iteration (ms): 10.0 |\n"
        "iter 10: loss 4.2000, time 12.34ms, mfu 30.00%\n"
        "{'loss': 0.5, 'learning_rate': 1e-05, 'epoch': 0.1}\n"
        "Epoch 1/2\n"
        "step 5 loss=2.5 acc=0.5\n"
        "Killed\n"
    )
    found = parse(log)
    assert found and all(e.rule for e in found), [e for e in found if not e.rule]
    steps = [e.rule for e in found if isinstance(e, StepMetrics)]
    # (HF holds its dict for the bar drawn next: released at the end. The hand-written line is the learned
    # stage's or the generic parser's.)
    guessed = [rule for rule in steps if rule.startswith(("generic:", "template:"))]
    assert len(guessed) == 1 and len(steps) == 4
    assert sorted(set(steps) - set(guessed)) == ["hftrainer:dict", "megatron:iteration", "nanogpt:iter"]


def test_live_and_headless_agree_on_the_vendor_of_a_two_run_cerebras_log() -> None:
    from pathlib import Path

    from hwmon.model.reducer import apply_all
    from hwmon.model.state import RunState

    one = (Path(__file__).resolve().parents[1] / "fixtures" / "cerebras_appliance_train.log").read_bytes()
    data = one + one  # the same job run twice into one log
    headless = summarize_bytes(data, "x")
    assert headless.runs >= 1  # the second run replaced the first
    parser = StreamParser(blocks=True)
    live = RunState(source="live")
    for start in range(0, len(data), 4096):
        apply_all(live, parser.feed(data[start : start + 4096]), now=100.0)
    apply_all(live, parser.finish(), now=100.0)
    assert (live.vendor, live.device) == (headless.vendor, headless.device) == ("cerebras", "CSX")
