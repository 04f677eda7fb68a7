"""The help's key table laid out by hand (hwmon.tui.screens.help_text): every key and every word of its
description at any width, no line wider than the width, keys right-aligned in one column, wrapped descriptions
under themselves."""

from __future__ import annotations

import pytest

from hwmon.tui.screens import HELP_SECTIONS, help_text


@pytest.mark.parametrize("width", [40, 60, 74, 92, 140])
def test_help_text_keeps_every_key_and_word_within_the_width(width: int) -> None:
    lines = help_text(width).plain.split("\n")
    assert max(len(line) for line in lines) <= width
    keys = [key for _section, rows in HELP_SECTIONS for key, _what in rows]
    column = max(len(key) for key in keys)
    words = " ".join(line[column + 2 :] for line in lines).split()
    for _section, rows in HELP_SECTIONS:
        for key, _what in rows:
            row = next(line for line in lines if line[:column].strip() == key)
            assert row[:column].endswith(key)  # right-aligned in the key column
        assert all(word in words for _key, what in rows for word in what.split())


def test_a_description_wraps_under_itself() -> None:
    lines = help_text(60).plain.split("\n")
    at = next(i for i, line in enumerate(lines) if line.strip().startswith("z  maximise"))
    column = lines[at].index("maximise")
    assert lines[at + 1][:column].strip() == "" and lines[at + 1][column:].strip()
