"""A judge backed by any model: the judge graph (rubric criteria, then the five dimensions, then the
verdict; :mod:`agents.judge.judge_graph`), each call validated and repaired at most twice, and a
recorded :class:`JudgeFailed` (never a guessed score) when a pass keeps failing.

The conversation is fenced with a marker derived from the transcript's content, model text can
neither close the fence nor forge a turn (:func:`arena.fencing.defuse`), and both prompts tell the
judge that nothing inside the fence is an instruction.
"""

from __future__ import annotations

from agents.judge.judge_graph import (
    JUDGE_MAX_TOKENS,
    MAX_TURN_CHARS,
    PROMPT_FILE,
    CriteriaReply,
    JudgeContext,
    JudgeReply,
    criteria_request,
    fence_marker,
    judge_request,
    prompt,
    render_conversation,
    render_reference,
    run_judge_graph,
)
from arena.gateway import Gateway
from arena.protocols import JudgeFailed, ModelClient, NotGradeable
from arena.schemas.calls import ModelCall
from arena.schemas.scenario import Scenario
from arena.schemas.transcript import Transcript
from arena.schemas.verdict import Verdict

__all__ = ["JUDGE_MAX_TOKENS", "MAX_TURN_CHARS", "PROMPT_FILE", "CriteriaReply", "JudgeReply", "ModelJudge",
           "criteria_request", "fence_marker", "judge_request", "prompt", "render_conversation",
           "render_reference"]


def judge_scope(transcript: Transcript, spec: str) -> str:
    """The gateway scope of one judge's calls on one transcript: distinct per judge, so the members
    of a jury (run concurrently) never share a call counter or a recorded prefix."""
    return f"{transcript.run or ''}|{transcript.encounter_id}|judge|{spec}"


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
        scope = judge_scope(transcript, self.name)
        ctx = JudgeContext(client=self.client, gateway=self.gateway, spec=self.name, transcript=transcript,
                           scenario=scenario, scope=scope)
        try:
            outcome = await run_judge_graph(ctx)
        finally:
            self.gateway.forget(scope)
        if calls is not None:
            calls.extend(outcome.calls)
        if outcome.verdict is None:
            raise JudgeFailed(outcome.failure, outcome.calls)
        return outcome.verdict
