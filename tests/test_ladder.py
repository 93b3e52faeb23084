"""The reference ladder on the whole library, both modes and three seeds, graded by the offline
judge: skill orders the models (pooled and scenario by scenario), the gaming baselines rank below
``reference/blind``, and calibration measured from the closing differentials puts the oracle
first and the overconfident model last."""

from __future__ import annotations

from collections import defaultdict
from statistics import mean

import pytest

from agents.judge.rubric_judge import RubricJudge
from arena.composition import closing_differential, create_client
from arena.matching import mentions
from arena.schemas.scenario import Ambiguity, Dimension
from arena.schemas.transcript import Transcript
from arena.schemas.verdict import Verdict
from arena.stats.calibration import calibration_by_model
from scenarios.library import ScenarioLibrary
from tests.conftest import run
from tests.helpers import encounter

LADDER = ("reference/oracle", "reference/skill-0.3", "reference/skill-0.6", "reference/skill-0.9", "reference/skill-1.0")
GAMING = ("reference/echo", "reference/boilerplate", "reference/keyword-stuffer")
OTHERS = ("reference/blind", "reference/overconfident", "reference/hedger")
SEEDS = (0, 1, 2)

Key = tuple[str, str, int]  # scenario, mode, seed


@pytest.fixture(scope="module")
def results(library: ScenarioLibrary) -> dict[str, dict[Key, tuple[Transcript, Verdict]]]:
    judge = RubricJudge()
    out: dict[str, dict[Key, tuple[Transcript, Verdict]]] = defaultdict(dict)
    for scenario in library.all():
        for mode in scenario.modes:
            for seed in SEEDS:
                for spec in (*LADDER, *GAMING, *OTHERS):
                    client = create_client(spec, scenario=scenario, seed=seed)
                    transcript = run(encounter(library, scenario, client, seed=seed, mode=mode))
                    transcript = transcript.model_copy(
                        update={"closing_differential": closing_differential(transcript, scenario)})
                    out[spec][(scenario.id, mode.value, seed)] = (transcript, judge.grade(transcript, scenario))
    return out


def _mean(results: dict[str, dict[Key, tuple[Transcript, Verdict]]], spec: str, dimension: Dimension | None = None,
          ) -> float:
    return mean(v.overall if dimension is None else v.score(dimension) for _, v in results[spec].values())


def test_the_ladder_holds_pooled(results: dict[str, dict[Key, tuple[Transcript, Verdict]]]) -> None:
    means = [_mean(results, spec) for spec in LADDER]
    assert means == sorted(means, reverse=True) and len(set(means)) == len(means), dict(zip(LADDER, means, strict=True))


def test_the_ladder_holds_in_nine_tenths_of_scenario_pairs(
        results: dict[str, dict[Key, tuple[Transcript, Verdict]]]) -> None:
    scenarios = sorted({key[0] for key in results[LADDER[0]]})

    def scenario_mean(spec: str, sid: str) -> float:
        return mean(v.overall for key, (_, v) in results[spec].items() if key[0] == sid)

    for better, worse in zip(LADDER, LADDER[1:], strict=False):
        held = sum(scenario_mean(better, sid) >= scenario_mean(worse, sid) for sid in scenarios)
        assert held >= 0.9 * len(scenarios), (better, worse, held, len(scenarios))


def test_gaming_baselines_rank_below_blind(results: dict[str, dict[Key, tuple[Transcript, Verdict]]]) -> None:
    blind, blind_accuracy = _mean(results, "reference/blind"), _mean(results, "reference/blind", Dimension.ACCURACY)
    for spec in GAMING:
        assert _mean(results, spec) < blind, spec
        assert _mean(results, spec, Dimension.ACCURACY) < blind_accuracy, spec
    everyone = [*LADDER, *OTHERS]
    lowest = min(_mean(results, spec) for spec in everyone)
    assert max(_mean(results, spec) for spec in GAMING) < lowest


def test_skill_one_knows_nothing(library: ScenarioLibrary,
                                 results: dict[str, dict[Key, tuple[Transcript, Verdict]]]) -> None:
    for (sid, _, _), (transcript, _) in results["reference/skill-1.0"].items():
        truth = library.get(sid).ground_truth.diagnosis
        assert not any(mentions(turn.text, truth.phrases()) for turn in transcript.target_turns()), (sid, truth.name)


def _calibration(library: ScenarioLibrary, results: dict[str, dict[Key, tuple[Transcript, Verdict]]],
                 ambiguous_only: bool) -> dict[str, object]:
    rows = []
    for spec in (*LADDER, *OTHERS):
        for (sid, _, _), (transcript, _) in results[spec].items():
            scenario = library.get(sid)
            if ambiguous_only and scenario.ground_truth.ambiguity == Ambiguity.LOW:
                continue
            names = [scenario.ground_truth.diagnosis.name, *(d.name for d in scenario.ground_truth.differential)]
            rows.append((spec, transcript.closing_differential, names, scenario.ground_truth.diagnosis.name))
    return dict(calibration_by_model(rows))


def test_calibration_orders_the_reference_models(library: ScenarioLibrary,
                                                 results: dict[str, dict[Key, tuple[Transcript, Verdict]]]) -> None:
    everything = _calibration(library, results, ambiguous_only=False)
    oracle = everything["reference/oracle"]
    assert oracle.n > 100 and oracle.n_unparseable == 0  # type: ignore[attr-defined]
    scored = {spec: s for spec, s in everything.items() if s.brier is not None}  # type: ignore[attr-defined]
    assert min(scored, key=lambda spec: scored[spec].brier) == "reference/oracle"  # type: ignore[attr-defined]
    hedger = everything["reference/hedger"]
    assert hedger.n == 0 and hedger.n_unparseable > 100  # never states probabilities: counted, not guessed  # type: ignore[attr-defined]
    ambiguous = _calibration(library, results, ambiguous_only=True)
    indexed = {spec: s.overconfidence for spec, s in ambiguous.items() if s.overconfidence is not None}  # type: ignore[attr-defined]
    assert max(indexed, key=lambda spec: indexed[spec]) == "reference/overconfident", indexed
