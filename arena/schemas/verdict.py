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


class JudgeVote(Record):
    """One panel member's grades inside a jury verdict; ``error`` set means it abstained."""

    judge: str
    scores: dict[Dimension, int] = Field(default_factory=dict, description="1-5 per dimension; empty if abstained")
    criteria: dict[str, bool] = Field(default_factory=dict, description="Rubric criterion id -> met")
    error: str | None = Field(default=None, description="Why this judge abstained (no valid verdict)")


class DifferentialEntry(Record):
    name: str = Field(description="A candidate of the case (normalised name) or the text as written")
    probability: float = Field(ge=0, le=1)
    known: bool = Field(description="True when the name is one of the case's candidates")


class ClosingDifferential(Record):
    """The probabilities the target put on each diagnosis in its closing answer, as read."""

    status: Literal["parsed", "absent", "unparseable"] = Field(
        description="parsed: at least one probability tied to a diagnosis; absent: no probabilities "
                    "given; unparseable: numbers present that could not be tied to diagnoses or do not add up")
    entries: list[DifferentialEntry] = Field(default_factory=list)
    turn: int | None = Field(default=None, description="The target turn read")
    note: str = ""


class Verdict(Record):
    schema_version: Literal[1] = 1
    judge: str
    scores: dict[Dimension, DimensionScore]
    criteria: list[CriterionResult] = Field(default_factory=list)
    rubric_score: float | None = Field(
        default=None, ge=0, le=1, description="HealthBench-style: met points / positive points"
    )
    flags: list[str] = Field(default_factory=list, description="Caveats about the grading, e.g. "
                             "'coverage_uncertain' when the answer may say in other words what the phrase lists miss")
    panel: list[JudgeVote] = Field(default_factory=list, description="A jury's members, abstentions included")
    panel_size: int | None = Field(default=None, description="Judges that gave a valid verdict (jury only)")

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
