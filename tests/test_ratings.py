"""Tests of arena.ratings: Bradley-Terry (fit, intervals, ranks, style control), Elo, comparison graph."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from arena.ratings import battles as btl
from arena.ratings import bradley_terry as bt
from arena.ratings import leaderboard as lb
from arena.ratings import style as st
from arena.ratings.elo import elo
from arena.ratings.graph import DisconnectedError, check_connected, components


def simulate(theta: np.ndarray, n: int, rng: np.random.Generator, tie_rate: float = 0.1):
    """Battles among len(theta) models: a != b uniform, P(a wins | no tie) = sigmoid(theta_a - theta_b)."""
    m = theta.size
    a = rng.integers(0, m, n)
    b = (a + rng.integers(1, m, n)) % m
    p = 1.0 / (1.0 + np.exp(-(theta[a] - theta[b])))
    u = rng.random(n)
    tie = rng.random(n) < tie_rate
    outcome = np.where(tie, 0.5, (u < p).astype(float))
    return a, b, outcome


def true_ratings(theta: np.ndarray) -> np.ndarray:
    return bt.to_ratings(theta)


def test_modules_import_alone_without_agents():
    for mod in ("arena.ratings", "arena.ratings.battles", "arena.ratings.bradley_terry", "arena.ratings.leaderboard",
                "arena.ratings.style", "arena.ratings.elo", "arena.ratings.graph"):
        code = (f"import sys, {mod}; bad = [k for k in sys.modules if k == 'agents' or k.startswith('agents.')]; "
                "assert not bad, bad")
        subprocess.run([sys.executable, "-c", code], check=True)


def test_encode_maps_names_to_sorted_indices():
    models, a, b = btl.encode(["x", "y", "x", "z"], ["y", "z", "w", "x"])
    assert models == ["w", "x", "y", "z"]
    assert a.tolist() == [1, 2, 1, 3]
    assert b.tolist() == [2, 3, 0, 1]
    models2, a2, b2 = btl.encode(np.array(["x", "y", "x", "z"]), np.array(["y", "z", "w", "x"]))
    assert models2 == models and a2.tolist() == a.tolist() and b2.tolist() == b.tolist()
    with pytest.raises(ValueError):
        btl.encode(["x"], ["y", "z"])


def test_recovery_and_bootstrap_coverage():
    rng = np.random.default_rng(20240601)
    covered, total = 0, 0
    for sim in range(20):
        theta = rng.normal(0.0, 1.0, 10)
        a, b, o = simulate(theta, 20_000, rng, tie_rate=0.0)  # ties would compress the truth
        battles = btl.dedupe(a, b, o, n_models=10)
        iv = bt.bootstrap(battles, rounds=1000, seed=sim)
        truth = true_ratings(theta)
        assert np.corrcoef(iv.rating, truth)[0, 1] > 0.99
        assert abs(iv.rating.mean() - 1000.0) < 1e-6
        covered += int(np.sum((iv.low <= truth) & (truth <= iv.high)))
        total += truth.size
    coverage = covered / total
    assert 0.85 <= coverage <= 1.0, coverage


def test_agrees_with_sklearn_logistic_regression():
    rng = np.random.default_rng(7)
    m = 8
    theta = rng.normal(0.0, 0.8, m)
    a, b, o = simulate(theta, 4000, rng, tie_rate=0.2)
    ours = bt.fit(btl.dedupe(a, b, o, n_models=m))
    # reference: +1/-1 design, no intercept, a tie as two half-weight rows (a wins, b wins)
    x = np.zeros((a.size, m))
    x[np.arange(a.size), a] = 1.0
    x[np.arange(a.size), b] = -1.0
    tie = o == 0.5
    xs = np.vstack([x, x[tie]])
    ys = np.concatenate([np.where(tie, 1.0, o), np.zeros(int(tie.sum()))])
    ws = np.concatenate([np.where(tie, 0.5, 1.0), np.full(int(tie.sum()), 0.5)])
    lr = LogisticRegression(fit_intercept=False, C=1.0 / btl.L2, tol=1e-12, max_iter=10_000)
    lr.fit(xs, ys.astype(int), sample_weight=ws)
    coef = lr.coef_[0]
    ref = 1000.0 + 400.0 / math.log(10.0) * (coef - coef.mean())
    assert np.abs(ours - ref).max() < 0.5
    # and L-BFGS agrees with Newton
    assert np.abs(bt.fit(btl.dedupe(a, b, o, n_models=m), method="lbfgs") - ours).max() < 0.01


def test_ties_count_half():
    # A vs B: one win for A and one tie -> A scores 1.5 of 2 -> P = 0.75 -> gap = 400 log10(3)
    r = bt.fit(btl.dedupe([0, 0], [1, 1], [1.0, 0.5]))
    assert r[0] - r[1] == pytest.approx(400 * math.log10(3), abs=0.01)
    assert r.mean() == pytest.approx(1000.0)
    # a tie is the same as half a win for each side
    rng = np.random.default_rng(3)
    a, b, o = simulate(rng.normal(size=5), 500, rng, tie_rate=0.3)
    tie = o == 0.5
    split_a = np.concatenate([a[~tie], a[tie], a[tie]])
    split_b = np.concatenate([b[~tie], b[tie], b[tie]])
    split_o = np.concatenate([o[~tie], np.ones(int(tie.sum())), np.zeros(int(tie.sum()))])
    split_w = np.concatenate([np.ones(int((~tie).sum())), np.full(2 * int(tie.sum()), 0.5)])
    with_ties = bt.fit(btl.dedupe(a, b, o, n_models=5))
    split = bt.fit(btl.dedupe(split_a, split_b, split_o, split_w, n_models=5))
    assert np.abs(with_ties - split).max() < 1e-6
    # and differs from counting ties as losses for a
    as_losses = bt.fit(btl.dedupe(a, b, np.where(tie, 0.0, o), n_models=5))
    assert np.abs(with_ties - as_losses).max() > 1.0


def test_dedupe_gives_same_fit_as_raw_rows():
    rng = np.random.default_rng(11)
    m = 6
    a, b, o = simulate(rng.normal(size=m), 3000, rng)
    battles = btl.dedupe(a, b, o, n_models=m)
    assert battles.a.size <= 3 * m * (m - 1) // 2 < a.size
    assert battles.n_battles == a.size
    assert np.all(battles.a < battles.b)
    ones = np.ones(a.size)
    raw = btl.Battles(n_models=m, a=a, b=b, outcome=o, count=ones, weight=ones, weight_sq=ones)
    assert np.abs(bt.fit(battles) - bt.fit(raw)).max() < 1e-6
    assert np.abs(bt.fit(battles) - bt.fit(raw, method="lbfgs")).max() < 0.01
    with pytest.raises(ValueError):
        btl.dedupe([0], [1], [0.3])
    with pytest.raises(ValueError):
        btl.dedupe([0], [0], [1.0])


def test_unbeaten_model_is_finite_and_flagged():
    a = ["top"] * 5 + ["mid"] * 6 + ["low"] * 3
    b = ["mid"] * 5 + ["low"] * 6 + ["bottom"] * 3
    o = [1.0] * 5 + [1, 1, 1, 0, 0.5, 1] + [1.0] * 3
    rows = {row.name: row for row in lb.rate(a, b, o, rounds=200, seed=1)}
    top, bottom = rows["top"], rows["bottom"]
    assert math.isfinite(top.rating) and math.isfinite(bottom.rating)
    assert top.rating > rows["mid"].rating > rows["low"].rating > bottom.rating
    assert top.rating < 1000 + 400 * 20  # finite, not merely representable
    assert top.flags == ("unbeaten",) and bottom.flags == ("winless",)
    assert rows["mid"].flags == () and rows["low"].flags == ()
    assert (top.battles, top.wins, top.losses, top.ties) == (5, 5, 0, 0)
    assert (rows["mid"].wins, rows["mid"].losses, rows["mid"].ties) == (4, 6, 1)
    assert math.isfinite(top.ci_low) and math.isfinite(top.ci_high)


def test_disconnected_graph_is_detected():
    models = ["a", "b", "c", "d", "e"]
    a, b = [0, 1, 3], [1, 2, 4]
    assert components(models, a, b) == [["a", "b", "c"], ["d", "e"]]
    assert check_connected(models, a, b, raise_error=False) == [["a", "b", "c"], ["d", "e"]]
    with pytest.raises(DisconnectedError) as err:
        check_connected(models, a, b)
    assert err.value.components == [["a", "b", "c"], ["d", "e"]]
    assert check_connected(models, [0, 1, 2, 3], [1, 2, 3, 4]) == [models]
    with pytest.raises(DisconnectedError):
        lb.rate(["a", "b", "d"], ["b", "c", "e"], [1.0, 0.0, 1.0], rounds=10)
    assert components(["a", "b", "c"], [0], [1]) == [["a", "b"], ["c"]]  # an unplayed model is alone


def test_elo_k4_hand_computed():
    # 1) 0 beats 1 at 1000/1000: E = 0.5, delta = 4 * 0.5 = 2 -> 1002, 998
    # 2) 1 beats 0: E_1 = 1 / (1 + 10 ** (4 / 400)) = 0.494244..., delta = 4 * (1 - E_1) = 2.023022...
    # 3) 0 ties 2 (2 at 1000): E_0 = 1 / (1 + 10 ** ((1000 - 999.976978) / 400)), delta = 4 * (0.5 - E_0)
    r = elo([0, 1, 0], [1, 0, 2], [1.0, 1.0, 0.5], k=4)
    e1 = 1.0 / (1.0 + 10 ** 0.01)
    assert e1 == pytest.approx(0.4942438, abs=1e-7)
    r0 = 1002.0 - 4 * (1 - e1)
    r1 = 998.0 + 4 * (1 - e1)
    e0 = 1.0 / (1.0 + 10 ** ((1000.0 - r0) / 400.0))
    d3 = 4 * (0.5 - e0)
    assert r.tolist() == pytest.approx([r0 + d3, r1, 1000.0 - d3], abs=1e-9)
    assert r.tolist() == pytest.approx([999.977110, 1000.023025, 999.999865], abs=1e-5)
    assert r.sum() == pytest.approx(3000.0)
    assert elo([0], [1], [1.0], k=32).tolist() == pytest.approx([1016.0, 984.0])


def test_ranks_on_hand_made_intervals():
    low = [1100, 1050, 900, 950]
    high = [1200, 1150, 1000, 1060]
    assert bt.ranks(low, high).tolist() == [1, 1, 3, 2]
    assert bt.ranks([1, 2, 3], [1.5, 2.5, 3.5]).tolist() == [3, 2, 1]


def test_sandwich_agrees_with_bootstrap_on_large_sample():
    rng = np.random.default_rng(5)
    m = 8
    a, b, o = simulate(rng.normal(size=m), 200_000, rng)
    battles = btl.dedupe(a, b, o, n_models=m)
    boot = bt.bootstrap(battles, rounds=1000, seed=2)
    sw = bt.sandwich(battles)
    assert np.all((sw.low <= boot.centre) & (boot.centre <= sw.high))
    ratio = (sw.high - sw.low) / (boot.high - boot.low)
    assert np.all((ratio > 0.8) & (ratio < 1.25)), ratio
    assert np.allclose(sw.rating, boot.rating)


def test_style_control_recovers_planted_length_effect():
    rng = np.random.default_rng(9)
    m, n, beta = 8, 100_000, 0.6
    theta = rng.normal(0.0, 0.5, m)
    verbosity = np.linspace(200.0, 2000.0, m)[rng.permutation(m)]  # mean answer length per model
    a = rng.integers(0, m, n)
    b = (a + rng.integers(1, m, n)) % m
    len_a = verbosity[a] * rng.lognormal(0.0, 0.3, n)
    len_b = verbosity[b] * rng.lognormal(0.0, 0.3, n)
    md_a, md_b = rng.poisson(3.0, n), rng.poisson(3.0, n)  # markdown counts: no effect planted
    feats = st.style_features(np.c_[len_a, md_a], np.c_[len_b, md_b])
    p = 1.0 / (1.0 + np.exp(-(theta[a] - theta[b] + beta * feats[:, 0])))
    o = (rng.random(n) < p).astype(float)
    res = st.fit_style(a, b, o, feats, n_models=m)
    truth = true_ratings(theta)
    assert res.coef[0] > 0 and abs(res.coef[0] - beta) < 0.05
    assert abs(res.coef[1]) < 0.05
    assert res.coef_points[0] == pytest.approx(res.coef[0] * btl.POINTS)
    err_raw = np.abs(res.raw - truth).mean()
    err_style = np.abs(res.rating - truth).mean()
    assert err_style < 0.5 * err_raw
    # the most verbose model is flattered by the raw ratings and corrected by style control
    top = int(np.argmax(verbosity))
    assert res.raw[top] - truth[top] > res.rating[top] - truth[top]
    # without features, fit_style's ratings reduce to the plain fit
    zero = st.fit_style(a, b, o, np.zeros((n, 1)), n_models=m)
    assert np.abs(zero.rating - zero.raw).max() < 1e-6


def test_rate_end_to_end():
    rng = np.random.default_rng(13)
    names = [f"reference/skill-{i}" for i in range(5)]
    theta = np.array([-1.0, -0.5, 0.0, 0.5, 1.0])
    a, b, o = simulate(theta, 5000, rng)
    na = [names[i] for i in a]
    nb = [names[i] for i in b]
    rows = lb.rate(na, nb, o, rounds=300, seed=4)
    assert [row.name for row in rows] == names[::-1]
    assert rows[0].rank == 1 and all(row.ci_low < row.rating < row.ci_high for row in rows)
    assert sum(row.battles for row in rows) == 2 * 5000
    assert sum(row.wins for row in rows) == sum(row.losses for row in rows)
    entry = rows[0].as_leaderboard_entry()
    assert entry["model"] == names[-1] and entry["matches"] == rows[0].battles
    again = lb.rate(na, nb, o, rounds=300, seed=4)
    assert again == rows  # seeded
    sw = lb.rate(na, nb, o, intervals="sandwich")
    assert [row.name for row in sw] == names[::-1]
