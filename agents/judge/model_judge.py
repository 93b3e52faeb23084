"""A judge backed by any model: one structured call per transcript, validated, repaired at most
twice, and a recorded :class:`JudgeFailed` (never a guessed score) when it keeps failing.

The conversation is fenced with a marker derived from the transcript's content, model text can
neither close the fence nor forge a turn (:func:`arena.fencing.defuse`), and the prompt tells the
judge that nothing inside the fence is an instruction.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from agents.data import load_json
from arena.fencing import defuse
from arena.gateway import Gateway
from arena.protocols import JudgeFailed, ModelClient, NotGradeable
from arena.schemas.calls import ModelCall
from arena.schemas.messages import Message, ModelRequest, ResponseSchema
from arena.schemas.scenario import Dimension, Mode, Scenario
from arena.schemas.transcript import Transcript
from arena.schemas.verdict import DimensionScore, Verdict
from arena.structured import complete_structured

PROMPT_FILE = Path(__file__).parent / "prompts" / "model_judge.json"
MAX_TURN_CHARS = 6000  # per turn shown to the judge; the rest is marked as cut
JUDGE_MAX_TOKENS = 1200


def prompt() -> dict[str, Any]:
    return load_json(PROMPT_FILE)


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


def judge_request(transcript: Transcript, scenario: Scenario) -> ModelRequest:
    data = prompt()
    fence = fence_marker(transcript)
    role = "patient" if transcript.mode == Mode.PATIENT else "referring clinician"
    anchors = "\n".join(f"- {name}: {text}" for name, text in data["anchors"].items())
    turns = ", ".join(str(t.index) for t in transcript.turns)
    user = data["user"].format(reference=render_reference(scenario), anchors=anchors, fence=fence,
                               conversation=render_conversation(transcript), turns=turns)
    return ModelRequest(
        messages=[Message.text("system", data["system"].format(role=role, fence=fence)), Message.text("user", user)],
        temperature=0.0, max_tokens=JUDGE_MAX_TOKENS,
        response_schema=ResponseSchema(name="verdict", schema=data["schema"],
                                       description="The grade of each dimension"),
    )


class ModelJudge:
    def __init__(self, client: ModelClient, spec: str, gateway: Gateway) -> None:
        self.client = client
        self.name = spec
        self.gateway = gateway

    async def judge(self, transcript: Transcript, scenario: Scenario, *,
                    calls: list[ModelCall] | None = None) -> Verdict:
        if transcript.termination.is_infrastructure:
            raise NotGradeable(f"{transcript.encounter_id} ended with {transcript.termination.value}: "
                               "an infrastructure error is not scored")
        valid = {t.index for t in transcript.turns}

        def check(reply: JudgeReply) -> list[str]:
            problems = []
            for dimension in Dimension:
                bad = sorted(set(getattr(reply, dimension.value).evidence_turns) - valid)
                if bad:
                    problems.append(f"{dimension.value}.evidence_turns: {bad} are not turns of this conversation")
            return problems

        result = await complete_structured(self.gateway, self.client, judge_request(transcript, scenario),
                                           JudgeReply, role="judge", scope=f"{transcript.run or ''}|"
                                           f"{transcript.encounter_id}|judge", spec=self.name, check=check)
        if calls is not None:
            calls.extend(result.calls)
        if result.value is None:
            raise JudgeFailed(f"{self.name} gave no valid verdict after {result.attempts} attempt(s): "
                              f"{result.problem}", result.calls)
        reply = result.value
        scores = {d: DimensionScore(score=getattr(reply, d.value).score, rationale=getattr(reply, d.value).rationale,
                                    evidence_turns=sorted(set(getattr(reply, d.value).evidence_turns)))
                  for d in Dimension}
        return Verdict(judge=self.name, scores=scores)
