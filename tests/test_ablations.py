"""Benchmark ablations done for real: the image ablation sends no image in any target request (and
the simulator never refers to one), the record ablation gives the target no history, vitals or
facts, and the dialogue ablation is one target turn answering the whole vignette with every image."""

from __future__ import annotations

import pytest

from agents.simulator.phrasing import render_vignette, templates, without_image_sentences
from arena.clients.scripted import ScriptedClient
from arena.composition import build_cast, target_system_prompt
from arena.rerun import rerun
from arena.runner import plan_encounter, play, save_transcript, transcript_filename
from arena.schemas.messages import ImagePart
from arena.schemas.scenario import Mode, Scenario
from arena.schemas.transcript import ABLATIONS, Ablation, MoveKind, TerminationReason, Transcript
from scenarios.library import ScenarioLibrary
from tests.conftest import run
from tests.helpers import encounter

CURIOUS = ("Could you tell me how long it has been there, whether it has changed, about your family history, "
           "medications, allergies, smoking, symptoms and what you do for work? What did it look like before?")
IMAGE_WORDS = ("photo", "picture", "image", "attached", "film", "scan", "prior study", "previous image")


def _requests(transcript: Transcript) -> list[list[object]]:
    return [[p for m in c.request.messages for p in m.parts] for c in transcript.calls if c.role == "target"]


class Recording(ScriptedClient):
    """A scripted target that keeps every request it was sent (the parts as they reached it)."""

    def __init__(self, answers: list[str]) -> None:
        super().__init__("scripted/recording", answers)

    @property
    def seen(self) -> list[list[object]]:
        return [[p for m in r.messages for p in m.parts] for r in self.requests]


def _play(library: ScenarioLibrary, case: Scenario, ablation: Ablation | None, mode: Mode | None = None,
          answers: list[str] | None = None) -> tuple[Transcript, Recording]:
    client = Recording(answers or [CURIOUS] * 12)
    return run(encounter(library, case, client, mode=mode, max_turns=7, ablation=ablation)), client


@pytest.mark.parametrize("ablation", ["image", "image+record"])
@pytest.mark.parametrize("mode", list(Mode))
def test_the_image_ablation_sends_no_image_and_never_mentions_one(library: ScenarioLibrary, mode: Mode,
                                                                   ablation: Ablation) -> None:
    case = library.get("derm-changing-mole")  # a current and a prior image: a comparison would be asked for
    whole, seen_whole = _play(library, case, None, mode)
    assert any(isinstance(p, ImagePart) for parts in seen_whole.seen for p in parts)  # the control does send them
    ablated, seen = _play(library, case, ablation, mode)
    assert ablated.ablation == ablation and ablated.termination == TerminationReason.COMPLETED
    assert seen.seen and not any(isinstance(p, ImagePart) for parts in seen.seen for p in parts)
    assert not any(p.type == "image_ref" for parts in _requests(ablated) for p in parts)  # type: ignore[attr-defined]
    assert all(not t.images for t in ablated.turns) and ablated.target_saw_images is None
    assert MoveKind.REQUEST_COMPARISON not in [t.move.kind for t in ablated.simulator_turns() if t.move]
    system = ablated.calls[0].request.messages[0].parts[0].text  # type: ignore[union-attr]
    assert system == target_system_prompt(mode, ablation)
    for turn in [*ablated.simulator_turns()]:
        lowered = turn.text.lower()
        assert not any(word in lowered for word in IMAGE_WORDS), turn.text
    assert "image" not in system.lower() and "photo" not in system.lower()


@pytest.mark.parametrize("mode", list(Mode))
def test_the_record_ablation_gives_no_history_vitals_or_facts(library: ScenarioLibrary, mode: Mode) -> None:
    case = library.get("derm-changing-mole")
    whole, _ = _play(library, case, None, mode)
    assert any(t.disclosed_facts for t in whole.turns)  # the curious target is told facts in the control
    ablated, seen = _play(library, case, "record", mode)
    sent = " ".join(p.text for parts in seen.seen for p in parts if hasattr(p, "text"))
    assert ablated.ablation == "record" and not any(t.disclosed_facts for t in ablated.turns)
    record = [case.patient.presenting_complaint, case.clinician_question,
              *(f.patient_says for f in case.patient.facts), *(f.clinician_says for f in case.patient.facts)]
    for text in record:
        assert text not in sent, text
    assert str(case.patient.age) not in sent
    asked = [t for t in ablated.simulator_turns()[1:] if t.index > 1]
    prefixes = templates()[mode.value]["no_record_prefix"]
    assert any(any(t.text.startswith(p) for p in prefixes) for t in asked)  # "I don't know", not silence
    assert any(isinstance(p, ImagePart) for parts in seen.seen for p in parts)  # the image still goes


def test_the_dialogue_ablation_is_one_turn_with_the_whole_vignette(library: ScenarioLibrary) -> None:
    case = library.get("derm-changing-mole")
    for mode in Mode:
        ablated, seen = _play(library, case, "dialogue", mode, answers=["Probably a benign naevus (60%)."])
        assert ablated.ablation == "dialogue" and ablated.termination == TerminationReason.COMPLETED
        assert [t.role for t in ablated.turns] == ["simulator", "target"] and len(seen.seen) == 1
        opening = ablated.turns[0]
        assert opening.images == [i.id for i in case.images]  # current and prior, all at once
        images = [p for p in seen.seen[0] if isinstance(p, ImagePart)]
        assert [p.image_id for p in images] == [i.id for i in case.images]
        for fact in case.patient.facts:
            assert (fact.patient_says if mode == Mode.PATIENT else fact.clinician_says) in opening.text
        assert opening.text == render_vignette(case, mode, seed=0)
        closes = templates()[mode.value]["close"]
        assert any(c in opening.text for c in closes)


def test_ablated_encounters_have_their_own_ids_and_names_and_rerun_exactly(library: ScenarioLibrary, tmp_path) -> None:  # type: ignore[no-untyped-def]
    plain = plan_encounter(library, "cxr-multiple-nodules", "reference/pixel")
    ids, names = set(), set()
    cast = build_cast()
    try:
        for ablation in (None, *ABLATIONS):
            plan = plain.__class__(**{**plain.__dict__, "ablation": ablation})
            t = run(play(plan, cast, run="ab"))
            assert t.verdict is not None and t.ablation == ablation
            ids.add(t.encounter_id)
            names.add(transcript_filename(t))
            path = save_transcript(t, tmp_path)
            result = run(rerun(path, library=library))
            assert result.same, result.first_difference
    finally:
        cast.close()
    assert len(ids) == len(names) == 5
    assert "cxr-multiple-nodules__reference_pixel__clinician__s0__no-image-record.json" in names


def test_removing_image_sentences_keeps_a_question(library: ScenarioLibrary) -> None:
    for case in library.all():
        question = without_image_sentences(case.clinician_question)
        assert question.endswith("?"), (case.id, question)
        lowered = question.lower()
        assert not any(w in lowered for w in ("attached", "film", "photo", "image")), (case.id, question)
