"""The template voice: the rule-based simulator's words, from ``prompts/phrasing.json``."""

from __future__ import annotations

from agents.simulator.phrasing import render_move
from arena.protocols import Utterance, VoiceRequest
from arena.schemas.transcript import withholds_record


def template_text(request: VoiceRequest) -> str:
    unanswered = withholds_record(request.ablation) and bool(request.assessments) and bool(
        request.assessments[-1].facts_requested)
    return render_move(request.scenario, request.mode, request.move, seed=request.seed, turn=request.turn,
                       disclosed=request.disclosed, alternative_to=request.alternative_to,
                       ablation=request.ablation, unanswered=unanswered)


class TemplateVoice:
    """Offline and deterministic: the same move, seed and turn always give the same words."""

    name = "template"

    async def speak(self, request: VoiceRequest) -> Utterance:
        return Utterance(text=template_text(request), move=request.move)
