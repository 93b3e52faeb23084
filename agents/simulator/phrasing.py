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
from arena.schemas.transcript import Move, MoveKind

PHRASING_FILE = Path(__file__).parent / "prompts" / "phrasing.json"


@cache
def templates() -> dict[str, dict[str, list[str]]]:
    data: dict[str, dict[str, list[str]]] = json.loads(PHRASING_FILE.read_text(encoding="utf-8"))
    return data


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
) -> str:
    """The simulator's message for ``move``; ``disclosed`` fact ids are answered first."""
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
    }
    finding_id = move.target_id
    if move.kind != MoveKind.PROBE_FINDING or finding_id is None:
        missed = gt.findings[0]
    else:
        missed = next(f for f in gt.findings if f.id == finding_id)
    probe = missed.probe_patient if mode == Mode.PATIENT else missed.probe_clinician
    fields["probe"], fields["probe_lower"] = probe, _lower_first(probe)
    body = _pick(mode, move.kind.value, seed, turn).format(**fields)
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
