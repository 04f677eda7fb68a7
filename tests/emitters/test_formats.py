"""Logs the real-emitter lane generated (tests/fixtures/emitters/*.log, written by Lightning 2.6/1.9, Keras 3 and the
HF Trainer of transformers 5/4 on this project's tiny trainings; see tests/fixtures/SOURCES.md), read in the default
suite: whole, byte at a time and in random chunks, hwmon reads the facts the library itself reported when the log
was made (*.facts.json: its callbacks, `trainer.global_step`, `log_history`, `History`, the checkpoint files on
disk), never values copied from the text.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from hwmon.model.reducer import apply
from hwmon.model.state import RunState
from hwmon.model.summary import summary_dict
from hwmon.parsers.stream import StreamParser
from hwmon.sources.read import summarize_chunks
from tests.emitters.harness import canon_metric, close
from tests.helpers.chunking import chunkings

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "emitters"
# Logs without an end line whose last line states the run's target reached (Keras: the last "Epoch N/N" bar done).
TARGET_REACHED = frozenset({"keras3_fit", "keras3_fit_redrawn"})
NAMES = [
    "lightning26_tqdm",
    "lightning26_rich",
    "lightning19_rich_wrapped",
    "lightning19_tqdm",
    "keras3_fit",
    "keras3_fit_redrawn",
    "hf_trainer5_default",
    "hf_trainer4_info",
    "mnist_cpu_2epochs",
]
# Misreads still open (owner in the reason); strict: the test says so when they are fixed.
OPEN: dict[tuple[str, str], str] = {
    ("lightning19_rich_wrapped", "step"): "pytorch-lightning 1.x's rich bar, drawn once at the end when writing to "
    "a file, counts validation batches in its total (25/epoch = 20 train + 5 val) and no validation bar says how many: "
    "hwmon reads step 50, trainer.global_step is 40",
}


def load(name: str) -> tuple[bytes, dict[str, Any]]:
    data = (FIXTURES / f"{name}.log").read_bytes()
    facts = json.loads((FIXTURES / f"{name}.facts.json").read_text())
    return data, facts


def summaries(name: str) -> dict[str, Any]:
    """The summary dict, the same in every chunking (whole, byte at a time, random)."""
    data, _ = load(name)
    results = {label: summary_dict(summarize_chunks(chunks, name)) for label, chunks in chunkings(data, seeds=(0, 1))}
    whole = results.pop("whole")
    for label, got in results.items():
        assert got == whole, f"{name}: {label} differs from the whole-file read"
    return whole


def _param(name: str, check: str) -> Any:
    reason = OPEN.get((name, check))
    marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
    return pytest.param(name, check, marks=marks, id=f"{name}-{check}")


@pytest.mark.parametrize(
    ("name", "check"),
    [_param(n, c) for n in NAMES for c in ("step", "loss", "eval", "checkpoints", "status", "vendor")],
)
def test_emitter_log(name: str, check: str) -> None:
    _, facts = load(name)
    got = summaries(name)
    train = got["train"]
    if check == "step":
        assert train["steps"] is not None and train["steps"]["last"] == facts["last_step"], train["steps"]
    elif check == "loss":
        last = train["loss"]["last"] if train["loss"] else None
        assert close(last, facts["last_loss"], facts.get("loss_rel_tol", 0.0), facts.get("loss_abs_tol", 0.0)), (
            f"last loss {last}, the library's {facts['last_loss']}"
        )
    elif check == "eval":
        read = {canon_metric(k): v for k, v in got["eval"].items()}
        rel, abs_ = facts.get("eval_rel_tol", 0.0), facts.get("eval_abs_tol", 0.0)
        for key, value in facts["eval"].items():
            assert close(read.get(canon_metric(key)), value, rel, abs_), f"{key}: read {got['eval']}, library {value}"
        invented = sorted(set(read) - {canon_metric(k) for k in facts["eval"]})
        assert not invented, f"eval metrics the library did not report: {invented} (read: {got['eval']})"
    elif check == "checkpoints":
        want = facts["checkpoints"] if facts.get("checkpoints_in_log", True) else []
        assert [(c["step"], Path(c["path"].strip("'")).name) for c in got["checkpoints"]] == [
            (c["step"], Path(c["path"]).name) for c in want
        ]
    elif check == "status":
        # Exactly the status the log supports. No end line in the log (facts status None): succeeded when the log
        # states a target it reached (Keras' last "Epoch N/N" bar finished), else unknown — never "open or not".
        want = facts["status"] or ("succeeded" if name in TARGET_REACHED else "unknown")
        assert got["status"] == want, f"status {got['status']}, the log supports {want}"
    else:
        assert got["vendor"] == facts["vendor"]


def test_lightning_run_is_not_over_before_fit_stopped() -> None:
    """Live, line by line: the run is still going until Lightning prints "`Trainer.fit` stopped"."""
    data, _ = load("lightning26_tqdm")
    parser, state = StreamParser(), RunState(source="live")
    for line in data.splitlines(keepends=True):
        if b"`Trainer.fit` stopped" in line:
            break
        for event in parser.feed(line):
            apply(state, event, None)
        assert state.status not in ("succeeded", "failed"), f"status {state.status} before the end, at {line[:80]!r}"


@pytest.mark.parametrize(
    ("banner", "vendor"),
    [
        (b"GPU available: False, used: False\nTPU available: False, using: 0 TPU cores\n", "cpu"),
        (b"GPU available: True (cuda), used: True\nTPU available: False, using: 0 TPU cores\n", "gpu"),
        (b"GPU available: True (cuda), used: False\nTPU available: False, using: 0 TPU cores\n", "cpu"),
        # The TPU in use (issue 17: a vendor of its own) outranks the CPU the GPU line implied.
        (b"GPU available: False, used: False\nTPU available: True, using: 8 TPU cores\n", "tpu"),
    ],
    ids=["nothing-used", "gpu-used", "gpu-unused", "tpu-used"],
)
def test_lightning_banner_vendor(banner: bytes, vendor: str | None) -> None:
    """The banner says CPU only when it lists no accelerator in use (shapes from the generated logs above)."""
    state = summarize_chunks([banner + b"Seed set to 0\n"], "banner")
    assert state.vendor == vendor


@pytest.mark.parametrize("name", ["lightning26_rich", "lightning19_rich_wrapped"])
def test_rich_bar_step_is_read_live(name: str) -> None:
    """A live follower never reaches the end of input: the rich bar (Lightning's last output) must give its loss
    without `finish()`."""
    data, facts = load(name)
    parser, state = StreamParser(), RunState(source="live")
    for event in parser.feed(data):
        apply(state, event, None)
    assert state.loss.last is not None
    assert close(state.loss.last[1], facts["last_loss"], facts["loss_rel_tol"], facts["loss_abs_tol"])
