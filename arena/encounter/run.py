"""Run one encounter end to end and assemble its :class:`Transcript`."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any, cast

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver

from arena.encounter.clock import Clock, SystemClock
from arena.encounter.graph import checkpointed_graph, default_graph, recursion_limit
from arena.encounter.state import EncounterContext, EncounterState
from arena.errors import UsageError
from arena.gateway import Gateway
from arena.limits import MAX_TURNS
from arena.protocols import EncounterBound, ModelClient, Simulator
from arena.schemas.calls import UsageSummary
from arena.schemas.scenario import Mode, Scenario
from arena.schemas.transcript import Ablation, TerminationReason, Transcript

DEFAULT_MAX_TURNS = 7


def encounter_id(scenario_id: str, target: str, mode: Mode, seed: int, ablation: Ablation | None = None) -> str:
    key = f"{scenario_id}|{target}|{mode}|{seed}" + (f"|{ablation}" if ablation else "")
    return f"enc-{hashlib.sha256(key.encode()).hexdigest()[:12]}"


def bind_client(client: ModelClient | EncounterBound, scenario: Scenario, seed: int) -> ModelClient:
    """The client for this encounter: models that must know the case (reference truth readers)
    are bound here; every other client is returned as it is."""
    if isinstance(client, ModelClient):
        return client
    return client.for_encounter(scenario, seed)


async def run_encounter(
    scenario: Scenario,
    target: ModelClient | EncounterBound,
    images: dict[str, bytes],
    *,
    simulator: Simulator,
    system_prompt: str,
    mode: Mode | None = None,
    seed: int = 0,
    max_turns: int = DEFAULT_MAX_TURNS,
    checkpointer: BaseCheckpointSaver[Any] | None = None,
    thread_id: str | None = None,
    retries: int | None = None,
    gateway: Gateway | None = None,
    clock: Clock | None = None,
    run: str | None = None,
    target_spec: str | None = None,
    ablation: Ablation | None = None,
) -> Transcript:
    """Play one conversation about ``scenario`` with ``target``; no judging here. ``ablation``
    takes the images, the record or both away from the target, or (``dialogue``) replaces the
    conversation by one turn holding the whole vignette."""
    check_max_turns(max_turns)
    if ablation is not None and simulator.voice.name != "template":
        raise UsageError(f"the {ablation} ablation needs the rule-based simulator's template voice (a model voice "
                         "knows the whole record and would refer to what is withheld); valid: --simulator rule-based")
    mode = mode or scenario.default_mode
    clock = clock or SystemClock()
    gateway = gateway or Gateway(clock=clock, seed=seed)
    bound = bind_client(target, scenario, seed)
    spec = target_spec or bound.name
    enc_id = encounter_id(scenario.id, spec, mode, seed, ablation)
    ctx = EncounterContext(
        scenario=scenario, mode=mode, seed=seed, target=bound, simulator=simulator, images=images,
        system_prompt=system_prompt, gateway=gateway, target_spec=spec, scope=f"{run or ''}|{enc_id}",
        retries=retries, clock=clock, ablation=ablation,
    )
    graph = default_graph() if checkpointer is None else checkpointed_graph(checkpointer)
    config: RunnableConfig = {"recursion_limit": recursion_limit(max_turns)}
    if checkpointer is not None:
        config["configurable"] = {"thread_id": thread_id or enc_id}
    started = clock.now()
    initial: EncounterState = {"max_turns": max_turns, "simulator_turns": 0, "priors_shown": False}
    try:
        final = cast(EncounterState, await graph.ainvoke(initial, config, context=ctx))
    finally:
        gateway.forget(ctx.scope)
    transcript = assemble_transcript(final, ctx, enc_id, started, simulator.name, max_turns)
    return transcript.model_copy(update={"run": run}) if run else transcript


def check_max_turns(max_turns: int) -> None:
    """Raise ``UsageError`` unless the turn budget is within 1..MAX_TURNS."""
    if isinstance(max_turns, bool) or not isinstance(max_turns, int) or not 1 <= max_turns <= MAX_TURNS:
        raise UsageError(f"max turns must be an integer from 1 to {MAX_TURNS}, got {max_turns!r}")


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
        turn.model_copy(update={"assessment": by_turn.get(turn.index)}) for turn in final.get("turns", [])
    ]
    termination = final.get("termination") or TerminationReason.TURN_BUDGET
    calls = final.get("calls", [])
    shown = any(turn.images for turn in turns if turn.role == "simulator")
    return Transcript(
        encounter_id=enc_id,
        scenario_id=ctx.scenario.id,
        mode=ctx.mode,
        seed=ctx.seed,
        target=ctx.target_spec,
        simulator=simulator,
        max_turns=max_turns,
        started_at=started,
        finished_at=ctx.clock.now(),
        turns=turns,
        termination=termination,
        errors=final.get("errors", []),
        target_saw_images=(shown and final.get("images_withheld", 0) == 0) if shown else None,
        calls=calls,
        usage=UsageSummary.of(calls),
        simulator_faults=final.get("faults", []),
        ablation=ctx.ablation,
    )
