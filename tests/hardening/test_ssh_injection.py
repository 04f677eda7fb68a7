"""Option injection through a remote ref (issue 22, item 3): a host that starts with ``-`` (``-V:x``,
``-oProxyCommand=...:x``, ``ssh://-oProxyCommand=.../x``) or a user that does is a usage error (exit 64) before any
ssh runs (a fake ``ssh`` on PATH records every call: none), and ``--`` stands before the destination. Positive
control: with both guards taken out, the same ref makes the real ssh run the ProxyCommand."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from hwmon import exitcodes, refs
from hwmon.refs import RemoteRef, parse_remote, stored_options
from hwmon.sources import ssh
from hwmon.sources.ssh import ssh_argv
from hwmon.sources.ssh_stream import Nonce

FAKE_BIN = Path(__file__).resolve().parents[1] / "fakes" / "fake_bin"


def _attacks(marker: Path) -> list[str]:
    cmd = f"touch {marker.name}"  # relative to the working directory (no "/" may appear in the host part)
    return [
        "-V:x",
        f"-oProxyCommand={cmd}:x",
        f"ssh://-oProxyCommand={cmd}/x",
        f"-oProxyCommand={cmd}@gpu01:x",  # as the user
        f"ssh://-oProxyCommand={cmd}@gpu01/x",
        "ssh://gpu01:-22/x",
    ]


def _hwmon(args: Sequence[str], cwd: Path, log: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PATH=f"{FAKE_BIN}{os.pathsep}{os.environ['PATH']}", HWMON_FAKE_ARGV_LOG=str(log))
    return subprocess.run(
        [sys.executable, "-m", "hwmon", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize("command", [["summary"], ["attach", "--plain"]])
def test_malformed_host_is_a_usage_error_before_ssh_runs(tmp_path: Path, command: list[str]) -> None:
    log = tmp_path / "argv.jsonl"
    marker = tmp_path / "pwned"
    for ref in _attacks(marker):
        proc = _hwmon([*command, "--", ref], tmp_path, log)
        assert proc.returncode == exitcodes.USAGE, (ref, proc.returncode, proc.stderr)
        assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr, proc.stderr
        assert not log.exists(), f"{ref}: ssh ran: {log.read_text()}"
        assert not marker.exists()


def test_destination_comes_after_double_dash() -> None:
    argv = ssh_argv(RemoteRef("gpu01", "/x", "me", 2222), "cat x", ["IdentityFile=/k"])
    assert argv[-3:] == ["--", "me@gpu01", "cat x"]
    # Everything before "--" is ours or an -o value of the user's.
    assert argv.index("--") == len(argv) - 3
    for bad in (RemoteRef("-oProxyCommand=x", "/x"), RemoteRef("h", "/x", "-l"), RemoteRef("h h", "/x")):
        with pytest.raises(exitcodes.HwmonError) as info:
            ssh_argv(bad, "cat x")
        assert info.value.code == exitcodes.USAGE


def test_good_refs_still_parse() -> None:
    assert parse_remote("gpu01:/scratch/run.log") == RemoteRef("gpu01", "/scratch/run.log")
    assert parse_remote("me.x@gpu-01.example.org:logs/a.log") == RemoteRef("gpu-01.example.org", "logs/a.log", "me.x")
    assert parse_remote("ssh://[::1]:2222/x") == RemoteRef("[::1]", "/x", None, 2222)
    assert parse_remote("[fe80::1%eth0]:x") == RemoteRef("[fe80::1%eth0]", "x")


def test_stored_options_keep_only_the_allow_list() -> None:
    options = [
        "Port=2222",
        "ProxyJump=me@bastion:2200,gw",
        "IdentityFile=~/.ssh/id_x",
        "StrictHostKeyChecking=yes",
        "proxycommand=touch /tmp/x",
        "ProxyJump=-oProxyCommand=x",
        "LocalCommand=x",
        "PermitLocalCommand=yes",
        "KnownHostsCommand=x",
        "PKCS11Provider=/tmp/lib.so",
        "StrictHostKeyChecking=no",
        "ForwardAgent=yes",
        "ControlPath=/tmp/sock",
        "Port=22\nProxyCommand=x",
        "Port=x",
        "noequals",
        42,
    ]
    assert stored_options(options) == ("Port=2222", "ProxyJump=me@bastion:2200,gw", "StrictHostKeyChecking=yes")
    # A key or known-hosts file only when the caller's look at it (owned by the user, not writable by others) agrees.
    assert "IdentityFile=~/.ssh/id_x" in stored_options(options, path_ok=lambda path: path == "~/.ssh/id_x")


@pytest.mark.skipif(shutil.which("ssh") is None, reason="no OpenSSH client")
def test_positive_control_without_the_guards_ssh_takes_the_host_as_an_option(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same ref with the host check and the ``--`` layout taken out (as before the fix): the real ssh reads the
    host as its ``-V`` option, prints its version and exits 0 (what the hostile trial saw). With ``--`` alone, ssh
    refuses the host; with the check alone, nothing runs."""

    def unchecked(ref: str, host: str, path: str, user: str | None, port: str | None) -> RemoteRef:
        return RemoteRef(host, path, user, int(port) if port else None)

    with monkeypatch.context() as mp:
        mp.setattr(refs, "checked_remote", unchecked)
        mp.setattr(ssh, "checked_remote", unchecked)
        remote = refs.parse_remote("-V:x")
        assert remote is not None
        command = ssh.cat_command(remote.path, Nonce.new())
        old = ["ssh", "-T", "-o", "BatchMode=yes", remote.destination, "--", command]  # the layout before the fix
        new = ssh.ssh_argv(remote, command)
    acted = subprocess.run(old, capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    assert acted.returncode == 0 and acted.stderr.startswith("OpenSSH_"), acted
    assert new[-3:] == ["--", "-V", command]
    guarded = subprocess.run(new, capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    assert guarded.returncode == 255 and "OpenSSH_" not in guarded.stderr, guarded
    with pytest.raises(exitcodes.HwmonError):
        refs.parse_remote("-V:x")
