"""Small builders shared by tests."""

from __future__ import annotations

from arena.composition import run_encounter
from arena.gateway import Gateway
from arena.protocols import ModelClient
from arena.schemas.scenario import Mode, Scenario
from arena.schemas.transcript import Ablation, Transcript
from scenarios.library import ScenarioLibrary


async def encounter(
    library: ScenarioLibrary,
    scenario: Scenario,
    target: ModelClient | object,
    *,
    seed: int = 0,
    max_turns: int = 7,
    mode: Mode | None = None,
    retries: int = 2,
    ablation: Ablation | None = None,
) -> Transcript:
    return await run_encounter(
        scenario, target, library.image_bytes(scenario), seed=seed, max_turns=max_turns,
        mode=mode, retries=retries, gateway=no_wait_gateway(), ablation=ablation,
    )


async def _no_sleep(seconds: float) -> None:
    return None


def no_wait_gateway(**options: object) -> Gateway:
    """A gateway whose back-off sleeps are skipped (the waits are still computed and recorded)."""
    return Gateway(sleep=_no_sleep, **options)  # type: ignore[arg-type]
