"""Measure encounter and judging throughput of the offline stack.

Usage: ``python benchmarks/encounters.py [--repeat N] [--quick]`` (``--quick``: one seed, one
scenario). Prints, per reference model, the mean
wall time of one encounter (simulator + target + graph) and of judging it, over every starter
scenario, plus the process's peak resident memory.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import time

from agents.judge.rubric_judge import RubricJudge
from arena.cli import DEMO_SCENARIOS
from arena.composition import DEMO_MODELS, create_client, run_encounter
from scenarios.library import ScenarioLibrary


async def main(repeat: int, quick: bool) -> None:
    library = ScenarioLibrary()
    scenarios = [library.get(sid) for sid in DEMO_SCENARIOS[: 1 if quick else None]]
    images = {s.id: library.image_bytes(s) for s in scenarios}
    judge = RubricJudge()
    print(f"{'model':<26}{'encounter ms':>14}{'judge ms':>10}{'turns':>7}")
    for spec in DEMO_MODELS:
        run_ms, judge_ms, turns = [], [], []
        for seed in range(repeat):
            for scenario in scenarios:
                target = create_client(spec, scenario=scenario, seed=seed)
                start = time.perf_counter()
                transcript = await run_encounter(scenario, target, images[scenario.id], seed=seed)
                run_ms.append((time.perf_counter() - start) * 1000)
                start = time.perf_counter()
                judge.grade(transcript, scenario)
                judge_ms.append((time.perf_counter() - start) * 1000)
                turns.append(len(transcript.turns))
        print(f"{spec:<26}{statistics.median(run_ms):>14.1f}{statistics.median(judge_ms):>10.1f}"
              f"{statistics.mean(turns):>7.1f}")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS: {peak_mb:.0f} MB ({repeat} seeds x {len(scenarios)} scenarios x {len(DEMO_MODELS)} models)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="one seed, one scenario (for tests)")
    args = parser.parse_args()
    asyncio.run(main(1 if args.quick else args.repeat, args.quick))
