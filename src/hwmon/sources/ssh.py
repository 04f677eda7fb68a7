"""Follow a log on another host through the system ``ssh`` client (so ``~/.ssh/config``, ProxyJump, ControlMaster,
agents and Kerberos work unchanged). Nothing is installed remotely: the remote side runs POSIX ``tail -c +N -F``
and the bytes come back to be parsed locally by the same sans-I/O stream as a local file.

The follower counts the bytes it has received of the current remote file. When the connection drops it reports
``reconnecting`` and, with backoff, starts ``tail`` again at that byte offset: no line lost, none doubled. On each
(re)connection a small POSIX shell prologue prints the file's inode and size and starts from 0 instead when the file
was replaced (another inode), truncated (shorter than the offset) or rewritten (the ``cksum`` of the bytes before
the offset differs: copytruncate and regrowth while away); while connected, ``tail -F``'s own notices do the same.
How the notices are told from the log's text is in ``hwmon.sources.ssh_stream``.

The command line is built so nothing from a ref can be an ssh option: the host and user are checked against a
host name's grammar (never starting with ``-``) and ``--`` stands before the destination. A connection that does
not print its header within ``header_timeout`` (an endpoint that accepts TCP and says nothing) is dropped and
retried; ssh itself gets ``ConnectTimeout``. Authentication failures, unknown hosts and host-key problems end the
follower with one clear line (``SshError`` from ``check()``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import selectors
import shlex
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence

from hwmon import exitcodes
from hwmon.model.text import safe_text
from hwmon.refs import RemoteRef, checked_remote, come_back_args, ssh_options
from hwmon.sources.follow import CHUNK_SIZE, DEFAULT_INTERVAL, Chunk
from hwmon.sources.source import FollowSource
from hwmon.sources.ssh_stream import MARK, Nonce, RemoteStream, tail_name

SSH = "ssh"
BACKOFF_START = 0.25
BACKOFF_MAX = 10.0
CONNECT_TIMEOUT_S = 10  # ssh's own: TCP connect and the banner exchange
HEADER_TIMEOUT_S = 30.0  # from starting ssh to the remote prologue's header line
STDERR_MAX = 8192  # the last bytes of ssh's stderr kept for the one-line message
# A connection that lived this long was healthy: the next drop starts the backoff from the beginning again.
HEALTHY_AFTER = 5.0


class SshError(exitcodes.HwmonError):
    """ssh could not reach or log in to the host (one clear line)."""


def ssh_argv(ref: RemoteRef, remote_command: str, options: Sequence[str] = ()) -> list[str]:
    """The ssh command line: no terminal, never a password prompt, the user's options (they win over the defaults
    that follow them: ssh keeps the first value of an option), a connect timeout, a dead link noticed within ~15 s,
    then ``--`` and the destination, so nothing from the ref can be read as an option."""
    checked_remote(str(ref), ref.host, ref.path, ref.user, None if ref.port is None else str(ref.port))
    argv = [SSH, "-T", "-o", "BatchMode=yes", *ssh_options(options)]
    argv += ["-o", f"ConnectTimeout={CONNECT_TIMEOUT_S}", "-o", "ServerAliveInterval=5", "-o", "ServerAliveCountMax=3"]
    if ref.port is not None:
        argv += ["-p", str(ref.port)]
    return [*argv, "--", ref.destination, remote_command]


def follow_command(
    path: str, offset: int, inode: str | None, nonce: Nonce, check: str | None = None, from_end: bool = False
) -> str:
    """The remote shell command: one header line (``hwmon-remote:<token> ino=... restart=... start=...``) saying the
    file's inode and where the bytes start, then ``tail -c +N -F`` with its notices merged into stdout (``2>&1``)
    so they arrive in order with the bytes they concern. It starts from 0 instead of ``offset`` when the file is
    another one than before (``inode``), shorter than ``offset``, or its ``cksum`` of the ``check`` bytes before
    ``offset`` differs. ``from_end``: start at the file's current end. POSIX tools only."""
    f = shlex.quote(tail_name(path, nonce))
    expected = shlex.quote(inode or "")
    crc, _, width = (check or "").partition(" ")
    width = str(int(width)) if width.isdigit() else "0"
    return (
        f"f={f}; o={int(offset)}; e={expected}; c={shlex.quote(crc)}; w={width}; i=; s=0; r=; "
        'if [ -e "$f" ]; then i=$(ls -di "$f" 2>/dev/null | { read -r n _; echo "$n"; }); '
        's=$(wc -c < "$f" 2>/dev/null | tr -d " "); fi; '
        'if [ -n "$e" ] && [ -n "$i" ] && [ "$i" != "$e" ]; then r=rotated; o=0; '
        'elif [ "${s:-0}" -lt "$o" ]; then r=truncated; o=0; '
        'elif [ -n "$c" ] && [ "$w" -gt 0 ] && [ "$o" -ge "$w" ]; then '
        'k=$(dd if="$f" bs=1 skip=$((o - w)) count="$w" 2>/dev/null | cksum | { read -r a b _; echo "$a $b"; }); '
        '[ "$k" = "$c $w" ] || { r=rewritten; o=0; }; fi; '
        + ("o=${s:-0}; r=; " if from_end else "")
        + f'echo "{MARK}{nonce.token} ino=$i restart=$r start=$o"; '
        'exec tail -c +$((o + 1)) -F "$f" 2>&1'
    )


def cat_command(path: str, nonce: Nonce) -> str:
    """The remote command for a one-shot read (``hwmon summary HOST:PATH``): the header, then the file."""
    return f'echo "{MARK}{nonce.token}"; exec cat {shlex.quote(tail_name(path, nonce))}'


def printable(text: str, limit: int = 300) -> str:
    """Text from outside (ssh's messages, a remote host's output, a Slurm reason) made inert for a terminal: the
    project's one sanitiser (``hwmon.model.text.safe_text``), bounded."""
    return safe_text(text, limit)


def classify_ssh_failure(ref: RemoteRef, returncode: int, stderr: str) -> tuple[str, bool]:
    """The one line to show for a failed ssh, and whether it is fatal (no point in retrying)."""
    lines = [printable(line).strip() for line in stderr.splitlines()]
    lines = [line for line in lines if line and not line.startswith(MARK)]
    detail = next((line for line in reversed(lines) if not line.startswith("Warning:")), "")
    where = f"ssh {ref.destination}" + (f" (port {ref.port})" if ref.port else "")
    text = stderr
    if "Permission denied" in text or "Too many authentication failures" in text:
        return f"{where}: authentication failed ({detail}); check the key, the agent or --ssh-opt IdentityFile=…", True
    if "Could not resolve hostname" in text or "Name or service not known" in text:
        return f"{where}: unknown host ({detail})", True
    if "Host key verification failed" in text or "REMOTE HOST IDENTIFICATION HAS CHANGED" in text:
        return (
            f"{where}: the host key is not known or has changed (Host key verification failed); "
            "connect once with ssh to check and accept it",
            True,
        )
    if returncode == 255:
        return f"{where}: connection failed ({detail or 'exit code 255'})", False
    if returncode == 127 or "not found" in text:
        return f"{where}: the remote command failed ({detail or 'tail not found'})", True
    return f"{where}: remote tail ended ({detail or f'exit code {returncode}'})", False


def check(ref: RemoteRef, options: Sequence[str] = (), timeout: float = HEADER_TIMEOUT_S) -> None:
    """Log in once and look at the path; raise ``SshError`` with one clear line when ssh cannot get there."""
    name = shlex.quote(tail_name(ref.path, Nonce.new()))
    argv = ssh_argv(ref, f'test -e {name} || echo "{MARK} missing"', options)
    try:
        proc = subprocess.run(
            argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, errors="replace", timeout=timeout
        )
    except FileNotFoundError:
        raise SshError("ssh not found: install the OpenSSH client", exitcodes.DEVICE_UNAVAILABLE) from None
    except subprocess.TimeoutExpired:
        raise SshError(f"ssh {ref.destination}: no answer within {timeout:.0f}s", exitcodes.BAD_INPUT) from None
    if proc.returncode != 0:
        message, _fatal = classify_ssh_failure(ref, proc.returncode, proc.stderr)
        raise SshError(message, exitcodes.BAD_INPUT)


def read_chunks(
    ref: RemoteRef,
    options: Sequence[str] = (),
    *,
    timeout: float = HEADER_TIMEOUT_S,
    idle_timeout: float = 120.0,
    chunk: int = 1 << 20,
) -> Iterator[bytes]:
    """The remote file's bytes (``cat`` over ssh), ``chunk`` at a time as they arrive: memory stays flat whatever
    its size. Raises ``SshError`` when the header does not come within ``timeout`` (a host that never answers),
    when no byte comes for ``idle_timeout``, or when ssh or ``cat`` fail."""
    nonce = Nonce.new()
    argv = ssh_argv(ref, cat_command(ref.path, nonce), options)
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
    except FileNotFoundError:
        raise SshError("ssh not found: install the OpenSSH client", exitcodes.DEVICE_UNAVAILABLE) from None
    assert proc.stdout is not None and proc.stderr is not None
    stream = RemoteStream(ref.path, ref.destination)
    stream.connect(nonce)
    err = bytearray()
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    sel.register(proc.stderr, selectors.EVENT_READ)
    try:
        deadline = time.monotonic() + timeout
        while sel.get_map():
            ready = sel.select(max(0.0, deadline - time.monotonic()))
            if not ready:
                what = "no answer" if not stream.header_seen else f"no data for {idle_timeout:.0f}s"
                limit = timeout if not stream.header_seen else idle_timeout
                raise SshError(f"ssh {ref.destination}: {what} within {limit:.0f}s", exitcodes.BAD_INPUT)
            for key, _ in ready:
                data = os.read(key.fd, chunk)
                if not data:
                    sel.unregister(key.fileobj)
                elif key.fileobj is proc.stderr:
                    err += data
                    del err[:-STDERR_MAX]
                else:
                    out, _statuses = stream.feed(data)
                    if stream.header_seen:
                        deadline = time.monotonic() + idle_timeout
                    yield from out
        out, _statuses = stream.feed(b"", final=True)
        yield from out
        rc = proc.wait()
    finally:
        sel.close()
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()
    text = err.decode("utf-8", "replace")
    if rc == 1 and "No such file" in text:
        raise SshError(f"{ref}: no such file on {ref.destination}", exitcodes.BAD_INPUT)
    if rc != 0:
        message, _fatal = classify_ssh_failure(ref, rc, text)
        raise SshError(message, exitcodes.BAD_INPUT)


def _die_with_parent() -> None:
    """In the ssh child before exec: be sent SIGTERM when hwmon dies, however it dies (``kill -9``, a timeout), so no
    ssh connection outlives the monitor (Linux ``PR_SET_PDEATHSIG``; elsewhere a no-op)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG = 1
    except (OSError, AttributeError):
        pass


class SshFollower:
    """A ``Follower`` over ``ssh HOST tail -c +N -F PATH`` (see the module docstring)."""

    def __init__(
        self,
        ref: RemoteRef,
        *,
        options: Sequence[str] = (),
        from_end: bool = False,
        interval: float = DEFAULT_INTERVAL,
        chunk_size: int = CHUNK_SIZE,
        backoff_start: float = BACKOFF_START,
        backoff_max: float = BACKOFF_MAX,
        header_timeout: float = HEADER_TIMEOUT_S,
        resume: RemoteStream | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ref = ref
        self.name = f"{ref.destination}:{ref.path}"
        self.options = list(options)
        self.from_end = from_end
        ssh_argv(ref, "", self.options)  # a bad ref or option is a usage error now, not a retry loop later
        self.interval = interval
        self.chunk_size = chunk_size
        self.backoff_start = backoff_start
        self.backoff_max = backoff_max
        self.header_timeout = header_timeout
        self._clock = clock
        # ``resume``: the stream of an earlier follower of the same file (its offset, inode and checksum window).
        self.stream = resume if resume is not None else RemoteStream(ref.path, ref.destination)
        self.connections = 0
        self._closed = False
        self._timed_out = False
        self.process: asyncio.subprocess.Process | None = None
        self._stderr = bytearray()
        self._stderr_task: asyncio.Task[None] | None = None

    @property
    def offset(self) -> int:
        """Bytes of the current remote file received so far (where a reconnection resumes)."""
        return self.stream.offset

    @property
    def closed(self) -> bool:
        return self._closed

    async def _start(self) -> None:
        nonce = Nonce.new()
        command = follow_command(
            self.ref.path,
            self.stream.offset,
            self.stream.inode,
            nonce,
            check=self.stream.resume_check(),
            from_end=self.from_end and self.connections == 0,
        )
        argv = ssh_argv(self.ref, command, self.options)
        self.stream.connect(nonce)
        self._stderr = bytearray()
        self._timed_out = False
        self.process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
            limit=self.chunk_size,
            preexec_fn=_die_with_parent,
        )
        self._stderr_task = asyncio.ensure_future(self._read_stderr(self.process))
        self.connections += 1

    async def _read_stderr(self, proc: asyncio.subprocess.Process) -> None:
        """ssh's stderr, read while it runs (a chatty login cannot fill the pipe and stall ssh), last bytes kept."""
        assert proc.stderr is not None
        while data := await proc.stderr.read(STDERR_MAX):
            self._stderr += data
            del self._stderr[:-STDERR_MAX]

    async def _stop_process(self) -> None:
        proc = self.process
        if proc is None:
            return
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 2.0)
            except asyncio.TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
        if self._stderr_task is not None:
            self._stderr_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._stderr_task

    async def chunks(self) -> AsyncIterator[Chunk]:
        """Follow until closed or a fatal ssh failure (the last chunk then says why, with ``eof=True``)."""
        backoff = self.backoff_start
        connected = False
        try:
            while not self._closed:
                try:
                    await self._start()
                except FileNotFoundError:
                    yield Chunk(b"", ("ssh not found: install the OpenSSH client",), True, self._clock())
                    return
                started = time.monotonic()
                async for chunk in self._read_connection():
                    yield chunk
                if self.closed:
                    return
                connected = connected or self.stream.header_seen
                proc = self.process
                assert proc is not None
                rc = await proc.wait()
                if self._stderr_task is not None:
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(asyncio.shield(self._stderr_task), 2.0)
                message, fatal = classify_ssh_failure(self.ref, rc, self._stderr.decode("utf-8", "replace"))
                if self._timed_out:
                    message = f"ssh {self.ref.destination}: no answer within {self.header_timeout:.0f}s"
                if fatal or (not connected and (rc == 255 or self._timed_out)):
                    yield Chunk(b"", (message,), True, self._clock())
                    return
                if time.monotonic() - started >= HEALTHY_AFTER:
                    backoff = self.backoff_start
                yield Chunk(
                    b"",
                    (f"reconnecting to {self.ref.destination} in {backoff:.1f}s ({message})",),
                    False,
                    self._clock(),
                )
                await asyncio.sleep(backoff)
                backoff = min(self.backoff_max, backoff * 2)
        finally:
            await self._stop_process()

    async def _read(self, proc: asyncio.subprocess.Process, deadline: float | None) -> bytes:
        assert proc.stdout is not None
        try:
            if deadline is None:
                return await proc.stdout.read(self.chunk_size)
            return await asyncio.wait_for(proc.stdout.read(self.chunk_size), max(0.0, deadline - time.monotonic()))
        except asyncio.TimeoutError:
            # Connected (or not) but silent: no header within the timeout. Dropped; the caller retries.
            self._timed_out = True
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            return b""
        except (ConnectionError, OSError):
            return b""

    async def _read_connection(self) -> AsyncIterator[Chunk]:
        proc = self.process
        assert proc is not None
        last_yield = float("-inf")
        reported = False
        deadline = time.monotonic() + self.header_timeout
        while not self._closed:
            data = await self._read(proc, None if self.stream.header_seen else deadline)
            if not data:
                return
            out, statuses = self.stream.feed(data)
            if not reported and self.connections > 1 and self.stream.header_seen:
                statuses.insert(0, f"reconnected to {self.ref.destination}, resuming at byte {self.stream.offset}")
                reported = True
            if not out and not statuses:
                continue
            yield Chunk(b"".join(out), tuple(statuses), False, self._clock())
            # Batched by time: at most one chunk per interval however fast the remote file grows.
            wait = self.interval - (time.monotonic() - last_yield)
            last_yield = time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)

    def close(self) -> None:
        """Stop following; the ssh process is terminated."""
        self._closed = True
        proc = self.process
        if proc is not None and proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()


def remote_source(
    ref: RemoteRef, options: Sequence[str] = (), *, check_first: bool = True, from_end: bool = False
) -> FollowSource:
    """A ``FollowSource`` over an ``SshFollower`` (after one login to say clearly why it cannot work, if so)."""
    if check_first:
        check(ref, options)
    follower = SshFollower(ref, options=options, from_end=from_end)
    source = FollowSource(follower, name=follower.name)
    source.come_back = come_back_args(ref, options)
    return source
