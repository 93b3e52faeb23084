"""Regenerate ``tests/data/broken_scenarios``: one valid case and one case per kind of defect.

Run from the repository root: ``python tests/data/make_broken.py``.
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).with_name("broken_scenarios")


def png(size: tuple[int, int], mode: str = "L") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, 80).save(buffer, format="PNG")
    return buffer.getvalue()


def base(case_id: str, image: str, digest: str) -> dict[str, object]:
    return {
        "schema_version": 1,
        "id": case_id,
        "title": "Test case",
        "specialty": "radiology",
        "modality": "radiograph",
        "modes": ["clinician"],
        "tags": ["benign"],
        "images": [{
            "id": "current", "path": image, "sha256": digest, "role": "current",
            "source": {"kind": "file", "origin": "made by tests/data/make_broken.py", "licence": "CC0"},
        }],
        "patient": {"age": 40, "sex": "female", "presenting_complaint": "A cough.", "facts": []},
        "persona": {"name": "Ann", "style": "brief", "opening_concern": "I have a cough."},
        "clinician_question": "What do you see?",
        "ground_truth": {
            "findings": [{"id": "f", "label": "opacity", "probe_patient": "Anything there?",
                          "probe_clinician": "Describe the lung fields."}],
            "diagnosis": {"name": "pneumonia", "probability": 0.7},
            "ambiguity": "low",
            "resolution_plan": ["repeat film"],
        },
        "rubric": [{"id": "r", "text": "names it", "points": 3, "dimension": "accuracy",
                    "check": {"any_of": ["pneumonia"]}}],
    }


def main() -> None:
    (ROOT / "cases").mkdir(parents=True, exist_ok=True)
    (ROOT / "images").mkdir(exist_ok=True)
    good = png((64, 64))
    (ROOT / "images" / "good.png").write_bytes(good)
    corrupt = good[: len(good) // 2]
    (ROOT / "images" / "corrupt.png").write_bytes(corrupt)
    bomb = png((9000, 9000), mode="1")
    (ROOT / "images" / "bomb.png").write_bytes(bomb)
    sha = {name: hashlib.sha256(data).hexdigest() for name, data in
           (("good", good), ("corrupt", corrupt), ("bomb", bomb))}

    cases: dict[str, dict[str, object]] = {}
    cases["good"] = base("good", "images/good.png", sha["good"])
    c = base("unknown-field", "images/good.png", sha["good"])
    c["ground_truth"]["diagnosys"] = "typo"  # type: ignore[index]
    cases["unknown-field"] = c
    cases["missing-image"] = base("missing-image", "images/nope.png", sha["good"])
    cases["sha-mismatch"] = base("sha-mismatch", "images/good.png", "0" * 64)
    cases["undecodable"] = base("undecodable", "images/corrupt.png", sha["corrupt"])
    cases["bomb"] = base("bomb", "images/bomb.png", sha["bomb"])
    cases["escaping-path"] = base("escaping-path", "../../secrets.png", sha["good"])
    c = base("bad-dimension", "images/good.png", sha["good"])
    c["rubric"][0]["dimension"] = "charm"  # type: ignore[index]
    cases["bad-dimension"] = c
    c = base("leaky-persona", "images/good.png", sha["good"])
    c["persona"]["opening_concern"] = "I think it is pneumonia."  # type: ignore[index]
    cases["leaky-persona"] = c
    cases["id-mismatch"] = copy.deepcopy(cases["good"])
    for name, case in cases.items():
        (ROOT / "cases" / f"{name}.json").write_text(json.dumps(case, indent=2) + "\n")
    (ROOT / "cases" / "invalid-json.json").write_text('{"id": "invalid-json",\n  "title": }\n')


if __name__ == "__main__":
    main()
