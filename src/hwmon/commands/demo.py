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
# Default replay speed per example, so that each lasts long enough to watch (>= 20 s): the Cerebras run took 51
# minutes (20x: about 70 s, its long queue and compile capped), the MNIST run 23 s (1x: as it happened).
EXAMPLE_SPEEDS: dict[str, float] = {"cerebras": 20.0, "mnist": 1.0}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``hwmon demo``."""
    parser.add_argument(
        "--speed",
        type=positive_float,
        default=None,
        metavar="X",
        help="replay X times faster than the run was (default: 20 for cerebras, 1 for mnist, so each lasts 20 s "
        "or more)",
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
    speed: float = args.speed if args.speed is not None else EXAMPLE_SPEEDS.get(args.example, 20.0)
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
        writer = ReplayWriter(log, plan, speed=speed)
        # The source ends once the writer is done and the file is drained, as a supervised run's does.
        source = file_source(log, end_when=writer.done.is_set, name=f"demo: {example.name}")
        # The replayed log is a temporary file, gone once the demo ends: the closing line offers the demo again
        # instead of an `hwmon attach` of a file that no longer exists.
        setattr(source, "closing_hint", f"again with: hwmon demo --example {args.example}")  # noqa: B010
        writer.start()
        title = f"hwmon demo — {example.name} at {speed:g}x"
        return show(source, dashboard=dashboard, title=title, interval=args.interval)
    finally:
        if writer is not None:
            writer.stop()
            if writer.is_alive():
                writer.join(timeout=2)
        shutil.rmtree(tmpdir, ignore_errors=True)
        with contextlib.suppress(ValueError, TypeError):
            signal.signal(signal.SIGTERM, previous)
