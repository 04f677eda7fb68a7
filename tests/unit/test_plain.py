"""Plain (headless) mode over a scripted source of real events, with the real reducer: one line per phase change,
alerts when they happen, periodic status lines, exit codes, and log text printed inert."""

from __future__ import annotations

import io
import math
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest

from hwmon import exitcodes
from hwmon.events import ErrorSeen, Event, PhaseStarted, RunCompleted, StepMetrics
from hwmon.model.fmt import fmt_duration as format_duration
from hwmon.sources.source import Batch
from hwmon.views.plain import run_plain, safe_text

T0 = datetime(2024, 3, 30, 12, 0, 0)


def ts(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


class ScriptedSource:
    """A test double for ``Source``: yields the given batches (with pauses), then ends or idles until closed."""

    def __init__(self, script: list[tuple[float, Batch]], *, end: bool = True) -> None:
        self.name = "scripted.log"
        self.script = script
        self.end = end
        self.closed = False

    async def batches(self) -> AsyncIterator[Batch]:
        import asyncio

        for pause, batch in self.script:
            await asyncio.sleep(pause)
            yield batch
        while not self.end and not self.closed:
            await asyncio.sleep(0.01)

    def close(self) -> None:
        self.closed = True


def batch(events: list[Event], *, status: str | None = None, eof: bool = False, at: float = 0.0) -> Batch:
    return Batch(events, [], status, eof, at)


def compile_and_train(*, fail: bool = False) -> list[Event]:
    events: list[Event] = [
        PhaseStarted(1, ts(0), "compile", "Compiling kernels"),
        PhaseStarted(2, ts(286), "setup"),
        PhaseStarted(3, ts(530), "train"),
        StepMetrics(4, ts(560), step=100, loss=9.48, rate=6855.3, global_rate=6855.3),
        StepMetrics(5, ts(590), step=200, loss=8.48, rate=6761.6, global_rate=6776.3),
    ]
    if fail:
        events.append(ErrorSeen(6, ts(600), "RuntimeError: device lost", fatal=True))
    else:
        events.append(RunCompleted(6, ts(900), samples=2048000, seconds=304.4))
    return events


async def test_finished_run_prints_each_phase_and_exits_zero() -> None:
    out = io.StringIO()
    code = await run_plain(ScriptedSource([(0, batch(compile_and_train()))], end=False), out=out, end_grace=0.05)
    text = out.getvalue()
    lines = text.splitlines()
    phase_lines = [line for line in lines if " phase " in line]
    assert [line.split()[2] for line in phase_lines] == ["compile", "setup", "train"]
    assert "(after compile 4m46s)" in phase_lines[1]
    assert "(after setup 4m04s)" in phase_lines[2]
    assert lines[-1].split()[1] == "end"
    assert "succeeded" in lines[-1] and "step 200" in lines[-1] and "loss 8.480" in lines[-1]
    assert code == exitcodes.OK


async def test_failed_run_prints_alert_and_exits_run_failed() -> None:
    out = io.StringIO()
    code = await run_plain(ScriptedSource([(0, batch(compile_and_train(fail=True)))], end=False), out=out)
    assert code == exitcodes.RUN_FAILED
    alerts = [line for line in out.getvalue().splitlines() if " ALERT " in line]
    assert alerts and any("device lost" in line for line in alerts)
    assert "| failed |" in out.getvalue().splitlines()[-1]


async def test_status_line_every_interval_and_source_messages() -> None:
    out = io.StringIO()
    script = [
        (0.0, batch([], status="waiting for run.log to appear")),
        (0.05, batch([PhaseStarted(1, ts(0), "train"), StepMetrics(2, ts(1), step=7, loss=float("nan"))])),
        (0.4, batch([], status="stdin closed", eof=True)),
    ]
    code = await run_plain(ScriptedSource(script), out=out, interval=0.1)
    lines = out.getvalue().splitlines()
    assert lines[0].split(maxsplit=2)[1:] == ["source", "waiting for run.log to appear"]
    status_lines = [line for line in lines if line.split()[1] == "status"]
    assert 2 <= len(status_lines) <= 6
    assert any(" ALERT " in line and "nan" in line.lower() for line in lines)
    assert "source ended" in lines[-1]
    assert code == exitcodes.OK  # unknown outcome: not a failure


async def test_follow_keeps_going_after_the_run_ends() -> None:
    out = io.StringIO()
    script = [(0.0, batch(compile_and_train())), (0.6, batch([], eof=True))]
    await run_plain(ScriptedSource(script), out=out, follow=True, end_grace=0.05)
    # Without --follow it would have stopped after the grace period, before the eof batch.
    assert "source ended" in out.getvalue().splitlines()[-1]


async def test_log_text_is_printed_inert() -> None:
    out = io.StringIO()
    hostile = "boom \x1b]52;c;ZXZpbA==\x07 \x1b[2J [bold red]x[/] \u202eevil"
    script = [(0.0, batch([ErrorSeen(1, None, hostile, fatal=True)]))]
    await run_plain(ScriptedSource(script, end=False), out=out, end_grace=0.01)
    text = out.getvalue()
    assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
    assert "[bold red]x[/]" in text  # shown literally: plain mode never interprets markup


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "-"),
        (math.nan, "-"),
        (-1, "-"),
        (0, "0s"),
        (42.4, "42s"),
        (286, "4m46s"),
        (7500, "2h05m"),
        (1e6, "11d13h"),
    ],
)
def test_format_duration(seconds: float | None, text: str) -> None:
    assert format_duration(seconds) == text


def test_safe_text_caps_length() -> None:
    assert len(safe_text("x" * 500, limit=50)) == 50


@pytest.mark.parametrize("seconds", [1e9, 1e300, 1.7e308])
def test_format_duration_of_an_absurd_eta_stays_short(seconds: float) -> None:
    assert format_duration(seconds) == ">999d"
