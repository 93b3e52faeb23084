"""The case library meets its published counts, and the pixel baseline can measure what the
generators drew while the blind baseline cannot."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from agents.reference.pixel import Pixel
from arena.composition import create_client
from arena.schemas.messages import ImagePart, Message, ModelRequest, TextPart
from arena.schemas.scenario import Ambiguity, Mode, Scenario
from arena.schemas.transcript import MoveKind
from scenarios.library import ScenarioLibrary
from tests.conftest import run
from tests.helpers import encounter


def test_library_counts(library: ScenarioLibrary) -> None:
    cases = library.all()
    assert len(cases) >= 40
    assert len({c.specialty for c in cases}) >= 4
    assert len({c.images[0].source.kind for c in cases}) >= 3
    assert sum(1 for c in cases if c.prior_images) >= 10
    assert sum(1 for c in cases if c.ground_truth.ambiguity == Ambiguity.HIGH) >= 8
    assert {c.default_mode for c in cases} == {Mode.PATIENT, Mode.CLINICIAN}
    tags = Counter(t for c in cases for t in c.tags)
    for tag in ("malignant", "benign", "urgent", "rare"):
        assert tags[tag] >= 1, tag
    for case in cases:
        assert len(case.patient.facts) >= 3, case.id
        assert any(c.points < 0 for c in case.rubric) or len(case.rubric) >= 3, case.id


def _generated(library: ScenarioLibrary, origin: str) -> list[Scenario]:
    return [c for c in library.all() if c.current_images[0].source.kind == "generator"
            and c.current_images[0].source.origin == origin]


def _ask(*images: bytes) -> str:
    parts: list[TextPart | ImagePart] = [TextPart(text="What do you see?")]
    parts += [ImagePart(image_id=f"i{n}", data=data) for n, data in enumerate(images)]
    return run(Pixel("reference/pixel").complete(ModelRequest(messages=[Message(role="user", parts=parts)]))).text


def _truth_size(case: Scenario) -> float:
    params = case.current_images[0].source.params
    if "diameter_mm" in params:
        value = params["diameter_mm"]
        assert isinstance(value, int | float)
        return float(value)
    nodules = params.get("nodules")
    assert isinstance(nodules, list) and nodules
    return float(max(n["diameter_mm"] for n in nodules))


def _sized_cases(library: ScenarioLibrary) -> list[Scenario]:
    skin = _generated(library, "skin_lesion")
    chest = [c for c in _generated(library, "chest_phantom") if c.current_images[0].source.params.get("nodules")]
    return skin + chest


def test_pixel_recovers_size_within_20_percent(library: ScenarioLibrary) -> None:
    cases = _sized_cases(library)
    assert len(cases) >= 10
    for case in cases:
        text = _ask(library.image_bytes(case)[case.current_images[0].id])
        match = re.search(r"diameter of about (\d+(?:\.\d+)?) mm|about (\d+(?:\.\d+)?) mm across", text)
        assert match, (case.id, text)
        measured = float(match.group(1) or match.group(2))
        truth = _truth_size(case)
        assert abs(measured - truth) / truth <= 0.2, (case.id, measured, truth)


def _progressions(library: ScenarioLibrary) -> list[Scenario]:
    return [c for c in _sized_cases(library) if c.prior_images and c.ground_truth.change_vs_prior
            and c.ground_truth.change_vs_prior.direction == "progression"
            and _truth_size(c) > float(_prior_size(c)) * 1.2]


def _prior_size(case: Scenario) -> float:
    params = case.prior_images[0].source.params
    if "diameter_mm" in params:
        return float(params["diameter_mm"])  # type: ignore[arg-type]
    return float(max(n["diameter_mm"] for n in params["nodules"]))  # type: ignore[union-attr, index]


@pytest.mark.parametrize("spec", ["reference/pixel", "reference/blind"])
def test_growth_is_seen_by_pixel_not_blind(library: ScenarioLibrary, spec: str) -> None:
    cases = _progressions(library)
    assert len(cases) >= 3
    for case in cases:
        t = run(encounter(library, case, create_client(spec, scenario=case, seed=0), mode=Mode.CLINICIAN))
        compare = next(i for i, turn in enumerate(t.turns)
                       if turn.move and turn.move.kind == MoveKind.REQUEST_COMPARISON)
        answer = t.turns[compare + 1].text
        grown = re.search(r"grown from about (\d+(?:\.\d+)?) mm to (\d+(?:\.\d+)?) mm", answer)
        if spec == "reference/pixel":
            assert grown, (case.id, answer)
            assert abs(float(grown.group(2)) - _truth_size(case)) / _truth_size(case) <= 0.2
        else:
            assert grown is None and "can't" in answer, (case.id, answer)


def test_pixel_does_not_invent_growth_on_stable_or_regressing_cases(library: ScenarioLibrary) -> None:
    cases = [c for c in _sized_cases(library) if c.prior_images and c.ground_truth.change_vs_prior
             and c.ground_truth.change_vs_prior.direction != "progression"]
    assert cases
    for case in cases:
        t = run(encounter(library, case, create_client("reference/pixel", scenario=case, seed=0),
                          mode=Mode.CLINICIAN))
        compare = next(i for i, turn in enumerate(t.turns)
                       if turn.move and turn.move.kind == MoveKind.REQUEST_COMPARISON)
        answer = t.turns[compare + 1].text
        assert answer.startswith("Compared with the earlier image"), (case.id, answer)
        assert "grown from" not in answer, (case.id, answer)
