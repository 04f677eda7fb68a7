"""`hwmon demo`: replay a bundled example run into a temporary log, with its timing compressed, and watch it live
through the same path as ``hwmon attach`` (file follower → parser → dashboard or plain lines)."""

from __future__ import annotations

import argparse
import contextlib
import shutil
import signal
import tempfile
from pathlib import Path
from types import FrameType

from hwmon import exitcodes
from hwmon.commands._args import interval_seconds, positive_float

EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "examples"
# --example name -> bundled logs in order of preference (the first one present is used).
# Both are the project's own (see hwmon.examples): a generated Cerebras appliance run, and the real output of
# `hwmon run mnist --cpu`.
EXAMPLES: dict[str, tuple[str, ...]] = {
    "cerebras": ("cerebras_gpt_small.log",),
    "mnist": ("mnist_cpu.log",),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``hwmon demo``."""
    parser.add_argument(
        "--speed",
        type=positive_float,
        default=20.0,
        metavar="X",
        help="replay X times faster than the run was (default 20)",
    )
    parser.add_argument(
        "--example", choices=sorted(EXAMPLES), default="cerebras", help="which bundled run to replay (default cerebras)"
    )
    parser.add_argument("--plain", action="store_true", help="print plain status lines instead of the dashboard")
    parser.add_argument(
        "--interval",
        type=interval_seconds,
        default=2.0,
        metavar="S",
        help="plain mode: status line every S seconds (default 2)",
    )


def example_log(name: str) -> Path:
    """The bundled log for ``--example name``."""
    for candidate in EXAMPLES.get(name, ()):
        path = EXAMPLES_DIR / candidate
        if path.is_file():
            return path
    raise exitcodes.HwmonError(f"the example {name!r} is missing from this installation", exitcodes.BAD_INPUT)


def _terminate(signum: int, frame: FrameType | None) -> None:
    # Turn SIGTERM into the same unwinding as Ctrl-C so the temporary log is removed.
    raise KeyboardInterrupt


def run(args: argparse.Namespace) -> int:
    """Entry point of ``hwmon demo``."""
    from hwmon.commands.attach import pick_dashboard, show
    from hwmon.sources.replay import ReplayWriter, plan_replay
    from hwmon.sources.source import file_source

    example = example_log(args.example)
    try:
        plan = plan_replay(example.read_bytes())
    except OSError as exc:
        raise exitcodes.HwmonError(f"cannot read {example}: {exc.strerror or exc}", exitcodes.BAD_INPUT) from None
    dashboard = pick_dashboard(True if args.plain else None)
    tmpdir = Path(tempfile.mkdtemp(prefix="hwmon-demo-"))
    previous = signal.signal(signal.SIGTERM, _terminate)
    writer: ReplayWriter | None = None
    try:
        log = tmpdir / example.name
        log.touch()
        writer = ReplayWriter(log, plan, speed=args.speed)
        # The source ends once the writer is done and the file is drained, as a supervised run's does.
        source = file_source(log, end_when=writer.done.is_set, name=f"demo: {example.name}")
        writer.start()
        title = f"hwmon demo — {example.name} at {args.speed:g}x"
        return show(source, dashboard=dashboard, title=title, interval=args.interval)
    finally:
        if writer is not None:
            writer.stop()
            if writer.is_alive():
                writer.join(timeout=2)
        shutil.rmtree(tmpdir, ignore_errors=True)
        with contextlib.suppress(ValueError, TypeError):
            signal.signal(signal.SIGTERM, previous)
