"""Shared machinery of the reference targets: a *reading* of the case and how it is voiced.

Each reference model builds a :class:`Reading` (what it believes: findings, change vs prior,
diagnosis and differential with probabilities, plan) from whatever it is allowed to use, and a
:class:`Voice` turns that reading into an answer for the question's intent. Models differ in what
they read (ground truth, pixels, dialogue only) and in how they voice confidence.
"""

from __future__ import annotations

import re
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from enum import StrEnum

from agents.reference.intent import Intent, classify, last_user_text
from arena.schemas.messages import Message, ModelRequest, ModelResponse, Usage


@dataclass
class Reading:
    """What a reference model believes about the case at this point of the conversation."""

    findings: list[str] = field(default_factory=list)
    change: str | None = None
    leading: str | None = None
    leading_p: float = 0.5
    differential: list[tuple[str, float]] = field(default_factory=list)
    plan: list[str] = field(default_factory=list)
    urgent_advice: str | None = None
    question: str | None = None
    cannot_see: bool = False
    probe_answers: dict[str, str] = field(default_factory=dict)


class Voice(StrEnum):
    CALIBRATED = "calibrated"
    OVERCONFIDENT = "overconfident"
    HEDGER = "hedger"


def join_words(items: list[str]) -> str:
    if not items:
        return ""
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + " and " + items[-1]


def _pct(p: float) -> str:
    return f"{round(p * 100)}%"


def voice_answer(intent: Intent, reading: Reading, voice: Voice, question: str) -> str:
    """Turn a reading into the answer to one question."""
    parts: list[str] = []
    if reading.cannot_see and intent in (Intent.OPEN, Intent.COMPARE):
        parts.append("I can't view any image here, so I can only go on what you describe.")
    if intent == Intent.OPEN:
        if reading.findings:
            parts.append(f"Looking at the image, I can see {join_words(reading.findings)}.")
        parts.append(_impression(reading, voice))
        parts.append(_advice(reading, voice))
        if reading.question:
            parts.append(reading.question)
    elif intent == Intent.PROBE:
        parts.append(_probe(reading, voice, question))
    elif intent == Intent.COMPARE:
        if reading.change:
            parts.append(f"Compared with the earlier image, {reading.change}.")
        else:
            parts.append("I can't reliably tell what has changed between the two images.")
        impression = _impression(reading, voice)
        if voice == Voice.CALIBRATED and reading.leading:
            impression = "In light of the comparison: " + impression[0].lower() + impression[1:]
        parts.append(impression)
    elif intent == Intent.CHALLENGE:
        parts.append(_challenge(reading, voice))
    elif intent == Intent.CLARIFY:
        parts.append(_clarify(reading, voice))
    elif intent == Intent.IMPRESSION:
        parts.append(_impression(reading, voice))
    elif intent == Intent.CLOSE:
        parts.append(_summary(reading, voice))
    return " ".join(p for p in parts if p)


def _impression(reading: Reading, voice: Voice) -> str:
    if voice == Voice.HEDGER or reading.leading is None:
        return (
            "It's really hard to say what this is; it could be a number of things, "
            "and I wouldn't want to put a name on it."
        )
    if voice == Voice.OVERCONFIDENT:
        return f"This is {reading.leading}. I'm 99% certain of that."
    alts = [name for name, _ in reading.differential[:2]]
    alt_text = f", though {join_words(alts)} {'is' if len(alts) == 1 else 'are'} also possible" if alts else ""
    return f"The most likely explanation is {reading.leading} (about {_pct(reading.leading_p)}){alt_text}."


def _advice(reading: Reading, voice: Voice) -> str:
    if voice == Voice.OVERCONFIDENT:
        return reading.urgent_advice or ""
    if voice == Voice.HEDGER:
        return "You may want to see a doctor at some point if it worries you."
    plan = f" To settle it: {join_words(reading.plan)}." if reading.plan else ""
    return (reading.urgent_advice or "") + plan


_PROBE_STOP = {
    "what", "about", "does", "that", "this", "with", "your", "have", "there", "from", "into",
    "which", "would", "could", "should", "make", "think", "anything", "look", "looks", "image",
}


def _probe(reading: Reading, voice: Voice, question: str) -> str:
    words = {w for w in re.findall(r"[a-z]{4,}", question.lower()) if w not in _PROBE_STOP}
    best, best_overlap = None, 0
    for key, answer in reading.probe_answers.items():
        overlap = len(words & set(re.findall(r"[a-z]{4,}", key.lower())))
        if overlap > best_overlap:
            best, best_overlap = answer, overlap
    if voice == Voice.HEDGER:
        body = f"Possibly {best}, but I can't be sure." if best else "I honestly can't tell."
        return body + " It could be nothing or it could be something."
    if best:
        return best[0].upper() + best[1:] + ("." if not best.endswith(".") else "")
    if voice == Voice.OVERCONFIDENT:
        return f"That doesn't matter; this is {reading.leading}."
    return "I can't make that out clearly on this image, so I can't comment on it reliably."


def _challenge(reading: Reading, voice: Voice) -> str:
    if voice == Voice.OVERCONFIDENT:
        return f"No. I'm certain this is {reading.leading}; nothing changes that."
    if voice == Voice.HEDGER:
        return "You may well be right; I really can't say either way."
    if reading.leading is None:
        return "I can't commit to a diagnosis on what I have."
    basis = f" because of {join_words(reading.findings[:3])}" if reading.findings else ""
    return (
        f"Let me be clear: my leading impression is {reading.leading} "
        f"(about {_pct(reading.leading_p)}){basis}."
    )


def _clarify(reading: Reading, voice: Voice) -> str:
    if voice == Voice.OVERCONFIDENT:
        return f"I'm completely sure: it's {reading.leading}. No further tests are needed."
    if voice == Voice.HEDGER:
        return "I can't be sure at all; it could be many things."
    if reading.leading is None:
        return "I'm not confident about any single diagnosis."
    alts = ", ".join(f"{name} (about {_pct(p)})" for name, p in reading.differential[:3])
    plan = f" What would resolve it: {join_words(reading.plan)}." if reading.plan else ""
    return (
        f"I'm about {_pct(reading.leading_p)} confident it's {reading.leading}; "
        f"other possibilities are {alts or 'hard to rank'}.{plan}"
    )


def _summary(reading: Reading, voice: Voice) -> str:
    lines: list[str] = ["Summary:"]
    if reading.findings:
        lines.append(f"I found {join_words(reading.findings)}.")
    if reading.change:
        lines.append(f"Change from before: {reading.change}.")
    if voice == Voice.HEDGER or reading.leading is None:
        lines.append("I can't say what this is; it could be a number of things.")
        lines.append("Please see a doctor if you're worried.")
        return " ".join(lines)
    if voice == Voice.OVERCONFIDENT:
        lines.append(f"Diagnosis: {reading.leading} (99%). No differential needed.")
        if reading.urgent_advice:
            lines.append(reading.urgent_advice)
        return " ".join(lines)
    diff = "; ".join(f"{name} {_pct(p)}" for name, p in [(reading.leading, reading.leading_p), *reading.differential])
    lines.append(f"Most likely {reading.leading}, so the differential is: {diff}.")
    if reading.plan:
        lines.append(f"Plan: {join_words(reading.plan)}.")
    if reading.urgent_advice:
        lines.append(reading.urgent_advice)
    return " ".join(lines)


class ReferenceModel(ABC):
    """Base of the offline reference targets. Subclasses build a :class:`Reading`."""

    voice: Voice = Voice.CALIBRATED
    supports_images: bool = True

    def __init__(self, name: str) -> None:
        self.name = name

    @abstractmethod
    def read(self, messages: list[Message]) -> Reading:
        """Form a belief from what this model is allowed to use."""

    async def complete(self, request: ModelRequest) -> ModelResponse:
        start = time.perf_counter()
        reading = self.read(request.messages)
        intent = classify(request.messages)
        text = voice_answer(intent, reading, self.voice, last_user_text(request.messages))
        prompt_words = sum(len(m.text_content.split()) for m in request.messages)
        return ModelResponse(
            text=text,
            model=self.name,
            usage=Usage(input_tokens=prompt_words, output_tokens=len(text.split())),
            latency_ms=(time.perf_counter() - start) * 1000,
        )
