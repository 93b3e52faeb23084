"""Small builders shared by tests."""

from __future__ import annotations

from arena.clients.base import ModelClient
from arena.encounter.run import run_encounter
from arena.schemas.scenario import Mode, Scenario
from arena.schemas.transcript import Transcript
from scenarios.library import ScenarioLibrary


async def encounter(
    library: ScenarioLibrary,
    scenario: Scenario,
    target: ModelClient,
    *,
    seed: int = 0,
    max_turns: int = 7,
    mode: Mode | None = None,
    retries: int = 2,
) -> Transcript:
    return await run_encounter(
        scenario, target, library.image_bytes(scenario), seed=seed, max_turns=max_turns,
        mode=mode, retries=retries, retry_backoff_s=0.0,
    )
