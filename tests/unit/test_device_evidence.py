"""Vendor evidence in environment dumps and framework device lines (h17c, issue 17): GPU model names without the
vendor's name, CUDA availability, ``get_device_name``, Paddle/MXNet/JAX device objects, XLA's platform, CPU words;
and the mentions that are no evidence (an accelerator not found, a banner listing absent ones). Lines written for
these tests, in the shapes such tools print."""

from __future__ import annotations

import pytest

from hwmon.events import Event, VendorDetected
from hwmon.parsers.stream import StreamParser
from hwmon.sources.read import summarize_bytes


def parse(text: str) -> list[Event]:
    parser = StreamParser()
    return parser.feed(text.encode()) + parser.finish()


def vendors(line: str) -> list[tuple[str, str | None, str]]:
    return [(e.vendor, e.device, e.rule) for e in parse(line + "\n") if isinstance(e, VendorDetected)]


@pytest.mark.parametrize(
    ("line", "vendor", "device", "row"),
    [
        ("GPU 0: A100-SXM4-40GB (UUID: GPU-0000)", "gpu", "A100-SXM4-40GB", "gpu_index_model"),
        ("CUDA available: True", "gpu", None, "cuda_available"),
        ("Is CUDA available: True", "gpu", None, "cuda_available"),
        ("env: cuda.available=True gpu.count=8", "gpu", None, "cuda_available"),
        ("torch.cuda.is_available() = True", "gpu", None, "cuda_available"),
        ("torch.cuda.get_device_name(0): 'Tesla-like X9'", "gpu", "Tesla-like X9", "cuda_device_name"),
        ("device: cuda:7", "gpu", "cuda:7", "cuda_index"),
        ("Device: CUDA", "gpu", None, "cuda_device"),
        ("place = CUDAPlace(0)", "gpu", "gpu:0", "cuda_place"),
        ("running with Place(gpu:1)", "gpu", "gpu:1", "gpu_place"),
        ("ctx=[gpu(0), gpu(1)]", "gpu", "gpu(0)", "gpu_context"),
        ("devices: [cuda(id=0), cuda(id=1)]", "gpu", "cuda:0", "cuda_id"),
        (
            "XLA service initialized for platform CUDA (this does not guarantee that XLA will be used)",
            "gpu",
            None,
            "cuda_platform",
        ),
        ("Platform 'CUDA' selected", "gpu", None, "cuda_platform"),
        ("Training on 8 GPUs", "gpu", None, "using_gpu"),
        ("devices: [TpuDevice(id=0, process_index=0)]", "tpu", None, "tpu_id"),
        ("Using CPU", "cpu", None, "cpu_words"),
        ("CUDA not available, falling back to CPU", "cpu", None, "cpu_words"),
        ("place: Place(cpu)", "cpu", None, "cpu_words"),
        ("ctx=cpu(0)", "cpu", None, "cpu_words"),
        ("jax devices: [CpuDevice(id=0)]", "cpu", None, "cpu_words"),
        ("device: cpu", "cpu", None, "cpu"),
    ],
)
def test_device_lines(line: str, vendor: str, device: str | None, row: str) -> None:
    assert vendors(line) == [(vendor, device, f"generic:{row}")]


@pytest.mark.parametrize(
    "line",
    [
        "CUDA available: False",
        "is the GPU available: False",
        "Unable to initialize backend 'cuda': no devices found",
        "Platform 'cuda' not found",
        "Could not load dynamic library 'libcudart.so.11.0'; platform CUDA",
        "Using 0 GPUs",
        "GPU 0: 45% utilisation",
        "Using 8 CPU threads for data loading",
        "Using CPU threads: 8",
        "the gpu(s) were busy",
    ],
)
def test_mentions_that_are_no_evidence(line: str) -> None:
    assert vendors(line) == []


def test_a_gpu_named_after_cpu_words_decides_the_vendor() -> None:
    text = "Using CPU for preprocessing\nGPU 0: A100-SXM4-40GB\nstep 1 loss 2.0\nstep 2 loss 1.9\n"
    state = summarize_bytes(text.encode(), "t")
    assert (state.vendor, state.device) == ("gpu", "A100-SXM4-40GB")
    assert summarize_bytes(b"Using CPU\nstep 1 loss 2.0\n", "t").vendor == "cpu"
