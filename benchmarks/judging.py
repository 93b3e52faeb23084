"""Measure what careful reading costs: the offline judge and the claim reader it stands on.

Usage: ``python benchmarks/judging.py [--quick]`` from the repository root.

Prints, over the library's scenarios (``--quick``: 4 of them):

* ``vocabulary``: compiling a scenario's phrases with their variants into one trie (cold), and how
  many phrases that is;
* ``claims``: reading one real answer (the oracle's turns) into claims, cold text caches;
* ``grade``: ``RubricJudge().grade`` of one whole oracle transcript, and of an echo and a
  keyword-stuffer transcript;
* ``encounter``: one oracle encounter (rule-based simulator, offline), for scale.

Each figure is the median over the scenarios, in milliseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Callable
from functools import partial

from agents.judge.rubric_judge import RubricJudge
from agents.simulator import assess
from arena import matching
from arena.composition import create_client, run_encounter
from arena.gateway import Gateway
from scenarios.library import ScenarioLibrary


def _ms(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="4 scenarios instead of the whole library")
    args = parser.parse_args()
    library = ScenarioLibrary()
    scenarios = library.all()[:4] if args.quick else library.all()
    judge = RubricJudge()
    rows: dict[str, list[float]] = {k: [] for k in ("vocabulary", "phrases", "claims", "grade oracle", "grade echo",
                                                     "grade stuffer", "encounter")}
    for scenario in scenarios:
        assess._VOCABULARIES.clear()
        matching.clear_caches()
        rows["vocabulary"].append(_ms(partial(assess.scenario_vocabulary, scenario)))
        rows["phrases"].append(len(assess.scenario_vocabulary(scenario).phrases))
        images = library.image_bytes(scenario)
        transcripts = {}
        for name in ("oracle", "echo", "keyword-stuffer"):
            client = create_client(f"reference/{name}", scenario=scenario, seed=0)
            start = time.perf_counter()
            transcripts[name] = asyncio.run(run_encounter(scenario, client, images, seed=0, gateway=Gateway()))
            if name == "oracle":
                rows["encounter"].append((time.perf_counter() - start) * 1000)
        answers = [t.text for t in transcripts["oracle"].target_turns()]
        matching.clear_caches()
        rows["claims"].append(statistics.median(_ms(partial(assess.claims, scenario, a)) for a in answers))
        for name, key in (("oracle", "grade oracle"), ("echo", "grade echo"), ("keyword-stuffer", "grade stuffer")):
            matching.clear_caches()
            rows[key].append(_ms(partial(judge.grade, transcripts[name], scenario)))
    print(f"{len(scenarios)} scenarios; median per scenario")
    print(f"{'what':<16}{'median':>10}{'max':>10}")
    for key, values in rows.items():
        unit = "" if key == "phrases" else " ms"
        print(f"{key:<16}{statistics.median(values):>10.1f}{max(values):>10.1f}{unit}")


if __name__ == "__main__":
    main()
