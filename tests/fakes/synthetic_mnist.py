"""A tiny, learnable, synthetic dataset in MNIST's IDX layout (a test fixture generated on the fly, so no
third-party data is copied into the project): class k is a bright 6x6 square at a position that depends on k."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np


def idx_bytes(array: np.ndarray) -> bytes:
    """Encode a uint8 array as an IDX file (magic 0x0000080N, big-endian dimensions)."""
    header = struct.pack(">I", 0x0800 | array.ndim) + b"".join(struct.pack(">I", d) for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def make_split(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.RandomState(seed)
    labels = rng.randint(0, 10, size=n).astype(np.uint8)
    images = rng.randint(0, 40, size=(n, 28, 28)).astype(np.uint8)
    for i, k in enumerate(labels):
        row, col = 2 + (k // 5) * 12, 1 + (k % 5) * 5
        images[i, row : row + 6, col : col + 4] = 250
    return images, labels


def write_idx_dir(directory: Path, n_train: int = 512, n_test: int = 128, gz: bool = True) -> Path:
    """Write the four IDX files (gzipped or raw) into ``directory`` and return it."""
    directory.mkdir(parents=True, exist_ok=True)
    train_x, train_y = make_split(n_train, 1)
    test_x, test_y = make_split(n_test, 2)
    files = {
        "train-images-idx3-ubyte": train_x,
        "train-labels-idx1-ubyte": train_y,
        "t10k-images-idx3-ubyte": test_x,
        "t10k-labels-idx1-ubyte": test_y,
    }
    for name, array in files.items():
        data = idx_bytes(array)
        if gz:
            (directory / f"{name}.gz").write_bytes(gzip.compress(data))
        else:
            (directory / name).write_bytes(data)
    return directory
