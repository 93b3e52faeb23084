"""Objective calibration of closing differentials: did the probabilities a target gave come true?

Pure functions, no I/O. One :class:`CalibrationCase` per encounter: the probabilities the target
put on the case's k candidate diagnoses (k varies per case) and the index of the true one. Mass not
put on any candidate (``1 - sum``, the *remainder*: "something else", or names that are not
candidates) is kept as its own class that is never true.

* :func:`brier_score`: multi-class Brier score, mean over cases of ``sum_j (p_j - y_j)^2`` over the
  candidates and the remainder (sklearn ``brier_score_loss``, unscaled).
* :func:`log_loss`: mean of ``-ln(max(p_true, eps))``, eps = 1e-6.
* :func:`expected_calibration_error`, :func:`overconfidence`: over the top-1 prediction.
* :func:`calibration_summary`, :func:`case_from_differential`, :func:`calibration_by_model`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, model_validator

from arena.schemas.verdict import ClosingDifferential

EPS = 1e-6  # log loss: probabilities of the true candidate are clipped to [EPS, 1]
N_BINS = 10  # ECE: equal-width confidence bins over [0, 1]
SUM_TOLERANCE = 1e-6  # a case's probabilities may add up to at most 1 + this (rounding in the text)


class CalibrationCase(BaseModel):
    """One encounter's closing differential over its candidates, and which candidate was true."""

    model_config = ConfigDict(allow_inf_nan=False, frozen=True)

    probabilities: list[float] = Field(min_length=1, description="Probability per candidate, in the case's order")
    truth: int = Field(ge=0, description="Index of the true candidate in probabilities")

    @model_validator(mode="after")
    def _valid(self) -> CalibrationCase:
        if self.truth >= len(self.probabilities):
            raise ValueError(f"truth {self.truth} is not an index of {len(self.probabilities)} candidates")
        if any(not 0.0 <= p <= 1.0 for p in self.probabilities):
            raise ValueError("probabilities must lie in 0..1")
        if sum(self.probabilities) > 1.0 + SUM_TOLERANCE:
            raise ValueError(f"probabilities add up to {sum(self.probabilities):.6g}, over 1")
        return self

    def with_remainder(self) -> NDArray[np.float64]:
        """Shape (k + 1,): the candidates' probabilities (scaled down to sum 1 if rounding took them
        just over) followed by the remainder ``1 - sum``."""
        p = np.asarray(self.probabilities, dtype=float)
        total = float(p.sum())
        if total > 1.0:
            return np.append(p / total, 0.0)
        return np.append(p, 1.0 - total)


class CalibrationSummary(BaseModel):
    """Calibration of one model's closing differentials; metrics are None when no case was scored."""

    model_config = ConfigDict(allow_inf_nan=False, frozen=True)

    n: int = Field(ge=0, description="Cases scored (differential parsed)")
    n_unparseable: int = Field(ge=0, description="Cases without a usable differential: counted, not guessed")
    brier: float | None = Field(description="Multi-class Brier score, 0 (perfect) .. 2")
    log_loss: float | None = Field(description="Mean -ln p(true candidate), clipped at 1e-6")
    ece: float | None = Field(description="Expected calibration error of the top-1 prediction, 10 bins")
    overconfidence: float | None = Field(description="Mean top-1 confidence minus top-1 accuracy")


def _padded(cases: Sequence[CalibrationCase]) -> tuple[NDArray[np.float64], NDArray[np.int_]]:
    """Shape (cases, k_max + 2) probabilities and (cases,) true labels: the candidates in the first
    columns, zeros for absent candidates, the remainder in the last column. One more column than
    needed keeps sklearn on its multi-class path even when every case has a single candidate."""
    width = max(len(c.probabilities) for c in cases) + 2
    matrix = np.zeros((len(cases), width))
    for row, case in enumerate(cases):
        full = case.with_remainder()
        matrix[row, : len(full) - 1] = full[:-1]
        matrix[row, -1] = full[-1]
    return matrix, np.array([c.truth for c in cases], dtype=int)


def brier_score(cases: Sequence[CalibrationCase]) -> float:
    """Mean over cases of ``sum_j (p_j - y_j)^2`` over the k candidates and the remainder (y = 0).

    Candidates absent from a case are padded with p = y = 0, which adds nothing, so cases of
    different k share one ``sklearn.metrics.brier_score_loss`` call (``scale_by_half=False``: the
    original Brier score, 0 .. 2). cases: at least one.
    """
    from sklearn.metrics import brier_score_loss

    matrix, truth = _padded(cases)
    return float(brier_score_loss(truth, matrix, labels=list(range(matrix.shape[1])), scale_by_half=False))


def log_loss(cases: Sequence[CalibrationCase], eps: float = EPS) -> float:
    """Mean over cases of ``-ln(clip(p_true, eps, 1))``.

    Computed with numpy rather than ``sklearn.metrics.log_loss``: sklearn has no ``eps`` parameter
    any more (it clips at the float epsilon, ~2e-16, so one true candidate given 0 would cost 36
    nats instead of 13.8) and needs one label set for all cases, while k varies here. Without
    clipping the two agree (a test checks it). cases: at least one.
    """
    p_true = np.array([c.probabilities[c.truth] for c in cases], dtype=float)
    return float(-np.mean(np.log(np.clip(p_true, eps, 1.0))))


def top1(cases: Sequence[CalibrationCase]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Per case, shape (cases,) each: the top-1 confidence (the highest candidate probability; the
    remainder is not a prediction) and its correctness. When t candidates tie at the top and the
    true one is among them, correctness is 1/t (the expected accuracy of picking one at random),
    so the order in which candidates are listed never matters."""
    confidence = np.empty(len(cases))
    correct = np.empty(len(cases))
    for i, case in enumerate(cases):
        p = np.asarray(case.probabilities, dtype=float)
        top = float(p.max())
        tied = p == top
        confidence[i] = top
        correct[i] = 1.0 / int(tied.sum()) if tied[case.truth] else 0.0
    return confidence, correct


def bin_index(confidence: NDArray[np.float64], n_bins: int = N_BINS) -> NDArray[np.int_]:
    """Bin of each confidence, shape preserved: bin b holds [b/n, (b+1)/n), the last bin also 1.0.
    Inner edges are b/n computed exactly (0.3 is in the bin [0.3, 0.4))."""
    edges = np.arange(1, n_bins) / n_bins
    return np.digitize(confidence, edges, right=False)


def expected_calibration_error(cases: Sequence[CalibrationCase], n_bins: int = N_BINS) -> float:
    """``sum_b (n_b / N) |accuracy_b - confidence_b|`` over non-empty equal-width bins of the top-1
    confidence (:func:`top1`, :func:`bin_index`; per-bin sums with ``np.bincount``). cases: at least one."""
    confidence, correct = top1(cases)
    bins = bin_index(confidence, n_bins)
    counts = np.bincount(bins, minlength=n_bins).astype(float)
    conf_sum = np.bincount(bins, weights=confidence, minlength=n_bins)
    acc_sum = np.bincount(bins, weights=correct, minlength=n_bins)
    # sum_b (n_b/N) |acc_sum_b/n_b - conf_sum_b/n_b| = sum_b |acc_sum_b - conf_sum_b| / N; empty bins add 0
    return float(np.abs(acc_sum - conf_sum).sum() / counts.sum())


def overconfidence(cases: Sequence[CalibrationCase]) -> float:
    """Mean top-1 confidence minus top-1 accuracy: > 0 overconfident, < 0 underconfident."""
    confidence, correct = top1(cases)
    return float(confidence.mean() - correct.mean())


def calibration_summary(cases: Sequence[CalibrationCase | None]) -> CalibrationSummary:
    """Every metric over the cases given; ``None`` entries (no usable differential) are counted in
    ``n_unparseable`` and left out of every metric, never guessed."""
    scored = [c for c in cases if c is not None]
    missing = len(cases) - len(scored)
    if not scored:
        return CalibrationSummary(n=0, n_unparseable=missing, brier=None, log_loss=None, ece=None,
                                  overconfidence=None)
    return CalibrationSummary(n=len(scored), n_unparseable=missing, brier=brier_score(scored),
                              log_loss=log_loss(scored), ece=expected_calibration_error(scored),
                              overconfidence=overconfidence(scored))


def _key(name: str) -> str:
    return " ".join(name.casefold().split())


def case_from_differential(diff: ClosingDifferential | None, candidates: list[str],
                           truth: str) -> CalibrationCase | None:
    """The case a closing differential makes over ``candidates`` (names matched ignoring case and
    spacing), or None when there is no usable differential (missing, ``absent``, ``unparseable``,
    or probabilities that add up to more than 1): such a case counts as unparseable.

    Entries that are not candidates (``known`` false or a name not in ``candidates``) are mass on
    no candidate: the remainder. Several entries for one candidate add up. ``truth`` must be one of
    ``candidates`` (ValueError otherwise: the caller's case data is wrong, not the model).
    """
    index: dict[str, int] = {}
    for i, name in enumerate(candidates):
        index.setdefault(_key(name), i)
    if _key(truth) not in index:
        raise ValueError(f"the true diagnosis {truth!r} is not one of the candidates")
    if diff is None or diff.status != "parsed":
        return None
    probabilities = [0.0] * len(candidates)
    total = 0.0
    for entry in diff.entries:
        total += entry.probability
        slot = index.get(_key(entry.name)) if entry.known else None
        if slot is not None:
            probabilities[slot] += entry.probability
    if total > 1.0 + SUM_TOLERANCE:
        return None
    return CalibrationCase(probabilities=[min(p, 1.0) for p in probabilities], truth=index[_key(truth)])


def calibration_by_model(
    rows: Sequence[tuple[str, ClosingDifferential | None, list[str], str]],
) -> dict[str, CalibrationSummary]:
    """Per model, in order of first appearance: the summary of its cases. rows: (model, closing
    differential or None, the case's candidate names, the true name)."""
    grouped: dict[str, list[CalibrationCase | None]] = {}
    for model, diff, candidates, truth in rows:
        grouped.setdefault(model, []).append(case_from_differential(diff, candidates, truth))
    return {model: calibration_summary(cases) for model, cases in grouped.items()}
