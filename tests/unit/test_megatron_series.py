"""``MegatronDecoder.decode_series``: the columns the model's series keep (step, loss, rate) as ``decode`` reads them,
from a pattern that captures only their values."""

from __future__ import annotations

import random

import pytest

from hwmon.events import StepColumns, StepMetrics
from hwmon.parsers.megatron_block import MegatronDecoder


def _line(i: int, loss: str, ms: str, batch: str, rate: str | None, lr_first: bool) -> bytes:
    rate_field = "" if rate is None else f" samples per second: {rate} |"
    lr = " learning rate: 1.000E-04 |"
    return (
        f" iteration {i:8d}/ 1000 |{lr if lr_first else ''} consumed samples: {i * 32:10d} | elapsed time per"
        f" iteration (ms): {ms} |{rate_field}{'' if lr_first else lr} global batch size: {batch:>5} | lm loss: {loss} |"
        f" loss scale: 1.0 | grad norm: 0.500 | number of skipped iterations:   0 | number of nan iterations:   0 |\n"
    ).encode()


def _read(text: str, number: int) -> StepMetrics | None:
    return None


def _series(columns: list[StepColumns]) -> str:
    return repr([(list(c.lines), list(c.step), c.loss, c.rate, c.rate_unit, c.ts, c.rule) for c in columns])  # (NaN)


@pytest.mark.parametrize("seed", range(6))
def test_the_series_columns_are_those_of_decode(seed: int) -> None:
    rng = random.Random(seed)
    rate = rng.choice([None, "91.4"])
    lr_first = rng.random() < 0.5
    batch = rng.choice(["32", "0"])
    lines = []
    for i in range(1, 60):
        loss = rng.choice([f"{3.5 + i / 1000:.6E}", "nan", "inf", "-0.0"])
        ms = rng.choice(["350.2", "0.0", "12", "nan"])
        lines.append(_line(i, loss, ms, batch, rate, lr_first))
    raw = b"".join(lines)
    decoder = MegatronDecoder.of(lines[0].rstrip(b"\n"), _read)
    assert decoder is not None
    assert _series(decoder.decode_series(raw, 5)) == _series(decoder.decode(raw, 5))
    read = decoder.decode(raw, 5)  # (empty where the unit changes row by row: the line path, here a stub, reads)
    assert not read or (decoder.decode_series(raw, 5)[0].extra == () and read[0].extra)
    # A subset of the lines (what the reducer reads back), a line the template does not take, units that change
    # row by row: decode's reading.
    picked = b"".join(lines[3::7])
    assert _series(decoder.decode_series(picked, 9)) == _series(decoder.decode(picked, 9))
    odd = raw + b" iteration 60/ 1000 | lm loss: 1.0 |\n"
    assert _series(decoder.decode_series(odd, 5)) == _series(decoder.decode(odd, 5))
    mixed = _line(1, "1.0", "350.2", "32", None, lr_first) + _line(2, "1.0", "350.2", "0", None, lr_first)
    mixed_decoder = MegatronDecoder.of(mixed.split(b"\n")[0], _read)
    assert mixed_decoder is not None
    assert _series(mixed_decoder.decode_series(mixed, 1)) == _series(mixed_decoder.decode(mixed, 1))


@pytest.mark.parametrize("seed", range(6))
def test_padded_lines_are_taken_by_the_template_and_read_as_by_greedy_spaces(seed: int) -> None:
    # The template's and the loss pattern's runs of spaces are possessive (Python 3.11+): padded numbers and
    # separators (1 to 9 spaces; the launcher prefix is the block's own) must still be taken in C, every line, and
    # read as greedy runs read them.
    import re

    from hwmon.parsers.megatron_block import _template, loss_pattern

    rng = random.Random(seed)

    def pad() -> str:
        return " " * rng.randint(1, 9)

    lines = [
        (
            f" iteration{pad()}{i}{pad()}/{pad()}1000{pad()}|{pad()}consumed samples:{pad()}{i * 32}{pad()}|"
            f" elapsed time per iteration (ms):{pad()}350.{i}{pad()}| lm loss:{pad()}{3.5 + i / 100:.6E}{pad()}|"
            f"{pad()}grad norm:{pad()}0.5{pad()}%{pad()}|{pad()}\n"
        ).encode()
        for i in range(1, 40)
    ]
    raw = b"".join(lines)
    found = _template(lines[0].rstrip(b"\n"))
    loss = loss_pattern(lines[0].rstrip(b"\n"))
    assert found is not None and loss is not None
    for pattern in (found[0], loss):
        greedy = re.compile(pattern.pattern.replace(b"*+", b"*"), pattern.flags)
        assert len(pattern.findall(raw)) == len(lines)
        assert pattern.findall(raw) == greedy.findall(raw)
