from __future__ import annotations

import hashlib
import io
import json
import shutil
from pathlib import Path

import pytest
from PIL import Image

from arena.errors import ScenarioError, UsageError
from scenarios.library import SCENARIOS_ROOT, ScenarioLibrary, check_image_bytes
from scenarios.materialise import render_source, same_pixels


def _copy_case(tmp_path: Path, case_id: str) -> tuple[ScenarioLibrary, dict[str, object], Path]:
    (tmp_path / "cases").mkdir()
    (tmp_path / "images").mkdir()
    src = SCENARIOS_ROOT / "cases" / f"{case_id}.json"
    raw = json.loads(src.read_text())
    for image in raw["images"]:
        shutil.copy(SCENARIOS_ROOT / image["path"], tmp_path / image["path"])
    path = tmp_path / "cases" / f"{case_id}.json"
    path.write_text(json.dumps(raw))
    return ScenarioLibrary(tmp_path), raw, path


def test_unknown_scenario_names_valid_choices(library: ScenarioLibrary) -> None:
    with pytest.raises(UsageError) as err:
        library.get("no-such-case")
    assert "no-such-case" in str(err.value) and "derm-changing-mole" in str(err.value)


def test_sha256_mismatch_names_file_and_field(tmp_path: Path) -> None:
    lib, raw, path = _copy_case(tmp_path, "cxr-multiple-nodules")
    raw["images"][0]["sha256"] = "1" * 64  # type: ignore[index]
    path.write_text(json.dumps(raw))
    scenario = lib.get("cxr-multiple-nodules")
    with pytest.raises(ScenarioError, match=r"cxr-multiple-nodules\.json: images\[current\]\.sha256"):
        lib.image_bytes(scenario)


def test_corrupt_image_is_refused_with_reason(tmp_path: Path) -> None:
    lib, raw, path = _copy_case(tmp_path, "cxr-multiple-nodules")
    image_path = tmp_path / raw["images"][0]["path"]  # type: ignore[index]
    data = image_path.read_bytes()[:5000]
    image_path.write_bytes(data)
    raw["images"][0]["sha256"] = hashlib.sha256(data).hexdigest()  # type: ignore[index]
    path.write_text(json.dumps(raw))
    with pytest.raises(ScenarioError, match="does not decode"):
        lib.image_bytes(lib.get("cxr-multiple-nodules"))


def test_malformed_scenario_names_file_and_field(tmp_path: Path) -> None:
    lib, raw, path = _copy_case(tmp_path, "cxr-multiple-nodules")
    raw["patient"]["age"] = "old"  # type: ignore[index]
    path.write_text(json.dumps(raw))
    with pytest.raises(ScenarioError, match=r"cxr-multiple-nodules\.json: patient\.age"):
        lib.get("cxr-multiple-nodules")


def test_decompression_bomb_is_refused() -> None:
    buffer = io.BytesIO()
    Image.new("1", (9000, 9000)).save(buffer, format="PNG")
    data = buffer.getvalue()
    assert len(data) < 100_000  # tiny file, 81 M pixels
    with pytest.raises(ScenarioError, match="bomb"):
        check_image_bytes(data, where="test")


def test_images_regenerate_pixel_for_pixel(library: ScenarioLibrary) -> None:
    for scenario in library.all():
        for image in scenario.images:
            rendered = render_source(image.source)
            assert rendered is not None, image.path
            with Image.open(SCENARIOS_ROOT / image.path) as stored:
                stored.load()
                assert same_pixels(stored, rendered), f"{scenario.id}:{image.id} differs from its source"


def test_committed_images_carry_no_metadata(library: ScenarioLibrary) -> None:
    """Rendered images keep pixels only: no text chunks, EXIF or DICOM tags travel with them."""
    for scenario in library.all():
        for image in scenario.images:
            with Image.open(SCENARIOS_ROOT / image.path) as img:
                assert not getattr(img, "text", {}), (scenario.id, image.id, img.text)
                assert "exif" not in img.info, (scenario.id, image.id)


def test_image_bytes_are_read_once_per_library(tmp_path: Path) -> None:
    """Every encounter of a scenario shares one verified copy of its images (demo --all holds 43
    scenarios' images, not 258 copies)."""
    lib = ScenarioLibrary()
    first = lib.image_bytes(lib.get("derm-changing-mole"))
    second = lib.image_bytes(lib.get("derm-changing-mole"))
    assert first.keys() == second.keys() and all(first[k] is second[k] for k in first)
    assert ScenarioLibrary().image_bytes(lib.get("derm-changing-mole"))["current"] == first["current"]
