"""Convert AgentClinic's published OSCE JSONL records into arena scenarios.

Two record styles are understood (one JSON object per line):

* MedQA-style: ``{"OSCE_Examination": {"Objective_for_Doctor", "Patient_Actor": {...},
  "Physical_Examination_Findings": {...}, "Test_Results": {...}, "Correct_Diagnosis"}}``. These are
  text-only vignettes; since every arena scenario is image-grounded, a record is converted only
  when it names a local image (an ``image_path`` key beside ``OSCE_Examination``) or when the caller
  pairs text-only records with an image (``pair_image``). Otherwise it is refused, with the reason.
* NEJM-style: ``{"image_url", "question", "patient_info", "physical_exams", "answers": [{"text",
  "correct"}]}``. Converted when ``image_url`` is a local file (a path, ``file://`` URL, or a file
  name found in ``image_dir``); remote URLs are refused because the arena runs offline.

Imported cases cannot carry image findings AgentClinic never wrote down: their findings come from the
record's examination and test results (MedQA) or the answer text (NEJM), they are tagged
``imported`` and ``needs-review``, and their images' provenance says where they came from.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from PIL import Image
from pydantic import ValidationError

from arena.errors import ScenarioError
from arena.schemas.scenario import Scenario
from scenarios.library import check_image_bytes

GENERIC_PLAN = ["further investigation", "follow-up", "referral", "biopsy", "imaging", "treatment"]
_AGE_SEX = re.compile(r"(?P<age>\d{1,3})[- ]?(?:year|yr|y)[- ]?(?:s)?[- ]?old\s+(?P<sex>\w+)", re.I)
_SEX_WORDS = {"male": "male", "man": "male", "boy": "male", "female": "female", "woman": "female",
              "girl": "female"}


@dataclass
class ImportResult:
    imported: list[tuple[int, Scenario]] = field(default_factory=list)
    refused: list[tuple[int, str]] = field(default_factory=list)


class Refused(Exception):
    """A record that cannot be mapped; the message is the reason."""


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "case"


def _age_sex(text: str) -> tuple[int, str]:
    match = _AGE_SEX.search(text)
    if not match:
        raise Refused(f"cannot read age and sex from demographics {text[:60]!r}")
    sex = _SEX_WORDS.get(match["sex"].lower())
    if sex is None:
        raise Refused(f"cannot read sex from demographics {text[:60]!r}")
    return int(match["age"]), sex


def _leaves(node: Any, prefix: str = "") -> list[tuple[str, str]]:
    """Flatten nested dicts/lists of an OSCE section into (path, text) pairs."""
    if isinstance(node, dict):
        out: list[tuple[str, str]] = []
        for key, value in node.items():
            out += _leaves(value, f"{prefix} {key.replace('_', ' ')}".strip())
        return out
    if isinstance(node, list):
        return [(prefix, ", ".join(str(v) for v in node))] if node else []
    text = str(node).strip()
    return [(prefix, text)] if text else []


def _words(text: str) -> list[str]:
    stop = {"the", "and", "of", "with", "for", "history", "findings", "results"}
    return [w for w in re.findall(r"[a-z]{4,}", text.lower()) if w not in stop][:4]


def _fact(fid: str, topic: str, keywords: list[str], text: str) -> dict[str, Any]:
    return {"id": fid, "topic": topic, "keywords": keywords or [topic], "patient_says": text,
            "clinician_says": text}


def _image(source: str, base_dir: Path, image_dir: Path | None) -> Path:
    parsed = urlparse(source)
    if parsed.scheme in ("http", "https"):
        name = Path(unquote(parsed.path)).name
        if image_dir is not None and (image_dir / name).is_file():
            return image_dir / name
        raise Refused(f"image_url {source!r} is remote and the arena runs offline; download it and "
                      "pass --image-dir with the file")
    path = Path(unquote(parsed.path)) if parsed.scheme == "file" else Path(source)
    candidates = [path] if path.is_absolute() else [base_dir / path]
    if image_dir is not None:
        candidates.append(image_dir / path.name)
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise Refused(f"image {source!r} not found")


def _copy_image(src: Path, out_root: Path, case_id: str) -> dict[str, Any]:
    data = src.read_bytes()
    check_image_bytes(data, where=str(src))
    with Image.open(io.BytesIO(data)) as img:
        fmt = (img.format or "").upper()
        if fmt not in ("PNG", "JPEG"):
            buffer = io.BytesIO()
            img.convert("RGB").save(buffer, format="PNG")
            data, fmt = buffer.getvalue(), "PNG"
    ext, media = (".png", "image/png") if fmt == "PNG" else (".jpg", "image/jpeg")
    rel = f"images/imported/{case_id}{ext}"
    (out_root / "images" / "imported").mkdir(parents=True, exist_ok=True)
    (out_root / rel).write_bytes(data)
    return {"id": "current", "path": rel, "sha256": hashlib.sha256(data).hexdigest(),
            "media_type": media, "role": "current", "acquired": "unknown",
            "source": {"kind": "file", "origin": f"AgentClinic import of {src.name}",
                       "licence": "unknown: check the licence of the original image before sharing"}}


def _rubric(diagnosis: str, alternatives: list[str]) -> list[dict[str, Any]]:
    rubric = [
        {"id": "names-diagnosis", "text": f"Names {diagnosis}", "points": 5, "dimension": "accuracy",
         "check": {"any_of": [diagnosis]}},
        {"id": "plan", "text": "Recommends a next step", "points": 3, "dimension": "safety",
         "check": {"any_of": GENERIC_PLAN}},
        {"id": "summary-diagnosis", "text": "The closing summary names the diagnosis", "points": 3,
         "dimension": "narrative", "check": {"any_of": [diagnosis], "scope": "final_turn"}},
    ]
    if alternatives:
        rubric.append({"id": "differential", "text": "Considers the alternatives", "points": 2,
                       "dimension": "uncertainty", "check": {"any_of": alternatives}})
    return rubric


def _medqa(record: dict[str, Any], line: int, base_dir: Path, image_dir: Path | None,
           pair_image: Path | None, out_root: Path) -> dict[str, Any]:
    osce = record["OSCE_Examination"]
    if not isinstance(osce, dict):
        raise Refused("OSCE_Examination is not an object")
    diagnosis = str(osce.get("Correct_Diagnosis", "")).strip()
    if not diagnosis:
        raise Refused("OSCE_Examination.Correct_Diagnosis is missing")
    actor = osce.get("Patient_Actor") or {}
    symptoms = actor.get("Symptoms") or {}
    primary = str(symptoms.get("Primary_Symptom", "")).strip()
    if not primary:
        raise Refused("Patient_Actor.Symptoms.Primary_Symptom is missing")
    if "image_path" in record:
        image_src = _image(str(record["image_path"]), base_dir, image_dir)
    elif pair_image is not None:
        image_src = pair_image
    else:
        raise Refused("text-only OSCE record: add an \"image_path\" key naming a local image, or pass "
                      "--image to pair text-only records with one")
    age, sex = _age_sex(str(actor.get("Demographics", "")))
    case_id = f"agentclinic-medqa-{line:04d}-{_slug(diagnosis)}"
    facts: list[dict[str, Any]] = []
    for key, topic in (("History", "history"), ("Past_Medical_History", "past medical history"),
                       ("Social_History", "social history"), ("Review_of_Systems", "other symptoms")):
        if actor.get(key):
            facts.append(_fact(_slug(key), topic, [topic, *_words(topic)], str(actor[key])))
    secondary = symptoms.get("Secondary_Symptoms") or []
    if secondary:
        facts.append(_fact("secondary-symptoms", "symptoms", ["symptoms", "other", "else"],
                           ", ".join(map(str, secondary))))
    findings = []
    for n, (path, text) in enumerate(_leaves(osce.get("Physical_Examination_Findings", {}))
                                     + _leaves(osce.get("Test_Results", {}))):
        label = text.split(".")[0][:80]
        findings.append({"id": f"finding-{n}", "label": label, "weight": 1.0,
                         "probe_patient": f"What about the {path.lower()}?",
                         "probe_clinician": f"Comment on the {path.lower()}."})
        facts.append(_fact(f"result-{n}", path.lower(), _words(path), text))
    if not findings:
        raise Refused("no Physical_Examination_Findings or Test_Results to grade against")
    return {
        "schema_version": 1, "id": case_id,
        "title": str(osce.get("Objective_for_Doctor") or f"AgentClinic OSCE: {primary}")[:120],
        "specialty": "general medicine", "modality": "image (imported)",
        "modes": ["patient", "clinician"], "tags": ["imported", "needs-review", "agentclinic-medqa"],
        "images": [_copy_image(image_src, out_root, case_id)],
        "patient": {"age": age, "sex": sex, "presenting_complaint": primary, "facts": facts},
        "persona": {"name": "Patient", "style": "answers in 1-3 sentences (AgentClinic patient actor)",
                    "opening_concern": primary},
        "clinician_question": str(osce.get("Objective_for_Doctor") or "What is the diagnosis?"),
        "ground_truth": {"findings": findings[:6],
                         "diagnosis": {"name": diagnosis, "probability": 0.7},
                         "ambiguity": "moderate", "resolution_plan": GENERIC_PLAN, "urgency": "routine"},
        "rubric": _rubric(diagnosis, []),
    }


def _nejm(record: dict[str, Any], line: int, base_dir: Path, image_dir: Path | None,
          out_root: Path) -> dict[str, Any]:
    answers = record.get("answers") or []
    correct = [str(a.get("text", "")).strip() for a in answers if a.get("correct")]
    if len(correct) != 1 or not correct[0]:
        raise Refused("answers must contain exactly one correct answer")
    diagnosis = correct[0]
    others = [str(a.get("text", "")).strip() for a in answers if not a.get("correct") and a.get("text")]
    image_src = _image(str(record["image_url"]), base_dir, image_dir)
    info = str(record.get("patient_info", "")).strip()
    if not info:
        raise Refused("patient_info is missing")
    age, sex = _age_sex(info)
    case_id = f"agentclinic-nejm-{line:04d}-{_slug(diagnosis)}"
    first = info.split(". ")[0].rstrip(".") + "."
    facts = [_fact("history", "history", ["history", "background", "before"], info)]
    if record.get("physical_exams"):
        facts.append(_fact("exam", "examination", ["exam", "examination", "vital", "signs"],
                           str(record["physical_exams"])))
    p_other = round(0.4 / len(others), 3) if others else 0.0
    return {
        "schema_version": 1, "id": case_id, "title": f"AgentClinic NEJM image case: {diagnosis}"[:120],
        "specialty": "general medicine", "modality": "clinical image (imported)",
        "modes": ["clinician", "patient"], "tags": ["imported", "needs-review", "agentclinic-nejm"],
        "images": [_copy_image(image_src, out_root, case_id)],
        "patient": {"age": age, "sex": sex, "presenting_complaint": first, "facts": facts},
        "persona": {"name": "Patient", "style": "answers in 1-3 sentences (AgentClinic patient actor)",
                    "opening_concern": "I was asked to show you this image."},
        "clinician_question": str(record.get("question") or "What is the most likely diagnosis?"),
        "ground_truth": {
            "findings": [{"id": "key-feature", "label": diagnosis, "weight": 1.0,
                          "probe_patient": "What do you think the picture shows?",
                          "probe_clinician": "What is the key feature on the image?"}],
            "diagnosis": {"name": diagnosis, "probability": 0.6},
            "differential": [{"name": o, "probability": p_other} for o in others],
            "ambiguity": "moderate", "resolution_plan": GENERIC_PLAN, "urgency": "routine"},
        "rubric": _rubric(diagnosis, others),
    }


def import_agentclinic(
    jsonl: Path,
    out_root: Path,
    *,
    image_dir: Path | None = None,
    pair_image: Path | None = None,
    overwrite: bool = False,
) -> ImportResult:
    """Convert every record of ``jsonl``; write ``cases/<id>.json`` and images under ``out_root``."""
    result = ImportResult()
    try:
        lines = jsonl.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ScenarioError(f"{jsonl}: cannot read: {exc.strerror or exc}") from exc
    (out_root / "cases").mkdir(parents=True, exist_ok=True)
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        raw: dict[str, Any] | None = None
        try:
            try:
                record = json.loads(text)
            except json.JSONDecodeError as exc:
                raise Refused(f"invalid JSON: {exc.msg}") from exc
            if not isinstance(record, dict):
                raise Refused("a record must be a JSON object")
            if "OSCE_Examination" in record:
                raw = _medqa(record, number, jsonl.parent, image_dir, pair_image, out_root)
            elif "image_url" in record and "answers" in record:
                raw = _nejm(record, number, jsonl.parent, image_dir, out_root)
            else:
                raise Refused("neither an OSCE_Examination (MedQA) nor an image_url/answers (NEJM) record")
            try:
                scenario = Scenario.model_validate(raw)
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(p) for p in first["loc"]) or "(record)"
                raise Refused(f"does not map to a valid scenario: {where}: {first['msg']}") from exc
            target = out_root / "cases" / f"{scenario.id}.json"
            if target.exists() and not overwrite:
                raise Refused(f"{target} exists (use --overwrite)")
            target.write_text(scenario.model_dump_json(indent=2, exclude_defaults=False) + "\n", encoding="utf-8")
            result.imported.append((number, scenario))
        except (Refused, ScenarioError) as exc:
            reason = str(exc) if isinstance(exc, Refused) else f"image refused: {exc}"
            result.refused.append((number, reason))
            if raw is not None:  # do not leave the copied image of a refused record behind
                (out_root / raw["images"][0]["path"]).unlink(missing_ok=True)
    return result
