"""Tests for the chest and fundus phantom generators and their pixel-only analysis.

Every image is built once per module (fixtures) to keep the file fast.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image
from pydantic import ValidationError
from skimage import data as skdata

from agents.reference.vision import (
    FundusFeatures,
    RadiographFeatures,
    analyse_fundus,
    analyse_radiograph,
    classify_image,
    compare_fundus,
    compare_radiographs,
)
from scenarios.generators.chest import (
    ChestPhantomParams,
    NoduleSpec,
    generate_chest_phantom,
    nodule_centres,
    ruler_box,
)
from scenarios.generators.fundus import FundusPhantomParams, generate_fundus_phantom
from scenarios.generators.skin import SkinLesionParams, generate_skin_lesion

CLEAN_CHEST = ChestPhantomParams(seed=101)
NODULE_CHEST = ChestPhantomParams(
    seed=102,
    cardiothoracic_ratio=0.58,
    nodules=[
        NoduleSpec(side="right", zone="lower", diameter_mm=8.0, lateral=0.6),
        NoduleSpec(side="left", zone="mid", diameter_mm=15.0, lateral=0.6),
        NoduleSpec(side="right", zone="upper", diameter_mm=30.0, lateral=0.5),
    ],
)
GROWTH_PRIOR = ChestPhantomParams(seed=103, nodules=[NoduleSpec(side="left", zone="upper", diameter_mm=10.0)])
GROWTH_CURRENT = GROWTH_PRIOR.model_copy(
    update={"nodules": [GROWTH_PRIOR.nodules[0].model_copy(update={"diameter_mm": 16.0})]}
)
RIGHT_EFFUSION_LEFT_PTX = ChestPhantomParams(
    seed=104, effusion_side="right", effusion_fraction=0.3, pneumothorax_side="left", pneumothorax_rim_mm=20.0
)
LEFT_EFFUSION_RIGHT_PTX = ChestPhantomParams(
    seed=105, effusion_side="left", effusion_fraction=0.3, pneumothorax_side="right", pneumothorax_rim_mm=20.0
)

CLEAN_FUNDUS = FundusPhantomParams(seed=201, cup_to_disc=0.3)
MODERATE_FUNDUS = FundusPhantomParams(
    seed=202, cup_to_disc=0.7, haemorrhages=12, exudates=20, microaneurysms=10, cotton_wool_spots=3
)
SWOLLEN_FUNDUS = FundusPhantomParams(seed=203, disc_swelling=True, eye="left")


# ------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def chest_images() -> dict[str, Image.Image]:
    films = {
        "clean": CLEAN_CHEST,
        "nodules": NODULE_CHEST,
        "prior": GROWTH_PRIOR,
        "current": GROWTH_CURRENT,
        "eff_r_ptx_l": RIGHT_EFFUSION_LEFT_PTX,
        "eff_l_ptx_r": LEFT_EFFUSION_RIGHT_PTX,
    }
    return {name: generate_chest_phantom(p) for name, p in films.items()}


@pytest.fixture(scope="module")
def chest(chest_images: dict[str, Image.Image]) -> dict[str, RadiographFeatures]:
    return {name: analyse_radiograph(img) for name, img in chest_images.items()}


@pytest.fixture(scope="module")
def fundus_images() -> dict[str, Image.Image]:
    return {
        "clean": generate_fundus_phantom(CLEAN_FUNDUS),
        "moderate": generate_fundus_phantom(MODERATE_FUNDUS),
        "swollen": generate_fundus_phantom(SWOLLEN_FUNDUS),
        "retina": Image.fromarray(skdata.retina()),
    }


@pytest.fixture(scope="module")
def fundus(fundus_images: dict[str, Image.Image]) -> dict[str, FundusFeatures]:
    return {name: analyse_fundus(img) for name, img in fundus_images.items()}


# ---------------------------------------------------------------- generators


def test_generators_are_deterministic(
    chest_images: dict[str, Image.Image], fundus_images: dict[str, Image.Image]
) -> None:
    chest_again = np.asarray(generate_chest_phantom(CLEAN_CHEST))
    assert chest_images["clean"].mode == "L" and chest_images["clean"].size == (1024, 1024)
    assert np.array_equal(chest_again, np.asarray(chest_images["clean"]))
    assert not np.array_equal(np.asarray(chest_images["nodules"]), chest_again)
    fundus_again = np.asarray(generate_fundus_phantom(CLEAN_FUNDUS))
    assert fundus_images["clean"].mode == "RGB" and fundus_images["clean"].size == (768, 768)
    assert np.array_equal(fundus_again, np.asarray(fundus_images["clean"]))
    other_seed = generate_fundus_phantom(CLEAN_FUNDUS.model_copy(update={"seed": 999}))
    assert not np.array_equal(np.asarray(other_seed), fundus_again)


def test_params_are_strict() -> None:
    with pytest.raises(ValidationError):
        ChestPhantomParams(seed=1, effusion_side="right")  # side without a fraction
    with pytest.raises(ValidationError):
        ChestPhantomParams.model_validate({"seed": 1, "nodules": [{"side": "right", "zone": "mid", "diameter_mm": 80}]})
    with pytest.raises(ValidationError):
        ChestPhantomParams.model_validate({"seed": 1, "colour": "red"})
    with pytest.raises(ValidationError):
        FundusPhantomParams(seed=1, cup_to_disc=0.99)
    with pytest.raises(ValidationError):
        FundusPhantomParams.model_validate({"seed": 1, "glaucoma": True})


def test_chest_ruler_is_exactly_50_mm(chest_images: dict[str, Image.Image]) -> None:
    x0, y0, x1, y1 = ruler_box(CLEAN_CHEST)
    a = np.asarray(chest_images["clean"])
    assert x1 - x0 + 1 == round(50 * CLEAN_CHEST.px_per_mm)
    assert (a[y0 : y1 + 1, x0 : x1 + 1] == 255).all()
    assert (a[: y0 - 20] < 255).all()  # anatomy never reaches the ruler's white


# ------------------------------------------------------------- chest analysis


def test_ruler_gives_scale(chest: dict[str, RadiographFeatures], chest_images: dict[str, Image.Image]) -> None:
    assert chest["clean"].px_per_mm is not None
    assert abs(chest["clean"].px_per_mm / CLEAN_CHEST.px_per_mm - 1) < 0.02
    no_ruler = chest_images["nodules"].copy()
    x0, y0, x1, y1 = ruler_box(NODULE_CHEST)
    ticks = round(4 * NODULE_CHEST.px_per_mm) + 2
    patch = np.asarray(no_ruler)[y0 - ticks - 40 : y0 - ticks - 20, x0 : x1 + 1]
    no_ruler.paste(int(np.median(patch)), (x0 - 2, y0 - ticks, x1 + 3, y1 + 3))
    f = analyse_radiograph(no_ruler)
    assert f.lung_field_found and f.px_per_mm is None
    assert all(n.diameter_mm is None for n in f.nodules)
    assert f.cardiothoracic_ratio is None  # not assessed without calibration


@pytest.mark.parametrize("index", [0, 1, 2])
def test_nodule_diameter_within_20_percent(chest: dict[str, RadiographFeatures], index: int) -> None:
    spec = NODULE_CHEST.nodules[index]
    tx, ty = nodule_centres(NODULE_CHEST)[index]
    f = chest["nodules"]
    near = [n for n in f.nodules if math.hypot(n.x - tx, n.y - ty) < max(10.0, spec.diameter_mm)]
    assert len(near) == 1, [(n.x, n.y, n.diameter_mm) for n in f.nodules]
    assert near[0].side == spec.side and near[0].zone == spec.zone
    assert near[0].diameter_mm is not None
    assert abs(near[0].diameter_mm / spec.diameter_mm - 1) < 0.2


def test_no_false_nodules(chest: dict[str, RadiographFeatures]) -> None:
    assert chest["nodules"].n_nodules == 3
    assert chest["nodules"].bilateral
    for name in ("clean", "eff_r_ptx_l", "eff_l_ptx_r"):
        assert chest[name].n_nodules == 0, name


def test_nodule_growth(chest: dict[str, RadiographFeatures]) -> None:
    change = compare_radiographs(chest["prior"], chest["current"])
    assert change.largest_nodule_prior_mm is not None and abs(change.largest_nodule_prior_mm - 10) < 2
    assert change.largest_nodule_current_mm is not None and abs(change.largest_nodule_current_mm - 16) < 3.2
    assert change.grew and change.nodule_growth_mm is not None and 4 < change.nodule_growth_mm < 8
    assert change.new_nodules == 0
    same = compare_radiographs(chest["current"], chest["current"])
    assert not same.grew and same.nodule_growth_mm == 0 and same.new_nodules == 0
    appeared = compare_radiographs(chest["clean"], chest["current"])
    assert appeared.new_nodules == 1 and appeared.largest_nodule_prior_mm is None


@pytest.mark.parametrize(
    ("name", "effusion", "pneumothorax"),
    [("eff_r_ptx_l", "right", "left"), ("eff_l_ptx_r", "left", "right"), ("clean", "none", "none")],
)
def test_effusion_and_pneumothorax_sides(
    chest: dict[str, RadiographFeatures], name: str, effusion: str, pneumothorax: str
) -> None:
    assert chest[name].lung_field_found
    assert chest[name].effusion_side == effusion
    assert chest[name].pneumothorax_side == pneumothorax
    assert chest[name].consolidation == []


def test_effusion_change(chest: dict[str, RadiographFeatures]) -> None:
    change = compare_radiographs(chest["clean"], chest["eff_r_ptx_l"])
    assert "new right pleural effusion" in change.effusion_change
    assert compare_radiographs(chest["eff_r_ptx_l"], chest["clean"]).effusion_change == (
        "right pleural effusion resolved"
    )


@pytest.mark.parametrize(("name", "params"), [("clean", CLEAN_CHEST), ("nodules", NODULE_CHEST)])
def test_cardiothoracic_ratio(chest: dict[str, RadiographFeatures], name: str, params: ChestPhantomParams) -> None:
    ctr = chest[name].cardiothoracic_ratio
    assert ctr is not None and abs(ctr - params.cardiothoracic_ratio) <= 0.05


# ------------------------------------------------------------ fundus analysis


@pytest.mark.parametrize(("name", "params"), [("clean", CLEAN_FUNDUS), ("moderate", MODERATE_FUNDUS)])
def test_cup_to_disc(fundus: dict[str, FundusFeatures], name: str, params: FundusPhantomParams) -> None:
    f = fundus[name]
    assert f.disc_found and f.cup_to_disc is not None
    assert abs(f.cup_to_disc - params.cup_to_disc) <= 0.1
    assert f.eye == params.eye


def test_lesion_counts(fundus: dict[str, FundusFeatures]) -> None:
    f, p = fundus["moderate"], MODERATE_FUNDUS
    for got, want in (
        (f.n_haemorrhages, p.haemorrhages),
        (f.n_exudates, p.exudates),
        (f.n_microaneurysms, p.microaneurysms),
        (f.n_cotton_wool_spots, p.cotton_wool_spots),
    ):
        assert abs(got - want) <= 0.3 * want, (got, want)
    assert f.n_drusen <= 2
    clean = fundus["clean"]
    total = clean.n_haemorrhages + clean.n_exudates + clean.n_microaneurysms + clean.n_cotton_wool_spots
    assert total + clean.n_drusen <= 1


def test_disc_swelling(fundus: dict[str, FundusFeatures]) -> None:
    assert fundus["swollen"].disc_margin_blurred
    assert fundus["swollen"].eye == "left"
    assert not fundus["clean"].disc_margin_blurred
    assert not fundus["moderate"].disc_margin_blurred


def test_real_retina_is_quiet(fundus: dict[str, FundusFeatures]) -> None:
    f = fundus["retina"]
    assert f.field_found and f.disc_found
    assert f.cup_to_disc is not None and 0.2 <= f.cup_to_disc <= 0.7
    lesions = f.n_haemorrhages + f.n_exudates + f.n_microaneurysms + f.n_cotton_wool_spots + f.n_drusen
    assert lesions <= 2
    assert not f.disc_margin_blurred


def test_compare_fundus(fundus: dict[str, FundusFeatures]) -> None:
    worse = compare_fundus(fundus["clean"], fundus["moderate"])
    assert worse.progressed and worse.haemorrhages_change > 5 and worse.exudates_change > 10
    same = compare_fundus(fundus["moderate"], fundus["moderate"])
    assert not same.progressed and same.haemorrhages_change == 0 and same.cup_to_disc_change == 0
    assert compare_fundus(fundus["clean"], fundus["swollen"]).new_disc_swelling


# ------------------------------------------------------------- classification


def test_classify_phantoms_and_photos(
    chest_images: dict[str, Image.Image], fundus_images: dict[str, Image.Image]
) -> None:
    assert classify_image(chest_images["clean"]) == "radiograph"
    assert classify_image(chest_images["eff_r_ptx_l"].convert("RGB")) == "radiograph"
    assert classify_image(fundus_images["moderate"]) == "fundus"
    assert classify_image(fundus_images["swollen"]) == "fundus"
    assert classify_image(fundus_images["retina"]) == "fundus"
    assert classify_image(generate_skin_lesion(SkinLesionParams(diameter_mm=6.0, seed=3))) == "skin_photo"
