"""The check of a run of tqdm redraws (``hwmon.parsers.tqdm_redraws``): one ``findall`` reads what a match of every
redraw and a read of each one's counts read, and a run that begins the one just hinted at is judged as afresh."""

from __future__ import annotations

import dataclasses
import re

import pytest

from hwmon.parsers.base import Line
from hwmon.parsers.tqdm import TqdmParser
from hwmon.parsers.tqdm_redraws import PLAIN_REDRAW, _accepted, _plain_accepted

# The former two-pass check: every redraw a plain bar (spaces for whitespace), then the counts of each.
_ONE = re.compile(PLAIN_REDRAW.pattern.replace(r"\s", " "))
_COUNTS = re.compile(r"\| *(\d+)/(\d+) *\[([\d:]+)<")


def _two_passes(texts: list[str]) -> int:
    if not all(_ONE.fullmatch(text) for text in texts):
        return 0
    return _accepted(_COUNTS.findall("\r".join(texts)))


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
