"""Chest and fundus phantoms: deterministic, and measurable from pixels by the vision module."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from PIL import Image

from agents.reference import vision
from scenarios.generators.chest import ChestPhantomParams, generate_chest_phantom
from scenarios.generators.fundus import FundusPhantomParams, generate_fundus_phantom


def _chest(**kw: Any) -> Image.Image:
    return generate_chest_phantom(ChestPhantomParams(seed=3, **kw))


def _fundus(**kw: Any) -> Image.Image:
    return generate_fundus_phantom(FundusPhantomParams(seed=4, **kw))


@pytest.fixture(scope="module")
def clean_chest() -> vision.RadiographFeatures:
    return vision.analyse_radiograph(_chest())


def test_generators_are_deterministic_per_seed() -> None:
    a, b = _chest(nodules=[{"side": "right", "zone": "upper", "diameter_mm": 12}]), _chest(
        nodules=[{"side": "right", "zone": "upper", "diameter_mm": 12}])
    assert np.array_equal(np.asarray(a), np.asarray(b))
    c = generate_chest_phantom(ChestPhantomParams(seed=4, nodules=[{"side": "right", "zone": "upper",
                                                                    "diameter_mm": 12}]))
    assert not np.array_equal(np.asarray(a), np.asarray(c))
    assert np.array_equal(np.asarray(_fundus(haemorrhages=5)), np.asarray(_fundus(haemorrhages=5)))


@pytest.mark.parametrize(("side", "zone", "diameter"), [("right", "upper", 8.0), ("left", "mid", 15.0),
                                                         ("left", "lower", 30.0)])
def test_nodule_size_and_place(side: str, zone: str, diameter: float) -> None:
    f = vision.analyse_radiograph(_chest(nodules=[{"side": side, "zone": zone, "diameter_mm": diameter}]))
    assert f.px_per_mm == pytest.approx(2.5, rel=0.05)
    assert f.n_nodules == 1
    nodule = f.nodules[0]
    assert nodule.side == side and nodule.diameter_mm is not None
    assert abs(nodule.diameter_mm - diameter) / diameter <= 0.2


def test_nodule_growth_detected_and_identical_films_stable() -> None:
    prior = vision.analyse_radiograph(_chest(nodules=[{"side": "right", "zone": "mid", "diameter_mm": 10}]))
    current = vision.analyse_radiograph(_chest(nodules=[{"side": "right", "zone": "mid", "diameter_mm": 16}]))
    assert vision.compare_radiographs(prior, current).grew
    assert not vision.compare_radiographs(prior, prior).grew


@pytest.mark.parametrize("side", ["right", "left"])
def test_effusion_and_pneumothorax_sides(side: str, clean_chest: vision.RadiographFeatures) -> None:
    effusion = vision.analyse_radiograph(_chest(effusion_side=side, effusion_fraction=0.3))
    assert effusion.effusion_side == side
    pneumothorax = vision.analyse_radiograph(_chest(pneumothorax_side=side, pneumothorax_rim_mm=25))
    assert pneumothorax.pneumothorax_side == side
    assert clean_chest.effusion_side == "none" and clean_chest.pneumothorax_side == "none"
    assert clean_chest.n_nodules == 0


def test_cardiothoracic_ratio(clean_chest: vision.RadiographFeatures) -> None:
    big = vision.analyse_radiograph(_chest(cardiothoracic_ratio=0.62))
    assert big.cardiothoracic_ratio == pytest.approx(0.62, abs=0.05)
    assert clean_chest.cardiothoracic_ratio == pytest.approx(0.45, abs=0.05)


@pytest.mark.parametrize("ratio", [0.3, 0.7])
def test_cup_to_disc(ratio: float) -> None:
    f = vision.analyse_fundus(_fundus(cup_to_disc=ratio))
    assert f.disc_found and f.cup_to_disc is not None
    assert abs(f.cup_to_disc - ratio) <= 0.1


def test_fundus_lesion_counts_and_swelling() -> None:
    sick = vision.analyse_fundus(_fundus(haemorrhages=10, exudates=12, microaneurysms=8))
    assert abs(sick.n_haemorrhages - 10) <= 3 and abs(sick.n_exudates - 12) <= 4
    assert abs(sick.n_microaneurysms - 8) <= 3
    clean = vision.analyse_fundus(_fundus())
    assert clean.n_haemorrhages + clean.n_exudates + clean.n_microaneurysms <= 1
    assert not clean.disc_margin_blurred
    assert vision.analyse_fundus(_fundus(disc_swelling=True)).disc_margin_blurred
    assert vision.compare_fundus(clean, sick).progressed


def test_classify_phantoms_and_real_fundus() -> None:
    from skimage import data

    assert vision.classify_image(_chest()) == "radiograph"
    assert vision.classify_image(_fundus()) == "fundus"
    assert vision.classify_image(Image.fromarray(data.retina())) == "fundus"
