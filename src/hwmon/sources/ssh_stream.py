"""The byte stream of one remote follow, taken apart without I/O: the prologue's header line, ``tail -F``'s notices
and the log's own bytes.

The remote side writes all three into one stream (``tail ... 2>&1``) so a notice arrives exactly between the bytes
it concerns; what keeps the log's text from passing for a notice is a per-connection nonce (``Nonce``):

- the header starts with ``hwmon-remote:<nonce>`` and is searched for anywhere in what the login prints first (a
  banner without a newline cannot hide it, and a banner cannot forge it);
- ``tail`` is given the file's name with the nonce written into it as ``./`` and ``.//`` segments (the same file
  to the kernel), and a notice counts only when it names that exact spelling: a log line saying ``tail: run.log:
  file truncated`` or ``...: No such file or directory`` is the log's, never a notice.

Every buffer is bounded: the text before the header (``len(marker)`` bytes kept), a possible notice held back until
its newline (``NOTICE_MAX``), and the last ``WINDOW`` bytes of the file kept for the resume checksum (``cksum`` of
the bytes before the resume offset, so a file rewritten while disconnected is read again from its start).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

MARK = "hwmon-remote:"
WINDOW = 4096  # bytes before the resume offset whose checksum the remote side compares
NOTICE_MAX = 8192  # a notice longer than this (after the file's name) is the log's text
HEADER_MAX = 1024  # the header line, after its marker
NONCE_BITS = 40


@dataclass(frozen=True, slots=True)
class Nonce:
    """One connection's secret: ``token`` marks the header, ``dots`` (the token's bits as ``./`` = 0 and ``.//``
    = 1) is written into the name ``tail`` prints."""

    token: str
    dots: str

    @classmethod
    def new(cls, bits: int | None = None) -> Nonce:
        value = secrets.randbits(NONCE_BITS) if bits is None else bits
        dots = "".join(".//" if value >> i & 1 else "./" for i in range(NONCE_BITS))
        return cls(f"{value:010x}", dots)


def tail_name(path: str, nonce: Nonce) -> str:
    """``path`` as the remote shell passes it to ``tail`` and the prologue: the nonce's segments at its start. A
    path relative to the home directory (``~/x``, ``x``) stays relative (an ssh session starts in ``$HOME``)."""
    if path == "~":
        path = "."
    elif path.startswith("~/"):
        path = path[2:] or "."
    if path.startswith("/"):
        return "/" + nonce.dots + path.lstrip("/")
    return nonce.dots + path


def name_start(path: str, nonce: Nonce) -> bytes:
    """The first bytes of ``tail_name`` that hold the nonce: what a genuine notice shows right after ``tail: ``."""
    return (("/" if tail_name(path, nonce).startswith("/") else "") + nonce.dots).encode()


# POSIX cksum: CRC-32 (polynomial 0x04C11DB7, most significant bit first) over the bytes and then their length.
def _table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else crc << 1
        table.append(crc & 0xFFFFFFFF)
    return table


_CRC = _table()


def posix_cksum(data: bytes) -> str:
    """What POSIX ``cksum`` prints for ``data`` (``CRC LENGTH``, without the file name)."""
    crc = 0
    for byte in data:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ _CRC[(crc >> 24) ^ byte]
    length = len(data)
    while length:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ _CRC[(crc >> 24) ^ (length & 0xFF)]
        length >>= 8
    return f"{~crc & 0xFFFFFFFF} {len(data)}"


_NOTICE_HEAD = b"tail: "
_NOTICE_WORDS = re.compile(rb"[a-z ]{0,40}'?")


class RemoteStream:
    """The follower's view of the stream: feed it what ssh prints, get the log's bytes and status lines.

    ``offset`` counts the bytes of the current remote file received so far; ``inode`` is the file's as the last
    header said. Call ``connect`` before each connection's bytes."""

    def __init__(self, path: str, destination: str) -> None:
        self.path = path
        self.destination = destination
        self.name = f"{destination}:{path}"
        self.offset = 0
        self.inode: str | None = None
        self.had_file = False
        self.header_seen = False
        self.ends_with_newline = True
        self.nonce = Nonce.new()
        self._carry = b""
        self._window = bytearray()
        self._marker = b""
        self._notice: re.Pattern[bytes] = re.compile(b"(?!)")
        self._start = b""
        self.connect(self.nonce)

    def connect(self, nonce: Nonce) -> None:
        """A new connection with its own nonce: what was held back is dropped (not counted: it is read again)."""
        self.nonce = nonce
        self.header_seen = False
        self._carry = b""
        self._marker = (MARK + nonce.token).encode()
        self._start = name_start(self.path, nonce)
        self._notice = re.compile(
            re.escape(_NOTICE_HEAD) + _NOTICE_WORDS.pattern + re.escape(self._start) + rb"[^\n]{0,%d}\n" % NOTICE_MAX
        )

    def resume_check(self) -> str | None:
        """``cksum`` of the last bytes before ``offset`` (``CRC LENGTH``), for the remote side to compare; None
        when none are known (a follow that started at the file's end and has read nothing since)."""
        if not self._window:
            return None
        return posix_cksum(bytes(self._window[-WINDOW:]))

    @property
    def held(self) -> int:
        """Bytes held back (before the header, or a possible notice not yet ended)."""
        return len(self._carry)

    def feed(self, data: bytes, final: bool = False) -> tuple[list[bytes], list[str]]:
        """The log's bytes in ``data`` and the status lines its header and notices say (``final``: no more bytes
        follow on this connection, so nothing is held back)."""
        out: list[bytes] = []
        statuses: list[str] = []
        buf = self._carry + data
        self._carry = b""
        if not self.header_seen:
            buf = self._find_header(buf, statuses, out, final)
            if not self.header_seen:
                return out, statuses
        pos = 0
        for match in self._notice.finditer(buf):
            self._emit(buf[pos : match.start()], out)
            self._on_notice(match.group(0)[:-1].decode("utf-8", "replace"), statuses, out)
            pos = match.end()
        rest = buf[pos:]
        if not final:
            hold = self._hold_from(rest)
            self._carry = rest[hold:]
            rest = rest[:hold]
        self._emit(rest, out)
        return out, statuses

    def _find_header(self, buf: bytes, statuses: list[str], out: list[bytes], final: bool) -> bytes:
        at = buf.find(self._marker)
        if at < 0:
            # What a login prints before the header is not the log's: dropped, keeping only what may be the start
            # of the marker.
            self._carry = b"" if final else buf[-(len(self._marker) - 1) :]
            return b""
        limit = at + len(self._marker) + HEADER_MAX
        end = buf.find(b"\n", at, limit)
        if end < 0 and len(buf) < limit and not final:
            self._carry = buf[at:]
            return b""
        self.header_seen = True
        self._header(buf[at + len(self._marker) : limit if end < 0 else end].decode("utf-8", "replace"), statuses, out)
        return buf[limit:] if end < 0 else buf[end + 1 :]

    def _hold_from(self, rest: bytes) -> int:
        """Where a notice may begin in ``rest`` without its newline yet: hold back from there (bounded)."""
        limit = len(rest) - (len(_NOTICE_HEAD) + 41 + len(self._start) + NOTICE_MAX)
        at = rest.find(_NOTICE_HEAD, max(0, limit))
        while at >= 0:
            seg = rest[at + len(_NOTICE_HEAD) :]
            if b"\n" not in seg:
                words = _NOTICE_WORDS.match(seg)
                tail = seg[words.end() :] if words else seg
                if self._start.startswith(tail) or tail.startswith(self._start):
                    return at
            at = rest.find(_NOTICE_HEAD, at + 1)
        for size in range(len(_NOTICE_HEAD) - 1, 0, -1):
            if rest.endswith(_NOTICE_HEAD[:size]):
                return len(rest) - size
        return len(rest)

    def _separate(self, out: list[bytes]) -> None:
        if not self.ends_with_newline:
            out.append(b"\n")
            self.ends_with_newline = True

    def _restart(self, out: list[bytes]) -> None:
        self.offset = 0
        self._window.clear()
        self._separate(out)

    def _emit(self, data: bytes, out: list[bytes]) -> None:
        if not data:
            return
        out.append(data)
        self.offset += len(data)
        self.ends_with_newline = data.endswith(b"\n")
        self._window += data[-WINDOW:]
        if len(self._window) > 2 * WINDOW:
            del self._window[:-WINDOW]

    def _header(self, line: str, statuses: list[str], out: list[bytes]) -> None:
        """The prologue's line: the file's inode, where this connection starts, and why from 0 if so."""
        fields = dict(part.partition("=")[::2] for part in line.split())
        self.inode = fields.get("ino") or None
        restart = fields.get("restart", "")
        start = fields.get("start", "")
        if restart:
            self._restart(out)
            statuses.append(
                {
                    "rotated": "log rotated, following new file",
                    "rewritten": "log rewritten while disconnected, reading from start",
                }.get(restart, "log truncated, reading from start")
            )
        elif start.isdigit() and int(start) != self.offset:
            # Started elsewhere than asked (at the end of the file, on the first connection of --from-end): the
            # bytes kept for the checksum are not the ones before this offset.
            self.offset = int(start)
            self._window.clear()
        if self.inode:
            self.had_file = True

    def _on_notice(self, line: str, statuses: list[str], out: list[bytes]) -> None:
        """One of ``tail -F``'s notices: the bytes after "truncated", "replaced" or "appeared" are a file read
        from its start."""
        what = self.path
        if line.endswith(": file truncated"):
            self._restart(out)
            statuses.append("log truncated, reading from start")
        elif line.endswith(("has been replaced;  following new file", "has appeared;  following new file")):
            self._restart(out)
            self.inode = None  # the new file's inode is unknown until the next connection reports it
            statuses.append("log rotated, following new file" if self.had_file else f"following {self.name}")
            self.had_file = True
        elif not self.had_file and line.startswith("tail: cannot open "):
            statuses.append(f"waiting for {what} to appear on {self.destination}")
        elif "has become inaccessible" in line or line.endswith("No such file or directory"):
            statuses.append(f"{what} is gone on {self.destination}; waiting for it to reappear")
        elif line.startswith("tail: cannot open "):
            statuses.append(f"cannot read {what} on {self.destination}; retrying")
