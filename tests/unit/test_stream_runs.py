"""Runs of (progress bar line, step line) pairs read in bulk (``hwmon.parsers.stream_runs``, issue 17 point 6): with
``blocks=True`` a run of an HF-Trainer-style loop (a tqdm bar redrawn with ``\\r``, a log dict after every few
steps) becomes one ``ProgressBatch`` and one ``StepBatch``; expanded, they are the line path's events line by line
(numbers, fields, rules), and the model (summary, series, bars, phases) is the line path's, in every chunking."""

from __future__ import annotations

import random

import pytest
from tests.helpers.chunking import split_bytewise, split_random, split_whole

from hwmon.events import Event, ProgressBatch, StepBatch, StepMetrics, expand_steps
from hwmon.model.reducer import apply_all
from hwmon.model.state import RunState
from hwmon.model.summary import summary_dict
from hwmon.parsers.base import Line, RedrawnLine
from hwmon.parsers.decoders import dict_decoder, dict_keys
from hwmon.parsers.stream import StreamParser
from hwmon.parsers.stream_runs import _pair


def _hf(rng: random.Random, total: int, quoted: bool, wrap: int = 60, shift: int = 0) -> list[str]:
    """An HF Trainer segment (as bench/gen_gpu_log.py writes it): its elapsed clock ((n + shift) // 4 s at state
    n) wraps every ``wrap`` s."""
    q = "'" if quoted else ""
    lines = ["***** Running training *****", "  Num examples = 8,000", "  Num Epochs = 1"]
    lines.append(f"  Total optimization steps = {total:,}")
    loss = 2.0
    bar: list[str] = []
    for n in range(1, total + 1):
        pct = 100 * n // total
        clock = f"00:{(n + shift) // 4 % wrap:02d}"
        bar.append(f"{pct:3d}%|{'█' * (pct // 10):<10}| {n}/{total} [{clock}<10:00, {20 + rng.random():.2f}it/s]")
        if n % 10 == 0:
            lines.append("\r".join(bar))
            bar = []
            loss = max(0.05, loss - rng.random() * 0.003)
            lines.append(
                f"{{'loss': {q}{loss:.4f}{q}, 'grad_norm': {q}{rng.random() + 0.5:.3f}{q}, 'learning_rate': "
                f"{q}{5e-5 * (1 - n / total):.3g}{q}, 'epoch': {q}{n / total:.2f}{q}}}"
            )
        if n % 200 == 0:
            lines.append(f"{{'eval_loss': {q}{loss + 0.05:.4f}{q}, 'epoch': {q}{n / total:.2f}{q}}}")
            lines.append(f"Saving model checkpoint to out/checkpoint-{n}")
    lines.append(f"{{'train_runtime': {q}60.0{q}, 'train_samples_per_second': {q}133.3{q}, 'train_loss': {q}0.9{q}}}")
    return lines


def hf_log(seed: int = 0, segments: int = 2, total: int = 600, wrap: int = 60, shift: int = 0) -> bytes:
    rng = random.Random(seed)
    lines: list[str] = []
    for k in range(segments):
        lines += _hf(rng, total, quoted=k % 2 == 1, wrap=wrap, shift=shift)
    return ("\n".join(lines) + "\n").encode()


def parse(chunks: list[bytes], blocks: bool) -> tuple[list[Event], RunState, int]:
    parser = StreamParser(blocks=blocks)
    state = RunState(source="x")
    events: list[Event] = []
    for chunk in chunks:
        found = parser.feed(chunk)
        apply_all(state, found)
        events += found
    found = parser.finish()
    apply_all(state, found)
    return events + found, state, parser.lines_seen


def per_line(found: list[Event]) -> list[tuple[int, str, str]]:
    """Every event, batches expanded (steps and bar states), in line order: (line, repr, rule)."""
    out: list[tuple[int, str, str]] = []
    for event in found:
        if isinstance(event, StepMetrics | StepBatch):
            out += [(s.line, repr(s), s.rule) for s in expand_steps(event)]
        elif isinstance(event, ProgressBatch):
            out += [(u.line, repr(u), u.rule) for u in event.updates()]
        else:
            out.append((event.line, repr(event), event.rule))
    # (a run's bar states come before its steps: within a line the order is the line path's)
    return sorted(out, key=lambda item: item[0])


def model(state: RunState, lines: int) -> dict[str, object]:
    """What a user can see of a run: the summary, the series kept for the charts, the bars, the phases. (Not
    ``version``, the repaint counter: a ``StepBatch`` bumps it once, as a Megatron or Cerebras block does.)"""
    return {
        "summary": summary_dict(state),
        "series": [_slots(getattr(state, name)) for name in ("steps", "loss", "rate")],
        "progress": repr(state.progress),
        "phases": repr(state.phases),
        "checkpoints": repr(state.checkpoints),
        "eval": repr(state.eval),
        "last_step": repr(state.last_step),
        "lines": lines,
    }


def _slots(value: object) -> str:
    names = [n for cls in type(value).__mro__ for n in getattr(cls, "__slots__", ())]
    return repr({name: getattr(value, name) for name in names if hasattr(value, name)} or vars(value))


def bulk(found: list[Event]) -> tuple[list[StepBatch], list[ProgressBatch]]:
    steps = [e for e in found if isinstance(e, StepBatch) and e.rule == "hftrainer:dict"]
    bars = [e for e in found if isinstance(e, ProgressBatch) and e.first.line != e.last.line]
    return steps, bars


def test_a_run_of_pairs_is_one_step_batch_and_one_bar_batch_equal_to_the_line_path() -> None:
    data = hf_log()
    fast, fast_state, fast_lines = parse([data], blocks=True)
    slow, slow_state, slow_lines = parse([data], blocks=False)
    steps, bars = bulk(fast)
    # The runs were read in bulk: most log dicts are in a StepBatch, and its rows are every other line.
    assert sum(b.count for b in steps) > 80 and bars
    assert all(b.columns()[0].lines[1] - b.columns()[0].lines[0] == 2 for b in steps)
    assert per_line(fast) == per_line(slow)
    assert model(fast_state, fast_lines) == model(slow_state, slow_lines)


@pytest.mark.parametrize(
    ("wrap", "shift", "where"),
    [(60, 0, "at a line's final state"), (7, 0, "inside a line"), (5, 9, "at a line's first state"), (3, 2, "often")],
)
def test_a_run_whose_clock_goes_back_is_read_whole_as_batches_cut_there(wrap: int, shift: int, where: str) -> None:
    """The bar's elapsed time goes back (its count going on) ``where``: the run is still read whole, as one
    ProgressBatch from each place the clock goes back, each batch's states those of the line path."""
    data = hf_log(seed=2, wrap=wrap, shift=shift)
    fast, fast_state, fast_lines = parse([data], blocks=True)
    slow, slow_state, slow_lines = parse([data], blocks=False)
    steps, _ = bulk(fast)
    bars = [e for e in fast if isinstance(e, ProgressBatch)]
    assert per_line(fast) == per_line(slow)
    assert model(fast_state, fast_lines) == model(slow_state, slow_lines)
    # Runs end only at the evals (every 20 pairs; a run's last pair goes line by line, and a segment's first).
    assert len(steps) >= 6 and {b.count for b in steps} <= {18, 19}
    for batch in bars:
        updates = batch.updates()
        assert len(updates) == batch.count and (updates[0], updates[-1]) == (batch.first, batch.last)
        seconds = [u.elapsed_s for u in updates]
        assert seconds == sorted(seconds)  # (within a batch the clock never goes back)
    assert sum(b.count for b in bars) > 1000


def test_runs_of_pairs_in_every_chunking_give_the_line_paths_model() -> None:
    data = hf_log(seed=3)
    slow, slow_state, slow_lines = parse([data], blocks=False)
    want_events, want = per_line(slow), model(slow_state, slow_lines)
    chunkings = [("whole", split_whole(data)), ("bytewise", split_bytewise(data))]
    chunkings += [(f"random {seed}", split_random(data, seed, max_size=20000)) for seed in range(4)]
    taken = 0
    for label, chunks in chunkings:
        fast, fast_state, fast_lines = parse(chunks, blocks=True)
        taken += len(bulk(fast)[0])
        assert per_line(fast) == want_events, label
        assert model(fast_state, fast_lines) == want, label
    assert taken > 4  # (some chunkings did read runs in bulk)


def test_steps_that_go_back_read_as_none_in_bulk_as_line_by_line() -> None:
    # The second segment's steps are below the first's last: the Trainer rule numbers none of them.
    data = hf_log(seed=5, segments=3)
    fast, fast_state, fast_lines = parse([data], blocks=True)
    slow, slow_state, slow_lines = parse([data], blocks=False)
    steps, _ = bulk(fast)
    assert any(b.first.step is None for b in steps) and any(b.first.step is not None for b in steps)
    assert per_line(fast) == per_line(slow)
    assert model(fast_state, fast_lines) == model(slow_state, slow_lines)


def test_keep_lines_gives_the_same_lines_in_bulk() -> None:
    data = hf_log(seed=7, segments=1)
    kept: list[list[str]] = []
    for blocks in (True, False):
        parser = StreamParser(blocks=blocks, keep_lines=100000)
        parser.feed(data)
        parser.finish()
        kept.append(parser.pop_lines())
    assert kept[0] == kept[1] and len(kept[0]) == data.count(b"\n")


def test_dict_template_compiles_only_dicts_of_numbers() -> None:
    text = "{'loss': '0.5', 'grad_norm': 1.25, 'epoch': 0.01}"
    assert dict_keys(text) == ["loss", "grad_norm", "epoch"]
    roles = {"loss": "loss", "grad_norm": "extra:grad_norm", "epoch": "epoch"}
    decoder = dict_decoder(text, roles, "r", (200, 1))
    assert decoder is not None
    raw = b"{'loss': '0.25', 'grad_norm': nan, 'epoch': 0.02}\n{'loss': '1e-3', 'grad_norm': 2, 'epoch': 0.5}\n"
    (columns,) = decoder.decode(raw, 7)
    assert columns.step == [4, 100] and columns.loss == [0.25, 0.001] and list(columns.lines) == [7, 8]
    assert columns.row(1).extra == (("grad_norm", 2.0),)
    # A value that is not a number, a nested dict, another key order: no template (or no match).
    assert dict_keys("{'loss': 'x', 'epoch': 1}") is None
    assert dict_keys("{'a': {'b': 1}}") is None
    assert dict_keys("{'loss': 1, 'loss': 2}") is None
    assert len(decoder.decode(b"{'grad_norm': 1, 'loss': 2, 'epoch': 0.1}\n", 1)) == 0


class RedrawReaderDouble:
    """A test double for a reader of redraws: says yes or no to every run and records what it was asked."""

    def __init__(self, accepts: bool) -> None:
        self.accepts = accepts
        self.asked: list[int] = []

    def accepts_redraws(self, texts: list[str]) -> bool:
        self.asked.append(len(texts))
        return self.accepts

    def take_redraws(self, texts: list[str], line: int) -> list[Event]:
        return []

    def feed(self, line: object) -> list[Event]:
        return []

    def finish(self) -> list[Event]:
        return []


def test_a_run_is_read_in_bulk_only_when_every_reader_of_redraws_accepts_all_its_states() -> None:
    data = hf_log(seed=11, segments=1)
    for accepts in (True, False):
        parser = StreamParser(blocks=True)
        double = RedrawReaderDouble(accepts)
        parser._redraw_parsers.append(double)
        parser._run_readers.append(double)
        found = parser.feed(data) + parser.finish()
        steps, bars = bulk(found)
        assert bool(steps) == bool(bars) == accepts
        # Asked about whole runs (every state of many bar lines at once: each line holds 10), or, saying no, about
        # each run's first pair.
        assert max(double.asked) > 10 * 8 if accepts else max(double.asked) <= 10


def test_a_template_that_reads_a_line_otherwise_than_the_line_path_is_not_used() -> None:
    # The vocabulary folds key case ("grad_Norm" is the metric grad_norm): the template, which names the key as
    # printed, would not give the line path's extras; the first and last lines of a run are checked against it.
    data = hf_log(seed=13, segments=1).replace(b"'grad_norm'", b"'grad_Norm'")
    fast, fast_state, fast_lines = parse([data], blocks=True)
    slow, slow_state, slow_lines = parse([data], blocks=False)
    assert bulk(fast)[0] == []
    assert per_line(fast) == per_line(slow)
    assert model(fast_state, fast_lines) == model(slow_state, slow_lines)


def test_no_run_is_read_in_bulk_while_a_traceback_is_being_read() -> None:
    # The generic parser holds a traceback until it ends: the lines after its header are its to read.
    lines = hf_log(seed=17, segments=1).split(b"\n")
    at = next(i for i, line in enumerate(lines) if i > 20 and b"\r" in line)
    frames = [b"Traceback (most recent call last):", b'  File "train.py", line 3, in <module>', b"    main()"]
    data = b"\n".join([*lines[:at], *frames, *lines[at:]])
    fast, fast_state, fast_lines = parse([data], blocks=True)
    slow, slow_state, slow_lines = parse([data], blocks=False)
    assert [e for e in slow if type(e).__name__ == "ErrorSeen"]
    assert per_line(fast) == per_line(slow)
    assert model(fast_state, fast_lines) == model(slow_state, slow_lines)


def test_a_failing_run_reader_leaves_the_run_to_the_line_path_and_says_so() -> None:
    data = hf_log(seed=19, segments=1)

    def broken(text: str) -> None:
        raise RuntimeError("broken run reader")

    parser = StreamParser(blocks=True, strict=False)
    for reader in parser._parsers:
        if hasattr(reader, "run_decoder"):
            reader.run_decoder = broken  # type: ignore[method-assign]
    fast = parser.feed(data) + parser.finish()
    slow, _, _ = parse([data], blocks=False)
    faults = [e for e in fast if type(e).__name__ == "WarningSeen" and "broken run reader" in repr(e)]
    assert faults and bulk(fast)[0] == []
    assert [s for s in per_line(fast) if "WarningSeen" not in s[1]] == per_line(slow)


def test_a_run_of_plain_bars_another_reader_may_take_is_not_read_in_bulk() -> None:
    # Bars counting in "IPU" from half-way: graphcore's trigger is in those states, so it would read them (and says
    # no to a run holding them); judged by the run's units it says no too: only the bars before them go in bulk.
    data = hf_log(seed=23, segments=1)
    half = data.index(b"\r", len(data) // 2)
    changed = data[:half] + data[half:].replace(b"it/s]", b"IPU/s]")
    fast, fast_state, fast_lines = parse([changed], blocks=True)
    slow, slow_state, slow_lines = parse([changed], blocks=False)
    steps, bars = bulk(fast)
    assert steps and bars and not any("IPU" in str(bar.raw) for bar in bars)
    assert per_line(fast) == per_line(slow)
    assert model(fast_state, fast_lines) == model(slow_state, slow_lines)


def test_a_pair_is_a_redrawn_line_then_the_next_line_final_and_whole() -> None:
    bar = RedrawnLine(5, 0, ("  1%|", "  2%|"))
    assert _pair([bar, Line(6, 20, "{'loss': 1.0}")], 0) == 1
    assert _pair([Line(5, 0, "  2%|"), Line(6, 20, "{'loss': 1.0}")], 0) is None  # (no redraw)
    assert _pair([bar, Line(7, 20, "{'loss': 1.0}")], 0) is None  # (not the next line)
    assert _pair([bar, Line(6, 20, "{'loss': 1.0} … [cut: 9 bytes]", True, True)], 0) is None  # (cut)
    assert _pair([bar, Line(6, 20, "{'loss': 1.0}", False)], 0) is None  # (a redraw)
    assert _pair([bar, RedrawnLine(6, 20, ("a", "b"))], 0) is None
    assert _pair([bar], 0) is None


def test_a_run_of_pairs_hands_over_the_columns_its_decoder_reads_back() -> None:
    # ``StepBatch.decoded`` spares the model reading the run back: it must be what the decoder reads, numbered
    # steps or not (a later segment's steps go back: the Trainer rule numbers none of them).
    for seed, segments in ((0, 2), (5, 3)):
        fast, _, _ = parse([hf_log(seed=seed, segments=segments)], blocks=True)
        steps, _ = bulk(fast)
        assert steps and all(len(b.decoded) == 1 for b in steps)
        for b in steps:
            assert b.decoder is not None
            assert list(b.decoded) == b.decoder.decode(b.raw, b.first.line) == b.columns()
        assert any(b.first.step is None for b in steps) and any(b.first.step is not None for b in steps)


def test_a_batch_whose_handed_over_columns_are_short_is_read_back_from_its_lines() -> None:
    # Columns that do not cover the batch (a parser's mistake) are not trusted: the lines are read back.
    import dataclasses

    data = hf_log(seed=1, segments=1)
    fast, want_state, lines = parse([data], blocks=True)
    cut: list[Event] = []
    for event in fast:
        if isinstance(event, StepBatch) and event.decoded:
            whole = event.decoded[0]
            names = ("lines", "step", "loss", "ts", "rate")
            short = dataclasses.replace(whole, **{k: v[:1] for k in names if (v := getattr(whole, k)) is not None})
            event = dataclasses.replace(event, decoded=(short,))
        cut.append(event)
    state = RunState(source="x")
    apply_all(state, cut)
    assert model(state, lines) == model(want_state, lines)


def test_the_series_take_a_batchs_steps_whole_only_when_none_is_absurd() -> None:
    # ``_pick_steps`` keeps a column of kept steps as it is only when no step is None or absurd (beyond 2**53, which
    # the line path drops); otherwise each step is judged on its own.
    from hwmon.model.reducer.steps import _all_sane

    assert _all_sane([]) and _all_sane([1, 5, 9]) and _all_sane([-(2**53), 2**53])
    assert not _all_sane([1, None, 3])
    assert not _all_sane([1, 2**53 + 1]) and not _all_sane([2**60, 3]) and not _all_sane([-(2**53) - 1, 0])


def test_a_run_whose_clock_goes_back_is_judged_by_its_units(monkeypatch: pytest.MonkeyPatch) -> None:
    """tqdm names the units of a run whose clock goes back too (``plain_line_units``): the readers that can judge
    a run of plain bars by its units do, none reads a run's states (only a line's: a first pair's, the line path's)."""
    from hwmon.parsers.keras import KerasParser

    asked: list[int] = []
    original = KerasParser.accepts_redraws

    def counting(self: KerasParser, texts: list[str]) -> bool:
        asked.append(len(texts))
        return original(self, texts)

    monkeypatch.setattr(KerasParser, "accepts_redraws", counting)
    fast, _, _ = parse([hf_log(seed=4, wrap=7)], blocks=True)
    assert len(bulk(fast)[0]) >= 6
    assert max(asked, default=0) <= 10  # (a line has 10 states; a run read whole would be asked ~190)


def test_a_run_that_stops_qualifying_near_its_end_is_read_up_to_there() -> None:
    """The second segment's steps are below the first's last (none numbered) until its epoch reads 1.00 two dicts
    before its end (numbered again): its last run qualifies only two pairs short (tried before halving)."""
    data = hf_log(seed=9, segments=2, total=5000)
    fast, fast_state, fast_lines = parse([data], blocks=True)
    slow, slow_state, slow_lines = parse([data], blocks=False)
    steps, _ = bulk(fast)
    ends = [b.last for b in steps]
    assert any(s.step is None and s.epoch == 0.99 for s in ends)  # (a run read up to the dicts that read 1.00)
    assert per_line(fast) == per_line(slow)
    assert model(fast_state, fast_lines) == model(slow_state, slow_lines)
