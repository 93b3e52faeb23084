"""What a match is (``MatchSpec``, with an id derived from what it plays) and what it produced
(``MatchRecord``)."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Literal

from pydantic import Field

from arena.judging.pairwise import PairwiseVerdict
from arena.schemas.base import Record
from arena.schemas.calls import UsageSummary
from arena.schemas.scenario import Mode

Outcome = Literal["A", "B", "tie", "error"]
ErrorKind = Literal["infrastructure", "judge"]


class MatchSpec(Record):
    """Two targets on one scenario, mode and simulator seed; ``model_a`` is shown first."""

    model_a: str
    model_b: str
    scenario_id: str
    mode: Mode
    seed: int = Field(ge=0)

    @property
    def id(self) -> str:
        """``m-`` and 16 hex digits of sha256 over (model_a, model_b, scenario, mode, seed): the same
        match gets the same id in every run, so a resumed run knows what it has played."""
        key = json.dumps([self.model_a, self.model_b, self.scenario_id, self.mode.value, self.seed],
                         ensure_ascii=True, separators=(",", ":"))
        return "m-" + hashlib.sha256(key.encode()).hexdigest()[:16]

    @property
    def pair(self) -> tuple[str, str]:
        """The two models, sorted (the pair regardless of order)."""
        a, b = sorted((self.model_a, self.model_b))
        return a, b

    @property
    def slot(self) -> tuple[str, str, int]:
        """Where it is played: (scenario, mode, seed)."""
        return self.scenario_id, self.mode.value, self.seed


class Style(Record):
    """Per-answer style measures of one encounter's target text (for style control)."""

    chars: int = 0
    headers: int = 0
    list_items: int = 0
    bold: int = 0


class MatchRecord(Record):
    """One finished match. ``outcome`` ``error`` (with ``error_kind``) is excluded from ratings."""

    id: str
    spec: MatchSpec
    round: int = Field(default=0, ge=0, description="Scheduler round (batch) it was scheduled in")
    outcome: Outcome
    error_kind: ErrorKind | None = None
    error: str | None = None
    method: Literal["pairwise-swapped", "from-absolute"] | None = Field(
        default=None, description="How A/B/tie was decided: the pairwise judge asked in both orders, or the "
        "two absolute verdicts' overall means")
    encounter_a: str
    encounter_b: str
    transcript_a: str = Field(description="Transcript file of A, relative to the run folder")
    transcript_b: str
    overall_a: float | None = None
    overall_b: float | None = None
    style_a: Style = Field(default_factory=Style)
    style_b: Style = Field(default_factory=Style)
    pairwise: PairwiseVerdict | None = None
    usage: UsageSummary = Field(default_factory=UsageSummary, description="Pairwise judge calls of this match")
    finished_at: datetime

    @property
    def rated(self) -> bool:
        return self.outcome != "error"

    @property
    def score_a(self) -> float:
        """1 A won, 0.5 tie, 0 B won (for rated matches)."""
        return {"A": 1.0, "tie": 0.5, "B": 0.0}[self.outcome]
