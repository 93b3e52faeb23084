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

from arena.schemas.scenario import ImageSource
from scenarios.library import SCENARIOS_ROOT, load_scenario_file


def render_source(source: ImageSource) -> Image.Image | None:
    """The image ``source`` describes, or None when it is a plain file (not regenerable)."""
    if source.kind == "dicom":
        from pydicom.data import get_testdata_file

        from scenarios.imaging.dicom_render import render_dicom

        package, _, name = source.origin.partition(":")
        path = get_testdata_file(name)
        if path is None:
            raise FileNotFoundError(f"{name} not found in {package}; is it installed?")
        frame = source.params.get("frame")
        max_side = source.params.get("max_side", 1024)
        return render_dicom(str(path), frame=frame if isinstance(frame, int) else None,
                            max_side=int(max_side) if isinstance(max_side, int) else 1024)
    if source.kind == "generator":
        if source.origin != "skin_lesion":
            raise ValueError(f"unknown generator {source.origin!r}")
        from scenarios.generators.skin import SkinLesionParams, generate_skin_lesion

        return generate_skin_lesion(SkinLesionParams.model_validate(source.params))
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
            target.write_bytes(data)
            entry["sha256"] = hashlib.sha256(data).hexdigest()
            print(f"wrote {entry['path']} ({len(data)} bytes) sha256 {entry['sha256']}")
        if not args.check:
            case.write_text(json.dumps(raw, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
