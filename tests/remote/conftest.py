"""A real sshd on 127.0.0.1 (scripts/sshd_up.sh: Debian's openssh-server, its own config and throwaway keys in a
temp dir, never the system config), shared by the remote tests and stopped by pid at the end."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SSHD = "/usr/sbin/sshd"


@dataclass(frozen=True)
class Sshd:
    dir: Path
    port: int
    pid: int
    key: Path
    known_hosts: Path

    def options(self, **overrides: str) -> list[str]:
        """``--ssh-opt`` values that reach this sshd (and only it)."""
        opts = {
            "Port": str(self.port),
            "IdentityFile": str(self.key),
            "IdentitiesOnly": "yes",
            "UserKnownHostsFile": str(self.known_hosts),
            "StrictHostKeyChecking": "yes",
            "GlobalKnownHostsFile": "/dev/null",
            "ConnectTimeout": "5",
        }
        opts.update(overrides)
        return [f"{k}={v}" for k, v in opts.items()]


def sshd_from_script(env: dict[str, str] | None = None) -> Iterator[Sshd]:
    """Start a throwaway sshd with scripts/sshd_up.sh (``env`` adds its settings, e.g. ``HWMON_SSHD_SETENV``),
    yield it, stop it."""
    if not (os.path.exists(SSHD) and shutil.which("ssh") and shutil.which("ssh-keygen")):
        pytest.skip("openssh-server/openssh-client not installed (apt-get install openssh-server)")
    proc = subprocess.run(
        ["bash", str(ROOT / "scripts" / "sshd_up.sh")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, **(env or {})},
    )
    if proc.returncode != 0:
        pytest.fail(f"sshd_up.sh failed: {proc.stderr}")
    values = dict(line.split("=", 1) for line in proc.stdout.splitlines() if "=" in line)
    server = Sshd(
        dir=Path(values["HWMON_SSHD_DIR"]),
        port=int(values["HWMON_SSHD_PORT"]),
        pid=int(values["HWMON_SSHD_PID"]),
        key=Path(values["HWMON_SSHD_KEY"]),
        known_hosts=Path(values["HWMON_SSHD_KNOWN_HOSTS"]),
    )
    try:
        yield server
    finally:
        subprocess.run(["bash", str(ROOT / "scripts" / "sshd_down.sh"), str(server.dir)], check=False, timeout=30)


@pytest.fixture(scope="session")
def sshd() -> Iterator[Sshd]:
    yield from sshd_from_script()
