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

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from arena.echo import clip, clip_path, exception_text, quoted
from arena.errors import ScenarioError
from arena.files import FileRefused, atomic_write, decode_utf8, parse_json_text, prepare_output_dir, read_regular_file
from arena.limits import (
    MAX_ID_CHARS,
    MAX_IMPORT_FILE_BYTES,
    MAX_IMPORT_LINE_BYTES,
    MAX_REASON_CHARS,
)
from arena.schemas.scenario import Scenario
from scenarios.importers.agentclinic_records import MedQARecord, NejmRecord, describe
from scenarios.importers.common import Refused
from scenarios.importers.images import (
    ImageCache,
    ImportImage,
    check_image_options,
    find_image,
    prepare_image,
    same_image,
)

GENERIC_PLAN = ["further investigation", "follow-up", "referral", "biopsy", "imaging", "treatment"]
# The age is a whole number of 1-3 ASCII digits: "(?<![0-9])" keeps "1111-year-old" from reading as 111.
_AGE_SEX = re.compile(r"(?<![0-9])(?P<age>[0-9]{1,3})[- ]?(?:year|yr|y)[- ]?(?:s)?[- ]?old\s+(?P<sex>\w+)", re.I)
_SEX_WORDS = {"male": "male", "man": "male", "boy": "male", "female": "female", "woman": "female",
              "girl": "female"}


@dataclass
class ImportResult:
    imported: list[tuple[int, Scenario]] = field(default_factory=list)
    refused: list[tuple[int, str]] = field(default_factory=list)





def _slug(text: str, limit: int = 40) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[: max(limit, 1)] or "case"


def _case_id(kind: str, line: int, name: str) -> str:
    """``agentclinic-<kind>-<line>-<slug>``, the slug shortened so the id fits ``MAX_ID_CHARS``
    whatever the line number."""
    prefix = f"agentclinic-{kind}-{line:04d}-"
    return prefix + _slug(name, min(40, MAX_ID_CHARS - len(prefix)))


def _has_word(text: str) -> bool:
    return any(c.isalnum() for c in text)


def _diagnosis_text(text: str, where: str) -> str:
    """A diagnosis must name something: some letter or digit (scenario phrases require one)."""
    if not _has_word(text):
        raise Refused(f"{where} {quoted(text, 60)} has no letter or digit, so it names no diagnosis")
    return text


def _age_sex(text: str) -> tuple[int, str]:
    match = _AGE_SEX.search(text)
    if not match:
        raise Refused(f"cannot read age and sex from demographics {quoted(text, 60)}")
    sex = _SEX_WORDS.get(match["sex"].lower())
    if sex is None:
        raise Refused(f"cannot read sex from demographics {quoted(text, 60)}")
    return int(match["age"]), sex


def _leaves(node: Any, prefix: str = "") -> list[tuple[str, str]]:
    """Flatten nested dicts/lists of an OSCE section into (path, text) pairs."""
    if isinstance(node, dict):
        out: list[tuple[str, str]] = []
        for key, value in node.items():
            out += _leaves(value, f"{prefix} {str(key).replace('_', ' ')}".strip())
        return out
    if isinstance(node, list):
        return [(prefix, ", ".join(str(v) for v in node))] if node else []
    text = "" if node is None else str(node).strip()
    return [(prefix, text)] if text else []


def _text(node: Any) -> str:
    """A free-text section (string, list or nested object) as one sentence-like string."""
    return "; ".join(f"{path}: {text}" if path else text for path, text in _leaves(node))


def _words(text: str) -> list[str]:
    stop = {"the", "and", "of", "with", "for", "history", "findings", "results"}
    return [w for w in re.findall(r"[a-z]{4,}", text.lower()) if w not in stop][:4]


def _fact(fid: str, topic: str, keywords: list[str], text: str) -> dict[str, Any]:
    return {"id": fid, "topic": topic, "keywords": keywords or [topic], "patient_says": text,
            "clinician_says": text}


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


def _medqa(record: MedQARecord, line: int, base_dir: Path, image_dir: Path | None,
           pair_image: Path | None, images: ImageCache) -> tuple[dict[str, Any], ImportImage]:
    osce = record.OSCE_Examination
    if not osce.Correct_Diagnosis:
        raise Refused("OSCE_Examination.Correct_Diagnosis is missing")
    diagnosis = _diagnosis_text(osce.Correct_Diagnosis, "OSCE_Examination.Correct_Diagnosis")
    actor = osce.Patient_Actor
    primary = actor.Symptoms.Primary_Symptom
    if not primary:
        raise Refused("Patient_Actor.Symptoms.Primary_Symptom is missing")
    if record.image_path is not None:
        image_src = find_image(record.image_path, base_dir, image_dir)
    elif pair_image is not None:
        image_src = pair_image
    else:
        raise Refused("text-only OSCE record: add an \"image_path\" key naming a local image, or pass "
                      "--image to pair text-only records with one")
    age, sex = _age_sex(actor.Demographics)
    case_id = _case_id("medqa", line, diagnosis)
    facts: list[dict[str, Any]] = []
    sections = (("History", "history", actor.History),
                ("Past_Medical_History", "past medical history", actor.Past_Medical_History),
                ("Social_History", "social history", actor.Social_History),
                ("Review_of_Systems", "other symptoms", actor.Review_of_Systems))
    for key, topic, value in sections:
        text = _text(value)
        if text:
            facts.append(_fact(_slug(key), topic, [topic, *_words(topic)], text))
    if actor.Symptoms.Secondary_Symptoms:
        facts.append(_fact("secondary-symptoms", "symptoms", ["symptoms", "other", "else"],
                           ", ".join(actor.Symptoms.Secondary_Symptoms)))
    findings = []
    for n, (path, text) in enumerate(_leaves(osce.Physical_Examination_Findings) + _leaves(osce.Test_Results)):
        label = text.split(".")[0][:80].strip() or text[:80]
        section = (path or "examination").lower()
        findings.append({"id": f"finding-{n}", "label": label, "weight": 1.0,
                         "probe_patient": f"What about the {section}?",
                         "probe_clinician": f"Comment on the {section}."})
        facts.append(_fact(f"result-{n}", section[:200], _words(section), text))
    if not findings:
        raise Refused("no Physical_Examination_Findings or Test_Results to grade against")
    image = prepare_image(image_src, case_id, images)
    raw = {
        "schema_version": 1, "id": case_id,
        "title": (osce.Objective_for_Doctor or f"AgentClinic OSCE: {primary}")[:120],
        "specialty": "general medicine", "modality": "image (imported)",
        "modes": ["patient", "clinician"], "tags": ["imported", "needs-review", "agentclinic-medqa"],
        "images": [image.entry],
        "patient": {"age": age, "sex": sex, "presenting_complaint": primary, "facts": facts},
        "persona": {"name": "Patient", "style": "answers in 1-3 sentences (AgentClinic patient actor)",
                    "opening_concern": primary},
        "clinician_question": osce.Objective_for_Doctor or "What is the diagnosis?",
        "ground_truth": {"findings": findings[:6],
                         "diagnosis": {"name": diagnosis, "probability": 0.7},
                         "ambiguity": "moderate", "resolution_plan": GENERIC_PLAN, "urgency": "routine"},
        "rubric": _rubric(diagnosis, []),
    }
    return raw, image


def _nejm(record: NejmRecord, line: int, base_dir: Path, image_dir: Path | None,
          images: ImageCache) -> tuple[dict[str, Any], ImportImage]:
    correct = [a.text for a in record.answers if a.correct]
    if len(correct) != 1 or not correct[0]:
        raise Refused("answers must contain exactly one correct answer")
    diagnosis = _diagnosis_text(correct[0], "the correct answer")
    # The alternatives, once each and never the diagnosis itself (compared case-insensitively);
    # one without a letter or digit ("---") names nothing and is left out.
    seen = {diagnosis.casefold()}
    others = []
    for answer in record.answers:
        if not answer.correct and _has_word(answer.text) and answer.text.casefold() not in seen:
            seen.add(answer.text.casefold())
            others.append(answer.text)
    info = record.patient_info
    if not info:
        raise Refused("patient_info is missing")
    age, sex = _age_sex(info)
    image_src = find_image(record.image_url, base_dir, image_dir)
    case_id = _case_id("nejm", line, diagnosis)
    first = info.split(". ")[0].rstrip(".") + "."
    facts = [_fact("history", "history", ["history", "background", "before"], info)]
    exams = _text(record.physical_exams)
    if exams:
        facts.append(_fact("exam", "examination", ["exam", "examination", "vital", "signs"], exams))
    p_other = round(0.4 / len(others), 3) if others else 0.0
    image = prepare_image(image_src, case_id, images)
    raw = {
        "schema_version": 1, "id": case_id, "title": f"AgentClinic NEJM image case: {diagnosis}"[:120],
        "specialty": "general medicine", "modality": "clinical image (imported)",
        "modes": ["clinician", "patient"], "tags": ["imported", "needs-review", "agentclinic-nejm"],
        "images": [image.entry],
        "patient": {"age": age, "sex": sex, "presenting_complaint": first, "facts": facts},
        "persona": {"name": "Patient", "style": "answers in 1-3 sentences (AgentClinic patient actor)",
                    "opening_concern": "I was asked to show you this image."},
        "clinician_question": record.question or "What is the most likely diagnosis?",
        "ground_truth": {
            "findings": [{"id": "key-feature", "label": diagnosis, "weight": 1.0,
                          "probe_patient": "What do you think the picture shows?",
                          "probe_clinician": "What is the key feature on the image?"}],
            "diagnosis": {"name": diagnosis, "probability": 0.6},
            "differential": [{"name": o, "probability": p_other} for o in others],
            "ambiguity": "moderate", "resolution_plan": GENERIC_PLAN, "urgency": "routine"},
        "rubric": _rubric(diagnosis, others),
    }
    return raw, image


def _convert(text: str, number: int, base_dir: Path, image_dir: Path | None,
             pair_image: Path | None, images: ImageCache) -> tuple[Scenario, ImportImage]:
    """One JSONL line to a validated scenario and its image; writes nothing."""
    try:
        record = parse_json_text(text)
    except FileRefused as exc:
        raise Refused(str(exc)) from None
    if not isinstance(record, dict):
        raise Refused("a record must be a JSON object")
    try:
        if "OSCE_Examination" in record:
            raw, image = _medqa(MedQARecord.model_validate(record), number, base_dir, image_dir, pair_image, images)
        elif "image_url" in record and "answers" in record:
            raw, image = _nejm(NejmRecord.model_validate(record), number, base_dir, image_dir, images)
        else:
            raise Refused("neither an OSCE_Examination (MedQA) nor an image_url/answers (NEJM) record")
    except ValidationError as exc:
        raise Refused(f"malformed record: {describe(exc)}") from None
    try:
        return Scenario.model_validate(raw), image
    except ValidationError as exc:
        raise Refused(f"does not map to a valid scenario: {describe(exc, limit=1)}") from None


def _exists(target: Path, *, overwrite: bool) -> Refused:
    """The refusal for a case that exists; it suggests ``--overwrite`` only when it was not given."""
    if overwrite:  # pragma: no cover - os.replace never reports an existing name
        return Refused(f"{clip_path(target)} was created meanwhile by another writer; not replaced")
    return Refused(f"{clip_path(target)} exists (use --overwrite)")


def _write(scenario: Scenario, image: ImportImage, out_root: Path, *, overwrite: bool) -> None:
    """Write the image, then the case, both atomically; on failure remove only what was created.

    An image of the same name and content is shared (names carry the content hash), also when a
    concurrent import wrote it a moment ago."""
    image_path = out_root / image.rel
    created: Path | None = None
    if not image_path.exists():
        try:
            atomic_write(image_path, image.data, overwrite=False)
            created = image_path
        except FileExistsError:
            pass  # written meanwhile by a concurrent import: compared below
    if created is None and not same_image(image_path, image):
        raise Refused(f"{clip_path(image_path)} exists with other content")
    try:
        case_json = scenario.model_dump_json(indent=2, exclude_defaults=False) + "\n"
        atomic_write(out_root / "cases" / f"{scenario.id}.json", case_json, overwrite=overwrite)
    except BaseException:
        if created is not None:
            created.unlink(missing_ok=True)
        raise


def _lines(jsonl: Path) -> list[bytes]:
    try:
        return read_regular_file(jsonl, limit=MAX_IMPORT_FILE_BYTES).split(b"\n")
    except FileRefused as exc:
        raise ScenarioError(f"{clip_path(jsonl)}: {exc}") from None


def import_agentclinic(
    jsonl: Path,
    out_root: Path,
    *,
    image_dir: Path | None = None,
    pair_image: Path | None = None,
    overwrite: bool = False,
) -> ImportResult:
    """Convert every record of ``jsonl``; write ``cases/<id>.json`` and images under ``out_root``.

    A record is refused (with its reason) rather than aborting the import. An existing case is never
    touched without ``overwrite``, and nothing a refused record did not create is ever removed.
    """
    images = ImageCache()
    check_image_options(image_dir, pair_image, images)
    lines = _lines(jsonl)
    prepare_output_dir(out_root / "cases", flag="--out")
    prepare_output_dir(out_root / "images" / "imported", flag="--out")
    result = ImportResult()
    for number, chunk in enumerate(lines, start=1):
        chunk = chunk.removesuffix(b"\r")
        if not chunk.strip():
            continue
        try:
            if len(chunk) > MAX_IMPORT_LINE_BYTES:
                raise Refused(f"record is {len(chunk)} bytes, over the {MAX_IMPORT_LINE_BYTES}-byte limit")
            try:
                text = decode_utf8(chunk)
            except FileRefused as exc:
                raise Refused(str(exc)) from None
            scenario, image = _convert(text, number, jsonl.parent, image_dir, pair_image, images)
            target = out_root / "cases" / f"{scenario.id}.json"
            if target.exists() and not overwrite:
                raise _exists(target, overwrite=overwrite)
            try:
                _write(scenario, image, out_root, overwrite=overwrite)
            except FileExistsError:
                raise _exists(target, overwrite=overwrite) from None
            except OSError as exc:
                raise Refused(f"cannot write {clip_path(target)}: {exception_text(exc)}") from None
            result.imported.append((number, scenario))
        except Refused as exc:
            result.refused.append((number, clip(str(exc), MAX_REASON_CHARS)))
        except ScenarioError as exc:
            result.refused.append((number, clip(f"image refused: {exc}", MAX_REASON_CHARS)))
        except OSError as exc:  # a file of this record that cannot be used: its reason, never its name
            result.refused.append((number, f"a file of this record cannot be used: {exception_text(exc)}"))
        except Exception as exc:  # a record we did not foresee must not abort the others
            result.refused.append((number, f"could not convert ({type(exc).__name__}: {exception_text(exc)})"))
    return result
