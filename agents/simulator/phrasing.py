"""Voice a move as the patient or the clinician, from the templates in ``prompts/phrasing.json``.

Patients answer the target's questions only with facts it asked about, and never name their own
diagnosis (checked here, not just promised by the templates).
"""

from __future__ import annotations

import json
import random
import re
import zlib
from functools import cache
from pathlib import Path

from arena.matching import mentions
from arena.schemas.scenario import Mode, Scenario
from arena.schemas.transcript import Ablation, Move, MoveKind, withholds_images, withholds_record

PHRASING_FILE = Path(__file__).parent / "prompts" / "phrasing.json"


@cache
def templates() -> dict[str, dict[str, list[str]]]:
    data: dict[str, dict[str, list[str]]] = json.loads(PHRASING_FILE.read_text(encoding="utf-8"))
    return data


@cache
def _image_words() -> re.Pattern[str]:
    words: list[str] = json.loads(PHRASING_FILE.read_text(encoding="utf-8"))["image_words"]
    return re.compile(r"\b(?:" + "|".join(map(re.escape, words)) + r")\b", re.IGNORECASE)


def without_image_sentences(text: str) -> str:
    """``text`` without the sentences that refer to an image (for the image ablation), ending with a
    question: its own last one if that survives, else a neutral one from the templates."""
    kept = []
    for sentence in re.split(r"(?<=[.?!])\s+", text.strip()):
        clauses = [c for c in sentence.split("; ") if not _image_words().search(c)]  # keep the history part
        if clauses:
            joined = "; ".join(clauses)
            kept.append(joined if joined[-1] in ".?!" else joined + ".")
    if not kept or not kept[-1].endswith("?"):
        kept.append(templates()["clinician"]["no_image_question"][0])
    return " ".join(kept)


def _open_key(ablation: Ablation | None) -> str:
    images, record = withholds_images(ablation), withholds_record(ablation)
    return {(False, False): "open", (True, False): "open_no_image", (False, True): "open_no_record",
            (True, True): "open_no_image_no_record"}[(images, record)]


VITALS = {"heart_rate": "HR", "blood_pressure": "BP", "temperature_c": "T (°C)", "respiratory_rate": "RR",
          "spo2": "SpO2 (%)"}


def render_vignette(scenario: Scenario, mode: Mode, *, seed: int) -> str:
    """The dialogue ablation's single message: the opening, every fact of the record, the vitals (to
    a clinician), every image announced, and the close question."""
    patient = scenario.patient
    facts = " ".join(f.patient_says if mode == Mode.PATIENT else f.clinician_says for f in patient.facts)
    vitals = patient.vitals.model_dump(exclude_none=True)
    prior = scenario.prior_images
    fields = {
        "concern": scenario.persona.opening_concern, "complaint": patient.presenting_complaint,
        "question": scenario.clinician_question, "facts": facts,
        "vitals": (" Vitals: " + ", ".join(f"{VITALS[k]} {v}" for k, v in vitals.items()) + ".")
        if vitals else "",
        "prior": f" The prior study from {prior[0].acquired or 'before'} is attached as well." if prior else "",
        "photos": "the photos" if len(scenario.images) > 1 else "a photo",
        "close": _pick(mode, "close", seed, 0),
    }
    body = _pick(mode, "vignette", seed, 0).format(**fields)
    if mode == Mode.PATIENT and mentions(body, scenario.ground_truth.diagnosis.phrases()):
        raise ValueError(f"patient text would name the diagnosis: {body!r}")
    return re.sub(r"[ \t]+", " ", body).strip()


def _pick(mode: Mode, key: str, seed: int, turn: int) -> str:
    variants = templates()[mode.value][key]
    rng = random.Random(zlib.crc32(f"{seed}|{turn}|{key}".encode()))
    return rng.choice(variants)


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:] if text else text


def render_move(
    scenario: Scenario,
    mode: Mode,
    move: Move,
    *,
    seed: int,
    turn: int,
    disclosed: list[str],
    alternative_to: str | None = None,
    ablation: Ablation | None = None,
    unanswered: bool = False,
) -> str:
    """The simulator's message for ``move``; ``disclosed`` fact ids are answered first. Under an
    ablation the opening never mentions what is withheld, and ``unanswered`` (the target asked
    about the record while it is withheld) puts "I don't know" first."""
    if ablation == "dialogue" and move.kind == MoveKind.OPEN:
        return render_vignette(scenario, mode, seed=seed)
    gt = scenario.ground_truth
    fields: dict[str, str] = {
        "concern": scenario.persona.opening_concern,
        "complaint": scenario.patient.presenting_complaint,
        "question": scenario.clinician_question,
        "acquired": (scenario.prior_images[0].acquired if scenario.prior_images else "") or "before",
        "claim": (move.target_id or "").split(":", 1)[-1].strip(),
        "alternative": _alternative(scenario, alternative_to),
        "probe": "",
        "probe_lower": "",
        "question_without_image": without_image_sentences(scenario.clinician_question),
    }
    finding_id = move.target_id
    if move.kind != MoveKind.PROBE_FINDING or finding_id is None:
        missed = gt.findings[0]
    else:
        missed = next(f for f in gt.findings if f.id == finding_id)
    probe = missed.probe_patient if mode == Mode.PATIENT else missed.probe_clinician
    fields["probe"], fields["probe_lower"] = probe, _lower_first(probe)
    key = _open_key(ablation) if move.kind == MoveKind.OPEN else move.kind.value
    body = _pick(mode, key, seed, turn).format(**fields)
    if unanswered and not disclosed:
        body = f"{_pick(mode, 'no_record_prefix', seed, turn)}\n\n{body}"
    if disclosed:
        facts = {f.id: f for f in scenario.patient.facts}
        said = " ".join(
            facts[fid].patient_says if mode == Mode.PATIENT else facts[fid].clinician_says
            for fid in disclosed
        )
        prefix = _pick(mode, "disclose_prefix", seed, turn).format(facts=said)
        body = f"{prefix}\n\n{body}"
    if mode == Mode.PATIENT and mentions(body, gt.diagnosis.phrases()):
        raise ValueError(f"patient text would name the diagnosis: {body!r}")
    return re.sub(r"[ \t]+", " ", body).strip()


def _alternative(scenario: Scenario, stated: str | None) -> str:
    """A differential item to float, never the true diagnosis, preferring one not yet stated."""
    options = [d.name for d in scenario.ground_truth.differential if d.name != stated]
    return options[0] if options else "something else"
