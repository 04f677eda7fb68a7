"""The dashboard over a remote log: a dropped connection shows ``reconnecting`` in the header, then the run goes on
(real sshd on 127.0.0.1)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from hwmon.refs import RemoteRef
from hwmon.sources.ssh import SshFollower, remote_source
from hwmon.tui.app import HwmonApp
from hwmon.tui.widgets import RunHeader

from .conftest import Sshd

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def _header_text(app: HwmonApp) -> str:
    header = app.query_one(RunHeader)
    return "".join(segment.text for line in header.render_lines(header.region) for segment in line)


async def test_dashboard_header_says_reconnecting(sshd: Sshd, tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    data = (FIXTURES / "follow_cerebras_ok.log").read_bytes()
    cut = data.index(b"Beginning appliance run")
    log.write_bytes(data[:cut])
    source = remote_source(RemoteRef("127.0.0.1", str(log)), sshd.options())
    follower = source.follower
    assert isinstance(follower, SshFollower)
    follower.backoff_start = 2.0  # long enough to see the header say it
    app = HwmonApp(source)
    async with app.run_test(size=(100, 30)) as pilot:
        deadline = time.monotonic() + 20
        while follower.offset < cut and time.monotonic() < deadline:
            await pilot.pause(0.05)
        assert follower.process is not None
        os.kill(follower.process.pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while "reconnecting" not in _header_text(app) and time.monotonic() < deadline:
            await pilot.pause(0.05)
        assert "reconnecting" in _header_text(app)
        with open(log, "ab") as fh:
            fh.write(data[cut:])
        deadline = time.monotonic() + 20
        while app.state.status != "succeeded" and time.monotonic() < deadline:
            await pilot.pause(0.1)
        assert app.state.status == "succeeded"
        assert app.state.last_step is not None and app.state.last_step.step == 100
    assert follower.offset == len(data)
