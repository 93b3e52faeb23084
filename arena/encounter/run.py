"""Run one encounter end to end and assemble its :class:`Transcript`."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any, cast

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver

from agents.simulator.policy import RuleBasedPolicy, SimulatorPolicy
from arena.clients.base import ModelClient
from arena.encounter.graph import build_encounter_graph, recursion_limit, target_system_prompt
from arena.encounter.state import EncounterContext, EncounterState
from arena.schemas.scenario import Mode, Scenario
from arena.schemas.transcript import TerminationReason, Transcript

DEFAULT_MAX_TURNS = 7


def encounter_id(scenario_id: str, target: str, mode: Mode, seed: int) -> str:
    digest = hashlib.sha256(f"{scenario_id}|{target}|{mode}|{seed}".encode()).hexdigest()[:12]
    return f"enc-{digest}"


async def run_encounter(
    scenario: Scenario,
    target: ModelClient,
    images: dict[str, bytes],
    *,
    mode: Mode | None = None,
    seed: int = 0,
    max_turns: int = DEFAULT_MAX_TURNS,
    policy: SimulatorPolicy | None = None,
    checkpointer: BaseCheckpointSaver[Any] | None = None,
    thread_id: str | None = None,
    retries: int = 2,
    retry_backoff_s: float = 0.5,
) -> Transcript:
    """Play one conversation about ``scenario`` with ``target``; no judging here."""
    if max_turns < 1:
        raise ValueError("max_turns must be at least 1")
    mode = mode or scenario.default_mode
    policy = policy or RuleBasedPolicy()
    ctx = EncounterContext(
        scenario=scenario, mode=mode, seed=seed, target=target, policy=policy, images=images,
        system_prompt=target_system_prompt(mode), retries=retries, retry_backoff_s=retry_backoff_s,
    )
    enc_id = encounter_id(scenario.id, target.name, mode, seed)
    graph = build_encounter_graph(checkpointer)
    config: RunnableConfig = {"recursion_limit": recursion_limit(max_turns)}
    if checkpointer is not None:
        config["configurable"] = {"thread_id": thread_id or enc_id}
    started = datetime.now(UTC)
    initial: EncounterState = {"max_turns": max_turns, "simulator_turns": 0, "priors_shown": False}
    final = cast(EncounterState, await graph.ainvoke(initial, config, context=ctx))
    return assemble_transcript(final, ctx, enc_id, started, policy.name, max_turns)


def assemble_transcript(
    final: EncounterState,
    ctx: EncounterContext,
    enc_id: str,
    started: datetime,
    simulator: str,
    max_turns: int,
) -> Transcript:
    by_turn = {a.turn_index: a for a in final.get("assessments", [])}
    turns = [
        turn.model_copy(update={"assessment": by_turn.get(turn.index)}) for turn in final["turns"]
    ]
    termination = final.get("termination") or TerminationReason.TURN_BUDGET
    return Transcript(
        encounter_id=enc_id,
        scenario_id=ctx.scenario.id,
        mode=ctx.mode,
        seed=ctx.seed,
        target=ctx.target.name,
        simulator=simulator,
        max_turns=max_turns,
        started_at=started,
        finished_at=datetime.now(UTC),
        turns=turns,
        termination=termination,
        errors=final.get("errors", []),
    )
