"""Measure the tournament's per-match orchestration overhead: everything a match costs besides
its two conversations (scheduling, the comparison, the store transaction, the progress update).

Usage: ``python benchmarks/tournament.py [--quick]`` from the repository root.

A round robin of 20 reference models (``--quick``: 8) on one scenario and seed: it first plays the
20 encounters (timed: the cost of conversations and absolute judging), then runs the tournament with
every encounter served from memory, so the wall time of the 190 matches (``--quick``: 28) is the
orchestration alone; and once more with 4 seeds (760 matches) for the per-match figure at scale.
Printed: encounters/s, matches, total and per-match milliseconds, and the share of a full match
(two fresh encounters) that orchestration takes.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

from arena.runner import transcript_name
from arena.tournament import run as trun
from arena.tournament.play import MatchPlayer, Played


def models(n: int) -> list[str]:
    return [f"reference/skill-{i / n:.2f}" for i in range(n)]


def measure(n_models: int, seeds: int, out: Path, played: dict[tuple[str, int], Any] | None,
            ) -> tuple[float, int, dict[tuple[str, int], Any]]:
    flags = {"models": ",".join(models(n_models)), "scenarios": "derm-changing-mole", "seeds": seeds,
             "out": str(out), "run": f"b{n_models}-{seeds}-{'warm' if played is not None else 'cold'}",
             "concurrency": 4, "bootstrap": 10}
    t = trun.prepare(flags, None, resume=False)
    if played is not None:
        async def served(self: MatchPlayer, model: str, scenario_id: str, mode: Any, seed: int) -> Played:
            transcript = played[(model, seed)]
            return Played(transcript, transcript_name(scenario_id, model, mode, seed))

        MatchPlayer.encounter = served  # type: ignore[method-assign]
    try:
        start = time.perf_counter()
        asyncio.run(trun.execute(t))
        elapsed = time.perf_counter() - start
        transcripts = {(v.target, v.seed): v for v in t.player._cache.values()} if played is None else {}
        n = len(t.store.match_ids())
    finally:
        t.close()
    return elapsed, n, transcripts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="8 models, one seed")
    args = parser.parse_args()
    n_models = 8 if args.quick else 20
    original = MatchPlayer.encounter
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        cold, n_cold, transcripts = measure(n_models, 1 if args.quick else 4, out, None)
        encounters = len(transcripts)
        warm, n_warm, _ = measure(n_models, 1 if args.quick else 4, out, transcripts)
        MatchPlayer.encounter = original  # type: ignore[method-assign]
    per_match = warm / n_warm
    per_encounter = (cold - warm) / encounters
    print(f"{'what':<44} {'value':>12}")
    print(f"{'models x seeds':<44} {f'{n_models} x {1 if args.quick else 4}':>12}")
    print(f"{'encounters played (cold run)':<44} {encounters:>12}")
    print(f"{'matches':<44} {n_warm:>12}")
    print(f"{'cold run: encounters + matches (s)':<44} {cold:>12.2f}")
    print(f"{'warm run: matches only (s)':<44} {warm:>12.3f}")
    print(f"{'orchestration per match (ms)':<44} {per_match * 1000:>12.2f}")
    print(f"{'encounter incl. judging, estimated (ms)':<44} {per_encounter * 1000:>12.1f}")
    share = per_match / (per_match + 2 * per_encounter)
    print(f"{'orchestration share of a fresh match':<44} {share:>12.1%}")
    assert n_cold == n_warm


if __name__ == "__main__":
    main()
