"""The Cerebras parser: every format on the project's own fixtures, chunking invariance, the StepBatch fast path
against the line-by-line path, robustness, and key facts of the real Cerebras logs in ../shared (skipped when that
folder is absent)."""

from __future__ import annotations

import math
import random
import re
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TypeVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.helpers.chunking import assert_chunking_invariant, parse_with

from hwmon.events import (
    CheckpointSaved,
    ErrorSeen,
    EvalMetric,
    Event,
    Info,
    JobIdSeen,
    PhaseEnded,
    PhaseStarted,
    RunCompleted,
    RunStarted,
    StepBatch,
    StepMetrics,
    VendorDetected,
    WarningSeen,
)
from hwmon.parsers.base import Line, LineBlock
from hwmon.parsers.cerebras import CerebrasParser, parse_step_text

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"

E = TypeVar("E", bound=Event)


def strict_parser() -> CerebrasParser:
    # Parsers catch nothing: an internal error fails the test (the stream's one catch is not involved here).
    return CerebrasParser()


def parse_text(text: str) -> list[Event]:
    parser = strict_parser()
    events: list[Event] = []
    for number, raw in enumerate(text.split("\n"), 1):
        events.extend(parser.feed(Line(number, 0, raw)))
    events.extend(parser.finish())
    return events


def parse_file(path: Path) -> list[Event]:
    return parse_with(strict_parser, [path.read_bytes()])


def of(kind: type[E], events: Sequence[Event]) -> list[E]:
    return [e for e in events if isinstance(e, kind)]


def phase_path(events: Sequence[Event]) -> list[str]:
    """The sequence of phases entered (sub-stage updates of the open phase collapsed)."""
    path: list[str] = []
    for event in events:
        if isinstance(event, PhaseStarted) and (not path or path[-1] != event.phase):
            path.append(event.phase)
        elif isinstance(event, PhaseEnded) and path and path[-1] == event.phase:
            path.append(f"/{event.phase}")
    return path


# --- fixtures: a full R2.x appliance run ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def appliance() -> list[Event]:
    return parse_file(FIXTURES / "cerebras_appliance_train.log")


def test_appliance_run_start_vendor_and_facts(appliance: list[Event]) -> None:
    starts = of(RunStarted, appliance)
    assert len(starts) == 1, "the command echo starts the run; the autoload/compile lines of the same run do not"
    assert starts[0].command is not None and starts[0].command.startswith("python run.py CSX")
    vendors = of(VendorDetected, appliance)
    assert [(v.vendor, v.device) for v in vendors] == [("cerebras", "CSX")]
    facts = {i.key: i.value for i in of(Info, appliance)}
    assert facts["effective_batch_size"] == "64"
    assert facts["compile_hash"] == "cs_11112222333344445555"
    assert facts["network_type"] == "ROCE"
    assert facts["num_csx"] == "1"
    assert facts["remote_log_path"] == "/n0/wsjob/workdir/wsjob-tinyexecute222"


def test_appliance_phases_in_order(appliance: list[Event]) -> None:
    assert phase_path(appliance) == [
        "checkpoint",  # checkpoint at step 0, before compile
        "/checkpoint",
        "compile",
        "/compile",
        "queue",  # the compile job waits
        "/queue",
        "compile",  # back to the compile job's phase
        "/compile",
        "setup",
        "/setup",
        "queue",  # the execute job waits
        "/queue",
        "setup",  # back to the execute job's phase
        "/setup",
        "train",
        "/train",
        "checkpoint",
        "/checkpoint",
        "train",
        "/train",
        "checkpoint",
        "/checkpoint",
        "train",
        "/train",
        "eval",
        "/eval",
    ]


def test_appliance_sub_stages_are_details(appliance: list[Event]) -> None:
    compile_details = [e.detail for e in of(PhaseStarted, appliance) if e.phase == "compile"]
    for stage in (
        "Compiling the model",
        "Pre-optimization transforms",
        "Gradient accumulation trying sub-batch size 32",
        "Gradient accumulation trying per-lane micro batch size 8",
        "Exploring floorplans",
        "Exploring data layouts",
        "Optimizing memory usage",
        "Allocating buffers",
        "Code generation",
        "Compiling kernels",
        "Compiling final image",
    ):
        assert stage in compile_details
    queue = [e.detail for e in of(PhaseStarted, appliance) if e.phase == "queue"]
    assert queue[:3] == ["Queueing", "Scheduled", "Initializing"]
    assert "Waiting for coordinator to be ready" in queue
    setup = [e.detail for e in of(PhaseStarted, appliance) if e.phase == "setup"]
    assert "About to send initial weights" in setup and "Appliance staging is complete" in setup


def test_appliance_job_ids(appliance: list[Event]) -> None:
    assert [(j.job_id, j.kind) for j in of(JobIdSeen, appliance)] == [
        ("wsjob-tinycompile111", "compile"),
        ("wsjob-tinyexecute222", "execute"),
    ]


def test_appliance_steps(appliance: list[Event]) -> None:
    steps = [s for s in of(StepMetrics, appliance) if s.mode == "train"]
    assert [s.step for s in steps] == [1, 10, 20, 30, 40]
    first = steps[0]
    # Step 1 right after the tracker reset: its rate is not a throughput.
    assert first.rate is None and first.global_rate is None
    assert dict(first.extra)["raw_rate"] == 3.21
    assert steps[1].rate == 410.5 and steps[1].global_rate == 380.25 and steps[1].rate_unit == "samples/sec"
    assert steps[1].remaining_s == 60.0 and dict(steps[1].extra)["loop_remaining_s"] == 60.0
    assert steps[1].device == "CSX"
    assert steps[1].ts == datetime(2025, 1, 20, 9, 15, 45)
    assert steps[3].loss is not None and math.isnan(steps[3].loss)
    assert steps[4].loss == 4.0625 and steps[4].remaining_s == 0.0


def test_appliance_checkpoints_eval_and_completion(appliance: list[Event]) -> None:
    assert [(c.step, c.path) for c in of(CheckpointSaved, appliance)] == [
        (0, "tiny_dir/checkpoint_0.mdl"),
        (20, "tiny_dir/checkpoint_20.mdl"),
        (40, "tiny_dir/checkpoint_40.mdl"),
    ]
    evals = [s for s in of(StepMetrics, appliance) if s.mode == "eval"]
    assert [(s.step, s.batch, s.loss) for s in evals] == [(40, 1, 4.5), (40, 10, 4.25)]
    assert evals[0].rate is None, "batch 1 of an eval loop follows a tracker reset too"
    assert evals[1].rate == 800.0
    assert {m.name: m.value for m in of(EvalMetric, appliance)} == {
        "eval/loss": 4.3125,
        "eval/accuracy": 0.625,
        "eval/perplexity": 74.5,
    }
    done = of(RunCompleted, appliance)
    assert all(d.success for d in done)
    assert (done[-1].samples, done[-1].seconds) == (2560, 3643.25)


def test_appliance_multiline_warning_is_one_warning(appliance: list[Event]) -> None:
    warnings = of(WarningSeen, appliance)
    assert len(warnings) == 1
    # The prefix glued after progress-bar debris still gives the warning its timestamp.
    assert warnings[0].ts == datetime(2025, 1, 20, 9, 0, 1, 100000)
    assert warnings[0].message.startswith("StepLR got 2 unexpected")
    assert of(ErrorSeen, appliance) == []


# --- fixtures: R1.x, a failed run, TensorFlow era -------------------------------------------------------------------


def test_r1x_xla_run() -> None:
    events = parse_file(FIXTURES / "cerebras_r1x_xla.log")
    assert [(v.device) for v in of(VendorDetected, events)] == [None, "xla:0"]
    steps = of(StepMetrics, events)
    assert [(s.step, s.loss, s.device) for s in steps] == [(50, 9.125, "xla:0"), (100, 8.75, "xla:0")]
    assert steps[0].ts == datetime(2023, 2, 1, 10, 2, 0), "'.' before the milliseconds"
    assert [(c.step, c.path) for c in of(CheckpointSaved, events)] == [(100, None)]
    assert phase_path(events) == ["setup", "/setup", "train", "/train", "checkpoint", "/checkpoint", "train", "/train"]
    done = of(RunCompleted, events)
    assert [(d.samples, d.seconds, d.success) for d in done] == [(204800, 171.5, True)]


@pytest.fixture(scope="module")
def failed() -> list[Event]:
    return parse_file(FIXTURES / "cerebras_failed_run.log")


def test_failed_run_errors(failed: list[Event]) -> None:
    errors = of(ErrorSeen, failed)
    assert [(e.kind, e.fatal) for e in errors] == [
        ("grpc", False),  # gRPC noise: not what ended the run
        ("appliance", True),
        ("job", True),
        ("traceback", True),  # the cause in the chain
        ("traceback", True),  # the final exception
    ]
    assert errors[1].message.endswith("lost connection to weight host 3"), "trailing spaces are stripped"
    assert errors[0].ts == datetime(2025, 2, 2, 7, 5, 0, 123456), "glog time, year from earlier lines"
    assert errors[-1].message.startswith("cerebras.appliance.errors.ApplianceUnknownError")
    # The abort text inside the multi-line WARNING event is part of that warning, not an error of its own.
    assert not any("terminate called" in e.message or "what()" in e.message for e in errors)


def test_failed_run_warnings_jobs_and_completion(failed: list[Event]) -> None:
    assert len(of(WarningSeen, failed)) == 2
    assert [(j.job_id, j.kind) for j in of(JobIdSeen, failed)] == [
        ("wsjob-failexec333", "execute"),
        ("wflow-failflow444", "workflow"),
    ]
    done = of(RunCompleted, failed)
    assert [(d.samples, d.seconds, d.success) for d in done] == [(4096, 300.5, False)]
    # The fatal error ends the open train phase; nothing restarts it.
    assert phase_path(failed)[-2:] == ["train", "/train"]
    assert [v.device for v in of(VendorDetected, failed)] == [None, "CSX"]


def test_tensorflow_era_lines() -> None:
    events = parse_file(FIXTURES / "cerebras_tf_estimator.log")
    steps = of(StepMetrics, events)
    assert [(s.step, s.loss) for s in steps] == [(100, 6.75), (200, 5.5)]
    assert steps[0].rate == 1152.25 and steps[0].rate_unit == "samples/sec", "examples/sec wins over steps/sec"
    assert [(c.step, c.path) for c in of(CheckpointSaved, events)] == [(200, "model_dir/model.ckpt")]
    assert {m.name: m.value for m in of(EvalMetric, events)} == {"accuracy": 0.5, "loss": 5.25}
    assert [(i.key, i.value) for i in of(Info, events)] == [("final_loss", "5.5")]
    done = of(RunCompleted, events)
    # "Loss for final step" ends an estimator's train(); Cerebras' own line then gives the samples and time.
    assert [(d.samples, d.seconds) for d in done] == [(None, None), (51200, 44.25)]


def test_tensorflow_final_step_loss_is_the_last_loss_and_saved_checkpoint_for_global_step() -> None:
    events = parse_text(
        "\n".join(
            [
                "INFO:tensorflow:loss = 6.0, step = 300",
                "INFO:tensorflow:Saved checkpoint for global step 300 in 2.5 seconds: model_dir/ckpt-300",
                "INFO:tensorflow:Loss for final step: 5.875.",
            ]
        )
    )
    assert [(c.step, c.path) for c in of(CheckpointSaved, events)] == [(300, "model_dir/ckpt-300")]
    assert [(s.step, s.loss) for s in of(StepMetrics, events)] == [(300, 6.0), (300, 5.875)]
    assert len(of(RunCompleted, events)) == 1


def test_completion_and_processed_on_one_line() -> None:
    text = (
        "2024-01-01 00:00:00,000 INFO:   Training completed successfully! "
        "Processed 2048000 sample(s) in 304.403202469 seconds."
    )
    (done,) = of(RunCompleted, parse_text(text))
    assert (done.samples, done.seconds) == (2048000, 304.403202469)


def test_tensorflow_like_text_is_not_claimed_from_other_stacks() -> None:
    assert parse_text("epoch 1: loss = 0.5, step = 10") == []


# --- prefixes, timestamps, odd lines ---------------------------------------------------------------------------------

STEP = "| Train Device=CSX, Step=7, Loss=1.50000, Rate=10.00 samples/sec, GlobalRate=9.00 samples/sec"


@pytest.mark.parametrize(
    ("line", "ts"),
    [
        (f"2024-05-06 07:08:09,123 INFO:   {STEP}", datetime(2024, 5, 6, 7, 8, 9, 123000)),
        (f"2024-05-06 07:08:09.5 INFO: {STEP}", datetime(2024, 5, 6, 7, 8, 9, 500000)),
        (f"2024-05-06 07:08:09,123:INFO {STEP}", datetime(2024, 5, 6, 7, 8, 9, 123000)),
        (f"2024-05-06T07:08:09 DEBUG:   {STEP}", datetime(2024, 5, 6, 7, 8, 9)),
        (f"INFO:root:{STEP}", None),
        (STEP, None),
        (f"junk: [00:01]2024-05-06 07:08:09,123 INFO:   {STEP}", datetime(2024, 5, 6, 7, 8, 9, 123000)),
        (f"2024-13-45 07:08:09,123 INFO:   {STEP}", None),  # an impossible date: no timestamp, still a step
    ],
)
def test_step_line_prefixes(line: str, ts: datetime | None) -> None:
    steps = of(StepMetrics, parse_text(line))
    assert len(steps) == 1
    assert steps[0].ts == ts
    assert (steps[0].step, steps[0].loss, steps[0].rate) == (7, 1.5, 10.0)


@pytest.mark.parametrize(
    ("body", "expect"),
    [
        # older releases: space separated, other units, extra fields, infinities, days in the remaining time
        ("| Train Device=xla:0 Step=3 Loss=2.5 Rate=4.5 tokens/sec", (3, 2.5, 4.5, "tokens/sec", None)),
        (
            "| Train Device=CSX, Step=4, Loss=inf, Rate=5 samples/sec, Accuracy=0.5",
            (4, math.inf, 5.0, "samples/sec", None),
        ),
        (
            "| Train Device=CSX, Step=5, Loss=-0.25, Rate=1.5e3 samples/sec, GlobalRate=1.4e3 samples/sec, "
            "TimeRemaining=1 day, 2:00:00",
            (5, -0.25, 1500.0, "samples/sec", 93600.0),
        ),
    ],
)
def test_step_line_variants(body: str, expect: tuple[object, ...]) -> None:
    step = parse_step_text(body, 1, None)
    assert step is not None
    assert (step.step, step.loss, step.rate, step.rate_unit, step.remaining_s) == expect


def test_extra_numeric_fields_are_kept() -> None:
    step = parse_step_text("| Train Device=CSX, Step=4, Loss=1.0, Rate=5 samples/sec, Accuracy=0.5", 1, None)
    assert step is not None and ("accuracy", 0.5) in step.extra


def test_reset_step_follows_the_training_loop_start() -> None:
    text = "\n".join(
        [
            "2024-01-01 00:00:00,000 INFO:   Starting training loop 2, from global step 1000 to 2000",
            "2024-01-01 00:00:01,000 INFO:   | Train Device=CSX, Step=1001, Loss=1.0, Rate=2.0 samples/sec, "
            "GlobalRate=2.0 samples/sec",
            "2024-01-01 00:00:02,000 INFO:   | Train Device=CSX, Step=1002, Loss=1.0, Rate=300.0 samples/sec, "
            "GlobalRate=200.0 samples/sec",
        ]
    )
    steps = of(StepMetrics, parse_text(text))
    assert [s.rate for s in steps] == [None, 300.0]
    assert [(i.key, i.value) for i in of(Info, parse_text(text))] == [("target_step", "2000")]


def test_a_wsjob_id_anywhere_is_a_job_id_once() -> None:
    # A log that starts mid-compile names its compile job only in the heartbeat line; an id in a URL counts too.
    text = "\n".join(
        [
            "2024-01-01 00:00:00,000 INFO:   Compiling image...",
            "2024-01-01 00:00:01,000 INFO:   Heartbeat thread stopped for wsjob-abcdef123456789x.",
            "2024-01-01 00:00:02,000 INFO:   see https://dash.example/jobs/wsjob-zzz999xyzzzzzzzz?x=1 for status",
            "2024-01-01 00:00:03,000 INFO:   Heartbeat thread stopped for wsjob-abcdef123456789x.",
        ]
    )
    jobs = of(JobIdSeen, parse_text(text))
    assert [(j.job_id, j.kind) for j in jobs] == [
        ("wsjob-abcdef123456789x", "compile"),
        ("wsjob-zzz999xyzzzzzzzz", "compile"),
    ]


def test_cszoo_command_starts_a_run_and_two_runs_in_one_file() -> None:
    text = "\n".join(
        [
            "cszoo fit params.yaml",
            "2024-01-01 00:00:00,000 INFO:   Compiling the model. This may take a few minutes.",
            "2024-01-01 00:10:00,000 INFO:   Training completed successfully!",
            "2024-01-01 00:20:00,000 INFO:   Checkpoint autoloading is enabled. Looking for latest checkpoint.",
            "2024-01-01 00:20:01,000 INFO:   Compiling the model. This may take a few minutes.",
        ]
    )
    starts = of(RunStarted, parse_text(text))
    assert [(s.line, s.command) for s in starts] == [(1, "cszoo fit params.yaml"), (4, None)]


def test_log_text_is_data() -> None:
    text = "2024-01-01 00:00:00,000 WARNING:   [bold red]boom[/] \x1b[31m{}%s"
    warnings = of(WarningSeen, parse_text(text))
    assert [w.message for w in warnings] == ["[bold red]boom[/] \x1b[31m{}%s"]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.text(max_size=80),
            st.sampled_from(
                [
                    STEP,
                    "Traceback (most recent call last):",
                    "  what():  x",
                    "terminate called after throwing",
                    "E0101 00:00:00.1 1 hpack_parser.cc:1] x",
                    "2024-01-01 00:00:00,000 WARNING:   Event message='x",
                    "2024-01-01 00:00:00,000 INFO:   Saving checkpoint at step 3",
                    "2024-01-01 00:00:00,000 INFO:   Evaluation metrics:",
                    "2024-01-01 00:00:00,000 INFO:   Poll ingress status: Waiting",
                    "| Eval Device=CSX, GlobalStep=x, Batch=, Loss=, Rate=",
                    "INFO:tensorflow:loss = 1e400, step = 99999999999999999999",
                ]
            ),
            st.builds(lambda a, b: a + b, st.sampled_from([STEP, "2024-01-01 00:00:00,000 INFO:   "]), st.text()),
        ),
        max_size=30,
    )
)
def test_never_raises(lines: list[str]) -> None:
    parser = strict_parser()
    for number, text in enumerate(lines, 1):
        parser.feed(Line(number, 0, text))
    parser.finish()


# --- chunking invariance --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "cerebras_appliance_train.log",
        "cerebras_r1x_xla.log",
        "cerebras_failed_run.log",
        "cerebras_tf_estimator.log",
    ],
)
def test_chunking_invariant(name: str) -> None:
    data = (FIXTURES / name).read_bytes()
    # Compared by repr: a NaN loss is never equal to itself, but prints the same.
    events = assert_chunking_invariant(lambda chunks: [repr(e) for e in parse_with(strict_parser, chunks)], data)
    assert events


# --- the fast path ---------------------------------------------------------------------------------------------------


def step_lines(rng: random.Random, first_step: int, count: int, *, nan_every: int = 0, eta: bool = False) -> list[str]:
    """Step lines as the appliance prints them: bf16-looking losses (%.5f), crossing 10.0 downwards."""
    lines = []
    for k in range(count):
        step = first_step + k
        loss = round(max(0.03125, 11.0 - 0.01 * k + rng.uniform(-0.2, 0.2)) * 64) / 64
        loss_text = "nan" if nan_every and k % nan_every == nan_every - 1 else f"{loss:.5f}"
        line = (
            f"2024-03-30 13:{k // 60 % 60:02d}:{k % 60:02d},{k % 1000:03d} INFO:   | Train Device=CSX, Step={step}, "
            f"Loss={loss_text}, Rate={rng.uniform(400, 500):.2f} samples/sec, GlobalRate=450.00 samples/sec"
        )
        if eta:
            line += ", LoopTimeRemaining=0:01:00, TimeRemaining=0:01:00"
        lines.append(line)
    return lines


PREAMBLE = [
    "2024-03-30 12:00:00,000 INFO:   Preparing to execute using 1 CSX",
    "2024-03-30 12:00:01,000 INFO:   Beginning appliance run",
]


def run_lines(parser: CerebrasParser, lines: list[str], first_number: int = 1) -> list[Event]:
    out: list[Event] = []
    for i, text in enumerate(lines):
        out.extend(parser.feed(Line(first_number + i, 0, text)))
    return out


def block_of(lines: list[str], first_number: int) -> LineBlock:
    data = ("\n".join(lines) + "\n").encode("ascii")
    return LineBlock(first_number, 0, data, len(lines))


def assert_batch_equivalent(batched: list[Event], per_line: list[Event]) -> None:
    """The batch path's events, with each StepBatch standing for a run of StepMetrics of the line path."""
    i = 0
    for event in batched:
        if not isinstance(event, StepBatch):
            assert repr(event) == repr(per_line[i])
            i += 1
            continue
        run = per_line[i : i + event.count]
        assert all(isinstance(s, StepMetrics) for s in run)
        steps = [s for s in run if isinstance(s, StepMetrics)]
        assert len(steps) == event.count
        assert repr(event.first) == repr(steps[0]) and repr(event.last) == repr(steps[-1])
        assert event.line == steps[-1].line and event.ts == steps[-1].ts
        losses = [s.loss for s in steps if s.loss is not None]
        finite = [x for x in losses if math.isfinite(x)]
        assert event.nonfinite == len(losses) - len(finite)
        assert event.loss_min == (min(finite) if finite else None)
        assert event.loss_max == (max(finite) if finite else None)
        by_line = {s.line: s for s in steps}
        assert event.samples[0] is event.first and event.samples[-1] is event.last
        assert 2 <= len(event.samples) <= 64
        for sample in event.samples:
            assert repr(by_line[sample.line]) == repr(sample), "each sample is exactly the line's own StepMetrics"
        i += event.count
    assert i == len(per_line)


@pytest.mark.parametrize(
    ("count", "nan_every", "eta", "first_step"),
    [(40, 0, False, 2), (3000, 0, False, 1), (5000, 7, True, 100), (1200, 0, True, 1)],
)
def test_fast_path_equals_line_by_line(count: int, nan_every: int, eta: bool, first_step: int) -> None:
    lines = step_lines(random.Random(count), first_step, count, nan_every=nan_every, eta=eta)
    reference = strict_parser()
    run_lines(reference, PREAMBLE)
    per_line = run_lines(reference, lines, len(PREAMBLE) + 1)

    fast = strict_parser()
    run_lines(fast, PREAMBLE)
    batched = fast.feed_block(block_of(lines, len(PREAMBLE) + 1))
    assert batched is not None
    assert any(isinstance(e, StepBatch) for e in batched)
    assert_batch_equivalent(batched, per_line)
    if first_step == 1:
        assert per_line[0].rate is None and batched[0].first.rate is None  # type: ignore[union-attr]


@pytest.mark.parametrize("losses", [["9.50000", "10.25000", "0.50000"], ["09.50000", "9.75000", "10.00000"]])
def test_fast_path_loss_extremes_across_widths(losses: list[str]) -> None:
    lines = step_lines(random.Random(3), 1, 300)
    for k, loss in enumerate(losses):
        at = 100 * k + 50
        lines[at] = re.sub(r"Loss=[^,]*", f"Loss={loss}", lines[at])
    reference = strict_parser()
    run_lines(reference, PREAMBLE)
    per_line = run_lines(reference, lines, 3)
    fast = strict_parser()
    run_lines(fast, PREAMBLE)
    batched = fast.feed_block(block_of(lines, 3))
    assert batched is not None
    assert_batch_equivalent(batched, per_line)


def test_fast_path_takes_checkpoint_lines_between_steps() -> None:
    rng = random.Random(5)
    lines = step_lines(rng, 1, 500) + [
        "2024-03-30 14:00:00,000 INFO:   Saving checkpoint at step 500",
        "2024-03-30 14:00:10,000 INFO:   Saved checkpoint model_dir/checkpoint_500.mdl",
    ]
    lines += step_lines(rng, 501, 500)
    reference = strict_parser()
    run_lines(reference, PREAMBLE)
    per_line = run_lines(reference, lines, 3)
    fast = strict_parser()
    run_lines(fast, PREAMBLE)
    batched = fast.feed_block(block_of(lines, 3))
    assert batched is not None
    assert [type(e).__name__ for e in batched if not isinstance(e, StepBatch)] == [
        "PhaseEnded",
        "PhaseStarted",
        "CheckpointSaved",
        "PhaseEnded",
        "PhaseStarted",
    ]
    assert sum(e.count for e in batched if isinstance(e, StepBatch)) == 1000
    assert_batch_equivalent(batched, per_line)


def test_fast_path_entering_train_from_setup() -> None:
    lines = step_lines(random.Random(1), 10, 200)
    reference = strict_parser()
    run_lines(reference, PREAMBLE[:1])
    per_line = run_lines(reference, lines, 2)
    fast = strict_parser()
    run_lines(fast, PREAMBLE[:1])
    batched = fast.feed_block(block_of(lines, 2))
    assert batched is not None
    assert isinstance(batched[0], PhaseEnded) and isinstance(batched[1], PhaseStarted)
    assert_batch_equivalent(batched, per_line)


@pytest.mark.parametrize(
    "intruder",
    [
        "2024-03-30 14:00:00,000 WARNING:   something odd",
        "2024-03-30 14:00:00,000 INFO:   | Eval Device=CSX, GlobalStep=1, Batch=2, Loss=1.0, Rate=1 samples/sec",
        "Saving checkpoint: 100%|#####| 10/10 [00:01<00:00, 9.5 tensors/s]",
        "2024-03-30 14:00:00,000 INFO:   Avg Eval Loss: 1.0",
        "",
    ],
)
def test_fast_path_declines_blocks_with_other_lines(intruder: str) -> None:
    lines = step_lines(random.Random(2), 1, 300)
    lines.insert(150, intruder)
    parser = strict_parser()
    run_lines(parser, PREAMBLE)
    assert parser.feed_block(block_of(lines, 3)) is None
    # Declining changes nothing: the lines then parse one by one as usual.
    assert of(StepMetrics, run_lines(parser, lines, 3))


def test_fast_path_declines_small_and_stepless_blocks() -> None:
    parser = strict_parser()
    assert parser.feed_block(block_of(step_lines(random.Random(0), 1, 3), 1)) is None
    assert parser.feed_block(block_of(["plain text line"] * 100, 1)) is None


def test_stream_with_blocks_gives_the_same_summary() -> None:
    from tests.helpers.chunking import stream_events

    from hwmon.model.summary import summarize_events, summary_dict

    rng = random.Random(9)
    lines = ["$ python run.py CSX --mode train", *PREAMBLE]
    step = 1
    for _ in range(4):
        lines += step_lines(rng, step, 2500)
        step += 2500
        lines += [
            f"2024-03-30 15:00:00,000 INFO:   Saving checkpoint at step {step - 1}",
            f"2024-03-30 15:00:09,000 INFO:   Saved checkpoint model_dir/checkpoint_{step - 1}.mdl",
        ]
    lines += ["2024-03-30 16:00:00,000 INFO:   Training completed successfully!"]
    data = ("\n".join(lines) + "\n").encode()
    with_blocks = stream_events([data], blocks=True)
    assert any(isinstance(e, StepBatch) for e in with_blocks), "the fast path must be taken"
    without = stream_events([data], blocks=False)
    fast = summary_dict(summarize_events(with_blocks, "x"))
    slow = summary_dict(summarize_events(without, "x"))
    assert fast["train"] == slow["train"]
    assert fast["checkpoints"] == slow["checkpoints"]
    assert fast["status"] == slow["status"] == "succeeded"
    assert [p["name"] for p in fast["phases"]] == [p["name"] for p in slow["phases"]]  # type: ignore[union-attr]


# --- real logs (skipped without ../shared) ----------------------------------------------------------------------------


def shared(relative: str) -> Path:
    path = SHARED / relative
    if not path.is_file():
        pytest.skip(f"../shared/{relative} is not available")
    return path


def test_seed_bert_large() -> None:
    events = parse_file(shared("seed/cerebras_bert_large_hw7.log"))
    steps = of(StepMetrics, events)
    assert (len(steps), steps[0].step, steps[-1].step, steps[-1].loss) == (10, 100, 1000, 7.14844)
    assert steps[-1].rate == 6715.34 and steps[-1].global_rate == 6727.92
    # The compile job is named only by its heartbeat line; the execute job by its own line.
    assert [j.job_id for j in of(JobIdSeen, events)] == ["wsjob-gcvn73ljr37qrv2t7mozfe", "wsjob-6prysnbkfzkwxptnh8vgzc"]
    assert [c.step for c in of(CheckpointSaved, events)] == [1000]
    done = of(RunCompleted, events)
    assert done[-1].samples == 2048000 and done[-1].seconds == pytest.approx(304.403202469)
    assert all(d.success for d in done)
    assert phase_path(events)[:6] == ["compile", "/compile", "setup", "/setup", "queue", "/queue"]
    assert of(ErrorSeen, events) == [] and of(WarningSeen, events) == []


def test_corpus_gpt2_compile_and_train() -> None:
    events = parse_file(shared("corpus/cerebras_2024-03_gpt2_compile_and_train.log"))
    assert of(RunStarted, events)[0].command is not None
    assert [(j.kind) for j in of(JobIdSeen, events)] == ["compile", "execute"]
    steps = of(StepMetrics, events)
    assert (len(steps), steps[-1].step) == (112, 11200)
    assert [c.step for c in of(CheckpointSaved, events)] == [0, 10000]
    assert len(of(WarningSeen, events)) == 1
    assert of(RunCompleted, events) == [], "the source stops before the end of the run"
    compile_details = {e.detail for e in of(PhaseStarted, events) if e.phase == "compile"}
    assert {"Exploring floorplans", "Gradient accumulation disabled", "Compiling final image"} <= compile_details


def test_corpus_r24_failed_run() -> None:
    events = parse_file(shared("corpus/cerebras_r2.4.0_llama2_7b_appliance_error_job_failed.log"))
    assert of(StepMetrics, events) == []
    errors = of(ErrorSeen, events)
    fatal = [e for e in errors if e.fatal]
    assert {e.kind for e in fatal} == {"appliance", "job", "traceback"}
    assert sum(1 for e in errors if e.kind == "grpc" and not e.fatal) == 6
    assert not any("terminate called" in e.message for e in errors)
    assert len(of(WarningSeen, events)) == 4
    done = of(RunCompleted, events)
    assert [(d.samples, d.success) for d in done] == [(11264, False)]
    assert [j.kind for j in of(JobIdSeen, events)] == ["compile", "execute"]
    assert [c.step for c in of(CheckpointSaved, events)] == [0]


def test_corpus_r18_xla() -> None:
    events = parse_file(shared("corpus/cerebras_r1.8.0_bert_large_xla_pipeline_train.log"))
    steps = of(StepMetrics, events)
    assert (len(steps), steps[-1].step, steps[-1].device) == (10, 1000, "xla:0")
    assert [c.step for c in of(CheckpointSaved, events)] == [1000]
    assert [(d.samples, d.success) for d in of(RunCompleted, events)] == [(1024000, True)]


def test_corpus_eval_metrics() -> None:
    events = parse_file(shared("corpus/cerebras_2025_bert_large_eval_metrics.log"))
    evals = of(StepMetrics, events)
    assert [(s.mode, s.step, s.batch) for s in evals][-1] == ("eval", 1000, 220)
    metrics = {m.name: m.value for m in of(EvalMetric, events)}
    assert set(metrics) == {"eval/loss", "eval/accuracy_cls", "eval/accuracy_masked_lm", "eval/mlm_perplexity"}
    assert of(RunCompleted, events)[-1].samples == 3720000


def test_corpus_esm2_and_llama_cszoo() -> None:
    esm = parse_file(shared("corpus/cerebras_2025_esm2_tqdm_checkpoint_train.log"))
    assert [c.step for c in of(CheckpointSaved, esm)] == [200, 400]
    assert of(RunCompleted, esm)[-1].seconds == pytest.approx(4049.286902367)
    assert of(StepMetrics, esm)[-1].remaining_s == 8.0
    llama = parse_file(shared("corpus/cerebras_2025_llama2_7b_cszoo_fit_execute_train.log"))
    assert [j.kind for j in of(JobIdSeen, llama)] == ["execute", "workflow"]
    assert len(of(WarningSeen, llama)) == 1
    assert of(RunCompleted, llama)[-1].samples == 204800


def _all_cerebras_real_logs() -> list[Path]:
    found = sorted((SHARED / "corpus").glob("cerebras_*.log")) + sorted((SHARED / "seed").glob("cerebras_*.log"))
    return found


@pytest.mark.parametrize("path", _all_cerebras_real_logs() or [None], ids=lambda p: p.name if p else "absent")
def test_real_logs_chunking_invariant(path: Path | None) -> None:
    if path is None:
        pytest.skip("../shared is not available")
    events = assert_chunking_invariant(
        lambda chunks: [repr(e) for e in parse_with(strict_parser, chunks)], path.read_bytes(), seeds=(0, 1)
    )
    assert any(e.startswith("VendorDetected(") and "'cerebras'" in e for e in events)


def test_bracketed_timestamp_prefix_is_the_line_time() -> None:
    # Python logging with "[%(asctime)s] %(levelname)s: %(message)s" puts the time in brackets.
    line = "[2024-01-01 10:00:20,123] INFO: | Train Device=CSX, Step=30, Loss=2.3, Rate=10.0 samples/sec"
    steps = [e for e in CerebrasParser().feed(Line(1, 0, line)) if isinstance(e, StepMetrics)]
    assert [(s.step, s.ts) for s in steps] == [(30, datetime(2024, 1, 1, 10, 0, 20, 123000))]
