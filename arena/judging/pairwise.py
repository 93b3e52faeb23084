"""Pairwise judging with the order swapped, and the biases it exposes.

A :class:`PairwiseJudge` sees two transcripts of the same scenario and prefers the first shown,
the second, or neither. :func:`judge_pair` asks twice, (A, B) then (B, A): when both orders name the
same transcript it wins; when they disagree the pair is a tie and ``flipped`` records the judge's
order sensitivity. Judges without pairwise support (the offline rubric judge) compare through
their absolute verdicts (:func:`from_absolute`, :func:`judge_pair_absolute`).

:func:`bias_report` summarises, per judge, how often the order flipped the outcome, how often the
first-shown transcript won a decisive single-order comparison, how often the transcript with more
target text won, and, where the judge shares a model family with one target (:func:`family`),
how often that target won.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal, Protocol, runtime_checkable

from pydantic import Field

from arena.protocols import Judge, NotGradeable
from arena.schemas.base import Record
from arena.schemas.calls import ModelCall
from arena.schemas.scenario import Scenario
from arena.schemas.transcript import Transcript
from arena.schemas.verdict import Verdict

Choice = Literal["first", "second", "tie"]
Winner = Literal["A", "B", "tie"]
Method = Literal["pairwise-swapped", "from-absolute"]
REFERENCE_FAMILY = "reference"
# Checked in order: a more specific name before one it contains (medgemma before gemma).
KNOWN_FAMILIES = ("medgemma", "gemma", "gemini", "claude", "gpt", "llama", "qwen", "mistral", "mixtral",
                  "deepseek", "phi")
_WORD = re.compile(r"[a-z0-9]+")


class Preference(Record):
    """One comparison in one order."""

    choice: Choice = Field(description="Which transcript, as shown, is better: first, second or tie")
    rationale: str = Field(default="", description="Why, in the judge's words")


@runtime_checkable
class PairwiseJudge(Protocol):
    """Compares two transcripts of one scenario as shown (first, second). ``calls``, when given,
    receives a record of every model call made."""

    name: str

    async def compare(self, first: Transcript, second: Transcript, scenario: Scenario, *,
                      calls: list[ModelCall] | None = None) -> Preference: ...


class OrderResult(Record):
    """One order's raw result and what it means for A and B."""

    first: Literal["A", "B"] = Field(description="Which transcript was shown first")
    choice: Choice
    winner: Winner
    rationale: str = ""


class PairwiseVerdict(Record):
    judge: str
    scenario_id: str
    target_a: str
    target_b: str
    winner: Winner
    forward: OrderResult | None = Field(default=None, description="A shown first (pairwise-swapped only)")
    reverse: OrderResult | None = Field(default=None, description="B shown first (pairwise-swapped only)")
    flipped: bool = Field(default=False, description="The two orders disagreed: the pair became a tie")
    length_a: int = Field(ge=0, description="Characters of target text in A")
    length_b: int = Field(ge=0, description="Characters of target text in B")
    method: Method
    overall_a: float | None = Field(default=None, description="A's mean score (from-absolute only)")
    overall_b: float | None = Field(default=None, description="B's mean score (from-absolute only)")


class BiasReport(Record):
    """One judge's position, length and self-preference biases over its pairwise verdicts.

    Every rate is ``None`` when nothing counted towards it; ``n_*`` says how many did."""

    judge: str
    verdicts: int
    order_flip_rate: float | None = Field(description="Share of swapped verdicts whose two orders disagreed")
    n_swapped: int
    first_position_win_rate: float | None = Field(
        description="Share of decisive single-order results that chose the transcript shown first")
    n_decisive_orders: int
    longer_answer_win_rate: float | None = Field(
        description="Share of decisive verdicts (lengths differing) won by the transcript with more target text")
    n_decisive_by_length: int
    self_preference: float | None = Field(
        description="Where exactly one target shares the judge's family: share of decisive verdicts it won")
    n_self_family: int


def target_length(transcript: Transcript) -> int:
    return sum(len(t.text) for t in transcript.target_turns())


def family(spec: str) -> str:
    """The model family of a spec: the provider prefix plus the model's family name
    (``openai/gpt-4o`` -> ``openai/gpt``, ``openai-compatible/meta-llama/Llama-3.1-8B`` ->
    ``openai-compatible/llama``); every reference model is ``reference``."""
    provider, _, model = spec.partition("/")
    if provider == REFERENCE_FAMILY:
        return REFERENCE_FAMILY
    name = model.lower()
    for known in KNOWN_FAMILIES:
        if known in name:
            return f"{provider}/{known}"
    last = name.rsplit("/", 1)[-1]
    word = _WORD.search(last)
    return f"{provider}/{word.group(0) if word else last}"


def _gradeable(a: Transcript, b: Transcript, scenario: Scenario) -> None:
    for t in (a, b):
        if t.termination.is_infrastructure:
            raise NotGradeable(f"{t.encounter_id} ended with {t.termination.value}: an infrastructure error "
                               "is not compared")
        if t.scenario_id != scenario.id:
            raise ValueError(f"transcript is for {t.scenario_id!r}, not {scenario.id!r}")


def _winner(first: Literal["A", "B"], choice: Choice) -> Winner:
    if choice == "tie":
        return "tie"
    if choice == "first":
        return first
    return "B" if first == "A" else "A"


async def judge_pair(judge: PairwiseJudge, a: Transcript, b: Transcript, scenario: Scenario, *,
                     calls: list[ModelCall] | None = None) -> PairwiseVerdict:
    """Ask in both orders, (a, b) then (b, a); agreement wins, disagreement is a flipped tie.

    :class:`arena.protocols.JudgeFailed` from either order propagates (no verdict is guessed)."""
    _gradeable(a, b, scenario)
    one = await judge.compare(a, b, scenario, calls=calls)
    two = await judge.compare(b, a, scenario, calls=calls)
    forward = OrderResult(first="A", choice=one.choice, winner=_winner("A", one.choice), rationale=one.rationale)
    reverse = OrderResult(first="B", choice=two.choice, winner=_winner("B", two.choice), rationale=two.rationale)
    agreed = forward.winner == reverse.winner
    return PairwiseVerdict(judge=judge.name, scenario_id=scenario.id, target_a=a.target, target_b=b.target,
                           winner=forward.winner if agreed else "tie", forward=forward, reverse=reverse,
                           flipped=not agreed, length_a=target_length(a), length_b=target_length(b),
                           method="pairwise-swapped")


def from_absolute(verdict_a: Verdict, verdict_b: Verdict, *, scenario_id: str = "", target_a: str = "A",
                  target_b: str = "B", length_a: int = 0, length_b: int = 0) -> PairwiseVerdict:
    """A/B/tie from two absolute verdicts by their overall means (equal means: a tie)."""
    overall_a, overall_b = verdict_a.overall, verdict_b.overall
    winner: Winner = "A" if overall_a > overall_b else ("B" if overall_b > overall_a else "tie")
    return PairwiseVerdict(judge=verdict_a.judge, scenario_id=scenario_id, target_a=target_a, target_b=target_b,
                           winner=winner, length_a=length_a, length_b=length_b, method="from-absolute",
                           overall_a=overall_a, overall_b=overall_b)


async def judge_pair_absolute(judge: Judge, a: Transcript, b: Transcript, scenario: Scenario, *,
                              calls: list[ModelCall] | None = None) -> PairwiseVerdict:
    """The pairwise verdict of a judge without pairwise support: each transcript graded on its own."""
    _gradeable(a, b, scenario)
    verdict_a = await judge.judge(a, scenario, calls=calls)
    verdict_b = await judge.judge(b, scenario, calls=calls)
    return from_absolute(verdict_a, verdict_b, scenario_id=scenario.id, target_a=a.target, target_b=b.target,
                         length_a=target_length(a), length_b=target_length(b))


async def compare_pair(judge: PairwiseJudge | Judge, a: Transcript, b: Transcript, scenario: Scenario, *,
                       calls: list[ModelCall] | None = None) -> PairwiseVerdict:
    """Order-swapped comparison for a pairwise judge, absolute comparison for any other judge."""
    if isinstance(judge, PairwiseJudge):
        return await judge_pair(judge, a, b, scenario, calls=calls)
    return await judge_pair_absolute(judge, a, b, scenario, calls=calls)


def _rate(hits: int, total: int) -> float | None:
    return hits / total if total else None


def bias_report(verdicts: Sequence[PairwiseVerdict]) -> dict[str, BiasReport]:
    """Per judge (in order of first appearance): order-flip rate, first-position win rate,
    longer-answer win rate and self-preference, each with the count it is over."""
    reports: dict[str, BiasReport] = {}
    for name in dict.fromkeys(v.judge for v in verdicts):
        own = [v for v in verdicts if v.judge == name]
        swapped = [v for v in own if v.method == "pairwise-swapped"]
        orders = [o for v in swapped for o in (v.forward, v.reverse) if o is not None and o.choice != "tie"]
        by_length = [v for v in own if v.winner != "tie" and v.length_a != v.length_b]
        longer_won = sum(1 for v in by_length if (v.winner == "A") == (v.length_a > v.length_b))
        mine = family(name)
        self_pairs = [v for v in own if v.winner != "tie"
                      and (family(v.target_a) == mine) != (family(v.target_b) == mine)]
        self_won = sum(1 for v in self_pairs if family(v.target_a if v.winner == "A" else v.target_b) == mine)
        reports[name] = BiasReport(
            judge=name, verdicts=len(own),
            order_flip_rate=_rate(sum(1 for v in swapped if v.flipped), len(swapped)), n_swapped=len(swapped),
            first_position_win_rate=_rate(sum(1 for o in orders if o.choice == "first"), len(orders)),
            n_decisive_orders=len(orders),
            longer_answer_win_rate=_rate(longer_won, len(by_length)), n_decisive_by_length=len(by_length),
            self_preference=_rate(self_won, len(self_pairs)), n_self_family=len(self_pairs))
    return reports
