"""The check of a run of tqdm redraws (``hwmon.parsers.tqdm_redraws``): one ``findall`` reads what a match of every
redraw and a read of each one's counts read, and a run that begins the one just hinted at is judged as afresh."""

from __future__ import annotations

import dataclasses
import random
import re

import pytest

from hwmon.parsers.base import Line
from hwmon.parsers.graphcore import GraphcoreParser
from hwmon.parsers.hftrainer import HfTrainerParser
from hwmon.parsers.keras import KerasParser
from hwmon.parsers.lightning import LightningParser
from hwmon.parsers.tqdm import TqdmParser
from hwmon.parsers.tqdm_redraws import PLAIN_REDRAW, _accepted, _plain_accepted

# The former two-pass check: every redraw a plain bar (spaces for whitespace), then the counts of each.
_ONE = re.compile(PLAIN_REDRAW.pattern.replace(r"\s", " "))
_COUNTS = re.compile(r"\| *(\d+)/(\d+) *\[([\d:]+)<")


def _two_passes(texts: list[str]) -> int:
    if not all(_ONE.fullmatch(text) for text in texts):
        return 0
    return _accepted([(*row, "") for row in _COUNTS.findall("\r".join(texts))])


def _bar(n: int, total: int = 100, clock: str | None = None) -> str:
    clock = clock or f"00:{n // 10:02d}"
    return f"{100 * n // total:3d}%|{'█' * (n * 10 // total):<10}| {n}/{total} [{clock}<00:09, 9.50it/s]"


RUN = [_bar(n) for n in range(1, 41)]
ODD = {
    "garbage before a bar": "x" + _bar(7),
    "a bar then garbage": _bar(7) + " x",
    "a tab for a space": _bar(7).replace(" ", "\t", 1),
    "two bars in one redraw": _bar(7) + _bar(8),
    "empty": "",
    "blank": "   ",
    "a unit of s": _bar(7).replace("it/s", "s/s"),
    "a named bar": "train: " + _bar(7),
}


@pytest.mark.parametrize("name", sorted(ODD))
@pytest.mark.parametrize("at", [0, 5, 39])
def test_one_findall_reads_a_run_as_the_two_passes_did(name: str, at: int) -> None:
    texts = [*RUN[:at], ODD[name], *RUN[at + 1 :]]
    assert _plain_accepted("\r".join(texts)) == _two_passes(texts)
    assert _plain_accepted("\r".join(RUN)) == _two_passes(RUN) == len(RUN)


def test_counts_and_clock_going_back_stop_the_run_where_they_did() -> None:
    back = [*RUN[:10], _bar(3), *RUN[10:]]
    wraps = [*RUN[:20], *(_bar(n, clock=f"00:{n - 21:02d}") for n in range(21, 41))]
    totals = [*RUN[:30], *(_bar(n, 200) for n in range(31, 41))]
    for texts in (back, wraps, totals):
        assert 0 < _plain_accepted("\r".join(texts)) == _two_passes(texts) < len(texts)


def _cases() -> list[list[str]]:
    """Runs that begin (or nearly begin) the hinted run: its prefixes, a prefix cut inside a redraw, redraws
    joined into one text, a prefix past where the run stops."""
    hinted = [*RUN[:25], _bar(30, clock="00:00"), *RUN[26:]]  # (the clock goes back at redraw 26)
    cases = [hinted[:k] for k in range(1, len(hinted) + 1)]
    cases += [[*hinted[: k - 1], hinted[k - 1][:12]] for k in (1, 5, 25)]
    cases += [["\r".join(hinted[:2]), *hinted[2:k]] for k in (3, 10, 25)]
    return [hinted, *cases]


def test_a_run_that_begins_the_hinted_one_is_judged_as_afresh() -> None:
    hinted, *cases = _cases()
    for texts in cases:
        fresh = TqdmParser()
        told = TqdmParser()
        assert told.redraws_accepted(hinted) == 25
        assert told.accepts_redraws(texts) == fresh.accepts_redraws(texts), texts
    assert not TqdmParser().accepts_redraws([])


def test_a_line_is_built_field_by_field_and_stays_frozen() -> None:
    line = Line(3, 40, "text", False, True)
    assert (line.number, line.offset, line.text, line.final, line.truncated) == (3, 40, "text", False, True)
    assert Line(number=3, offset=40, text="text") == Line(3, 40, "text", True, False)
    assert dataclasses.astuple(Line(1, 2, "x")) == (1, 2, "x", True, False)
    assert hash(Line(1, 2, "x")) == hash(Line(1, 2, "x"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        line.text = "other"  # type: ignore[misc]


_UNITS = ["it", "B", "tokens", "IPU", "ipus", "poplar", "popart", "Compiled", "Epoch", "GPU", "PL", "samples", "s"]


def _plain_run(rng: random.Random, unit: str, size: int) -> list[str]:
    total = rng.choice([7, 100, 5000])
    texts = []
    for n in range(1, size + 1):
        pct = 100 * n // total
        bar = rng.choice(["█" * (pct // 10), "#" * (pct // 10), "▏▎▍▌▋▊▉"[n % 7]])
        rate = rng.choice(["?", f"{rng.random() * 50:.2f}"])
        texts.append(f"{' ' * rng.randint(0, 2)}{pct:3d}%|{bar:<10}| {n}/{total} [00:{n // 10:02d}<?, {rate}{unit}/s]")
    return texts


def _readers() -> list[object]:
    held_graphcore = GraphcoreParser()
    abort = "terminate called after throwing an instance of 'poplar::graph_memory_allocation_error'"
    held_graphcore.feed(Line(1, 0, abort))
    held_trainer = HfTrainerParser()
    held_trainer.feed(Line(1, 0, "***** Running training *****"))
    held_trainer.feed(Line(2, 0, "{'loss': 0.5, 'learning_rate': 1e-05, 'epoch': 0.1}"))
    return [KerasParser(), LightningParser(), GraphcoreParser(), held_graphcore, HfTrainerParser(), held_trainer]


@pytest.mark.parametrize("seed", range(8))
def test_a_reader_judges_a_run_of_plain_bars_by_its_units_as_it_reads_the_run(seed: int) -> None:
    # A run of plain bars (tqdm says so and names the units) is judged by each reader's accepts_plain_redraws as
    # its accepts_redraws reads it: a word of graphcore's trigger in a unit, a held state, or nothing.
    rng = random.Random(seed)
    by_unit: set[tuple[bool, bool]] = set()  # (whether a graphcore parser holds nothing, what it says)
    for unit in _UNITS:
        texts = _plain_run(rng, unit, rng.randint(1, 30))
        told = TqdmParser()
        plain = told.redraws_accepted(texts) == len(texts)
        units = told.plain_units(texts)
        assert (units is not None) == plain and (units or {unit}) == {unit}
        if units is None:
            continue
        assert unit != "s"  # ("2.0s/s" is not a plain bar)
        for reader in _readers():
            verdict = reader.accepts_plain_redraws(units)  # type: ignore[attr-defined]
            assert verdict is not None
            assert verdict == reader.accepts_redraws(texts), (type(reader).__name__, unit)  # type: ignore[attr-defined]
            if isinstance(reader, GraphcoreParser):
                by_unit.add((reader._pending_oom is None, verdict))
    assert by_unit == {(True, True), (True, False), (False, False)}


def test_units_are_told_only_for_the_run_just_read_or_one_that_begins_it() -> None:
    hinted, *cases = _cases()
    told = TqdmParser()
    told.redraws_accepted(hinted)
    assert told.plain_units(hinted) is None  # (the clock goes back in it: not all of it is taken)
    assert told.plain_units(hinted[:25]) == {"it"}
    for texts in cases:
        if told.plain_units(texts) is not None:
            assert TqdmParser().accepts_redraws(texts), texts
    told.redraws_accepted([*RUN[:5], "x" + RUN[5]])
    assert told.plain_units(RUN[:3]) is None


def test_a_reader_with_a_row_it_has_not_reviewed_reads_the_run() -> None:
    class Reviewed(KerasParser):
        PLAIN_BAR_FREE = frozenset(KerasParser.PLAIN_BAR_FREE - {"keras:bar"})

    assert KerasParser().accepts_plain_redraws(frozenset({"it"})) is True
    assert Reviewed().accepts_plain_redraws(frozenset({"it"})) is None
