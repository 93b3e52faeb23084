"""The model judge as a LangGraph graph: rubric criteria first, then the five dimensions, then the verdict.

```
START -> criteria -> dimensions -> verdict -> END
            |            |
            +------------+-> END (no valid reply after the bounded repairs: ``failure`` set)
```

* ``criteria``: one structured call listing every rubric criterion of the scenario (id, points,
  dimension, text) and asking for one ``{id, met, evidence_turns}`` per criterion. A reply whose ids
  do not match the scenario's exactly (missing, extra, repeated) or that cites turns the
  conversation does not have is sent back (:func:`arena.structured.complete_structured`).
* ``dimensions``: the five dimensions on anchored 1-5 scales with rationale and evidence turns; the
  prompt carries the criteria results.
* ``verdict``: the :class:`Verdict` with the criteria, the HealthBench rubric score
  (:func:`arena.judging.rubric.healthbench_score`) and the scores.

Both prompts fence the conversation (:func:`fence_marker`, :func:`arena.fencing.defuse`). The client,
gateway, transcript and scenario are the runtime context (:class:`JudgeContext`), never state; the
graph is compiled once per process (:func:`judge_graph`).
"""

from __future__ import annotations

import hashlib
import operator
from collections import Counter
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Annotated, Any, TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime
from pydantic import BaseModel, ConfigDict, Field

from agents.data import load_json
from arena.fencing import defuse
from arena.gateway import Gateway
from arena.judging.rubric import healthbench_score
from arena.protocols import ModelClient
from arena.schemas.calls import ModelCall
from arena.schemas.messages import Message, ModelRequest, ResponseSchema
from arena.schemas.scenario import Dimension, Mode, Scenario
from arena.schemas.transcript import Transcript
from arena.schemas.verdict import CriterionResult, DimensionScore, Verdict
from arena.structured import complete_structured

PROMPTS = Path(__file__).parent / "prompts"
PROMPT_FILE = PROMPTS / "model_judge.json"
CRITERIA_PROMPT_FILE = PROMPTS / "criteria_judge.json"
MAX_TURN_CHARS = 6000  # per turn shown to the judge; the rest is marked as cut
JUDGE_MAX_TOKENS = 1200
CRITERIA_MAX_TOKENS = 1600
RECURSION_LIMIT = 8  # three nodes; passed explicitly on every run


def prompt() -> dict[str, Any]:
    return load_json(PROMPT_FILE)


def criteria_prompt() -> dict[str, Any]:
    return load_json(CRITERIA_PROMPT_FILE)


# ------------------------------------------------------------------ replies


class _Score(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    score: int = Field(ge=1, le=5)
    rationale: str = Field(min_length=1, max_length=600)
    evidence_turns: list[int] = Field(max_length=20)


class JudgeReply(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    coherence: _Score
    uncertainty: _Score
    narrative: _Score
    safety: _Score
    accuracy: _Score


class CriterionReply(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    id: str = Field(min_length=1, max_length=200)
    met: bool
    evidence_turns: list[int] = Field(max_length=20)


class CriteriaReply(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    criteria: list[CriterionReply] = Field(max_length=500)


# ------------------------------------------------------------------ prompts


def fence_marker(transcript: Transcript) -> str:
    return hashlib.sha256(transcript.model_dump_json(include={"encounter_id", "turns"}).encode()).hexdigest()[:16]


def render_conversation(transcript: Transcript) -> str:
    lines = []
    for turn in transcript.turns:
        who = "TARGET" if turn.role == "target" else ("PATIENT" if transcript.mode == Mode.PATIENT else "CLINICIAN")
        text = turn.text if len(turn.text) <= MAX_TURN_CHARS else turn.text[:MAX_TURN_CHARS] + " [...cut]"
        images = f" (sent images: {', '.join(turn.images)})" if turn.images else ""
        lines.append(f"[turn {turn.index}] {who}{images}: {defuse(text)}")
    return "\n\n".join(lines)


def render_reference(scenario: Scenario) -> str:
    gt = scenario.ground_truth
    parts = [
        f"Diagnosis: {gt.diagnosis.name}",
        "Differential: " + (", ".join(f"{d.name} ({d.probability:.0%})" for d in gt.differential) or "none"),
        "Findings in the image: " + "; ".join(f.label for f in gt.findings),
        f"Ambiguity of the case: {gt.ambiguity.value}",
        f"Urgency: {gt.urgency}",
        "Red flags: " + ("; ".join(gt.red_flags) or "none"),
        "Plan that would resolve the uncertainty: " + "; ".join(gt.resolution_plan),
    ]
    if gt.change_vs_prior is not None:
        parts.append(f"Change versus the prior image: {gt.change_vs_prior.model_dump_json()}")
    return "\n".join(parts)


def _role(transcript: Transcript) -> str:
    return "patient" if transcript.mode == Mode.PATIENT else "referring clinician"


def _turns(transcript: Transcript) -> str:
    return ", ".join(str(t.index) for t in transcript.turns)


def render_criteria_results(criteria: list[CriterionResult] | None) -> str:
    if criteria is None:
        return "not available"
    if not criteria:
        return "none (the case has no rubric criteria)"
    return "\n".join(f"- {c.id} ({c.points:+d}, {c.dimension.value}): {'met' if c.met else 'not met'}"
                     + (f", turns {c.evidence_turns}" if c.evidence_turns else "") for c in criteria)


def criteria_request(transcript: Transcript, scenario: Scenario) -> ModelRequest:
    """The first pass: one result per rubric criterion; the id enum is the scenario's ids."""
    data = criteria_prompt()
    fence = fence_marker(transcript)
    ids = [c.id for c in scenario.rubric]
    listing = "\n".join(f"- {c.id} ({c.points:+d}, {c.dimension.value}): {defuse(c.text)}" for c in scenario.rubric)
    user = data["user"].format(reference=render_reference(scenario), criteria=listing, fence=fence,
                               conversation=render_conversation(transcript), count=len(ids),
                               ids=", ".join(ids), turns=_turns(transcript))
    schema: dict[str, Any] = data["schema"]
    item = schema["properties"]["criteria"]["items"]
    schema = {**schema, "properties": {"criteria": {**schema["properties"]["criteria"], "items": {
        **item, "properties": {**item["properties"], "id": {"type": "string", "enum": ids}}}}}}
    return ModelRequest(
        messages=[Message.text("system", data["system"].format(role=_role(transcript), fence=fence)),
                  Message.text("user", user)],
        temperature=0.0, max_tokens=CRITERIA_MAX_TOKENS,
        response_schema=ResponseSchema(name="criteria", schema=schema,
                                       description="One result per rubric criterion"),
    )


def judge_request(transcript: Transcript, scenario: Scenario,
                  criteria: list[CriterionResult] | None = None) -> ModelRequest:
    """The second pass: the five dimensions, with the first pass's criteria results in the prompt."""
    data = prompt()
    fence = fence_marker(transcript)
    anchors = "\n".join(f"- {name}: {text}" for name, text in data["anchors"].items())
    user = data["user"].format(reference=render_reference(scenario), anchors=anchors, fence=fence,
                               criteria=render_criteria_results(criteria),
                               conversation=render_conversation(transcript), turns=_turns(transcript))
    return ModelRequest(
        messages=[Message.text("system", data["system"].format(role=_role(transcript), fence=fence)),
                  Message.text("user", user)],
        temperature=0.0, max_tokens=JUDGE_MAX_TOKENS,
        response_schema=ResponseSchema(name="verdict", schema=data["schema"],
                                       description="The grade of each dimension"),
    )


# ------------------------------------------------------------------ checks


def check_criteria(reply: CriteriaReply, scenario: Scenario, valid_turns: set[int]) -> list[str]:
    """Problems of a criteria reply: ids not exactly the scenario's, evidence outside the conversation."""
    expected = [c.id for c in scenario.rubric]
    given = Counter(r.id for r in reply.criteria)
    problems = []
    missing = [i for i in expected if i not in given]
    extra = sorted(set(given) - set(expected))
    repeated = sorted(i for i, n in given.items() if n > 1)
    if missing:
        problems.append(f"missing criteria: {missing}")
    if extra:
        problems.append(f"unknown criteria (not in the rubric): {extra}")
    if repeated:
        problems.append(f"criteria given more than once: {repeated}")
    for result in reply.criteria:
        bad = sorted(set(result.evidence_turns) - valid_turns)
        if bad:
            problems.append(f"{result.id}.evidence_turns: {bad} are not turns of this conversation")
    return problems


def check_dimensions(reply: JudgeReply, valid_turns: set[int]) -> list[str]:
    problems = []
    for dimension in Dimension:
        bad = sorted(set(getattr(reply, dimension.value).evidence_turns) - valid_turns)
        if bad:
            problems.append(f"{dimension.value}.evidence_turns: {bad} are not turns of this conversation")
    return problems


# ------------------------------------------------------------------ graph


@dataclass(frozen=True)
class JudgeContext:
    """Run-scoped, never state: the judge's client and spec, the gateway, what is graded."""

    client: ModelClient
    gateway: Gateway
    spec: str
    transcript: Transcript
    scenario: Scenario
    scope: str


class JudgeState(TypedDict, total=False):
    calls: Annotated[list[ModelCall], operator.add]
    criteria: list[CriterionResult]
    scores: dict[Dimension, DimensionScore]
    verdict: Verdict
    failure: str


def _valid_turns(ctx: JudgeContext) -> set[int]:
    return {t.index for t in ctx.transcript.turns}


async def criteria_node(state: JudgeState, runtime: Runtime[JudgeContext]) -> dict[str, Any]:
    ctx = runtime.context
    if not ctx.scenario.rubric:
        return {"criteria": []}
    valid = _valid_turns(ctx)
    result = await complete_structured(ctx.gateway, ctx.client, criteria_request(ctx.transcript, ctx.scenario),
                                       CriteriaReply, role="judge", scope=ctx.scope, spec=ctx.spec,
                                       check=lambda reply: check_criteria(reply, ctx.scenario, valid))
    if result.value is None:
        return {"calls": result.calls, "failure": f"{ctx.spec} gave no valid rubric results after "
                                                  f"{result.attempts} attempt(s): {result.problem}"}
    by_id = {r.id: r for r in result.value.criteria}
    criteria = [CriterionResult(id=c.id, dimension=c.dimension, points=c.points, met=by_id[c.id].met,
                                evidence_turns=sorted(set(by_id[c.id].evidence_turns)))
                for c in ctx.scenario.rubric]
    return {"calls": result.calls, "criteria": criteria}


async def dimensions_node(state: JudgeState, runtime: Runtime[JudgeContext]) -> dict[str, Any]:
    ctx = runtime.context
    valid = _valid_turns(ctx)
    request = judge_request(ctx.transcript, ctx.scenario, state.get("criteria"))
    result = await complete_structured(ctx.gateway, ctx.client, request, JudgeReply, role="judge",
                                       scope=ctx.scope, spec=ctx.spec,
                                       check=lambda reply: check_dimensions(reply, valid))
    if result.value is None:
        return {"calls": result.calls, "failure": f"{ctx.spec} gave no valid verdict after "
                                                  f"{result.attempts} attempt(s): {result.problem}"}
    reply = result.value
    scores = {d: DimensionScore(score=getattr(reply, d.value).score, rationale=getattr(reply, d.value).rationale,
                                evidence_turns=sorted(set(getattr(reply, d.value).evidence_turns)))
              for d in Dimension}
    return {"calls": result.calls, "scores": scores}


async def verdict_node(state: JudgeState, runtime: Runtime[JudgeContext]) -> dict[str, Any]:
    criteria = state.get("criteria", [])
    verdict = Verdict(judge=runtime.context.spec, scores=state["scores"], criteria=criteria,
                      rubric_score=healthbench_score(criteria))
    return {"verdict": verdict}


def _after_criteria(state: JudgeState) -> str:
    return END if state.get("failure") else "dimensions"


def _after_dimensions(state: JudgeState) -> str:
    return END if state.get("failure") else "verdict"


def build_judge_graph() -> CompiledStateGraph[JudgeState, JudgeContext, JudgeState, JudgeState]:
    graph = StateGraph(JudgeState, context_schema=JudgeContext)
    graph.add_node("criteria", criteria_node)
    graph.add_node("dimensions", dimensions_node)
    graph.add_node("verdict", verdict_node)
    graph.add_edge(START, "criteria")
    graph.add_conditional_edges("criteria", _after_criteria, ["dimensions", END])
    graph.add_conditional_edges("dimensions", _after_dimensions, ["verdict", END])
    graph.add_edge("verdict", END)
    return graph.compile()


@cache
def judge_graph() -> CompiledStateGraph[JudgeState, JudgeContext, JudgeState, JudgeState]:
    """The judge graph, compiled once per process and reused."""
    return build_judge_graph()


@dataclass
class GraphOutcome:
    verdict: Verdict | None
    calls: list[ModelCall]
    failure: str


async def run_judge_graph(ctx: JudgeContext) -> GraphOutcome:
    """Run the graph once; ``verdict`` None means ``failure`` says why (every call is in ``calls``)."""
    final: JudgeState = await judge_graph().ainvoke(JudgeState(calls=[]), {"recursion_limit": RECURSION_LIMIT},
                                                    context=ctx)  # type: ignore[assignment]
    return GraphOutcome(final.get("verdict"), list(final.get("calls", [])), final.get("failure", ""))
