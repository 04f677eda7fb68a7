"""MNIST / Fashion-MNIST IDX loading for the workloads: stdlib + numpy only, Python 3.8 compatible.

Where the data comes from, in order: ``--data DIR``; the cache directory (``$XDG_CACHE_HOME/hwmon/mnist``);
a download of MNIST from the usual public mirrors, each file checked against its published MD5 before it is
kept. Anything else is a ``DataError`` whose message says what to do.
"""

from __future__ import print_function

import gzip
import hashlib
import os
import shutil
import tempfile
import urllib.request

import numpy as np

FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}

# MD5 of the gzipped MNIST files as published (the same values torchvision checks).
MNIST_MD5 = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}

MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)

# Per-dataset pixel mean/std (of x/255) used for normalisation; also how Fashion-MNIST is told apart from MNIST
# when the directory name does not say: its mean pixel is about twice MNIST's.
STATS = {"MNIST": (0.1307, 0.3081), "Fashion-MNIST": (0.2860, 0.3530)}

IDX_IMAGES_MAGIC = 0x00000803
IDX_LABELS_MAGIC = 0x00000801


class DataError(Exception):
    """The data could not be found, fetched or read; the message says what to do."""


class Dataset(object):
    """Normalised images (N, 1, 28, 28) float32 and labels (N,) int64 for train and test."""

    def __init__(self, name, source, train_x, train_y, test_x, test_y):
        self.name = name
        self.source = source
        self.train_x = train_x
        self.train_y = train_y
        self.test_x = test_x
        self.test_y = test_y


def cache_dir():
    """``$XDG_CACHE_HOME/hwmon/mnist`` (default ``~/.cache/hwmon/mnist``)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "hwmon", "mnist")


def _find_file(directory, stem):
    for candidate in (stem + ".gz", stem, stem.replace("-idx", ".idx") + ".gz", stem.replace("-idx", ".idx")):
        path = os.path.join(directory, candidate)
        if os.path.isfile(path):
            return path
    return None


def _read_bytes(path):
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as fh:
            return fh.read()
    except (OSError, EOFError) as exc:
        raise DataError("cannot read %s: %s" % (path, exc)) from None


def parse_idx(data, expect_magic, path="<bytes>"):
    """Decode one IDX file's bytes into a numpy uint8 array, checking the magic number and declared sizes."""
    if len(data) < 8:
        raise DataError("%s is not an IDX file (too short)" % path)
    magic = int.from_bytes(data[0:4], "big")
    if magic != expect_magic:
        raise DataError("%s is not the expected IDX file (magic 0x%08x, wanted 0x%08x)" % (path, magic, expect_magic))
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError("%s: truncated IDX header" % path)
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    count = 1
    for d in dims:
        count *= d
    if len(data) - header != count:
        raise DataError("%s: IDX header says %d values but the file holds %d" % (path, count, len(data) - header))
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)


def _complete(directory):
    return directory and all(_find_file(directory, stem) for stem in FILES.values())


def load_dir(directory, name_hint=None):
    """Load the four IDX files from ``directory``; the name is Fashion-MNIST when the path or the pixel
    statistics say so."""
    arrays = {}
    for key, stem in FILES.items():
        path = _find_file(directory, stem)
        if path is None:
            raise DataError("%s has no %s[.gz]" % (directory, stem))
        magic = IDX_IMAGES_MAGIC if key.endswith("images") else IDX_LABELS_MAGIC
        arrays[key] = parse_idx(_read_bytes(path), magic, path)
    for split in ("train", "test"):
        images, labels = arrays[split + "_images"], arrays[split + "_labels"]
        if images.ndim != 3 or images.shape[1:] != (28, 28):
            raise DataError("%s: %s images are %s, not N x 28 x 28" % (directory, split, images.shape))
        if labels.shape[0] != images.shape[0]:
            raise DataError("%s: %d %s images but %d labels" % (directory, images.shape[0], split, labels.shape[0]))
        if labels.size and int(labels.max()) > 9:
            raise DataError("%s: %s labels outside 0..9" % (directory, split))
    name = name_hint
    if name is None:
        if "fashion" in os.path.abspath(directory).lower():
            name = "Fashion-MNIST"
        else:
            sample = arrays["train_images"][:2000]
            mean = float(sample.mean()) / 255.0 if sample.size else 0.0
            name = "Fashion-MNIST" if mean > 0.2 else "MNIST"
    mean, std = STATS[name]

    def norm(images):
        return ((images.astype(np.float32) / 255.0 - mean) / std).reshape(-1, 1, 28, 28)

    return Dataset(
        name,
        directory,
        norm(arrays["train_images"]),
        arrays["train_labels"].astype(np.int64),
        norm(arrays["test_images"]),
        arrays["test_labels"].astype(np.int64),
    )


def _md5(path):
    digest = hashlib.md5()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download(directory, mirrors=None, timeout=30.0, log=print):
    """Fetch the MNIST files into ``directory`` from the first mirror that serves each with the right MD5."""
    if mirrors is None:
        env = os.environ.get("HWMON_MNIST_MIRRORS")
        mirrors = env.split() if env else MIRRORS
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as exc:
        raise DataError("cannot create the cache directory %s: %s" % (directory, exc)) from None
    for filename, md5 in sorted(MNIST_MD5.items()):
        target = os.path.join(directory, filename)
        if os.path.isfile(target) and _md5(target) == md5:
            continue
        problems = []
        for mirror in mirrors:
            url = mirror.rstrip("/") + "/" + filename
            fd, tmp = tempfile.mkstemp(dir=directory, prefix="." + filename)
            try:
                with os.fdopen(fd, "wb") as out:
                    with urllib.request.urlopen(url, timeout=timeout) as resp:
                        shutil.copyfileobj(resp, out)
                got = _md5(tmp)
                if got != md5:
                    problems.append("%s: checksum %s, expected %s" % (url, got, md5))
                    continue
                os.replace(tmp, target)
                log("Downloaded %s" % url)
                break
            except Exception as exc:  # any network failure means: try the next mirror
                problems.append("%s: %s" % (url, exc))
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
        else:
            raise DataError(
                "could not download %s (%s); pass --data DIR with the MNIST IDX files "
                "(e.g. Debian's dataset-fashion-mnist: --data /usr/share/datasets/fashion-mnist)"
                % (filename, "; ".join(problems[-3:]))
            )


def load(data_dir=None, allow_download=True, log=print):
    """The dataset from ``data_dir``, else the cache, else a verified download into the cache."""
    if data_dir:
        if not os.path.isdir(data_dir):
            raise DataError("--data %s is not a directory" % data_dir)
        if not _complete(data_dir):
            raise DataError("--data %s lacks the IDX files (%s, .gz or raw)" % (data_dir, ", ".join(FILES.values())))
        return load_dir(data_dir)
    cache = cache_dir()
    if _complete(cache):
        return load_dir(cache)
    if not allow_download:
        raise DataError("no MNIST data in %s; pass --data DIR with the IDX files" % cache)
    log("MNIST not found in %s; downloading it" % cache)
    download(cache, log=log)
    return load_dir(cache, name_hint="MNIST")
