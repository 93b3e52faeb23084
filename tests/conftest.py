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
