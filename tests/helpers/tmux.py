"""A private tmux server for tests that run hwmon in a real terminal (its own socket: a test never touches the
user's sessions), shared by tests/tmux and the hardening tests that read what reaches the terminal."""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

SHELL = "bash --norc --noprofile"


class Tmux:
    """Commands to one private tmux server (``tmux -L SOCKET``)."""

    def __init__(self, socket: str) -> None:
        self.socket = socket

    def __call__(self, *args: str, check: bool = True) -> str:
        result = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=10)
        if check and result.returncode != 0:
            raise AssertionError(f"tmux {args}: {result.stderr}")
        return result.stdout

    def capture(self, target: str = "hw") -> str:
        return self("capture-pane", "-p", "-t", target)

    def fmt(self, target: str, what: str) -> str:
        """A tmux format (``#{pane_title}``, ``#{alternate_on}``...) of ``target``."""
        return self("display-message", "-p", "-t", target, what).strip()

    def title(self, target: str) -> str:
        return self.fmt(target, "#{pane_title}")

    def buffers(self) -> str:
        return self("list-buffers", check=False)

    def wait_for(self, target: str, condition: Callable[[str], bool], what: str, timeout: float = 30.0) -> str:
        """The screen of ``target`` once ``condition`` holds for it; fails the test after ``timeout``."""
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.capture(target)
            if condition(screen):
                return screen
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}; screen:\n{screen}")

    def new_session(self, tmp_path: Path, width: int, height: int, name: str = "hw") -> None:
        """A detached session ``name`` running a clean shell (HOME, runs dir and locale under the test's control)."""
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(tmp_path),
            "TERM": "xterm-256color",
            "HWMON_RUNS_DIR": str(tmp_path / "runs"),
            "LANG": "C.UTF-8",
        }
        self(
            "new-session",
            "-d",
            "-s",
            name,
            "-x",
            str(width),
            "-y",
            str(height),
            *[f"-e{k}={v}" for k, v in env.items()],
            SHELL,
        )
        self("set-option", "-t", name, "status", "off")


@contextlib.contextmanager
def private_server(prefix: str, tmp_path: Path) -> Iterator[Tmux]:
    """A ``Tmux`` on a socket of its own, killed afterwards."""
    server = Tmux(f"{prefix}-{os.getpid()}-{tmp_path.name}")
    try:
        yield server
    finally:
        subprocess.run(["tmux", "-L", server.socket, "kill-server"], capture_output=True, timeout=10)
