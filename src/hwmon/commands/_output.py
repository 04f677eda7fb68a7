"""Where a command's output file goes (``export -o``): never over its own input, never half-written under its name.

The bytes go to a temporary file beside the destination (same directory, so the rename cannot cross filesystems)
that replaces it only once everything is written; after an error or Ctrl-C the temporary file is removed and the
destination is as it was. An output that is not a regular file (``/dev/stdout``, ``/dev/null``, a FIFO) is written
in place: renaming over a device would replace it. An output that is the input itself (the same file, through a
symlink or a hard link) is refused before anything is written.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

from hwmon import exitcodes


def _reason(exc: OSError) -> str:
    return " ".join((exc.strerror or str(exc)).split())


def cannot_write(path: object, exc: OSError) -> exitcodes.HwmonError:
    """The one-line error (exit 8) for an output that cannot be written."""
    return exitcodes.HwmonError(f"{path}: cannot write: {_reason(exc)}", exitcodes.CANNOT_WRITE)


def same_file(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """Whether ``a`` and ``b`` are the same existing file (device and inode; symlinks followed)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


class OutputFile:
    """``-o PATH``: write to ``path`` (the temporary file, or the destination itself when it is not a regular file),
    then ``commit()``; ``discard()`` on failure. Use as a context manager: an exception discards."""

    def __init__(self, destination: str | os.PathLike[str], inputs: tuple[Path | None, ...] = ()) -> None:
        self.destination = Path(destination)
        for source in inputs:
            if source is not None and same_file(source, self.destination):
                raise exitcodes.HwmonError(
                    f"{destination}: is the input itself; writing it would destroy the log (choose another -o)",
                    exitcodes.USAGE,
                )
        try:
            st: os.stat_result | None = os.stat(self.destination)
        except FileNotFoundError:
            st = None
        except OSError as exc:
            raise cannot_write(destination, exc) from None
        if st is not None and stat.S_ISDIR(st.st_mode):
            raise exitcodes.HwmonError(f"{destination}: is a directory, not a file", exitcodes.CANNOT_WRITE)
        self.in_place = st is not None and not stat.S_ISREG(st.st_mode)
        self._mode = stat.S_IMODE(st.st_mode) if st is not None and not self.in_place else None
        if self.in_place:
            self.path = self.destination
        else:
            self.path = self.destination.with_name(f".{self.destination.name}.{os.getpid()}.hwmon-tmp")
        self.committed = False

    def create(self) -> None:
        """Create (or truncate) the file to write, so that a destination that cannot be written fails now."""
        try:
            with open(self.path, "wb"):
                pass
        except OSError as exc:
            raise cannot_write(self.destination, exc) from None

    def commit(self) -> None:
        """Put the written file in place of the destination (one rename: readers see the old or the new file)."""
        if self.in_place or self.committed:
            self.committed = True
            return
        try:
            if self._mode is not None:
                os.chmod(self.path, self._mode)  # a replaced file keeps its permissions
            os.replace(self.path, self.destination)
        except OSError as exc:
            self.discard()
            raise cannot_write(self.destination, exc) from None
        self.committed = True

    def discard(self) -> None:
        """Remove what was written (the destination is untouched)."""
        if not self.in_place and not self.committed:
            with contextlib.suppress(OSError):
                os.unlink(self.path)

    def __enter__(self) -> OutputFile:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is not None:
            self.discard()
