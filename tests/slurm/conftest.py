"""A real single-node Slurm (scripts/slurm_up.sh: Debian's munge, slurmctld and slurmd started without systemd,
config and state in a temp dir, 127.0.0.1 only), shared by the Slurm tests and stopped by pid at the end."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _missing() -> list[str]:
    need = ["sbatch", "scontrol", "squeue", "scancel", "slurmctld", "slurmd", "munged"]
    path = os.environ.get("PATH", "") + ":/usr/sbin"
    return [b for b in need if shutil.which(b, path=path) is None]


@pytest.fixture(scope="module")
def slurm_cluster() -> Iterator[Path]:
    """The cluster for one test module; SLURM_CONF points at it only meanwhile, so tests elsewhere never see it."""
    missing = _missing()
    if missing:
        pytest.skip(f"Slurm/munge not installed ({', '.join(missing)} missing: apt-get install slurm-wlm munge)")
    env = {**os.environ, "HWMON_SLURM_MIN_JOB_AGE": "600"}
    proc = subprocess.run(
        ["bash", str(ROOT / "scripts" / "slurm_up.sh")], capture_output=True, text=True, timeout=120, env=env
    )
    if proc.returncode != 0:
        pytest.fail(f"slurm_up.sh failed: {proc.stderr}")
    values = dict(line.split("=", 1) for line in proc.stdout.splitlines() if "=" in line)
    directory = Path(values["HWMON_SLURM_DIR"])
    old = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = values["SLURM_CONF"]
    try:
        yield directory
    finally:
        subprocess.run(["bash", str(ROOT / "scripts" / "slurm_down.sh"), str(directory)], timeout=60, check=False)
        if old is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = old


@pytest.fixture
def runs_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "runs"
    monkeypatch.setenv("HWMON_RUNS_DIR", str(root))
    return root


def hwmon(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hwmon", *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def wait_for(predicate: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


JOB = ROOT / "tests" / "slurm" / "job_cerebras_tqdm.py"
