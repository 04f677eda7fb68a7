"""Runs of (progress bar line, step line) pairs read in bulk. Pure; a mixin of ``hwmon.parsers.stream.StreamParser``.

A training loop that redraws a bar with ``\\r`` and prints a step line every few steps (a log dict, a ``key:
value`` line) writes a log in which every other line is a bar: no ``LineBlock`` forms (the bars hold ``\\r``), and
line by line each pair costs the record stage, every rule table and the learned stage twice. When the splitter
hands such a run over at once (a catch-up read), the stream reads it in bulk:

- the pairs are found by shape only: a line redrawn with ``\\r`` that the splitter handed over whole (a
  ``RedrawnLine``: its states as texts, no ``Line`` per state), then the next line, final;
- a format parser that reads the step lines offers a decoder for the first one's template (``run_decoder``: one
  bytes regex over a whole line, ``hwmon.parsers.decoders``) while the run would only give their steps; the
  decoder reads every step line of the run in one ``findall``; the parser's own reading of the first and the last
  (``run_line``) must equal the decoder's rows, and the parser says what its line path makes of the run's steps
  (``run_steps``: a step going back is none; a run mixing such steps with others goes line by line) and takes
  them (``run_take``);
- every reader of redraws must accept all the bar states of the run at once (``accepts_redraws``: plain states of
  one bar whose count and elapsed time never go back, nothing of theirs among them); once a reader has said the
  run is all plain bars and named their units (tqdm's ``plain_units``), a reader that can judge such a run by its
  units alone does so (``accepts_plain_redraws``: each one's proof is in its docstring; None: it reads the run);
  each takes them (``take_redraw_lines`` where the reader has it, else ``take_redraws``): one ``ProgressBatch``
  over the run;
- the steps become one ``StepBatch`` (its decoder ``Renumbered``: the step lines are every other line).

The run's last pair goes the ordinary way, so every stage that remembers the last lines it saw (the model tree,
the generic parser, the tables, the parsers' per-line state) sees them as line by line; a run that does not
qualify goes the ordinary way whole. Nothing runs in bulk while a stage is in the middle of something (a
traceback, a module tree, a table, a user format, an evaluation block, the rank tracker watching).
"""

from __future__ import annotations

import dataclasses
import math
from collections import deque
from collections.abc import Sequence
from typing import Any

from hwmon.events import Event, ProgressBatch, StepBatch, StepColumns
from hwmon.parsers.base import Line, LineBlock, RedrawnLine
from hwmon.parsers.blocks import SAMPLES_PER_BATCH
from hwmon.parsers.decoders import Renumbered, TemplateDecoder
from hwmon.parsers.ranks import RankLines

__all__ = ["MIN_PAIRS", "StreamRuns"]

MIN_PAIRS = 8
"""A run of fewer (bar line, step line) pairs than this goes line by line (the last one always does)."""

MAX_PAIRS = 4096
"""At most this many pairs are read as one run (a check of a run reads it whole)."""

Items = Sequence["Line | LineBlock | RedrawnLine"]
_Gathered = tuple[list[tuple[str, ...]], list[int], list[str], list[int]]


class StreamRuns:
    """The bulk reading of runs of pairs; the state it uses is ``StreamParser``'s."""

    lines_seen: int
    keep_lines: int
    _kept: deque[str]
    _parsers: list[Any]
    _redraw_parsers: list[Any]
    _tree: Any
    _generic: Any
    _ranks: RankLines
    learned: Any
    _run_readers: list[Any]
    """The readers of redraws in the order a run asks them (``_redraw_parsers``, the last to refuse first)."""

    def _runs_steady(self) -> bool:
        """No stage is in the middle of something that the next lines may belong to."""
        return not self._ranks.watching and not self._tree.busy and not self._generic.busy and self.learned.steady

    def _run_of_pairs(self, items: Items, i: int, out: list[Event]) -> tuple[int, int]:
        """Read the run of pairs starting at ``items[i]`` (a redraw) in bulk when it qualifies (see the module
        doc). Returns (the index to go on from: ``i`` when nothing was read, the index before which no run is
        tried again). A run whose bars or steps stop qualifying part-way (a bar's elapsed time going back) is read
        up to there; a first pair that does not qualify on its own goes the ordinary way, and the next pair is
        tried (every check of one pair is a few C passes: nothing here grows with the square of a run)."""
        pair = _pair(items, i)
        if pair is None or not self._runs_steady():
            return i, i + 1
        step_line = items[pair]
        assert isinstance(step_line, Line)
        found = self._step_reader(step_line.text)
        if found is None:
            return i, i + 1  # (a state that may pass with the next line: a banner block's end)
        reader, decoder = found
        pairs = [(i, pair)]
        if self._check_pairs(_gather(items, pairs), 1, reader, decoder) is None:
            return i, pair + 1
        while len(pairs) <= MAX_PAIRS and (following := _pair(items, pairs[-1][1] + 1)) is not None:
            pairs.append((pairs[-1][1] + 1, following))
        end = pairs[-1][1] + 1
        if len(pairs) < MIN_PAIRS + 1:
            return i, end
        bulk = len(pairs) - 1  # (the last pair goes the ordinary way)
        gathered = _gather(items, pairs)
        # Where a reader of redraws says the bar's run stops (its count going back, another total), the run stops.
        bulk = max(1, min(bulk, self._bars_hint(gathered[0][:bulk])))
        checked = self._check_pairs(gathered, bulk, reader, decoder) if bulk >= MIN_PAIRS else None
        if checked is None and bulk >= MIN_PAIRS:
            # The longest run from the start that qualifies (the first pair alone does). A run most often stops
            # qualifying at its very end (its last steps read otherwise by the line path: a segment of a log whose
            # steps are below the last one read, none numbered, until they reach it), so the runs one and two pairs
            # shorter are tried first (3 checks where halving takes ~7), then the rest by halving.
            good, bad = 1, bulk
            for shorter in (bulk - 1, bulk - 2):
                if shorter < MIN_PAIRS:
                    break
                checked = self._check_pairs(gathered, shorter, reader, decoder)
                if checked is not None:
                    good = bad = shorter
                    break
                bad = shorter
            while bad - good > 1:
                mid = (good + bad) // 2
                prefix = self._check_pairs(gathered, mid, reader, decoder)
                if prefix is None:
                    bad = mid
                else:
                    good, checked = mid, prefix
            bulk = good
        if checked is None or bulk < MIN_PAIRS:
            return i, pairs[bulk][0]
        out.extend(self._take_pairs(checked, reader))
        # After a whole run its last pair goes the ordinary way; after a run cut short the rest is tried again.
        return pairs[bulk][0], end if bulk == len(pairs) - 1 else pairs[bulk][0]

    def _bars_hint(self, states: list[tuple[str, ...]]) -> int:
        """How many bar lines from the first the readers of redraws that can tell (``redraws_accepted``) would
        take as one run."""
        every = [text for line in states for text in line]
        taken = len(every)
        for parser in self._redraw_parsers:
            tell = getattr(parser, "redraw_lines_accepted", None) or getattr(parser, "redraws_accepted", None)
            if tell is not None:
                taken = min(taken, tell(every))
        lines = 0
        for line in states:
            taken -= len(line)
            if taken < 0:
                break
            lines += 1
        return lines

    def _plain_units(self, every: list[str]) -> frozenset[str] | None:
        """The units of the bar states ``every`` when a reader of redraws knows them all to be plain bars
        (``plain_units``: tqdm's, from the run it was just asked about), else None."""
        for parser in self._redraw_parsers:
            tell = getattr(parser, "plain_line_units", None) or getattr(parser, "plain_units", None)
            if tell is not None:
                units = tell(every)
                if units is not None:
                    return frozenset(units)
        return None

    def _step_reader(self, text: str) -> tuple[Any, TemplateDecoder] | None:
        for parser in self._parsers:
            offer = getattr(parser, "run_decoder", None)
            if offer is not None:
                decoder = offer(text)
                if decoder is not None:
                    return parser, decoder
        return None

    def _check_pairs(self, gathered: _Gathered, count: int, reader: Any, decoder: TemplateDecoder) -> _Checked | None:
        """What the first ``count`` pairs of a run (``_gather``) read as when they qualify (see the module doc),
        else None. Changes nothing."""
        n = count
        states, bar_numbers = gathered[0][:n], gathered[1][:n]
        step_texts, step_numbers = gathered[2][:n], gathered[3][:n]
        every = [text for line in states for text in line]
        readers = self._run_readers
        units = self._plain_units(every)
        for k, parser in enumerate(readers):
            # A run of plain bars (a reader of redraws says so and names their units) is judged by its units by the
            # readers that can (``accepts_plain_redraws``); the others, and those that cannot tell, read it.
            plain = getattr(parser, "accepts_plain_redraws", None) if units is not None else None
            verdict = plain(units) if plain is not None else None
            if verdict is None:
                # (A reader that takes a bar's lines as several batches, where its clock goes back, says so.)
                accepts = getattr(parser, "accepts_redraw_lines", None) or getattr(parser, "accepts_redraws", None)
                verdict = accepts is not None and accepts(every)
            if not verdict:
                readers.insert(0, readers.pop(k))  # (move to front: the reader that said no is asked first)
                return None
        raw = ("\n".join(step_texts) + "\n").encode("utf-8")
        found = decoder.decode(raw, step_numbers[0])
        if len(found) != 1 or len(found[0]) != n:
            return None
        columns = dataclasses.replace(found[0], lines=step_numbers)
        for j in {0, n - 1}:
            if reader.run_line(step_texts[j], step_numbers[j]) != columns.row(j):
                return None  # the template does not read this run as the line path does
        steps, last = reader.run_steps(columns.step)
        if None in steps:
            if any(step is not None for step in steps):
                return None  # (steps numbered by their order among numbered ones: line by line)
            columns = dataclasses.replace(columns, step=steps)
            decoder = decoder.unnumbered()
        return _Checked(states, every, bar_numbers, step_texts, step_numbers, raw, columns, decoder, last)

    def _take_pairs(self, checked: _Checked, reader: Any) -> list[Event]:
        """The events of a run ``_check_pairs`` said qualifies, every stage told as the line path would."""
        events: list[Event] = []
        for parser in self._redraw_parsers:
            take_lines = getattr(parser, "take_redraw_lines", None)
            if take_lines is not None:
                events.extend(take_lines(checked.states, checked.bar_numbers))
            else:
                events.extend(parser.take_redraws(checked.every, checked.bar_numbers[-1]))
        reader.run_take(checked.last_step)
        for event in events:
            if isinstance(event, ProgressBatch) and not event.last.name and event.last.total:
                self.learned.structured.bar(event.last.n)  # (what LearnedStage.after does for each state)
        batch = _step_batch(checked.columns, checked.raw, Renumbered(checked.decoder, checked.step_numbers))
        events.append(batch)
        events.extend(self._ranks.feed_batch(batch))
        self.lines_seen += 2 * len(checked.step_texts)
        if self.keep_lines:
            for line, text in zip(checked.states, checked.step_texts, strict=True):
                self._kept.append(line[-1])
                self._kept.append(text)
        return events


@dataclasses.dataclass(frozen=True, slots=True)
class _Checked:
    """A run of pairs that qualifies: each bar line's states, all of them, the bar lines' numbers, the step lines'
    texts and numbers, their bytes and their columns, the decoder that read them, and the step reader's last step
    after them."""

    states: list[tuple[str, ...]]
    every: list[str]
    bar_numbers: list[int]
    step_texts: list[str]
    step_numbers: list[int]
    raw: bytes
    columns: StepColumns
    decoder: TemplateDecoder
    last_step: int


def _gather(items: Items, pairs: list[tuple[int, int]]) -> _Gathered:
    """Each bar line's states and number, each step line's text and number."""
    states: list[tuple[str, ...]] = []
    bar_numbers: list[int] = []
    step_texts: list[str] = []
    step_numbers: list[int] = []
    for bar_at, step_at in pairs:
        bar, step = items[bar_at], items[step_at]
        assert isinstance(bar, RedrawnLine) and isinstance(step, Line)
        states.append(bar.texts)
        bar_numbers.append(bar.number)
        step_texts.append(step.text)
        step_numbers.append(step.number)
    return states, bar_numbers, step_texts, step_numbers


def _pair(items: Items, i: int) -> int | None:
    """The index of the step line when ``items[i:]`` starts with a pair (a redrawn line, then the next line, final
    and not redrawn), else None."""
    if i + 1 >= len(items):
        return None
    bar, step = items[i], items[i + 1]
    if not isinstance(bar, RedrawnLine):
        return None
    if not isinstance(step, Line) or not step.final or step.number != bar.number + 1 or step.truncated:
        return None
    return i + 1


def _step_batch(columns: StepColumns, raw: bytes, decoder: Renumbered) -> StepBatch:
    n = len(columns)
    wanted = min(SAMPLES_PER_BATCH, n)
    picks = sorted({round(j * (n - 1) / (wanted - 1)) for j in range(wanted)}) if wanted > 1 else [0]
    samples = tuple(columns.row(j) for j in picks)
    losses = [v for v in columns.loss or () if v is not None]
    finite = [v for v in losses if math.isfinite(v)]
    first, last = samples[0], samples[-1]
    return StepBatch(
        last.line,
        last.ts,
        first=first,
        last=last,
        count=n,
        loss_min=min(finite) if finite else None,
        loss_max=max(finite) if finite else None,
        nonfinite=n - len(finite),
        samples=samples,
        raw=raw,
        decoder=decoder,
        decoded=(columns,),
        rule=decoder.rule,
    )
