"""Runs of ``\\r`` redraws of one plain tqdm bar, read at once while catching up: a ``ProgressBatch`` instead of one
``ProgressUpdate`` per redraw. Pure; a mixin of ``hwmon.parsers.tqdm.TqdmParser`` (whose state it reads).

A plain bar is an anonymous bar and nothing else on its segment (``  7%|▋   | 70/1000 [00:03<00:45, 20.4it/s]``):
the line path reads it as exactly one ``ProgressUpdate`` of the bar named "", no phase (an anonymous bar without a
loss stands for none), no step, no metric. So a run of them changes the parser's state only by touching that bar,
and the reducer's only by the last one: one ``ProgressBatch`` (first, last, count, the texts and
``RedrawReader`` to give every update back) is equivalent. The stream asks every other reader of redraws whether
the run changes anything of theirs first (``accepts_redraws``), then lets each take it (``take_redraws``).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from operator import itemgetter
from typing import NamedTuple

from hwmon.events import Event, ProgressBatch, ProgressUpdate
from hwmon.parsers.rules import RuleParser
from hwmon.parsers.tqdm_bars import parse_duration

__all__ = [
    "PLAIN_REDRAW",
    "RedrawLinesReader",
    "RedrawReader",
    "TqdmRedraws",
    "plain_update",
    "rows_match_no_plain_bar",
    "rows_take_none",
]

RULE = "tqdm:bar"
# tqdm_bars._PLAIN (the one-match shortcut of find_bars) with a bar drawn only in tqdm's bar characters (so no
# other reader's words can hide in it) and without a unit of "s" ("2.0s/s" reads as seconds per unit on the
# general path).
PLAIN_REDRAW = re.compile(
    r"\s*\d{1,3}%\|[ █▏▎▍▌▋▊▉#0-9]{0,2000}\|\s*(\d{1,15})/(\d{1,15})\s*"
    r"\[(\d+:\d{2}(?::\d{2})?)<(\d+:\d{2}(?::\d{2})?|\?), (\d+(?:\.\d+)?|\?)(?!s/)([A-Za-z]+)/s\]\s*"
)


def _keep_groups(pattern: str, keep: tuple[int, ...]) -> str:
    """``pattern`` with its capturing groups but those numbered in ``keep`` made non-capturing."""
    seen = 0

    def one(m: re.Match[str]) -> str:
        nonlocal seen
        seen += 1
        return "(" if seen in keep else "(?:"

    return re.sub(r"(?<!\\)\((?!\?)", one, pattern)


# The same over a run of them joined by \r, with spaces for its whitespace (so nothing in it matches a \r, and a
# redraw padded otherwise goes the line path's way), only the count, total, elapsed time and unit kept: a match is a
# whole redraw (nothing but a \r or an end of the run on either side), so a run with as many matches as redraws is a
# run of plain bars, and the matches are their (count, total, elapsed time, unit) in order. One C pass.
_PLAIN_COUNTS = re.compile(
    r"(?<![^\r])" + _keep_groups(PLAIN_REDRAW.pattern, (1, 2, 3, 6)).replace(r"\s", " ") + r"(?![^\r])"
)


def plain_update(m: re.Match[str], line: int) -> ProgressUpdate:
    """The ``ProgressUpdate`` the line path gives for a redraw that is a plain bar (``PLAIN_REDRAW``'s match)."""
    n, total, elapsed, remaining, rate, unit = m.groups()
    return ProgressUpdate(
        line,
        None,
        "",
        int(n),
        int(total),
        parse_duration(elapsed),
        parse_duration(remaining),
        None if rate == "?" else float(rate),
        unit,
        (),
        redraw=True,
        rule=RULE,
    )


class RedrawReader:
    """The ``RedrawDecoder`` of plain-bar redraws (``hwmon.events.RedrawDecoder``)."""

    def decode(self, raw: str, line: int) -> list[ProgressUpdate]:
        out: list[ProgressUpdate] = []
        for text in raw.split("\r"):
            m = PLAIN_REDRAW.fullmatch(text)
            if m is not None:
                out.append(plain_update(m, line))
        return out


_READER = RedrawReader()


class RedrawLinesReader:
    """The ``RedrawDecoder`` of a ``ProgressBatch`` over several lines of one bar (a run of (bar line, step line)
    pairs, ``hwmon.parsers.stream_runs``): ``raw`` holds each line's states joined by ``\r``, the lines joined by
    ``\n``; ``lines`` their numbers. A line's last state is its final one (``redraw=False``), as the line path
    reads it. A batch may begin part-way through its first line and, ``open_end``, end part-way through its last
    (a run of the bar's lines cut where its clock goes back, ``TqdmRedraws.take_redraw_lines``): that line's last
    state here is then one of its redraws."""

    __slots__ = ("_lines", "_open_end")

    def __init__(self, lines: Sequence[int], open_end: bool = False) -> None:
        self._lines = lines
        self._open_end = open_end

    def decode(self, raw: str, line: int) -> list[ProgressUpdate]:
        out: list[ProgressUpdate] = []
        texts = raw.split("\n")
        for j, (number, text) in enumerate(zip(self._lines, texts, strict=False)):
            states = text.split("\r")
            final = len(states) - 1 if not (self._open_end and j == len(texts) - 1) else -1
            for k, state in enumerate(states):
                m = PLAIN_REDRAW.fullmatch(state)
                if m is not None:
                    update = plain_update(m, number)
                    out.append(update if k != final else dataclasses.replace(update, redraw=False))
        return out


def rows_match_no_plain_bar(parser: RuleParser, reviewed: frozenset[str]) -> bool | None:
    """``rows_take_none`` of a run of plain bars (``PLAIN_REDRAW``) without reading it: True when every row of the
    parser is among ``reviewed``, the rows it names because each needs text that no plain bar holds (a plain bar,
    stripped, starts with digits and ``%|``; it holds letters only in its unit, right before ``/s]``: no word is
    followed by a space, a colon or anything but ``/``); None when a row is not among them (then ``rows_take_none``
    reads the run)."""
    return True if all(row.name in reviewed for row in parser.TABLE.rows) else None


def rows_take_none(parser: RuleParser, texts: list[str]) -> bool:
    """Whether none of a rule parser's rows matches any of ``texts``, read as the record stage reads a plain bar
    (no prefix, no stamp: the message is the stripped text). Then the line path gives no event of the parser's for
    them and changes none of its state (its ``before`` hook acts on final lines only). A row none of whose needles
    is in the joined texts matches none of them; its ``TRIGGER`` is not asked (a row that matches is enough to say
    no: the line path then decides)."""
    joined = "\r".join(texts)
    stripped: list[str] | None = None
    for row in parser.TABLE.rows:
        for needle in row.needles:
            if needle in joined:
                break
        else:
            continue
        if stripped is None and not row.on_text:
            stripped = list(map(str.strip, texts))
        if row.finds_any(texts if row.on_text else stripped):  # type: ignore[arg-type]
            return False
    return True


def _accepted(found: list[tuple[str, str, str, str]]) -> int:
    """How many of a run's (count, total, elapsed) from the first count to one nonzero total with neither the count
    nor the elapsed time going back."""
    if not found or not int(found[0][1]):
        return 0
    total = found[0][1]
    n = -1
    elapsed = -1.0
    shown = ""
    for k, (count, bar_total, bar_elapsed, _) in enumerate(found):
        now = int(count)
        if now < n or bar_total != total:
            return k
        if bar_elapsed != shown:  # (it changes about once a second: most redraws show the same)
            seconds = parse_duration(bar_elapsed)
            if seconds is None or seconds < elapsed:
                return k
            shown, elapsed = bar_elapsed, seconds
        n = now
    return len(found)


def _segments(found: list[tuple[str, str, str, str]]) -> tuple[int, tuple[int, ...]]:
    """(how many of a run's (count, total, elapsed) from the first count to one nonzero total with the count never
    going back, the places among them where the elapsed time goes back): where its clock goes back the bar's origin
    starts again (the model's ``_tell_time``), so a ``ProgressBatch`` ends before each place and the next begins
    there. ``_accepted`` is the run up to the first place."""
    if not found or not int(found[0][1]):
        return 0, ()
    total = found[0][1]
    n = -1
    elapsed = -1.0
    shown = ""
    cuts: list[int] = []
    for k, (count, bar_total, bar_elapsed, _) in enumerate(found):
        now = int(count)
        if now < n or bar_total != total:
            return k, tuple(cuts)
        if bar_elapsed != shown:  # (it changes about once a second: most redraws show the same)
            seconds = parse_duration(bar_elapsed)
            if seconds is None:
                return k, tuple(cuts)
            if seconds < elapsed:
                cuts.append(k)
            shown, elapsed = bar_elapsed, seconds
        n = now
    return len(found), tuple(cuts)


class _Run(NamedTuple):
    """What one findall tells of a run of redraws (``_plain_run``)."""

    accepted: int
    """``_accepted``: the redraws from the first that one ``ProgressBatch`` stands for."""
    units: frozenset[str]
    taken: int
    """The redraws from the first that ``ProgressBatch`` objects cut where the clock goes back stand for."""
    cuts: tuple[int, ...]
    """Where among them the clock goes back (``_segments``)."""


_NO_RUN = _Run(0, frozenset(), 0, ())


def _plain_run(joined: str) -> _Run:
    """What the run ``joined`` (redraws joined by ``\\r``) reads as when every redraw is a plain bar (``_accepted``,
    the units its bars count in, ``_segments``), else nothing accepted."""
    found = _PLAIN_COUNTS.findall(joined)
    if len(found) != joined.count("\r") + 1:
        return _NO_RUN
    taken, cuts = _segments(found)
    return _Run(cuts[0] if cuts else taken, frozenset(map(itemgetter(3), found)), taken, cuts)


def _plain_accepted(joined: str) -> int:
    return _plain_run(joined).accepted


class TqdmRedraws:
    """``accepts_redraws`` / ``take_redraws`` of ``TqdmParser``, and their forms for the bar lines of a run of (bar
    line, step line) pairs (``hwmon.parsers.stream_runs``): ``redraw_lines_accepted``, ``plain_line_units``,
    ``accepts_redraw_lines``, ``take_redraw_lines``, which take a bar whose clock goes back (its count going on) as
    several ``ProgressBatch`` objects, one from each place the clock went back."""

    _redraw_run: str
    _hinted: tuple[str, _Run] = ("", _NO_RUN)
    """(the run ``redraws_accepted`` / ``redraw_lines_accepted`` read last, what it read as: its figures, the units of
    its bars, where its clock goes back): ``accepts_redraws`` of the same run, or of its first redraws up to the
    figure (acceptance holds for every run that begins an accepted one), reads nothing again."""
    _line_cuts: tuple[int, ...] = ()
    """Where the clock goes back in the run ``accepts_redraw_lines`` accepted last."""

    def _touch_anonymous(self) -> None:
        raise NotImplementedError

    def _anonymous_is_plain(self) -> bool:
        raise NotImplementedError

    def accepts_redraws(self, texts: list[str]) -> bool:
        """Whether every one of ``texts`` is a plain bar, the anonymous bar stands for no phase (then the run
        changes nothing here but that bar), all count to one nonzero total, and neither the count nor the elapsed
        time goes back along the run (then the model's fold of the first and the last is that of every one:
        ``ProgressBatch``). A restarted bar, or bars of two totals, go one by one. One ``findall`` over the joined
        run (``_PLAIN_COUNTS``), in C."""
        if not texts or not self._anonymous_is_plain():
            return False
        joined = "\r".join(texts)
        if joined == self._hinted[0]:
            accepted = self._hinted[1].accepted  # (the run just hinted at: its figure, not a second pass)
        elif self._begins_hinted(texts, joined, self._hinted[1].accepted):
            accepted = len(texts)  # (the first redraws of the run hinted at, all of them taken: so are these)
        else:
            accepted = _plain_accepted(joined)
        if accepted != len(texts):
            return False
        self._redraw_run = joined
        return True

    def accepts_redraw_lines(self, texts: list[str]) -> bool:
        """``accepts_redraws`` of the states of a run of bar lines (``take_redraw_lines``), the elapsed time allowed
        to go back (the count going on): the run is then taken as one ``ProgressBatch`` from each place it does."""
        if not texts or not self._anonymous_is_plain():
            return False
        joined = "\r".join(texts)
        hinted, run = self._hinted
        if joined == hinted:
            taken, cuts = run.taken, run.cuts
        elif self._begins_hinted(texts, joined, run.taken):
            taken, cuts = len(texts), tuple(cut for cut in run.cuts if cut < len(texts))
        else:
            read = _plain_run(joined)
            taken, cuts = read.taken, read.cuts
        if taken != len(texts):
            return False
        self._line_cuts = cuts
        return True

    def plain_units(self, texts: list[str]) -> frozenset[str] | None:
        """The units of the run ``texts`` when it is the run ``redraws_accepted`` read last, or begins it, and every
        one of its redraws is a plain bar (``PLAIN_REDRAW``); None when that is not known without reading it. (The
        units of the whole hinted run: a run that begins it counts in some of them.) Other readers of redraws judge
        a run of plain bars by its units alone (``accepts_plain_redraws``)."""
        return self._units(texts, self._hinted[1].accepted)

    def plain_line_units(self, texts: list[str]) -> frozenset[str] | None:
        """``plain_units`` of the states of a run of bar lines, up to ``redraw_lines_accepted``'s figure."""
        return self._units(texts, self._hinted[1].taken)

    def _units(self, texts: list[str], figure: int) -> frozenset[str] | None:
        hinted, run = self._hinted
        if not texts or len(texts) > figure:
            return None
        joined = "\r".join(texts)
        return run.units if joined == hinted or self._begins_hinted(texts, joined, figure) else None

    def _begins_hinted(self, texts: list[str], joined: str, figure: int) -> bool:
        """Whether ``texts`` (joined: ``joined``) are the first redraws of the run hinted at, all of them among the
        first ``figure`` of it."""
        hinted = self._hinted[0]
        return (
            len(texts) <= figure
            and len(joined) < len(hinted)
            and hinted[len(joined)] == "\r"
            and hinted.startswith(joined)
            and joined.count("\r") == len(texts) - 1
        )

    def redraws_accepted(self, texts: list[str]) -> int:
        """How many of ``texts`` from the first ``accepts_redraws`` would accept (a hint: where a run of a bar's
        states stops being one run — its count or elapsed time going back — so a bulk reader can stop there)."""
        return self._hint(texts).accepted

    def redraw_lines_accepted(self, texts: list[str]) -> int:
        """How many of ``texts`` from the first ``accepts_redraw_lines`` would accept (its count going back, another
        total or a figure that does not read stop them; its clock going back does not)."""
        return self._hint(texts).taken

    def _hint(self, texts: list[str]) -> _Run:
        if not self._anonymous_is_plain():
            return _NO_RUN
        joined = "\r".join(texts)
        run = _plain_run(joined)
        self._hinted = (joined, run)
        return run

    def take_redraw_lines(self, lines: Sequence[Sequence[str]], numbers: Sequence[int]) -> list[Event]:
        """The ``ProgressBatch`` objects of the states of several lines of one bar (each line's redraws and its final
        state, ``lines``; their numbers, ``numbers``) that ``accepts_redraw_lines`` accepted last: one from the
        first state and one from each place its clock goes back (``_segments``). Within each the count and the
        elapsed time never go back, so the model's fold of its first and last is that of every one; where the clock
        goes back the next batch's first restarts the bar's origin as the line path's redraw does."""
        cuts, self._line_cuts = self._line_cuts, ()
        self._redraw_run = ""
        self._hinted = ("", _NO_RUN)
        self._touch_anonymous()
        # (line index, state index) of each segment's first state, and the end.
        bounds: list[tuple[int, int]] = []
        at = 0
        starts = iter((0, *cuts))
        wanted: int | None = next(starts)
        for j, states in enumerate(lines):
            while wanted is not None and wanted < at + len(states):
                bounds.append((j, wanted - at))
                wanted = next(starts, None)
            at += len(states)
        bounds.append((len(lines) - 1, len(lines[-1])))
        events: list[Event] = []
        for (j0, k0), (j1, k1) in zip(bounds, bounds[1:], strict=False):
            if (j1, k1) == (len(lines) - 1, len(lines[-1])):
                pieces, open_end = [lines[j] for j in range(j0, j1 + 1)], False
            elif k1 == 0:
                pieces, open_end = [lines[j] for j in range(j0, j1)], False
            else:
                pieces, open_end = [*(lines[j] for j in range(j0, j1)), lines[j1][:k1]], True
            pieces[0] = pieces[0][k0:]
            piece_numbers = numbers[j0 : j0 + len(pieces)]
            events.append(self._batch(pieces, piece_numbers, first_final=k0 == len(lines[j0]) - 1, open_end=open_end))
        return events

    @staticmethod
    def _batch(
        pieces: Sequence[Sequence[str]], numbers: Sequence[int], *, first_final: bool, open_end: bool
    ) -> ProgressBatch:
        first = PLAIN_REDRAW.fullmatch(pieces[0][0])
        last = PLAIN_REDRAW.fullmatch(pieces[-1][-1])
        assert first is not None and last is not None  # (accepts_redraw_lines matched them)
        start = plain_update(first, numbers[0])
        end = plain_update(last, numbers[-1])
        raw = "\n".join("\r".join(states) for states in pieces)
        count = sum(map(len, pieces))
        return ProgressBatch(
            numbers[-1],
            None,
            dataclasses.replace(start, redraw=False) if first_final else start,
            end if open_end else dataclasses.replace(end, redraw=False),
            count,
            raw,
            RedrawLinesReader(numbers, open_end),
            rule=RULE,
        )

    def take_redraws(self, texts: list[str], line: int) -> list[Event]:
        """The ``ProgressBatch`` of the run ``accepts_redraws`` accepted last."""
        joined, self._redraw_run = self._redraw_run, ""
        self._touch_anonymous()
        first = PLAIN_REDRAW.fullmatch(texts[0])
        last = PLAIN_REDRAW.fullmatch(texts[-1])
        assert first is not None and last is not None  # (accepts_redraws matched them)
        return [
            ProgressBatch(
                line, None, plain_update(first, line), plain_update(last, line), len(texts), joined, _READER, rule=RULE
            )
        ]
