"""Shared, once-per-session emitter runs: each case trains once; every check on it reads the same run.

The trainings of all selected cases start at the first check, HWMON_EMITTERS_JOBS (default 2) at a time, in
collection order: most of a case's time is spent waiting (process start-up, attach's last status lines), so two run
side by side even on two cores.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.emitters.harness import KEEP, Case, Produced, produce

_SELECTED: list[Case] = []
_RUNS: dict[str, Future[Produced]] = {}


@pytest.hookimpl(trylast=True)  # after -k/-m deselection
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        callspec = getattr(item, "callspec", None)
        case = callspec.params.get("produced") if callspec is not None else None
        skipped = any(mark.name == "skip" for mark in item.iter_markers())
        if isinstance(case, Case) and not skipped and case not in _SELECTED:
            _SELECTED.append(case)


@pytest.fixture(scope="session")
def emitter_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if KEEP:
        Path(KEEP).mkdir(parents=True, exist_ok=True)
        return Path(KEEP)
    return tmp_path_factory.mktemp("emitters")


@pytest.fixture(scope="session")
def _emitter_pool() -> Iterator[ThreadPoolExecutor]:
    pool = ThreadPoolExecutor(max_workers=max(1, int(os.environ.get("HWMON_EMITTERS_JOBS", "2"))))
    yield pool
    pool.shutdown(wait=True, cancel_futures=True)


@pytest.fixture
def produced(request: pytest.FixtureRequest, emitter_out: Path, _emitter_pool: ThreadPoolExecutor) -> Produced:
    case: Case = request.param
    if not _RUNS:
        for selected in _SELECTED:
            _RUNS[selected.id] = _emitter_pool.submit(produce, selected, emitter_out)
    if case.id not in _RUNS:
        _RUNS[case.id] = _emitter_pool.submit(produce, case, emitter_out)
    # A failed training fails every check on it, without training again.
    return _RUNS[case.id].result()
