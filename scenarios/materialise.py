"""Re-create scenario images from their recorded source and pin their sha256.

``python -m scenarios.materialise`` writes every regenerable image (DICOM renders from installed
packages, procedural generators) to its path and updates the ``sha256`` in the scenario file.
``--check`` only verifies that each regenerated image has the same pixels as the stored file.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import sys

import numpy as np
from PIL import Image

from arena.files import atomic_write
from arena.schemas.scenario import ImageSource
from scenarios.library import SCENARIOS_ROOT, load_scenario_file

GENERATORS: dict[str, tuple[str, str, str]] = {
    # origin: (module, params class, function)
    "skin_lesion": ("scenarios.generators.skin", "SkinLesionParams", "generate_skin_lesion"),
    "chest_phantom": ("scenarios.generators.chest", "ChestPhantomParams", "generate_chest_phantom"),
    "fundus_phantom": ("scenarios.generators.fundus", "FundusPhantomParams", "generate_fundus_phantom"),
}


def _int_param(params: dict[str, object], key: str, default: int | None) -> int | None:
    value = params.get(key, default)
    if value is None:
        return None
    if not isinstance(value, int):
        raise ValueError(f"params.{key} must be an integer")
    return value


def _finish(image: Image.Image, params: dict[str, object]) -> Image.Image:
    """Apply the common render params: crop (to drop burned-in text), then max_side."""
    crop = params.get("crop")
    if crop is not None:
        if not (isinstance(crop, list) and len(crop) == 4 and all(isinstance(v, int) for v in crop)):
            raise ValueError("params.crop must be [left, top, right, bottom] in pixels")
        image = image.crop((crop[0], crop[1], crop[2], crop[3]))
    max_side = _int_param(params, "max_side", None)
    if max_side is not None and max(image.size) > max_side:
        scale = max_side / max(image.size)
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        image = image.resize(size, Image.Resampling.LANCZOS)
    return image


def render_source(source: ImageSource) -> Image.Image | None:
    """The image ``source`` describes, or None when it is a plain file (not regenerable)."""
    params = source.params
    if source.kind == "dicom":
        from pydicom.data import get_testdata_file

        from scenarios.imaging.dicom_render import render_dicom

        package, _, name = source.origin.partition(":")
        if package not in ("pydicom", "pydicom-data"):
            raise ValueError(f"unknown DICOM package {package!r} in origin {source.origin!r}")
        path = get_testdata_file(name)
        if path is None:
            raise FileNotFoundError(f"{name} not found in {package}; is it installed?")
        # Render at full size first so a crop is in the file's own pixel coordinates.
        image = render_dicom(str(path), frame=_int_param(params, "frame", None), max_side=100_000)
        return _finish(image, {"max_side": 1024, **params})
    if source.kind == "skimage":
        from skimage import data as skdata

        package, _, name = source.origin.partition(":")
        loader = getattr(skdata, name, None) if package == "skimage" else None
        if loader is None or name.startswith("_"):
            raise ValueError(f"unknown scikit-image dataset in origin {source.origin!r}")
        return _finish(Image.fromarray(loader()), params)
    if source.kind == "generator":
        if source.origin not in GENERATORS:
            raise ValueError(f"unknown generator {source.origin!r}; known: {', '.join(GENERATORS)}")
        import importlib

        module_name, params_name, function_name = GENERATORS[source.origin]
        module = importlib.import_module(module_name)
        model = getattr(module, params_name).model_validate(params)
        image = getattr(module, function_name)(model)
        assert isinstance(image, Image.Image)
        return image
    return None


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def same_pixels(a: Image.Image, b: Image.Image) -> bool:
    return a.mode == b.mode and a.size == b.size and np.array_equal(np.asarray(a), np.asarray(b))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scenarios.materialise")
    parser.add_argument("--check", action="store_true", help="verify, write nothing")
    args = parser.parse_args(argv)
    failures = 0
    for case in sorted((SCENARIOS_ROOT / "cases").glob("*.json")):
        raw = json.loads(case.read_text(encoding="utf-8"))
        scenario = load_scenario_file(case) if args.check else None
        for entry in raw["images"]:
            source = ImageSource.model_validate(entry["source"])
            image = render_source(source)
            if image is None:
                continue
            target = SCENARIOS_ROOT / entry["path"]
            if args.check:
                assert scenario is not None
                with Image.open(target) as stored:
                    stored.load()
                    ok = same_pixels(stored, image)
                print(f"{'ok  ' if ok else 'DIFF'} {case.name}: {entry['path']}")
                failures += 0 if ok else 1
                continue
            data = png_bytes(image)
            target.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(target, data)
            entry["sha256"] = hashlib.sha256(data).hexdigest()
            print(f"wrote {entry['path']} ({len(data)} bytes) sha256 {entry['sha256']}")
        if not args.check:
            atomic_write(case, json.dumps(raw, indent=2, ensure_ascii=False) + "\n")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
