"""Counterfactual forks: the parent encounter re-executed from its recorded responses under a
checkpointer, then resumed from the checkpoint just before turn ``K`` with another target (and
optionally another simulator seed). Clients live in the runtime context, not in the checkpointed
state, so the resumed graph simply gets a new context; the turns before ``K`` (their text, moves,
assessments, calls and timings) are the parent's.
"""

from __future__ import annotations

import hashlib
from typing import Any, cast

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.memory import InMemorySaver

from arena.encounter.clock import Clock, SystemClock
from arena.encounter.graph import checkpoint_serializer, checkpointed_graph, recursion_limit
from arena.encounter.run import assemble_transcript, bind_client
from arena.encounter.state import EncounterContext, EncounterState
from arena.errors import ArenaError, UsageError
from arena.gateway import Gateway
from arena.protocols import EncounterBound, ModelClient, Simulator
from arena.schemas.scenario import Scenario
from arena.schemas.transcript import ForkOrigin, Transcript


def fork_id(parent: Transcript, at_turn: int, target: str, seed: int) -> str:
    key = f"{parent.encounter_id}|{at_turn}|{target}|{seed}"
    return "fork-" + hashlib.sha256(key.encode()).hexdigest()[:12]


async def fork_encounter(parent: Transcript, *, at_turn: int, scenario: Scenario, images: dict[str, bytes],
                         replay: ModelClient, parent_clock: Clock, target: ModelClient | EncounterBound,
                         target_spec: str, simulator: Simulator, system_prompt: str, gateway: Gateway,
                         seed: int | None = None, clock: Clock | None = None, run: str | None = None) -> Transcript:
    """The branch of ``parent`` from turn ``at_turn`` on, played by ``target`` (unjudged)."""
    if not 1 <= at_turn < len(parent.turns):
        raise UsageError(f"--at-turn {at_turn}: the transcript has turns 0..{len(parent.turns) - 1}; valid: 1.."
                         f"{len(parent.turns) - 1} (turn 0 is the opening: start a new match instead)")
    seed = parent.seed if seed is None else seed
    graph = checkpointed_graph(InMemorySaver(serde=checkpoint_serializer()))
    thread: RunnableConfig = {"configurable": {"thread_id": parent.encounter_id},
                              "recursion_limit": recursion_limit(parent.max_turns)}
    first = EncounterContext(scenario=scenario, mode=parent.mode, seed=parent.seed, target=replay, simulator=simulator,
                             images=images, system_prompt=system_prompt, gateway=gateway, target_spec=parent.target,
                             scope=f"{parent.run or ''}|{parent.encounter_id}", clock=parent_clock)
    initial: EncounterState = {"max_turns": parent.max_turns, "simulator_turns": 0, "priors_shown": False}
    replayed = cast(EncounterState, await graph.ainvoke(initial, thread, context=first))
    if [t.text for t in replayed.get("turns", [])][:at_turn] != [t.text for t in parent.turns[:at_turn]]:
        raise ArenaError("the recorded responses no longer reproduce the turns before the fork (see arena rerun)")
    before = None
    async for snapshot in graph.aget_state_history(thread):  # newest first: the last state holding K turns
        if len(snapshot.values.get("turns", [])) == at_turn and snapshot.next:
            before = snapshot
            break
    if before is None:
        raise ArenaError(f"no checkpoint before turn {at_turn} was found")
    enc_id = fork_id(parent, at_turn, target_spec, seed)
    clock = clock or SystemClock()
    bound = bind_client(target, scenario, seed)
    ctx = EncounterContext(scenario=scenario, mode=parent.mode, seed=seed, target=bound, simulator=simulator,
                           images=images, system_prompt=system_prompt, gateway=gateway, target_spec=target_spec,
                           scope=f"{run or ''}|{enc_id}", clock=clock)
    gateway.continue_scope(ctx.scope, list(before.values.get("calls", [])))
    resume: RunnableConfig = {**before.config, "recursion_limit": recursion_limit(parent.max_turns)}
    try:
        final = cast(EncounterState, await graph.ainvoke(None, resume, context=ctx))
    finally:
        gateway.forget(ctx.scope)
    transcript = assemble_transcript(final, ctx, enc_id, parent.started_at, simulator.name, parent.max_turns)
    origin = ForkOrigin(encounter_id=parent.encounter_id, run=parent.run, target=parent.target, seed=parent.seed,
                        at_turn=at_turn)
    update: dict[str, Any] = {"parent": origin, "run": run}
    return transcript.model_copy(update=update)
