"""A minimal ctypes binding to Linux inotify, enough to wake the file follower when its file or directory changes.

Only the wake-up matters: the follower re-checks the file itself (size, inode) after every wake, so events are
decoded just far enough to ignore changes to *other* files in the watched directory. Where inotify is missing
(macOS, a libc without the symbols, a full watch table) ``Inotify.create()`` returns None and the follower polls.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import struct
import sys
from dataclasses import dataclass

# From <sys/inotify.h>; stable kernel ABI.
IN_MODIFY = 0x00000002
IN_ATTRIB = 0x00000004
IN_CLOSE_WRITE = 0x00000008
IN_MOVED_FROM = 0x00000040
IN_MOVED_TO = 0x00000080
IN_CREATE = 0x00000100
IN_DELETE = 0x00000200
IN_DELETE_SELF = 0x00000400
IN_MOVE_SELF = 0x00000800
IN_Q_OVERFLOW = 0x00004000
IN_IGNORED = 0x00008000
IN_ONLYDIR = 0x01000000
IN_NONBLOCK = os.O_NONBLOCK
IN_CLOEXEC = os.O_CLOEXEC

# What the follower wants to hear about its file, and about the directory that holds it (a new file appearing,
# the file renamed away or deleted, its permissions changed).
FILE_MASK = IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_DELETE_SELF | IN_MOVE_SELF
DIR_MASK = IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_ATTRIB | IN_ONLYDIR

_HEADER = struct.Struct("iIII")  # wd, mask, cookie, len


@dataclass(frozen=True, slots=True)
class InotifyEvent:
    """One decoded ``struct inotify_event``. ``name`` is set for events about an entry of a watched directory."""

    wd: int
    mask: int
    name: str


def _load_libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        # Probe the symbols once so a libc without them makes us fall back instead of failing later.
        libc.inotify_init1.argtypes = [ctypes.c_int]
        libc.inotify_init1.restype = ctypes.c_int
        libc.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
        libc.inotify_add_watch.restype = ctypes.c_int
        libc.inotify_rm_watch.argtypes = [ctypes.c_int, ctypes.c_int]
        libc.inotify_rm_watch.restype = ctypes.c_int
    except (OSError, AttributeError):
        return None
    return libc


_LIBC: ctypes.CDLL | None = _load_libc()


def available() -> bool:
    """Whether this platform's libc offers inotify."""
    return _LIBC is not None


def decode_events(data: bytes) -> list[InotifyEvent]:
    """Decode a buffer read from an inotify descriptor. A truncated tail is ignored (never raises)."""
    events: list[InotifyEvent] = []
    offset = 0
    size = _HEADER.size
    while offset + size <= len(data):
        wd, mask, _cookie, name_len = _HEADER.unpack_from(data, offset)
        raw_name = data[offset + size : offset + size + name_len]
        name = os.fsdecode(raw_name.split(b"\0", 1)[0]) if name_len else ""
        events.append(InotifyEvent(wd, mask, name))
        offset += size + name_len
    return events


class Inotify:
    """An inotify instance: a non-blocking, close-on-exec descriptor plus its watches."""

    def __init__(self, fd: int, libc: ctypes.CDLL) -> None:
        self.fd = fd
        self._libc = libc
        self._closed = False

    @classmethod
    def create(cls) -> Inotify | None:
        """A new instance, or None where inotify is unavailable or the per-user instance limit is reached."""
        if _LIBC is None:
            return None
        fd = int(_LIBC.inotify_init1(IN_NONBLOCK | IN_CLOEXEC))
        if fd < 0:
            return None
        return cls(fd, _LIBC)

    def add_watch(self, path: str | os.PathLike[str], mask: int) -> int | None:
        """Watch ``path`` (re-adding a watch on the same inode updates it and returns the same id).

        None when the path cannot be watched (missing, not a directory with IN_ONLYDIR, no permission, too many
        watches): the caller keeps its polling timer as the backstop.
        """
        if self._closed:
            return None
        wd = int(self._libc.inotify_add_watch(self.fd, os.fsencode(os.fspath(path)), mask))
        if wd < 0:
            return None
        return wd

    def rm_watch(self, wd: int) -> None:
        """Remove a watch; a watch the kernel already dropped (its inode is gone) is not an error."""
        if not self._closed:
            self._libc.inotify_rm_watch(self.fd, wd)

    def read_events(self) -> list[InotifyEvent]:
        """Everything queued now (an empty list when nothing is)."""
        chunks: list[bytes] = []
        while not self._closed:
            try:
                data = os.read(self.fd, 65536)
            except BlockingIOError:
                break
            except OSError as exc:
                if exc.errno == errno.EINTR:
                    continue
                break
            if not data:
                break
            chunks.append(data)
        return decode_events(b"".join(chunks))

    def close(self) -> None:
        """Close the descriptor (dropping every watch). Idempotent."""
        if not self._closed:
            self._closed = True
            os.close(self.fd)
