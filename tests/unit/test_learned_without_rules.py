"""Issue 17's proof that the learned stage is general: take a framework's rule parser out of the chain and its log
is still read — the last step and loss — through learned templates and structured lines, with no rule for it."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from hwmon.events import StepMetrics
from hwmon.model.summary import summary_dict
from hwmon.parsers import stream
from hwmon.parsers.hftrainer import HfTrainerParser
from hwmon.parsers.megatron import MegatronParser
from hwmon.sources.read import summarize_bytes

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
CASES = [
    ("megatron_gpt_train.log", MegatronParser, 100, 6.6, "template:"),
    ("megatron_two_ranks.log", MegatronParser, 100, 6.6, "template:"),
    ("hf_trainer_v4.log", HfTrainerParser, 250, 0.4931, "structured:"),
    ("hf_trainer_v5_quoted.log", HfTrainerParser, 250, 0.4931, "structured:"),
]


@pytest.mark.parametrize(("name", "parser", "step", "loss", "rule"), CASES, ids=[c[0] for c in CASES])
def test_a_log_is_read_without_its_frameworks_rules(
    name: str, parser: type, step: int, loss: float, rule: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = (FIXTURES / name).read_bytes()
    with_rules = summary_dict(summarize_bytes(data, name))["train"]
    monkeypatch.setattr(stream, "PARSER_CHAIN", tuple(p for p in stream.PARSER_CHAIN if p is not parser))
    without = summary_dict(summarize_bytes(data, name))["train"]
    assert isinstance(with_rules, dict) and isinstance(without, dict)
    assert with_rules["steps"]["last"] == without["steps"]["last"] == step
    assert math.isclose(with_rules["loss"]["last"], loss) and math.isclose(without["loss"]["last"], loss)
    # ...and it was the learned stage that read them (not a leftover rule).
    events = stream.parse_bytes(data)
    assert {e.rule.split(":")[0] + ":" for e in events if isinstance(e, StepMetrics)} == {rule}


def test_without_the_learned_stage_the_rule_is_missed(monkeypatch: pytest.MonkeyPatch) -> None:
    # Positive control: with the HF rule removed AND the learned stage off, the log's steps are not read right.
    from hwmon.parsers.learned import LearnedStage

    data = (FIXTURES / "hf_trainer_v4.log").read_bytes()
    monkeypatch.setattr(stream, "PARSER_CHAIN", tuple(p for p in stream.PARSER_CHAIN if p is not HfTrainerParser))
    monkeypatch.setattr(LearnedStage, "after", lambda self, record, events: None)
    train = summary_dict(summarize_bytes(data, "hf.log"))["train"]
    assert isinstance(train, dict)
    assert train["steps"] is None or train["steps"]["last"] != 250 or train["loss"]["last"] != 0.4931
