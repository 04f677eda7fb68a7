"""Remote follow against a real sshd on 127.0.0.1: a growing log, connections killed mid-run, remote rotation and
truncation, and the one-line messages for a bad host key, a bad client key and a closed port."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from hwmon.model.reducer import apply_all
from hwmon.model.state import RunState
from hwmon.model.summary import summary_dict
from hwmon.refs import RemoteRef, parse_remote
from hwmon.sources.follow import Chunk
from hwmon.sources.read import summarize_bytes
from hwmon.sources.source import FollowSource
from hwmon.sources.ssh import SshError, SshFollower, check, read_chunks

from .conftest import Sshd

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


class Tap:
    """Wraps an ``SshFollower``: records every chunk it yields (the bytes received, the statuses)."""

    def __init__(self, follower: SshFollower) -> None:
        self.follower = follower
        self.name = follower.name
        self.got: list[Chunk] = []

    async def chunks(self) -> AsyncIterator[Chunk]:
        async for chunk in self.follower.chunks():
            self.got.append(chunk)
            yield chunk

    def close(self) -> None:
        self.follower.close()

    @property
    def data(self) -> bytes:
        return b"".join(c.data for c in self.got)

    @property
    def statuses(self) -> list[str]:
        return [s for c in self.got for s in c.statuses]


async def _until(predicate: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def _follower(sshd: Sshd, path: Path, **kw: float) -> SshFollower:
    return SshFollower(RemoteRef("127.0.0.1", str(path)), options=sshd.options(), backoff_start=0.05, **kw)


def _session_children(sshd_pid: int) -> list[int]:
    """The per-connection sshd processes (children of the listener)."""
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(sshd_pid)], capture_output=True, text=True, check=False)
    return [int(p) for p in out.stdout.split()]


def test_parse_remote_refs() -> None:
    assert parse_remote("gpu01:/scratch/run.log") == RemoteRef("gpu01", "/scratch/run.log")
    assert parse_remote("me@gpu01:logs/run.log") == RemoteRef("gpu01", "logs/run.log", "me")
    assert parse_remote("ssh://me@gpu01:2222/scratch/run.log") == RemoteRef("gpu01", "/scratch/run.log", "me", 2222)
    assert parse_remote("ssh://gpu01/~/run.log") == RemoteRef("gpu01", "~/run.log")
    for local in ("run.log", "./a:b.log", "/tmp/a:b", "slurm:123", "-", "C"):
        assert parse_remote(local) is None, local


@pytest.mark.integration
async def test_growing_log_survives_two_killed_connections(sshd: Sshd, tmp_path: Path) -> None:
    source_bytes = (FIXTURES / "follow_cerebras_ok.log").read_bytes()
    log = tmp_path / "run.log"
    log.write_bytes(b"")
    follower = _follower(sshd, log)
    tap = Tap(follower)
    source = FollowSource(tap, name="remote")  # type: ignore[arg-type]
    state = RunState(source="remote")

    async def consume() -> None:
        async for batch in source.batches():
            apply_all(state, batch.events)

    consumer = asyncio.ensure_future(consume())
    pieces = [source_bytes[i : i + 997] for i in range(0, len(source_bytes), 997)]
    kills = {len(pieces) // 3: "client", (2 * len(pieces)) // 3: "server"}
    try:
        with open(log, "ab") as fh:
            for index, piece in enumerate(pieces):
                fh.write(piece)
                fh.flush()
                await asyncio.sleep(0.01)
                if index in kills:
                    await _until(lambda: follower.offset > 0, "some bytes first")
                    connections = follower.connections
                    if kills[index] == "client":
                        assert follower.process is not None
                        os.kill(follower.process.pid, signal.SIGKILL)
                    else:
                        for pid in _session_children(sshd.pid):
                            os.kill(pid, signal.SIGKILL)
                    await _until(lambda n=connections: follower.connections > n, "a reconnection")  # type: ignore[misc]
        await _until(lambda: follower.offset == len(source_bytes), "all bytes")
        await asyncio.sleep(1.2)  # the source's quiet flush
    finally:
        source.close()
        await asyncio.wait_for(consumer, 10)
    assert follower.connections >= 3
    assert any(s.startswith("reconnecting to 127.0.0.1") for s in tap.statuses), tap.statuses
    # No byte lost, none doubled, and the model equals a local whole-file feed of the same bytes.
    assert tap.data == source_bytes
    local = summary_dict(summarize_bytes(source_bytes, "remote"))
    remote = summary_dict(state)
    for key in ("status", "phases", "train", "last_step", "checkpoints", "errors", "vendor"):
        assert remote.get(key) == local.get(key), key


@pytest.mark.integration
async def test_remote_truncation_and_rotation(sshd: Sshd, tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    log.write_bytes(b"first 1\nfirst 2\n")
    follower = _follower(sshd, log)
    tap = Tap(follower)
    collect = asyncio.ensure_future(_drain(tap))
    try:
        await _until(lambda: tap.data == b"first 1\nfirst 2\n", "the first lines")
        log.write_bytes(b"trunc\n")  # truncated and rewritten shorter in place (copytruncate)
        await _until(lambda: tap.data.endswith(b"first 2\ntrunc\n"), "the truncated file's line")
        assert "log truncated, reading from start" in tap.statuses
        rotated = tmp_path / "run.log.1"
        log.rename(rotated)
        log.write_bytes(b"new file 1\n")
        await _until(lambda: b"new file 1\n" in tap.data, "the new file's line")
        assert "log rotated, following new file" in tap.statuses
        # While disconnected the file is truncated: the reconnection starts from 0, not past the end.
        assert follower.process is not None
        os.kill(follower.process.pid, signal.SIGSTOP)
        log.write_bytes(b"x\n")
        connections = follower.connections
        os.kill(follower.process.pid, signal.SIGKILL)
        await _until(lambda: follower.connections > connections, "a reconnection")
        await _until(lambda: tap.data.endswith(b"x\n"), "the re-read short file")
        # The offset counts the new content only, so a further reconnection resumes at the right byte.
        assert follower.offset == 2
        assert tap.statuses.count("log truncated, reading from start") == 2
    finally:
        tap.close()
        await asyncio.wait_for(collect, 10)
    assert tap.data.count(b"first 1\n") == 1
    assert tap.data.count(b"new file 1\n") == 1


async def _drain(tap: Tap) -> None:
    async for _chunk in tap.chunks():
        pass


@pytest.mark.integration
def test_bad_host_key_is_one_clear_line(sshd: Sshd, tmp_path: Path) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    with pytest.raises(SshError) as info:
        check(RemoteRef("127.0.0.1", "/tmp/x"), sshd.options(UserKnownHostsFile=str(empty)))
    message = str(info.value)
    assert "host key is not known" in message and "\n" not in message


@pytest.mark.integration
def test_bad_client_key_is_one_clear_line(sshd: Sshd, tmp_path: Path) -> None:
    key = tmp_path / "other_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    with pytest.raises(SshError) as info:
        check(RemoteRef("127.0.0.1", "/tmp/x"), sshd.options(IdentityFile=str(key)))
    message = str(info.value)
    assert message.startswith("ssh 127.0.0.1: authentication failed (") and "\n" not in message


@pytest.mark.integration
async def test_closed_port_ends_the_follower_with_one_line(sshd: Sshd, tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    follower = SshFollower(RemoteRef("127.0.0.1", "/tmp/x"), options=sshd.options(Port=str(port)))
    chunks = [c async for c in follower.chunks()]
    assert chunks[-1].eof
    assert chunks[-1].statuses[-1].startswith("ssh 127.0.0.1: connection failed (")
    assert "Connection refused" in chunks[-1].statuses[-1]


def test_unknown_host_classified_without_network() -> None:
    from hwmon.sources.ssh import classify_ssh_failure

    message, fatal = classify_ssh_failure(
        RemoteRef("nosuch", "/x"), 255, "ssh: Could not resolve hostname nosuch: Name or service not known\n"
    )
    assert (
        fatal
        and message == "ssh nosuch: unknown host (ssh: Could not resolve hostname nosuch: Name or service not known)"
    )


@pytest.mark.integration
def test_summary_and_read_chunks_over_ssh(sshd: Sshd, tmp_path: Path) -> None:
    log = tmp_path / "remote run.log"  # a space: the remote shell must get it quoted
    data = (FIXTURES / "follow_cerebras_ok.log").read_bytes()
    log.write_bytes(data)
    assert b"".join(read_chunks(RemoteRef("127.0.0.1", str(log)), sshd.options())) == data
    argv = [sys.executable, "-m", "hwmon", "summary", f"127.0.0.1:{log}", "--json"]
    for opt in sshd.options():
        argv += ["--ssh-opt", opt]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    local = subprocess.run(
        [sys.executable, "-m", "hwmon", "summary", str(log), "--json"], capture_output=True, text=True, check=True
    )
    import json

    remote_json, local_json = json.loads(proc.stdout), json.loads(local.stdout)
    remote_json.pop("source", None)
    local_json.pop("source", None)
    assert remote_json == local_json


@pytest.mark.integration
async def test_from_end_skips_what_the_remote_file_holds(sshd: Sshd, tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    log.write_bytes(b"old 1\nold 2\n")
    follower = SshFollower(RemoteRef("127.0.0.1", str(log)), options=sshd.options(), backoff_start=0.05, from_end=True)
    tap = Tap(follower)
    collect = asyncio.ensure_future(_drain(tap))
    try:
        await _until(lambda: follower.offset == 12, "the header (start at the end)")
        with open(log, "ab") as fh:
            fh.write(b"new 1\n")
        await _until(lambda: tap.data == b"new 1\n", "the new line")
        assert follower.process is not None
        connections = follower.connections
        os.kill(follower.process.pid, signal.SIGKILL)  # a reconnection resumes at the offset, not at the end
        await _until(lambda: follower.connections > connections, "a reconnection")
        with open(log, "ab") as fh:
            fh.write(b"new 2\n")
        await _until(lambda: tap.data == b"new 1\nnew 2\n", "the next line")
    finally:
        tap.close()
        await asyncio.wait_for(collect, 10)


@pytest.mark.integration
def test_no_ssh_connection_outlives_a_killed_monitor(sshd: Sshd, tmp_path: Path) -> None:
    import psutil

    log = tmp_path / "not-yet.log"  # nothing to send: ssh would never notice that its reader is gone
    argv = [sys.executable, "-m", "hwmon", "attach", "--plain", "--follow", f"127.0.0.1:{log}"]
    for opt in sshd.options():
        argv += ["--ssh-opt", opt]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        monitor = psutil.Process(proc.pid)
        deadline = time.monotonic() + 20
        children: list[psutil.Process] = []
        while time.monotonic() < deadline:
            # The follower's ssh (the one running tail), not the short login check before it.
            children = [c for c in monitor.children(recursive=True) if _is_follower_ssh(c)]
            if children:
                break
            time.sleep(0.05)
        assert children, "the monitor never started ssh"
        # Let tail's "cannot open" notice arrive and be read: after it nothing more comes, so ssh would never write
        # again, never get a SIGPIPE, and linger without the parent-death signal.
        time.sleep(2.0)
        proc.kill()  # SIGKILL: no cleanup code of ours runs
        proc.wait(timeout=10)
        gone, alive = psutil.wait_procs(children, timeout=5)
        for leftover in alive:  # the test's own cleanup when the guard failed
            leftover.kill()
        assert not alive, f"ssh outlived the monitor: {alive}"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _is_follower_ssh(process: object) -> bool:
    """The follower's ssh (the one running tail); a process that ends while it is looked at (the login check's
    ssh, under load) is not it."""
    import psutil

    assert isinstance(process, psutil.Process)
    try:
        return process.name() == "ssh" and any("tail -c" in part for part in process.cmdline())
    except psutil.Error:
        return False
