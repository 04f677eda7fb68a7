"""`hwmon watch [REF...] | --all`: follow runs headless and tell people and systems when one needs them.

One line per event on stdout (for a journal or ``nohup.out``); ``--notify SPEC`` sinks (``exec:CMD``, ``terminal``,
``desktop``, ``mail:ADDR``, Apprise URLs), ``--on EVENT,...`` to choose what is told; ``--metrics HOST:PORT``
serves ``/metrics`` (``--metrics-textfile PATH`` for node_exporter). With REFs it exits once every run has ended
and been told (status 1 when one failed); ``--all`` follows every run hwmon knows until SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import signal
import sys
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from hwmon import exitcodes
from hwmon.model.alerts import SILENCE_S, StallRule, tick
from hwmon.model.text import safe_text

if TYPE_CHECKING:
    from hwmon.events import Tick
    from hwmon.notify.dispatch import Notifier
    from hwmon.notify.watch import Watch
    from hwmon.slurm.parse import JobInfo
    from hwmon.sources.fleet import Fleet
    from hwmon.store import recent, registry

DEFAULT_INTERVAL = 1.0
TEXTFILE_EVERY_S = 5.0
CLOSE_GRACE_S = 10.0
MAX_ENDED_JOBS = 20


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``hwmon watch``."""
    parser.add_argument(
        "refs",
        nargs="*",
        metavar="REF",
        help="what to follow: a log file, a run id (or unique prefix), HOST:PATH, slurm:JOBID",
    )
    parser.add_argument(
        "--all",
        action="store_true",
        help="every supervised run, Slurm job of yours and recently attached log, and new ones as they appear",
    )
    parser.add_argument(
        "--notify",
        action="append",
        default=[],
        metavar="SPEC",
        help="where to tell (repeatable): exec:CMD, terminal, desktop, mail:ADDR, or an Apprise URL "
        "(slack://..., ntfy://..., mailto://..., discord://..., msteams://..., json://...)",
    )
    parser.add_argument(
        "--on",
        metavar="EVENT[,EVENT]",
        help="which events to tell: failed, succeeded, stopped, stalled, silent, nan, error, phase-overrun, eta, "
        "any other alert by name, or all (default: every event but error)",
    )
    parser.add_argument("--smtp", metavar="HOST:PORT", help="mail: through this SMTP relay (default: local sendmail)")
    parser.add_argument("--mail-from", metavar="ADDR", help="mail: the sender address (default: USER@HOST)")
    parser.add_argument(
        "--rate-limit",
        type=float,
        default=10.0,
        metavar="N",
        help="at most N messages a minute per sink, 5 at once; more are sent together (default 10)",
    )
    parser.add_argument("--metrics", metavar="HOST:PORT", help="serve Prometheus /metrics here (loopback only)")
    parser.add_argument("--metrics-public", action="store_true", help="allow --metrics on a non-loopback address")
    parser.add_argument(
        "--metrics-textfile", metavar="PATH", help="write the metrics to PATH for node_exporter (atomic rename)"
    )
    parser.add_argument(
        "--interval",
        type=float,
        default=DEFAULT_INTERVAL,
        metavar="S",
        help="seconds between looks at the runs, 0.1 to 60 (default 1)",
    )
    parser.add_argument("--silence", type=float, metavar="S", help="alert after S seconds without output (600)")
    parser.add_argument(
        "--stall-factor",
        type=float,
        metavar="F",
        help="stalled: no step for F x the usual interval (default $HWMON_STALL_FACTOR or 5)",
    )
    parser.add_argument(
        "--stall-min",
        type=float,
        metavar="S",
        help="... and for at least S seconds, so sub-second jitter never alerts (default $HWMON_STALL_MIN_S or 30)",
    )
    parser.add_argument(
        "--replay",
        action="store_true",
        help="also tell what runs did before this watch first saw them (default: only what happens from now)",
    )
    parser.add_argument("--once", action="store_true", help="one look: tell what is new, then exit (for cron)")
    parser.add_argument("--state", metavar="PATH", help="the ledger of what was told (default: $XDG_STATE_HOME/hwmon)")
    parser.add_argument(
        "--ssh-opt", action="append", default=[], metavar="KEY=VALUE", help="an ssh option for remote REFs"
    )


class _Printer:
    """One line per event, ``HH:MM:SS tag text``, from any thread."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self._lock = threading.Lock()
        self.broken = False

    def __call__(self, tag: str, text: str) -> None:
        line = f"{datetime.now():%H:%M:%S} {tag:<8} {safe_text(text, 2000)}".rstrip() + "\n"
        with self._lock:
            if self.broken:
                return
            try:
                self.out.write(line)
                self.out.flush()
            except (BrokenPipeError, OSError, ValueError):
                self.broken = True


def _ref_kind(ref: str) -> tuple[str, str]:
    """(kind, value) of a REF: ("file", abs path), ("run", run dir), ("ssh", ref), ("slurm", job id)."""
    from hwmon.refs import NameRef, RemoteRef, SlurmRef, StdinRef, parse_ref
    from hwmon.slurm import client as slurm_client
    from hwmon.store import registry

    if not ref.strip():
        raise exitcodes.HwmonError("an empty REF names nothing", exitcodes.USAGE)
    parsed = parse_ref(ref)
    if isinstance(parsed, StdinRef):
        raise exitcodes.HwmonError("watch follows files, runs, HOST:PATH and slurm:ID (not stdin)", exitcodes.USAGE)
    if isinstance(parsed, SlurmRef):
        return "slurm", parsed.job_id
    path = Path(ref).expanduser()
    if path.is_dir():
        record = registry.load(path)
        if record is None:
            raise exitcodes.HwmonError(f"{ref}: a directory, not a log or a run directory", exitcodes.BAD_INPUT)
        return "run", str(record.dir)
    if path.exists():
        return "file", str(path.resolve())
    if isinstance(parsed, RemoteRef):
        return "ssh", ref
    assert isinstance(parsed, NameRef)
    try:
        return "run", str(registry.resolve(ref).dir)
    except exitcodes.HwmonError:
        if parsed.looks_like_path:
            if not path.parent.is_dir():
                raise exitcodes.HwmonError(f"{ref}: no such directory", exitcodes.BAD_INPUT) from None
            return "file", str(path.absolute())
        if parsed.job_id is not None and slurm_client.available():
            return "slurm", parsed.job_id
        raise


def _stall_rule(args: argparse.Namespace) -> StallRule:
    """The dashboard's stall rule (``HWMON_STALL_FACTOR`` / ``HWMON_STALL_MIN_S``), with ``--stall-factor`` /
    ``--stall-min`` over it."""
    rule = StallRule.from_env(os.environ)
    return StallRule(
        rule.factor if args.stall_factor is None else args.stall_factor,
        rule.min_s if args.stall_min is None else args.stall_min,
    )


def _fleet(refs: list[str], every: bool, ssh_opts: tuple[str, ...], clock_tick: Tick) -> object:
    from hwmon.slurm import client as slurm_mod
    from hwmon.sources.fleet import CachedRegistry, Fleet
    from hwmon.store import recent, registry

    kinds = [_ref_kind(ref) for ref in refs]
    run_dirs = [Path(v) for k, v in kinds if k == "run"]
    job_ids = [v for k, v in kinds if k == "slurm"]
    extra = [recent.Recent(v, k, time.time(), ssh_opts if k == "ssh" else ()) for k, v in kinds if k in ("file", "ssh")]
    listing = CachedRegistry() if every else None

    def runs() -> list[registry.RunRecord]:
        records = listing() if listing is not None else []
        have = {r.run_id for r in records}
        for run_dir in run_dirs:
            record = registry.load(run_dir)
            if record is not None and record.run_id not in have:
                records.append(record)
        return records

    # Jobs seen queued or running, and the final record of those that left squeue (kept like the fleet keeps
    # finished runs): squeue forgets a job the moment it ends, and its end is what the watch must tell.
    live: dict[str, JobInfo] = {}
    ended: dict[str, JobInfo] = {}

    def jobs() -> list[JobInfo]:
        out: list[JobInfo] = []
        if every and slurm_mod.available():
            out.extend(slurm_mod.my_jobs())
        have = {j.job_id for j in out}
        for job_id in job_ids:
            if job_id in have:
                continue
            info = slurm_mod.show_job(job_id) or slurm_mod.sacct_job(job_id)
            if info is not None:
                out.append(info)
                have.add(job_id)
        for job in out:
            if not job.final:
                live[job.job_id] = job
        for job_id in [k for k in live if k not in have]:
            final = slurm_mod.show_job(job_id) or slurm_mod.sacct_job(job_id)
            if final is None or final.final:
                del live[job_id]
            if final is not None:
                ended[job_id] = final
                while len(ended) > MAX_ENDED_JOBS:
                    del ended[next(iter(ended))]
        return out + [job for job_id, job in ended.items() if job_id not in have]

    def recents() -> list[recent.Recent]:
        items = [r for r in recent.load() if r.kind in ("file", "ssh")] if every else []
        have = {(r.kind, r.ref) for r in items}
        return items + [r for r in extra if (r.kind, r.ref) not in have]

    return Fleet(
        runs=runs,
        jobs=jobs,
        recents=recents,
        clock=time.time,
        # The trackers' own ticks judge by the watch's rule too (a stall is not told before --stall-min).
        tick=clock_tick,
        # A run's end is read from its run.json at each listing: once a second keeps a notice within seconds.
        registry_every=1.0,
        # squeue --me every 3 s: a job's end reaches the sinks within ~5 s.
        slurm_every=3.0,
        max_finished=10 if every else max(10, len(run_dirs)),
    )


def run(args: argparse.Namespace) -> int:
    """Entry point of ``hwmon watch``."""
    from hwmon.notify.dispatch import Notifier
    from hwmon.notify.ledger import Ledger, ledger_path
    from hwmon.notify.notice import parse_on
    from hwmon.notify.sinks import SinkOptions, parse_sink
    from hwmon.notify.watch import PhaseOverruns, Watch
    from hwmon.sources.fleet import Fleet as FleetClass

    if not args.refs and not args.all:
        raise exitcodes.HwmonError("name what to watch (REF...) or --all", exitcodes.USAGE)
    if not 0.1 <= args.interval <= 60:
        raise exitcodes.HwmonError("--interval must be 0.1 to 60 seconds", exitcodes.USAGE)
    for flag, value in (("--stall-factor", args.stall_factor), ("--stall-min", args.stall_min)):
        if value is not None and not (math.isfinite(value) and value > 0):
            raise exitcodes.HwmonError(f"{flag} must be a number above 0", exitcodes.USAGE)
    if args.rate_limit <= 0:
        raise exitcodes.HwmonError("--rate-limit must be above 0", exitcodes.USAGE)
    try:
        on = parse_on(args.on)
    except ValueError as exc:
        raise exitcodes.HwmonError(f"--on: {exc}", exitcodes.USAGE) from None
    smtp = None
    if args.smtp:
        host, sep, port = args.smtp.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise exitcodes.HwmonError(f"--smtp {safe_text(args.smtp, 80)!r}: expected HOST:PORT", exitcodes.USAGE)
        smtp = (host.strip("[]"), int(port))
    options = SinkOptions(smtp=smtp, mail_from=args.mail_from)
    sinks = [parse_sink(spec, options) for spec in args.notify]
    metrics_at = None
    if args.metrics:
        from hwmon.notify.metrics import parse_listen

        metrics_at = parse_listen(args.metrics, public=args.metrics_public)

    printer = _Printer(sys.stdout)
    ledger = Ledger(Path(args.state).expanduser() if args.state else ledger_path(), warn=lambda m: printer("warn", m))
    notifier = (
        Notifier(sinks, ledger, on=on, per_minute=args.rate_limit, log=lambda line: printer("notify", line))
        if sinks
        else None
    )
    stall = _stall_rule(args)
    silence_s = SILENCE_S if args.silence is None else max(1.0, args.silence)
    fleet = _fleet(list(args.refs), args.all, tuple(args.ssh_opt), tick(stall=stall, silence_s=silence_s))
    assert isinstance(fleet, FleetClass)
    watch = Watch(
        fleet,
        notifier,
        ledger,
        replay=args.replay,
        log=printer,
        stall=stall,
        silence_s=silence_s,
        check_state=PhaseOverruns(),
    )

    stopped_by: list[int] = []
    server = None
    registry = None
    try:
        if metrics_at is not None or args.metrics_textfile:
            from hwmon.notify.metrics import WatchCollector, registry_for, serve

            counters = notifier.counters if notifier is not None else dict
            registry = registry_for(WatchCollector(watch.snapshots, counters))
            if metrics_at is not None:
                server, _thread = serve(registry, *metrics_at)
                host = metrics_at[0] if ":" not in metrics_at[0] else f"[{metrics_at[0]}]"
                printer("metrics", f"serving http://{host}:{server.server_port}/metrics")
        what = "every run hwmon knows" if args.all else f"{len(args.refs)} ref(s)"
        told = ", ".join(s.label for s in sinks) or "no sink (log only)"
        printer("watch", f"following {what}; telling {told}; pid {os.getpid()}")
        asyncio.run(_follow(watch, fleet, notifier, registry, args, printer, stopped_by))
        if registry is not None and args.metrics_textfile:
            _write_textfile(registry, args.metrics_textfile, printer)
    finally:
        if notifier is not None:
            notifier.close(CLOSE_GRACE_S)
        if server is not None:
            server.shutdown()
            server.server_close()
        ledger.close()
    if stopped_by:
        printer("watch", f"stopped by {signal.Signals(stopped_by[0]).name}")
        return exitcodes.INTERRUPTED if stopped_by[0] == signal.SIGINT else exitcodes.OK
    printer("watch", "every run has ended" if not args.once else "done")
    return exitcodes.RUN_FAILED if not args.all and watch.any_failed() else exitcodes.OK


async def _follow(
    watch: Watch,
    fleet: Fleet,
    notifier: Notifier | None,
    registry: object | None,
    args: argparse.Namespace,
    printer: _Printer,
    stopped_by: list[int],
) -> None:
    """The watch's loop: a tick every ``--interval`` seconds until stopped (or, with REFs, every run ended)."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()

    def on_signal(signum: int) -> None:
        stopped_by.append(signum)
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal, sig)
    written_version = -1
    written_at = float("-inf")
    try:
        while not stop.is_set():
            watch.tick()
            fleet.start_remote()  # follows logs named HOST:PATH over ssh (no-op for the others)
            if registry is not None and args.metrics_textfile:
                now = time.monotonic()
                if watch.snapshot_version != written_version and now - written_at >= TEXTFILE_EVERY_S:
                    _write_textfile(registry, args.metrics_textfile, printer)
                    written_version, written_at = watch.snapshot_version, now
            if args.once:
                break
            if not args.all and watch.all_ended() and (notifier is None or notifier.idle()):
                break
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), args.interval)
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        await fleet.stop_remote()


def _write_textfile(registry: object, path: str, printer: _Printer) -> None:
    from hwmon.notify.metrics import write_textfile

    try:
        write_textfile(registry, path)  # type: ignore[arg-type]
    except OSError as exc:
        printer("warn", f"cannot write {path}: {exc.strerror or exc}")
