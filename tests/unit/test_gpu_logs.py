"""Logs written on a real NVIDIA GPU by this project's own code (scripts/gpu_check.sh on an H200): the MNIST
workload's ``Using device: cuda:0 (NVIDIA H200, ...)`` names the device, and Lightning's CUDA banner makes a gpu run."""

from __future__ import annotations

from pathlib import Path

from hwmon.model.summary import summary_dict
from hwmon.sources.read import summarize_bytes

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def test_mnist_on_cuda_is_a_gpu_run_on_cuda0_with_its_totals() -> None:
    s = summary_dict(summarize_bytes((FIXTURES / "mnist_gpu_h200.log").read_bytes(), "mnist-gpu"))
    assert (s["vendor"], s["device"], s["status"]) == ("gpu", "cuda:0", "succeeded")
    train = s["train"]
    assert (train["samples"], train["seconds"]) == (32768, 5.8)
    assert train["steps"]["last"] == 2048
    assert train["loss"]["last"] < train["loss"]["first"]


def test_lightning_on_cuda_is_a_gpu_run() -> None:
    s = summary_dict(summarize_bytes((FIXTURES / "lightning_gpu_h200.log").read_bytes(), "lightning-gpu"))
    assert (s["vendor"], s["status"]) == ("gpu", "succeeded")
    assert s["train"]["steps"]["last"] == 40
    assert [c["step"] for c in s["checkpoints"]] == [20, 40]
