"""``reference/blind``: never receives an image; answers from the dialogue alone."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

from agents.reference.base import Reading, ReferenceModel
from agents.reference.intent import dialogue_text
from arena.schemas.messages import Message

KNOWLEDGE_FILE = Path(__file__).with_name("knowledge.json")


@cache
def knowledge() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(KNOWLEDGE_FILE.read_text(encoding="utf-8"))
    return data


class Blind(ReferenceModel):
    """Declares no vision, so the encounter strips images; it also refuses any it is given."""

    supports_images = False

    def read(self, messages: list[Message]) -> Reading:
        if any(m.images for m in messages):
            raise AssertionError("reference/blind was sent an image; images must be stripped")
        text = dialogue_text(messages).lower()
        best: dict[str, Any] | None = None
        best_hits = 0
        for context in knowledge()["blind_contexts"]:
            hits = sum(len(re.findall(rf"\b{re.escape(word)}", text)) for word in context["keywords"])
            if hits > best_hits:
                best, best_hits = context, hits
        if best is None:
            return Reading(cannot_see=True, question="Can you describe what you are seeing?")
        echoes = [said for stem, said in best["echo"].items() if re.search(rf"\b{re.escape(stem)}", text)]
        return Reading(
            findings=echoes,
            leading=best["leading"],
            leading_p=best["leading_p"],
            differential=[(name, p) for name, p in best["differential"]],
            plan=list(best["plan"]),
            cannot_see=True,
            question="How long has it been there, and has it changed?",
        )
