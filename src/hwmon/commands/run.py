"""`hwmon run`: launch a workload under a detached supervisor, then watch it.

hwmon run [--detach] [--no-tui] [--dir DIR] mnist --cpu|--gpu|--ipu|--ipu-model|--csx [workload options]
hwmon run [--detach] [--no-tui] [--dir DIR] -- CMD ARGS...
"""

from __future__ import annotations

import argparse
import importlib
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any, NoReturn

from hwmon import exitcodes
from hwmon.model.text import safe_text

WORKLOADS = ("mnist",)
DEVICE_FLAGS = ("cpu", "gpu", "ipu", "ipu-model", "csx")
CS_USERNODE_CONFIG = "/opt/cerebras/config_v2"


def _add_launch_options(parser: argparse.ArgumentParser, default: object = None) -> None:
    # Accepted both before and after the workload name; after it they default to SUPPRESS so they do not
    # overwrite values given before it.
    kw: dict[str, Any] = {} if default is None else {"default": default}
    parser.add_argument("--detach", action="store_true", help="start the run and return at once, printing its id", **kw)
    parser.add_argument("--no-tui", action="store_true", help="stream plain lines instead of the dashboard", **kw)
    from hwmon.notify.live import add_notify_arguments

    add_notify_arguments(parser, **kw)
    parser.add_argument(
        "--dir", type=Path, metavar="DIR", help="run directory (default: a new one under the registry)", **kw
    )
    parser.add_argument(
        "--python",
        metavar="PATH",
        help="interpreter that runs the workload (default: this one); vendor stacks live in their own venvs",
        **kw,
    )
    parser.add_argument(
        "--no-check", action="store_true", help="skip checking that the interpreter can import the device stack", **kw
    )
    parser.add_argument(
        "--sbatch",
        action="store_true",
        help="submit the run as a Slurm batch job (sbatch) instead of starting it here; hwmon follows its queue "
        "state and output file",
        **kw,
    )
    parser.add_argument(
        "--sbatch-arg",
        action="append",
        metavar="ARG",
        help="an argument for sbatch, e.g. --sbatch-arg=--partition=debug (repeatable; implies --sbatch)",
        **kw,
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``hwmon run``; the workload's own options come after its name."""
    parser.usage = (
        "hwmon run [--detach] [--no-tui] [--dir DIR] [--sbatch [--sbatch-arg=ARG ...]] mnist "
        "--cpu|--gpu|--ipu|--ipu-model|--csx [options]\n"
        "       hwmon run [--detach] [--no-tui] [--dir DIR] [--sbatch [--sbatch-arg=ARG ...]] -- CMD [ARGS...]"
    )
    parser.description = (
        "Launch a run under a supervisor that survives this terminal; its output goes to output.log in the run "
        "directory and the dashboard attaches to it. 'hwmon run mnist --help' lists the workload's options."
    )
    _add_launch_options(parser)
    parser.add_argument("target", nargs=argparse.REMAINDER, metavar="mnist ... | -- CMD ...")


class _WorkloadParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        raise exitcodes.HwmonError(f"run mnist: {message}", exitcodes.USAGE)


def _workload_options_help(workload: argparse.ArgumentParser) -> str:
    """The workload's own options, once: without its -h and its --device (the device flags above choose it)."""
    formatter = argparse.HelpFormatter("hwmon run mnist")
    formatter.start_section("workload options")
    formatter.add_arguments([a for a in workload._actions if a.dest not in ("help", "device")])
    formatter.end_section()
    return formatter.format_help()


def _mnist_command(rest: list[str], args: argparse.Namespace) -> tuple[list[str], str, bool]:
    """Validate ``mnist`` options and build the workload command line. Returns (argv, device, whether a CSX cluster
    configuration is needed)."""
    from hwmon.runners import workloads

    # The workload module is Python-3.8 code outside the type-checked package; use it through a plain module.
    mnist = importlib.import_module("hwmon.runners.workloads.mnist")

    parser = _WorkloadParser(
        prog="hwmon run mnist",
        allow_abbrev=False,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Train MNIST on one device under hwmon's supervisor; the dashboard attaches to it.",
        epilog=_workload_options_help(mnist.build_parser()),
    )
    group = parser.add_mutually_exclusive_group(required=True)
    for flag in DEVICE_FLAGS:
        group.add_argument(f"--{flag}", dest="device", action="store_const", const=flag, help=f"train on {flag}")
    _add_launch_options(parser, default=argparse.SUPPRESS)
    own, rest_args = parser.parse_known_args(rest)
    for key, value in vars(own).items():
        if key != "device":
            setattr(args, key, value)
    device: str = own.device
    # The workload's own parser validates the remaining options now, not after the run has been launched.
    workload_parser: argparse.ArgumentParser = mnist.build_parser()
    workload_parser.prog = "hwmon run mnist"

    def fail(message: str) -> NoReturn:
        raise exitcodes.HwmonError(f"run mnist: {message}", exitcodes.USAGE)

    workload_parser.error = fail  # type: ignore[method-assign]
    if "--device" in rest_args:
        fail("choose the device with --cpu/--gpu/--ipu/--ipu-model/--csx")
    parsed = workload_parser.parse_args(rest_args)
    if parsed.data and not os.path.isdir(parsed.data):
        # Said here, before launching: the workload's own error would land only in the run's log.
        raise exitcodes.HwmonError(
            f"run mnist: --data {parsed.data}: no such directory (give a directory holding the MNIST IDX files)",
            exitcodes.DATA_NOT_FOUND,
        )
    if parsed.data:
        # The workload runs in this cwd too, but run.json should say exactly which data was used.
        index = rest_args.index("--data") if "--data" in rest_args else -1
        if index >= 0 and index + 1 < len(rest_args):
            rest_args[index + 1] = os.path.abspath(rest_args[index + 1])
        else:
            rest_args = [a for a in rest_args if not a.startswith("--data=")] + ["--data", os.path.abspath(parsed.data)]
    cluster_check = device == "csx" and parsed.cs_backend == "csx" and not (parsed.validate_only or parsed.mgmt_address)
    script = Path(workloads.__file__).resolve().parent / "mnist.py"
    python = args.python or sys.executable
    return [python, str(script), "--device", device, *rest_args], device, cluster_check


def run(args: argparse.Namespace) -> int:
    """Launch, then watch (or return at once with ``--detach``)."""
    from hwmon.runners import devices, supervisor

    target: list[str] = list(args.target)
    workload: str | None = None
    device: str | None = None
    needs_cluster = False
    if target and target[0] == "--":
        command = target[1:]
    elif target and target[0] in WORKLOADS:
        workload = target[0]
        command, device, needs_cluster = _mnist_command(target[1:], args)
    elif target and target[0].startswith("-"):
        raise exitcodes.HwmonError(f"unknown option {target[0]!r} (put the command after '--')", exitcodes.USAGE)
    else:
        command = target
        # A bare name is a workload or a program; one that is neither is a typo, not a run to launch and watch fail.
        if command and shutil.which(command[0]) is None and not os.path.exists(command[0]):
            raise exitcodes.HwmonError(
                f"unknown workload or command {command[0]!r} (workloads: {', '.join(WORKLOADS)}; "
                "to run a command: hwmon run -- CMD ARGS...)",
                exitcodes.USAGE,
            )
    if not command:
        raise exitcodes.HwmonError("nothing to run: give a workload (mnist) or '-- CMD ARGS...'", exitcodes.USAGE)
    if workload is not None and device is not None and not args.no_check:
        devices.check_interpreter(command[0], device)
    if needs_cluster and not os.path.exists(CS_USERNODE_CONFIG):
        raise exitcodes.HwmonError(
            f"--csx: no Cerebras cluster configuration ({CS_USERNODE_CONFIG} is missing and no --mgmt-address "
            "given); run on a Cerebras user node, pass --mgmt-address HOST:PORT, or use --cs-backend cpu or "
            "--validate-only",
            exitcodes.DEVICE_UNAVAILABLE,
        )
    sbatch_args: list[str] = list(getattr(args, "sbatch_arg", None) or [])
    if getattr(args, "sbatch", False) or sbatch_args:
        from hwmon.slurm.watcher import submit_run

        record = submit_run(
            command,
            sbatch_args=sbatch_args,
            workload=workload,
            device=device,
            run_dir=args.dir,
            extra={"python": command[0]} if workload else None,
        )
        started = f"submitted as Slurm job {record.slurm_job_id}"
    else:
        record = supervisor.launch(
            command,
            workload=workload,
            device=device,
            run_dir=args.dir,
            extra={"python": command[0]} if workload else None,
        )
        if record.status == "failed" and record.pid is None:
            raise exitcodes.HwmonError(f"run {record.run_id}: {record.message}", exitcodes.RUN_FAILED)
        started = "started"
    if args.detach:
        print(record.run_id)
        message = (
            f"hwmon: run {record.run_id} {started}; log {record.log_path}; attach with 'hwmon attach {record.run_id}'"
        )
        print(safe_text(message), file=sys.stderr)  # the log path is a directory the user named
        return exitcodes.OK
    plain: bool | None = True if args.no_tui else None
    # The dashboard prints its own closing line (how the run stands, how to come back or stop it): one line.
    from hwmon.commands import attach

    dashboard = plain is None and attach._wants_tui()
    try:
        code = _watch(
            record.run_id,
            plain=plain,
            title=" ".join([workload or "", device or ""]).strip() or None,
            notify=getattr(args, "notify", None),
            on=getattr(args, "on", None),
        )
    except KeyboardInterrupt:
        print(
            f"\nhwmon: detached; run {record.run_id} continues (hwmon attach / hwmon stop {record.run_id})",
            file=sys.stderr,
        )
        return exitcodes.INTERRUPTED
    final = _final_code(record.run_id, code, settle_s=10.0 if plain else 0.0, quiet=dashboard)
    if plain and final == exitcodes.RUN_FAILED:
        print_last_lines(record.log_path)
    return final


FAILURE_TAIL_LINES = 15


def print_last_lines(log_path: Path, count: int = FAILURE_TAIL_LINES) -> None:
    """After a failed run in plain mode: the workload's last lines (the reason is usually there), made safe for the
    terminal, on stderr."""
    from hwmon.parsers.lines import clean_bytes

    try:
        with log_path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 64 * 1024))
            tail = handle.read()
    except OSError as exc:
        print(f"hwmon: cannot read {log_path}: {exc.strerror or exc}", file=sys.stderr)
        return
    lines = [clean_bytes(line) for line in tail.splitlines()[-count:]]
    print(f"hwmon: the run failed; last {len(lines)} lines of {log_path}:", file=sys.stderr)
    for line in lines:
        print(f"  {line}", file=sys.stderr)


def _watch(
    run_id: str, *, plain: bool | None, title: str | None, notify: list[str] | None = None, on: str | None = None
) -> int:
    from hwmon.commands import attach

    return attach.watch(run_id, plain=plain, title=title, notify=notify, on=on, new_run=True)


def _final_code(run_id: str, watch_code: int, *, settle_s: float = 0.0, quiet: bool = False) -> int:
    """The exit code of ``hwmon run`` once watching stopped: the run's own outcome when it has ended.

    Plain mode stops when the log says the run is over, which can be a moment before the workload exits and the
    supervisor records it; ``settle_s`` waits that long for the record.
    """
    from hwmon.store import registry

    deadline = time.monotonic() + settle_s
    record = registry.resolve(run_id)
    while record.status == "running" and time.monotonic() < deadline:
        time.sleep(0.05)
        record = registry.resolve(run_id)
    if record.status == "running":
        if quiet:
            return watch_code
        print(
            f"hwmon: run {run_id} continues in the background (hwmon attach {run_id} / hwmon stop {run_id})",
            file=sys.stderr,
        )
        return watch_code
    if record.status == "succeeded":
        return exitcodes.OK
    return exitcodes.RUN_FAILED
