from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

import pytest

from arena.schemas.scenario import Scenario
from scenarios.library import ScenarioLibrary

T = TypeVar("T")


@pytest.fixture(scope="session")
def library() -> ScenarioLibrary:
    return ScenarioLibrary()


@pytest.fixture(scope="session")
def mole(library: ScenarioLibrary) -> Scenario:
    return library.get("derm-changing-mole")


@pytest.fixture(scope="session")
def cxr(library: ScenarioLibrary) -> Scenario:
    return library.get("cxr-multiple-nodules")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


# -- the hostile-input table (tests/hostile_table.py) ------------------------------------------------

def pytest_runtest_setup(item: pytest.Item) -> None:
    from tests import hostile_table

    hostile_table._current[0] = item.nodeid


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    from tests import hostile_table

    if report.when == "call":  # rows are recorded during the call, so only the call's result marks them
        for row in hostile_table.ROWS:
            if row.nodeid == report.nodeid:
                row.result = report.outcome


def pytest_terminal_summary(terminalreporter: Any) -> None:
    from tests import hostile_table

    if not hostile_table.ROWS:
        return
    table = hostile_table.markdown()
    terminalreporter.write_sep("-", "hostile inputs")
    terminalreporter.write(table)
    try:
        hostile_table.TABLE_FILE.parent.mkdir(parents=True, exist_ok=True)
        hostile_table.TABLE_FILE.write_text(table, encoding="utf-8")
        terminalreporter.write_line(f"(written to {hostile_table.TABLE_FILE})")
    except OSError as exc:
        terminalreporter.write_line(f"(not written: {exc})")
