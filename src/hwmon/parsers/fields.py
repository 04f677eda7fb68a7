"""What a named number in a log line means, whatever printed it: the field roles shared by the learned stages
(templates, structured lines, column tables, user formats). Pure; no format is named here.

A field's name is the words a line puts next to its number (``loss``, ``train/loss``, ``lm loss``, ``Batch``,
``valid_loss``). ``field_role(name)`` maps it to one of:

- ``counter``: the position of a training loop (the vocabulary's step words, plus ``batch`` and ``update``);
- ``epoch``;
- ``loss``: a training loss (any name whose last word is ``loss``, unless it is an eval name or a scale/weight);
- ``eval``: a metric of an evaluation (names starting with ``val``/``valid``/``validation``/``eval``/``test``);
- ``rate`` and ``lr`` (the vocabulary's words, and throughput units such as ``samples/s``);
- ``metric``: any other named number (kept as an extra of the step), and summaries (``best loss``, ``final acc``);
- ``None``: not a field (an empty name).

``context_is_eval(text)`` says whether the words before a field put it in an evaluation (``Validation: loss 0.4``,
``Test set: Average loss: 0.03``): the last train/eval word before the field wins.
"""

from __future__ import annotations

import functools
import re
from datetime import datetime

from hwmon.events import StepMetrics
from hwmon.parsers import vocab

__all__ = [
    "COUNTER_EXTRA",
    "best_loss",
    "context_is_eval",
    "eval_name",
    "eval_step",
    "field_role",
    "normal_name",
    "parse_number",
    "rate_unit",
]

COUNTER_EXTRA = frozenset({"batch", "update", "updates", "num_updates", "iters", "step_num"})
"""Counter words beyond the vocabulary's step words: a loop may count batches or updates instead of steps."""

_EVAL_START = re.compile(r"^(?:val|valid|validation|eval|evaluation|test|testing|dev)(?:[\s_/.-]|$)")
_RATE_WORDS = re.compile(
    r"^(?:samples?|tokens?|tok|examples?|images?|img|imgs|seqs?|sequences?|it|iters?|steps?|batch(?:es)?)"
    r"\s*(?:/|per\s*)(?:s|sec|second)$"
)
_CONTEXT = re.compile(
    r"\b(?P<eval>val|valid|validation|validating|eval|evaluation|evaluating|test|testing)\b"
    r"|\b(?P<train>train|training)\b",
    re.IGNORECASE,
)
_SPACES = re.compile(r"\s+")
_EVAL_BOOKKEEPING = frozenset({"runtime", "epoch", "step", "time", "second", "seconds"})
_SUMMARY_WORDS = frozenset({"best", "min", "minimum", "lowest", "max", "maximum", "highest", "final", "initial"})
_INDEX_WORDS = frozenset({"num", "number", "idx", "index", "no", "id", "count"})


def normal_name(name: str) -> str:
    """A field name as shown: lower case, inner spaces folded to one, quotes and edge punctuation dropped."""
    return _SPACES.sub(" ", name.strip().strip("'\"").strip(" -_|:=").lower())


@functools.lru_cache(maxsize=4096)
def field_role(name: str) -> str | None:
    """The role of a (normalised) field name; see the module doc."""
    if not name:
        return None
    if _RATE_WORDS.match(name):
        return "rate"
    known = vocab.role(name)
    if known == "step" or name in COUNTER_EXTRA:
        return "counter"
    if known is not None:
        return known
    words = name.replace("/", " ").replace("_", " ").replace(".", " ").split()
    if len(words) >= 2 and words[0] in _SUMMARY_WORDS:
        return "metric"  # "best loss", "final val acc": a summary of the run, not a step's value
    if _EVAL_START.match(name):
        # An evaluation's own bookkeeping (its runtime, its speed, its epoch) is not a metric of it.
        return "metric" if words[-1] in _EVAL_BOOKKEEPING or name.endswith("per_second") else "eval"
    if len(words) >= 2 and words[-1] in _INDEX_WORDS:
        # "epoch_num", "iter_idx", "step number": the word before says what is counted.
        head = field_role(" ".join(words[:-1]))
        if head in ("counter", "epoch"):
            return head
    last = words[-1] if words else name
    if last.endswith("loss"):
        return "loss"  # "average loss", "box_loss", "the loss"
    if len(words) <= 2:
        # "training step", "at step", "Train Epoch": a short name takes its last word's role.
        sub = vocab.role(last)
        if sub == "step" or last in COUNTER_EXTRA:
            return "counter"
        if sub in ("epoch", "lr"):
            return sub
    return "metric"


def eval_name(name: str) -> str:
    """The name an eval metric is reported under: spaces become ``_`` (``val loss`` -> ``val_loss``)."""
    return name.replace(" ", "_")


def context_is_eval(before: str) -> bool:
    """True when the last train/eval word in ``before`` (the line's text up to a field) is an eval word."""
    last: str | None = None
    for m in _CONTEXT.finditer(before):
        last = "eval" if m.group("eval") else "train"
    return last == "eval"


_LOSS_ORDER = ("loss", "train loss", "train_loss", "train/loss", "training loss", "training_loss", "lm loss")


def best_loss(names: list[str]) -> int | None:
    """Which of several training-loss names (indexes into ``names``) is the step's loss: the plain or train-named
    one when there is one (a loop that prints ``loss`` beside ``box_loss``), else the first."""
    if not names:
        return None
    for wanted in _LOSS_ORDER:
        for i, name in enumerate(names):
            if name == wanted:
                return i
    picked = vocab.pick_loss([(name, 0.0) for name in names])
    if picked is not None:
        return names.index(picked[0])
    return 0


def parse_number(text: str) -> float | None:
    """A number as a log prints it (``1,024``, ``3.7E+00``, ``nan``, ``95.5%`` -> 0.955); None when it is not."""
    raw = text.strip().rstrip(",;:")
    percent = raw.endswith("%")
    if percent:
        raw = raw[:-1]
    if "," in raw:
        raw = raw.replace(",", "")
    try:
        value = float(raw)
    except ValueError:
        return None
    return value / 100.0 if percent else value


_UNIT_WORDS = (
    ("token", "tokens/sec"),
    ("tok", "tokens/sec"),
    ("sample", "samples/sec"),
    ("example", "samples/sec"),
    ("seq", "sequences/sec"),
    ("im", "images/sec"),
    ("batch", "batches/sec"),
    ("step", "steps/sec"),
    ("it", "it/s"),
)


def rate_unit(name: str) -> str:
    """The unit of a rate field by its name (``tokens_per_sec`` -> ``tokens/sec``); samples/sec when it says none."""
    if "/" in name and " " not in name and len(name) <= 16:
        return name  # written as a unit already: "tokens/s", "img/s"
    for word, unit in _UNIT_WORDS:
        if name.startswith(word) or f"_{word}" in name or f" {word}" in name:
            return unit
    return "samples/sec"


def eval_step(
    number: int, ts: datetime | None, evals: list[tuple[str, float]], rule: str, step: int | None = None
) -> StepMetrics | None:
    """A line (or record, or row) that holds only an evaluation's results is an eval step too, when one of them is
    a loss (the eval phase and the eval loss series come from it, as from a rule's eval step)."""
    for name, value in evals:
        if name.replace("/", "_").replace(" ", "_").split("_")[-1].endswith("loss"):
            return StepMetrics(number, ts, step, loss=value, mode="eval", rule=rule)
    return None
