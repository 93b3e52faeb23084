"""arena.stats: agreement (kappa, Spearman, alpha, isotonic maps) and closing-differential calibration,
checked against values computed by hand (the arithmetic is in the comments)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pydantic import ValidationError

from arena.schemas.scenario import Dimension
from arena.schemas.verdict import ClosingDifferential, DifferentialEntry
from arena.stats.agreement import (
    CalibrationMaps,
    IsotonicMap,
    fit_isotonic,
    krippendorff_alpha,
    mean_ratings,
    pair_agreement,
    to_scale,
)
from arena.stats.calibration import (
    CalibrationCase,
    bin_index,
    brier_score,
    calibration_by_model,
    calibration_summary,
    case_from_differential,
    expected_calibration_error,
    log_loss,
    overconfidence,
)

NAN = np.nan

# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C: 4 observers x 12
# units with missing values. Published: nominal 0.743, ordinal 0.815, interval 0.849, ratio 0.797.
KRIPPENDORFF_2011 = np.array([
    [1, 2, 3, 3, 2, 1, 4, 1, 2, NAN, NAN, NAN],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, NAN, 3],
    [NAN, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, NAN],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, NAN],
])


@pytest.mark.parametrize(("level", "published"),
                         [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849), ("ratio", 0.797)])
def test_alpha_matches_krippendorffs_published_example(level: str, published: float) -> None:
    alpha = krippendorff_alpha(KRIPPENDORFF_2011, level)
    assert alpha is not None and abs(alpha - published) < 5e-4


def test_alpha_small_nominal_by_hand() -> None:
    # Values 1,1 | 2,2 | 3,4: n = 6 pairable values, counts n_1=2, n_2=2, n_3=1, n_4=1.
    # Disagreeing coincidences: (3,4) and (4,3), 1 each. alpha = 1 - (n-1) * 2 / sum_{c!=k} n_c n_k
    # with sum_{c!=k} n_c n_k = n^2 - sum n_c^2 = 36 - 10 = 26: alpha = 1 - 5*2/26 = 16/26.
    alpha = krippendorff_alpha(np.array([[1, 2, 3], [1, 2, 4]], dtype=float), "nominal")
    assert alpha == pytest.approx(16 / 26)


@pytest.mark.parametrize("ratings", [
    np.array([[1, 2, 3]], dtype=float),  # one rater
    np.array([[1, NAN], [NAN, 2]]),  # no unit rated twice
    np.array([[3, 3, NAN], [3, 3, 3]], dtype=float),  # no variance
])
def test_alpha_undefined_is_none(ratings: np.ndarray) -> None:
    assert krippendorff_alpha(ratings) is None


def test_alpha_refuses_unknown_level() -> None:
    with pytest.raises(ValueError, match="level must be one of"):
        krippendorff_alpha(KRIPPENDORFF_2011, "cardinal")


def test_pair_agreement_by_hand() -> None:
    # a = 1 2 3 4 5, b = 1 2 3 5 4. Quadratic weights (i-j)^2 (the 1/16 scale cancels).
    # Observed: sum w*O = 1 + 1 = 2. Every label once per rater: E_ij = 1*1/5, sum_ij (i-j)^2 over
    # 1..5 = 2*(4*1 + 3*4 + 2*9 + 1*16) = 100, so sum w*E = 20 and kappa = 1 - 2/20 = 0.9.
    # Spearman: d = 0 0 0 -1 1, rho = 1 - 6*2/(5*24) = 0.9. Exact 3/5, within one 5/5.
    g = pair_agreement([1, 2, 3, 4, 5], [1, 2, 3, 5, 4])
    assert g.n == 5
    assert g.kappa == pytest.approx(0.9) and g.spearman == pytest.approx(0.9)
    assert g.exact == pytest.approx(0.6) and g.within_one == 1.0


def test_pair_agreement_uneven_marginals_by_hand() -> None:
    # a = 5 4 2 1, b = 5 3 2 2 (alice and bob of the CLI fixture). sum w*O = (4-3)^2 + (1-2)^2 = 2.
    # Marginals a: 1,2,4,5 once each; b: 2 twice, 3 once, 5 once. sum_i sum_j r_i c_j (i-j)^2 =
    # i=1: 2*1+4+16=22, i=2: 0+1+9=10, i=4: 2*4+1+1=10, i=5: 2*9+4+0=22 -> 64; /n=4 -> 16.
    # kappa = 1 - 2/16 = 0.875. Spearman of ranks (4,3,2,1) vs (4,3,1.5,1.5): cov 4.5, var 5 and 4.5,
    # rho = 4.5/sqrt(22.5) = sqrt(0.9).
    g = pair_agreement([5, 4, 2, 1], [5, 3, 2, 2])
    assert g.kappa == pytest.approx(0.875)
    assert g.spearman == pytest.approx(math.sqrt(0.9))
    assert g.exact == 0.5 and g.within_one == 1.0


def test_pair_agreement_undefined_values_are_none() -> None:
    both_constant = pair_agreement([3, 3, 3], [3, 3, 3])
    assert both_constant.kappa is None and both_constant.spearman is None and both_constant.exact == 1.0
    # One constant rater: sum w*O = 1 + 0 + 1 = 2; E row 3 = 1, 1, 1 at columns 2, 3, 4, sum w*E = 2:
    # kappa = 1 - 2/2 = 0 (defined), Spearman undefined.
    one_constant = pair_agreement([3, 3, 3], [2, 3, 4])
    assert one_constant.kappa == pytest.approx(0.0) and one_constant.spearman is None
    single = pair_agreement([1, NAN, 3], [1, 2, NAN])  # one shared unit
    assert single.n == 1 and single.kappa is None and single.spearman is None and single.exact == 1.0
    empty = pair_agreement([NAN], [2])
    assert empty.n == 0 and empty.exact is None and empty.within_one is None
    dumped = one_constant.model_dump_json()
    assert "NaN" not in dumped and '"spearman":null' in dumped


def test_fractional_scores_round_half_up_for_kappa_only() -> None:
    assert to_scale([3.5, 2.49, 0.2, 7]).tolist() == [4, 2, 1, 5]
    # 3.5 -> 4 and 2.0 -> 2: both exact; Spearman on the unrounded values (same order): 1.
    g = pair_agreement([4, 2], [3.5, 2.0])
    assert g.exact == 1.0 and g.spearman == pytest.approx(1.0)


def test_mean_ratings_ignores_missing() -> None:
    means = mean_ratings(np.array([[5, 4, NAN], [3, NAN, NAN]]))
    # (5+3)/2 = 4, 4/1 = 4, nobody rated the third unit.
    assert means[:2].tolist() == [4.0, 4.0] and math.isnan(means[2])


def test_isotonic_fit_pools_violators_and_is_monotone() -> None:
    # Pool adjacent violators on y = 2 1 3 5 4 at x = 1..5: (2,1) -> 1.5, 3, (5,4) -> 4.5.
    fitted = fit_isotonic([1, 2, 3, 4, 5], [2, 1, 3, 5, 4])
    assert fitted.apply([1, 2, 3, 4, 5]).tolist() == pytest.approx([1.5, 1.5, 3.0, 4.5, 4.5])
    # Between thresholds x=2 (1.5) and x=3 (3): linear, 2.5 -> 2.25; outside: the end values.
    assert fitted.apply([2.5, 0.0, 9.0]).tolist() == pytest.approx([2.25, 1.5, 4.5])
    grid = np.linspace(0, 6, 121)
    assert np.all(np.diff(fitted.apply(grid)) >= 0)
    assert fitted.n_pairs == 5


def test_isotonic_apply_matches_sklearn_predict() -> None:
    from sklearn.isotonic import IsotonicRegression

    x, y = [1, 1, 2, 3, 3, 4, 5, 5], [2, 3, 1, 4, 3, 3, 5, 4.5]
    model = IsotonicRegression(y_min=1, y_max=5, out_of_bounds="clip").fit(x, y)
    grid = np.linspace(0, 6, 61)
    assert fit_isotonic(x, y).apply(grid) == pytest.approx(model.predict(grid))


def test_calibration_maps_round_trip_through_json() -> None:
    fitted = fit_isotonic([1, 2, 3, 4], [1, 3, 2, 5])
    maps = CalibrationMaps(maps={"judge/a": {Dimension.SAFETY: fitted}})
    again = CalibrationMaps.model_validate_json(maps.model_dump_json())
    assert again == maps
    scores = [1, 2.5, 4]
    applied = again.apply("judge/a", Dimension.SAFETY, scores)
    assert applied is not None and applied.tolist() == fitted.apply(scores).tolist()
    assert again.apply("judge/a", Dimension.ACCURACY, [3]) is None
    assert again.apply("nobody", Dimension.SAFETY, [3]) is None


@pytest.mark.parametrize(("xs", "ys", "needle"), [
    ([1, 1], [1, 2], "strictly increasing"),
    ([1, 2], [3, 2], "non-decreasing"),
    ([1, 2], [1, 6], "lie in 1..5"),
    ([1, 2], [1], "differ in length"),
])
def test_isotonic_map_refuses_bad_thresholds(xs: list[float], ys: list[float], needle: str) -> None:
    with pytest.raises(ValidationError, match=needle):
        IsotonicMap(x_thresholds=xs, y_thresholds=ys, n_pairs=2)


# Closing differentials. A: 0.6 0.3 (+0.1 remainder), truth 0. B: 0.2 0.5 0.3, truth 2.
# C: 0.9 (+0.1), truth 0. D: 0.8 0.1 (+0.1), truth 1.
A = CalibrationCase(probabilities=[0.6, 0.3], truth=0)
B = CalibrationCase(probabilities=[0.2, 0.5, 0.3], truth=2)
C = CalibrationCase(probabilities=[0.9], truth=0)
D = CalibrationCase(probabilities=[0.8, 0.1], truth=1)
CASES = [A, B, C, D]


def test_brier_by_hand_with_remainder_and_varying_k() -> None:
    # A: 0.4^2 + 0.3^2 + 0.1^2 = 0.26; B: 0.2^2 + 0.5^2 + 0.7^2 = 0.78 (remainder 0);
    # C: 0.1^2 + 0.1^2 = 0.02; D: 0.8^2 + 0.9^2 + 0.1^2 = 1.46. Mean 2.52/4 = 0.63.
    assert brier_score(CASES) == pytest.approx(0.63)
    assert brier_score([C]) == pytest.approx(0.02)  # a single candidate everywhere


def test_log_loss_by_hand_and_clipping() -> None:
    # -(ln 0.6 + ln 0.3 + ln 0.9 + ln 0.1)/4 = (0.510826 + 1.203973 + 0.105361 + 2.302585)/4 = 1.030686
    assert log_loss(CASES) == pytest.approx(1.030686, abs=1e-6)
    # p_true = 0 is clipped to 1e-6: -ln(1e-6) = 13.815511
    assert log_loss([CalibrationCase(probabilities=[1.0, 0.0], truth=1)]) == pytest.approx(13.815511, abs=1e-6)


def test_log_loss_agrees_with_sklearn_without_clipping() -> None:
    from sklearn.metrics import log_loss as sk_log_loss

    h = CalibrationCase(probabilities=[0.7, 0.2, 0.1], truth=0)
    expected = sk_log_loss([2, 0], [[0.2, 0.5, 0.3], [0.7, 0.2, 0.1]], labels=[0, 1, 2])
    assert log_loss([B, h]) == pytest.approx(expected)
    assert expected == pytest.approx(-(math.log(0.3) + math.log(0.7)) / 2)


def test_ece_and_overconfidence_by_hand() -> None:
    # Top-1: A 0.6 right, B 0.5 wrong (candidate 1), C 0.9 right, D 0.8 wrong; four different bins.
    # ECE = (|1-0.6| + |0-0.5| + |1-0.9| + |0-0.8|)/4 = 1.8/4 = 0.45.
    assert expected_calibration_error(CASES) == pytest.approx(0.45)
    # Overconfidence = (0.6+0.5+0.9+0.8)/4 - 2/4 = 0.7 - 0.5 = 0.2.
    assert overconfidence(CASES) == pytest.approx(0.2)


def test_ece_shares_bins_and_splits_ties() -> None:
    e = CalibrationCase(probabilities=[0.82, 0.18], truth=0)  # bin 8, right
    f = CalibrationCase(probabilities=[0.88, 0.12], truth=1)  # bin 8, wrong
    g = CalibrationCase(probabilities=[0.3, 0.3], truth=0)  # bin 3 (0.3 opens it), tie of 2: 1/2 right
    # bin 8: n=2, accuracy 0.5, confidence 0.85 -> 2/3 * 0.35; bin 3: 1/3 * |0.5 - 0.3| -> total 0.3
    assert expected_calibration_error([e, f, g]) == pytest.approx(2 / 3 * 0.35 + 1 / 3 * 0.2)
    assert bin_index(np.array([0.0, 0.1, 0.3, 0.999, 1.0])).tolist() == [0, 1, 3, 9, 9]
    # Overconfidence: (0.82+0.88+0.3)/3 - (1+0+0.5)/3 = (2.0 - 1.5)/3
    assert overconfidence([e, f, g]) == pytest.approx(0.5 / 3)


def test_summary_counts_unparseable_and_never_guesses() -> None:
    summary = calibration_summary([A, None, B])
    assert summary.n == 2 and summary.n_unparseable == 1
    assert summary.brier == pytest.approx((0.26 + 0.78) / 2)
    empty = calibration_summary([None, None])
    assert empty.n == 0 and empty.n_unparseable == 2 and empty.brier is None and empty.ece is None


def test_case_refuses_probabilities_over_one() -> None:
    with pytest.raises(ValidationError, match="over 1"):
        CalibrationCase(probabilities=[0.7, 0.5], truth=0)
    with pytest.raises(ValidationError, match="not an index"):
        CalibrationCase(probabilities=[0.7], truth=1)


def _diff(status: str, *entries: tuple[str, float, bool]) -> ClosingDifferential:
    return ClosingDifferential(status=status,  # type: ignore[arg-type]
                               entries=[DifferentialEntry(name=n, probability=p, known=k) for n, p, k in entries])


CANDIDATES = ["melanoma", "Benign  Naevus", "seborrhoeic keratosis"]


def test_case_from_differential_maps_names_and_keeps_the_remainder() -> None:
    diff = _diff("parsed", ("Melanoma", 0.6, True), ("benign naevus", 0.3, True), ("a cyst", 0.05, False))
    case = case_from_differential(diff, CANDIDATES, "melanoma")
    assert case is not None and case.probabilities == [0.6, 0.3, 0.0] and case.truth == 0
    assert case.with_remainder()[-1] == pytest.approx(0.1)  # 0.05 unknown + 0.05 unassigned


def test_case_from_differential_unusable_is_none() -> None:
    assert case_from_differential(None, CANDIDATES, "melanoma") is None
    assert case_from_differential(_diff("absent"), CANDIDATES, "melanoma") is None
    assert case_from_differential(_diff("unparseable"), CANDIDATES, "melanoma") is None
    over = _diff("parsed", ("melanoma", 0.8, True), ("a cyst", 0.4, False))
    assert case_from_differential(over, CANDIDATES, "melanoma") is None
    with pytest.raises(ValueError, match="not one of the candidates"):
        case_from_differential(None, CANDIDATES, "lipoma")


def test_calibration_by_model() -> None:
    right = _diff("parsed", ("melanoma", 0.9, True))
    rows = [("m/a", right, CANDIDATES, "melanoma"), ("m/b", None, CANDIDATES, "melanoma"),
            ("m/a", _diff("absent"), CANDIDATES, "melanoma")]
    result = calibration_by_model(rows)
    assert list(result) == ["m/a", "m/b"]
    # m/a: one case, 0.9 on the truth, 0.1 remainder: Brier 0.1^2 + 0.1^2 = 0.02; top-1 right at 0.9.
    assert result["m/a"].n == 1 and result["m/a"].n_unparseable == 1
    assert result["m/a"].brier == pytest.approx(0.02) and result["m/a"].overconfidence == pytest.approx(-0.1)
    assert result["m/b"].n == 0 and result["m/b"].log_loss is None
