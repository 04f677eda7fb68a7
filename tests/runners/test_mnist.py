"""The MNIST workload: IDX reading, data discovery/download checks, and real CPU training supervised by
`hwmon run mnist --cpu` (on Debian's Fashion-MNIST when installed, else on a synthetic IDX set)."""

from __future__ import annotations

import functools
import http.server
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from hwmon import exitcodes
from hwmon.runners.workloads import mnist, mnist_data
from hwmon.store import registry
from tests.fakes.synthetic_mnist import idx_bytes, make_split, write_idx_dir

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

FASHION = Path("/usr/share/datasets/fashion-mnist")
WORKLOAD = Path(mnist.__file__)


def test_exit_codes_mirror_hwmon() -> None:
    assert mnist.EXIT_DEVICE_UNAVAILABLE == exitcodes.DEVICE_UNAVAILABLE
    assert mnist.EXIT_DATA_NOT_FOUND == exitcodes.DATA_NOT_FOUND


def test_parse_idx_roundtrip_and_rejects_bad_files() -> None:
    images, labels = make_split(5, 0)
    assert (mnist_data.parse_idx(idx_bytes(images), mnist_data.IDX_IMAGES_MAGIC) == images).all()
    assert (mnist_data.parse_idx(idx_bytes(labels), mnist_data.IDX_LABELS_MAGIC) == labels).all()
    with pytest.raises(mnist_data.DataError, match="magic"):
        mnist_data.parse_idx(idx_bytes(labels), mnist_data.IDX_IMAGES_MAGIC)
    with pytest.raises(mnist_data.DataError, match="holds"):
        mnist_data.parse_idx(idx_bytes(images)[:-3], mnist_data.IDX_IMAGES_MAGIC)
    with pytest.raises(mnist_data.DataError, match="too short"):
        mnist_data.parse_idx(b"\x00\x00", mnist_data.IDX_IMAGES_MAGIC)


@pytest.mark.parametrize("gz", [True, False])
def test_load_dir_gz_or_raw_and_names_the_dataset(tmp_path: Path, gz: bool) -> None:
    data = mnist_data.load(str(write_idx_dir(tmp_path / "plain", 40, 20, gz=gz)))
    assert data.train_x.shape == (40, 1, 28, 28) and data.test_y.shape == (20,)
    assert data.train_x.dtype.name == "float32" and data.train_y.dtype.name == "int64"
    # Synthetic images are dark like MNIST; a directory called fashion is taken at its word.
    assert data.name == "MNIST"
    assert mnist_data.load(str(write_idx_dir(tmp_path / "fashion-mnist", 40, 20, gz=gz))).name == "Fashion-MNIST"


@pytest.mark.skipif(not FASHION.is_dir(), reason="Debian dataset-fashion-mnist not installed")
def test_debian_fashion_mnist_is_recognised_by_its_pixels(tmp_path: Path) -> None:
    # Same files under a neutral name: the pixel statistics still say Fashion-MNIST.
    neutral = tmp_path / "idx"
    neutral.mkdir()
    for f in FASHION.iterdir():
        (neutral / f.name).symlink_to(f)
    assert mnist_data.load(str(neutral)).name == "Fashion-MNIST"


def test_missing_data_dir_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(mnist_data.DataError, match="lacks the IDX files"):
        mnist_data.load(str(tmp_path))
    with pytest.raises(mnist_data.DataError, match="not a directory"):
        mnist_data.load(str(tmp_path / "nope"))


@pytest.fixture
def bad_mirror(tmp_path: Path) -> Iterator[str]:
    """A local HTTP mirror that serves files with the right names and the wrong contents."""
    served = tmp_path / "mirror"
    served.mkdir()
    for name in mnist_data.MNIST_MD5:
        (served / name).write_bytes(b"not mnist")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *a, **k: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_download_rejects_checksum_mismatch(tmp_path: Path, bad_mirror: str) -> None:
    target = tmp_path / "cache"
    with pytest.raises(mnist_data.DataError, match="checksum") as excinfo:
        mnist_data.download(str(target), mirrors=[bad_mirror], log=lambda _m: None)
    assert "--data" in str(excinfo.value)
    assert not [p for p in target.iterdir() if p.suffix == ".gz"], "a corrupt download must not be kept"


def test_workload_without_data_exits_data_not_found(tmp_path: Path, bad_mirror: str) -> None:
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "xdg"), HWMON_MNIST_MIRRORS=bad_mirror)
    proc = subprocess.run(
        [sys.executable, str(WORKLOAD), "--device", "cpu", "--epochs", "1"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode == exitcodes.DATA_NOT_FOUND
    assert proc.stderr.strip().splitlines()[-1].startswith("mnist: error: could not download")


def run_cli(args: list[str], runs: Path, timeout: float = 100) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, HWMON_RUNS_DIR=str(runs))
    return subprocess.run(
        [sys.executable, "-m", "hwmon", *args], capture_output=True, text=True, env=env, timeout=timeout
    )


def test_run_mnist_cpu_trains_for_real(tmp_path: Path) -> None:
    data_dir = FASHION if FASHION.is_dir() else write_idx_dir(tmp_path / "idx", 1024, 256)
    runs = tmp_path / "runs"
    proc = run_cli(
        [
            "run",
            "mnist",
            "--cpu",
            "--data",
            str(data_dir),
            "--epochs",
            "1",
            # Enough steps at a learning rate that learns in them (50 at the default 0.01 barely moved the loss on
            # Fashion-MNIST: 11 % accuracy in one CI run); 150 at 0.1 reach ~47 %, far above chance (10 %).
            "--limit-batches",
            "150",
            "--lr",
            "0.1",
            "--no-tui",
            "--threads",
            "1",
        ],
        runs,
    )
    assert proc.returncode == 0, proc.stderr
    [record] = registry.list_runs(runs)
    assert record.status == "succeeded" and record.workload == "mnist" and record.device == "cpu"
    assert record.command[1] == str(WORKLOAD) and "--data" in record.command
    log = record.log_path.read_text()
    lines = log.replace("\r", "\n").splitlines()
    assert (
        "TrainingModelWithLoss(" in lines
        and "    (layer3): Linear(in_features=1600, out_features=128, bias=True)" in lines
    )
    assert any(line.startswith("Loss:") and "150/150" in line for line in lines), "no finished bar with the loss"
    accuracy = [line for line in lines if line.startswith("Accuracy on test set: ")]
    assert len(accuracy) == 1 and accuracy[0].endswith("%")
    assert 0.0 <= float(accuracy[0].split(": ")[1].rstrip("%")) <= 100.0
    expected = "Fashion-MNIST" if data_dir == FASHION else "MNIST"
    assert f"Dataset: {expected} " in log
    assert lines[-1] == "[hwmon] run ended: exit code 0"
    from hwmon.sources.read import summarize_bytes

    state = summarize_bytes(record.log_path.read_bytes(), str(record.log_path))
    assert state.model is not None
    assert state.vendor == "cpu", "the workload names its device so the monitor can label the run"
    # It trained: the loss fell over the run, or the test accuracy beats chance (10 classes) clearly.
    accuracy = state.eval.get("test_accuracy")
    assert accuracy is not None, "the accuracy line should be an eval metric"
    assert state.loss.count >= 2 and state.loss.first is not None and state.loss.last is not None
    assert state.loss.last[1] < state.loss.first[1] or accuracy > 0.2, (state.loss.first, state.loss.last, accuracy)
    # The supervisor's record, not the log, says how the run ended.
    from hwmon.commands.summary import summarize_file

    assert summarize_file(record.log_path).status == "succeeded"
