"""The dashboard's closing hint ("back with: hwmon attach ...") names the same source again: an ssh ref keeps its
port and options, a Slurm job is ``slurm:ID`` (not its display name quoted into one argument)."""

from __future__ import annotations

import shlex

from hwmon.refs import RemoteRef, parse_remote
from hwmon.sources.slurmjob import SlurmJobSource
from hwmon.sources.ssh import remote_source
from hwmon.tui.app import HwmonApp


def _hint(source: object) -> str:
    return HwmonApp(source)._come_back_ref()  # type: ignore[arg-type]


def test_ssh_hint_keeps_port_and_options() -> None:
    ref = RemoteRef("gpu01", "/scratch/my run.log", "me", 2222)
    source = remote_source(ref, ["IdentityFile=/k/id x"], check_first=False)
    args = shlex.split(_hint(source))
    assert args == ["ssh://me@gpu01:2222/scratch/my run.log", "--ssh-opt", "IdentityFile=/k/id x"]
    assert parse_remote(args[0]) == ref
    for other in (RemoteRef("gpu01", "logs/x.log"), RemoteRef("gpu01", "~/x.log", None, 22), RemoteRef("[::1]", "/x")):
        again = parse_remote(other.ref)
        assert again is not None and (again.host, again.port, again.user) == (other.host, other.port, other.user)


def test_slurm_hint_is_the_job_ref() -> None:
    source = SlurmJobSource("123", lambda: None, name="slurm:123 train job")
    assert _hint(source) == "slurm:123"
