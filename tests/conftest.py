"""Suite-wide settings: the stream parser is strict in every test (a parser exception fails the test instead of
becoming a warning), except where a test asks for the production behaviour with ``StreamParser(strict=False)``; and
no test writes to the real ``~/.local/state`` (run registry, run history)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hwmon.parsers.stream import StreamParser


@pytest.fixture(autouse=True)
def strict_parsers() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(StreamParser, "STRICT_DEFAULT", True)
        yield


@pytest.fixture(autouse=True)
def _private_state_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """``XDG_STATE_HOME`` points at a fresh temporary directory for every test (subprocesses inherit it)."""
    state = tmp_path_factory.mktemp("state")
    monkeypatch.setenv("XDG_STATE_HOME", str(state))
    yield state
