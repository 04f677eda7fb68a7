"""Sources: a follower with the stream parser behind it, and how refs are resolved (path, stdin, run id, run
directory, a path that does not exist yet)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hwmon import exitcodes
from hwmon.events import PhaseStarted, StepMetrics
from hwmon.model.reducer import apply_all
from hwmon.model.state import RunState
from hwmon.parsers.stream import parse_bytes
from hwmon.sources.open import open_source
from hwmon.sources.source import Batch, FollowSource, Source, file_source, stdin_source

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
OK_LOG = FIXTURES / "follow_cerebras_ok.log"
CORPUS = Path(__file__).resolve().parents[2] / ".." / "shared" / "corpus"


async def collect(source: Source, until: object = None, timeout: float = 8.0) -> list[Batch]:
    """Batches until eof, or until ``until(batches)`` is true (then the source is closed)."""
    batches: list[Batch] = []

    async def run() -> None:
        async for batch in source.batches():
            batches.append(batch)
            if callable(until) and until(batches):
                source.close()

    await asyncio.wait_for(run(), timeout)
    return batches


def events(batches: list[Batch]) -> list[object]:
    return [e for b in batches for e in b.events]


async def test_file_source_yields_events_lines_and_status() -> None:
    data = OK_LOG.read_bytes()
    source = open_source(str(OK_LOG))
    assert source.name == "follow_cerebras_ok.log"
    batches = await collect(source, until=lambda bs: sum(len(b.lines) for b in bs) >= 12)
    assert batches[0].status == "following follow_cerebras_ok.log"
    lines = [line for b in batches for line in b.lines]
    assert lines == data.decode().splitlines()
    evs = events(batches)
    phases: list[str] = []
    for e in evs:
        if isinstance(e, PhaseStarted) and (not phases or phases[-1] != e.phase):
            phases.append(e.phase)
    assert phases[:3] == ["compile", "setup", "train"]
    assert [e.step for e in evs if isinstance(e, StepMetrics)] == [50, 100]
    assert all(b.at > 0 and not b.eof for b in batches)


async def test_source_over_growing_file_matches_whole_file_parse(tmp_path: Path) -> None:
    data = OK_LOG.read_bytes()
    log = tmp_path / "grow.log"
    log.touch()
    source = file_source(log)
    task = asyncio.ensure_future(
        collect(source, until=lambda bs: any("Processed" in line for b in bs for line in b.lines))
    )
    # Written in awkward pieces (mid-line, mid-number) while the source follows.
    for start in range(0, len(data), 97):
        with open(log, "ab") as fh:
            fh.write(data[start : start + 97])
        await asyncio.sleep(0.005)
    batches = await task
    live = RunState()
    for b in batches:
        apply_all(live, b.events)
    whole = RunState()
    apply_all(whole, parse_bytes(data))
    assert (live.status, live.steps.count, live.loss.last, len(live.phases)) == (
        whole.status,
        whole.steps.count,
        whole.loss.last,
        len(whole.phases),
    )
    assert live.status == "succeeded"


async def test_missing_path_is_waited_for(tmp_path: Path) -> None:
    log = tmp_path / "later.log"
    source = open_source(str(log))
    task = asyncio.ensure_future(collect(source, until=lambda bs: any(b.lines for b in bs)))
    await asyncio.sleep(0.3)
    log.write_text("hello world\n")
    batches = await task
    assert batches[0].status == "waiting for later.log to appear"
    assert [line for b in batches for line in b.lines] == ["hello world"]


def test_unknown_ref_that_is_not_a_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HWMON_RUNS_DIR", str(tmp_path))
    with pytest.raises(exitcodes.HwmonError) as info:
        open_source("nosuchrun")
    assert info.value.code == exitcodes.RUN_NOT_FOUND


def test_plain_directory_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(exitcodes.HwmonError) as info:
        open_source(str(tmp_path))
    assert info.value.code == exitcodes.BAD_INPUT


async def test_pipe_source_ends_with_eof() -> None:
    writer = subprocess.Popen(
        [sys.executable, "-c", f"import sys; sys.stdout.buffer.write(open({str(OK_LOG)!r}, 'rb').read())"],
        stdout=subprocess.PIPE,
    )
    assert writer.stdout is not None
    try:
        batches = await collect(stdin_source(writer.stdout.fileno()))
    finally:
        writer.wait()
        writer.stdout.close()
    assert batches[-1].eof and batches[-1].status == "stdin closed"
    assert any(isinstance(e, StepMetrics) for e in events(batches))
    assert len([line for b in batches for line in b.lines]) == 12


async def test_named_pipe_is_read_as_a_stream(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    writer = subprocess.Popen(
        [sys.executable, "-c", f"import time\nf = open({str(fifo)!r}, 'w')\nf.write('a\\nb\\n')\nf.close()"]
    )
    await asyncio.sleep(0.3)  # the writer is blocked in open() until we open the read end
    source = open_source(str(fifo))
    batches = await collect(source)
    writer.wait()
    assert [line for b in batches for line in b.lines] == ["a", "b"]
    assert batches[-1].eof


async def test_run_source_ends_after_the_run_ends(tmp_path: Path) -> None:
    ended = False
    log = tmp_path / "output.log"
    log.write_text("one\n")
    source = FollowSource(file_source(log, end_when=lambda: ended).follower, name="run-1")
    task = asyncio.ensure_future(collect(source))
    await asyncio.sleep(0.3)
    with open(log, "a", encoding="utf-8") as fh:
        fh.write("two\n")
    ended = True
    batches = await task
    assert [line for b in batches for line in b.lines] == ["one", "two"]
    assert batches[-1].eof


@pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus not present")
@pytest.mark.parametrize("name", sorted(p.name for p in CORPUS.glob("*.log")) if CORPUS.is_dir() else [])
async def test_corpus_followed_equals_whole_file(tmp_path: Path, name: str) -> None:
    data = (CORPUS / name).read_bytes()
    log = tmp_path / name
    log.write_bytes(data[: len(data) // 3])
    source = open_source(str(log))
    task = asyncio.ensure_future(collect(source, until=lambda bs: sum(len(b.lines) for b in bs) >= expected_lines))
    expected_lines = len(data.splitlines())
    await asyncio.sleep(0.1)
    with open(log, "ab") as fh:
        fh.write(data[len(data) // 3 :] + (b"" if data.endswith(b"\n") else b"\n"))
    batches = await task
    live = RunState()
    for b in batches:
        apply_all(live, b.events)
    whole = RunState()
    apply_all(whole, parse_bytes(data + (b"" if data.endswith(b"\n") else b"\n")))
    assert (live.status, live.steps.count, live.loss.last, [p.name for p in live.phases]) == (
        whole.status,
        whole.steps.count,
        whole.loss.last,
        [p.name for p in whole.phases],
    )


async def test_quiet_input_releases_a_held_back_traceback(tmp_path: Path) -> None:
    from hwmon.events import ErrorSeen

    log = tmp_path / "crash.log"
    log.write_text(
        "epoch 1 step 3 loss=0.5\n"
        "Traceback (most recent call last):\n"
        '  File "train.py", line 3, in <module>\n'
        "    main()\n"
        "RuntimeError: CUDA error: device-side assert triggered\n"
    )
    source = open_source(str(log))
    batches = await collect(source, until=lambda bs: any(isinstance(e, ErrorSeen) for b in bs for e in b.events))
    errors = [e for e in events(batches) if isinstance(e, ErrorSeen)]
    assert "device-side assert" in errors[0].message


async def test_each_batch_says_the_log_line_number_of_its_first_line(tmp_path: Path) -> None:
    # A raw log view asks the model which rule read a line by its number (issue 17's record view).
    log = tmp_path / "run.log"
    log.write_text("".join(f"line {i}\n" for i in range(1, 11)))
    source = file_source(log)
    seen: list[tuple[int, str]] = []
    async for batch in source.batches():
        seen += [(batch.first_line + i, text) for i, text in enumerate(batch.lines)]
        if len(seen) >= 10:
            source.close()
    assert seen[:10] == [(i, f"line {i}") for i in range(1, 11)]
