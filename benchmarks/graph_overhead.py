"""Measure what the LangGraph encounter graph costs per turn over a plain Python loop that calls the
very same node functions (simulator, target through the gateway, reader, policy) in the same order.

Usage: ``python benchmarks/graph_overhead.py [--quick]`` from the repository root. Every starter
scenario x seeds (``--quick``: one scenario, 3 seeds; else 20 seeds) with ``reference/skill-0.6``,
played three ways: the compiled graph (compiled once, reused), the graph with an ``InMemorySaver``
checkpointer (a checkpoint at every superstep, so at every turn boundary), and the plain loop.
Printed: milliseconds per turn of each and the overhead per turn over the loop (target: < 1 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import operator
import time
from typing import Any

from langgraph.checkpoint.memory import InMemorySaver

from arena.cli import DEMO_SCENARIOS
from arena.composition import create_client, default_simulator, target_system_prompt
from arena.encounter import graph as g
from arena.encounter.run import run_encounter
from arena.encounter.state import EncounterContext
from arena.gateway import Gateway
from scenarios.library import ScenarioLibrary

SPEC = "reference/skill-0.6"
ADDED = {"turns", "assessments", "moves", "errors", "disclosed", "calls", "faults", "images_withheld"}


class _Runtime:
    def __init__(self, context: EncounterContext) -> None:
        self.context = context


def _merge(state: dict[str, Any], update: dict[str, Any]) -> None:
    for key, value in update.items():
        state[key] = operator.add(state.get(key, 0 if key == "images_withheld" else []), value) \
            if key in ADDED else value


async def plain_loop(scenario: Any, seed: int, images: dict[str, bytes]) -> int:
    ctx = EncounterContext(scenario=scenario, mode=scenario.default_mode, seed=seed,
                           target=create_client(SPEC, scenario=scenario, seed=seed), simulator=default_simulator(),
                           images=images, system_prompt=target_system_prompt(scenario.default_mode),
                           gateway=Gateway(seed=seed), target_spec=SPEC, scope=f"loop|{seed}")
    runtime = _Runtime(ctx)
    state: dict[str, Any] = {"max_turns": 7, "simulator_turns": 0, "priors_shown": False}
    node = "open"
    steps = {"open": (g.open_node, "target"), "target": (g.target_node, "simulate"),
             "simulate": (g.simulate_node, "target")}
    while node != g.END:
        function, following = steps[node]
        _merge(state, await function(state, runtime))  # type: ignore[arg-type]
        node = g.END if state.get("termination") else following
    return len(state["turns"])


async def graph_run(scenario: Any, seed: int, images: dict[str, bytes], checkpoint: bool) -> int:
    client = create_client(SPEC, scenario=scenario, seed=seed)
    options: dict[str, Any] = {"checkpointer": InMemorySaver(), "thread_id": f"t{seed}"} if checkpoint else {}
    transcript = await run_encounter(scenario, client, images, simulator=default_simulator(),
                                     system_prompt=target_system_prompt(scenario.default_mode), seed=seed,
                                     gateway=Gateway(seed=seed), target_spec=SPEC, **options)
    return len(transcript.turns)


async def measure(kind: str, cases: list[tuple[Any, int, dict[str, bytes]]]) -> tuple[float, int]:
    turns = 0
    start = time.perf_counter()
    for scenario, seed, images in cases:
        if kind == "loop":
            turns += await plain_loop(scenario, seed, images)
        else:
            turns += await graph_run(scenario, seed, images, checkpoint=kind == "graph+checkpoints")
    return time.perf_counter() - start, turns


async def main(quick: bool) -> None:
    library = ScenarioLibrary()
    scenarios = [library.get(s) for s in DEMO_SCENARIOS[: 1 if quick else None]]
    cases = [(s, seed, library.image_bytes(s)) for seed in range(3 if quick else 20) for s in scenarios]
    await measure("graph", cases[:2])  # warm-up: the graph compiled, images decoded, caches filled
    results = {}
    for kind in ("loop", "graph", "graph+checkpoints"):
        results[kind] = await measure(kind, cases)
    loop_s, loop_turns = results["loop"]
    print(f"{'how':<22} {'turns':>6} {'ms/turn':>8} {'overhead ms/turn':>17}")
    for kind, (seconds, turns) in results.items():
        assert turns == loop_turns, (kind, turns, loop_turns)  # the same conversations
        per_turn = seconds * 1000 / turns
        print(f"{kind:<22} {turns:>6} {per_turn:>8.3f} {per_turn - loop_s * 1000 / loop_turns:>17.3f}")
    print(f"{'target overhead':<22} {'':>6} {'':>8} {'< 1.000':>17}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one scenario, 3 seeds")
    asyncio.run(main(parser.parse_args().quick))
