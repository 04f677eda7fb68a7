"""Which processes belong to a supervised run, proven before any signal is sent (Linux ``/proc``).

A run's workload starts in its own session and process group, with ``HWMON_RUN_MARKER=<random token>`` in its
environment; the supervisor records the token in ``run.json`` (``marker``) together with the workload's pid and
its start-time token. A process belongs to the run when one of these holds:

* it *is* the workload: its pid and start time match the record and (for records that have a marker) its
  environment carries the marker;
* it is in the workload's process group or session, or descends from the workload, while the workload itself is
  proven (a pgid/sid cannot be reused while its leader lives);
* its environment carries the run's marker (this finds descendants that called ``setsid()`` and were re-parented
  to init after their parent exited).

Nothing else is ever signalled: a ``run.json`` that names an unrelated pid without its start time, or with a start
time that does not match, proves nothing. What cannot be found this way (a descendant that cleared its environment
*and* left the session after its parent died) is invisible here; ``hwmon stop`` says so in its docs. A cgroup would
close that gap but needs a delegated, writable cgroup v2 tree, which ordinary users on shared nodes do not have.

Signals go through a pidfd where the kernel offers one (``pidfd_open`` + re-check of the start time +
``pidfd_send_signal``), so a pid that is reused between the check and the signal cannot be hit.
"""

from __future__ import annotations

import contextlib
import os
import signal
from dataclasses import dataclass
from pathlib import Path

MARKER_ENV = "HWMON_RUN_MARKER"
PROC = Path("/proc")


@dataclass(frozen=True, slots=True)
class ProcInfo:
    """What ``/proc/<pid>/stat`` says about one live (non-zombie) process."""

    pid: int
    ppid: int
    pgrp: int
    session: int
    start: str


def proc_info(pid: int) -> ProcInfo | None:
    """``pid``'s stat fields, or None when it does not exist, is a zombie or cannot be read."""
    try:
        with open(PROC / str(pid) / "stat", "rb") as fh:
            raw = fh.read()
    except OSError:
        return None
    rest = raw[raw.rfind(b")") + 2 :].split()
    if len(rest) < 20 or rest[0] in (b"Z", b"X"):
        return None
    try:
        return ProcInfo(pid, int(rest[1]), int(rest[2]), int(rest[3]), rest[19].decode("ascii", "replace"))
    except ValueError:
        return None


def carries_marker(pid: int, marker: str) -> bool | None:
    """Whether ``pid``'s environment holds ``HWMON_RUN_MARKER=marker``; None when it cannot be read."""
    try:
        with open(PROC / str(pid) / "environ", "rb") as fh:
            env = fh.read()
    except OSError:
        return None
    return f"{MARKER_ENV}={marker}".encode() in env.split(b"\0")


def all_processes() -> list[ProcInfo]:
    """Every live process we can see."""
    out: list[ProcInfo] = []
    try:
        names = os.listdir(PROC)
    except OSError:
        return out
    for name in names:
        if name.isdigit():
            info = proc_info(int(name))
            if info is not None:
                out.append(info)
    return out


def leader_proven(pid: int | None, start: str | None, marker: str | None) -> bool:
    """Whether the recorded workload ``pid`` is alive and provably the same process: its start time matches the
    record (a missing start time proves nothing) and, when the record has a marker, its environment carries it."""
    if pid is None or pid <= 1 or not start:
        return False
    info = proc_info(pid)
    if info is None or info.start != start:
        return False
    if marker:
        return carries_marker(pid, marker) is True
    # An old record without a marker: the workload was started as a session leader; a reused pid rarely is one.
    return info.session == pid


def run_members(
    pid: int | None,
    start: str | None,
    marker: str | None,
    *,
    exclude: frozenset[int] = frozenset(),
) -> dict[int, str]:
    """The run's live processes (pid -> start time), found as the module docstring says. ``exclude`` (the
    supervisor, ourselves) is never included."""
    me = os.getpid()
    skip = exclude | {me, 1}
    procs = all_processes()
    members: dict[int, str] = {}
    proven = leader_proven(pid, start, marker)
    if proven and pid is not None:
        children: dict[int, list[ProcInfo]] = {}
        for info in procs:
            children.setdefault(info.ppid, []).append(info)
            if info.pgrp == pid or info.session == pid:
                members[info.pid] = info.start
        stack = [pid]
        while stack:
            for child in children.get(stack.pop(), []):
                if child.pid not in members:
                    members[child.pid] = child.start
                    stack.append(child.pid)
    if marker:
        for info in procs:
            if info.pid not in members and info.pid not in skip and carries_marker(info.pid, marker):
                members[info.pid] = info.start
    for pid_skipped in skip:
        members.pop(pid_skipped, None)
    return members


def signal_process(pid: int, start: str, signum: int) -> bool:
    """Send ``signum`` to ``pid`` only if it is still the process that started at ``start``. True if sent.

    With a pidfd the check and the signal refer to the same process even if ``pid`` is reused in between.
    """
    pidfd: int | None = None
    open_pidfd = getattr(os, "pidfd_open", None)
    if open_pidfd is not None:
        try:
            pidfd = open_pidfd(pid)
        except ProcessLookupError:
            return False
        except OSError:
            pidfd = None  # an old kernel: fall back to check-then-kill (a tiny window remains)
    try:
        info = proc_info(pid)
        if info is None or info.start != start:
            return False
        send = getattr(signal, "pidfd_send_signal", None)
        try:
            if pidfd is not None and send is not None:
                send(pidfd, signum)
            else:
                os.kill(pid, signum)
        except (ProcessLookupError, PermissionError):
            return False
        return True
    finally:
        if pidfd is not None:
            with contextlib.suppress(OSError):
                os.close(pidfd)


def still_alive(members: dict[int, str]) -> dict[int, str]:
    """The members that still run as the same processes."""
    alive: dict[int, str] = {}
    for pid, start in members.items():
        info = proc_info(pid)
        if info is not None and info.start == start:
            alive[pid] = start
    return alive
