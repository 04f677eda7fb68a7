"""Shared, once-per-session emitter runs: each case trains once; every check on it reads the same run."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.emitters.harness import KEEP, Case, Produced, produce

_RUNS: dict[str, Produced | Exception] = {}


@pytest.fixture(scope="session")
def emitter_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if KEEP:
        Path(KEEP).mkdir(parents=True, exist_ok=True)
        return Path(KEEP)
    return tmp_path_factory.mktemp("emitters")


@pytest.fixture
def produced(request: pytest.FixtureRequest, emitter_out: Path) -> Produced:
    case: Case = request.param
    if case.id not in _RUNS:
        try:
            _RUNS[case.id] = produce(case, emitter_out)
        except Exception as exc:  # a failed training fails every check on it, without training again
            _RUNS[case.id] = exc
    run = _RUNS[case.id]
    if isinstance(run, Exception):
        raise run
    return run
