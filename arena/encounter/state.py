"""The encounter's checkpointed state and its run-scoped context (clients live in the context)."""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from typing import Annotated, TypedDict

from arena.encounter.clock import Clock, SystemClock
from arena.gateway import Gateway
from arena.limits import MAX_ANSWER_CHARS
from arena.protocols import ModelClient, Simulator
from arena.schemas.calls import ModelCall
from arena.schemas.scenario import Mode, Scenario
from arena.schemas.transcript import Ablation, Assessment, InfraError, Move, SimulatorFault, TerminationReason, Turn


class EncounterState(TypedDict, total=False):
    turns: Annotated[list[Turn], operator.add]
    assessments: Annotated[list[Assessment], operator.add]
    moves: Annotated[list[Move], operator.add]
    errors: Annotated[list[InfraError], operator.add]
    disclosed: Annotated[list[str], operator.add]
    calls: Annotated[list[ModelCall], operator.add]
    faults: Annotated[list[SimulatorFault], operator.add]
    images_withheld: Annotated[int, operator.add]
    priors_shown: bool
    simulator_turns: int
    max_turns: int
    pending: Move | None
    termination: TerminationReason | None


@dataclass(frozen=True)
class EncounterContext:
    """Run-scoped, never checkpointed: the scenario, its verified image bytes, the target, the
    simulator (policy, answer reader, voice), the gateway every call goes through, the clock."""

    scenario: Scenario
    mode: Mode
    seed: int
    target: ModelClient
    simulator: Simulator
    images: dict[str, bytes]
    system_prompt: str
    gateway: Gateway
    target_spec: str = ""
    scope: str = ""
    retries: int | None = None
    clock: Clock = field(default_factory=SystemClock)
    max_answer_chars: int = MAX_ANSWER_CHARS
    ablation: Ablation | None = None
