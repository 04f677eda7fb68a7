"""The ref router: what a ref names, opened for every command.

``hwmon.refs.parse_ref`` parses the string (pure); this module settles it against the file system, the run
registry and the Slurm controller: ``open_source`` opens it as a live source (``attach``, ``run``, ``top``, the
fleet), ``resolve_input`` as a finished input read once to its end (``export``, ``compare``; see
``hwmon.sources.read``).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from hwmon import exitcodes
from hwmon.events import Event
from hwmon.refs import RemoteRef, SlurmRef, StdinRef, is_job_ref, looks_like_path, parse_ref
from hwmon.sources.follow import PipeFollower
from hwmon.sources.source import FollowSource, Source, file_source, record_events, run_source, stdin_source
from hwmon.store import registry
from hwmon.store.registry import RunRecord

# --- live sources ---------------------------------------------------------------------------------------------------


def _record_source(record: RunRecord, from_end: bool) -> Source:
    """A supervised run's source; a run submitted to Slurm shows its queue phase first."""
    if record.slurm_job_id:
        from hwmon.sources.slurmjob import run_job_source

        return run_job_source(record)
    return run_source(record.dir, record.log_path, record.run_id, from_end=from_end)


def open_source(ref: str, *, from_end: bool = False, ssh_opts: Sequence[str] = ()) -> Source:
    """Open what ``ref`` names: "-" (stdin), an existing file, a run directory, a run id or unique prefix (via
    ``hwmon.store.registry``), a remote log (``HOST:PATH``, ``ssh://[user@]host[:port]/path``, followed over
    ssh with ``ssh_opts`` as ``-o`` options), a Slurm job (``slurm:ID``, or a bare id the controller knows), or a
    path that does not exist yet (waited for).

    Raises ``HwmonError`` with ``BAD_INPUT`` for an existing path that cannot be a log (a plain directory, an
    unreadable file) and ``RUN_NOT_FOUND`` for a ref that is neither a path nor a known run.
    """
    parsed = parse_ref(ref)
    if isinstance(parsed, StdinRef):
        return stdin_source()
    if isinstance(parsed, SlurmRef):
        from hwmon.sources.slurmjob import job_source

        return job_source(ref)
    path = Path(ref).expanduser()
    try:
        st = os.stat(path)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise exitcodes.HwmonError(f"cannot read {ref}: {exc.strerror or exc}", exitcodes.BAD_INPUT) from None
    if st is None and isinstance(parsed, RemoteRef):
        from hwmon.sources import ssh

        return ssh.remote_source(parsed, ssh_opts, from_end=from_end)
    if st is not None:
        if stat.S_ISDIR(st.st_mode):
            record = registry.load(path)
            if record is None:
                raise exitcodes.HwmonError(
                    f"{ref} is a directory, not a log file or a run directory", exitcodes.BAD_INPUT
                )
            return _record_source(record, from_end)
        if stat.S_ISFIFO(st.st_mode) or stat.S_ISCHR(st.st_mode) or stat.S_ISSOCK(st.st_mode):
            # A named pipe or `<(command)`: read it as a stream, ending when its writer closes it.
            try:
                fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
            except OSError as exc:
                raise exitcodes.HwmonError(f"cannot read {ref}: {exc.strerror or exc}", exitcodes.BAD_INPUT) from None
            follower = PipeFollower(fd, name=path.name, close_fd=True, wait_for_writer=stat.S_ISFIFO(st.st_mode))
            return FollowSource(follower, name=path.name)
        try:
            os.close(os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC))
        except OSError as exc:
            raise exitcodes.HwmonError(f"cannot read {ref}: {exc.strerror or exc}", exitcodes.BAD_INPUT) from None
        return file_source(path, from_end=from_end)
    try:
        record = registry.resolve(ref)
    except exitcodes.HwmonError:
        if looks_like_path(ref):
            return file_source(path, from_end=from_end)
        from hwmon.slurm import client as slurm

        if is_job_ref(ref) and slurm.available():
            from hwmon.sources.slurmjob import job_source

            return job_source(ref)
        raise
    return _record_source(record, from_end)


# --- finished inputs ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Input:
    """A ref resolved for one read to its end (``hwmon.sources.read``): its display name, the log to read (None for
    stdin or a remote log), the remote log and its ssh options, the supervised run's command, and the events of its
    record (``run.json``: its age while it runs, how it ended once it has)."""

    name: str
    path: Path | None
    command: str | None = None
    record: tuple[Event, ...] = ()
    remote: RemoteRef | None = None
    ssh_opts: tuple[str, ...] = ()
    run_dir: Path | None = None

    @property
    def key(self) -> str:
        """What names this input in the run history: the log's absolute path, the remote ``host:path``, else the
        name."""
        if self.remote is not None:
            return str(self.remote)
        return str(self.path.resolve()) if self.path is not None else self.name


def os_error_reason(exc: OSError) -> str:
    """An OSError's reason in one line (``Permission denied``)."""
    return " ".join((exc.strerror or str(exc)).split())


def _record_input(record: RunRecord, name: str | None = None) -> Input:
    return Input(
        name or record.run_id,
        record.log_path,
        " ".join(record.command) or None,
        tuple(record_events(record)),
        run_dir=record.dir,
    )


def resolve_input(ref: str, ssh_opts: Sequence[str] = ()) -> Input:
    """What ``ref`` names, to be read once to its end: ``-`` (stdin), a log file (a supervised run's
    ``output.log`` brings its run's record), a run directory, a run id (or unique prefix), a remote log
    (``HOST:PATH``, ``ssh://...``, when no local file has that name) or a Slurm job (its output file). Raises
    ``HwmonError`` (``BAD_INPUT`` for a path that cannot be read as a log, ``RUN_NOT_FOUND`` for a ref that is
    neither a file nor a known run)."""
    parsed = parse_ref(ref)
    if isinstance(parsed, StdinRef):
        return Input("stdin", None)
    if isinstance(parsed, SlurmRef):
        return _job_input(parsed.job_id)
    path = Path(ref).expanduser()
    try:
        st = os.stat(path)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise exitcodes.HwmonError(f"{ref}: cannot read: {os_error_reason(exc)}", exitcodes.BAD_INPUT) from None
    if st is None and isinstance(parsed, RemoteRef):
        return Input(str(parsed), None, remote=parsed, ssh_opts=tuple(ssh_opts))
    if st is not None:
        if not stat.S_ISDIR(st.st_mode):
            record = _record_of_log(path)
            if record is not None:
                return _record_input(record, str(ref))
            return Input(str(ref), path)
        record = registry.load(path)
        if record is None:
            raise exitcodes.HwmonError(f"{ref}: is a directory, not a log file or a run directory", exitcodes.BAD_INPUT)
        return _record_input(record)
    try:
        record = registry.resolve(ref)
    except exitcodes.HwmonError as exc:
        if looks_like_path(ref):
            raise exitcodes.HwmonError(f"{ref}: no such file", exitcodes.BAD_INPUT) from None
        if is_job_ref(ref):
            from hwmon.slurm import client as slurm

            if slurm.available():
                return _job_input(ref)
        raise exc from None
    return _record_input(record)


def _record_of_log(path: Path) -> RunRecord | None:
    """The run whose log ``path`` is (``output.log`` beside a ``run.json``), if any."""
    if path.name != registry.LOG_FILE:
        return None
    run_dir = path.resolve().parent
    if not (run_dir / registry.RUN_FILE).is_file():
        return None
    return registry.load(run_dir)


def _job_input(job_id: str) -> Input:
    """A Slurm job's output file, as the controller says."""
    from hwmon.slurm import client as slurm

    job = slurm.show_job(job_id)
    if job is None or not job.stdout:
        raise exitcodes.HwmonError(
            f"Slurm job {job_id} is not known to the controller (or has no output file)", exitcodes.RUN_NOT_FOUND
        )
    return Input(f"slurm:{job.job_id}", Path(job.stdout))
