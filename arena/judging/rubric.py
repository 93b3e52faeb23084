"""HealthBench-style rubric score: one definition for every judge (offline, model, jury)."""

from __future__ import annotations

from collections.abc import Iterable

from arena.schemas.verdict import CriterionResult


def healthbench_score(results: Iterable[CriterionResult]) -> float | None:
    """Sum of the points of the met criteria (negative points included) over the sum of the
    positive points, clipped to [0, 1]; ``None`` when no criterion has positive points."""
    listed = list(results)
    positive = sum(c.points for c in listed if c.points > 0)
    if positive <= 0:
        return None
    achieved = sum(c.points for c in listed if c.met)
    return max(0.0, min(1.0, achieved / positive))
