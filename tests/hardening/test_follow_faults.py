"""Follow faults on real files: truncation, rotation x100, delete + recreate, replaced by a directory, unreadable,
full file system. A writer appends lines with unique ids; every line it completed must reach the source's
``Batch.lines`` exactly once, and each fault must show as a ``Batch.status`` (never a traceback).

Where a fault by its nature loses data in any ``tail -F`` (bytes appended between a copytruncate's copy and its
truncate; a file rotated away twice before the follower looked), the writer waits for the follower to catch up
before causing the next fault, as logrotate's interval does in practice.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import subprocess
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from hwmon.sources.source import FollowSource, file_source


class Collector:
    """Consumes a source in the background: counts every id line and keeps every status."""

    def __init__(self, source: FollowSource) -> None:
        self.source = source
        self.seen: Counter[str] = Counter()
        self.statuses: list[str] = []
        self.other: list[str] = []
        self.task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        async for batch in self.source.batches():
            for line in batch.lines:
                if line.startswith("ID-"):
                    self.seen[line] += 1
                elif line:
                    self.other.append(line)
            if batch.status:
                self.statuses.append(batch.status)

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._run())

    async def wait_seen(self, ids: list[str], timeout: float = 15.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not all(i in self.seen for i in ids):
            if loop.time() > deadline:
                missing = [i for i in ids if i not in self.seen]
                raise AssertionError(f"not seen: {missing[:5]} (+{len(missing)}); statuses {self.statuses}")
            if self.task is not None and self.task.done():
                self.task.result()
            await asyncio.sleep(0.02)

    async def wait_status(self, needle: str, timeout: float = 15.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not any(needle in s for s in self.statuses):
            if loop.time() > deadline:
                raise AssertionError(f"no status with {needle!r}; statuses {self.statuses}")
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        self.source.close()
        if self.task is not None:
            await asyncio.wait_for(self.task, 5)

    def assert_exactly_once(self, written: list[str]) -> None:
        assert set(self.seen) == set(written), (set(written) - set(self.seen), set(self.seen) - set(written))
        twice = {k: v for k, v in self.seen.items() if v != 1}
        assert not twice, twice
        assert not any("Traceback" in s or "parser failed" in s for s in self.statuses), self.statuses


class Writer:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.written: list[str] = []
        self.n = 0

    def lines(self, count: int) -> list[str]:
        new = []
        with self.path.open("a") as handle:
            for _ in range(count):
                self.n += 1
                ident = f"ID-{self.n:07d}"
                handle.write(ident + "\n")
                new.append(ident)
        self.written.extend(new)
        return new


@contextlib.asynccontextmanager
async def following(path: Path, *, use_inotify: bool | None = None) -> AsyncIterator[Collector]:
    collector = Collector(file_source(path, use_inotify=use_inotify))
    collector.start()
    try:
        yield collector
    finally:
        await collector.stop()


@pytest.mark.parametrize("use_inotify", [True, False], ids=["inotify", "polling"])
async def test_truncation_while_writing(tmp_path: Path, use_inotify: bool) -> None:
    log = tmp_path / "run.log"
    writer = Writer(log)
    writer.lines(50)
    async with following(log, use_inotify=use_inotify) as seen:
        for round_ in range(5):
            await seen.wait_seen(writer.written)
            with log.open("r+") as handle:  # copytruncate
                handle.truncate(0)
            await seen.wait_status("truncated")
            seen.statuses.clear()
            writer.lines(10 + round_)
        await seen.wait_seen(writer.written)
    seen.assert_exactly_once(writer.written)


@pytest.mark.parametrize(("use_inotify", "rotations"), [(True, 100), (False, 12)], ids=["inotify", "polling"])
async def test_rotation_many_times(tmp_path: Path, use_inotify: bool, rotations: int) -> None:
    """Rename + recreate: the lines written to the old file just before the rename are read from it first."""
    log = tmp_path / "run.log"
    writer = Writer(log)
    writer.lines(5)
    async with following(log, use_inotify=use_inotify) as seen:
        for _ in range(rotations):
            await seen.wait_seen(writer.written)
            writer.lines(3)  # not yet read when the file is renamed away
            log.rename(tmp_path / "run.log.1")
            log.touch()
            writer.lines(3)
        await seen.wait_seen(writer.written, timeout=30)
        assert sum("rotated" in s for s in seen.statuses) >= rotations * 0.5, seen.statuses
    seen.assert_exactly_once(writer.written)


async def test_delete_and_recreate(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    writer = Writer(log)
    writer.lines(20)
    async with following(log) as seen:
        await seen.wait_seen(writer.written)
        log.unlink()
        await seen.wait_status("moved or deleted")
        writer.lines(20)
        await seen.wait_seen(writer.written)
        assert any("rotated" in s or "following" in s for s in seen.statuses)
    seen.assert_exactly_once(writer.written)


async def test_replaced_by_a_directory(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    writer = Writer(log)
    writer.lines(10)
    async with following(log) as seen:
        await seen.wait_seen(writer.written)
        log.unlink()
        log.mkdir()
        await seen.wait_status("is a directory")
        log.rmdir()
        writer.lines(10)
        await seen.wait_seen(writer.written)
    seen.assert_exactly_once(writer.written)


async def test_missing_at_start_then_created(tmp_path: Path) -> None:
    log = tmp_path / "later" / "run.log"
    async with following(log) as seen:
        await seen.wait_status("waiting for run.log")
        log.parent.mkdir()
        writer = Writer(log)
        writer.lines(10)
        await seen.wait_seen(writer.written)
    seen.assert_exactly_once(writer.written)


async def test_unreadable(tmp_path: Path) -> None:
    """chmod 000 does not stop root, so unreadability is made by the path: a parent that is a regular file
    (ENOTDIR) — at start ("a parent is not a directory") and while following ("moved or deleted"). When not root,
    a mode-000 file is tried as well ("permission denied")."""
    folder = tmp_path / "logs"
    folder.write_text("a file where the log's directory should be\n")
    log = folder / "run.log"
    async with following(log) as seen:
        await seen.wait_status("a parent is not a directory")
        folder.unlink()
        folder.mkdir()
        writer = Writer(log)
        writer.lines(10)
        await seen.wait_seen(writer.written)
        folder.rename(tmp_path / "logs.moved")
        folder.write_text("not a directory\n")
        await seen.wait_status("moved or deleted")
        folder.unlink()
        (tmp_path / "logs.moved").rename(folder)
        writer.lines(10)
        await seen.wait_seen(writer.written)
    seen.assert_exactly_once(writer.written)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads mode-000 files (covered by test_unreadable's paths)")
async def test_mode_000_file(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    log.write_text("")
    log.chmod(0)
    async with following(log) as seen:
        await seen.wait_status("permission denied")
        log.chmod(0o644)
        writer = Writer(log)
        writer.lines(5)
        await seen.wait_seen(writer.written)
    seen.assert_exactly_once(writer.written)


async def test_replaced_by_a_fifo(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    writer = Writer(log)
    writer.lines(5)
    async with following(log) as seen:
        await seen.wait_seen(writer.written)
        log.unlink()
        os.mkfifo(log)
        await seen.wait_status("not a regular file")
        log.unlink()
        writer.lines(5)
        await seen.wait_seen(writer.written)
    seen.assert_exactly_once(writer.written)


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Path:
    mount = tmp_path / "mnt"
    mount.mkdir()
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)], capture_output=True, text=True, timeout=10
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
    yield mount  # type: ignore[misc]
    subprocess.run(["umount", "-l", str(mount)], capture_output=True, timeout=10)


async def test_full_file_system(small_tmpfs: Path) -> None:
    """The writer fills a 64 KiB tmpfs (ENOSPC): every line it completed is seen once, the follower keeps going,
    and after space is freed (copytruncate) new lines are followed too."""
    log = small_tmpfs / "run.log"
    log.touch()
    written: list[str] = []
    async with following(log) as seen:
        fd = os.open(log, os.O_WRONLY | os.O_APPEND)
        try:
            full = False
            n = 0
            while not full:
                n += 1
                line = f"ID-{n:07d}-{'x' * 50}\n".encode()
                try:
                    done = os.write(fd, line)
                except OSError as exc:
                    assert exc.errno == errno.ENOSPC
                    full = True
                    continue
                if done == len(line):
                    written.append(line.decode().rstrip("\n"))
                else:
                    full = True
            assert len(written) > 100
            await seen.wait_seen(written)
            os.ftruncate(fd, 0)
            await seen.wait_status("truncated")
            os.write(fd, b"ID-9999999-after\n")
            written.append("ID-9999999-after")
            await seen.wait_seen(written)
        finally:
            os.close(fd)
    seen.assert_exactly_once(written)


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("HWMON_LONG") != "1", reason="long variant: HWMON_LONG=1")
def test_one_minute_soak_keeps_memory_flat() -> None:
    """``bench/soak.py --minutes 1``: following a 100 lines/s writer, RSS after warm-up grows by < 10 MB."""
    import re
    import sys

    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, str(root / "bench" / "soak.py"), "--minutes", "1", "--sample", "2"],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr
    match = re.search(r"RSS ([\d.]+) -> ([\d.]+) MB", result.stdout)
    assert match is not None, result.stdout
    assert float(match.group(2)) - float(match.group(1)) < 10, result.stdout
