"""Measure scenario validation on cases at and beyond the size caps (issue 6: 20,000 synonyms < 2 s).

Usage: ``python benchmarks/validation.py [--quick]``. Writes cases to a temporary folder and times
``scenarios.library.validate_paths`` (parse, schema, diagnosis-leak check, image checks) on:

* a case with 100 findings x 200 synonyms = 20,000 synonyms, 200 diagnosis synonyms and 200
  patient facts (all within the caps, so it validates);
* a case whose diagnosis has 20,000 synonyms in one list (over the cap: refused by the schema);
* a case file of 4 MiB of padding in a description (at the file-size cap).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from PIL import Image

from arena.limits import MAX_FACTS, MAX_FINDINGS, MAX_PHRASES_PER_LIST
from scenarios.library import validate_paths


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (64, 64), 90).save(buffer, format="PNG")
    return buffer.getvalue()


def _case(case_id: str, sha: str, *, findings: int, synonyms: int, dx_synonyms: int, facts: int) -> dict[str, Any]:
    return {
        "schema_version": 1, "id": case_id, "title": "Scale test", "specialty": "radiology",
        "modality": "radiograph", "modes": ["patient", "clinician"], "tags": ["benign"],
        "images": [{"id": "current", "path": "images/p.png", "sha256": sha,
                    "source": {"kind": "file", "origin": "benchmark", "licence": "CC0"}}],
        "patient": {"age": 40, "sex": "female", "presenting_complaint": "A cough for a week.",
                    "facts": [{"id": f"fact{n}", "topic": "history", "keywords": ["history", f"k{n}"],
                               "patient_says": f"I had fact number {n} last year and it went away.",
                               "clinician_says": f"History of item {n}."} for n in range(facts)]},
        "persona": {"name": "Ann", "style": "brief", "opening_concern": "I have a cough."},
        "clinician_question": "What do you see?",
        "ground_truth": {
            "findings": [{"id": f"f{n}", "label": f"finding {n}",
                          "synonyms": [f"sign {n} variant {k}" for k in range(synonyms)],
                          "probe_patient": f"Is there anything at spot {n}?",
                          "probe_clinician": f"Comment on region {n}."} for n in range(findings)],
            "diagnosis": {"name": "pneumonia", "probability": 0.7,
                          "synonyms": [f"pneumonitis type {k}" for k in range(dx_synonyms)]},
            "ambiguity": "low", "resolution_plan": ["repeat film"],
        },
        "rubric": [{"id": "r", "text": "names it", "points": 3, "dimension": "accuracy",
                    "check": {"any_of": ["pneumonia"]}}],
    }


def _time(path: Path, repeat: int) -> tuple[float, int]:
    times, problems = [], 0
    for _ in range(repeat):
        start = time.perf_counter()
        _, found = validate_paths([path])
        times.append(time.perf_counter() - start)
        problems = len(found)
    return statistics.median(times), problems


def main(quick: bool) -> None:
    repeat = 1 if quick else 3
    scale = 10 if quick else 1
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "cases").mkdir()
        (root / "images").mkdir()
        png = _png()
        (root / "images" / "p.png").write_bytes(png)
        sha = hashlib.sha256(png).hexdigest()
        rows = []
        big = _case("within-caps", sha, findings=MAX_FINDINGS // scale, synonyms=MAX_PHRASES_PER_LIST,
                    dx_synonyms=MAX_PHRASES_PER_LIST - 1, facts=MAX_FACTS // scale)
        over = _case("over-cap", sha, findings=1, synonyms=1, dx_synonyms=20_000 // scale, facts=1)
        padded = _case("padded", sha, findings=1, synonyms=1, dx_synonyms=1, facts=1)
        padded["images"][0]["description"] = "x" * (4 * 1024 * 1024 // scale - 4096)
        for case in (big, over, padded):
            path = root / "cases" / f"{case['id']}.json"
            path.write_text(json.dumps(case))
            synonyms = sum(len(f["synonyms"]) for f in case["ground_truth"]["findings"])
            synonyms += len(case["ground_truth"]["diagnosis"]["synonyms"])
            seconds, problems = _time(path, repeat)
            rows.append((case["id"], synonyms, path.stat().st_size, seconds, problems))
    print(f"{'case':<14}{'synonyms':>10}{'file KB':>10}{'validate s':>12}{'problems':>10}")
    for name, synonyms, size, seconds, problems in rows:
        print(f"{name:<14}{synonyms:>10}{size / 1024:>10.0f}{seconds:>12.3f}{problems:>10}")
    print("target: a case with 20,000 synonyms validates in under 2 s" + (" (quick: 1/10 size)" if quick else ""))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, one repetition (for tests)")
    main(parser.parse_args().quick)
