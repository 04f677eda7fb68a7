"""``--notify`` for the views that show one run (the dashboard, plain mode): the same events, sinks and rules as
``hwmon watch``, for the run on screen.

The view calls ``observe(state, now, catching_up=...)`` after it applied a batch and checked the time alerts (it
only reads the state). What the run already held when the view opened it (read while catching up) is not told —
attaching to a run that failed an hour ago does not ring the bell — and each event after that is told once. The
ledger is the process's own (in memory): every dashboard tells its own terminal.
"""

from __future__ import annotations

import argparse
import socket
from collections.abc import Callable, Sequence
from typing import Any

from hwmon.model import figures
from hwmon.model.state import RunState
from hwmon.notify.dispatch import Notifier
from hwmon.notify.ledger import Ledger
from hwmon.notify.notice import Notice, NoticeDetector, RunFacts, parse_on
from hwmon.notify.sinks import Sink, SinkOptions, parse_sink

__all__ = ["DEFAULT_DASHBOARD_ON", "LiveNotifier", "live_notifier"]

# A supervised run's dashboard tells the terminal of these without being asked.
DEFAULT_DASHBOARD_ON = "failed,succeeded"


class LiveNotifier:
    """Tells the events of one run (see the module docstring)."""

    def __init__(self, notifier: Notifier, facts: RunFacts, *, new_run: bool = False) -> None:
        self.notifier = notifier
        self.facts = facts
        self._detector = NoticeDetector(facts)
        # A run this command started (``hwmon run``) has no past to skip: everything in it is news.
        self._armed = new_run
        self.told: list[Notice] = []

    def observe(
        self, state: RunState, now: float | None, *, catching_up: bool = False, status: str | None = None
    ) -> None:
        """Look at the run after a change (``status``: the view's own status word when it has one, e.g. the
        supervisor's record; else the model's)."""
        word = status or figures.display_status(state, now)
        facts = RunFacts(self.facts.key, self.facts.run, self.facts.name, self.facts.host, word, self.facts.ref)
        notices = self._detector.update(facts, state, now)
        if not self._armed:
            # What the run held when the view opened it is history; from the first look after catching up on.
            self._armed = not catching_up
            return
        for notice in notices:
            if self.notifier.submit(notice):
                self.told.append(notice)

    def close(self, grace_s: float = 5.0) -> None:
        """Send what is queued (up to ``grace_s``), then stop."""
        self.notifier.close(grace_s)


def add_notify_arguments(parser: argparse.ArgumentParser, **extra: Any) -> None:
    """``--notify SPEC`` (repeatable) and ``--on EVENT[,EVENT]`` for a command that shows one run."""
    parser.add_argument(
        "--notify",
        action="append",
        metavar="SPEC",
        help="tell when the run fails, stalls or ends (as hwmon watch: exec:CMD, terminal, desktop, mail:ADDR, an "
        "Apprise URL; repeatable; a supervised run's dashboard tells 'terminal' of failed/succeeded by default)",
        **extra,
    )
    parser.add_argument(
        "--on",
        metavar="EVENT[,EVENT]",
        help="which events --notify tells (as hwmon watch)",
        **extra,
    )


def for_view(
    specs: Sequence[str] | None,
    on: str | None,
    *,
    run: str,
    name: str,
    ref: str,
    supervised: bool,
    dashboard: bool,
    new_run: bool = False,
) -> LiveNotifier | None:
    """The notifier of ``hwmon attach``/``run``: the ``--notify`` sinks, or by default, for a supervised run on the
    dashboard, ``terminal`` for ``failed`` and ``succeeded`` (silently none when there is no terminal to tell).
    ``new_run``: the command started the run (tell from its first line, not from when the view was up)."""
    from hwmon import exitcodes

    if specs:
        return live_notifier(specs, on, run=run, name=name, ref=ref, new_run=new_run)
    if not (supervised and dashboard):
        return None
    try:
        return live_notifier(["terminal"], on or DEFAULT_DASHBOARD_ON, run=run, name=name, ref=ref, new_run=new_run)
    except exitcodes.HwmonError:
        return None


def live_notifier(
    specs: Sequence[str],
    on: str | None,
    *,
    run: str,
    name: str,
    ref: str,
    options: SinkOptions | None = None,
    log: Callable[[str], None] = lambda line: None,
    new_run: bool = False,
) -> LiveNotifier | None:
    """A notifier for one view from ``--notify``/``--on`` (None without sinks). Raises ``HwmonError`` for a spec
    that cannot work here (``parse_sink``) or a bad ``--on`` (``USAGE``)."""
    from hwmon import exitcodes

    if not specs:
        return None
    try:
        chosen = parse_on(on)
    except ValueError as exc:
        raise exitcodes.HwmonError(f"--on: {exc}", exitcodes.USAGE) from None
    sinks: list[Sink] = [parse_sink(spec, options) for spec in specs]
    notifier = Notifier(sinks, Ledger(None), on=chosen, log=log)
    facts = RunFacts(f"view:{run}", run, name, socket.gethostname(), "running", ref)
    return LiveNotifier(notifier, facts, new_run=new_run)
