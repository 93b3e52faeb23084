"""reference/pixel answers from the pixels it is sent, not from the scenario's ground truth."""

from __future__ import annotations

import re

from agents.reference.pixel import Pixel
from arena.composition import create_client
from arena.schemas.messages import ImagePart, Message, ModelRequest, TextPart
from arena.schemas.scenario import Scenario
from scenarios.library import ScenarioLibrary
from tests.conftest import run
from tests.helpers import encounter


def _ask(client: Pixel, *images: bytes) -> str:
    parts: list[TextPart | ImagePart] = [TextPart(text="What do you see?")]
    parts += [ImagePart(image_id=f"i{n}", data=data) for n, data in enumerate(images)]
    request = ModelRequest(messages=[Message(role="user", parts=parts)])
    return run(client.complete(request)).text


def _diameter(text: str) -> float:
    match = re.search(r"diameter of about (\d+(?:\.\d+)?) mm", text)
    assert match, text
    return float(match.group(1))


def test_pixel_measures_the_image_it_is_given(library: ScenarioLibrary, mole: Scenario) -> None:
    images = library.image_bytes(mole)
    pixel = Pixel("reference/pixel")
    current_answer = _ask(pixel, images["current"])
    prior_answer = _ask(pixel, images["prior"])
    true_current = mole.images[0].source.params["diameter_mm"]
    true_prior = mole.images[1].source.params["diameter_mm"]
    assert isinstance(true_current, float) and isinstance(true_prior, float)
    assert abs(_diameter(current_answer) - true_current) / true_current < 0.2
    assert abs(_diameter(prior_answer) - true_prior) / true_prior < 0.2
    assert "most likely explanation is melanoma" in current_answer
    assert "most likely explanation is a benign naevus" in prior_answer
    assert current_answer != prior_answer


def test_pixel_detects_growth_against_the_prior(library: ScenarioLibrary, mole: Scenario) -> None:
    target = create_client("reference/pixel", scenario=mole, seed=0)
    transcript = run(encounter(library, mole, target))
    compare = next(t for t in transcript.turns if t.index > 0 and t.role == "target"
                   and "earlier image" in t.text)
    assert re.search(r"grown from about \d(\.\d)? mm to \d(\.\d)? mm", compare.text), compare.text
    assert compare.assessment is not None and compare.assessment.change_described


def test_pixel_counts_nodules_on_the_real_chest_film(library: ScenarioLibrary, cxr: Scenario) -> None:
    answer = _ask(Pixel("reference/pixel"), library.image_bytes(cxr)["current"])
    assert re.search(r"multiple round nodular opacities \(\d+ detected\) in both lungs", answer), answer


def test_pixel_without_an_image_says_so() -> None:
    request = ModelRequest(messages=[Message.text("user", "I have a mole.")])
    text = run(Pixel("reference/pixel").complete(request)).text
    assert "can't view any image" in text
