"""The template voice: the rule-based simulator's words, from ``prompts/phrasing.json``."""

from __future__ import annotations

from agents.simulator.phrasing import render_move
from arena.protocols import Utterance, VoiceRequest


def template_text(request: VoiceRequest) -> str:
    return render_move(request.scenario, request.mode, request.move, seed=request.seed, turn=request.turn,
                       disclosed=request.disclosed, alternative_to=request.alternative_to)


class TemplateVoice:
    """Offline and deterministic: the same move, seed and turn always give the same words."""

    name = "template"

    async def speak(self, request: VoiceRequest) -> Utterance:
        return Utterance(text=template_text(request), move=request.move)
