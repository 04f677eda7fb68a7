"""Accuracy-like metrics printed in percent without a ``%`` sign are fractions (h17c, issue 17), as ``98.7%`` is:
by name (``acc``, ``Top-1 Acc``, ``mAP50-95``, ``f1``, ``IoU``, a table's ``P``/``R``) or a name's own ``%``/``(%)``,
in every learned reader (templates, column tables, structured lines, eval blocks) and the generic parser. Unbounded
or own-scale scores (loss, perplexity, BLEU, WER) stay as printed. Lines written for these tests."""

from __future__ import annotations

import json

import pytest
from tests.helpers.chunking import parse_text

from hwmon.events import EvalMetric, StepMetrics
from hwmon.parsers.fields import share, share_like

parse = parse_text


def evals(text: str) -> dict[str, float]:
    return {e.name: round(e.value, 6) for e in parse(text) if isinstance(e, EvalMetric)}


@pytest.mark.parametrize(
    "name",
    [
        "acc",
        "val_acc",
        "top-1 acc",
        "top5",
        "acc@1",
        "map50-95",
        "ap50",
        "precision",
        "recall",
        "f1",
        "miou",
        "dice",
        "auc",
        "exact_match",
        "p",
        "r",
        "acc(%)",
        "acc (%)",
        "util_pct",
        "valid_1's auc",
    ],
)
def test_share_like_names(name: str) -> None:
    assert share_like(name)


@pytest.mark.parametrize(
    "name",
    [
        "loss",
        "val_loss",
        "ppl",
        "perplexity",
        "bleu",
        "rouge-l",
        "wer",
        "cer",
        "lr",
        "step",
        "accumulate",
        "heatmap",
        "temp",
        "acc_loss",
        "dice loss",
    ],
)
def test_unbounded_or_own_scale_names(name: str) -> None:
    assert not share_like(name)
    assert share(name, 27.3) == 27.3


def test_the_range_decides_what_is_a_percent() -> None:
    assert share("acc", 98.7) == pytest.approx(0.987)
    assert share("acc", 0.987) == 0.987  # already a fraction
    assert share("acc", 1.0) == 1.0
    assert share("acc", 250.0) == 250.0  # not a percentage: as printed


def test_template_lines() -> None:
    text = (
        "valid top-1 acc 76.10 top-5 acc 93.2 bleu 27.3 ppl 12.5\n"
        "valid top-1 acc 76.20 top-5 acc 93.3 bleu 27.4 ppl 12.4\n"
        "Test: Acc(%): 98.70 loss 0.1\n"
        "Test: Acc(%): 98.80 loss 0.1\n"
    )
    assert evals(text) == {
        "valid_top-1_acc": 0.762,
        "top-5_acc": 0.933,
        "bleu": 27.4,
        "ppl": 12.4,
        "acc(%)": 0.988,
        "loss": 0.1,
    }


def test_training_extras_are_fractions_too() -> None:
    text = "".join(f"step {i} loss {1 / i:.3f} acc {80 + i}.5\n" for i in range(1, 4))
    steps = [e for e in parse(text) if isinstance(e, StepMetrics)]
    assert [dict(s.extra)["acc"] for s in steps] == pytest.approx([0.815, 0.825, 0.835])
    # A percent sign already said it: 0.5% is 0.005, not 0.5.
    signed = "".join(f"step {i} loss {1 / i:.3f} acc 0.{i}%\n" for i in range(1, 4))
    assert [dict(s.extra)["acc"] for s in parse(signed) if isinstance(s, StepMetrics)] == pytest.approx(
        [0.001, 0.002, 0.003]
    )
    generic = parse("loss=0.5 acc=97.5 wer=112.0\n")
    assert dict(next(e for e in generic if isinstance(e, StepMetrics)).extra) == pytest.approx({"acc": 0.975})
    # A word error rate is an evaluation's (decoded output), and can pass 100: never a percent.
    assert [(e.name, e.value) for e in generic if isinstance(e, EvalMetric)] == [("wer", 112.0)]


def test_eval_block_and_structured_lines() -> None:
    block = "Test results:\n  accuracy: 97.5\n  f1: 0.93\n  bleu: 27.3\n  wer: 112.5\n"
    assert evals(block) == {"accuracy": 0.975, "f1": 0.93, "bleu": 27.3, "wer": 112.5}
    line = json.dumps({"metadata": {"epoch_num": 1}, "val_acc": 91.2, "val_bleu": 30.1})
    assert evals(f"eval {line}\n") == {
        "val_acc": 0.912,
        "val_bleu": 30.1,
    }


def test_a_table_whose_header_names_shares() -> None:
    text = (
        "epoch  train_loss  val_loss  val_acc  val_f1\n"
        "1      0.90        0.80      71.5     0.70\n"
        "2      0.60        0.55      80.25    0.79\n"
    )
    assert evals(text) == {"val_loss": 0.55, "val_acc": 0.8025, "val_f1": 0.79}


def test_chunking_does_not_change_the_values() -> None:
    text = "Test: Acc(%): 98.70 loss 0.1\nTest: Acc(%): 98.80 loss 0.1\nepoch 1 loss 0.5 acc 87.5\n"
    assert parse(text, 1) == parse(text)
