"""What each device of ``hwmon run mnist`` needs from the interpreter that runs the workload, and how to check it
before a run is started (vendor stacks live in their own venvs: Poplar SDK with Python 3.8/torch 2.0.1,
cerebras-pytorch 2.10 with torch 2.4)."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass

from hwmon import exitcodes


@dataclass(frozen=True)
class DeviceSpec:
    """One ``--<flag>`` of ``hwmon run mnist``."""

    name: str  # the workload's --device value and run.json's "device"
    label: str  # shown in ``hwmon ls``
    modules: tuple[str, ...]  # must import in the workload's interpreter
    hint: str  # what to do when they do not
    probe: str = ""  # extra Python run after the imports; must exit 0 when the device is usable


POPLAR_HINT = (
    "enable the Poplar SDK and its PopTorch venv first (e.g. `source /opt/gc/poplar_sdk-*/enable` and "
    "`source ~/venvs/poptorch/bin/activate`), or pass --python /path/to/poptorch_venv/bin/python"
)
CEREBRAS_HINT = (
    "activate the cerebras-pytorch venv on the Cerebras user node (e.g. `source ~/R_2.*/venv_cerebras_pt/bin/"
    "activate`), or pass --python /path/to/venv_cerebras_pt/bin/python"
)
TORCH_HINT = "install torch and numpy in that interpreter (`pip install 'hwmon[workloads]'`) or pass --python"

DEVICES: dict[str, DeviceSpec] = {
    "cpu": DeviceSpec("cpu", "CPU", ("torch", "numpy"), TORCH_HINT),
    "gpu": DeviceSpec(
        "gpu",
        "GPU",
        ("torch", "numpy"),
        "CUDA is not available to this torch (no GPU, no driver, or a CPU-only torch build); use --cpu or pass "
        "--python pointing at a CUDA-enabled torch",
        probe="import sys, torch; sys.exit(0 if torch.cuda.is_available() else 7)",
    ),
    "ipu": DeviceSpec("ipu", "IPU", ("torch", "numpy", "poptorch"), POPLAR_HINT),
    "ipu-model": DeviceSpec("ipu-model", "IPU Model", ("torch", "numpy", "poptorch"), POPLAR_HINT),
    "csx": DeviceSpec("csx", "CSX", ("torch", "numpy", "cerebras.pytorch"), CEREBRAS_HINT),
}


def check_interpreter(python: str, device: str, *, timeout: float = 120.0) -> None:
    """Verify that ``python`` can import what ``device`` needs (and, for the GPU, sees CUDA).

    Raises ``HwmonError(DEVICE_UNAVAILABLE)`` with a one-line message naming the missing module and what to
    activate. Importing torch takes a second or two; that is paid once, before the run starts.
    """
    spec = DEVICES[device]
    # Each import is tried on its own so that the message names the first module that is missing.
    script = (
        "import importlib, sys\n"
        f"for name in {list(spec.modules)!r}:\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except Exception as exc:\n"
        "        sys.stdout.write('MISSING %s: %s' % (name, str(exc).splitlines()[0] if str(exc) else type(exc)))\n"
        "        sys.exit(3)\n"
    )
    if spec.probe:
        script += spec.probe + "\n"
    try:
        proc = subprocess.run(
            [python, "-c", script], stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout, check=False
        )
    except FileNotFoundError:
        raise exitcodes.HwmonError(f"interpreter {python} not found", exitcodes.DEVICE_UNAVAILABLE) from None
    except PermissionError:
        raise exitcodes.HwmonError(f"interpreter {python} is not executable", exitcodes.DEVICE_UNAVAILABLE) from None
    except subprocess.TimeoutExpired:
        raise exitcodes.HwmonError(
            f"interpreter {python} took over {timeout:.0f}s to import {', '.join(spec.modules)}",
            exitcodes.DEVICE_UNAVAILABLE,
        ) from None
    if proc.returncode == 0:
        return
    out = proc.stdout.decode("utf-8", "replace").strip()
    if out.startswith("MISSING "):
        detail = out[len("MISSING ") :]
        module = detail.split(":", 1)[0]
        raise exitcodes.HwmonError(
            f"--{device}: {python} cannot import {module} ({detail.split(': ', 1)[-1]}); {spec.hint}",
            exitcodes.DEVICE_UNAVAILABLE,
        )
    if proc.returncode == 7:
        raise exitcodes.HwmonError(f"--{device}: {spec.hint}", exitcodes.DEVICE_UNAVAILABLE)
    err = proc.stderr.decode("utf-8", "replace").strip().splitlines()
    raise exitcodes.HwmonError(
        f"--{device}: checking {python} failed: {err[-1] if err else f'exit code {proc.returncode}'}",
        exitcodes.DEVICE_UNAVAILABLE,
    )
