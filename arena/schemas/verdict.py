"""The judge's verdict on one transcript: five dimensions scored 1-5 with rationale and evidence."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from arena.schemas.base import Record
from arena.schemas.scenario import Dimension

VERDICT_SCHEMA_VERSION = 1


class DimensionScore(Record):
    score: int = Field(ge=1, le=5, description="1 (poor) .. 5 (excellent)")
    rationale: str = Field(min_length=1)
    evidence_turns: list[int] = Field(default_factory=list, description="Transcript turn indexes")
    fraction: float | None = Field(
        default=None, ge=0, le=1, description="Underlying 0..1 score before rounding, if any"
    )


class CriterionResult(Record):
    id: str
    dimension: Dimension
    points: int
    met: bool
    evidence_turns: list[int] = Field(default_factory=list)


class Verdict(Record):
    schema_version: Literal[1] = 1
    judge: str
    scores: dict[Dimension, DimensionScore]
    criteria: list[CriterionResult] = Field(default_factory=list)
    rubric_score: float | None = Field(
        default=None, ge=0, le=1, description="HealthBench-style: met points / positive points"
    )

    @model_validator(mode="after")
    def _all_dimensions(self) -> Verdict:
        missing = [d.value for d in Dimension if d not in self.scores]
        if missing:
            raise ValueError(f"verdict lacks dimensions: {', '.join(missing)}")
        return self

    def score(self, dimension: Dimension) -> int:
        return self.scores[dimension].score

    @property
    def overall(self) -> float:
        return sum(s.score for s in self.scores.values()) / len(self.scores)
