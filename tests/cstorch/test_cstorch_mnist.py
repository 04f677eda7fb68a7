"""`hwmon run mnist --csx` for real with cerebras.pytorch 2.10: training on cstorch's CPU backend, and offline
validation (`--validate-only`). Skipped unless HWMON_CSTORCH_PYTHON names the venv's python (and failed instead
when HWMON_CSTORCH_REQUIRED=1, as in CI)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from hwmon.store import registry
from tests.fakes.synthetic_mnist import write_idx_dir

CSTORCH_PYTHON = os.environ.get("HWMON_CSTORCH_PYTHON", "")
FASHION = Path("/usr/share/datasets/fashion-mnist")

pytestmark = [
    pytest.mark.integration,
    pytest.mark.cstorch,
    pytest.mark.timeout(600),
    pytest.mark.skipif(
        not (CSTORCH_PYTHON and Path(CSTORCH_PYTHON).exists()) and os.environ.get("HWMON_CSTORCH_REQUIRED") != "1",
        reason="HWMON_CSTORCH_PYTHON does not point at a cerebras-pytorch venv python",
    ),
]


def test_the_lane_has_its_venv() -> None:
    """With HWMON_CSTORCH_REQUIRED=1 (CI) a missing venv fails here instead of skipping the lane."""
    assert CSTORCH_PYTHON and Path(CSTORCH_PYTHON).exists(), "HWMON_CSTORCH_PYTHON names no python"


STEP_LINE = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO:   \| Train Device=CPU, Step=(\d+), Loss=(\d+\.\d{5}), "
    r"Rate=\d+\.\d\d samples/sec, GlobalRate=\d+\.\d\d samples/sec$"
)


def hwmon_run(args: list[str], tmp_path: Path) -> tuple[subprocess.CompletedProcess[str], registry.RunRecord]:
    runs = tmp_path / "runs"
    env = dict(os.environ, HWMON_RUNS_DIR=str(runs))
    proc = subprocess.run(
        [sys.executable, "-m", "hwmon", "run", "mnist", "--csx", "--python", CSTORCH_PYTHON, "--no-tui", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,  # cstorch writes its artifacts (model_dir_mnist/) under the cwd
        timeout=580,
    )
    [record] = registry.list_runs(runs)
    return proc, record


def data_dir(tmp_path: Path) -> Path:
    return FASHION if FASHION.is_dir() else write_idx_dir(tmp_path / "idx", 1024, 256)


def test_csx_on_cstorch_cpu_backend_trains(tmp_path: Path) -> None:
    proc, record = hwmon_run(
        [
            "--cs-backend",
            "cpu",
            "--data",
            str(data_dir(tmp_path)),
            "--epochs",
            "1",
            "--limit-batches",
            "30",
            "--log-steps",
            "10",
        ],
        tmp_path,
    )
    log = record.log_path.read_text()
    assert proc.returncode == 0, log[-3000:]
    assert record.status == "succeeded" and record.device == "csx"
    steps = [STEP_LINE.match(line) for line in log.splitlines()]
    found = [int(m.group(1)) for m in steps if m]
    assert found == [1, 10, 20, 30]
    assert "TrainingModelWithLoss(" in log and "INFO:   Training completed successfully!" in log
    assert re.search(r"^Accuracy on test set: \d+\.\d\d%$", log, re.M)
    from hwmon.sources.read import summarize_bytes

    state = summarize_bytes(record.log_path.read_bytes(), str(record.log_path))
    assert state.last_step is not None and state.last_step.step == 30 and state.last_step.loss is not None


def test_csx_validate_only_compiles_offline(tmp_path: Path) -> None:
    proc, record = hwmon_run(["--validate-only", "--data", str(data_dir(tmp_path)), "--limit-batches", "5"], tmp_path)
    log = record.log_path.read_text()
    assert proc.returncode == 0, log[-3000:]
    assert "Compile validated locally" in log and "Validation completed; no training was run." in log
    assert "Accuracy on test set" not in log
