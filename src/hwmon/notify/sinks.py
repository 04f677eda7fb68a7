"""Where notices go: one class per kind of ``--notify SPEC``.

- ``exec:CMD``: CMD split like a shell word list (``shlex.split``, once, from the user's own spec) and run with
  ``subprocess`` — never through a shell, and never a command line built from log text. The notice is in the
  environment (``HWMON_EVENT``, ``HWMON_RUN``, ``HWMON_STATUS``, ``HWMON_STEP``, ``HWMON_LOSS``, ``HWMON_MESSAGE``,
  ``HWMON_REF``, ...) and, as JSON (``hwmon.notice/1``), on stdin. A non-zero exit is a failed delivery.
- ``terminal``: a bell, an OSC 9 and an OSC 777 desktop notification written to the controlling terminal
  (``/dev/tty``); inside tmux wrapped for ``allow-passthrough``. The text is ``safe_text`` (no escape of the log's
  reaches the terminal) and carries no ``;`` (the OSC 777 separator).
- ``desktop``: ``notify-send`` where a session bus is (``DBUS_SESSION_BUS_ADDRESS`` or ``$XDG_RUNTIME_DIR/bus``);
  the body is markup-escaped (notification daemons read a subset of HTML).
- ``mail:ADDR``: a plain-text mail through ``--smtp HOST:PORT``, else the local ``sendmail -t -oi``.
- anything with ``://`` (``slack://``, ``ntfy://``, ``mailto://``, ``discord://``, ``msteams://``, ``json://``...):
  an Apprise URL, sent by the ``apprise`` library (the optional extra ``hwmon[apprise]``).

A spec that cannot work here (no ``/dev/tty``, no session bus, no ``sendmail``, an URL Apprise does not know) is a
usage error when the watch starts, not a failure at the first event. ``send`` raises ``SinkError`` for a failed
delivery; the dispatcher retries it.
"""

from __future__ import annotations

import html
import json
import os
import re
import shlex
import shutil
import smtplib
import socket
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any, Protocol

from hwmon import exitcodes
from hwmon.model.text import safe_text
from hwmon.notify.notice import Notice

__all__ = ["Sink", "SinkError", "SinkOptions", "parse_sink"]

EXEC_TIMEOUT_S = 60.0
SMTP_TIMEOUT_S = 20.0
_ADDR = re.compile(r"^[^@\s,;<>()\"']+@[^@\s,;<>()\"']+$")
_SENDMAILS = ("/usr/sbin/sendmail", "/usr/lib/sendmail")


class SinkError(Exception):
    """A delivery that failed (the dispatcher retries it with backoff)."""


class Sink(Protocol):
    """A place notices go. ``spec`` is what the user gave; ``label`` is what log lines show (no secrets)."""

    spec: str
    label: str

    def send(self, notices: Sequence[Notice]) -> None:
        """Deliver ``notices`` (one, or several at once when a burst was held back by the rate limit)."""
        ...


@dataclass(frozen=True)
class SinkOptions:
    """Settings shared by the sinks: the SMTP relay for ``mail:`` (None: the local sendmail), the sender address,
    and the terminal the ``terminal`` sink writes to."""

    smtp: tuple[str, int] | None = None
    mail_from: str | None = None
    tty: str = "/dev/tty"


def title_and_body(notices: Sequence[Notice]) -> tuple[str, str]:
    """One notice's own title and body; several (a burst) as one message listing each."""
    if len(notices) == 1:
        return notices[0].title, notices[0].body
    title = f"hwmon: {len(notices)} events"
    lines = []
    for notice in notices:
        lines.append(f"{notice.name}: {notice.event} — {notice.message}".rstrip(" —"))
        lines.append(f"  {notice.attach}")
    return title, "\n".join(lines)


def _usage(message: str) -> exitcodes.HwmonError:
    return exitcodes.HwmonError(message, exitcodes.USAGE)


# ------------------------------------------------------------------------------------------------------ exec


class ExecSink:
    """``exec:CMD`` (see the module docstring)."""

    def __init__(self, spec: str, argv: list[str]) -> None:
        self.spec = spec
        self.argv = argv
        self.label = f"exec:{safe_text(os.path.basename(argv[0]), 60)}"

    def send(self, notices: Sequence[Notice]) -> None:
        for notice in notices:
            env = {**os.environ, **notice.env()}
            try:
                done = subprocess.run(
                    self.argv,
                    input=json.dumps(notice.to_json()).encode(),
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                    timeout=EXEC_TIMEOUT_S,
                    close_fds=True,
                    start_new_session=True,
                    check=False,
                )
            except subprocess.TimeoutExpired:
                raise SinkError(f"no exit within {EXEC_TIMEOUT_S:.0f} s") from None
            except OSError as exc:
                raise SinkError(f"cannot run {self.argv[0]}: {exc.strerror or exc}") from None
            if done.returncode != 0:
                tail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] if done.stderr else []
                why = f": {safe_text(tail[0], 200)}" if tail else ""
                raise SinkError(f"exit status {done.returncode}{why}")


def _exec_sink(spec: str) -> ExecSink:
    command = spec[len("exec:") :]
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise _usage(f"--notify {spec!r}: cannot split the command: {exc}") from None
    if not argv:
        raise _usage("--notify exec: needs a command (exec:CMD [ARG...])")
    if os.sep not in argv[0] and shutil.which(argv[0]) is None:
        raise _usage(f"--notify exec: {argv[0]!r} is not on PATH")
    return ExecSink(spec, argv)


# ------------------------------------------------------------------------------------------------------ terminal


def terminal_bytes(title: str, body: str, *, tmux: bool = False) -> bytes:
    """A bell, an OSC 9 and an OSC 777 notification carrying ``title`` and the first line of ``body``; wrapped for
    tmux's ``allow-passthrough`` when ``tmux``. Every piece of text is ``safe_text`` and has no ``;``."""

    def clean(text: str, limit: int) -> str:
        return safe_text(text, limit).replace(";", ",")

    first = body.splitlines()[0] if body else ""
    short_title, short_body = clean(title, 120), clean(first, 240)
    osc9 = f"\x1b]9;{short_title}: {short_body}\x07"
    osc777 = f"\x1b]777;notify;{short_title};{short_body}\x07"
    if tmux:
        osc9, osc777 = (f"\x1bPtmux;{seq.replace(chr(27), chr(27) * 2)}\x1b\\" for seq in (osc9, osc777))
    return ("\x07" + osc9 + osc777).encode("utf-8")


class TerminalSink:
    """``terminal`` (see the module docstring)."""

    label = "terminal"

    def __init__(self, spec: str, tty: str) -> None:
        self.spec = spec
        self.tty = tty

    def send(self, notices: Sequence[Notice]) -> None:
        title, body = title_and_body(notices)
        data = terminal_bytes(title, body, tmux=bool(os.environ.get("TMUX")))
        try:
            fd = os.open(self.tty, os.O_WRONLY | os.O_NOCTTY | os.O_CLOEXEC)
        except OSError as exc:
            raise SinkError(f"cannot open {self.tty}: {exc.strerror or exc}") from None
        try:
            # One write: the notification never lands in the middle of another writer's escape sequence.
            os.write(fd, data)
        except OSError as exc:
            raise SinkError(f"cannot write to {self.tty}: {exc.strerror or exc}") from None
        finally:
            os.close(fd)


def _terminal_sink(spec: str, options: SinkOptions) -> TerminalSink:
    try:
        os.close(os.open(options.tty, os.O_WRONLY | os.O_NOCTTY | os.O_CLOEXEC))
    except OSError as exc:
        raise _usage(f"--notify terminal: no controlling terminal ({options.tty}: {exc.strerror or exc})") from None
    return TerminalSink(spec, options.tty)


# ------------------------------------------------------------------------------------------------------ desktop


def session_bus() -> str | None:
    """The user's D-Bus session bus address, or None when there is none (a plain ssh login, a cron job)."""
    address = os.environ.get("DBUS_SESSION_BUS_ADDRESS")
    if address:
        return address
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and os.path.exists(os.path.join(runtime, "bus")):
        return f"unix:path={os.path.join(runtime, 'bus')}"
    return None


class DesktopSink:
    """``desktop`` (see the module docstring)."""

    label = "desktop"

    def __init__(self, spec: str, program: str, bus: str) -> None:
        self.spec = spec
        self.program = program
        self.bus = bus

    def send(self, notices: Sequence[Notice]) -> None:
        title, body = title_and_body(notices)
        urgent = any(n.event in ("failed", "stalled", "silent", "nan") for n in notices)
        argv = [
            self.program,
            "--app-name=hwmon",
            f"--urgency={'critical' if urgent else 'normal'}",
            "--",
            safe_text(title, 200),
            html.escape(safe_text(body, 2000, tab=" ").replace(" · ", " - "), quote=False),
        ]
        env = {**os.environ, "DBUS_SESSION_BUS_ADDRESS": self.bus}
        try:
            done = subprocess.run(argv, env=env, capture_output=True, timeout=30, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise SinkError(f"notify-send: {exc}") from None
        if done.returncode != 0:
            tail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:]
            raise SinkError(f"notify-send exit status {done.returncode}{': ' + safe_text(tail[0]) if tail else ''}")


def _desktop_sink(spec: str) -> DesktopSink:
    program = shutil.which("notify-send")
    if program is None:
        raise _usage("--notify desktop: notify-send is not installed (Debian: apt install libnotify-bin)")
    bus = session_bus()
    if bus is None:
        raise _usage("--notify desktop: no session bus here (DBUS_SESSION_BUS_ADDRESS unset); try 'terminal'")
    return DesktopSink(spec, program, bus)


# ------------------------------------------------------------------------------------------------------ mail


def mail_message(notices: Sequence[Notice], to: str, sender: str) -> EmailMessage:
    """The mail for ``notices``: subject = title, plain-text body (both terminal-safe: no header can be injected,
    no escape reaches a mail reader in a terminal)."""
    title, body = title_and_body(notices)
    message = EmailMessage()
    message["Subject"] = safe_text(title, 200)
    message["From"] = sender
    message["To"] = to
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(domain=socket.gethostname() or "localhost")
    message["X-Hwmon-Event"] = ",".join(sorted({n.event for n in notices}))
    message.set_content(body + "\n")
    return message


class MailSink:
    """``mail:ADDR`` (see the module docstring)."""

    def __init__(self, spec: str, to: str, options: SinkOptions, sendmail: str | None) -> None:
        self.spec = spec
        self.to = to
        self.smtp = options.smtp
        self.sender = options.mail_from or f"{os.environ.get('USER') or 'hwmon'}@{socket.gethostname() or 'localhost'}"
        self.sendmail = sendmail
        self.label = f"mail:{to}"

    def send(self, notices: Sequence[Notice]) -> None:
        message = mail_message(notices, self.to, self.sender)
        if self.smtp is not None:
            host, port = self.smtp
            try:
                with smtplib.SMTP(host, port, timeout=SMTP_TIMEOUT_S) as client:
                    client.send_message(message)
            except (OSError, smtplib.SMTPException) as exc:
                raise SinkError(f"SMTP {host}:{port}: {safe_text(exc, 200)}") from None
            return
        assert self.sendmail is not None
        try:
            done = subprocess.run(
                [self.sendmail, "-t", "-oi"], input=message.as_bytes(), capture_output=True, timeout=60, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise SinkError(f"sendmail: {exc}") from None
        if done.returncode != 0:
            raise SinkError(f"sendmail exit status {done.returncode}")


def _mail_sink(spec: str, options: SinkOptions) -> MailSink:
    to = spec[len("mail:") :].strip()
    if not _ADDR.match(to):
        raise _usage(f"--notify mail: {safe_text(to, 80)!r} is not a mail address (mail:user@host)")
    sendmail = None
    if options.smtp is None:
        sendmail = shutil.which("sendmail") or next((p for p in _SENDMAILS if os.access(p, os.X_OK)), None)
        if sendmail is None:
            raise _usage("--notify mail: no local sendmail; name a relay with --smtp HOST:PORT")
    return MailSink(spec, to, options, sendmail)


# ------------------------------------------------------------------------------------------------------ Apprise


def redact_url(url: str) -> str:
    """What log lines show of an Apprise URL: its scheme, and its host when it is a host name or address (``json://
    127.0.0.1:8000``, ``ntfy://ntfy.sh``); the rest, and a "host" that is a token (``slack://T1JJ3T3L2/…``), never."""
    scheme, _, rest = url.partition("://")
    host = re.split(r"[/?#]", rest.rpartition("@")[2], maxsplit=1)[0]
    shown = host if ("." in host or host.startswith("[") or host.split(":")[0] == "localhost") else "…"
    return safe_text(f"{scheme}://{shown}", 80)


class AppriseSink:
    """Any Apprise URL (see the module docstring)."""

    def __init__(self, spec: str, apprise: Any) -> None:
        self.spec = spec
        self.label = redact_url(spec)
        self._apprise_mod = apprise
        self._client = apprise.Apprise()
        if not self._client.add(spec):
            raise _usage(f"--notify {self.label}...: not an URL Apprise can send to")

    def send(self, notices: Sequence[Notice]) -> None:
        apprise = self._apprise_mod
        title, body = title_and_body(notices)
        events = {n.event for n in notices}
        kind = (
            apprise.NotifyType.FAILURE
            if "failed" in events
            else apprise.NotifyType.SUCCESS
            if events == {"succeeded"}
            else apprise.NotifyType.WARNING
        )
        with apprise.LogCapture(level=apprise.logging.WARNING, fmt="%(message)s") as captured:
            ok = self._client.notify(title=title, body=body, notify_type=kind, body_format=apprise.NotifyFormat.TEXT)
            detail = captured.getvalue().strip().splitlines()
        if not ok:
            raise SinkError(f"Apprise could not deliver{': ' + safe_text(detail[-1], 200) if detail else ''}")


def _apprise_sink(spec: str) -> AppriseSink:
    try:
        import apprise
    except ImportError:
        raise exitcodes.HwmonError(
            f"--notify {redact_url(spec)}...: needs the apprise package: pip install 'hwmon[apprise]'",
            exitcodes.MISSING_PACKAGE,
        ) from None
    return AppriseSink(spec, apprise)


# ------------------------------------------------------------------------------------------------------ parsing

SPEC_FORMS = "exec:CMD, terminal, desktop, mail:ADDR, or an Apprise URL (slack://..., ntfy://..., json://...)"


def parse_sink(spec: str, options: SinkOptions | None = None) -> Sink:
    """The sink ``spec`` names, checked for this machine (raises ``HwmonError``: ``USAGE``, or ``MISSING_PACKAGE``
    for an Apprise URL without apprise)."""
    options = options or SinkOptions()
    text = spec.strip()
    if text.startswith("exec:"):
        return _exec_sink(text)
    if text == "terminal":
        return _terminal_sink(text, options)
    if text == "desktop":
        return _desktop_sink(text)
    if text.startswith("mail:"):
        return _mail_sink(text, options)
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", text):
        return _apprise_sink(text)
    raise _usage(f"--notify {safe_text(spec, 80)!r}: not a sink ({SPEC_FORMS})")
