"""A benchmark's settings (flags or a TOML ``--config`` holding any of them) and the cells they
name: every model through every selected scenario, mode and seed, once with everything and once
per requested ablation.

The settings that decide *which encounters exist and how they are judged* (``IDENTITY``) are stored
with the run; ``--resume`` takes them from the store and refuses a flag that contradicts them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator, model_validator

from arena.encounter.run import encounter_id
from arena.schemas.scenario import Mode
from arena.schemas.transcript import Ablation
from arena.tournament import config as tournament_config
from arena.tournament.config import RunSettings, distinct, slots
from scenarios.library import ScenarioLibrary

IDENTITY = ("models", "scenarios", "seeds", "seed", "mode", "judge", "simulator", "max_turns", "bootstrap", "library",
            "ablations")
RULE_BASED = "rule-based"


class BenchSettings(RunSettings):
    kind: str = Field(default="bench", pattern="^bench$")
    ablations: list[Ablation] = Field(default_factory=list, max_length=4)
    annotations: str | None = None

    @field_validator("ablations")
    @classmethod
    def _distinct_ablations(cls, value: list[str]) -> list[str]:
        return distinct(value)

    @model_validator(mode="after")
    def _voice(self) -> BenchSettings:
        if self.ablations and self.simulator != RULE_BASED:
            raise ValueError("ablations need --simulator rule-based (a model-voiced simulator knows the whole record "
                             "and would refer to what is withheld)")
        return self

    def identity(self) -> dict[str, Any]:
        return self.model_dump(mode="json", include=set(IDENTITY))


@dataclass(frozen=True)
class Cell:
    """One encounter of the benchmark."""

    model: str
    scenario_id: str
    mode: Mode
    seed: int
    ablation: Ablation | None = None

    @property
    def id(self) -> str:
        return encounter_id(self.scenario_id, self.model, self.mode, self.seed, self.ablation)


def load_file(path: Path) -> dict[str, Any]:
    return tournament_config.load_file(path, BenchSettings)


def settings(given: dict[str, Any], file: Path | None) -> BenchSettings:
    return tournament_config.settings(given, file, BenchSettings, "arena bench")


def cells(library: ScenarioLibrary, s: BenchSettings) -> list[Cell]:
    """Seed-major, then scenario, then model; each full encounter followed by its ablations."""
    out = []
    for scenario_id, mode, seed in slots(library, s):
        for model in s.models:
            for ablation in (None, *s.ablations):
                out.append(Cell(model, scenario_id, mode, seed, ablation))
    return out
