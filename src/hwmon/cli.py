"""The ``hwmon`` command line. Each subcommand lives in ``hwmon.commands.<name>`` and is imported only when used,
so ``hwmon summary`` never pays for Textual's import."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import NoReturn

from hwmon import __version__, exitcodes, shutdown

# name -> one-line help. Each module hwmon.commands.<name> has add_arguments(parser) and run(args) -> int.
COMMANDS: dict[str, str] = {
    "demo": "replay a bundled example run and show the live dashboard (no accelerator needed)",
    "run": "launch and supervise a run (mnist on --ipu/--csx/--gpu/--cpu, or -- ANY COMMAND)",
    "attach": "watch a run live: a log, '-' for stdin, a run id, HOST:PATH over ssh, slurm:JOBID, or the latest run",
    "summary": "summarise a log (or HOST:PATH): phases, steps, loss, rates, checkpoints, eval, errors",
    "export": "export a log's full-resolution steps, eval metrics or phases (csv, jsonl, parquet, tensorboard)",
    "compare": "compare runs side by side: phases, time to first step, throughput, loss, eval, status",
    "history": "list the runs hwmon has recorded (the history that expected phase durations come from)",
    "ls": "list supervised runs and your Slurm jobs",
    "stop": "stop a supervised run (SIGINT, then SIGTERM, then SIGKILL; scancel for a Slurm job)",
    "top": "the fleet view: every run, Slurm job and recently attached log in one live table (also: hwmon alone)",
    "formats": "list the log formats hwmon reads (built-in, learned, yours); 'formats test FILE LOG' tries yours",
    "watch": "follow runs headless and tell when one fails, stalls or ends (exec, terminal, desktop, mail, Apprise;"
    " Prometheus /metrics)",
    "report": "write a run as one self-contained HTML file to share (charts, phases, alerts, the last log lines)",
}
# Answered by cli.py itself (no module): `hwmon help [COMMAND]`.
HELP_COMMAND = ("help", "show this help, or one command's: hwmon help COMMAND (the same as hwmon COMMAND --help)")
# Commands that read no log, so they do not load the user's format files (see hwmon.sources.formats).
_NO_FORMATS = frozenset({"stop", "history", "formats"})


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(exitcodes.USAGE, f"hwmon: error: {message}\n")


def _epilog() -> str:
    rows = "\n".join(f"  {code:>3}  {text}" for code, text in sorted(exitcodes.DESCRIPTIONS.items()))
    return f"exit codes:\n{rows}"


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The full parser. With ``only``, just that subcommand's module is imported and configured (the others are
    listed but bare), so a single command pays only for its own imports."""
    parser = _Parser(
        prog="hwmon",
        description="Make AI-accelerator training runs legible while they run.",
        epilog=_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-V", "--version", action="version", version=f"hwmon {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, help_text in COMMANDS.items():
        # The exit-code table is in `hwmon --help` only; each command's help stays about the command.
        command_parser = sub.add_parser(
            name,
            help=help_text,
            description=help_text,
            epilog="exit codes: see 'hwmon --help'",
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        if only is None or only == name:
            module = importlib.import_module(f"hwmon.commands.{name}")
            module.add_arguments(command_parser)
            command_parser.set_defaults(_module=module)
    help_parser = sub.add_parser(HELP_COMMAND[0], help=HELP_COMMAND[1], description=HELP_COMMAND[1])
    help_parser.add_argument("topic", nargs="?", metavar="COMMAND", help="the command to explain")
    return parser


def show_help(topic: str | None) -> int:
    """``hwmon help [COMMAND]``: the overall help (every command, the exit codes) or one command's, on stdout."""
    if topic is None:
        build_parser(only="").print_help()
        return exitcodes.OK
    if topic == HELP_COMMAND[0]:
        print(f"usage: hwmon help [COMMAND]\n\n{HELP_COMMAND[1]}")
        return exitcodes.OK
    if topic not in COMMANDS:
        suggestion = did_you_mean(topic)
        hint = f" (did you mean '{suggestion}'?)" if suggestion else f"; commands: {', '.join(COMMANDS)}"
        from hwmon.model.text import safe_text

        print(f"hwmon: error: no command '{safe_text(topic)}' to explain{hint}", file=sys.stderr)
        return exitcodes.USAGE
    parser = build_parser(only=topic)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            action.choices[topic].print_help()
    return exitcodes.OK


def did_you_mean(word: str) -> str | None:
    """The command ``word`` is probably a typo of (``atach`` -> ``attach``), or None."""
    import difflib

    matches = difflib.get_close_matches(word, list(COMMANDS), n=1, cutoff=0.6)
    return matches[0] if matches else None


def entry() -> NoReturn:
    """The ``hwmon`` console script: ``main()``, then out of the process (quickly after a dashboard: see
    ``hwmon.shutdown``)."""
    shutdown.leave(main())


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if not args_list and sys.stdout.isatty() and sys.stdin.isatty():
        # `hwmon` alone on a terminal: the fleet view (without a terminal it prints the usage, as before).
        args_list = ["top"]
    first = next((a for a in args_list if not a.startswith("-")), None)
    if first == HELP_COMMAND[0] and args_list[0] == first:
        rest = [a for a in args_list[1:] if a not in ("-h", "--help")]
        if len(rest) > 1:
            print("hwmon: error: hwmon help takes one COMMAND at most", file=sys.stderr)
            return exitcodes.USAGE
        return show_help(rest[0] if rest else None)
    if first is not None and first not in COMMANDS:
        suggestion = did_you_mean(first)
        if suggestion is not None:
            build_parser(only="").print_usage(sys.stderr)
            print(f"hwmon: error: unknown command '{first}' (did you mean '{suggestion}'?)", file=sys.stderr)
            return exitcodes.USAGE
    parser = build_parser(only=first if first in COMMANDS else None)
    args = parser.parse_args(args_list)
    if args.command is None:
        parser.print_help()
        return exitcodes.USAGE
    _configure_ranks()
    try:
        if args.command not in _NO_FORMATS:
            from hwmon.sources.formats import install

            install(getattr(args, "format_file", None) or ())
        code: int = args._module.run(args)
        sys.stdout.flush()  # a full device or a closed pipe fails here, not in the interpreter's exit
        return code
    except exitcodes.HwmonError as exc:
        from hwmon.model.text import safe_text

        print(f"hwmon: {safe_text(str(exc))}", file=sys.stderr)  # errors quote file names and run ids
        return exc.code
    except KeyboardInterrupt:
        print("hwmon: interrupted", file=sys.stderr)
        return exitcodes.INTERRUPTED
    except BrokenPipeError:
        # `hwmon summary x | head`: the reader went away; that is not an error of ours. Point stdout at devnull
        # so the interpreter's final flush does not raise again.
        _stdout_to_devnull()
        return exitcodes.OK
    except OSError as exc:
        if not _stdout_failed(exc):
            raise
        # `hwmon summary x > /dev/full`: one line and exit 8, not a traceback and exit 1 (which --exit-status
        # reads as "the run failed").
        print(
            f"hwmon: cannot write the output (stdout): {' '.join((exc.strerror or str(exc)).split())}", file=sys.stderr
        )
        _stdout_to_devnull()
        return exitcodes.CANNOT_WRITE


def _stdout_failed(exc: OSError) -> bool:
    """Whether ``exc`` is a failed write of the output: a write error naming no file (an open or a read names
    its file), or stdout failing again when what is left in its buffer is written."""
    import errno

    if exc.filename is None and exc.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT, errno.EIO):
        return True
    try:
        sys.stdout.flush()
    except OSError:
        return True
    return False


def _stdout_to_devnull() -> None:
    """Point stdout at devnull so the interpreter's final flush does not raise again."""
    import os

    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _configure_ranks() -> None:
    """The rank alerts' limits from ``HWMON_RANK_*`` (issue 21), for every command of this process."""
    import os

    from hwmon.model.dist_state import RankLimits
    from hwmon.model.reducer.ranks import configure

    limits, complaints = RankLimits.from_env(os.environ)
    for complaint in complaints:
        print(f"hwmon: {complaint}", file=sys.stderr)
    configure(limits)
