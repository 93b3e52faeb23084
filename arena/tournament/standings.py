"""``leaderboard.json`` from a run's finished matches and encounters (no I/O here).

Ratings: Bradley-Terry over the rated matches (errors excluded) with seeded bootstrap intervals
and ranks (:mod:`arena.ratings`), the sandwich interval beside it, style control (length and
markdown covariates, as LMArena) and online Elo as secondary views. A disconnected comparison
graph gives no joint rating: ``connected`` is false, ``components`` lists the groups and every
rating is null. Scores: per model the mean of each dimension over its judged encounters.
Subgroups (``malignant``, ``rare``, ``ambiguous``, ``modality:*``, ``specialty:*``): per model its
mean scores, win rate and, where the subgroup's matches connect every model, its rating.
pass^k: per (scenario, mode), ``C(c, k) / C(n, k)`` for ``c`` correct of ``n`` seeds (the chance
that ``k`` seeds drawn without replacement all name the true diagnosis), averaged.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from arena.judging.pairwise import bias_report
from arena.ratings.battles import dedupe
from arena.ratings.bradley_terry import bootstrap, fit, sandwich
from arena.ratings.elo import K, elo
from arena.ratings.graph import components
from arena.ratings.leaderboard import results
from arena.ratings.style import fit_style, style_features
from arena.schemas.scenario import Ambiguity, Dimension, Scenario
from arena.tournament.match import MatchRecord

LEADERBOARD_VERSION = 1
STYLE_COLUMNS = ("chars", "headers", "list_items", "bold")
DIMENSIONS = [d.value for d in Dimension]


def subgroups_of(scenario: Scenario) -> list[str]:
    """The subgroups a scenario belongs to."""
    groups: list[str] = [t for t in ("malignant", "rare") if t in scenario.tags]
    if "ambiguous" in scenario.tags or scenario.ground_truth.ambiguity is Ambiguity.HIGH:
        groups.append("ambiguous")
    groups.append(f"modality:{scenario.modality.split('(')[0].strip().lower()}")
    groups.append(f"specialty:{scenario.specialty.strip().lower()}")
    return groups


def _ratings(models: Sequence[str], rated: Sequence[MatchRecord], *, rounds: int, seed: int
             ) -> tuple[list[dict[str, Any]] | None, list[list[str]], dict[str, tuple[float, float]]]:
    """Rows (None when not connected or nothing rated), the components, sandwich bounds per model."""
    played = {m for r in rated for m in (r.spec.model_a, r.spec.model_b)}
    active = [m for m in models if m in played]  # a model with no rated match is absent, not disconnected
    index = {m: i for i, m in enumerate(active)}
    a = np.array([index[r.spec.model_a] for r in rated], dtype=np.int64)
    b = np.array([index[r.spec.model_b] for r in rated], dtype=np.int64)
    comps = components(active, a, b)
    if not rated or len(comps) > 1:
        return None, comps, {}
    bt = dedupe(a, b, np.array([r.score_a for r in rated]), n_models=len(active))
    rating = fit(bt)
    iv = bootstrap(bt, rounds=rounds, seed=seed, rating=rating)
    sw = sandwich(bt, rating=rating)
    robust = {m: (float(sw.low[i]), float(sw.high[i])) for i, m in enumerate(active)}
    rows = [row.as_leaderboard_entry() for row in results(active, bt, iv)]
    rows += [{"model": m, "rating": None, "ci_low": None, "ci_high": None, "rank": None, "matches": 0, "wins": 0,
              "losses": 0, "ties": 0, "flags": ["no_battles"]} for m in models if m not in played]
    return rows, comps, robust


STYLE_MIN_PER_PARAMETER = 5  # rated matches per fitted parameter (models + covariates) before style control


def _style(models: Sequence[str], rated: Sequence[MatchRecord]) -> dict[str, Any] | None:
    """Style-controlled ratings, or None with too few matches to separate style from skill."""
    if len(rated) < STYLE_MIN_PER_PARAMETER * (len(models) + len(STYLE_COLUMNS)):
        return None
    index = {m: i for i, m in enumerate(models)}
    a = np.array([index[r.spec.model_a] for r in rated])
    b = np.array([index[r.spec.model_b] for r in rated])
    xa = np.array([[getattr(r.style_a, c) for c in STYLE_COLUMNS] for r in rated], dtype=np.float64)
    xb = np.array([[getattr(r.style_b, c) for c in STYLE_COLUMNS] for r in rated], dtype=np.float64)
    sf = fit_style(a, b, np.array([r.score_a for r in rated]), style_features(xa, xb), n_models=len(models))
    return {"covariates": list(STYLE_COLUMNS),
            "coefficients": {c: round(float(v), 2) for c, v in zip(STYLE_COLUMNS, sf.coef_points, strict=True)},
            "models": {m: round(float(sf.rating[i]), 1) for i, m in enumerate(models)}}


def _scores(encounters: Sequence[Mapping[str, Any]], models: Sequence[str]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for m in models:
        judged = [e["scores"] for e in encounters if e["model"] == m and e["scores"]]
        means = {d: round(sum(s[d] for s in judged) / len(judged), 3) if judged else None for d in DIMENSIONS}
        overall = round(sum(v for v in means.values() if v is not None) / len(DIMENSIONS), 3) if judged else None
        out[m] = {"encounters": len(judged), "scores": means, "overall": overall}
    return out


def pass_k(encounters: Sequence[Mapping[str, Any]], models: Sequence[str], k: int) -> dict[str, dict[str, Any]]:
    """Per model: pass^k and pass^1 of the correct diagnosis over seeds (see the module doc)."""
    out: dict[str, dict[str, Any]] = {}
    for m in models:
        by_task: dict[tuple[str, str], list[bool]] = defaultdict(list)
        for e in encounters:
            if e["model"] == m and not e["infrastructure"] and e["correct"] is not None:
                by_task[(e["scenario"], e["mode"])].append(bool(e["correct"]))
        tasks = [v for v in by_task.values() if len(v) >= k]
        values = [math.comb(sum(v), k) / math.comb(len(v), k) for v in tasks]
        ones = [sum(v) / len(v) for v in by_task.values()]
        out[m] = {"k": k, "pass_k": round(sum(values) / len(values), 4) if values else None,
                  "pass_1": round(sum(ones) / len(ones), 4) if ones else None, "tasks": len(tasks)}
    return out


def _subgroups(models: Sequence[str], rated: Sequence[MatchRecord], encounters: Sequence[Mapping[str, Any]],
               groups: Mapping[str, Sequence[str]], *, rounds: int, seed: int) -> dict[str, Any]:
    names = sorted({g for gs in groups.values() for g in gs})
    out: dict[str, Any] = {}
    for g in names:
        scen = {s for s, gs in groups.items() if g in gs}
        sub_matches = [r for r in rated if r.spec.scenario_id in scen]
        sub_enc = [e for e in encounters if e["scenario"] in scen]
        if not sub_enc:
            continue
        rows, comps, _ = _ratings(models, sub_matches, rounds=min(rounds, 200), seed=seed)
        by_model = {r["model"]: r for r in rows} if rows else {}
        scores = _scores(sub_enc, models)
        entries = []
        for m in models:
            mine = [r for r in sub_matches if m in (r.spec.model_a, r.spec.model_b)]
            won = sum(r.score_a if r.spec.model_a == m else 1.0 - r.score_a for r in mine)
            row = by_model.get(m)
            entries.append({"model": m, **scores[m], "matches": len(mine),
                            "win_rate": round(won / len(mine), 4) if mine else None,
                            "rating": row["rating"] if row else None, "ci_low": row["ci_low"] if row else None,
                            "ci_high": row["ci_high"] if row else None})
        out[g] = {"scenarios": len(scen), "matches": len(sub_matches), "connected": rows is not None,
                  "models": entries}
    return out


def leaderboard(models: Sequence[str], matches: Sequence[MatchRecord], encounters: Sequence[Mapping[str, Any]],
                groups: Mapping[str, Sequence[str]], *, run: str, judge: str, seeds: int, rounds: int = 1000,
                seed: int = 0, elo_k: float = K, scheduled: int | None = None) -> dict[str, Any]:
    """The ``leaderboard.json`` document (see docs/ARCHITECTURE.md)."""
    rated = [r for r in matches if r.rated]
    rows, comps, robust = _ratings(models, rated, rounds=rounds, seed=seed)
    scores = _scores(encounters, models)
    pk = pass_k(encounters, models, max(1, seeds))
    index = {m: i for i, m in enumerate(models)}
    played = {m for r in rated for m in (r.spec.model_a, r.spec.model_b)}
    elo_view = elo([index[r.spec.model_a] for r in rated], [index[r.spec.model_b] for r in rated],
                   [r.score_a for r in rated], n_models=len(models), k=elo_k)
    style = _style([m for m in models if m in played], rated) if rows is not None else None
    if rows is None:  # no joint rating: the tallies, no numbers
        rows = [{"model": m, "rating": None, "ci_low": None, "ci_high": None, "rank": None,
                 **_tally(m, rated), "flags": []} for m in models]
    for row in rows:
        m = row["model"]
        row.update({"sandwich_low": robust[m][0] if m in robust else None,
                    "sandwich_high": robust[m][1] if m in robust else None,
                    "style_rating": style["models"].get(m) if style else None,
                    "elo": round(float(elo_view[index[m]]), 1) if m in played else None, **scores[m],
                    "pass_k": pk[m]["pass_k"], "pass_1": pk[m]["pass_1"]})
    errors = [r for r in matches if not r.rated]
    return {
        "schema_version": LEADERBOARD_VERSION, "method": "bradley-terry", "run": run, "judge": judge,
        "scale": {"base": 10, "scale": 400, "center": 1000},
        "intervals": {"method": "bootstrap percentile 2.5/97.5", "rounds": rounds, "seed": seed,
                      "robust": "sandwich (Huber-White) 95%"},
        "matches": {"scheduled": scheduled if scheduled is not None else len(matches), "finished": len(matches),
                    "rated": len(rated), "ties": sum(1 for r in rated if r.outcome == "tie"),
                    "errors": len(errors),
                    "infrastructure_errors": sum(1 for r in errors if r.error_kind == "infrastructure"),
                    "judge_errors": sum(1 for r in errors if r.error_kind == "judge")},
        "comparison": sorted({r.method for r in rated if r.method}),
        "connected": len(comps) <= 1 and bool(rated), "components": comps,
        "models": rows,
        "style_control": style,
        "elo": {"k": elo_k, "order": "the order matches were scheduled in"},
        "pass_k": {"k": max(1, seeds), "definition": "per (scenario, mode): C(c,k)/C(n,k) over seeds, averaged"},
        "subgroups": _subgroups(models, rated, encounters, groups, rounds=rounds, seed=seed),
        "judge_bias": {name: report.model_dump(mode="json") for name, report in bias_report(
            [r.pairwise for r in rated if r.pairwise is not None and r.method == "pairwise-swapped"]).items()},
    }


def _tally(model: str, rated: Sequence[MatchRecord]) -> dict[str, int]:
    wins = losses = ties = 0
    for r in rated:
        if model not in (r.spec.model_a, r.spec.model_b):
            continue
        if r.outcome == "tie":
            ties += 1
        elif (r.outcome == "A") == (r.spec.model_a == model):
            wins += 1
        else:
            losses += 1
    return {"matches": wins + losses + ties, "wins": wins, "losses": losses, "ties": ties}
