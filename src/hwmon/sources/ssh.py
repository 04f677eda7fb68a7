"""Follow a log on another host through the system ``ssh`` client (so ``~/.ssh/config``, ProxyJump, ControlMaster,
agents and Kerberos work unchanged). Nothing is installed remotely: the remote side runs POSIX ``tail -c +N -F``
and the bytes come back to be parsed locally by the same sans-I/O stream as a local file.

The follower counts the bytes it has received of the current remote file. When the connection drops it reports
``reconnecting`` and, with backoff, starts ``tail`` again at that byte offset: no line lost, none doubled. On each
(re)connection a small POSIX shell prologue prints the file's inode and size to stderr and starts from 0 instead
when the file was truncated or replaced meanwhile; while connected, ``tail -F``'s own "file truncated" /
"has been replaced" notices do the same. Authentication failures, unknown hosts and host-key problems end the
follower with one clear line (``SshError`` from ``check()``).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import shlex
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Sequence

from hwmon import exitcodes
from hwmon.model.text import safe_text
from hwmon.refs import RemoteRef
from hwmon.sources.follow import CHUNK_SIZE, DEFAULT_INTERVAL, Chunk
from hwmon.sources.source import FollowSource

SSH = "ssh"
BACKOFF_START = 0.25
BACKOFF_MAX = 10.0
# A connection that lived this long was healthy: the next drop starts the backoff from the beginning again.
HEALTHY_AFTER = 5.0
_MARK = "hwmon-remote:"
# GNU tail's notices, in-band (its stderr is merged into stdout remotely). Matched as whole lines only.
_TAIL_NOTICE = re.compile(
    rb"tail: [^\n]{0,4096}?(?:: file truncated|has been replaced;  following new file|has appeared;  following new "
    rb"file|has become inaccessible: [^\n]*|: No such file or directory|cannot open [^\n]* for reading: [^\n]*|"
    rb"giving up on this name|directory containing watched file was removed|reverting to polling)\n"
)
_NOTICE_START = b"tail: "


class SshError(exitcodes.HwmonError):
    """ssh could not reach or log in to the host (one clear line)."""


def ssh_options(options: Sequence[str]) -> list[str]:
    """``--ssh-opt KEY=VALUE`` values as ssh arguments (``-o KEY=VALUE``); a value without ``=`` is a usage
    error."""
    out: list[str] = []
    for option in options:
        key, eq, _value = option.partition("=")
        if not eq or not key.strip() or not key.replace("_", "").isalnum():
            raise exitcodes.HwmonError(f"--ssh-opt {option!r}: expected KEY=VALUE (an ssh_config option)", 64)
        out += ["-o", option]
    return out


def ssh_argv(ref: RemoteRef, remote_command: str, options: Sequence[str] = ()) -> list[str]:
    """The ssh command line: no terminal, never a password prompt, a dead link noticed within ~15 s."""
    argv = [SSH, "-T", "-o", "BatchMode=yes", "-o", "ServerAliveInterval=5", "-o", "ServerAliveCountMax=3"]
    if ref.port is not None:
        argv += ["-p", str(ref.port)]
    argv += ssh_options(options)
    return [*argv, ref.destination, "--", remote_command]


def _quote_path(path: str) -> str:
    """Quote for the remote POSIX shell, keeping ``~/`` meaning the remote home directory."""
    if path == "~":
        return '"$HOME"'
    if path.startswith("~/"):
        return '"$HOME"/' + shlex.quote(path[2:])
    return shlex.quote(path)


def follow_command(path: str, offset: int, inode: str | None, from_end: bool = False) -> str:
    """The remote shell command: one header line on stdout (the file's inode, and whether it restarts from 0 because
    it is another file than the one read before, ``inode``, or shorter than ``offset``), then ``tail -c +N -F`` with
    its notices merged into stdout (``2>&1``) so they arrive in order with the bytes they concern. The header says
    where the bytes start (``start=``). ``from_end``: start at the file's current end. POSIX tools only."""
    f = _quote_path(path)
    expected = shlex.quote(inode or "")
    return (
        f"f={f}; o={int(offset)}; e={expected}; i=; s=0; r=; "
        'if [ -e "$f" ]; then i=$(ls -di "$f" 2>/dev/null | { read -r n _; echo "$n"; }); '
        's=$(wc -c < "$f" 2>/dev/null | tr -d " "); fi; '
        'if [ -n "$e" ] && [ -n "$i" ] && [ "$i" != "$e" ]; then r=rotated; o=0; '
        'elif [ "${s:-0}" -lt "$o" ]; then r=truncated; o=0; fi; '
        + ("o=${s:-0}; r=; " if from_end else "")
        + 'echo "'
        + _MARK
        + ' ino=$i restart=$r start=$o"; '
        'exec tail -c +$((o + 1)) -F "$f" 2>&1'
    )


def cat_command(path: str) -> str:
    """The remote command for a one-shot read (``hwmon summary HOST:PATH``)."""
    return f"exec cat {_quote_path(path)}"


def printable(text: str, limit: int = 300) -> str:
    """Text from outside (ssh's messages, a remote host's output, a Slurm reason) made inert for a terminal: the
    project's one sanitiser (``hwmon.model.text.safe_text``), bounded."""
    return safe_text(text, limit)


def classify_ssh_failure(ref: RemoteRef, returncode: int, stderr: str) -> tuple[str, bool]:
    """The one line to show for a failed ssh, and whether it is fatal (no point in retrying)."""
    lines = [printable(line).strip() for line in stderr.splitlines()]
    lines = [line for line in lines if line and not line.startswith(_MARK)]
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


def check(ref: RemoteRef, options: Sequence[str] = (), timeout: float = 30.0) -> None:
    """Log in once and look at the path; raise ``SshError`` with one clear line when ssh cannot get there."""
    argv = ssh_argv(ref, f'test -e {_quote_path(ref.path)} || echo "{_MARK} missing"', options)
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


def read_all(ref: RemoteRef, options: Sequence[str] = (), timeout: float = 600.0) -> bytes:
    """The whole remote file (``cat`` over ssh), for a one-shot summary."""
    argv = ssh_argv(ref, cat_command(ref.path), options)
    try:
        proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
    except FileNotFoundError:
        raise SshError("ssh not found: install the OpenSSH client", exitcodes.DEVICE_UNAVAILABLE) from None
    except subprocess.TimeoutExpired:
        raise SshError(f"ssh {ref.destination}: no answer within {timeout:.0f}s", exitcodes.BAD_INPUT) from None
    if proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace")
        if proc.returncode == 1 and "No such file" in err:
            raise SshError(f"{ref}: no such file on {ref.destination}", exitcodes.BAD_INPUT)
        message, _fatal = classify_ssh_failure(ref, proc.returncode, err)
        raise SshError(message, exitcodes.BAD_INPUT)
    return proc.stdout


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
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ref = ref
        self.name = f"{ref.destination}:{ref.path}"
        self.options = list(options)
        self.from_end = from_end
        ssh_options(self.options)  # a bad option is a usage error now, not a retry loop later
        self.interval = interval
        self.chunk_size = chunk_size
        self.backoff_start = backoff_start
        self.backoff_max = backoff_max
        self._clock = clock
        self.offset = 0  # bytes of the current remote file received so far
        self.connections = 0
        self._inode: str | None = None
        self._ends_with_newline = True
        self._had_file = False
        self._closed = False
        self.process: asyncio.subprocess.Process | None = None
        self._stderr_text = ""
        self._carry = b""
        self._header_seen = False

    @property
    def closed(self) -> bool:
        return self._closed

    def _separate(self, out: list[bytes]) -> None:
        if not self._ends_with_newline:
            out.append(b"\n")
            self._ends_with_newline = True

    def _header(self, line: str, statuses: list[str], out: list[bytes]) -> None:
        """The prologue's line: the file's inode and whether this connection starts the file from 0."""
        fields: dict[str, str] = {}
        for part in line[len(_MARK) :].split():
            key, _, value = part.partition("=")
            fields[key] = value
        self._inode = fields.get("ino") or None
        restart = fields.get("restart", "")
        start = fields.get("start", "")
        if start.isdigit():
            self.offset = int(start)
        if restart:
            self.offset = 0
            self._separate(out)
            statuses.append(
                "log rotated, following new file" if restart == "rotated" else "log truncated, reading from start"
            )
        if self._inode:
            self._had_file = True

    def _notice(self, line: str, statuses: list[str], out: list[bytes]) -> None:
        """One of ``tail -F``'s notices: the bytes after it belong to a file read from its start."""
        if "file truncated" in line:
            self.offset = 0
            self._separate(out)
            statuses.append("log truncated, reading from start")
        elif "has been replaced" in line or "has appeared" in line:
            self.offset = 0
            self._inode = None  # the new file's inode is unknown until the next connection reports it
            self._separate(out)
            statuses.append("log rotated, following new file" if self._had_file else f"following {self.name}")
            self._had_file = True
        elif not self._had_file and ("No such file" in line or "cannot open" in line):
            statuses.append(f"waiting for {self.ref.path} to appear on {self.ref.destination}")
        elif "become inaccessible" in line or "No such file" in line:
            statuses.append(f"{self.ref.path} is gone on {self.ref.destination}; waiting for it to reappear")
        elif "cannot open" in line:
            statuses.append(f"cannot read {self.ref.path} on {self.ref.destination}; retrying")

    def _split(self, data: bytes, statuses: list[str], out: list[bytes], final: bool = False) -> None:
        """Separate the log's bytes from the in-band header and notices; count the log's bytes in ``offset``. A
        possible notice not yet ended by a newline is held back (``_carry``) until the rest arrives."""
        buf = self._carry + data
        self._carry = b""
        while not self._header_seen:
            # Anything a login script prints before the prologue's line is not the log's: skipped.
            end = buf.find(b"\n")
            if end < 0:
                self._carry = buf
                return
            line = buf[:end].decode("utf-8", "replace")
            buf = buf[end + 1 :]
            if line.startswith(_MARK):
                self._header_seen = True
                self._header(line, statuses, out)
        pos = 0
        for match in _TAIL_NOTICE.finditer(buf):
            start = match.start()
            # A notice starts a line of tail's own (after a newline of the log, or mid-line when the log's last
            # line had none yet): either way it is what tail wrote between two reads of the file.
            self._emit(buf[pos:start], out)
            self._notice(match.group(0).decode("utf-8", "replace").strip(), statuses, out)
            pos = match.end()
        rest = buf[pos:]
        if not final:
            hold = rest.rfind(_NOTICE_START)
            if hold >= 0 and b"\n" not in rest[hold:]:
                self._carry = rest[hold:]
                rest = rest[:hold]
            else:
                for size in range(len(_NOTICE_START) - 1, 0, -1):
                    if rest.endswith(_NOTICE_START[:size]):
                        self._carry = rest[-size:]
                        rest = rest[:-size]
                        break
        self._emit(rest, out)

    def _emit(self, data: bytes, out: list[bytes]) -> None:
        if data:
            out.append(data)
            self.offset += len(data)
            self._ends_with_newline = data.endswith(b"\n")

    async def _start(self) -> None:
        command = follow_command(
            self.ref.path, self.offset, self._inode, from_end=self.from_end and self.connections == 0
        )
        argv = ssh_argv(self.ref, command, self.options)
        self._stderr_text = ""
        self._carry = b""
        self._header_seen = False
        self.process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
            limit=self.chunk_size,
            preexec_fn=_die_with_parent,
        )
        self.connections += 1

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

    async def chunks(self) -> AsyncIterator[Chunk]:
        """Follow until closed or a fatal ssh failure (the last chunk then says why, with ``eof=True``)."""
        backoff = self.backoff_start
        first = True
        try:
            while not self._closed:
                try:
                    await self._start()
                except FileNotFoundError:
                    yield Chunk(b"", ("ssh not found: install the OpenSSH client",), True, self._clock())
                    return
                started = time.monotonic()
                got_data = False
                async for chunk in self._read_connection():
                    got_data = got_data or bool(chunk.data)
                    yield chunk
                if self.closed:
                    return
                proc = self.process
                assert proc is not None
                rc = await proc.wait()
                statuses: list[str] = []
                out: list[bytes] = []
                # Bytes held back as a possible notice were not counted: the next connection re-reads them.
                self._carry = b""
                if proc.stderr is not None:
                    err = await proc.stderr.read()
                    self._stderr_text = err.decode("utf-8", "replace")[-4000:]
                message, fatal = classify_ssh_failure(self.ref, rc, self._stderr_text)
                if fatal or (first and not got_data and rc == 255 and self.connections == 1):
                    yield Chunk(b"".join(out), (*statuses, message), True, self._clock())
                    return
                first = False
                if time.monotonic() - started >= HEALTHY_AFTER:
                    backoff = self.backoff_start
                yield Chunk(
                    b"".join(out),
                    (*statuses, f"reconnecting to {self.ref.destination} in {backoff:.1f}s ({message})"),
                    False,
                    self._clock(),
                )
                await asyncio.sleep(backoff)
                backoff = min(self.backoff_max, backoff * 2)
        finally:
            await self._stop_process()

    async def _read_connection(self) -> AsyncIterator[Chunk]:
        proc = self.process
        assert proc is not None and proc.stdout is not None
        last_yield = float("-inf")
        reported = False
        while not self._closed:
            try:
                data = await proc.stdout.read(self.chunk_size)
            except (ConnectionError, OSError):
                data = b""
            if not data:
                return
            statuses: list[str] = []
            out: list[bytes] = []
            self._split(data, statuses, out)
            if not reported and self.connections > 1 and self._header_seen:
                statuses.insert(0, f"reconnected to {self.ref.destination}, resuming at byte {self.offset}")
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
    return FollowSource(follower, name=follower.name)
