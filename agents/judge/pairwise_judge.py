"""A model that compares two transcripts of one scenario (:class:`arena.judging.pairwise.PairwiseJudge`).

One structured call per order (``{rationale, preferred: first|second|tie}``), validated and repaired
at most :data:`arena.structured.MAX_REPAIRS` times, then :class:`JudgeFailed` with every call made.
Each conversation is fenced with its own marker (derived from both transcripts and the position),
and model text can neither close a fence nor forge a turn (:func:`arena.fencing.defuse`). The
order swap itself is :func:`arena.judging.pairwise.judge_pair`'s.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from agents.data import load_json
from agents.judge.judge_graph import fence_marker, render_conversation, render_reference
from arena.gateway import Gateway
from arena.judging.pairwise import Preference
from arena.protocols import JudgeFailed, ModelClient, NotGradeable
from arena.schemas.calls import ModelCall
from arena.schemas.messages import Message, ModelRequest, ResponseSchema
from arena.schemas.scenario import Mode, Scenario
from arena.schemas.transcript import Transcript
from arena.structured import complete_structured

PROMPT_FILE = Path(__file__).parent / "prompts" / "pairwise_judge.json"
PAIRWISE_MAX_TOKENS = 800


def prompt() -> dict[str, Any]:
    return load_json(PROMPT_FILE)


class PairwiseReply(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    rationale: str = Field(min_length=1, max_length=1200)
    preferred: Literal["first", "second", "tie"]


def pair_markers(first: Transcript, second: Transcript) -> tuple[str, str]:
    """Two distinct fence markers, derived from both transcripts and the position shown."""
    both = f"{fence_marker(first)}|{fence_marker(second)}"
    return (hashlib.sha256(f"first|{both}".encode()).hexdigest()[:16],
            hashlib.sha256(f"second|{both}".encode()).hexdigest()[:16])


def pairwise_request(first: Transcript, second: Transcript, scenario: Scenario) -> ModelRequest:
    data = prompt()
    one, two = pair_markers(first, second)
    role = "patient" if first.mode == Mode.PATIENT else "referring clinician"
    user = data["user"].format(reference=render_reference(scenario), first=one, second=two,
                               conversation_first=render_conversation(first),
                               conversation_second=render_conversation(second))
    return ModelRequest(
        messages=[Message.text("system", data["system"].format(role=role, first=one, second=two)),
                  Message.text("user", user)],
        temperature=0.0, max_tokens=PAIRWISE_MAX_TOKENS,
        response_schema=ResponseSchema(name="preference", schema=data["schema"],
                                       description="Which conversation's TARGET did better"),
    )


class ModelPairwiseJudge:
    """Implements :class:`arena.judging.pairwise.PairwiseJudge` with any model."""

    def __init__(self, client: ModelClient, spec: str, gateway: Gateway) -> None:
        self.client = client
        self.name = spec
        self.gateway = gateway

    async def compare(self, first: Transcript, second: Transcript, scenario: Scenario, *,
                      calls: list[ModelCall] | None = None) -> Preference:
        for t in (first, second):
            if t.termination.is_infrastructure:
                raise NotGradeable(f"{t.encounter_id} ended with {t.termination.value}: an infrastructure "
                                   "error is not compared")
        scope = f"{first.run or ''}|{first.encounter_id}|{second.encounter_id}|pairwise|{self.name}"
        try:
            result = await complete_structured(self.gateway, self.client, pairwise_request(first, second, scenario),
                                               PairwiseReply, role="judge", scope=scope, spec=self.name)
        finally:
            self.gateway.forget(scope)
        if calls is not None:
            calls.extend(result.calls)
        if result.value is None:
            raise JudgeFailed(f"{self.name} gave no valid preference after {result.attempts} attempt(s): "
                              f"{result.problem}", result.calls)
        return Preference(choice=result.value.preferred, rationale=result.value.rationale)
