"""The fleet tests: a supervised run in a throwaway registry, a Slurm job as ``scontrol show job -o`` printed it on
the test Slurm (tests/slurm), and a remote log over the real sshd of tests/remote."""

from __future__ import annotations

from tests.remote.conftest import Sshd, sshd  # noqa: F401 - the session sshd fixture, shared

__all__ = ["Sshd"]
