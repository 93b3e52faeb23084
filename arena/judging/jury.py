"""A jury: several judges grade the same transcript concurrently; the verdict is their median.

* A member that gives no valid verdict (:class:`JudgeFailed`) abstains: its :class:`JudgeVote`
  carries the error, and ``Verdict.panel_size`` counts only the members that voted. If every member
  abstains the jury fails (``JudgeFailed`` with every call made). ``NotGradeable`` propagates.
* Per dimension the score is the median of the voting members' scores; for an even panel the
  median is rounded half up for ``score`` and kept exact in ``fraction = (median - 1) / 4``.
* A rubric criterion is met when a strict majority of the members that graded it say so; the
  rubric score is recomputed from those results (:func:`arena.judging.rubric.healthbench_score`).
* :func:`panel_agreement` measures inter-judge agreement over many jury verdicts (Krippendorff's
  alpha, ordinal, per dimension).
"""

from __future__ import annotations

import asyncio
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from arena.judging.rubric import healthbench_score
from arena.protocols import Judge, JudgeFailed, NotGradeable
from arena.schemas.calls import ModelCall
from arena.schemas.scenario import Dimension, Scenario
from arena.schemas.transcript import Transcript
from arena.schemas.verdict import CriterionResult, DimensionScore, JudgeVote, Verdict
from arena.stats.agreement import krippendorff_alpha

Aggregate = Literal["median"]
PARTIAL_PANEL = "partial_panel"  # flag: at least one member abstained
MAX_ERROR_CHARS = 600


@dataclass
class _Ballot:
    judge: Judge
    verdict: Verdict | None = None
    error: str | None = None
    calls: list[ModelCall] = field(default_factory=list)


def round_half_up(value: float) -> int:
    return math.floor(value + 0.5)


def _number(calls: list[ModelCall]) -> list[ModelCall]:
    """The members' judge calls renumbered ``judge-1..n`` in transcript order (their scopes differ)."""
    out, n = [], 0
    for call in calls:
        if call.role == "judge":
            n += 1
            call = call.model_copy(update={"call_id": f"judge-{n}"})
        out.append(call)
    return out


class Jury:
    """Implements :class:`arena.protocols.Judge` over a panel of judges (distinct names)."""

    def __init__(self, judges: Sequence[Judge], *, aggregate: Aggregate = "median") -> None:
        if not judges:
            raise ValueError("a jury needs at least one judge")
        names = [j.name for j in judges]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"a jury's judges must differ; repeated: {', '.join(repeated)}")
        if aggregate != "median":
            raise ValueError(f"unknown aggregate {aggregate!r}; valid: median")
        self.judges = list(judges)
        self.aggregate = aggregate
        self.name = f"jury({','.join(names)})"

    async def judge(self, transcript: Transcript, scenario: Scenario, *,
                    calls: list[ModelCall] | None = None) -> Verdict:
        if transcript.termination.is_infrastructure:
            raise NotGradeable(f"{transcript.encounter_id} ended with {transcript.termination.value}: "
                               "an infrastructure error is not scored")
        ballots = [_Ballot(j) for j in self.judges]
        outcomes = await asyncio.gather(*(self._vote(b, transcript, scenario) for b in ballots),
                                        return_exceptions=True)
        for outcome in outcomes:  # NotGradeable (or a bug) in any member propagates
            if isinstance(outcome, BaseException):
                raise outcome
        made = _number([c for b in ballots for c in b.calls])
        if calls is not None:
            calls.extend(made)
        valid = [b for b in ballots if b.verdict is not None]
        if not valid:
            reasons = "; ".join(f"{b.judge.name}: {b.error}" for b in ballots)
            raise JudgeFailed(f"every judge of {self.name} abstained: {reasons}", made)
        return self._combine(ballots, scenario)

    @staticmethod
    async def _vote(ballot: _Ballot, transcript: Transcript, scenario: Scenario) -> None:
        try:
            ballot.verdict = await ballot.judge.judge(transcript, scenario, calls=ballot.calls)
        except JudgeFailed as exc:
            ballot.error = str(exc)[:MAX_ERROR_CHARS] or type(exc).__name__
            ballot.calls = ballot.calls or list(exc.calls)

    def _combine(self, ballots: list[_Ballot], scenario: Scenario) -> Verdict:
        voted = [(b.judge.name, b.verdict) for b in ballots if b.verdict is not None]
        abstained = [b.judge.name for b in ballots if b.verdict is None]
        panel_note = f"Panel of {len(voted)} of {len(ballots)} judges"
        if abstained:
            panel_note += f" ({', '.join(abstained)} abstained)"
        scores: dict[Dimension, DimensionScore] = {}
        for dimension in Dimension:
            values = [v.score(dimension) for _, v in voted]
            median = float(statistics.median(values))
            each = ", ".join(f"{name} {v.score(dimension)}" for name, v in voted)
            evidence = sorted({i for _, v in voted for i in v.scores[dimension].evidence_turns})
            scores[dimension] = DimensionScore(
                score=round_half_up(median), rationale=f"{panel_note}; median {median:g} of: {each}.",
                evidence_turns=evidence, fraction=(median - 1) / 4)
        criteria = majority_criteria([v for _, v in voted], scenario)
        flags = list(dict.fromkeys(f for _, v in voted for f in v.flags))
        if abstained:
            flags.append(PARTIAL_PANEL)
        panel = [JudgeVote(judge=b.judge.name, error=b.error) if b.verdict is None else
                 JudgeVote(judge=b.judge.name, scores={d: b.verdict.score(d) for d in Dimension},
                           criteria={c.id: c.met for c in b.verdict.criteria})
                 for b in ballots]
        return Verdict(judge=self.name, scores=scores, criteria=criteria,
                       rubric_score=healthbench_score(criteria),
                       flags=flags, panel=panel, panel_size=len(voted))


def majority_criteria(verdicts: Sequence[Verdict], scenario: Scenario) -> list[CriterionResult]:
    """Each rubric criterion met when a strict majority of the verdicts that graded it say so.

    Criteria are in the scenario's order; one that no verdict graded is left out."""
    results = []
    for criterion in scenario.rubric:
        graded = [c for v in verdicts for c in v.criteria if c.id == criterion.id]
        if not graded:
            continue
        met = [c for c in graded if c.met]
        results.append(CriterionResult(
            id=criterion.id, dimension=criterion.dimension, points=criterion.points,
            met=2 * len(met) > len(graded),
            evidence_turns=sorted({i for c in met for i in c.evidence_turns})))
    return results


def panel_agreement(verdicts: Sequence[Verdict]) -> dict[Dimension, float | None]:
    """Krippendorff's alpha (ordinal) per dimension over jury verdicts.

    The ratings matrix has shape ``(raters, units)``: one row per judge named in any panel (in
    order of first appearance), one column per verdict with a panel; an abstention or a judge absent
    from a panel is NaN. Verdicts without a panel are ignored; alpha is ``None`` when it is undefined
    (fewer than two ratings in every unit, or no variation at all)."""
    panels = [v.panel for v in verdicts if v.panel]
    raters = list(dict.fromkeys(vote.judge for panel in panels for vote in panel))
    out: dict[Dimension, float | None] = {}
    for dimension in Dimension:
        ratings = np.full((len(raters), len(panels)), np.nan)
        for unit, panel in enumerate(panels):
            for vote in panel:
                if vote.error is None and dimension in vote.scores:
                    ratings[raters.index(vote.judge), unit] = vote.scores[dimension]
        out[dimension] = krippendorff_alpha(ratings, level="ordinal")
    return out
