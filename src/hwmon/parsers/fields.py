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

``share(name, value)`` reads an accuracy-like metric printed in percent without a ``%`` sign as a fraction (see its
doc); ``context_is_eval(text)`` says whether the words before a field put it in an evaluation (``Validation: loss 0.4``,
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
    "count_after",
    "is_count_name",
    "eval_name",
    "eval_step",
    "field_role",
    "normal_name",
    "objective_name",
    "parse_number",
    "as_share",
    "bookkeeping",
    "rate_unit",
    "share",
    "share_like",
]

COUNTER_EXTRA = frozenset({"batch", "update", "updates", "num_updates", "iters", "step_num", "episode", "episodes"})
"""Counter words beyond the vocabulary's step words: a loop may count batches or updates instead of steps."""

_EVAL_START = re.compile(r"^(?:val|valid|validation|eval|evaluation|test|testing|dev)(?:[\s_/.-]|$)")
_RATE_WORDS = re.compile(
    r"^(?:samples?|tokens?|tok|examples?|images?|img|imgs|seqs?|sequences?|it|iters?|steps?|batch(?:es)?)"
    r"\s*(?:/|per\s*)(?:s|sec|second)$"
)
_EPOCH_EXTRA = frozenset({"ep"})  # "Ep 3", "train ep 3": the epoch, abbreviated
_TIME_PER = re.compile(r"^(?:ms|s|sec|secs|seconds?|time|t)\s*/\s*[a-z_]+$")
_CONTEXT = re.compile(
    # "Evaluating train: L1 ..", "evaluation on the training set": the training split is what is evaluated.
    r"\b(?P<eval>evaluat(?:e|es|ed|ing|ion)\s+(?:on\s+)?(?:the\s+)?train(?:ing)?\b|val|valid|validate|validation|validating|eval|evaluate|evaluation|evaluating|test|testing|(?<![/.])dev(?![/.]))\b"
    r"|\b(?P<train>train|training)\b",
    re.IGNORECASE,
)
_SPACES = re.compile(r"\s+")
_EVAL_BOOKKEEPING = frozenset(
    {"runtime", "epoch", "step", "time", "second", "seconds"}
    # h17c: an evaluation's size and data, not a result of it ("validation data: 5000", "eval batch size 32").
    | {"data", "dataset", "datasets", "set", "size", "samples", "sample", "images", "examples", "files", "lines"}
    | {"tokens", "batches", "batch", "length", "len", "count", "num", "total", "loaded", "found", "items"}
    | {"instances", "records", "workers", "seed", "classes", "steps", "iters", "iterations", "shards"}
)
# h17c: what is not a field's name at all: a file name ("valid.bin 123456789"), a path, words that end a sentence
# ("Scanning... 100").
# h17c: an error measure on the training set is the training loss of a loop that prints no "loss".
# Scores of decoded output against references (character/word error rate, BLEU, ROUGE, METEOR, chrF): a loop
# computes them by generating on held-out data, so a figure named so is an evaluation's, wherever it is printed.
_DECODE_SCORE = re.compile(
    r"^(?:(?:avg|average|mean|corpus|sacre|current)[\s_-]?)?(?:cer|wer|bleu(?:[\s_-]?\d)?|rouge(?:[\s_-]?(?:\d|l|lsum))*"
    r"|meteor|chrf(?:\+\+)?|ned|norm(?:ali[sz]ed)?[\s_-]?(?:ed|edit[\s_-]?dist(?:ance)?))$"
)
_TRAIN_ERROR = re.compile(
    r"^(?:train|training)[\s_\-/.]+(?:l1|l2|rmse|mse|mae|rmsle|mape|m?logloss|m?error|huber|quantile|poisson"
    r"|gamma|tweedie|nll|ce|xentropy|cross[\s_-]?entropy)$"
)
# A word that makes a name bookkeeping wherever it stands: a count or size of data ("Number of val images",
# "BATCH_SIZE_PER_GPU", "num_val_samples"), a cadence or setting of a configuration ("val_freq", "eval_interval",
# "test every"), time spent.
_BOOKKEEPING_WORDS = frozenset(
    {"num", "number", "count", "size", "samples", "examples", "images", "files", "folders", "instances", "records"}
    | {"batches", "steps", "runtime", "time", "freq", "frequency", "interval", "every", "period", "workers", "seed"}
    | {"eta", "mem", "memory", "duration"}
)
_AVERAGE_WORDS = frozenset({"avg", "average", "mean", "median"})
_NOT_A_NAME = re.compile(
    r"\.(?:bin|json|jsonl|txt|csv|tsv|pt|pth|ckpt|h5|hdf5|npy|npz|pkl|pickle|ya?ml|cache|log|tar|gz|zip|parquet"
    r"|arrow|idx|tfrecords?|safetensors|jpe?g|png|wav|mp4|py)$|^\.{0,2}/|[.!?,\u2026]$"
)
# h17c: a number followed by a count noun or a size unit is a count of things or a size ("100 found, 0 missing",
# "(0.1GB RAM)", "5000 images"), not a metric; a rate's unit ("tokens/s", "samples per second") is not a count.
_COUNT_AFTER = re.compile(
    r"^\s?(?:[KMGTP]i?B|bytes?|images?|imgs?|samples?|examples?|files?|lines?|tokens?|found|missing|corrupt(?:ed)?"
    r"|empty|items?|records?|rows?|sequences?|seqs?|docs?|documents?|sentences?|instances?|objects?|labels?|classes"
    r"|words?|backgrounds?|duplicates?|params?|parameters?|batches|steps|epochs|shards?|frames|utterances|utts)\b(?!\s?/|\s?per\b)",
    re.IGNORECASE,
)


_COUNT_NAMES = frozenset({"class", "support", "targets", "labels", "objects", "gts", "boxes"})


def is_count_name(name: str) -> bool:
    """Whether a column's name counts things (``Images``, ``Instances``, ``support``) rather than measuring them."""
    words = name.replace("/", " ").replace("_", " ").split()
    last = words[-1] if words else name
    return last in _EVAL_BOOKKEEPING or last in _COUNT_NAMES


def count_after(after: str) -> bool:
    """Whether the text right after a number makes it a count or a size (see ``_COUNT_AFTER``)."""
    return _COUNT_AFTER.match(after) is not None


_SUMMARY_WORDS = frozenset({"best", "min", "minimum", "lowest", "max", "maximum", "highest", "final", "initial"})
_INDEX_WORDS = frozenset({"num", "number", "idx", "index", "no", "id", "count", "i"})


def normal_name(name: str) -> str:
    """A field name as shown: lower case, inner spaces folded to one, quotes and edge punctuation dropped."""
    return _SPACES.sub(" ", name.strip().strip("'\"").strip(" -_|:=").lower())


@functools.lru_cache(maxsize=4096)
def field_role(name: str) -> str | None:
    """The role of a (normalised) field name; see the module doc."""
    if not name or _NOT_A_NAME.search(name) is not None:
        return None
    if name == "#":
        return "counter"  # h17g: a table's "#" column numbers its rows: the loop's position
    if "'s " in name:
        return field_role(name.replace("'s ", " "))  # h17c: "valid_1's l1" is the l1 of the set valid_1
    if _TRAIN_ERROR.match(name) is not None:
        return "loss"  # h17c: the error a booster minimises on its training set ("train-rmse", "train l1")
    if _RATE_WORDS.match(name):
        return "rate"
    if _TIME_PER.match(name):
        return "metric"  # "ms/batch", "s/it", "sec/step": a time per unit, not a count of it
    if _DECODE_SCORE.match(name) is not None:
        return "eval"
    known = vocab.role(name)
    if known is None and "-" in name:
        known = vocab.role(name.replace("-", "_"))  # "Global-step 1545"
    if known == "step" or name in COUNTER_EXTRA:
        return "counter"
    words = name.replace("/", " ").replace("_", " ").replace(".", " ").split()
    if known == "eval" and bookkeeping(name):
        return "metric"  # h17c: "eval batch size", "test samples": the evaluation's size, not its result
    if known is not None:
        return known
    if len(words) >= 2 and words[0] in _SUMMARY_WORDS:
        return "metric"  # "best loss", "final val acc": a summary of the run, not a step's value
    if len(words) >= 3 and words[0] in _AVERAGE_WORDS and _EVAL_START.match(" ".join(words[1:])) is not None:
        # "Avg testing reward", "mean val acc": an evaluation's figure, averaged.
        return "metric" if bookkeeping(" ".join(words[1:])) else "eval"
    if _EVAL_START.match(name):
        # An evaluation's own bookkeeping (its runtime, its speed, its epoch) is not a metric of it.
        return "metric" if bookkeeping(name) or name.endswith("per_second") else "eval"
    if len(words) >= 2 and words[-1] in _INDEX_WORDS:
        # "epoch_num", "iter_idx", "step number": the word before says what is counted.
        head = field_role(" ".join(words[:-1]))
        if head in ("counter", "epoch"):
            return head
    last = words[-1] if words else name
    if last.endswith("loss"):
        return "loss"  # "average loss", "box_loss", "the loss"
    if len(words) == 2 and words[0] in ("loss", "acc", "accuracy", "error", "err"):
        # The split after the figure ("loss_train", "loss_val", "acc_test"): the training split's loss is the loss,
        # another split's figures are an evaluation's.
        if words[1] in ("train", "training", "trn"):
            return "loss" if words[0] == "loss" else "metric"
        if _EVAL_START.match(words[1]) is not None:
            return "eval"
    if len(words) <= 2:
        # "training step", "at step", "Train Epoch": a short name takes its last word's role.
        sub = vocab.role(last)
        if sub == "step" or last in COUNTER_EXTRA:
            return "counter"
        if sub in ("epoch", "lr"):
            return sub
        if last in _EPOCH_EXTRA:
            return "epoch"
    return "metric"


# Metrics that are shares (of items right, of overlap): printed in [0, 1] or in percent. Unbounded ones (loss,
# perplexity) and scores with their own scale (BLEU, ROUGE, chrF, METEOR, WER/CER: WER can pass 100) are not here:
# a BLEU of 27.3 is 27.3, not 0.273, whichever convention printed it.
_SHARE_WORDS = re.compile(
    r"(?:^|[\s_/.\-@'(])(?:acc(?:uracy)?(?:@?\d+)?|top[\s_-]?\d+(?:[\s_-]?(?:acc(?:uracy)?|err(?:or)?))?"
    r"|prec(?:ision)?(?:@?\d+)?|recall(?:@?\d+)?|f1(?:[\s_-]?score)?|f[\s_-]?(?:score|measure)|m?ap(?:@?[\d.:-]*\d)?"
    r"|ap[sml]|m?iou|dice(?:[\s_-]?score)?|auc|roc[\s_-]?auc|exact[\s_-]?match|em)(?:$|[\s_/.\-@(%')])"
)
_PERCENT_NAME = re.compile(r"%|(?:^|[\W_])(?:percent|pct)(?:$|[\W_])")


@functools.lru_cache(maxsize=4096)
def share_like(name: str) -> bool:
    """Whether a (normalised) field name is an accuracy-like share (``acc``, ``Top-1 Acc``, ``mAP50-95``, ``f1``,
    ``IoU``, ``dice``, a table's ``P``/``R``) or says it is in percent (``acc (%)``, ``util_pct``)."""
    lower = name.lower()
    if lower in ("p", "r") or re.split(r"[\s_/.\-]+", lower)[-1] in ("p", "r", "f"):
        return True  # a table's bare P/R, and h17g: a named F/P/R (``ents_f``, ``uas p``)
    if lower.replace("_", " ").split(" ")[-1].endswith("loss"):
        return False
    return _PERCENT_NAME.search(lower) is not None or _SHARE_WORDS.search(lower) is not None


def share(name: str, value: float) -> float:
    """``value`` as a fraction when ``name`` is share-like (``share_like``) and the value is in (1, 100]: a percent
    printed without its ``%`` (``acc 98.7`` -> 0.987, as ``98.7%`` is read). A value in [0, 1] is already a fraction;
    one above 100 is not a percentage: both stay as printed."""
    return as_share(value) if share_like(name) else value


def as_share(value: float) -> float:
    """A share-like field's value as a fraction: in (1, 100] it is a percent without its sign (see ``share``)."""
    return value / 100.0 if 1.0 < value <= 100.0 else value


def eval_name(name: str) -> str:
    """The name an eval metric is reported under: spaces become ``_`` (``val loss`` -> ``val_loss``)."""
    return name.replace(" ", "_")


def bookkeeping(name: str) -> bool:
    """Whether a (normalised) name is an evaluation's bookkeeping rather than a result of it (``time``, ``runtime``,
    ``samples``, ``batch size``): under an evaluation heading it stays a plain metric."""
    words = name.replace("/", " ").replace("_", " ").replace(".", " ").replace("-", " ").split()
    return bool(words) and (words[-1] in _EVAL_BOOKKEEPING or any(word in _BOOKKEEPING_WORDS for word in words))


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
    for i, name in enumerate(names):
        if re.split(r"[/.\s]", name)[-1] == "loss":
            return i  # h17g: a section's own plain loss ("learner/loss" beside "learner/value_loss")
    picked = vocab.pick_loss([(name, 0.0) for name in names])
    if picked is not None:
        return names.index(picked[0])
    return 0


_OBJECTIVE = frozenset({"error", "err", "cost", "objective", "obj"})
_OBJECTIVE_LEAD = frozenset({"train", "training", "avg", "average", "mean", "total", "running", "current"})


def objective_name(name: str) -> bool:
    """A name of what a loop minimises other than a loss: ``error``, ``cost``, ``objective`` (possibly ``train`` or
    ``average`` before it; never a split's or a top-k's: ``test error``, ``top1 error``). A loop's line with no
    loss-named figure has its one objective-named figure as its loss (``Iteration: 100  Error: 0.19``)."""
    words = name.replace("_", " ").split()
    return bool(words) and words[-1] in _OBJECTIVE and all(word in _OBJECTIVE_LEAD for word in words[:-1])


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
