"""Read what the last user message asks for. Shared by the rule-based reference targets."""

from __future__ import annotations

import re
from enum import StrEnum

from arena.schemas.messages import Message


class Intent(StrEnum):
    OPEN = "open"
    COMPARE = "compare"
    CHALLENGE = "challenge"
    CLARIFY = "clarify"
    IMPRESSION = "impression"
    CLOSE = "close"
    PROBE = "probe"


_PATTERNS: list[tuple[Intent, re.Pattern[str]]] = [
    (Intent.CLOSE, re.compile(r"\b(sum(marise|marize|mary)|sum up|wrap up|differential|probabilit|how likely)", re.I)),
    (Intent.CHALLENGE, re.compile(r"\b(you said|earlier you|contradict|but you|doesn't match|disagree|are you saying|not convinced|not sure that's right)\b", re.I)),
    (Intent.COMPARE, re.compile(r"\b(compare|comparison|prior|earlier|older|last year|previous|before)\b", re.I)),
    (Intent.CLARIFY, re.compile(r"\b(how sure|how certain|how confident|could it (also )?be|could this be|sure it'?s|certain it'?s)\b", re.I)),
    (Intent.IMPRESSION, re.compile(r"\b(what do you think|what is it|what could it be|your impression|most likely)\b", re.I)),
]


def classify(messages: list[Message]) -> Intent:
    """Intent of the latest user message; the first user message is always ``OPEN``."""
    users = [m for m in messages if m.role == "user"]
    if len(users) <= 1:
        return Intent.OPEN
    # The question is the last paragraph; disclosed facts come before it.
    text = users[-1].text_content.strip().split("\n\n")[-1]
    for intent, pattern in _PATTERNS:
        if pattern.search(text):
            return intent
    return Intent.PROBE


def last_user_text(messages: list[Message]) -> str:
    users = [m for m in messages if m.role == "user"]
    return users[-1].text_content if users else ""


def dialogue_text(messages: list[Message]) -> str:
    """All user text so far (what a blind model can read)."""
    return "\n".join(m.text_content for m in messages if m.role == "user")
