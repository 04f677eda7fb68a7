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
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from hwmon import exitcodes

SLURM_PREFIX = "slurm:"

_JOB_REF = re.compile(r"^\d+(?:_\d+)?$")
_SCP = re.compile(r"^(?:(?P<user>[^@/:]+)@)?(?P<host>\[[^\]]+\]|[^@/:\[\]]+):(?P<path>.*)$")
_URL = re.compile(r"^ssh://(?:(?P<user>[^@/]+)@)?(?P<host>\[[^\]]+\]|[^:/@]+)(?::(?P<port>[^/]*))?(?P<path>/.*)?$")
# What ssh takes as a destination: a host name or an alias of ~/.ssh/config, or an IP literal in brackets; a user
# name as login(1) knows one. Neither can start with "-" (an option) and none holds a space or a control character.
_HOST = re.compile(r"^(?:[A-Za-z0-9_][A-Za-z0-9._-]{0,252}|\[[0-9A-Fa-f:.]+(?:%[A-Za-z0-9._-]+)?\])$")
_USER = re.compile(r"^[A-Za-z0-9_.][A-Za-z0-9._$-]{0,63}$")
_OPTION_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9]{1,40}$")
# The ssh options a data file (the fleet's recent logs) may carry, each with the values it may take: how to reach
# the host, never a command (ProxyCommand, LocalCommand, KnownHostsCommand), a library (PKCS11Provider), a
# forwarding, a control socket or a weaker host-key check. Keys compare case-insensitively, as ssh's do.
_YES_NO = re.compile(r"^(?i:yes|no)$")
_NUMBER = re.compile(r"^\d{1,6}$")
_JUMP = re.compile(
    r"^(?:[A-Za-z0-9_.][A-Za-z0-9._$-]{0,63}@)?(?:[A-Za-z0-9_][A-Za-z0-9._-]{0,252}|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$"
)
STORED_OPTION_VALUES: dict[str, re.Pattern[str]] = {
    "port": _NUMBER,
    "user": re.compile(r"^[A-Za-z0-9_.][A-Za-z0-9._$-]{0,63}$"),
    "connecttimeout": _NUMBER,
    "connectionattempts": _NUMBER,
    "serveraliveinterval": _NUMBER,
    "serveralivecountmax": _NUMBER,
    "identitiesonly": _YES_NO,
    "compression": _YES_NO,
    "addressfamily": re.compile(r"^(?i:any|inet|inet6)$"),
    "stricthostkeychecking": re.compile(r"^(?i:yes)$"),  # stricter than the default only
    "proxyjump": re.compile(_JUMP.pattern[:-1] + r"(?:," + _JUMP.pattern[1:-1] + r"){0,7}$"),
}
# Files: kept only when ``path_ok`` (the caller's look at the file system) says the user owns them, unwritable by
# others (a key or known-hosts file another user wrote would choose whom we trust).
STORED_OPTION_FILES = frozenset({"identityfile", "certificatefile", "userknownhostsfile", "globalknownhostsfile"})
STORED_OPTION_KEYS = frozenset(STORED_OPTION_VALUES) | STORED_OPTION_FILES


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

    @property
    def ref(self) -> str:
        """The ref that names this file again, the port included (``ssh://`` form when there is one)."""
        if self.port is None:
            return f"{self.user + '@' if self.user else ''}{self.host}:{self.path}"
        path = (
            self.path
            if self.path.startswith("/")
            else "/" + (self.path if self.path.startswith("~") else "~/" + self.path)
        )
        return f"ssh://{self.user + '@' if self.user else ''}{self.host}:{self.port}{path}"


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
        return SlurmRef(text, checked_job_id(text))
    remote = parse_remote(text)
    if remote is not None:
        return remote
    return NameRef(text)


def parse_remote(ref: str) -> RemoteRef | None:
    """A remote ref, or None when ``ref`` is a local one. scp's rule: a colon before any slash makes it remote
    (``./a:b`` stays local); ``slurm:`` refs are not hosts. A ref that is remote by that rule but whose host, user
    or port is malformed (``-oProxyCommand=...:x``) raises ``HwmonError`` (usage, exit 64)."""
    match = _URL.match(ref)
    if match is not None:
        path = match.group("path") or ""
        if not path or path == "/":
            return None
        # ssh://host/~/x and ssh://host/x both mean a path relative to the home directory in scp's tradition only
        # when it starts with "/~"; otherwise the path is absolute.
        if path.startswith("/~"):
            path = path[1:]
        return checked_remote(ref, match.group("host"), path, match.group("user"), match.group("port"))
    if ref.startswith((SLURM_PREFIX, "/", ".", "~")) or "://" in ref:
        return None
    match = _SCP.match(ref)
    if match is None or not match.group("path"):
        return None
    return checked_remote(ref, match.group("host"), match.group("path"), match.group("user"), None)


def looks_like_path(ref: str) -> bool:
    """Whether a ref that names nothing yet should be waited for as a file (``run.log``, ``logs/x``)."""
    return "/" in ref or "." in ref or ref.startswith("~")


def is_job_id(value: object) -> bool:
    """Whether ``value`` is a Slurm job id as written (``123``, ``123_4``; no prefix)."""
    return isinstance(value, str) and bool(_JOB_REF.match(value))


def is_job_ref(ref: str) -> bool:
    """``slurm:123``, ``slurm:123_4``, or a bare ``123`` / ``123_4``."""
    return bool(_JOB_REF.match(job_ref_of(ref)))


def job_ref_of(ref: str) -> str:
    """The job id in ``slurm:ID`` or a bare ``ID`` (unchecked: see ``checked_job_id``)."""
    return ref[len(SLURM_PREFIX) :] if ref.startswith(SLURM_PREFIX) else ref


def checked_job_id(ref: object, what: str = "") -> str:
    """The Slurm job id in ``slurm:ID`` or a bare ``ID``, checked against Slurm's grammar (``123``, ``123_4``) so
    it can never reach ``squeue``/``scancel`` as an option or a list: anything else (``slurm:-uroot``,
    ``slurm:``, ``1,2``) is a usage error (exit 64). ``what`` says where it came from (a run.json...)."""
    text = ref if isinstance(ref, str) else repr(ref)
    job_id = job_ref_of(text)
    if not _JOB_REF.match(job_id):
        where = f" ({what})" if what else ""
        raise _usage(f"{text!r}{where} is not a Slurm job id (slurm:123 or slurm:123_4)")
    return job_id


def come_back_args(ref: RemoteRef, options: Sequence[str] = ()) -> str:
    """``hwmon attach`` arguments (shell-quoted) that follow the same remote file the same way again."""
    args = [ref.ref]
    for option in options:
        args += ["--ssh-opt", option]
    return shlex.join(args)


def _usage(message: str) -> exitcodes.HwmonError:
    # The CLI prints it through the one sanitiser (``safe_text``); refs stays below the model layer.
    return exitcodes.HwmonError(message if len(message) <= 300 else message[:299] + "…", exitcodes.USAGE)


def checked_remote(ref: str, host: str, path: str, user: str | None, port: str | None) -> RemoteRef:
    """The parts of a remote ref, each checked against its grammar: a usage error (exit 64) before ssh runs."""
    if not _HOST.match(host):
        raise _usage(f"{ref}: {host!r} is not a host name (HOST:PATH or ssh://[user@]host[:port]/path)")
    if user is not None and not _USER.match(user):
        raise _usage(f"{ref}: {user!r} is not a user name")
    number = None
    if port is not None:
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise _usage(f"{ref}: {port!r} is not a port number")
        number = int(port)
    if "\x00" in path or "\n" in path:
        raise _usage(f"{ref}: the path holds a control character")
    return RemoteRef(host, path, user, number)


def ssh_options(options: Sequence[str]) -> list[str]:
    """``--ssh-opt KEY=VALUE`` values as ssh arguments (``-o KEY=VALUE``); a value without ``=``, a key that is no
    ssh_config keyword or a control character is a usage error."""
    out: list[str] = []
    for option in options:
        key, eq, value = option.partition("=")
        if not eq or not _OPTION_KEY.match(key) or any(ord(c) < 32 or ord(c) == 127 for c in value):
            raise _usage(f"--ssh-opt {option!r}: expected KEY=VALUE (an ssh_config option)")
        out += ["-o", option]
    return out


def stored_options(options: Sequence[object], path_ok: Callable[[str], bool] = lambda _path: False) -> tuple[str, ...]:
    """Of the ssh options kept with a ref in a data file, those a reconnection may use again: well-formed, with a
    key of ``STORED_OPTION_KEYS`` and a value that key may take (a file only when ``path_ok(path)``). Everything
    else (``ProxyCommand``, ``LocalCommand``, ``PKCS11Provider``, forwardings, ``StrictHostKeyChecking=no``) is
    dropped: a file that others may write must not choose what runs."""
    kept: list[str] = []
    for option in options:
        if not isinstance(option, str):
            continue
        key, _, value = option.partition("=")
        try:
            ssh_options([option])
        except exitcodes.HwmonError:
            continue
        key = key.lower()
        check = STORED_OPTION_VALUES.get(key)
        if (check is not None and check.match(value)) or (key in STORED_OPTION_FILES and path_ok(value)):
            kept.append(option)
    return tuple(kept)
