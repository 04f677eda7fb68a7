"""A child process's output read as it comes: tests wait on what the process printed, never on ``sleep()``."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable


class Output:
    """Reads ``proc.stdout`` (text mode) line by line in a thread; ``wait_for`` blocks until a line matches."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        self.proc = proc
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._done = False
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._changed:
                self.lines.append(line)
                self._changed.notify_all()
        with self._changed:
            self._done = True
            self._changed.notify_all()

    def wait_for(self, predicate: Callable[[str], bool], timeout: float = 30.0) -> str:
        """The first line (old or new) for which ``predicate`` holds; AssertionError when the process ended or the
        timeout passed without one (a hang fails the test, it does not hang it)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            seen = 0
            while True:
                for line in self.lines[seen:]:
                    if predicate(line):
                        return line
                seen = len(self.lines)
                left = deadline - time.monotonic()
                if self._done or left <= 0:
                    raise AssertionError(f"no such line; output so far: {''.join(self.lines)!r}")
                self._changed.wait(left)

    def finish(self, timeout: float = 30.0) -> tuple[int, str, str]:
        """Wait for the process to exit: (exit code, all stdout, all stderr)."""
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"did not exit; stdout so far: {''.join(self.lines)!r}") from None
        self._thread.join(timeout)
        err = self.proc.stderr.read() if self.proc.stderr is not None else ""
        return code, "".join(self.lines), err
