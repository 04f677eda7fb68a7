"""Export's output side under hostile conditions (issue 22, items 10 and 11, and the minor items about partial
files, stdout write failures and CSV column discovery): the output is never the input, never half-written under
its name, and a write that fails (a full disk, simulated with a file-size limit, or ``/dev/full``) ends the command
with one line and exit 8 — for TensorBoard too, whose writer thread used to die while the command waited forever."""

from __future__ import annotations

import io
import os
import resource
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from hwmon import exitcodes
from hwmon.commands import export as export_cmd
from hwmon.commands.export import export_events
from hwmon.events import StepMetrics
from hwmon.parsers.stream import StreamParser

ROOT = Path(__file__).resolve().parents[2]
GEN = ROOT / "bench" / "gen_cerebras_log.py"


@pytest.fixture(scope="module")
def cs_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated Cerebras log (about 2 MB, 15k step lines)."""
    log = tmp_path_factory.mktemp("cs") / "cs.log"
    subprocess.run([sys.executable, str(GEN), "--out", str(log), "--size", "2M"], check=True)
    return log


def _hwmon(
    args: list[str], limit: int | None = None, timeout: float = 60, **kw: object
) -> subprocess.CompletedProcess[str]:
    """``hwmon ARGS`` in a subprocess; ``limit``: a file-size limit in bytes (a write past it fails with EFBIG, as
    a full disk fails with ENOSPC)."""

    def fsize() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        assert limit is not None
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    preexec: Callable[[], None] | None = fsize if limit is not None else None
    return subprocess.run(
        [sys.executable, "-m", "hwmon", *args],
        stdout=kw.get("stdout", subprocess.PIPE),
        stderr=subprocess.PIPE,
        text=True,
        timeout=timeout,
        preexec_fn=preexec,
    )


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_output_that_is_the_input_is_refused(cs_log: Path, tmp_path: Path, fmt: str) -> None:
    """``export X -o X``, through a symlink or a hard link: exit 64 and the log unchanged (it became a bare CSV
    header before, exit 0)."""
    log = tmp_path / "run.log"
    log.write_bytes(cs_log.read_bytes())
    before = log.read_bytes()
    link = tmp_path / "link.csv"
    link.symlink_to(log)
    hard = tmp_path / "hard.csv"
    os.link(log, hard)
    for output in (log, link, hard):
        proc = _hwmon(["export", str(log), "-f", fmt, "-o", str(output)])
        assert proc.returncode == exitcodes.USAGE, (output, proc.stderr)
        assert "is the input itself" in proc.stderr and proc.stderr.count("\n") == 1
        assert log.read_bytes() == before
    assert link.is_symlink()


@pytest.mark.integration  # a real process for seconds: the integration lane
def test_a_failed_write_leaves_no_partial_file_and_the_old_output_intact(cs_log: Path, tmp_path: Path) -> None:
    out = tmp_path / "steps.csv"
    out.write_text("the previous export\n")
    for fmt in ("csv", "jsonl", "parquet"):
        proc = _hwmon(["export", str(cs_log), "-f", fmt, "-o", str(out)], limit=64 * 1024)
        assert proc.returncode == exitcodes.CANNOT_WRITE, (fmt, proc.returncode, proc.stderr)
        assert proc.stderr.count("\n") == 1 and "cannot write" in proc.stderr, proc.stderr
        assert out.read_text() == "the previous export\n"
        assert sorted(p.name for p in tmp_path.iterdir()) == ["steps.csv"], fmt
    # Without the limit the same export replaces the file, keeping its permissions.
    out.chmod(0o640)
    assert _hwmon(["export", str(cs_log), "-o", str(out)]).returncode == 0
    assert out.read_text().startswith("step,mode,") and (out.stat().st_mode & 0o777) == 0o640


@pytest.mark.integration  # a real process for seconds: the integration lane
def test_tensorboard_on_a_full_disk_ends_with_exit_8(cs_log: Path, tmp_path: Path) -> None:
    """The TensorBoard writer on a disk that fills up: exit 8 within seconds, one line, no partial event file
    (the writer thread died and the command hung for 10+ minutes before)."""
    pytest.importorskip("tensorboardX")
    logdir = tmp_path / "tb"
    proc = _hwmon(["export", str(cs_log), "-f", "tensorboard", "-o", str(logdir)], limit=64 * 1024, timeout=90)
    assert proc.returncode == exitcodes.CANNOT_WRITE, proc.stderr
    assert proc.stderr.count("\n") == 1 and "cannot write" in proc.stderr, proc.stderr
    assert list(logdir.iterdir()) == []
    ok = _hwmon(["export", str(cs_log), "-f", "tensorboard", "-o", str(logdir)])
    assert ok.returncode == 0, ok.stderr
    assert [p.name.startswith("events.out.tfevents.") for p in logdir.iterdir()] == [True]


def test_device_outputs_are_written_in_place(cs_log: Path) -> None:
    """``-o /dev/null`` is not replaced by a regular file; ``-o /dev/full`` is a write error (exit 8)."""
    assert _hwmon(["export", str(cs_log), "-o", "/dev/null"]).returncode == 0
    assert os.path.exists("/dev/null") and not Path("/dev/null").is_file()
    full = _hwmon(["export", str(cs_log), "-o", "/dev/full"])
    assert full.returncode == exitcodes.CANNOT_WRITE and "No space left" in full.stderr, full.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["summary", "{log}"],
        ["summary", "{log}", "--json"],
        ["compare", "{log}", "{log}"],
        ["history"],
        ["ls"],
        ["export", "{log}"],
    ],
)
def test_stdout_on_a_full_device_is_exit_8(cs_log: Path, args: list[str]) -> None:
    """``> /dev/full``: one line and exit 8 (a traceback and exit 1 before, which ``--exit-status`` reads as "the
    run failed")."""
    if args[0] == "history":  # something to list
        assert _hwmon(["summary", str(cs_log)]).returncode == 0
    if args[0] == "ls":
        from hwmon.store import registry

        run_dir = registry.runs_root() / "r1"
        run_dir.mkdir(parents=True)
        record = registry.RunRecord.starting("r1", run_dir, ["true"], None, None, "/")
        record.status = "succeeded"
        registry.save(record)
    with open("/dev/full", "w") as full:
        proc = _hwmon([a.format(log=cs_log) for a in args], stdout=full, timeout=120)
    assert proc.returncode == exitcodes.CANNOT_WRITE, (args, proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1, proc.stderr


def test_csv_column_discovery_is_capped() -> None:
    """12,000 distinct metric keys in the first rows: the header gets at most ``MAX_COLUMNS`` of them; the rest
    go into each row's ``more`` JSON cell, so nothing is lost."""
    events = [StepMetrics(i + 1, None, i + 1, loss=1.0, extra=((f"m{i}", float(i)),)) for i in range(12_000)]
    out = io.StringIO()
    export_events(events, "csv", "steps", None, stdout=out)
    lines = out.getvalue().splitlines()
    header = lines[0].split(",")
    assert len(header) == len(export_cmd.TABLES["steps"]) + 256 + 1  # the fixed columns, 256 metrics, "more"
    assert len(lines) == 12_001
    assert '""m11999"": 11999.0' in lines[-1]


def test_parser_sanity_for_the_generated_log(cs_log: Path) -> None:
    """The fixture really has step lines (so the size limits above are hit by rows, not by nothing)."""
    parser = StreamParser(blocks=False)
    steps = sum(1 for e in parser.feed(cs_log.read_bytes()) if isinstance(e, StepMetrics))
    assert steps > 10_000
