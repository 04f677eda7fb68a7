"""The IPU path of the MNIST workload against a FAKE poptorch (tests/fakes/fake_poptorch, a test double that
records its calls), and the missing-poptorch / missing-cerebras.pytorch failures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hwmon import exitcodes
from hwmon.runners.workloads import mnist
from tests.fakes.synthetic_mnist import write_idx_dir

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

FAKE = Path(__file__).resolve().parents[1] / "fakes" / "fake_poptorch"
WORKLOAD = Path(mnist.__file__)


def run_workload(args: list[str], tmp_path: Path, fake: bool) -> tuple[subprocess.CompletedProcess[str], list[dict]]:
    calls = tmp_path / "calls.jsonl"
    env = dict(os.environ, FAKE_POPTORCH_LOG=str(calls), XDG_CACHE_HOME=str(tmp_path / "xdg"))
    if fake:
        env["PYTHONPATH"] = os.pathsep.join([str(FAKE), env.get("PYTHONPATH", "")])
    proc = subprocess.run([sys.executable, str(WORKLOAD), *args], capture_output=True, text=True, env=env, timeout=100)
    recorded = [json.loads(line) for line in calls.read_text().splitlines()] if calls.exists() else []
    return proc, recorded


def collapse(calls: list[dict]) -> list[str]:
    """Call names with runs of the same call folded into one ('x*3')."""
    out: list[str] = []
    counts: list[int] = []
    for call in calls:
        name = call["call"]
        if out and out[-1] == name:
            counts[-1] += 1
        else:
            out.append(name)
            counts.append(1)
    return [f"{n}*{c}" if c > 1 else n for n, c in zip(out, counts, strict=True)]


@pytest.mark.parametrize("device", ["ipu", "ipu-model"])
def test_ipu_path_uses_the_poptorch_tutorial_api(tmp_path: Path, device: str) -> None:
    data = write_idx_dir(tmp_path / "idx", n_train=400, n_test=100)
    proc, calls = run_workload(
        [
            "--device",
            device,
            "--data",
            str(data),
            "--epochs",
            "2",
            "--device-iterations",
            "5",
            "--batch-size",
            "8",
            "--test-batch-size",
            "10",
        ],
        tmp_path,
        fake=True,
    )
    assert proc.returncode == 0, proc.stderr
    model_opt = ["Options.useIpuModel"] if device == "ipu-model" else []
    # 400 samples / (8 * 5) = 10 device steps per epoch, 2 epochs; 100 / (10 * 5) = 2 inference steps.
    assert collapse(calls) == [
        "Options",
        "Options.deviceIterations",
        *model_opt,
        "DataLoader",
        "optim.SGD",
        "trainingModel",
        "trainingModel.compile",
        "trainingModel.__call__*20",
        "trainingModel.detachFromDevice",
        "Options",
        "Options.deviceIterations",
        *model_opt,
        "DataLoader",
        "inferenceModel",
        "inferenceModel.compile",
        "inferenceModel.__call__*2",
        "inferenceModel.detachFromDevice",
    ]
    by_name = {c["call"]: c for c in calls}
    assert by_name["Options.deviceIterations"]["n"] == 5
    assert by_name["optim.SGD"]["lr"] == 0.01
    assert by_name["trainingModel"] == {"call": "trainingModel", "model": "TrainingModelWithLoss", "optimizer": "SGD"}
    assert by_name["inferenceModel"]["model"] == "Network"
    assert by_name["trainingModel.__call__"]["batch"] == 40
    train_loaders = [c for c in calls if c["call"] == "DataLoader"]
    assert train_loaders[0]["shuffle"] is True and train_loaders[0]["batch_size"] == 8
    out = proc.stdout + proc.stderr
    assert "Accuracy on test set: " in out and "Loss:" in out


def test_missing_poptorch_fails_with_sdk_hint(tmp_path: Path) -> None:
    proc, calls = run_workload(["--device", "ipu", "--epochs", "1"], tmp_path, fake=False)
    assert proc.returncode == exitcodes.DEVICE_UNAVAILABLE
    [line] = proc.stderr.strip().splitlines()
    assert "cannot import poptorch" in line and "enable" in line and "--python" in line
    assert not calls


def run_cli(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, HWMON_RUNS_DIR=str(tmp_path / "runs"))
    return subprocess.run([sys.executable, "-m", "hwmon", *args], capture_output=True, text=True, env=env, timeout=60)


def test_hwmon_run_ipu_checks_the_interpreter_first(tmp_path: Path) -> None:
    proc = run_cli(["run", "mnist", "--ipu", "--no-tui"], tmp_path)
    assert proc.returncode == exitcodes.DEVICE_UNAVAILABLE
    [line] = proc.stderr.strip().splitlines()
    assert line.startswith("hwmon: --ipu: ") and "cannot import poptorch" in line and "Poplar SDK" in line
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir()), "nothing may be launched"


def test_hwmon_run_csx_without_cerebras_pytorch(tmp_path: Path) -> None:
    proc = run_cli(["run", "mnist", "--csx", "--cs-backend", "cpu", "--no-tui"], tmp_path)
    assert proc.returncode == exitcodes.DEVICE_UNAVAILABLE
    [line] = proc.stderr.strip().splitlines()
    assert "cannot import cerebras.pytorch" in line and "cerebras-pytorch venv" in line


def test_workload_csx_without_cerebras_pytorch(tmp_path: Path) -> None:
    proc, _ = run_workload(["--device", "csx", "--cs-backend", "cpu"], tmp_path, fake=False)
    assert proc.returncode == exitcodes.DEVICE_UNAVAILABLE
    [line] = proc.stderr.strip().splitlines()
    assert line.startswith("mnist: error: --csx: cannot import cerebras.pytorch")


def test_interpreter_that_does_not_exist(tmp_path: Path) -> None:
    proc = run_cli(["run", "mnist", "--cpu", "--python", str(tmp_path / "nopython")], tmp_path)
    assert proc.returncode == exitcodes.DEVICE_UNAVAILABLE
    assert "not found" in proc.stderr
