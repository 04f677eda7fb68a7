"""The system pane: the run's process tree, the host, NVIDIA GPUs (NVML), Graphcore IPUs (``gc-monitor``) and, for
a Cerebras appliance run, the job as the log states it. Fed by the app's sampling worker (≤ 1 Hz)."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widget import Widget

from hwmon.model.state import RunState
from hwmon.tui import view
from hwmon.tui.widgets._text import join_rows


def fmt_bytes(value: int | None) -> str:
    """``1.2 GiB``, ``340 MiB``; ``-`` when unknown."""
    if value is None:
        return "-"
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit in ("B", "KiB") or size >= 100 else f"{size:.1f} {unit}"
        size /= 1024
    return "-"


class SystemPane(Widget, can_focus=True):
    """One row per thing sampled; a part that cannot be read says why in its row."""

    ALLOW_MAXIMIZE = True  # z maximises the pane

    DEFAULT_CSS = """
    SystemPane { height: auto; max-height: 12; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.sample: Any = None
        self._state: RunState | None = None
        self._rows = -1

    def show(self, sample: Any, state: RunState | None) -> None:
        """Take a ``hwmon.sources.system.SystemSample`` (typed loosely: the UI does not import the I/O layer's
        types at module level) and the run state (for the Cerebras job line)."""
        self.sample, self._state = sample, state
        rows = len(self.rows())
        self.refresh(layout=rows != self._rows)
        self._rows = rows

    def rows(self) -> list[Text]:
        """The pane's rows, as shown."""
        sample = self.sample
        rows: list[Text] = []
        if sample is not None:
            rows.extend(self._machine_rows(sample))
        state = self._state
        if state is not None and _vendor(state) == "cerebras" and state.job_ids:
            job = Text(no_wrap=True, overflow="ellipsis")
            job.append("job   ", style="bold")
            phase = state.current_phase
            where = phase.name if phase is not None else view.display_status(state, None)
            job.append(f"{view.safe_text(state.job_ids[-1])} · {where} (from the log)")
            rows.append(job)
        return rows or [Text("sampling…", style="dim")]

    def _machine_rows(self, sample: Any) -> list[Text]:
        rows: list[Text] = []
        proc = Text(no_wrap=True, overflow="ellipsis")
        proc.append("run   ", style="bold")
        if sample.processes:
            count = f"{sample.processes} processes" if sample.processes > 1 else "1 process"
            proc.append(f"CPU {sample.cpu_percent:.0f}%  RSS {fmt_bytes(sample.rss)}  ({count}, pid {sample.pid})")
        else:
            proc.append(view.safe_text(sample.process_note) or "no process", style="dim")
        rows.append(proc)
        host = Text(no_wrap=True, overflow="ellipsis")
        host.append("host  ", style="bold")
        if sample.host_mem_total:
            used, total = sample.host_mem_used or 0, sample.host_mem_total
            host.append(f"mem {fmt_bytes(used)} / {fmt_bytes(total)} ({100 * used / total:.0f}%)")
        if sample.host_cpu_percent is not None:
            host.append(f"  CPU {sample.host_cpu_percent:.0f}%")
        rows.append(host)
        for gpu in sample.gpus:
            line = Text(no_wrap=True, overflow="ellipsis")
            line.append(f"gpu{gpu.index}  ", style="bold")
            util = "-" if gpu.util_percent is None else f"{gpu.util_percent:.0f}%"
            line.append(f"util {util}  mem {fmt_bytes(gpu.mem_used)} / {fmt_bytes(gpu.mem_total)}")
            if gpu.power_w is not None:
                line.append(f"  {gpu.power_w:.0f} W")
            line.append(f"  {view.safe_text(gpu.name)}", style="dim")
            rows.append(line)
        if sample.gpu_note:
            rows.append(Text("gpu   " + view.safe_text(sample.gpu_note), style="dim", no_wrap=True))
        for ipu_line in sample.ipu_lines:
            rows.append(Text("ipu   " + view.safe_text(ipu_line), no_wrap=True, overflow="ellipsis"))
        if sample.ipu_note and (sample.ipu_lines or _vendor(self._state) == "graphcore"):
            rows.append(Text("ipu   " + view.safe_text(sample.ipu_note), style="dim", no_wrap=True))
        return rows

    def render(self) -> Text:
        return join_rows(self.rows())


def _vendor(state: RunState | None) -> str | None:
    return None if state is None else state.vendor
