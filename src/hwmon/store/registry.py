"""The run registry: one directory per supervised run under ``runs_root()``, holding ``run.json`` and
``output.log``.

``run.json`` is written only by the supervisor (and by ``hwmon stop`` when the supervisor is gone), always
atomically (temp file + rename), so readers never see half a record. Whether a run marked "running" is really
still supervised is decided here, at read time: the supervisor's pid must exist and have the start time recorded
for it (pids are reused), else the run is "lost".
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import stat
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from hwmon import exitcodes
from hwmon.refs import is_job_id

RUN_FILE = "run.json"
LOG_FILE = "output.log"
STATUSES = ("running", "succeeded", "failed", "stopped", "lost")


def runs_root() -> Path:
    """Where runs live: ``$HWMON_RUNS_DIR``, else ``$XDG_STATE_HOME/hwmon/runs``, else
    ``~/.local/state/hwmon/runs``."""
    explicit = os.environ.get("HWMON_RUNS_DIR")
    if explicit:
        return Path(explicit).expanduser()
    state_home = os.environ.get("XDG_STATE_HOME")
    base = Path(state_home).expanduser() if state_home else Path.home() / ".local" / "state"
    return base / "hwmon" / "runs"


@dataclass
class RunRecord:
    """What ``run.json`` says about one run (``status`` as derived at read time: see ``load``)."""

    run_id: str
    dir: Path
    log_path: Path
    command: list[str]
    workload: str | None
    device: str | None
    pid: int | None
    supervisor_pid: int | None
    host: str
    cwd: str
    started: str
    ended: str | None
    exit_code: int | None
    signal: int | None
    status: str
    # Start-time tokens of the supervisor / workload processes (``/proc/<pid>/stat`` field 22), used to tell a
    # live process from a reused pid.
    supervisor_start: str | None = None
    pid_start: str | None = None
    # Why a run is "lost" or how it ended, in words.
    message: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    # A run submitted with ``hwmon run --sbatch``: its Slurm job id (its watcher is the "supervisor").
    slurm_job_id: str | None = None
    # The random token the supervisor put in the workload's environment (``HWMON_RUN_MARKER``): proof that a
    # process belongs to this run before ``hwmon stop`` signals it (see ``hwmon.runners.proctree``).
    marker: str | None = None
    # How the run's Slurm job ended, as Slurm said it (issue 21): ``{"state", "reason", "exit_code", "signal",
    # "seconds", "restarts", "text"}`` (``hwmon.slurm.facts.end_reason_record``); None until it ended.
    end_reason: dict[str, Any] | None = None

    @classmethod
    def starting(
        cls,
        run_id: str,
        run_dir: Path,
        command: list[str],
        workload: str | None,
        device: str | None,
        cwd: str,
        **more: Any,
    ) -> RunRecord:
        """The record of a run starting now on this host (running, no end yet); ``more`` sets the other fields."""
        fields: dict[str, Any] = {
            "pid": None,
            "supervisor_pid": None,
            "ended": None,
            "exit_code": None,
            "signal": None,
            **more,
        }
        return cls(
            run_id=run_id,
            dir=run_dir,
            log_path=run_dir / LOG_FILE,
            command=command,
            workload=workload,
            device=device,
            host=socket.gethostname(),
            cwd=cwd,
            started=now_iso(),
            status="running",
            **fields,
        )

    def to_json(self) -> dict[str, Any]:
        """The record as written to ``run.json`` (paths as strings)."""
        data = asdict(self)
        data["dir"] = str(self.dir)
        data["log_path"] = str(self.log_path)
        return data

    @property
    def started_dt(self) -> datetime | None:
        return _parse_iso(self.started)

    @property
    def ended_dt(self) -> datetime | None:
        return _parse_iso(self.ended)

    def duration_s(self, now: datetime | None = None) -> float | None:
        """Seconds from start to end (or to ``now`` while running)."""
        start = self.started_dt
        if start is None:
            return None
        end = self.ended_dt
        if end is None:
            if self.status != "running":
                return None
            end = now or datetime.now(start.tzinfo)
        try:
            return max(0.0, (end - start).total_seconds())
        except TypeError:  # one time with a UTC offset and one without (a hand-edited run.json): unknown
            return None


def _parse_iso(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def now_iso() -> str:
    """The current local time with its UTC offset, to the millisecond."""
    return datetime.now().astimezone().isoformat(timespec="milliseconds")


def new_run_id(workload: str | None = None) -> str:
    """A sortable, unique id: ``YYYYmmdd-HHMMSS-<label>-<4 hex>``."""
    label = (workload or "cmd").replace("/", "_")[:20]
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in label)
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{safe}-{secrets.token_hex(2)}"


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` as JSON to ``path`` so that readers see either the old or the new file, never a torn one."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2, sort_keys=True)
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def save(record: RunRecord) -> None:
    """Write ``record`` to its ``run.json`` atomically."""
    write_json_atomic(record.dir / RUN_FILE, record.to_json())


def process_start_token(pid: int) -> str | None:
    """An opaque token that changes when ``pid`` is reused: the process start time from ``/proc`` (Linux).

    None when the process does not exist or the platform has no ``/proc``.
    """
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            raw = fh.read()
    except OSError:
        return None
    # The command name (field 2) may contain spaces and parentheses; fields after the last ')' are fixed.
    rest = raw[raw.rfind(b")") + 2 :].split()
    if len(rest) < 20:
        return None
    state = rest[0]
    if state in (b"Z", b"X"):
        return None  # a zombie has finished running
    return rest[19].decode("ascii", "replace")


def process_alive(pid: int | None, start_token: str | None) -> bool:
    """True when ``pid`` is running and (where it can be checked) is the same process that was recorded."""
    if pid is None or pid <= 0:
        return False
    token = process_start_token(pid)
    if token is not None:
        # Without the recorded start time a live pid proves nothing (pid 1 is always alive): not this run's.
        return start_token is not None and token == start_token
    if Path("/proc/self/stat").exists():
        return False  # /proc exists, so the process is gone (or a zombie)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _record_from_json(run_dir: Path, data: dict[str, Any]) -> RunRecord:
    def opt_int(key: str) -> int | None:
        value = data.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    def opt_str(key: str) -> str | None:
        value = data.get(key)
        return value if isinstance(value, str) else None

    command = data.get("command")
    status = data.get("status")
    extra = data.get("extra")
    return RunRecord(
        run_id=opt_str("run_id") or run_dir.name,
        dir=run_dir,
        log_path=run_dir / LOG_FILE,
        command=[str(c) for c in command] if isinstance(command, list) else [],
        workload=opt_str("workload"),
        device=opt_str("device"),
        pid=opt_int("pid"),
        supervisor_pid=opt_int("supervisor_pid"),
        host=opt_str("host") or "",
        cwd=opt_str("cwd") or "",
        started=opt_str("started") or "",
        ended=opt_str("ended"),
        exit_code=opt_int("exit_code"),
        signal=opt_int("signal"),
        status=status if isinstance(status, str) and status in STATUSES else "lost",
        supervisor_start=opt_str("supervisor_start"),
        pid_start=opt_str("pid_start"),
        message=opt_str("message") or "",
        extra=extra if isinstance(extra, dict) else {},
        slurm_job_id=_job_id(data.get("slurm_job_id")),
        marker=opt_str("marker"),
        end_reason=_end_reason(data.get("end_reason")),
    )


def _job_id(value: object) -> str | None:
    """``slurm_job_id`` as a job id of Slurm's grammar (``123``, ``123_4``), else None: a run.json is data, and
    ``-uroot`` there must never reach ``scancel`` as an option."""
    return value if isinstance(value, str) and is_job_id(value) else None


def _end_reason(value: object) -> dict[str, Any] | None:
    """``end_reason`` as the watcher writes it (a JSON object of plain values), else None: a run.json is data."""
    if not isinstance(value, dict) or len(value) > 16:
        return None
    return {
        str(k)[:32]: v
        for k, v in value.items()
        if v is None or isinstance(v, (int, float, str)) and (not isinstance(v, str) or len(v) <= 300)
    }


class BadRunFile(Exception):
    """A ``run.json`` that cannot be a run record (not a regular file, too big, not JSON, not an object)."""


# A real run.json is under 2 KB; anything past this is not one (a link to /dev/zero, a log written in its place).
MAX_RUN_FILE_BYTES = 1 << 20


def read_run_file(path: Path) -> dict[str, Any]:
    """The JSON object in ``path``, read defensively: opened non-blocking (a FIFO cannot hang us), a regular file only
    (``fstat`` on the open descriptor, so a swap between check and read changes nothing), at most
    ``MAX_RUN_FILE_BYTES``. Raises ``FileNotFoundError`` when there is none and ``BadRunFile`` saying why when it is
    unusable."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | getattr(os, "O_NOCTTY", 0))
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise BadRunFile(f"cannot open {path.name}: {exc.strerror or exc}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise BadRunFile(f"{path.name} is not a regular file")
        if st.st_size > MAX_RUN_FILE_BYTES:
            raise BadRunFile(f"{path.name} is {st.st_size} bytes, more than a run record can be")
        chunks: list[bytes] = []
        total = 0
        while total <= MAX_RUN_FILE_BYTES:
            data = os.read(fd, MAX_RUN_FILE_BYTES + 1 - total)
            if not data:
                break
            chunks.append(data)
            total += len(data)
        if total > MAX_RUN_FILE_BYTES:
            raise BadRunFile(f"{path.name} grew past {MAX_RUN_FILE_BYTES} bytes while being read")
    except OSError as exc:
        raise BadRunFile(f"cannot read {path.name}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    try:
        data_obj = json.loads(b"".join(chunks).decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRunFile(f"{path.name} is not valid JSON ({type(exc).__name__})") from None
    except RecursionError:
        raise BadRunFile(f"{path.name} is nested too deeply to be a run record") from None
    if not isinstance(data_obj, dict):
        raise BadRunFile(f"{path.name} holds {type(data_obj).__name__}, not a JSON object")
    return data_obj


def load_checked(run_dir: Path) -> RunRecord | None:
    """Like ``load`` but raises ``BadRunFile`` for a ``run.json`` that exists and is unusable (None: there is none)."""
    try:
        data = read_run_file(run_dir / RUN_FILE)
    except FileNotFoundError:
        return None
    except NotADirectoryError:
        return None
    try:
        record = _record_from_json(run_dir, data)
    except (TypeError, ValueError, RecursionError) as exc:
        raise BadRunFile(f"{RUN_FILE} has unusable fields ({type(exc).__name__})") from None
    if record.status == "running" and not process_alive(record.supervisor_pid, record.supervisor_start):
        record.status = "lost"
        workload_alive = process_alive(record.pid, record.pid_start)
        tail = (
            f"the workload (pid {record.pid}) is still running but its exit status will not be recorded"
            if workload_alive
            else "the workload is no longer running; how it ended is unknown"
        )
        record.message = f"supervisor (pid {record.supervisor_pid}) on {record.host or 'this host'} died; {tail}"
    return record


def load(run_dir: Path) -> RunRecord | None:
    """Read one run directory; None if it holds no usable ``run.json`` (see ``read_run_file``).

    A record that says "running" whose supervisor is gone comes back as "lost", with a message saying what is
    known (the file itself is not changed: reading never writes).
    """
    try:
        return load_checked(run_dir)
    except BadRunFile:
        return None


def _warn_stderr(message: str) -> None:
    import sys

    from hwmon.model.text import safe_text

    print(f"hwmon: warning: {safe_text(message)}", file=sys.stderr)


def list_runs(root: Path | None = None, *, warn: Callable[[str], None] | None = _warn_stderr) -> list[RunRecord]:
    """All runs under ``root`` (default ``runs_root()``), newest first.

    A directory without ``run.json`` is skipped silently; one whose ``run.json`` is unusable (see ``read_run_file``)
    is skipped with one ``warn`` call naming it, so one bad run never breaks the listing of the others.
    """
    base = root if root is not None else runs_root()
    try:
        entries = [p for p in base.iterdir() if p.is_dir()]
    except OSError:
        return []
    records: list[RunRecord] = []
    for entry in entries:
        try:
            record = load_checked(entry)
        except BadRunFile as exc:
            if warn is not None:
                warn(f"skipping run {entry.name}: {exc}")
            continue
        if record is not None:
            records.append(record)
    records.sort(key=lambda r: (r.started, r.run_id), reverse=True)
    return records


def resolve(ref: str | None, root: Path | None = None) -> RunRecord:
    """The run named by ``ref``: an exact id, a unique id prefix, or None for the latest run.

    Raises ``HwmonError(..., exitcodes.RUN_NOT_FOUND)`` when nothing (or more than one run) matches.
    """
    base = root if root is not None else runs_root()
    if ref is not None and not ref.strip():
        raise exitcodes.HwmonError("an empty run id names no run (omit it for the latest run)", exitcodes.USAGE)
    runs = list_runs(base)
    if ref is None:
        if not runs:
            raise exitcodes.HwmonError(f"no runs yet in {base}", exitcodes.RUN_NOT_FOUND)
        return runs[0]
    exact = [r for r in runs if r.run_id == ref]
    if exact:
        return exact[0]
    matches = [r for r in runs if r.run_id.startswith(ref)]
    if not matches:
        raise exitcodes.HwmonError(f"no run matches {ref!r} in {base}", exitcodes.RUN_NOT_FOUND)
    if len(matches) > 1:
        shown = ", ".join(r.run_id for r in matches[:5])
        more = f" and {len(matches) - 5} more" if len(matches) > 5 else ""
        raise exitcodes.HwmonError(f"run id prefix {ref!r} is ambiguous: {shown}{more}", exitcodes.RUN_NOT_FOUND)
    return matches[0]
