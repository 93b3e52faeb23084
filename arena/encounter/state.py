"""The encounter's checkpointed state and its run-scoped context (clients live in the context)."""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from typing import Annotated, TypedDict

from agents.simulator.policy import SimulatorPolicy
from arena.clients.base import ModelClient
from arena.encounter.clock import Clock, SystemClock
from arena.limits import MAX_ANSWER_CHARS
from arena.schemas.scenario import Mode, Scenario
from arena.schemas.transcript import Assessment, InfraError, Move, TerminationReason, Turn


class EncounterState(TypedDict, total=False):
    turns: Annotated[list[Turn], operator.add]
    assessments: Annotated[list[Assessment], operator.add]
    moves: Annotated[list[Move], operator.add]
    errors: Annotated[list[InfraError], operator.add]
    disclosed: Annotated[list[str], operator.add]
    priors_shown: bool
    simulator_turns: int
    max_turns: int
    pending: Move | None
    termination: TerminationReason | None


@dataclass(frozen=True)
class EncounterContext:
    """Run-scoped, never checkpointed: the scenario, its verified image bytes and the clients."""

    scenario: Scenario
    mode: Mode
    seed: int
    target: ModelClient
    policy: SimulatorPolicy
    images: dict[str, bytes]
    system_prompt: str
    retries: int = 2
    retry_backoff_s: float = 0.5
    clock: Clock = field(default_factory=SystemClock)
    max_answer_chars: int = MAX_ANSWER_CHARS
