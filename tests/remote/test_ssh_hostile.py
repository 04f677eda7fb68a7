"""A hostile remote side against a real sshd (issue 22, items 5-9): the log's text saying what ``tail`` says, a
login that prints a banner with no newline, an endpoint that accepts TCP and says nothing, a file rewritten while
the connection is down, and a one-shot summary of a large remote file or of a host that never answers."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hwmon.refs import RemoteRef
from hwmon.sources.ssh import SshFollower

from .conftest import Sshd, sshd_from_script
from .test_ssh_follow import Tap, _drain, _until


def _options(sshd: Sshd, **overrides: str) -> list[str]:
    """The fixture's options without its ConnectTimeout: the follower's own timeouts are what is tested."""
    return [o for o in sshd.options(**overrides) if not o.startswith("ConnectTimeout=")]


async def test_log_lines_that_look_like_tail_notices_are_data(sshd: Sshd, tmp_path: Path) -> None:
    """The log's own ``tail: ...: file truncated`` and ``...: No such file or directory`` lines, then a dropped
    connection: no offset reset, no line doubled (item 5)."""
    log = tmp_path / "run.log"
    lines = (
        b"step 1 loss 2.0\n"
        + f"tail: {log}: file truncated\n".encode()
        + f"tail: cannot open '{log}' for reading: No such file or directory\n".encode()
        + f"tail: '{log}' has been replaced;  following new file\n".encode()
        + b"step 2 loss 1.0\n"
    )
    log.write_bytes(lines)
    follower = SshFollower(RemoteRef("127.0.0.1", str(log)), options=_options(sshd), backoff_start=0.05)
    tap = Tap(follower)
    collect = asyncio.ensure_future(_drain(tap))
    try:
        await _until(lambda: tap.data.endswith(b"step 2 loss 1.0\n"), f"the lines {tap.got}")
        assert follower.offset == len(lines)
        assert follower.process is not None
        connections = follower.connections
        os.kill(follower.process.pid, signal.SIGKILL)
        await _until(lambda: follower.connections > connections, "a reconnection")
        with open(log, "ab") as fh:
            fh.write(b"step 3 loss 0.5\n")
        await _until(lambda: tap.data.endswith(b"step 3 loss 0.5\n"), "the next line")
    finally:
        tap.close()
        await asyncio.wait_for(collect, 10)
    assert tap.data == lines + b"step 3 loss 0.5\n"
    assert not any("truncated" in s or "rotated" in s or "gone" in s for s in tap.statuses), tap.statuses


@pytest.fixture(scope="module")
def chatty_sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd]:
    """A second sshd whose sessions print a 3 MB login banner with no newline on stdout before the command runs
    (sshd's ``ForceCommand``, then the requested command)."""
    banner = tmp_path_factory.mktemp("banner") / "banner.sh"
    banner.write_text(
        "#!/bin/sh\nprintf 'Welcome to the cluster'\nhead -c 3000000 /dev/zero | tr '\\0' '~'\n"
        'exec /bin/sh -c "$SSH_ORIGINAL_COMMAND"\n'
    )
    banner.chmod(0o755)
    yield from sshd_from_script({"HWMON_SSHD_FORCECOMMAND": str(banner)})


async def test_banner_without_newline(chatty_sshd: Sshd, tmp_path: Path) -> None:
    """The header is found after a banner with no newline (attach used to wait forever while its buffer grew)."""
    log = tmp_path / "run.log"
    log.write_bytes(b"step 1 loss 2.0\n")
    follower = SshFollower(RemoteRef("127.0.0.1", str(log)), options=_options(chatty_sshd), backoff_start=0.05)
    tap = Tap(follower)
    collect = asyncio.ensure_future(_drain(tap))
    try:
        await _until(lambda: tap.data == b"step 1 loss 2.0\n", "the log's line after the banner", timeout=30)
        assert follower.stream.held < 100
    finally:
        tap.close()
        await asyncio.wait_for(collect, 10)


class SilentProxy:
    """A TCP endpoint in front of the sshd: forwards connections, or (``silent``) accepts them and says nothing."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.silent = False
        self.writers: list[asyncio.StreamWriter] = []
        self.server: asyncio.AbstractServer | None = None
        self.port = 0

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.append(writer)
        if self.silent:
            await reader.read()  # holds the connection open, writes nothing
            return
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)
        self.writers.append(up_writer)

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError, OSError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    def drop_all(self) -> None:
        for writer in self.writers:
            writer.transport.abort()
        self.writers.clear()

    async def close(self) -> None:
        self.drop_all()
        if self.server is not None:
            self.server.close()


@pytest.mark.integration  # a real process for seconds: the integration lane
async def test_silent_endpoint_on_reconnect_is_retried_not_waited_on(sshd: Sshd, tmp_path: Path) -> None:
    """After a drop, the endpoint accepts TCP and says nothing: the reconnection gives up on it within the header
    timeout and retries, and resumes once the host answers again (item 7; it waited forever before)."""
    log = tmp_path / "run.log"
    log.write_bytes(b"line 1\n")
    proxy = SilentProxy(sshd.port)
    await proxy.start()
    known = tmp_path / "known_hosts"  # the sshd's host key under the proxy's port
    known.write_text(sshd.known_hosts.read_text().replace(f"]:{sshd.port} ", f"]:{proxy.port} "))
    options = _options(sshd, Port=str(proxy.port), UserKnownHostsFile=str(known))
    follower = SshFollower(RemoteRef("127.0.0.1", str(log)), options=options, backoff_start=0.05)
    follower.header_timeout = 3.0
    tap = Tap(follower)
    collect = asyncio.ensure_future(_drain(tap))
    try:
        await _until(lambda: tap.data == b"line 1\n", "the first line")
        proxy.silent = True
        proxy.drop_all()
        await _until(lambda: any("no answer within" in s for s in tap.statuses), "the silent endpoint given up on")
        assert not any(c.eof for c in tap.got)
        proxy.silent = False
        proxy.drop_all()
        with open(log, "ab") as fh:
            fh.write(b"line 2\n")
        await _until(lambda: tap.data == b"line 1\nline 2\n", "the line after the host answers again", timeout=40)
    finally:
        tap.close()
        await asyncio.wait_for(collect, 10)
        await proxy.close()


async def test_rewritten_while_disconnected_is_read_from_the_start(sshd: Sshd, tmp_path: Path) -> None:
    """copytruncate and regrowth while the connection is down (same inode, bigger size): the reconnection sees
    the bytes before its offset changed and reads the new file from its start (item 8; it lost them before)."""
    log = tmp_path / "run.log"
    first = b"".join(b"run one step %d\n" % i for i in range(300))
    log.write_bytes(first)
    follower = SshFollower(RemoteRef("127.0.0.1", str(log)), options=_options(sshd), backoff_start=0.05)
    tap = Tap(follower)
    collect = asyncio.ensure_future(_drain(tap))
    second = b"".join(b"run two step %d\n" % i for i in range(600))
    try:
        await _until(lambda: tap.data == first, "the first run's lines")
        assert follower.process is not None
        inode = log.stat().st_ino
        os.kill(follower.process.pid, signal.SIGSTOP)
        with open(log, "r+b") as fh:
            fh.truncate(0)
            fh.write(second)
        assert log.stat().st_ino == inode and len(second) > len(first)
        connections = follower.connections
        os.kill(follower.process.pid, signal.SIGKILL)
        await _until(lambda: follower.connections > connections, "a reconnection")
        await _until(lambda: tap.data.endswith(b"run two step 599\n"), "the second run's last line")
    finally:
        tap.close()
        await asyncio.wait_for(collect, 10)
    assert tap.data == first + second
    assert "log rewritten while disconnected, reading from start" in tap.statuses
    assert follower.offset == len(second)


_MEASURE = (
    "import resource, sys\n"
    "from hwmon.cli import main\n"
    "rc = main(sys.argv[1:])\n"
    "print('maxrss', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
    "sys.exit(rc)\n"
)


def _summary(args: list[str]) -> tuple[dict[str, object], int]:
    proc = subprocess.run(
        [sys.executable, "-c", _MEASURE, "summary", *args, "--json"], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    rss = int(next(line.split()[1] for line in proc.stderr.splitlines() if line.startswith("maxrss ")))
    return json.loads(proc.stdout), rss


@pytest.mark.integration  # a real process for seconds: the integration lane
def test_remote_summary_is_streamed_with_flat_memory(sshd: Sshd, tmp_path: Path) -> None:
    """``summary HOST:PATH`` of a 30 MB log costs about what the local summary costs (it held the whole file, 2x
    its size, before) and says the same (item 9)."""
    log = tmp_path / "big.log"
    with open(log, "wb") as fh:
        for i in range(10_000):
            fh.write(b"step %d loss %.3f " % (i, 2.0 / (1 + i)) + b"z" * 3000 + b"\n")
    size_kib = log.stat().st_size // 1024
    local, local_rss = _summary([str(log)])
    args = [f"127.0.0.1:{log}"]
    for opt in sshd.options():
        args += ["--ssh-opt", opt]
    remote, remote_rss = _summary(args)
    local.pop("source", None)
    remote.pop("source", None)
    assert remote == local
    assert remote_rss - local_rss < size_kib // 3, (remote_rss, local_rss, size_kib)


@pytest.mark.integration  # a real process for seconds: the integration lane
def test_remote_summary_of_a_host_that_never_answers_ends(tmp_path: Path) -> None:
    """An endpoint that accepts TCP and never answers: one line and exit 2 within ssh's connect timeout (it waited
    600 s before)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = listener.getsockname()[1]
        started = time.monotonic()
        proc = subprocess.run(
            [sys.executable, "-m", "hwmon", "summary", f"ssh://127.0.0.1:{port}/x.log"],
            capture_output=True,
            text=True,
            timeout=120,
            env=dict(os.environ, HOME=str(tmp_path)),  # no ~/.ssh/config of the machine's
        )
        took = time.monotonic() - started
    assert proc.returncode == 2, proc.stderr
    assert took < 45, took
    assert proc.stderr.count("\n") == 1 and "127.0.0.1" in proc.stderr, proc.stderr
