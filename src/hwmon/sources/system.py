"""What the machine is doing for a run: the run's process tree (CPU %, RSS), host memory, NVIDIA GPUs through
NVML, and Graphcore IPUs through ``gc-monitor``. I/O only: the dashboard calls ``SystemSampler.sample`` from a
worker thread at most once a second and shows the frozen ``SystemSample`` it returns.

Each part fails on its own with a note saying why (no NVML library, no driver, ``gc-monitor`` not on PATH, the
process gone), never with an exception into the UI.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from typing import Any

import psutil

GC_MONITOR_EVERY = 5.0
GC_MONITOR_TIMEOUT = 4.0
GC_MONITOR_LINES = 8


@dataclass(frozen=True, slots=True)
class GpuSample:
    """One NVIDIA GPU as NVML reports it."""

    index: int
    name: str
    util_percent: float | None
    mem_used: int | None
    mem_total: int | None
    power_w: float | None


@dataclass(frozen=True, slots=True)
class SystemSample:
    """One reading. ``processes`` is 0 when the run's process is not (or no longer) known."""

    pid: int | None = None
    processes: int = 0
    cpu_percent: float | None = None
    rss: int | None = None
    process_note: str = ""
    host_mem_used: int | None = None
    host_mem_total: int | None = None
    host_cpu_percent: float | None = None
    gpus: tuple[GpuSample, ...] = ()
    gpu_note: str = ""
    ipu_lines: tuple[str, ...] = ()
    ipu_note: str = ""
    at: float = 0.0


class SystemSampler:
    """Samples the process tree rooted at ``pid`` (or nothing of a process when ``pid`` is None), the host, NVML
    and ``gc-monitor``. Not thread-safe: one worker owns it."""

    def __init__(self, pid: int | None, *, nvml: bool = True, gc_monitor: str | None = "gc-monitor") -> None:
        self.pid = pid
        self._procs: dict[int, psutil.Process] = {}
        self._nvml: Any = None
        self._nvml_note = ""
        self._gc_path = shutil.which(gc_monitor) if gc_monitor else None
        self._gc_lines: tuple[str, ...] = ()
        self._gc_note = "" if self._gc_path else "gc-monitor not on PATH"
        self._gc_last = float("-inf")
        psutil.cpu_percent(interval=None)  # prime the host figure: the first call always reads 0
        if nvml:
            self._open_nvml()
        else:
            self._nvml_note = "NVML not asked for"

    def _open_nvml(self) -> None:
        try:
            import pynvml
        except ImportError:
            self._nvml_note = "no NVML (nvidia-ml-py not installed)"
            return
        try:
            pynvml.nvmlInit()
        except pynvml.NVMLError as exc:
            self._nvml_note = f"no NVML ({_nvml_reason(exc)})"
            return
        self._nvml = pynvml

    def close(self) -> None:
        """Release NVML."""
        if self._nvml is not None:
            try:
                self._nvml.nvmlShutdown()
            except Exception:  # noqa: BLE001 - shutting down a library that already failed is not our problem
                pass
            self._nvml = None

    # ------------------------------------------------------------------------------------------- sample
    def sample(self, now: float = 0.0) -> SystemSample:
        """One reading of everything (about a millisecond, plus ``gc-monitor`` every few seconds)."""
        pid, processes, cpu, rss, note = self._process()
        memory = psutil.virtual_memory()
        gpus, gpu_note = self._gpus()
        ipu_lines, ipu_note = self._ipus(now)
        return SystemSample(
            pid=pid,
            processes=processes,
            cpu_percent=cpu,
            rss=rss,
            process_note=note,
            host_mem_used=int(memory.total - memory.available),
            host_mem_total=int(memory.total),
            host_cpu_percent=psutil.cpu_percent(interval=None),
            gpus=gpus,
            gpu_note=gpu_note,
            ipu_lines=ipu_lines,
            ipu_note=ipu_note,
            at=now,
        )

    def _process(self) -> tuple[int | None, int, float | None, int | None, str]:
        if self.pid is None:
            return None, 0, None, None, "no process known"
        try:
            root = self._procs.get(self.pid) or psutil.Process(self.pid)
            tree = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            self._procs.clear()
            return self.pid, 0, None, None, f"process {self.pid} has exited"
        except psutil.AccessDenied:
            return self.pid, 0, None, None, f"process {self.pid}: access denied"
        alive: dict[int, psutil.Process] = {}
        cpu = 0.0
        rss = 0
        for proc in tree:
            # Keep each Process object between samples: cpu_percent() measures since the previous call on it.
            proc = self._procs.get(proc.pid, proc)
            try:
                with proc.oneshot():
                    cpu += proc.cpu_percent(interval=None)
                    rss += proc.memory_info().rss
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            alive[proc.pid] = proc
        self._procs = alive
        return self.pid, len(alive), cpu, rss, ""

    def _gpus(self) -> tuple[tuple[GpuSample, ...], str]:
        nvml = self._nvml
        if nvml is None:
            return (), self._nvml_note
        gpus = []
        try:
            for index in range(nvml.nvmlDeviceGetCount()):
                handle = nvml.nvmlDeviceGetHandleByIndex(index)
                name = nvml.nvmlDeviceGetName(handle)
                util = _maybe(lambda h=handle: float(nvml.nvmlDeviceGetUtilizationRates(h).gpu))
                memory = _maybe(lambda h=handle: nvml.nvmlDeviceGetMemoryInfo(h))
                power = _maybe(lambda h=handle: nvml.nvmlDeviceGetPowerUsage(h) / 1000.0)
                gpus.append(
                    GpuSample(
                        index=index,
                        name=name.decode() if isinstance(name, bytes) else str(name),
                        util_percent=util,
                        mem_used=int(memory.used) if memory is not None else None,
                        mem_total=int(memory.total) if memory is not None else None,
                        power_w=power,
                    )
                )
        except nvml.NVMLError as exc:
            return tuple(gpus), f"NVML: {_nvml_reason(exc)}"
        return tuple(gpus), "" if gpus else "NVML: no GPU"

    def _ipus(self, now: float) -> tuple[tuple[str, ...], str]:
        if self._gc_path is None:
            return (), self._gc_note
        if now - self._gc_last < GC_MONITOR_EVERY:
            return self._gc_lines, self._gc_note
        self._gc_last = now
        try:
            done = subprocess.run(
                [self._gc_path], capture_output=True, timeout=GC_MONITOR_TIMEOUT, check=False, stdin=subprocess.DEVNULL
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            self._gc_note = f"gc-monitor: {type(exc).__name__}"
            return self._gc_lines, self._gc_note
        text = done.stdout.decode("utf-8", "replace")
        lines = [line.rstrip() for line in text.splitlines() if line.strip()]
        self._gc_lines = tuple(lines[-GC_MONITOR_LINES:])
        self._gc_note = "" if done.returncode == 0 else f"gc-monitor exited {done.returncode}"
        return self._gc_lines, self._gc_note


def _maybe(read: Any) -> Any:
    try:
        return read()
    except Exception:  # noqa: BLE001 - a figure a GPU does not support (power on some boards) is just absent
        return None


def _nvml_reason(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    if "LibraryNotFound" in type(exc).__name__ or "Library Not Found" in text:
        return "no NVIDIA driver library"
    if "DriverNotLoaded" in type(exc).__name__:
        return "NVIDIA driver not loaded"
    return text
