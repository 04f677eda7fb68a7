"""The dashboard of a distributed run and of a Slurm job (issue 21): the ranks pane beside the log at 160x48 (a
row per rank, the silent rank flagged), the heat-strip for 512 ranks, and the header's end reason and time limit."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from screen import screen_text
from sources import FakeBatch, ReplaySourceForTests, settle_app

from hwmon.events import JobState, RankLine, RunOutcome, StepMetrics, TargetStated
from hwmon.parsers.stream import parse_bytes
from hwmon.tui.app import HwmonApp
from hwmon.tui.widgets import RanksPane

CLOCK = 1000.0


def make_app(*batches: FakeBatch) -> HwmonApp:
    source = ReplaySourceForTests(list(batches), name="ddp.log")
    source.queue = asyncio.Queue()
    return HwmonApp(source, clock=lambda: CLOCK)


async def settle(pilot: Any) -> None:
    """Wait until the app took every batch handed to it (state), then paint."""
    await settle_app(pilot)


async def shows(pilot: Any, text: str, timeout: float = 30.0) -> str:
    """The screen once it shows ``text`` (output, not a sleep: under a loaded CI a frame can come late)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        pilot.app.repaint_now()
        await pilot.pause()
        screen = screen_text(pilot.app)
        if text in screen or asyncio.get_running_loop().time() > deadline:
            return screen
        await pilot.pause(0.02)


def ddp_log(ranks: int, steps: int, stopped: int | None = None) -> bytes:
    """torchrun --tee lines: every rank logs each step; ``stopped`` stops after step 5."""
    return b"".join(
        b"[default%d]:step=%d loss=%.3f\n" % (rank, step, 4.0 / step)
        for step in range(1, steps + 1)
        for rank in range(ranks)
        if not (rank == stopped and step > 5)
    )


async def test_a_ranks_pane_beside_the_log_with_the_silent_rank_flagged() -> None:
    clock = [CLOCK]
    source = ReplaySourceForTests([], name="ddp.log")
    source.queue = asyncio.Queue()
    app = HwmonApp(source, clock=lambda: clock[0])
    async with app.run_test(size=(160, 48)) as pilot:
        for step in range(1, 13):  # a step a second; rank 2 stops after step 5
            clock[0] += 1.0
            data = ddp_log(4, step, stopped=2).split(b"\n")
            lines = [line for line in data if line.split(b"step=")[-1].startswith(b"%d " % step)]
            chunk = b"\n".join(lines) + b"\n"
            source.push(FakeBatch(parse_bytes(chunk), chunk.decode().splitlines()))
            await settle(pilot)
        pane = app.query_one(RanksPane)
        assert pane.display and pane.has_ranks()
        text = screen_text(app)
        assert "4 ranks · steps 5–12 (median 12) · 1 silent" in text, text
        assert re.search(r"\b2 +5 +-7 +7s +5 +0 silent", text), text
        assert re.search(r"\b0 +12 +0s +12 +0 ", text), text


async def test_512_ranks_are_a_heat_strip() -> None:
    events = [
        RankLine(i + 1, None, rank, 1, 10 if rank != 17 else 3, f"n{rank // 8}") for i, rank in enumerate(range(512))
    ]
    app = make_app(FakeBatch(events, [], at=CLOCK))
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        text = await shows(pilot, "512 ranks · steps 3–10 (median 10)")
        assert "512 ranks · steps 3–10 (median 10)" in text
        assert "█" * 40 in text and "!" in text


async def test_the_header_says_how_a_slurm_job_ended_and_whether_it_will_finish() -> None:
    clock = [CLOCK - 600.0]
    source = ReplaySourceForTests([], name="slurm:12")
    source.queue = asyncio.Queue()
    app = HwmonApp(source, clock=lambda: clock[0])
    async with app.run_test(size=(120, 30)) as pilot:
        source.push(FakeBatch([JobState(0, None, "12", "RUNNING", "None", time_limit_s=7200.0, elapsed_s=3600.0)], []))
        source.push(FakeBatch([TargetStated(1, None, "step", 1000)], []))
        await settle(pilot)
        for i in range(1, 11):  # 10 steps a minute: 990 more steps take 99 minutes
            clock[0] += 60.0
            source.push(FakeBatch([StepMetrics(i + 1, None, i * 10, 1.0)], []))
            await settle(pilot)
        header = "".join(screen_text(app).splitlines()[:2])
        assert "· limit in 50m00s — will not finish; no checkpoint yet" in header, header
        source.push(
            FakeBatch(
                [
                    JobState(0, None, "12", "TIMEOUT", "TimeLimit", 0, 15, 7200.0, 7200.0),
                    RunOutcome(0, None, "failed", 0, 15),
                ],
                [],
            )
        )
        await settle(pilot)
        header = "".join(screen_text(app).splitlines()[:2])
        assert "FAILED  — TIMEOUT after 2h00m (time limit)" in header, header
        assert "limit in" not in header
