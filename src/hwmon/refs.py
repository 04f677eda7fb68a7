"""What a ref string names, parsed into a typed ref. Pure: no file is looked at, no command is run.

Every command takes the same refs (``hwmon.sources.open`` settles them against the file system, the run registry
and the Slurm controller):

- ``-``: standard input (``StdinRef``);
- ``slurm:ID``: a Slurm job (``SlurmRef``);
- ``[user@]host:path`` (scp's rule: a colon before any slash) or ``ssh://[user@]host[:port]/path``: a log on
  another host, followed over ssh (``RemoteRef``), unless a local file of that name exists;
- anything else (``NameRef``): a path (a log, a named pipe, a run directory), a supervised run's id or unique
  prefix, or a bare Slurm job id (``123``, ``123_4``) the controller knows, tried in that order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

SLURM_PREFIX = "slurm:"

_JOB_REF = re.compile(r"^\d+(?:_\d+)?$")
_SCP = re.compile(r"^(?:(?P<user>[^@/:]+)@)?(?P<host>\[[^\]]+\]|[^@/:\[\]]+):(?P<path>.*)$")
_URL = re.compile(r"^ssh://(?:(?P<user>[^@/]+)@)?(?P<host>\[[^\]]+\]|[^:/@]+)(?::(?P<port>\d+))?(?P<path>/.*)?$")


@dataclass(frozen=True, slots=True)
class StdinRef:
    """``-``: the log arrives on standard input."""

    text: str = "-"


@dataclass(frozen=True, slots=True)
class SlurmRef:
    """``slurm:ID``: a Slurm job (``job_id`` as written after the prefix)."""

    text: str
    job_id: str


@dataclass(frozen=True, slots=True)
class RemoteRef:
    """``[user@]host:path`` or ``ssh://[user@]host[:port]/path``."""

    host: str
    path: str
    user: str | None = None
    port: int | None = None

    @property
    def destination(self) -> str:
        host = self.host[1:-1] if self.host.startswith("[") else self.host
        return f"{self.user}@{host}" if self.user else host

    def __str__(self) -> str:
        return f"{self.destination}:{self.path}"


@dataclass(frozen=True, slots=True)
class NameRef:
    """A ref only the file system, the run registry or the controller can settle: a path, a run directory, a run id
    or unique prefix, or a bare Slurm job id."""

    text: str

    @property
    def path(self) -> Path:
        """The ref as a local path (``~`` expanded)."""
        return Path(self.text).expanduser()

    @property
    def looks_like_path(self) -> bool:
        """Whether, naming nothing yet, it should be waited for as a file."""
        return looks_like_path(self.text)

    @property
    def job_id(self) -> str | None:
        """The Slurm job id it could be (``123``, ``123_4``), else None."""
        return self.text if _JOB_REF.match(self.text) else None


Ref = StdinRef | SlurmRef | RemoteRef | NameRef


def parse_ref(text: str) -> Ref:
    """The typed ref ``text`` names (see the module docstring). A ``RemoteRef`` stands for a remote log only when
    no local file has that name: the caller, who may look at the file system, checks that first."""
    if text == "-":
        return StdinRef()
    if text.startswith(SLURM_PREFIX):
        return SlurmRef(text, job_ref_of(text))
    remote = parse_remote(text)
    if remote is not None:
        return remote
    return NameRef(text)


def parse_remote(ref: str) -> RemoteRef | None:
    """A remote ref, or None when ``ref`` is a local one. scp's rule: a colon before any slash makes it remote
    (``./a:b`` stays local); ``slurm:`` refs are not hosts."""
    match = _URL.match(ref)
    if match is not None:
        path = match.group("path") or ""
        if not path or path == "/":
            return None
        # ssh://host/~/x and ssh://host/x both mean a path relative to the home directory in scp's tradition only
        # when it starts with "/~"; otherwise the path is absolute.
        if path.startswith("/~"):
            path = path[1:]
        port = match.group("port")
        return RemoteRef(match.group("host"), path, match.group("user"), int(port) if port else None)
    if ref.startswith((SLURM_PREFIX, "/", ".", "~")) or "://" in ref:
        return None
    match = _SCP.match(ref)
    if match is None or not match.group("path"):
        return None
    return RemoteRef(match.group("host"), match.group("path"), match.group("user"))


def looks_like_path(ref: str) -> bool:
    """Whether a ref that names nothing yet should be waited for as a file (``run.log``, ``logs/x``)."""
    return "/" in ref or "." in ref or ref.startswith("~")


def is_job_ref(ref: str) -> bool:
    """``slurm:123``, ``slurm:123_4``, or a bare ``123`` / ``123_4``."""
    return bool(_JOB_REF.match(job_ref_of(ref)))


def job_ref_of(ref: str) -> str:
    """The job id in ``slurm:ID`` or a bare ``ID``."""
    return ref[len(SLURM_PREFIX) :] if ref.startswith(SLURM_PREFIX) else ref
