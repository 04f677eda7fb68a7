"""`hwmon attach [REF]`: watch a run live — the dashboard on a terminal, plain lines otherwise.

REF is a log file (followed like ``tail -F``), ``-`` for stdin, a run directory, a supervised run's id or unique
prefix, a remote log (``HOST:PATH``, ``ssh://[user@]host[:port]/path``), a Slurm job (``slurm:ID`` or a bare id),
or nothing for the latest supervised run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from hwmon import exitcodes
from hwmon.commands._args import add_format_file, interval_seconds

if TYPE_CHECKING:
    from hwmon.notify.live import LiveNotifier
    from hwmon.sources.source import Source


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``hwmon attach``."""
    add_format_file(parser)  # h17a: user formats (issue 17)
    parser.add_argument(
        "ref",
        nargs="?",
        metavar="REF",
        help="log file, '-' for stdin, run id (or unique prefix), HOST:PATH or ssh://[user@]host[:port]/path (over "
        "ssh), slurm:JOBID or a bare job id; default: the latest supervised run",
    )
    parser.add_argument(
        "--ssh-opt",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an ssh option for a remote REF, passed as -o KEY=VALUE (repeatable); ~/.ssh/config applies as usual",
    )
    parser.add_argument("--from-end", action="store_true", help="skip what the log already holds; show new output")
    parser.add_argument("--plain", action="store_true", help="print plain status lines instead of the dashboard")
    parser.add_argument(
        "-f", "--follow", action="store_true", help="plain mode: keep following after the run ends (until Ctrl-C)"
    )
    parser.add_argument(
        "--interval",
        type=interval_seconds,
        default=10.0,
        metavar="S",
        help="plain mode: print a status line every S seconds, 0.1 to 86400 (default 10)",
    )
    from hwmon.notify.live import add_notify_arguments

    add_notify_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """Entry point of ``hwmon attach``."""
    ref = args.ref
    if ref is not None and not ref.strip():
        raise exitcodes.HwmonError("an empty REF names nothing (omit it for the latest run)", exitcodes.USAGE)
    if ref is None:
        from hwmon.store import registry

        ref = registry.resolve(None).run_id
    return watch(
        ref,
        plain=True if args.plain else None,
        follow=args.follow,
        from_end=args.from_end,
        interval=args.interval,
        ssh_opts=args.ssh_opt,
        notify=args.notify,
        on=args.on,
    )


def _wants_tui() -> bool:
    return sys.stdout.isatty() and os.environ.get("TERM", "") != "dumb"


def watch(
    ref: str,
    *,
    plain: bool | None = None,
    follow: bool = False,
    from_end: bool = False,
    title: str | None = None,
    interval: float = 10.0,
    ssh_opts: Sequence[str] = (),
    notify: Sequence[str] | None = None,
    on: str | None = None,
    new_run: bool = False,
) -> int:
    """Watch ``ref`` until the run ends (plain mode) or the user quits (dashboard); the exit code says how the run
    ended: ``OK`` (succeeded or unknown) or ``RUN_FAILED``. ``notify``/``on``: ``--notify``/``--on`` (see
    ``hwmon.notify.live``); ``new_run``: the caller started the run (``hwmon run``), so all of it is news.

    ``plain=None`` picks the dashboard when stdout is a terminal (and ``TERM`` is not ``dumb``), plain lines
    otherwise. This is what ``hwmon run`` calls after launching a run.
    """
    from hwmon.sources.open import open_source
    from hwmon.sources.source import stdin_source

    notice = check_missing_path(ref)
    dashboard = pick_dashboard(plain)
    if notice is not None and dashboard is None:
        from hwmon.parsers.lines import clean_text

        # The path is the user's, not ours: no escape sequence in it reaches the terminal.
        print(f"hwmon: {clean_text(notice)}", file=sys.stderr)
    if ref == "-" and dashboard is not None:
        # The dashboard reads keys from fd 0, so the piped log moves to another descriptor and fd 0 becomes the
        # controlling terminal.
        source: Source = stdin_source(_swap_stdin_for_tty())
    else:
        source = open_source(ref, from_end=from_end, ssh_opts=ssh_opts)
        _remember(ref, source, ssh_opts)
    from hwmon.notify.live import for_view

    supervised = getattr(source, "run_dir", None) is not None
    live = for_view(
        notify,
        on,
        run=source.name,
        name=title or source.name,
        ref=ref,
        supervised=supervised,
        dashboard=bool(dashboard),
        new_run=new_run,
    )
    return show(source, dashboard=dashboard, follow=follow, title=title, interval=interval, notice=notice, notify=live)


def check_missing_path(ref: str) -> str | None:
    """For a path that does not exist: an error (``BAD_INPUT``) when its directory does not exist either (nothing
    will ever appear there), else the notice that says which file, by its full path, is waited for. None for an
    existing path, ``-``, or a run id."""
    from hwmon.refs import looks_like_path, parse_remote

    if ref == "-" or not looks_like_path(ref) or ref.startswith("slurm:"):
        return None
    path = Path(ref).expanduser()
    if not os.path.lexists(path):
        if parse_remote(ref) is not None:
            return None  # HOST:PATH, ssh://: the remote side says what is missing
    try:
        os.stat(path)
        return None
    except FileNotFoundError:
        pass
    except OSError:
        return None  # not a directory on the way, no permission: opening it says so
    full = path.absolute()
    if "/" in ref:
        parent = full.parent
        if not parent.exists():
            from hwmon.parsers.lines import clean_text

            raise exitcodes.HwmonError(
                clean_text(f"{full}: no such directory {parent} (a log can only appear in a directory that exists)"),
                exitcodes.BAD_INPUT,
            )
    return f"waiting for {full} to appear (Ctrl-C to stop)"


def _remember(ref: str, source: Source, ssh_opts: Sequence[str]) -> None:
    """Note a log, remote log or Slurm job in the recent-attachments list (the fleet view shows them)."""
    from hwmon.store import recent

    if getattr(source, "run_dir", None) is not None:
        return  # a supervised run is listed from the registry already
    if type(source).__name__ == "SlurmJobSource":
        recent.remember(ref if ref.startswith("slurm:") else f"slurm:{ref}", "slurm")
        return
    kind = {"SshFollower": "ssh", "FileFollower": "file"}.get(type(getattr(source, "follower", None)).__name__)
    if kind is not None:
        recent.remember(ref, kind, tuple(ssh_opts))


def pick_dashboard(plain: bool | None) -> Callable[..., int] | None:
    """``run_dashboard`` when the dashboard should be shown (``plain=False``, or ``None`` on a terminal), else None."""
    use_tui = (not plain) if plain is not None else _wants_tui()
    if not use_tui:
        return None
    from hwmon.tui.app import run_dashboard

    return run_dashboard


def show(
    source: Source,
    *,
    dashboard: Callable[..., int] | None,
    follow: bool = False,
    title: str | None = None,
    interval: float = 10.0,
    notice: str | None = None,
    notify: LiveNotifier | None = None,
) -> int:
    """Show an open source on the dashboard (when given) or as plain lines; returns the exit code."""
    extra: dict[str, object] = {} if notify is None else {"notify": notify}
    if dashboard is not None:
        if notice:
            extra["notice"] = notice
        code: int = dashboard(source, title=title, **extra)
        return code
    from hwmon.views.plain import run_plain

    return asyncio.run(run_plain(source, interval=interval, follow=follow, notify=notify))


def _swap_stdin_for_tty() -> int:
    """Move the piped stdin to a new descriptor (returned) and put the terminal on fd 0."""
    try:
        tty = os.open("/dev/tty", os.O_RDWR | os.O_CLOEXEC)
    except OSError as exc:
        raise exitcodes.HwmonError(
            f"cannot open the terminal for keys while reading the log from stdin ({exc.strerror}); use --plain",
            exitcodes.USAGE,
        ) from None
    piped = os.dup(0)
    os.dup2(tty, 0)
    os.close(tty)
    return piped
