"""The follower on real files, pipes and processes: growth, batching, truncation, rotation, late creation, deletion,
directories, unreadable files, stdin, polling fallback, from_end."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from hwmon.sources import inotify
from hwmon.sources.follow import Chunk, FileFollower, PipeFollower

MODES = [pytest.param(True, id="inotify"), pytest.param(False, id="poll")]


class Collector:
    """Runs a follower's ``chunks()`` in a task and records everything it yields."""

    def __init__(self, follower: FileFollower | PipeFollower) -> None:
        self.follower = follower
        self.chunks: list[Chunk] = []
        self.task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        async for chunk in self.follower.chunks():
            self.chunks.append(chunk)

    @property
    def data(self) -> bytes:
        return b"".join(c.data for c in self.chunks)

    @property
    def statuses(self) -> list[str]:
        return [s for c in self.chunks for s in c.statuses]

    def lines(self) -> list[str]:
        return [line for line in self.data.decode().split("\n") if line]

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 8.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if self.task.done():
                self.task.result()
                if not predicate():
                    raise AssertionError(f"follower ended early; statuses={self.statuses} data={self.data[-200:]!r}")
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; statuses={self.statuses} data tail={self.data[-200:]!r}")
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        self.follower.close()
        await asyncio.wait_for(self.task, 5)


def append(path: Path, text: str) -> None:
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(text)


def numbered(start: int, stop: int, prefix: str = "line") -> str:
    return "".join(f"{prefix} {i}\n" for i in range(start, stop))


@pytest.mark.parametrize("use_inotify", MODES)
async def test_reads_existing_content_then_follows_growth(tmp_path: Path, use_inotify: bool) -> None:
    log = tmp_path / "run.log"
    log.write_text(numbered(0, 3))
    follower = FileFollower(log, use_inotify=use_inotify)
    col = Collector(follower)
    await col.wait_for(lambda: col.lines() == ["line 0", "line 1", "line 2"])
    assert follower.using_inotify is (use_inotify and inotify.available())
    append(log, "line 3\npartial")
    await col.wait_for(lambda: col.data.endswith(b"partial"))
    append(log, " end\n")
    await col.wait_for(lambda: col.lines()[-1] == "partial end")
    assert col.lines() == ["line 0", "line 1", "line 2", "line 3", "partial end"]
    assert "following run.log" in col.statuses
    await col.stop()


async def test_idle_file_yields_nothing(tmp_path: Path) -> None:
    log = tmp_path / "quiet.log"
    log.write_text("one\n")
    col = Collector(FileFollower(log))
    await col.wait_for(lambda: col.data == b"one\n")
    before = len(col.chunks)
    await asyncio.sleep(1.3)  # longer than the backstop/poll interval: wake-ups must not produce chunks
    assert len(col.chunks) == before
    await col.stop()


async def test_many_lines_arrive_in_few_batches(tmp_path: Path) -> None:
    log = tmp_path / "flood.log"
    log.touch()
    follower = FileFollower(log, interval=0.05)
    col = Collector(follower)
    await col.wait_for(lambda: "following flood.log" in col.statuses)
    start = time.monotonic()
    with open(log, "a", encoding="utf-8") as fh:
        for burst in range(60):  # 60 bursts of 100 lines, 10 ms apart: ~0.6 s of writing
            fh.write(numbered(burst * 100, burst * 100 + 100))
            fh.flush()
            await asyncio.sleep(0.01)
    await col.wait_for(lambda: len(col.lines()) == 6000)
    elapsed = time.monotonic() - start
    data_chunks = [c for c in col.chunks if c.data]
    # One chunk per ~50 ms at most (plus the first, delivered at once), never one per write or per line.
    assert len(data_chunks) <= elapsed / 0.05 + 2
    assert len(data_chunks) < 60
    gaps = [b.at - a.at for a, b in zip(data_chunks, data_chunks[1:], strict=False)]
    assert all(gap >= 0.045 for gap in gaps), gaps
    assert col.lines() == [f"line {i}" for i in range(6000)]
    await col.stop()


async def test_first_line_after_quiet_spell_is_not_delayed(tmp_path: Path) -> None:
    log = tmp_path / "latency.log"
    log.touch()
    col = Collector(FileFollower(log))
    await col.wait_for(lambda: bool(col.statuses))
    await asyncio.sleep(0.2)
    written = time.monotonic()
    append(log, "step 1\n")
    await col.wait_for(lambda: b"step 1" in col.data)
    assert col.chunks[-1].at - written < 0.04  # leading edge: delivered at once, not after the batch interval
    await col.stop()


@pytest.mark.parametrize("use_inotify", MODES)
async def test_truncation_restarts_from_zero(tmp_path: Path, use_inotify: bool) -> None:
    log = tmp_path / "trunc.log"
    log.write_text(numbered(0, 50, "old"))
    col = Collector(FileFollower(log, use_inotify=use_inotify))
    await col.wait_for(lambda: len(col.lines()) == 50)
    with open(log, "w", encoding="utf-8") as fh:  # copytruncate's second half
        fh.write("new 0\n")
    await col.wait_for(lambda: "new 0" in col.lines())
    assert "log truncated, reading from start" in col.statuses
    append(log, "new 1\n")
    await col.wait_for(lambda: col.lines()[-1] == "new 1")
    assert col.lines() == [f"old {i}" for i in range(50)] + ["new 0", "new 1"]
    await col.stop()


ROTATING_WRITER = textwrap.dedent(
    """
    import os, sys, time
    path, rotations, per_file, pause = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    n = 0
    for r in range(rotations + 1):
        with open(path, "a") as fh:
            for i in range(per_file):
                fh.write(f"line {n}\\n")
                fh.flush()
                n += 1
                if i % 10 == 9:
                    time.sleep(pause / (per_file / 10))
        if r < rotations:
            os.replace(path, path + ".1")  # logrotate: rename; the next open creates a new file
    print(n)
    """
)


@pytest.mark.parametrize(
    ("use_inotify", "rotations", "pause"),
    [pytest.param(True, 12, 0.2, id="inotify"), pytest.param(False, 3, 1.3, id="poll")],
)
async def test_rotation_finishes_old_file_first_each_line_once(
    tmp_path: Path, use_inotify: bool, rotations: int, pause: float
) -> None:
    log = tmp_path / "rot.log"
    follower = FileFollower(log, use_inotify=use_inotify)
    col = Collector(follower)
    per_file = 50
    writer = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        ROTATING_WRITER,
        str(log),
        str(rotations),
        str(per_file),
        str(pause),
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await writer.communicate()
    total = int(out)
    assert total == (rotations + 1) * per_file
    await col.wait_for(lambda: len(col.lines()) >= total, timeout=10)
    # Every line exactly once and in order: the old descriptor was finished before the new file was opened.
    assert col.lines() == [f"line {i}" for i in range(total)]
    assert col.statuses.count("log rotated, following new file") == rotations
    await col.stop()


async def test_rotation_keeps_partial_last_line_separate(tmp_path: Path) -> None:
    log = tmp_path / "part.log"
    log.write_text("complete\nno newline at end")
    col = Collector(FileFollower(log))
    await col.wait_for(lambda: col.data.endswith(b"no newline at end"))
    os.replace(log, tmp_path / "part.log.1")
    log.write_text("fresh\n")
    await col.wait_for(lambda: b"fresh" in col.data)
    assert col.lines() == ["complete", "no newline at end", "fresh"]
    await col.stop()


@pytest.mark.parametrize("use_inotify", MODES)
async def test_waits_for_a_file_created_late(tmp_path: Path, use_inotify: bool) -> None:
    log = tmp_path / "late.log"
    col = Collector(FileFollower(log, use_inotify=use_inotify))
    await col.wait_for(lambda: "waiting for late.log to appear" in col.statuses)
    await asyncio.sleep(0.3)
    log.write_text("hello\n")
    await col.wait_for(lambda: col.lines() == ["hello"])
    assert col.statuses == ["waiting for late.log to appear", "following late.log"]
    await col.stop()


async def test_waits_for_a_file_whose_directory_is_created_late(tmp_path: Path) -> None:
    log = tmp_path / "later" / "run.log"
    col = Collector(FileFollower(log))
    await col.wait_for(lambda: bool(col.statuses))
    (tmp_path / "later").mkdir()
    log.write_text("finally\n")
    await col.wait_for(lambda: col.lines() == ["finally"], timeout=5)
    await col.stop()


@pytest.mark.parametrize("use_inotify", MODES)
async def test_deletion_then_recreation(tmp_path: Path, use_inotify: bool) -> None:
    log = tmp_path / "del.log"
    log.write_text("first\n")
    col = Collector(FileFollower(log, use_inotify=use_inotify))
    await col.wait_for(lambda: col.lines() == ["first"])
    log.unlink()
    await col.wait_for(lambda: any("moved or deleted" in s for s in col.statuses))
    await asyncio.sleep(0.2)
    log.write_text("second\n")  # often gets the freed inode number back: must still count as a new file
    await col.wait_for(lambda: col.lines() == ["first", "second"])
    assert col.statuses[-1] == "log rotated, following new file"
    await col.stop()


@pytest.mark.parametrize("use_inotify", MODES)
async def test_path_that_becomes_a_directory(tmp_path: Path, use_inotify: bool) -> None:
    log = tmp_path / "odd.log"
    log.write_text("a\n")
    col = Collector(FileFollower(log, use_inotify=use_inotify))
    await col.wait_for(lambda: col.lines() == ["a"])
    log.unlink()
    log.mkdir()
    await col.wait_for(lambda: "odd.log is a directory; waiting for a log file there" in col.statuses)
    n = len(col.statuses)
    await asyncio.sleep(1.2)
    assert len(col.statuses) == n  # reported once, not on every retry
    log.rmdir()
    log.write_text("b\n")
    await col.wait_for(lambda: col.lines() == ["a", "b"])
    await col.stop()


FOLLOW_SCRIPT = textwrap.dedent(
    """
    import asyncio, json, sys
    from hwmon.sources.follow import FileFollower

    async def main():
        follower = FileFollower(sys.argv[1], use_inotify=sys.argv[2] == "1")
        async for chunk in follower.chunks():
            print(json.dumps({"data": chunk.data.decode(), "statuses": list(chunk.statuses)}), flush=True)

    asyncio.run(main())
    """
)


def _drop_dac_override() -> None:
    """In the child, before exec: drop the capabilities that let root read any file (from the bounding set, so
    exec does not give them back), so a mode-000 file is unreadable to it as to anyone else."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    pr_capbset_drop, cap_dac_override, cap_dac_read_search = 24, 1, 2
    for cap in (cap_dac_override, cap_dac_read_search):
        if libc.prctl(pr_capbset_drop, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


def _can_drop_dac_override() -> bool:
    probe = subprocess.run(
        [sys.executable, "-c", "pass"], preexec_fn=_drop_dac_override, capture_output=True, check=False
    )
    return probe.returncode == 0


@pytest.mark.parametrize("use_inotify", MODES)
async def test_unreadable_file_is_reported_and_retried(use_inotify: bool) -> None:
    # Root reads anything, so under root the follower runs as "nobody" in a child process.
    base = Path(tempfile.mkdtemp(prefix="hwmon-follow-"))
    try:
        base.chmod(0o777)
        log = base / "secret.log"
        log.write_text("visible now\n")
        log.chmod(0o000)
        preexec: Callable[[], None] | None = None
        if os.geteuid() == 0:
            if not _can_drop_dac_override():
                pytest.skip("running as root without CAP_SETPCAP: cannot make a file unreadable")
            preexec = _drop_dac_override
        proc = subprocess.Popen(
            [sys.executable, "-c", FOLLOW_SCRIPT, str(log), "1" if use_inotify else "0"],
            stdout=subprocess.PIPE,
            text=True,
            preexec_fn=preexec,
        )
        assert proc.stdout is not None
        try:
            first = json.loads(proc.stdout.readline())
            assert first["statuses"] == ["cannot read secret.log: permission denied; retrying"]
            log.chmod(0o644)
            second = json.loads(proc.stdout.readline())
            assert second == {"data": "visible now\n", "statuses": ["following secret.log"]}
        finally:
            proc.kill()
            proc.wait()
    finally:
        for child in base.iterdir():
            child.unlink()
        base.rmdir()


@pytest.mark.parametrize("use_inotify", MODES)
async def test_from_end_skips_existing_content(tmp_path: Path, use_inotify: bool) -> None:
    log = tmp_path / "end.log"
    log.write_text(numbered(0, 100))
    col = Collector(FileFollower(log, from_end=True, use_inotify=use_inotify))
    await col.wait_for(lambda: bool(col.statuses))
    append(log, "after\n")
    await col.wait_for(lambda: col.lines() == ["after"])
    await col.stop()


async def test_end_when_drains_then_ends(tmp_path: Path) -> None:
    log = tmp_path / "sup.log"
    log.write_text("a\n")
    done = False
    col = Collector(FileFollower(log, end_when=lambda: done))
    await col.wait_for(lambda: col.lines() == ["a"])
    append(log, "last words\n")
    done = True
    await asyncio.wait_for(col.task, 5)
    assert col.lines() == ["a", "last words"]
    assert col.chunks[-1].eof and all(not c.eof for c in col.chunks[:-1])


async def test_close_ends_a_waiting_follower_promptly(tmp_path: Path) -> None:
    col = Collector(FileFollower(tmp_path / "never.log", use_inotify=False, poll_max=30))
    await col.wait_for(lambda: bool(col.statuses))
    t0 = time.monotonic()
    await col.stop()
    assert time.monotonic() - t0 < 1.0


async def test_stdin_pipe_from_a_subprocess() -> None:
    writer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\nfor i in range(30):\n    print(f'out {i}', flush=True)\n    time.sleep(0.01)\n",
        ],
        stdout=subprocess.PIPE,
    )
    assert writer.stdout is not None
    try:
        col = Collector(PipeFollower(writer.stdout.fileno()))
        await asyncio.wait_for(col.task, 10)
    finally:
        writer.wait()
        writer.stdout.close()
    assert col.lines() == [f"out {i}" for i in range(30)]
    assert col.chunks[-1].eof and col.chunks[-1].statuses == ("stdin closed",)
    assert len([c for c in col.chunks if c.data]) < 30  # batched, not one chunk per line


async def test_pipe_close_while_waiting() -> None:
    read_fd, write_fd = os.pipe()
    try:
        col = Collector(PipeFollower(read_fd, name="p"))
        os.write(write_fd, b"x\n")
        await col.wait_for(lambda: col.data == b"x\n")
        await col.stop()
        assert not col.chunks[-1].eof
    finally:
        os.close(read_fd)
        os.close(write_fd)


def test_inotify_decoder_ignores_truncated_tail() -> None:
    import struct

    raw = struct.pack("iIII", 3, inotify.IN_CREATE, 0, 8) + b"run.log\0" + b"\x01\x02"
    assert inotify.decode_events(raw) == [inotify.InotifyEvent(3, inotify.IN_CREATE, "run.log")]
