"""Measure the phrase matcher and the answer reader on huge model answers.

Usage: ``python benchmarks/matching.py [--quick] [--scenario ID]`` from the repository root.

For answer sizes 10 KB, 100 KB and 1 MB (``--quick``: 10 KB and 50 KB) and two kinds of text,
*flood* (no punctuation: finding words, negators and diagnosis cues repeated) and *prose* (the
oracle's real answers for the scenario, repeated), it prints the wall time, with cold caches, of

* ``match``: ``affirms`` and ``denies`` of every phrase list of the scenario,
* ``assess``: the simulator's ``assess_answer``,
* ``judge``: ``RubricJudge().grade`` of a transcript whose final target turn is that answer,
* ``both``: ``match`` then ``assess`` in one cold run (the answer is parsed once),

then the legacy (quadratic) matcher's ``match`` time for 10 KB and 100 KB only (``--quick``:
10 KB; it needs minutes beyond that), and the growth ratio of each column from the middle to the
largest size (10x more text: ~10 is linear, ~100 quadratic). The full run takes about a minute,
most of it in the legacy matcher. Target: a 1 MB answer matched and assessed (``both``) in under 1 s.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path

from agents.judge.rubric_judge import RubricJudge
from agents.simulator.assess import assess_answer, phrase_lists, reading, scenario_vocabulary
from arena import matching
from arena.composition import create_client, run_encounter
from arena.schemas.scenario import Scenario
from arena.schemas.transcript import Transcript
from scenarios.library import ScenarioLibrary

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests/legacy_matching.py, the implementation this one replaced
try:
    from tests import legacy_matching
except ImportError:  # pragma: no cover - run outside a checkout
    legacy_matching = None  # type: ignore[assignment]

KB = 1000
SIZES = (10 * KB, 100 * KB, 1000 * KB)
QUICK_SIZES = (10 * KB, 50 * KB)
LEGACY_SIZES = (10 * KB, 100 * KB)
QUICK_LEGACY_SIZES = (10 * KB,)


def flood(scenario: Scenario, size: int) -> str:
    """No punctuation at all: finding words, negators and diagnosis cues, ``size`` characters."""
    words = [w for f in scenario.ground_truth.findings for p in f.phrases() for w in p.split()]
    words += ["no", "not", "without", "rather than", "and", "likely", "most likely", "consistent with"]
    words += scenario.ground_truth.diagnosis.name.split()
    rng = random.Random(size)
    out: list[str] = []
    length = 0
    while length < size:
        out.append(rng.choice(words))
        length += len(out[-1]) + 1
    return " ".join(out)[:size]


def prose(answers: list[str], size: int) -> str:
    """Real answers repeated to ``size`` characters (cut at a word)."""
    block = "\n\n".join(answers)
    text = ("\n\n".join([block] * (size // len(block) + 1)))[:size]
    return text.rsplit(" ", 1)[0]


def best_ms(run: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        matching.clear_caches()  # every timing is a first call on that text
        gc.collect()
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best * 1000


def match_all(module: object, text: str, lists: list[list[str]]) -> None:
    for phrases in lists:
        module.affirms(text, phrases)  # type: ignore[attr-defined]
        module.denies(text, phrases)  # type: ignore[attr-defined]


def match_and_assess(scenario: Scenario, text: str, lists: list[list[str]]) -> None:
    match_all(matching, text, lists)
    assess_answer(scenario, text, 1, [])


def with_final_answer(transcript: Transcript, answer: str) -> Transcript:
    last = max(t.index for t in transcript.target_turns())
    turns = [t.model_copy(update={"text": answer}) if t.index == last else t for t in transcript.turns]
    return transcript.model_copy(update={"turns": turns})


def hostile_scenario(base: Scenario, findings: int, synonyms: int) -> Scenario:
    """A case at the caps whose phrases all share a 15-word prefix ("b b b ... tag"): the shape that
    made per-list matching walk every prefix once per list (minutes per encounter)."""
    def phrase(tag: str) -> str:
        return "b " * 15 + tag

    raw = base.model_dump(mode="json")
    gt = raw["ground_truth"]
    finding = gt["findings"][0]
    gt["findings"] = [{**finding, "id": f"f{i}", "label": phrase(f"f{i}"),
                       "synonyms": [phrase(f"s{i}x{j}") for j in range(synonyms)]} for i in range(findings)]
    gt["diagnosis"] = {**gt["diagnosis"], "name": phrase("zz"), "synonyms": [phrase(f"zz{j}") for j in range(synonyms)]}
    gt["differential"] = [{"name": phrase(f"d{i}"), "probability": 0.01} for i in range(findings // 2)]
    gt["resolution_plan"] = [phrase(f"p{i}") for i in range(findings)]
    gt["red_flags"] = [phrase(f"rf{i}") for i in range(findings)]
    gt["unsafe_phrases"] = [phrase(f"u{i}") for i in range(findings)]
    gt["change_vs_prior"] = None
    raw["images"] = [image for image in raw["images"] if image["role"] == "current"]
    raw["rubric"] = [{"id": f"r{i}", "text": "t", "points": 1, "dimension": "accuracy",
                      "check": {"any_of": [phrase(f"r{i}a{j}") for j in range(10)],
                                "all_of": [phrase(f"r{i}b{j}") for j in range(5)]}} for i in range(2 * findings)]
    return Scenario.model_validate(raw)


def hostile(base: Scenario, quick: bool) -> None:
    scenario = hostile_scenario(base, 2 if quick else 100, 5 if quick else 200)
    lists = phrase_lists(scenario)
    compile_ms = best_ms(lambda: scenario_vocabulary(scenario), 1)
    print(f"\nhostile case: {len(lists)} phrase lists, {sum(map(len, lists))} phrases sharing a 15-word prefix "
          f"(vocabulary compiled once per scenario in {compile_ms:.0f} ms)")
    for size in (10 * KB,) if quick else (10 * KB, 100 * KB):
        text = ("b " * 40 + "zz3 f7 r4a2. ") * (size // 94)

        def shared(text: str = text) -> None:
            r = reading(scenario, text)
            for phrases in lists:
                r.affirms(phrases)
                r.denies(phrases)

        one_walk = best_ms(shared, 1)
        assess_ms = best_ms(lambda: assess_answer(scenario, text, 1, []), 1)  # noqa: B023
        line = (f"  {size // KB:>4} KB answer: one walk through the vocabulary {one_walk:.0f} ms, "
                f"assess {assess_ms:.0f} ms")
        if size == 10 * KB:  # walking the text once per list is too slow to time on more
            per_list = best_ms(lambda: match_all(matching, text, lists), 1)  # noqa: B023
            line += f"; every list walking the text (before) {per_list:.0f} ms ({per_list / max(one_walk, 1e-6):.0f}x)"
        print(line, flush=True)


async def main(quick: bool, scenario_id: str) -> None:
    library = ScenarioLibrary()
    scenario = library.get(scenario_id)
    target = create_client("reference/oracle", scenario=scenario, seed=0)
    transcript = await run_encounter(scenario, target, library.image_bytes(scenario), seed=0)
    answers = [t.text for t in transcript.target_turns()]
    lists = phrase_lists(scenario)
    sizes = QUICK_SIZES if quick else SIZES
    legacy_sizes = QUICK_LEGACY_SIZES if quick else LEGACY_SIZES
    judge = RubricJudge()
    print(f"scenario {scenario.id}: {len(lists)} phrase lists, {sum(map(len, lists))} phrases; "
          f"times in ms, cold caches, best of {1 if quick else 2}; legacy: one run")
    header = (f"{'text':<7}{'size':>9}{'match':>10}{'assess':>10}{'judge':>10}{'both':>10}"
              f"{'legacy match':>14}{'speed-up':>10}")
    print(header)
    print("-" * len(header))
    results: dict[tuple[str, int], tuple[float, float, float, float]] = {}
    for kind in ("flood", "prose"):
        for size in sizes:
            text = flood(scenario, size) if kind == "flood" else prose(answers, size)
            repeat = 1 if quick else 2
            match_ms = best_ms(lambda: match_all(matching, text, lists), repeat)  # noqa: B023
            assess_ms = best_ms(lambda: assess_answer(scenario, text, 1, []), repeat)  # noqa: B023
            graded = with_final_answer(transcript, text)
            judge_ms = best_ms(lambda: judge.grade(graded, scenario), repeat)  # noqa: B023
            both_ms = best_ms(lambda: match_and_assess(scenario, text, lists), repeat)  # noqa: B023
            results[(kind, size)] = (match_ms, assess_ms, judge_ms, both_ms)
            legacy = speedup = "-"
            if legacy_matching is not None and size in legacy_sizes:
                legacy_ms = best_ms(lambda: match_all(legacy_matching, text, lists), 1)  # noqa: B023
                legacy, speedup = f"{legacy_ms:.0f}", f"{legacy_ms / match_ms:.0f}x"
            print(f"{kind:<7}{size // KB:>6} KB{match_ms:>10.1f}{assess_ms:>10.1f}{judge_ms:>10.1f}{both_ms:>10.1f}"
                  f"{legacy:>14}{speedup:>10}", flush=True)
    low, high = sizes[-2], sizes[-1]
    print(f"\ngrowth time({high // KB} KB) / time({low // KB} KB), text {high / low:.0f}x longer "
          f"(linear ~{high / low:.0f}, quadratic ~{(high / low) ** 2:.0f}):")
    for kind in ("flood", "prose"):
        ratios = [h / max(lo, 1e-6) for lo, h in zip(results[(kind, low)], results[(kind, high)], strict=True)]
        print(f"  {kind:<7} match {ratios[0]:.1f}  assess {ratios[1]:.1f}  judge {ratios[2]:.1f}  both {ratios[3]:.1f}")
    worst = max(results[(kind, high)][3] for kind in ("flood", "prose"))
    print(f"largest answer ({high // KB} KB) matched and assessed in {worst:.0f} ms (target for 1 MB: < 1000 ms)")
    hostile(scenario, quick)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS: {peak_mb:.0f} MB")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="small sizes only (10 KB, 50 KB), for tests")
    parser.add_argument("--scenario", default="derm-changing-mole", help="scenario whose phrases are matched")
    args = parser.parse_args()
    asyncio.run(main(args.quick, args.scenario))
