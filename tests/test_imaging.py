"""Tests for DICOM rendering, the skin-lesion generator and pixel analysis."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.data import get_testdata_file
from scipy import ndimage

from agents.reference.vision import (
    GROWTH_THRESHOLD,
    SkinFeatures,
    analyse_radiograph,
    analyse_skin,
    classify_image,
    compare_skin,
)
from scenarios.generators.skin import (
    SkinLesionParams,
    derive_prior,
    generate_pair,
    generate_skin_lesion,
    generate_skin_lesion_with_mask,
)
from scenarios.imaging.dicom_render import dicom_provenance, render_dicom


def _testdata(name: str) -> Path:
    path = get_testdata_file(name)
    if path is None:
        pytest.skip(f"pydicom test file {name} not available")
    return Path(path)


@pytest.fixture(scope="module")
def rg1_path() -> Path:
    return _testdata("RG1_UNCR.dcm")


@pytest.fixture(scope="module")
def rg1(rg1_path: Path) -> Image.Image:
    return render_dicom(rg1_path)


@pytest.fixture(scope="module")
def rg3() -> Image.Image:
    return render_dicom(_testdata("RG3_UNCR.dcm"))


def _lesion(diameter_mm: float, seed: int = 7, **kw: object) -> SkinLesionParams:
    return SkinLesionParams.model_validate({"diameter_mm": diameter_mm, "seed": seed, **kw})


# ---------------------------------------------------------------- DICOM render


def test_render_rg1_is_8bit_gray_and_limited(rg1: Image.Image) -> None:
    assert rg1.mode == "L"
    assert max(rg1.size) == 1024
    # aspect ratio preserved (1841 columns x 1955 rows)
    assert rg1.size == (round(1841 * 1024 / 1955), 1024)


def test_render_rg1_lungs_darker_than_mediastinum(rg1: Image.Image) -> None:
    a = np.asarray(rg1, dtype=np.float64)
    h, w = a.shape
    rows = slice(int(0.4 * h), int(0.6 * h))
    centre = a[rows, int(0.45 * w) : int(0.55 * w)].mean()
    lateral = np.concatenate([a[rows, : w // 3].ravel(), a[rows, 2 * w // 3 :].ravel()]).mean()
    assert centre > lateral + 15, (centre, lateral)


def test_render_is_deterministic(rg1_path: Path, rg1: Image.Image) -> None:
    again = render_dicom(rg1_path)
    assert np.array_equal(np.asarray(again), np.asarray(rg1))


def test_render_max_side_and_rg3(rg3: Image.Image) -> None:
    assert rg3.mode == "L" and rg3.size == (1024, 1024)
    small = render_dicom(_testdata("RG3_UNCR.dcm"), max_side=300)
    assert max(small.size) == 300


def test_render_colour_and_ybr() -> None:
    rgb = render_dicom(_testdata("SC_rgb.dcm"))
    ybr = render_dicom(_testdata("SC_ybr_full_uncompressed.dcm"))
    assert rgb.mode == ybr.mode == "RGB"
    diff = np.abs(np.asarray(rgb, dtype=int) - np.asarray(ybr, dtype=int))
    assert diff.max() <= 8


def test_render_multiframe_defaults_to_middle_frame() -> None:
    path = _testdata("emri_small.dcm")
    n_frames = dicom_provenance(path)["NumberOfFrames"]
    assert n_frames > 1
    middle = render_dicom(path, frame=n_frames // 2)
    assert np.array_equal(np.asarray(render_dicom(path)), np.asarray(middle))
    assert not np.array_equal(np.asarray(render_dicom(path, frame=0)), np.asarray(middle))
    with pytest.raises(IndexError):
        render_dicom(path, frame=n_frames)


def test_provenance_is_descriptive_only(rg1_path: Path) -> None:
    info = dicom_provenance(rg1_path)
    assert info["Modality"] == "CR"
    assert info["BodyPartExamined"] == "CHEST"
    assert info["PhotometricInterpretation"] == "MONOCHROME1"
    assert (info["Rows"], info["Columns"]) == (1955, 1841)
    assert info["source_file"] == "RG1_UNCR.dcm"
    for key in info:
        assert "patient" not in key.lower() and "date" not in key.lower()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(rg1_path, stop_before_pixels=True)
    secrets = [str(ds.get(k, "")) for k in ("PatientName", "PatientID", "StudyDate", "PatientBirthDate")]
    text = " ".join(str(v) for v in info.values())
    for secret in secrets:
        if secret.strip():
            assert secret not in text


# --------------------------------------------------------------- generator


def test_generator_is_deterministic_per_seed() -> None:
    p = _lesion(6, asymmetry=0.5, border_irregularity=0.5, colours=["dark-brown", "black"])
    a = np.asarray(generate_skin_lesion(p))
    b = np.asarray(generate_skin_lesion(p))
    c = np.asarray(generate_skin_lesion(p.model_copy(update={"seed": p.seed + 1})))
    assert a.shape == (640, 640, 3)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_generator_truth_diameter_exact() -> None:
    p = _lesion(9, asymmetry=0.8, border_irregularity=0.8)
    _, mask = generate_skin_lesion_with_mask(p)
    ys, xs = np.nonzero(mask & ~ndimage.binary_erosion(mask))
    edge = np.stack([xs, ys], axis=1).astype(float)
    d = np.sqrt(((edge[:, None, :] - edge[None, :, :]) ** 2).sum(-1)).max() + 1.0
    assert abs(d / (9 * p.px_per_mm) - 1) < 0.05


def test_generator_rejects_bad_params() -> None:
    with pytest.raises(ValueError):
        _lesion(5, colours=["green"])
    with pytest.raises(ValueError):
        generate_skin_lesion(_lesion(40))


# ------------------------------------------------------------ skin analysis


@pytest.mark.parametrize(
    ("diameter", "kw"),
    [
        (4.0, {"skin_tone": "fair", "colours": ["light-brown"]}),
        (6.0, {"asymmetry": 0.5, "colours": ["dark-brown", "black"]}),
        (9.0, {"skin_tone": "medium", "border_irregularity": 0.6}),
        (12.0, {"px_per_mm": 15.0, "colours": ["dark-brown", "red", "blue-grey"]}),
    ],
)
def test_analyse_skin_recovers_scale_and_diameter(diameter: float, kw: dict[str, object]) -> None:
    p = _lesion(diameter, seed=int(diameter * 10), **kw)
    f = analyse_skin(generate_skin_lesion(p))
    assert f.lesion_found and f.scale_bar_found
    assert f.px_per_mm is not None and abs(f.px_per_mm / p.px_per_mm - 1) < 0.05
    assert f.diameter_mm is not None and abs(f.diameter_mm / diameter - 1) < 0.20
    assert f.area_mm2 is not None and 0 < f.area_mm2 <= np.pi / 4 * diameter**2 * 1.1


def test_analyse_skin_scores_irregular_lesion_higher() -> None:
    regular = analyse_skin(generate_skin_lesion(_lesion(8, seed=3, colours=["dark-brown"])))
    irregular = analyse_skin(
        generate_skin_lesion(
            _lesion(8, seed=3, asymmetry=1.0, border_irregularity=1.0, colours=["dark-brown", "black", "blue-grey"])
        )
    )
    assert irregular.asymmetry > regular.asymmetry + 0.1
    assert irregular.border_irregularity > regular.border_irregularity + 0.1
    assert regular.n_colours == 1
    assert irregular.n_colours >= 3 > regular.n_colours


def test_analyse_skin_without_scale_bar_has_no_mm() -> None:
    img = generate_skin_lesion(_lesion(6))
    cropped = img.crop((0, 0, img.width, img.height - 80))
    f = analyse_skin(cropped)
    assert f.lesion_found and not f.scale_bar_found
    assert f.px_per_mm is None and f.diameter_mm is None and f.diameter_px > 0


def test_compare_skin_growth_and_stability() -> None:
    current = _lesion(8, seed=11, asymmetry=0.8, border_irregularity=0.5, colours=["dark-brown", "black"])
    prior = derive_prior(current, diameter_mm=5)
    prior_img, current_img = generate_pair(prior, current)
    fp, fc = analyse_skin(prior_img), analyse_skin(current_img)
    change = compare_skin(fp, fc)
    assert change.grew
    assert change.relative_growth > GROWTH_THRESHOLD
    assert change.diameter_change_mm is not None and 2.0 < change.diameter_change_mm < 4.0
    assert change.asymmetry_change > 0
    same = compare_skin(fc, analyse_skin(current_img))
    assert not same.grew and same.relative_growth == 0.0 and same.new_colours == []
    with pytest.raises(ValueError):
        generate_pair(prior.model_copy(update={"seed": 12}), current)


def test_compare_skin_requires_lesions() -> None:
    empty = SkinFeatures.model_validate(
        analyse_skin(generate_skin_lesion(_lesion(5))).model_dump() | {"lesion_found": False}
    )
    with pytest.raises(ValueError):
        compare_skin(empty, empty)


# ------------------------------------------------------- classify/radiograph


def test_classify_image(rg1: Image.Image, rg3: Image.Image) -> None:
    assert classify_image(generate_skin_lesion(_lesion(6))) == "skin_photo"
    assert classify_image(rg1) == "radiograph"
    assert classify_image(rg3.convert("RGB")) == "radiograph"
    assert classify_image(Image.new("RGB", (64, 64), (128, 128, 128))) == "unknown"
    assert classify_image(Image.new("RGB", (64, 64), (40, 200, 60))) == "unknown"


def test_analyse_radiograph_finds_bilateral_nodules(rg1: Image.Image) -> None:
    f = analyse_radiograph(rg1)
    assert f.lung_field_found
    assert f.n_nodules >= 3 and f.n_nodules == len(f.nodules)
    assert f.bilateral and f.n_right >= 1 and f.n_left >= 1
    for n in f.nodules:
        assert 0 <= n.x < rg1.width and 0 <= n.y < rg1.height and n.diameter_px > 0
        assert (n.side == "right") == (n.x < rg1.width / 2)
    assert 0 < f.mean_intensity < 255


def test_analyse_radiograph_non_chest_says_little(rg3: Image.Image) -> None:
    f = analyse_radiograph(rg3)
    assert not f.lung_field_found
    assert f.n_nodules == 0 and not f.bilateral
