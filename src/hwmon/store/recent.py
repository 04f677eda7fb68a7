"""The recently attached logs (local files, remote ``HOST:PATH``, ``slurm:ID``), so the fleet view can list them
beside the supervised runs. A small JSON list in the run registry (``runs_root()/.recent.json``),
newest first, bounded, written atomically; ssh options are kept so a remote log can be followed again."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
        ssh_opts = tuple(o for o in opts if isinstance(o, str)) if isinstance(opts, list) else ()
        out.append(Recent(ref, str(kind), float(at), ssh_opts))
    return out


def remember(ref: str, kind: str, ssh_opts: tuple[str, ...] = (), now: float | None = None) -> None:
    """Put ``ref`` at the top of the list (best effort: a read-only state directory loses nothing else)."""
    import time

    at = now if now is not None else time.time()
    if kind == "file":
        ref = os.path.abspath(os.path.expanduser(ref))
    entries = [e for e in load(at) if e.ref != ref]
    entries.insert(0, Recent(ref, kind, at, tuple(ssh_opts)))
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
