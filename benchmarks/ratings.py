"""Measure the Bradley-Terry pipeline of ``arena.ratings`` on large synthetic battle sets.

Usage: ``python benchmarks/ratings.py [--quick]`` from the repository root.

Battles among 50 models, given as model-name strings (Python lists, as read from a store), drawn
from known strengths with 10% ties. For 1,000,000 battles (``--quick``: 100,000) it prints the wall
time of ``encode`` (names to indices), ``dedupe``, ``fit``, their sum, 1000 bootstrap rounds, the
sandwich and online Elo; then the same for 10,000,000 battles, report only (skipped by ``--quick``).
Targets (1,000,000 battles): encode + dedupe + fit under 0.25 s; 1000 bootstrap rounds under 2 s.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import TypeVar

import numpy as np

from arena.ratings import battles as btl
from arena.ratings import bradley_terry as bt
from arena.ratings.elo import elo

T = TypeVar("T")
N_MODELS = 50
FIT_TARGET_S = 0.25
BOOTSTRAP_TARGET_S = 2.0


def timed(fn: Callable[[], T]) -> tuple[T, float]:
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def battles(n: int, seed: int = 0) -> tuple[list[str], list[str], np.ndarray, np.ndarray]:
    """``n`` battles as name lists ``(n,)``, outcomes ``(n,)`` and the true ratings ``(m,)``."""
    rng = np.random.default_rng(seed)
    theta = rng.normal(0.0, 1.0, N_MODELS)
    names = [f"provider-{i % 7}/model-{i:02d}" for i in range(N_MODELS)]
    a = rng.integers(0, N_MODELS, n)
    b = (a + rng.integers(1, N_MODELS, n)) % N_MODELS
    p = 1.0 / (1.0 + np.exp(-(theta[a] - theta[b])))
    outcome = np.where(rng.random(n) < 0.1, 0.5, (rng.random(n) < p).astype(float))
    return [names[i] for i in a.tolist()], [names[i] for i in b.tolist()], outcome, bt.to_ratings(theta)


def run(n: int, *, targets: bool) -> None:
    names_a, names_b, outcome, truth = battles(n)
    (models, a, b), t_enc = timed(lambda: btl.encode(names_a, names_b))
    rows, t_dedupe = timed(lambda: btl.dedupe(a, b, outcome, n_models=len(models)))
    rating, t_fit = timed(lambda: bt.fit(rows))
    boot, t_boot = timed(lambda: bt.bootstrap(rows, rounds=1000, seed=1, rating=rating))
    _, t_sand = timed(lambda: bt.sandwich(rows, rating=rating))
    _, t_elo = timed(lambda: elo(a, b, outcome, n_models=len(models)))
    total = t_enc + t_dedupe + t_fit
    order = np.argsort([m.rsplit("-", 1)[-1] for m in models])  # models sorted by their index in `battles`
    corr = float(np.corrcoef(rating[order], truth)[0, 1])
    width = float(np.median(boot.high - boot.low))
    print(f"{n:>11,} {t_enc:7.3f} {t_dedupe:7.3f} {t_fit:7.4f} {total:7.3f} {t_boot:8.3f} {t_sand:7.4f} "
          f"{t_elo:6.2f} {rows.a.size:6d} {corr:7.5f} {width:8.2f}")
    if targets:
        print(f"    target encode+dedupe+fit < {FIT_TARGET_S} s: {'met' if total < FIT_TARGET_S else 'NOT met'} "
              f"({total:.3f} s); target 1000 bootstrap rounds < {BOOTSTRAP_TARGET_S} s: "
              f"{'met' if t_boot < BOOTSTRAP_TARGET_S else 'NOT met'} ({t_boot:.3f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100,000 battles instead of 1,000,000; skip 10,000,000")
    args = parser.parse_args()
    print(f"{N_MODELS} models; times in seconds; bootstrap = 1000 rounds; rows = deduplicated rows; "
          "corr = with the true ratings; ci = median 95% bootstrap width (points)")
    print(f"{'battles':>11} {'encode':>7} {'dedupe':>7} {'fit':>7} {'sum':>7} {'bootstr':>8} {'sandw':>7} "
          f"{'elo':>6} {'rows':>6} {'corr':>7} {'ci':>8}")
    if args.quick:
        run(100_000, targets=False)
        print("    (--quick: the targets are for 1,000,000 battles; not judged)")
    else:
        run(1_000_000, targets=True)
        run(10_000_000, targets=False)
        print("    (10,000,000: report only)")


if __name__ == "__main__":
    main()
