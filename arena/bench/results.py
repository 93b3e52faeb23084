"""The benchmark's results document (``RUN/bench.json``, ``arena bench --json``). A contract:

```
{"schema_version": 1, "run", "judge", "bootstrap": {...}, "ablations": [...],
 "models": [{"model", "n",
             "scores": {dimension | "overall": {"mean", "ci_low", "ci_high"}},
             "ablations": {ablation: {dimension | "overall": {"delta", "ci_low", "ci_high", "n"}}},
             "subgroups": {tag: {dimension | "overall": {"delta", "ci_low", "ci_high", "n"}}},
             "pass_k": {"k", "pass_k", "pass_1", "tasks"}, "errors": {"infrastructure", "judge"}}],
 "agreement": {...}}
```

``n``: judged encounters with everything (infrastructure errors and judge errors are counted in
``errors`` and left out of every figure). An ablation's delta is ablated minus full over the pairs
(same model, scenario, mode and seed) where both were judged; ``n`` is the number of pairs. A
subgroup's delta is the subgroup's mean minus the mean of the model's other encounters (full
runs only); ``n`` is the subgroup's encounter count. Intervals: 95% percentile bootstrap with
``bootstrap.rounds`` resamples, seeded per figure; ``null`` when there are fewer than two values.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from arena.bench.config import BenchSettings
from arena.bench.stats import Estimate, group_delta, mean_interval, paired_delta
from arena.errors import ArenaError
from arena.schemas.scenario import Dimension
from arena.tournament.standings import pass_k, subgroups_of
from scenarios.library import ScenarioLibrary

DIMENSIONS = [d.value for d in Dimension]
KEYS = [*DIMENSIONS, "overall"]


def _value(row: Mapping[str, Any], key: str) -> float:
    scores: dict[str, int] = row["scores"]
    return sum(scores.values()) / len(scores) if key == "overall" else float(scores[key])


def _seed(base: int, *parts: str) -> int:
    return (base + zlib.crc32("|".join(parts).encode())) % 2**32


def _judged(row: Mapping[str, Any]) -> bool:
    return not row["infrastructure"] and bool(row["scores"])


def model_results(model: str, rows: Sequence[Mapping[str, Any]], groups: Mapping[str, list[str]],
                  ablations: Sequence[str], *, rounds: int, seed: int, k: int) -> dict[str, Any]:
    """One model's entry of the document, from its store rows (``arena.tournament.store.Store.cells``)."""
    mine = [r for r in rows if r["model"] == model]
    full = [r for r in mine if r["ablation"] is None and _judged(r)]
    by_slot = {(r["scenario"], r["mode"], r["seed"]): r for r in full}

    def estimate(label: str, key: str, values: Sequence[float]) -> Estimate:
        return mean_interval(values, rounds=rounds, seed=_seed(seed, model, label, key))

    scores = {key: {k2: v for k2, v in estimate("full", key, [_value(r, key) for r in full]).as_mean().items()
                    if k2 != "n"} for key in KEYS}
    out_ablations: dict[str, Any] = {}
    for ablation in ablations:
        pairs = [(by_slot[(r["scenario"], r["mode"], r["seed"])], r) for r in mine
                 if r["ablation"] == ablation and _judged(r) and (r["scenario"], r["mode"], r["seed"]) in by_slot]
        out_ablations[ablation] = {key: paired_delta([_value(f, key) for f, _ in pairs],
                                                     [_value(a, key) for _, a in pairs], rounds=rounds,
                                                     seed=_seed(seed, model, ablation, key)).as_delta()
                                   for key in KEYS}
    names = sorted({g for r in full for g in groups.get(r["scenario"], [])})
    subgroups = {}
    for name in names:
        inside = [r for r in full if name in groups.get(r["scenario"], [])]
        outside = [r for r in full if name not in groups.get(r["scenario"], [])]
        subgroups[name] = {key: group_delta([_value(r, key) for r in inside], [_value(r, key) for r in outside],
                                            rounds=rounds, seed=_seed(seed, model, name, key)).as_delta()
                           for key in KEYS}
    passed = pass_k([r for r in mine if r["ablation"] is None], [model], k)[model]
    errors = {"infrastructure": sum(1 for r in mine if r["infrastructure"]),
              "judge": sum(1 for r in mine if not r["infrastructure"] and not r["scores"])}
    return {"model": model, "n": len(full), "scores": scores, "ablations": out_ablations, "subgroups": subgroups,
            "pass_k": passed, "errors": errors}


def _groups(library: ScenarioLibrary, rows: Sequence[Mapping[str, Any]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for sid in sorted({r["scenario"] for r in rows}):
        try:
            out[sid] = subgroups_of(library.get(sid))
        except ArenaError:
            out[sid] = []
    return out


def results(rows: Sequence[Mapping[str, Any]], library: ScenarioLibrary, s: BenchSettings, run: str,
            run_dir: Path) -> dict[str, Any]:
    from arena.bench.agreement import agreement

    groups = _groups(library, rows)
    return {
        "schema_version": 1, "run": run, "judge": "+".join(s.judge),
        "bootstrap": {"method": "percentile", "confidence": 0.95, "rounds": s.bootstrap, "seed": s.seed},
        "ablations": list(s.ablations), "scenarios": len({r["scenario"] for r in rows}), "seeds": s.seeds,
        "models": [model_results(m, rows, groups, s.ablations, rounds=s.bootstrap, seed=s.seed,
                                 k=max(1, s.seeds)) for m in s.models],
        "agreement": agreement(rows, run_dir, s),
    }
