"""The recently attached logs (local files, remote ``HOST:PATH``, ``slurm:ID``), so the fleet view can list them
beside the supervised runs. A small JSON list in the run registry (``runs_root()/.recent.json``),
newest first, bounded, written atomically.

The file is data, and a runs directory may be shared by a group: nothing in it is replayed. Each entry's ref is
parsed and checked again (``hwmon.refs``: a host cannot be an option, a job id is a job id, a file is an absolute
path), and only the ssh options that say how to reach a host are kept, written and read
(``hwmon.refs.stored_options``: never ``ProxyCommand``, ``LocalCommand``, forwardings or a weaker host-key check; a
key or known-hosts file only when the user owns it and no one else can write it)."""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hwmon import exitcodes
from hwmon.refs import is_job_ref, parse_remote, stored_options
from hwmon.store import registry

RECENT_FILE = ".recent.json"
MAX_RECENT = 20
# Attachments older than this are not shown any more.
MAX_AGE_S = 7 * 86400


@dataclass(frozen=True)
class Recent:
    """One attached ref: ``kind`` is "file", "ssh" or "slurm"; ``at`` is the Unix time it was last attached."""

    ref: str
    kind: str
    at: float
    ssh_opts: tuple[str, ...] = field(default=())


def recent_path() -> Path:
    """Where the list lives: a dot-file in the runs directory (run listings look at directories only)."""
    return registry.runs_root() / RECENT_FILE


def load(now: float | None = None) -> list[Recent]:
    """The list, newest first (unreadable or malformed entries are skipped)."""
    try:
        data = json.loads(recent_path().read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return []
    if not isinstance(data, list):
        return []
    limit = (now if now is not None else __import__("time").time()) - MAX_AGE_S
    out: list[Recent] = []
    for item in data:
        if not isinstance(item, dict):
            continue
        ref, kind, at, opts = item.get("ref"), item.get("kind"), item.get("at"), item.get("ssh_opts", [])
        if not isinstance(ref, str) or kind not in ("file", "ssh", "slurm") or not isinstance(at, (int, float)):
            continue
        if at < limit:
            continue
        if not _valid_ref(ref, str(kind)):
            continue
        ssh_opts = safe_options(opts) if kind == "ssh" and isinstance(opts, list) else ()
        out.append(Recent(ref, str(kind), float(at), ssh_opts))
    return out


def _valid_ref(ref: str, kind: str) -> bool:
    """Whether ``ref`` is what an entry of ``kind`` names, checked as a command-line ref is checked."""
    if any(ord(c) < 32 or ord(c) == 127 for c in ref):
        return False
    if kind == "file":
        return os.path.isabs(ref)
    if kind == "slurm":
        return ref.startswith("slurm:") and is_job_ref(ref)
    try:
        return parse_remote(ref) is not None
    except exitcodes.HwmonError:
        return False


def _private_file(value: str) -> bool:
    """A file option's path that may be used again: ``/dev/null`` (trusts nothing), or a regular file the user
    owns that neither group nor others may write."""
    if value == "/dev/null":
        return True
    try:
        st = os.stat(os.path.expanduser(value))
    except (OSError, ValueError):
        return False
    return stat.S_ISREG(st.st_mode) and st.st_uid == os.getuid() and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def safe_options(options: list[object] | tuple[object, ...]) -> tuple[str, ...]:
    """The ssh options of an entry that a reconnection may use (see the module docstring)."""
    return stored_options(options, _private_file)


def remember(ref: str, kind: str, ssh_opts: tuple[str, ...] = (), now: float | None = None) -> None:
    """Put ``ref`` at the top of the list (best effort: a read-only state directory loses nothing else)."""
    import time

    at = now if now is not None else time.time()
    if kind == "file":
        ref = os.path.abspath(os.path.expanduser(ref))
    entries = [e for e in load(at) if e.ref != ref]
    entries.insert(0, Recent(ref, kind, at, safe_options(ssh_opts) if kind == "ssh" else ()))
    rows: list[dict[str, Any]] = [
        {"ref": e.ref, "kind": e.kind, "at": e.at, "ssh_opts": list(e.ssh_opts)} for e in entries[:MAX_RECENT]
    ]
    path = recent_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass
