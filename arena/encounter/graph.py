"""The encounter graph: simulator opens -> target answers -> simulator assesses -> plans -> asks.

```
START -> open -> target -> assess -> plan -> ask -> target ...
                    |                   |
                    +-> END (error)     +-> END (completed, budget, silent)
```
"""

from __future__ import annotations

import asyncio
import json
from functools import cache
from pathlib import Path
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime

from agents.simulator.assess import assess_answer
from agents.simulator.phrasing import render_move
from agents.simulator.policy import PolicyView
from arena.clients.base import prepare_messages
from arena.encounter.state import EncounterContext, EncounterState
from arena.errors import ModelError
from arena.schemas.messages import ImagePart, Message, ModelRequest, ModelResponse, TextPart, scrub_text
from arena.schemas.scenario import Mode
from arena.schemas.transcript import (
    Assessment,
    InfraError,
    Move,
    MoveKind,
    TerminationReason,
    Turn,
    TurnTiming,
    TurnUsage,
)

TARGET_PROMPTS = Path(__file__).resolve().parents[2] / "agents" / "prompts" / "target_system.json"
STATE_TYPES: tuple[type, ...] = (
    Turn, TurnTiming, TurnUsage, Assessment, Move, MoveKind, InfraError, TerminationReason,
)


@cache
def target_system_prompt(mode: Mode) -> str:
    prompts: dict[str, str] = json.loads(TARGET_PROMPTS.read_text(encoding="utf-8"))
    return prompts[mode.value]


def checkpoint_serializer() -> JsonPlusSerializer:
    """A serializer that knows the encounter's custom state types (strict allowlist)."""
    return JsonPlusSerializer(
        allowed_msgpack_modules=[(t.__module__, t.__name__) for t in STATE_TYPES]
    )


def recursion_limit(max_turns: int) -> int:
    """Supersteps an encounter may need: four nodes per simulator turn plus slack."""
    return 4 * max_turns + 8


def build_messages(ctx: EncounterContext, turns: list[Turn]) -> list[Message]:
    """The chat the target sees: system prompt, simulator turns as user (with images), answers."""
    messages = [Message.text("system", ctx.system_prompt)]
    for turn in turns:
        if turn.role == "simulator":
            parts: list[TextPart | ImagePart] = [TextPart(text=turn.text)]
            for image_id in turn.images:
                image = next(i for i in ctx.scenario.images if i.id == image_id)
                parts.append(
                    ImagePart(image_id=image_id, media_type=image.media_type, data=ctx.images[image_id])
                )
            messages.append(Message(role="user", parts=parts))
        else:
            messages.append(Message.text("assistant", turn.text))
    return messages


# Exceptions from a client that are worth another attempt: the network and the clock.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (OSError,)  # TimeoutError, ConnectionError included


def classify_failure(exc: Exception) -> bool:
    """Whether a failed call may be retried. Any exception from a client is an infrastructure
    error (recorded, never scored); only a ``ModelError`` says for itself whether to retry."""
    if isinstance(exc, ModelError):
        return exc.retryable
    return isinstance(exc, TRANSIENT_ERRORS)


def cap_answer(text: str, limit: int) -> tuple[str, int]:
    """The answer as read and stored, and how many characters were cut."""
    if len(text) <= limit:
        return text, 0
    return text[:limit], len(text) - limit


def _simulator_turn(ctx: EncounterContext, index: int, move: Move, text: str,
                    image_ids: list[str], disclosed: list[str]) -> Turn:
    return Turn(
        index=index,
        role="simulator",
        text=text,
        images=image_ids,
        image_sha256=[next(i.sha256 for i in ctx.scenario.images if i.id == iid) for iid in image_ids],
        timing=TurnTiming(started_at=ctx.clock.now()),
        move=move,
        disclosed_facts=disclosed,
    )


async def open_node(state: EncounterState, runtime: Runtime[EncounterContext]) -> dict[str, Any]:
    ctx = runtime.context
    move = Move(kind=MoveKind.OPEN, reason="presenting the case")
    text = render_move(ctx.scenario, ctx.mode, move, seed=ctx.seed, turn=0, disclosed=[])
    image_ids = [image.id for image in ctx.scenario.current_images]
    turn = _simulator_turn(ctx, 0, move, text, image_ids, [])
    return {"turns": [turn], "moves": [move], "simulator_turns": 1}


async def target_node(state: EncounterState, runtime: Runtime[EncounterContext]) -> dict[str, Any]:
    ctx = runtime.context
    turns = state["turns"]
    messages = prepare_messages(ctx.target, build_messages(ctx, turns))
    request = ModelRequest(messages=messages, seed=ctx.seed)
    errors: list[InfraError] = []
    index = len(turns)
    for attempt in range(1, ctx.retries + 2):
        started = ctx.clock.now()
        tick = ctx.clock.monotonic()
        try:
            response = await ctx.target.complete(request)
            if not isinstance(response, ModelResponse):
                raise TypeError(f"client returned {type(response).__name__}, not a ModelResponse")
        except Exception as exc:  # any client failure is an infrastructure error, never a crash
            errors.append(InfraError(turn_index=index, attempt=attempt, error_type=type(exc).__name__,
                                     message=scrub_text(str(exc))[:2000] or type(exc).__name__))
            if not classify_failure(exc) or attempt > ctx.retries:
                return {"errors": errors, "termination": TerminationReason.TARGET_ERROR}
            await asyncio.sleep(ctx.retry_backoff_s * 2 ** (attempt - 1))
            continue
        text, cut = cap_answer(response.text, ctx.max_answer_chars)
        turn = Turn(
            index=index,
            role="target",
            text=text,
            truncated_chars=cut,
            timing=TurnTiming(started_at=started, latency_ms=(ctx.clock.monotonic() - tick) * 1000),
            usage=TurnUsage(input_tokens=response.usage.input_tokens,
                            output_tokens=response.usage.output_tokens),
        )
        return {"turns": [turn], "errors": errors}
    raise AssertionError("unreachable: the retry loop returns")  # pragma: no cover


async def assess_node(state: EncounterState, runtime: Runtime[EncounterContext]) -> dict[str, Any]:
    ctx = runtime.context
    last = state["turns"][-1]
    assessment = assess_answer(ctx.scenario, last.text, last.index, state.get("assessments", []))
    return {"assessments": [assessment]}


async def plan_node(state: EncounterState, runtime: Runtime[EncounterContext]) -> dict[str, Any]:
    ctx = runtime.context
    view = PolicyView(
        scenario=ctx.scenario,
        moves=state.get("moves", []),
        assessments=state.get("assessments", []),
        priors_shown=state.get("priors_shown", False),
        simulator_turns=state["simulator_turns"],
        max_turns=state["max_turns"],
    )
    decision = ctx.policy.decide(view)
    if decision.stop is not None:
        return {"termination": decision.stop, "pending": None}
    return {"pending": decision.move}


async def ask_node(state: EncounterState, runtime: Runtime[EncounterContext]) -> dict[str, Any]:
    ctx = runtime.context
    move = state["pending"]
    assert move is not None
    already = set(state.get("disclosed", []))
    last = state["assessments"][-1]
    disclosed = [fid for fid in dict.fromkeys(last.facts_requested) if fid not in already]
    stated = next((a.diagnosis_stated for a in reversed(state["assessments"]) if a.diagnosis_stated), None)
    index = len(state["turns"])
    text = render_move(ctx.scenario, ctx.mode, move, seed=ctx.seed, turn=index,
                       disclosed=disclosed, alternative_to=stated)
    image_ids: list[str] = []
    update: dict[str, Any] = {}
    if move.kind == MoveKind.REQUEST_COMPARISON:
        image_ids = [image.id for image in ctx.scenario.prior_images]
        update["priors_shown"] = True
    turn = _simulator_turn(ctx, index, move, text, image_ids, disclosed)
    update.update({
        "turns": [turn],
        "moves": [move],
        "disclosed": disclosed,
        "simulator_turns": state["simulator_turns"] + 1,
        "pending": None,
    })
    return update


def _after_target(state: EncounterState) -> str:
    return END if state.get("termination") else "assess"


def _after_plan(state: EncounterState) -> str:
    return END if state.get("termination") else "ask"


def build_encounter_graph(
    checkpointer: BaseCheckpointSaver[Any] | None = None,
) -> CompiledStateGraph[EncounterState, EncounterContext, EncounterState, EncounterState]:
    graph = StateGraph(EncounterState, context_schema=EncounterContext)
    graph.add_node("open", open_node)
    graph.add_node("target", target_node)
    graph.add_node("assess", assess_node)
    graph.add_node("plan", plan_node)
    graph.add_node("ask", ask_node)
    graph.add_edge(START, "open")
    graph.add_edge("open", "target")
    graph.add_conditional_edges("target", _after_target, ["assess", END])
    graph.add_edge("assess", "plan")
    graph.add_conditional_edges("plan", _after_plan, ["ask", END])
    graph.add_edge("ask", "target")
    return graph.compile(checkpointer=checkpointer)


@cache
def default_graph() -> CompiledStateGraph[EncounterState, EncounterContext, EncounterState, EncounterState]:
    """The encounter graph without a checkpointer, compiled once per process and reused."""
    return build_encounter_graph()
