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

import re

from hwmon.events import Event, ProgressBatch, ProgressUpdate
from hwmon.parsers.rules import RuleParser
from hwmon.parsers.tqdm_bars import parse_duration

__all__ = ["PLAIN_REDRAW", "RedrawReader", "TqdmRedraws", "plain_update", "rows_take_none"]

RULE = "tqdm:bar"
# tqdm_bars._PLAIN (the one-match shortcut of find_bars) with a bar drawn only in tqdm's bar characters (so no
# other reader's words can hide in it) and without a unit of "s" ("2.0s/s" reads as seconds per unit on the
# general path).
PLAIN_REDRAW = re.compile(
    r"\s*\d{1,3}%\|[ █▏▎▍▌▋▊▉#0-9]{0,2000}\|\s*(\d{1,15})/(\d{1,15})\s*"
    r"\[(\d+:\d{2}(?::\d{2})?)<(\d+:\d{2}(?::\d{2})?|\?), (\d+(?:\.\d+)?|\?)(?!s/)([A-Za-z]+)/s\]\s*"
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


def rows_take_none(parser: RuleParser, texts: list[str]) -> bool:
    """Whether none of a rule parser's rows (behind its ``TRIGGER``) matches any of ``texts``, read as the record
    stage reads a plain bar (no prefix, no stamp: the message is the stripped text). Then the line path gives no
    event of the parser's for them and changes none of its state (its ``before`` hook acts on final lines only)."""
    trigger = parser.TRIGGER
    rows = parser.TABLE.rows
    for text in texts:
        msg = text.strip()
        if trigger is not None and trigger.search(msg) is None:
            continue
        for row in rows:
            if row.find(text if row.on_text else msg) is not None:
                return False
    return True


class TqdmRedraws:
    """``accepts_redraws`` / ``take_redraws`` of ``TqdmParser``."""

    _redraw_matches: list[re.Match[str]]

    def _touch_anonymous(self) -> None:
        raise NotImplementedError

    def _anonymous_is_plain(self) -> bool:
        raise NotImplementedError

    def accepts_redraws(self, texts: list[str]) -> bool:
        """Whether every one of ``texts`` is a plain bar, the anonymous bar stands for no phase (then the run
        changes nothing here but that bar), all count to one nonzero total, and neither the count nor the elapsed
        time goes back along the run (then the model's fold of the first and the last is that of every one:
        ``ProgressBatch``). A restarted bar, or bars of two totals, go one by one."""
        if not self._anonymous_is_plain():
            return False
        matches: list[re.Match[str]] = []
        n = elapsed = -1.0
        total = shown = ""
        fullmatch = PLAIN_REDRAW.fullmatch
        for text in texts:
            m = fullmatch(text)
            if m is None:
                return False
            count, bar_total, bar_elapsed = m.group(1, 2, 3)
            if int(count) < n or (total and bar_total != total):
                return False
            if bar_elapsed != shown:  # (it changes about once a second: most redraws show the same)
                seconds = parse_duration(bar_elapsed)
                if seconds is None or seconds < elapsed:
                    return False
                shown, elapsed = bar_elapsed, seconds
            n, total = int(count), bar_total
            matches.append(m)
        if not int(total or "0"):
            return False
        self._redraw_matches = matches
        return True

    def take_redraws(self, texts: list[str], line: int) -> list[Event]:
        """The ``ProgressBatch`` of the run ``accepts_redraws`` accepted last."""
        matches = self._redraw_matches
        self._redraw_matches = []
        self._touch_anonymous()
        return [
            ProgressBatch(
                line,
                None,
                plain_update(matches[0], line),
                plain_update(matches[-1], line),
                len(matches),
                "\r".join(texts),
                _READER,
                rule=RULE,
            )
        ]
