"""Hand-built event sequences for pilot tests that must not depend on the parsers (their own tests cover them)."""

from __future__ import annotations

from datetime import datetime, timedelta

from hwmon.events import (
    ErrorSeen,
    Event,
    JobIdSeen,
    ModelSummary,
    ModuleNode,
    PhaseEnded,
    PhaseStarted,
    ProgressUpdate,
    RunStarted,
    StepMetrics,
    VendorDetected,
)

T0 = datetime(2025, 2, 11, 9, 0, 0)


def ts(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def log_line(seconds: float, text: str) -> str:
    return f"{ts(seconds):%Y-%m-%d %H:%M:%S},000 INFO:   {text}"


MODEL = ModuleNode(
    "",
    "TrainingModelWithLoss",
    "",
    (
        ModuleNode(
            "model",
            "Network",
            "",
            (
                ModuleNode("conv", "Conv2d", "1, 16, kernel_size=(5, 5), stride=(1, 1)"),
                ModuleNode("fc", "Linear", "in_features=800, out_features=10, bias=True"),
            ),
        ),
        ModuleNode("loss", "NLLLoss", ""),
    ),
)


def compile_events() -> tuple[list[Event], list[str]]:
    events: list[Event] = [
        RunStarted(1, ts(0), command="python run.py CSX"),
        VendorDetected(2, ts(1), vendor="cerebras", device="CSX"),
        JobIdSeen(3, ts(2), job_id="wsjob-testcompile01", kind="compile"),
        PhaseStarted(4, ts(5), phase="compile", detail="Exploring floorplans"),
    ]
    lines = [log_line(0, "Compiling the model."), log_line(5, "Exploring floorplans")]
    return events, lines


def setup_events() -> tuple[list[Event], list[str]]:
    events: list[Event] = [
        PhaseEnded(5, ts(300), phase="compile"),
        JobIdSeen(6, ts(301), job_id="wsjob-testexecute02", kind="execute"),
        PhaseStarted(7, ts(301), phase="setup", detail="Programming"),
        ProgressUpdate(8, ts(320), name="Sending initial weights", n=400, total=1000, rate=370.0, unit="tensors"),
    ]
    return events, [log_line(300, "Compile was successful!"), log_line(301, "Programming the system")]


def train_events(first: int, count: int, *, line: int = 100) -> tuple[list[Event], list[str]]:
    events: list[Event] = []
    lines: list[str] = []
    if first == 1:
        events += [PhaseEnded(line, ts(540), phase="setup"), PhaseStarted(line, ts(540), phase="train")]
    for i in range(first, first + count):
        loss = 10.0 / (1 + 0.2 * i)
        events.append(
            StepMetrics(line + i, ts(540 + 30 * i), step=100 * i, loss=loss, rate=6700.0 + i, global_rate=6720.0)
        )
        lines.append(log_line(540 + 30 * i, f"| Train Device=CSX, Step={100 * i}, Loss={loss:.5f}"))
    return events, lines


def model_events() -> list[Event]:
    return [ModelSummary(200, None, root=MODEL)]


def error_events(message: str) -> tuple[list[Event], list[str]]:
    return [ErrorSeen(300, ts(900), message=message, fatal=False, kind="error")], [f"ERROR: {message}"]
