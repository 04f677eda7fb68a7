"""Run one real emitter (a tiny CPU training in its combination's venv) while `hwmon attach --plain` follows the log
it writes, then summarise the finished log with `hwmon summary --json`. The emitter writes a facts side file with what
its library reported itself; the tests compare hwmon's two readings against those facts, never against the text.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

EMIT = Path(__file__).parent / "emit"
REPO = Path(__file__).resolve().parents[2]
CACHE = os.environ.get("HWMON_EMITTERS_CACHE", "")
CSTORCH_PYTHON = os.environ.get("HWMON_CSTORCH_PYTHON", "")
# Keep every generated log, facts file and attach transcript here (for reading formats), else a pytest tmp dir.
KEEP = os.environ.get("HWMON_EMITTERS_KEEP", "")
TRAIN_TIMEOUT_S = 420.0
FASHION = Path("/usr/share/datasets/fashion-mnist")
# How long `attach` may take to notice the end by itself once the writer has exited.
ATTACH_GRACE_S = 10.0


@dataclass(frozen=True)
class Case:
    """One emitter run: `combo` names the venv (constraints/emitters-<combo>.txt), or `project` / `cstorch`."""

    combo: str
    name: str
    argv: tuple[str, ...]
    workdir: bool = False

    @property
    def id(self) -> str:
        return f"{self.combo}:{self.name}"


@dataclass
class Produced:
    case: Case
    log: Path
    facts: dict[str, Any]
    summary: dict[str, Any]
    live: list[str]
    attach_ended: bool
    attach_rc: int | None
    extra: dict[str, Any] = field(default_factory=dict)


def venv_python(combo: str) -> Path | None:
    """The combination's python when the lane built its venv (stamped), else None."""
    if combo == "project":
        return Path(sys.executable)
    if combo == "cstorch":
        return Path(CSTORCH_PYTHON) if CSTORCH_PYTHON and Path(CSTORCH_PYTHON).exists() else None
    if not CACHE:
        return None
    venv = Path(CACHE) / combo
    if not (venv / ".hwmon-constraints.sha256").exists():
        return None
    return venv / "bin" / "python"


def emitter_command(case: Case, python: Path, facts: Path, workdir: Path) -> list[str]:
    script, *rest = case.argv
    cmd = [str(python), str(EMIT / script), *rest, "--facts", str(facts)]
    if case.workdir:
        cmd += ["--workdir", str(workdir)]
    return cmd


class _Attach:
    """`hwmon attach LOG --plain` (a status line every 0.5 s, its output into cwd/attach.txt), and how much of the
    log had been written when it ended by itself (a watcher thread notes the log's size then)."""

    def __init__(self, log: Path, cwd: Path) -> None:
        with (cwd / "attach.txt").open("w") as transcript:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "hwmon", "attach", str(log), "--plain", "--interval", "0.5"],
                stdout=transcript,
                stderr=subprocess.STDOUT,
                text=True,
                cwd=cwd,
            )
        self.size_at_exit: int | None = None
        self._watch = threading.Thread(target=self._note_exit, args=(log,), daemon=True)
        self._watch.start()

    def _note_exit(self, log: Path) -> None:
        self.proc.wait()
        try:
            self.size_at_exit = log.stat().st_size
        except OSError:
            self.size_at_exit = 0

    def seen_fraction(self, log: Path) -> float | None:
        """The share of the finished log that existed when attach ended (None: it did not end by itself)."""
        self._watch.join(5)
        if self.size_at_exit is None:
            return None
        return self.size_at_exit / max(1, log.stat().st_size)


def _start_attach(log: Path, cwd: Path) -> _Attach:
    return _Attach(log, cwd)


def _settle(attach: subprocess.Popen[str], transcript: Path) -> bool:
    """Once the writer has exited: True when attach ends by itself; else, after it has printed two more status lines
    (it has read the whole log by then), stop it with SIGINT and return False."""
    seen = transcript.read_text().count(" status ")
    deadline = time.monotonic() + ATTACH_GRACE_S
    while time.monotonic() < deadline:
        try:
            attach.wait(0.25)
            return True
        except subprocess.TimeoutExpired:
            pass
        if transcript.read_text().count(" status ") >= seen + 2:
            break
    attach.send_signal(signal.SIGINT)
    try:
        attach.wait(10)
    except subprocess.TimeoutExpired:
        attach.kill()
        attach.wait()
    return False


def _write_log(case: Case, python: Path, base: Path, env: dict[str, str]) -> tuple[Path, _Attach, int]:
    """A venv emitter: its stdout+stderr go to train.log, which attach follows from before the first byte."""
    log, workdir = base / "train.log", base / "work"
    workdir.mkdir(exist_ok=True)
    attach = _start_attach(log, base)
    with log.open("wb") as sink:
        train = subprocess.run(
            emitter_command(case, python, base / "facts.json", workdir),
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=workdir,
            timeout=TRAIN_TIMEOUT_S,
        )
    return log, attach, train.returncode


def mnist_data(base: Path) -> Path:
    """Fashion-MNIST where the machine has it (apt: dataset-fashion-mnist), else a small synthetic IDX set."""
    from tests.fakes.synthetic_mnist import write_idx_dir

    return FASHION if FASHION.is_dir() else write_idx_dir(base / "idx", 1024, 256)


def _supervised(case: Case, python: Path, base: Path, env: dict[str, str]) -> tuple[Path, _Attach, int]:
    """The project's workload: `hwmon run --detach mnist ...`; attach follows the run's output.log while it runs."""
    from hwmon.store import registry

    runs = base / "runs"
    env = dict(env, HWMON_RUNS_DIR=str(runs))
    argv = [*case.argv, "--data", str(mnist_data(base))]
    if case.combo == "cstorch":
        argv += ["--python", str(python)]
    launched = subprocess.run(
        [sys.executable, "-m", "hwmon", "run", "--detach", *argv],
        capture_output=True,
        text=True,
        env=env,
        cwd=base,
        timeout=60,
    )
    assert launched.returncode == 0, launched.stdout + launched.stderr
    run_id = launched.stdout.split()[0]
    try:
        record = registry.load(runs / run_id)
        assert record is not None, f"no run.json for {run_id}"
        attach = _start_attach(record.log_path, base)
        deadline = time.monotonic() + TRAIN_TIMEOUT_S
        while (current := registry.load(record.dir)) is not None and current.status == "running":
            assert time.monotonic() < deadline, f"{case.id}: still running after {TRAIN_TIMEOUT_S}s"
            time.sleep(0.2)
    except BaseException:
        subprocess.run([sys.executable, "-m", "hwmon", "stop", run_id], env=env, capture_output=True, timeout=60)
        raise
    assert current is not None
    return record.log_path, attach, 0 if current.status == "succeeded" else 1


def produce(case: Case, out: Path) -> Produced:
    """Run the emitter while `hwmon attach --plain` follows the log it writes; then `hwmon summary --json`."""
    python = venv_python(case.combo)
    assert python is not None
    base = out / re.sub(r"[^A-Za-z0-9_.-]", "_", case.id)
    shutil.rmtree(base, ignore_errors=True)  # nothing stale (facts, runs, checkpoints) from an earlier lane run
    base.mkdir(parents=True)
    facts = base / "facts.json"
    env = dict(os.environ, PYTHONUNBUFFERED="1", KERAS_BACKEND="torch", HWMON_FACTS_FILE=str(facts))
    env.pop("COLUMNS", None)
    start = time.monotonic()
    write = _supervised if case.combo in ("project", "cstorch") else _write_log
    attach: _Attach | None = None
    try:
        log, attach, rc = write(case, python, base, env)
        seconds = time.monotonic() - start
        ended = _settle(attach.proc, base / "attach.txt")
    finally:
        if attach is not None and attach.proc.poll() is None:
            attach.proc.kill()
            attach.proc.wait()
    live_out = (base / "attach.txt").read_text()
    text = log.read_text(errors="replace")
    assert rc == 0, f"{case.id} exited {rc}:\n{text[-4000:]}"
    summary = subprocess.run(
        [sys.executable, "-m", "hwmon", "summary", str(log), "--json"], capture_output=True, text=True, timeout=120
    )
    assert summary.returncode == 0, summary.stderr
    (base / "summary.json").write_text(summary.stdout)
    return Produced(
        case=case,
        log=log,
        facts=json.loads(facts.read_text()),
        summary=json.loads(summary.stdout),
        live=live_out.splitlines(),
        attach_ended=ended,
        attach_rc=attach.proc.returncode,
        extra={"seconds": seconds, "seen_fraction": attach.seen_fraction(log) if ended else None},
    )


# ---- reading hwmon's answers ---------------------------------------------------------------------------------

_LIVE_LINE = re.compile(r"^\d\d:\d\d:\d\d (\w+)\s+(.*)$")


@dataclass
class Live:
    """The last figures `attach --plain` printed (its `end` line, else its last `status` line)."""

    tag: str
    status: str
    step: int | None
    loss: str | None


def last_live(lines: list[str]) -> Live | None:
    for line in reversed(lines):
        m = _LIVE_LINE.match(line)
        if not m or m.group(1) not in ("end", "status"):
            continue
        fields = [f.strip() for f in m.group(2).split(" | ")]
        status = fields[1] if m.group(1) == "end" else fields[0]
        step = next((int(f[5:]) for f in fields if re.fullmatch(r"step \d+", f)), None)
        loss = next((f[5:] for f in fields if f.startswith("loss ")), None)
        return Live(m.group(1), status, step, loss)
    return None


def close(got: float | None, want: float, rel: float, abs_: float = 0.0) -> bool:
    """`got` equals `want` to the precision the library printed it with."""
    return got is not None and abs(got - want) <= max(rel * abs(want), abs_) * 1.0001


_PREFIX = re.compile(r"^(eval|val|valid|validation|test)[_/ ]")


def canon_metric(name: str) -> str:
    """An eval metric's name with its split spelled one way and `acc` spelled out: `val_acc` ~ `val_accuracy`,
    `eval_loss` ~ `val_loss` (a validation split either way), `test_loss` stays a test metric."""
    low = name.lower()
    m = _PREFIX.match(low)
    split = ("test" if m.group(1) == "test" else "val") if m else ""
    bare = low[m.end() :] if m else low
    return f"{split}:{ {'acc': 'accuracy'}.get(bare, bare) }"
