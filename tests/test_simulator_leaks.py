"""The simulator never hands the target a phrase the judge rewards, and a lay patient speaks lay words.

A target that only repeats the question back must earn nothing: the library's openings, probes and
facts are checked by ``arena scenarios validate`` (``scenarios.leaks``), every template variant is
rendered against every case here, and an echo target is played through every case in both modes.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from agents.simulator import assess
from agents.simulator.assess import URGENCY_WORDS, assess_answer
from agents.simulator.phrasing import render_move, templates
from agents.simulator.policy import RuleBasedPolicy
from agents.simulator.voice import TemplateVoice
from arena.cli import main
from arena.clients.scripted import ScriptedClient
from arena.composition import run_encounter
from arena.matching import first_mentioned
from arena.protocols import PolicyView, Simulator
from arena.schemas.messages import ModelRequest
from arena.schemas.scenario import Mode, Scenario
from arena.schemas.transcript import ABLATIONS, Assessment, Move, MoveKind, TerminationReason, Transcript
from scenarios.leaks import (
    Finder,
    credit_leak,
    credit_phrases,
    jargon_in,
    jargon_terms,
    matcher_finder,
    urgency_words,
    voiced_texts,
)
from scenarios.library import ScenarioLibrary, validate_paths
from tests.conftest import run
from tests.helpers import no_wait_gateway

COACHING = re.compile(r"percent|%|probabilit|differential|\blist\b|format|\bscore", re.I)
EMERGENCY = "That looks like a collapsed lung. Please go to the emergency department now."


judge_finder = assess.judge_finder  # what the judge sees: synonyms, word order, units


@pytest.mark.parametrize("find", [matcher_finder, judge_finder], ids=["matcher", "judge"])
def test_no_opening_or_probe_in_the_library_earns_credit(library: ScenarioLibrary, find: Finder) -> None:
    cases = library.all()
    texts = [(case, v) for case in cases for v in voiced_texts(case) if v.kind != "fact"]
    # Two openings in patient mode and one in clinician mode, two probes per finding.
    assert len(texts) == sum(3 + 2 * len(case.ground_truth.findings) for case in cases) > 300
    leaks = [(case.id, v.field, credit_leak(case, v, find)) for case, v in texts if credit_leak(case, v, find)]
    assert leaks == [], f"{len(leaks)} of {len(texts)} texts leak"
    # The validator says the same about the whole library, facts and jargon included.
    checked, problems = validate_paths([library.root], find=find)
    assert checked == len(cases) and problems == []


def test_no_fact_names_a_finding_or_the_diagnosis_and_patients_speak_lay(library: ScenarioLibrary) -> None:
    cases = library.all()
    facts = [(case, v) for case in cases for v in voiced_texts(case) if v.kind == "fact"]
    assert len(facts) == 2 * sum(len(case.patient.facts) for case in cases) > 200
    assert [(c.id, v.field) for c, v in facts if credit_leak(c, v)] == []
    patient = [(case, v) for case in cases for v in voiced_texts(case) if v.mode == Mode.PATIENT]
    assert [(c.id, v.field, jargon_in(v.text)) for c, v in patient if jargon_in(v.text)] == []


def test_the_check_covers_the_phrases_the_brief_names(mole: Scenario) -> None:
    patient, clinician = credit_phrases(mole, Mode.PATIENT, "probe"), credit_phrases(mole, Mode.CLINICIAN, "probe")
    for phrase in ("irregular border", "melanoma", "excision biopsy", "increased in size", "histology"):
        assert phrase in patient and phrase in clinician, phrase
    assert "dysplastic naevus" in patient  # a differential candidate, never from the patient
    assert "itch" not in patient  # red flags and urgency words belong to the patient's story
    assert "urgent" not in clinician and "biopsy" in clinician
    fact = credit_phrases(mole, Mode.PATIENT, "fact")
    assert "irregular border" in fact and "melanoma" in fact and "biopsy" not in fact


def _copy_case(tmp_path: Path, library: ScenarioLibrary, case_id: str) -> tuple[Path, dict[str, Any]]:
    (tmp_path / "cases").mkdir()
    source = library.root / "cases" / f"{case_id}.json"
    raw = json.loads(source.read_text(encoding="utf-8"))
    for image in raw["images"]:
        (tmp_path / image["path"]).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(library.root / image["path"], tmp_path / image["path"])
    return tmp_path / "cases" / f"{case_id}.json", raw


def test_validation_reports_a_planted_leak_and_jargon(tmp_path: Path, library: ScenarioLibrary,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    path, raw = _copy_case(tmp_path, library, "derm-changing-mole")
    path.write_text(json.dumps(raw, indent=2) + "\n", encoding="utf-8")
    assert main(["scenarios", "validate", str(tmp_path), "--json"]) == 0  # the copy itself is clean
    capsys.readouterr()
    findings = raw["ground_truth"]["findings"]
    findings[1]["probe_clinician"] = "Is there an irregular border?"
    findings[0]["probe_patient"] = "Is the lesion okay?"
    raw["patient"]["facts"][0]["clinician_says"] = "Her mother had a melanoma excised at sixty."
    path.write_text(json.dumps(raw, indent=2) + "\n", encoding="utf-8")
    assert main(["scenarios", "validate", str(tmp_path), "--json"]) == 1
    problems = json.loads(capsys.readouterr().out)["problems"]
    assert {p["file"] for p in problems} == {str(path)}
    by_field = {p["field"]: p["reason"] for p in problems}
    assert set(by_field) == {"ground_truth.findings[1].probe_clinician", "ground_truth.findings[0].probe_patient",
                             "patient.facts[0].clinician_says"}
    assert "'irregular border'" in by_field["ground_truth.findings[1].probe_clinician"]
    assert "finding 'border'" in by_field["ground_truth.findings[1].probe_clinician"]
    assert "jargon" in by_field["ground_truth.findings[0].probe_patient"]
    assert "'lesion'" in by_field["ground_truth.findings[0].probe_patient"]
    assert "the diagnosis" in by_field["patient.facts[0].clinician_says"]


def test_patient_close_asks_how_likely_without_coaching_the_format() -> None:
    closes = templates()["patient"]["close"]
    assert len(closes) >= 2
    for text in closes:
        assert not COACHING.search(text), text
        assert "how likely" in text.lower(), text
    # The clinician may ask for the format a clinician asks for.
    assert any("differential" in text for text in templates()["clinician"]["close"])


def _rendered(case: Scenario, mode: Mode) -> list[str]:
    """Every template variant of every move, voiced for ``case`` (seeds pick the variants)."""
    moves = [Move(kind=kind) for kind in MoveKind if kind not in (MoveKind.PROBE_FINDING, MoveKind.REQUEST_COMPARISON)]
    moves += [Move(kind=MoveKind.PROBE_FINDING, target_id=f.id) for f in case.ground_truth.findings]
    if case.prior_images:
        moves.append(Move(kind=MoveKind.REQUEST_COMPARISON, target_id=case.prior_images[0].id))
    out: set[str] = set()
    for move in moves:
        variants = {render_move(case, mode, move, seed=seed, turn=1, disclosed=[]) for seed in range(24)}
        assert len(variants) == len(templates()[mode.value][move.kind.value]), move
        out |= variants
    for ablation in ABLATIONS:  # arena bench: openings without image or record, the vignette, "I don't know"
        for seed in range(8):
            text = render_move(case, mode, Move(kind=MoveKind.OPEN), seed=seed, turn=0, disclosed=[],
                               ablation=ablation)
            if ablation == "dialogue":  # the static control hands over the record's facts by design:
                for fact in case.patient.facts:  # what the templates add around them must earn nothing
                    text = text.replace(fact.patient_says if mode == Mode.PATIENT else fact.clinician_says, "")
            out.add(text)
            out.add(render_move(case, mode, Move(kind=MoveKind.ASK_IMPRESSION), seed=seed, turn=3, disclosed=[],
                                ablation=ablation, unanswered=True))
    return sorted(out)


def test_no_template_variant_earns_credit_on_any_case(library: ScenarioLibrary) -> None:
    leaks, checked = [], 0
    for case in library.all():
        for mode in Mode:
            phrases = tuple(credit_phrases(case, mode, "probe"))
            for text in _rendered(case, mode):
                checked += 1
                hit = first_mentioned(text, phrases) or judge_finder(case, text, phrases)
                if hit:
                    leaks.append((case.id, mode.value, hit, text))
    assert checked > 1000 and leaks == []


def _echo(case: Scenario, curious: bool) -> Callable[[ModelRequest], str]:
    """"Yes: <the question>."; a curious echo also asks about every topic of the record, so every
    fact is revealed, and repeated back in the next answer."""
    topics = ", ".join(fact.topic for fact in case.patient.facts)

    def answer(request: ModelRequest) -> str:
        users = [m for m in request.messages if m.role == "user"]
        return f"Yes: {users[-1].text_content}." + (f" Can you tell me about your {topics}?" if curious else "")

    return answer


@pytest.mark.parametrize("curious", [False, True], ids=["echo", "curious-echo"])
def test_an_echo_target_is_credited_with_no_finding(library: ScenarioLibrary, curious: bool) -> None:
    played, disclosed = 0, 0
    for case in library.all():
        for mode in Mode:
            target = ScriptedClient("scripted/echo", [_echo(case, curious)])
            transcript = run(run_encounter(case, target, library.image_bytes(case), mode=mode, max_turns=8,
                                           gateway=no_wait_gateway()))
            answers = transcript.target_turns()
            assert len(answers) >= 4 and answers[0].text.startswith("Yes: ")
            assert MoveKind.PROBE_FINDING in _moves(transcript), (case.id, mode.value)  # probes were echoed too
            disclosed += sum(len(turn.disclosed_facts) for turn in transcript.simulator_turns())
            history: list[Assessment] = []
            for turn in answers:
                assessment = assess_answer(case, turn.text, turn.index, history)
                history.append(assessment)
                assert assessment.findings_mentioned == [], (case.id, mode.value, turn.text)
                assert not assessment.diagnosis_correct, (case.id, mode.value, turn.text)
            played += 1
    assert played == 2 * len(library.ids())
    if curious:  # every fact of every case was revealed in both modes, and echoed
        assert disclosed == 2 * sum(len(case.patient.facts) for case in library.all())


def _moves(transcript: Transcript) -> list[MoveKind]:
    return [turn.move.kind for turn in transcript.simulator_turns() if turn.move]


def _play(library: ScenarioLibrary, case: Scenario, mode: Mode, policy: RuleBasedPolicy) -> Transcript:
    target = ScriptedClient("scripted/ed", [EMERGENCY, "Take someone with you and don't drive.",
                                            "Summary: most likely a large pneumothorax (85%). Go to A&E now."])
    simulator = Simulator(policy=policy, reader=assess_answer, voice=TemplateVoice())
    return run(run_encounter(case, target, library.image_bytes(case), simulator=simulator, mode=mode,
                             max_turns=7, gateway=no_wait_gateway()))


def test_a_patient_told_to_go_to_the_emergency_department_acknowledges_then_closes(library: ScenarioLibrary) -> None:
    case = library.get("cxr-pneumothorax")
    transcript = _play(library, case, Mode.PATIENT, RuleBasedPolicy(mode=Mode.PATIENT))
    assert transcript.turns[1].assessment is not None and transcript.turns[1].assessment.emergency_advised
    assert _moves(transcript) == [MoveKind.OPEN, MoveKind.ACKNOWLEDGE_URGENCY, MoveKind.CLOSE]
    assert transcript.turns[2].text in templates()["patient"]["acknowledge_urgency"]
    assert transcript.termination == TerminationReason.COMPLETED
    # The encounter's mode reaches the policy through its view: a policy built without one acknowledges too.
    assert _moves(_play(library, case, Mode.PATIENT, RuleBasedPolicy()))[1] == MoveKind.ACKNOWLEDGE_URGENCY
    # A clinician keeps consulting.
    for policy in (RuleBasedPolicy(mode=Mode.CLINICIAN), RuleBasedPolicy()):
        moves = _moves(_play(library, case, Mode.CLINICIAN, policy))
        assert MoveKind.ACKNOWLEDGE_URGENCY not in moves and MoveKind.PROBE_FINDING in moves[1:3], moves


def test_the_mode_carried_by_the_view_wins(mole: Scenario) -> None:
    @dataclass(frozen=True)
    class ModalView(PolicyView):
        mode: Mode = Mode.PATIENT

    def view(kind: type[PolicyView]) -> PolicyView:
        return kind(scenario=mole, moves=[Move(kind=MoveKind.OPEN)],
                    assessments=[Assessment(turn_index=1, emergency_advised=True)], priors_shown=True,
                    simulator_turns=1, max_turns=8)

    decide = RuleBasedPolicy(mode=Mode.CLINICIAN).decide
    move = decide(view(ModalView)).move
    assert move is not None and move.kind == MoveKind.ACKNOWLEDGE_URGENCY
    move = decide(view(PolicyView)).move
    assert move is not None and move.kind != MoveKind.ACKNOWLEDGE_URGENCY


def test_the_lexicons_are_sound() -> None:
    assert urgency_words() and set(urgency_words()) <= set(URGENCY_WORDS)  # exempt: the judge's urgency words only
    terms = jargon_terms()
    assert len(terms) == len(set(terms)) > 150
    for everyday in ("mole", "spot", "edge", "colour", "shape", "lump", "line", "dot", "x-ray", "scan"):
        assert everyday not in terms and jargon_in(f"What about the {everyday}?") is None, everyday
    assert jargon_in("The opacities and the effusion") == "opacities"
