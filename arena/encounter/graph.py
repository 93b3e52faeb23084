"""The encounter graph: simulator opens -> target answers -> simulator assesses -> plans -> asks.

```
START -> open -> target -> simulate (assess, plan, ask) -> target ...
          |         |          |
          +---------+----------+-> END (error; completed, budget, silent, simulator error)
```

Nothing here knows which simulator, target or judge plays: the simulator (policy, answer reader,
voice), the target, its system prompt and the :class:`arena.gateway.Gateway` every call goes
through all come in the runtime context (:class:`EncounterContext`).
"""

from __future__ import annotations

from functools import cache
from typing import Any, cast

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime
from langgraph.types import Command

from arena.encounter.state import EncounterContext, EncounterState
from arena.protocols import PolicyView, SimulatorError, VoiceRequest
from arena.schemas.calls import (
    Attempt,
    CallUsage,
    ImageRef,
    ModelCall,
    RecordedMessage,
    RecordedRequest,
    RecordedResponse,
)
from arena.schemas.messages import ImagePart, Message, ModelRequest, TextPart
from arena.schemas.transcript import (
    Assessment,
    InfraError,
    JudgeError,
    Move,
    MoveKind,
    SimulatorFault,
    TerminationReason,
    Turn,
    TurnTiming,
    TurnUsage,
    withholds_images,
    withholds_record,
)

STATE_TYPES: tuple[type, ...] = (
    Turn, TurnTiming, TurnUsage, Assessment, Move, MoveKind, InfraError, TerminationReason, SimulatorFault,
    JudgeError, ModelCall, Attempt, CallUsage, ImageRef, RecordedMessage, RecordedRequest, RecordedResponse,
    TextPart,
)


def checkpoint_serializer() -> JsonPlusSerializer:
    """A serializer that knows the encounter's custom state types (strict allowlist)."""
    return JsonPlusSerializer(
        allowed_msgpack_modules=[(t.__module__, t.__name__) for t in STATE_TYPES]
    )


def recursion_limit(max_turns: int) -> int:
    """Supersteps an encounter may need: two nodes (target, simulate) per simulator turn plus slack."""
    return 2 * max_turns + 8


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


async def _speak(ctx: EncounterContext, state: EncounterState, move: Move, index: int, disclosed: list[str],
                 alternative_to: str | None) -> tuple[dict[str, Any], Move, str | None]:
    """Voice ``move``; on a simulator failure the update ends the encounter (never scored)."""
    request = VoiceRequest(
        scenario=ctx.scenario, mode=ctx.mode, move=move, seed=ctx.seed, turn=index, disclosed=disclosed,
        disclosed_before=list(state.get("disclosed", [])), alternative_to=alternative_to,
        turns=list(state.get("turns", [])), assessments=list(state.get("assessments", [])), gateway=ctx.gateway,
        scope=ctx.scope, ablation=ctx.ablation,
    )
    try:
        utterance = await ctx.simulator.voice.speak(request)
    except SimulatorError as exc:
        error = InfraError(turn_index=index, attempt=1, error_type="SimulatorError", message=str(exc)[:2000])
        return ({"calls": exc.calls, "errors": [error], "termination": TerminationReason.SIMULATOR_ERROR},
                move, None)
    return {"calls": utterance.calls, "faults": utterance.faults}, utterance.move, utterance.text


OPENING = Move(kind=MoveKind.OPEN, reason="presenting the case")
VIGNETTE = Move(kind=MoveKind.OPEN, reason="the whole case in one message, asking for the assessment (dialogue "
                "ablation: the static control)")


async def open_node(state: EncounterState, runtime: Runtime[EncounterContext]) -> dict[str, Any]:
    ctx = runtime.context
    opening = VIGNETTE if ctx.ablation == "dialogue" else OPENING
    update, move, text = await _speak(ctx, state, opening, 0, [], None)
    if text is None:
        return update
    if ctx.ablation == "dialogue":  # the static control: every image with the whole vignette, in one turn
        image_ids = [image.id for image in ctx.scenario.images]
    else:
        image_ids = [] if withholds_images(ctx.ablation) else [image.id for image in ctx.scenario.current_images]
    turn = _simulator_turn(ctx, 0, move, text, image_ids, [])
    return {**update, "turns": [turn], "moves": [move], "simulator_turns": 1}


async def target_node(state: EncounterState, runtime: Runtime[EncounterContext]) -> dict[str, Any]:
    ctx = runtime.context
    turns = state["turns"]
    index = len(turns)
    request = ModelRequest(messages=build_messages(ctx, turns), seed=ctx.seed)
    started = ctx.clock.now()
    result = await ctx.gateway.call(ctx.target, request, role="target", turn_index=index, scope=ctx.scope,
                                    spec=ctx.target_spec or ctx.target.name, retries=ctx.retries, clock=ctx.clock)
    call = result.call
    errors = [InfraError(turn_index=index, attempt=a.attempt, error_type=a.exception or str(a.error_class),
                         message=a.message) for a in call.attempts if a.outcome == "error"]
    update: dict[str, Any] = {"calls": [call], "errors": errors,
                              "images_withheld": call.request.images_withheld}
    if result.response is None:
        return {**update, "termination": TerminationReason.TARGET_ERROR}
    response = result.response
    text, cut = cap_answer(response.text, ctx.max_answer_chars)
    latency = sum(a.latency_ms for a in call.attempts if a.outcome == "ok")
    turn = Turn(
        index=index,
        role="target",
        text=text,
        truncated_chars=cut + response.truncated_chars,
        timing=TurnTiming(started_at=started, latency_ms=latency),
        usage=TurnUsage(input_tokens=response.usage.input_tokens, output_tokens=response.usage.output_tokens),
    )
    return {**update, "turns": [turn]}


async def assess_node(state: EncounterState, runtime: Runtime[EncounterContext]) -> dict[str, Any]:
    ctx = runtime.context
    last = state["turns"][-1]
    assessment = ctx.simulator.reader(ctx.scenario, last.text, last.index, state.get("assessments", []))
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
        mode=ctx.mode,
        images_shown=not withholds_images(ctx.ablation),
    )
    if ctx.ablation == "dialogue":  # one answer to the whole vignette is the encounter
        return {"termination": TerminationReason.COMPLETED, "pending": None}
    decision = ctx.simulator.policy.decide(view)
    if decision.stop is not None:
        return {"termination": decision.stop, "pending": None}
    return {"pending": decision.move}


async def ask_node(state: EncounterState, runtime: Runtime[EncounterContext]) -> dict[str, Any]:
    ctx = runtime.context
    planned = state["pending"]
    assert planned is not None
    already = set(state.get("disclosed", []))
    last = state["assessments"][-1]
    # without the record nothing is disclosed: the voice says it does not know
    disclosed = [] if withholds_record(ctx.ablation) else [
        fid for fid in dict.fromkeys(last.facts_requested) if fid not in already]
    stated = next((a.diagnosis_stated for a in reversed(state["assessments"]) if a.diagnosis_stated), None)
    index = len(state["turns"])
    update, move, text = await _speak(ctx, state, planned, index, disclosed, stated)
    if text is None:
        return {**update, "pending": None}
    image_ids: list[str] = []
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


ADDED = ("turns", "assessments", "moves", "errors", "disclosed", "calls", "faults", "images_withheld")


def _merged(first: dict[str, Any], then: dict[str, Any]) -> dict[str, Any]:
    """Two updates as one, with the state's reducers: the listed channels add up, the rest are replaced."""
    out = dict(first)
    for key, value in then.items():
        out[key] = out[key] + value if key in ADDED and key in out else value
    return out


async def simulate_node(state: EncounterState, runtime: Runtime[EncounterContext]) -> dict[str, Any]:
    """The simulator's whole turn in one superstep: read the answer, decide the move, voice it.
    (``assess_node``, ``plan_node`` and ``ask_node`` in sequence; one node rather than three halves
    LangGraph's per-turn cost, and a checkpoint still falls at every turn boundary.)"""
    update = await assess_node(state, runtime)
    planned = _merged(update, await plan_node(cast(EncounterState, _merged(dict(state), update)), runtime))
    if planned.get("termination"):
        return planned
    return _merged(planned, await ask_node(cast(EncounterState, _merged(dict(state), planned)), runtime))


def _goto(update: dict[str, Any], following: str) -> Command[str]:
    """The node's update with where to go next (``END`` once it set a termination). Routing in the
    node's return, not in a conditional edge: an edge function reads a fresh copy of every channel,
    a quarter of LangGraph's cost per turn (benchmarks/graph_overhead.py)."""
    return Command(update=update, goto=END if update.get("termination") else following)


async def _open_step(state: EncounterState, runtime: Runtime[EncounterContext]) -> Command[str]:
    return _goto(await open_node(state, runtime), "target")


async def _target_step(state: EncounterState, runtime: Runtime[EncounterContext]) -> Command[str]:
    return _goto(await target_node(state, runtime), "simulate")


async def _simulate_step(state: EncounterState, runtime: Runtime[EncounterContext]) -> Command[str]:
    return _goto(await simulate_node(state, runtime), "target")


def build_encounter_graph(
    checkpointer: BaseCheckpointSaver[Any] | None = None,
) -> CompiledStateGraph[EncounterState, EncounterContext, EncounterState, EncounterState]:
    graph = StateGraph(EncounterState, context_schema=EncounterContext)
    graph.add_node("open", _open_step, destinations=("target", END))
    graph.add_node("target", _target_step, destinations=("simulate", END))
    graph.add_node("simulate", _simulate_step, destinations=("target", END))
    graph.add_edge(START, "open")
    return graph.compile(checkpointer=checkpointer)


def checkpointed_graph(
    checkpointer: BaseCheckpointSaver[Any],
) -> CompiledStateGraph[EncounterState, EncounterContext, EncounterState, EncounterState]:
    """The compiled graph with ``checkpointer``: a shallow copy of :func:`default_graph` (compiling
    again for every encounter cost a third of the checkpointed turn, benchmarks/graph_overhead.py)."""
    return default_graph().copy({"checkpointer": checkpointer})


@cache
def default_graph() -> CompiledStateGraph[EncounterState, EncounterContext, EncounterState, EncounterState]:
    """The encounter graph without a checkpointer, compiled once per process and reused."""
    return build_encounter_graph()
