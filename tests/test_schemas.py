from __future__ import annotations

import copy
import json

import pytest
from pydantic import ValidationError

from agents.judge.rubric_judge import RubricJudge
from arena.composition import create_client
from arena.schemas.scenario import Dimension, Scenario
from arena.schemas.transcript import Transcript
from arena.schemas.verdict import DimensionScore, Verdict
from scenarios.library import ScenarioLibrary
from tests.conftest import run
from tests.helpers import encounter


def test_every_case_round_trips(library: ScenarioLibrary) -> None:
    cases = library.all()
    assert len(cases) >= 3
    for scenario in cases:
        again = Scenario.model_validate_json(scenario.model_dump_json())
        assert again == scenario


def test_starter_library_has_real_image_and_prior_pair(library: ScenarioLibrary) -> None:
    cases = library.all()
    kinds = {img.source.kind for s in cases for img in s.images}
    assert "dicom" in kinds and "generator" in kinds
    assert any(s.prior_images and s.ground_truth.change_vs_prior for s in cases)
    assert {m.value for s in cases for m in s.modes} == {"patient", "clinician"}


def _raw(scenario: Scenario) -> dict[str, object]:
    return json.loads(scenario.model_dump_json())


def test_unknown_field_is_refused(mole: Scenario) -> None:
    raw = _raw(mole)
    raw["ground_truth"]["diagnosys"] = "typo"  # type: ignore[index]
    with pytest.raises(ValidationError, match="diagnosys"):
        Scenario.model_validate(raw)


def test_persona_leaking_diagnosis_is_refused(mole: Scenario) -> None:
    raw = _raw(mole)
    raw["persona"]["opening_concern"] = "I think I have melanoma."  # type: ignore[index]
    with pytest.raises(ValidationError, match="persona.opening_concern: leaks the diagnosis"):
        Scenario.model_validate(raw)


def test_image_path_escaping_is_refused(mole: Scenario) -> None:
    raw = _raw(mole)
    raw["images"][0]["path"] = "../../etc/passwd"  # type: ignore[index]
    with pytest.raises(ValidationError, match="inside the scenarios folder"):
        Scenario.model_validate(raw)


def test_prior_requires_change_vs_prior(mole: Scenario) -> None:
    raw = _raw(mole)
    raw["ground_truth"]["change_vs_prior"] = None  # type: ignore[index]
    with pytest.raises(ValidationError, match="change_vs_prior"):
        Scenario.model_validate(raw)


def test_rubric_dimension_must_be_known(mole: Scenario) -> None:
    raw = _raw(mole)
    raw["rubric"][0]["dimension"] = "charm"  # type: ignore[index]
    with pytest.raises(ValidationError, match="dimension"):
        Scenario.model_validate(raw)


def test_transcript_and_verdict_round_trip(library: ScenarioLibrary, mole: Scenario) -> None:
    target = create_client("reference/oracle", scenario=mole, seed=3)
    transcript = run(encounter(library, mole, target, seed=3))
    verdict = RubricJudge().grade(transcript, mole)
    transcript = transcript.model_copy(update={"verdict": verdict})
    data = transcript.model_dump_json()
    again = Transcript.model_validate_json(data)
    assert again == transcript
    loaded = json.loads(data)
    for key in ("schema_version", "encounter_id", "scenario_id", "mode", "seed", "target",
                "simulator", "turns", "termination", "verdict"):
        assert key in loaded
    assert set(loaded["turns"][0]) >= {"index", "role", "text", "images", "timing", "usage"}
    assert set(loaded["verdict"]["scores"]) == {d.value for d in Dimension}


def test_verdict_validates_scores_and_dimensions() -> None:
    good = {d: DimensionScore(score=3, rationale="ok") for d in Dimension}
    Verdict(judge="x", scores=good)
    partial = copy.copy(good)
    del partial[Dimension.SAFETY]
    with pytest.raises(ValidationError, match="safety"):
        Verdict(judge="x", scores=partial)
    with pytest.raises(ValidationError):
        DimensionScore(score=6, rationale="too high")
    with pytest.raises(ValidationError):
        DimensionScore(score=0, rationale="too low")
