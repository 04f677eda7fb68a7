"""Suite-wide settings: the stream parser is strict in every test (a parser exception fails the test instead of
becoming a warning), except where a test asks for the production behaviour with ``StreamParser(strict=False)``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hwmon.parsers.stream import StreamParser


@pytest.fixture(autouse=True)
def strict_parsers() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(StreamParser, "STRICT_DEFAULT", True)
        yield
