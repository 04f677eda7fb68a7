"""Hardening II items 3, 4, 5 and 12 and the copytruncate / atomic-rewrite cases, on real files, a real FIFO and real
processes: nothing written to the log may be lost or read twice, and no pseudo-file may loop."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hwmon import exitcodes
from hwmon.model.reducer import apply_all
from hwmon.model.state import RunState
from hwmon.sources.follow import FileFollower, PipeFollower
from hwmon.sources.source import FollowSource
from tests.hardening.test_follow_faults import Collector, Writer


def slow_source(path: Path) -> FollowSource:
    """A polling follower that looks only once a second, so the test can act between two looks."""
    return FollowSource(FileFollower(path, use_inotify=False, poll_min=1.0, poll_max=1.0))


async def test_copytruncate_lines_written_before_the_copy_are_read_from_the_copy(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    writer = Writer(log)
    writer.lines(50)
    seen = Collector(slow_source(log))
    seen.start()
    try:
        await seen.wait_seen(writer.written)
        await asyncio.sleep(0.1)  # just after a look: the next is ~1 s away
        writer.lines(40)  # not read yet when logrotate copies and truncates
        shutil.copyfile(log, tmp_path / "run.log.1")
        with log.open("r+") as handle:
            handle.truncate(0)
        writer.lines(10)
        await seen.wait_seen(writer.written)
        assert any("run.log.1" in s for s in seen.statuses), seen.statuses
    finally:
        await seen.stop()
    seen.assert_exactly_once(writer.written)


async def test_truncation_regrown_past_our_position_before_we_looked(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    writer = Writer(log)
    writer.lines(50)
    seen = Collector(slow_source(log))
    seen.start()
    try:
        await seen.wait_seen(writer.written)
        await asyncio.sleep(0.1)
        with log.open("r+") as handle:
            handle.truncate(0)
        writer.lines(120)  # longer than what was there: the size alone does not show the truncation
        await seen.wait_seen(writer.written)
        assert any("truncated" in s for s in seen.statuses), seen.statuses
    finally:
        await seen.stop()
    seen.assert_exactly_once(writer.written)


async def test_atomic_rewrite_with_the_same_content_is_not_read_twice(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    writer = Writer(log)
    writer.lines(100)
    seen = Collector(slow_source(log))
    seen.start()
    try:
        await seen.wait_seen(writer.written)
        for _ in range(3):
            await asyncio.sleep(0.1)
            # The writer rewrites the whole file to a temporary and renames it over the log.
            tmp = tmp_path / "run.log.tmp"
            shutil.copyfile(log, tmp)
            writer.path = tmp
            writer.lines(20)
            writer.path = log
            os.replace(tmp, log)
            await seen.wait_seen(writer.written)
        assert any("rewrite" in s for s in seen.statuses), seen.statuses
    finally:
        await seen.stop()
    seen.assert_exactly_once(writer.written)


async def test_a_real_rotation_to_a_new_file_is_still_read_from_its_start(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    writer = Writer(log)
    writer.lines(30)
    seen = Collector(slow_source(log))
    seen.start()
    try:
        await seen.wait_seen(writer.written)
        log.rename(tmp_path / "run.log.1")
        writer.lines(40)  # a new file, longer than the old one, with other content
        await seen.wait_seen(writer.written)
    finally:
        await seen.stop()
    seen.assert_exactly_once(writer.written)


async def test_proc_file_does_not_loop_as_truncated() -> None:
    follower = FileFollower("/proc/self/status", use_inotify=False, poll_min=0.03, poll_max=0.03)
    statuses: list[str] = []
    data_chunks = 0

    async def consume() -> None:
        nonlocal data_chunks
        async for chunk in follower.chunks():
            statuses.extend(chunk.statuses)
            data_chunks += bool(chunk.data)

    task = asyncio.create_task(consume())
    await asyncio.sleep(1.5)
    follower.close()
    await asyncio.wait_for(task, 5)
    assert data_chunks >= 1
    assert not any("truncated" in s for s in statuses), statuses[:5]
    assert data_chunks <= 2, data_chunks


CRASH = (
    "epoch=1 step=5 loss=0.5\n"
    "Traceback (most recent call last):\n"
    '  File "train.py", line 3, in <module>\n'
    "    main()\n"
    "RuntimeError: boom"
)


async def test_final_line_without_newline_shows_live(tmp_path: Path) -> None:
    log = tmp_path / "crash.log"
    log.write_text(CRASH)
    source = FollowSource(FileFollower(log))
    state = RunState(source="crash.log")
    lines: list[str] = []

    async def consume() -> None:
        async for batch in source.batches():
            apply_all(state, batch.events, now=time.monotonic())
            lines.extend(batch.lines)

    task = asyncio.create_task(consume())
    try:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not ("RuntimeError: boom" in lines and state.error_count):
            await asyncio.sleep(0.05)
    finally:
        source.close()
        await asyncio.wait_for(task, 5)
    assert "RuntimeError: boom" in lines, lines
    assert state.error_count >= 1
    assert state.status == "failed"


def hwmon_env(runs: Path) -> dict[str, str]:
    return {**os.environ, "HWMON_RUNS_DIR": str(runs), "NO_COLOR": "1"}


@pytest.mark.integration
def test_fifo_attached_before_its_writer_loses_nothing(tmp_path: Path) -> None:
    fifo = tmp_path / "f"
    os.mkfifo(fifo)
    watcher = subprocess.Popen(
        [sys.executable, "-m", "hwmon", "attach", "--plain", str(fifo)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=hwmon_env(tmp_path / "runs"),
    )
    try:
        time.sleep(1.5)
        assert watcher.poll() is None, "attach ended before any writer opened the FIFO"
        with open(fifo, "w") as writer:  # blocks until a reader is there: hwmon must still hold it open
            for i in range(1, 20001):
                writer.write(f"epoch=1 step={i} loss=0.5\n")
        out, err = watcher.communicate(timeout=30)
    finally:
        if watcher.poll() is None:
            watcher.kill()
            watcher.communicate()
    assert "Traceback" not in err, err
    assert watcher.returncode == exitcodes.OK, err
    end = [line for line in out.splitlines() if " end " in line]
    assert end and "step 20000" in end[-1], out[-2000:]


WORKLOAD = """
import sys, time
for i in range(1, {n} + 1):
    print(f"epoch=1 step={{i}} loss={{1.0 / i:.4f}}", flush=True)
    if i == {ready}:
        open(sys.argv[1], "w").close()
        time.sleep(1.5)  # the test kills the supervisor now
    time.sleep({pause})
"""


@pytest.mark.integration
def test_supervisor_dies_but_the_workload_goes_on_and_is_followed(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    runs.mkdir()
    script = tmp_path / "work.py"
    ready = tmp_path / "ready"
    script.write_text(WORKLOAD.format(n=400, ready=100, pause=0.005))
    started = subprocess.run(
        [sys.executable, "-m", "hwmon", "run", "--detach", "--", sys.executable, str(script), str(ready)],
        capture_output=True,
        text=True,
        env=hwmon_env(runs),
        timeout=60,
    )
    assert started.returncode == 0, started.stderr
    run_dir = next(runs.iterdir())
    record = json.loads((run_dir / "run.json").read_text())
    deadline = time.monotonic() + 20
    while not ready.exists():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    os.kill(record["supervisor_pid"], signal.SIGKILL)
    try:
        attach = subprocess.run(
            [sys.executable, "-m", "hwmon", "attach", "--plain", record["run_id"]],
            capture_output=True,
            text=True,
            env=hwmon_env(runs),
            timeout=60,
        )
    finally:
        for pid in (record["pid"],):
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    assert "Traceback" not in attach.stderr, attach.stderr
    end = [line for line in attach.stdout.splitlines() if " end " in line]
    assert end and "step 400" in end[-1], attach.stdout[-2000:]


@pytest.mark.integration
def test_no_stall_alert_while_catching_up_a_big_log(tmp_path: Path) -> None:
    """Item 13: a backlog read in 64 KB chunks, one step every 96 KB (so steps arrive at the pace of parsing,
    one per chunk or none), then 12 MB without any step: parsing that takes many times the steps' arrival pace,
    which must not read as a stall of the run."""
    import io

    from hwmon.views.plain import run_plain

    log = tmp_path / "big.log"
    noise = b"".join(b"INFO data loader worker %06d prefetching shard with some words\n" % i for i in range(1500))
    with log.open("wb") as fh:
        for step in range(1, 21):
            fh.write(b"epoch=1 step=%d loss=0.5\n" % step)
            fh.write(noise)
        for _ in range(125):
            fh.write(noise)
        for step in range(21, 41):
            fh.write(b"epoch=1 step=%d loss=0.5\n" % step)
    # Read as `hwmon attach - < big.log` reads it: to its end, then the source ends.
    fd = os.open(log, os.O_RDONLY)
    source = FollowSource(PipeFollower(fd, max_batch_bytes=64 * 1024, close_fd=True))
    out = io.StringIO()
    code = asyncio.run(run_plain(source, out=out, interval=60.0))
    text = out.getvalue()
    assert code == exitcodes.OK, text
    assert "step 40" in text.splitlines()[-1], text[-1000:]
    assert "stall" not in text, text


@pytest.mark.integration
async def test_catching_up_a_hostile_file_leaves_the_event_loop_free(tmp_path: Path) -> None:
    """Item 11: 6 MB of bare ``\\r`` (each a redraw the splitter must look at) caught up while another task of the
    same event loop (the dashboard's keys) ticks every 10 ms: no tick may wait for a whole chunk to be parsed."""
    log = tmp_path / "cr.log"
    log.write_bytes(b"\r" * (6 << 20) + b"epoch=1 step=9 loss=0.5\n")
    source = FollowSource(FileFollower(log, use_inotify=False))
    gaps: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        loop = asyncio.get_running_loop()
        last = loop.time()
        while not done.is_set():
            await asyncio.sleep(0.01)
            now = loop.time()
            gaps.append(now - last)
            last = now

    async def consume() -> None:
        async for batch in source.batches():
            if any("step=9" in line for line in batch.lines):
                done.set()
                break

    tick = asyncio.create_task(ticker())
    try:
        await asyncio.wait_for(consume(), 120)
    finally:
        done.set()
        source.close()
        await tick
    assert gaps, "the source finished before the ticker ran"
    assert max(gaps) < 0.5, f"the event loop was blocked for {max(gaps):.2f} s"


async def test_last_line_overwritten_in_place_is_not_a_truncation(tmp_path: Path) -> None:
    """A writer that redraws its last line by seeking back over it (the file never shrinks, its start never
    changes) must not make the follower read the whole file again."""
    log = tmp_path / "run.log"
    writer = Writer(log)
    writer.lines(1000)  # 11 KB: the file's start lies well before the redrawn line
    seen = Collector(slow_source(log))
    seen.start()
    try:
        await seen.wait_seen(writer.written)
        with log.open("r+b") as handle:
            handle.seek(-len("ID-0001000\n"), os.SEEK_END)
            handle.write(b"ID-000100X\n")  # same length, in place
        writer.lines(5)
        await seen.wait_seen(writer.written)
        await asyncio.sleep(1.2)  # one more look
    finally:
        await seen.stop()
    seen.assert_exactly_once(writer.written)
    assert not any("truncated" in s for s in seen.statuses), seen.statuses
