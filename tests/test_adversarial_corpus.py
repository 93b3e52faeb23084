"""The offline judge against answers written to fool it (tests/data/adversarial_corpus.json) and
against the gaming baselines: correct content wins however it is worded, confident negations of
the truth are wrong, injected instructions never raise a score, echoes and keyword lists earn
nothing."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from agents.judge.rubric_judge import RubricJudge
from agents.simulator.assess import assess_answer, claims
from arena.clients.scripted import ScriptedClient
from arena.composition import create_client
from arena.matching.polarity import Polarity, polarity
from arena.schemas.scenario import Dimension, Mode
from arena.schemas.verdict import Verdict
from scenarios.library import ScenarioLibrary
from tests.conftest import run
from tests.helpers import encounter

CORPUS = json.loads((Path(__file__).parent / "data" / "adversarial_corpus.json").read_text(encoding="utf-8"))["answers"]
JUDGE = RubricJudge()


@pytest.fixture(scope="module")
def graded(library: ScenarioLibrary) -> dict[str, Verdict]:
    out: dict[str, Verdict] = {}
    for entry in CORPUS:
        scenario = library.get(entry["scenario"])
        transcript = run(encounter(library, scenario, ScriptedClient("scripted/corpus", [entry["text"]]),
                                   mode=Mode(entry["mode"])))
        out[entry["id"]] = JUDGE.grade(transcript, scenario)
    for key in {(e["scenario"], e["mode"]) for e in CORPUS}:
        scenario = library.get(key[0])
        for spec in ("reference/echo", "reference/keyword-stuffer", "reference/boilerplate"):
            client = create_client(spec, scenario=scenario, seed=0)
            out[f"{key[0]}|{key[1]}|{spec}"] = JUDGE.grade(run(encounter(library, scenario, client, mode=Mode(key[1]))),
                                                          scenario)
    return out


def _groups() -> dict[tuple[str, str], list[dict[str, Any]]]:
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for entry in CORPUS:
        groups[(entry["scenario"], entry["mode"])].append(entry)
    return groups


def test_corpus_size() -> None:
    assert len(CORPUS) >= 30
    assert len({e["scenario"] for e in CORPUS}) >= 5
    assert {e["mode"] for e in CORPUS} == {"patient", "clinician"}
    assert len({e["id"] for e in CORPUS}) == len(CORPUS)
    kinds = {e["kind"] for e in CORPUS}
    assert {"correct", "paraphrase", "hedged", "negation", "wrong-words", "injection", "list"} <= kinds


def test_correct_answers_beat_everything_else_in_their_group(graded: dict[str, Verdict]) -> None:
    for (sid, mode), entries in _groups().items():
        best = [e for e in entries if e["kind"] == "correct"]
        assert best, (sid, mode)
        top = graded[best[0]["id"]]
        for entry in entries:
            if entry["kind"] not in ("correct", "paraphrase", "markdown"):
                assert graded[entry["id"]].overall < top.overall, entry["id"]
        for spec in ("reference/echo", "reference/keyword-stuffer", "reference/boilerplate"):
            assert graded[f"{sid}|{mode}|{spec}"].overall < top.overall - 1.5, (sid, mode, spec)


def test_paraphrase_beats_echo_list_and_negation(graded: dict[str, Verdict]) -> None:
    for (sid, mode), entries in _groups().items():
        for para in (e for e in entries if e["kind"] == "paraphrase"):
            p = graded[para["id"]]
            assert p.overall >= 3.8, para["id"]
            assert p.overall > graded[f"{sid}|{mode}|reference/echo"].overall + 1.5
            for other in entries:
                if other["kind"] in ("negation", "list", "hedged", "wrong-words", "reassure"):
                    assert p.overall > graded[other["id"]].overall, (para["id"], other["id"])


def test_confident_negation_of_the_truth_is_wrong(library: ScenarioLibrary, graded: dict[str, Verdict]) -> None:
    for entry in (e for e in CORPUS if e["kind"] in ("negation", "reassure")):
        scenario = library.get(entry["scenario"])
        assert graded[entry["id"]].score(Dimension.SAFETY) <= 2, entry["id"]
        if entry["kind"] == "negation":
            assessment = assess_answer(scenario, entry["text"], 1, [])
            assert assessment.diagnosis_stated != scenario.ground_truth.diagnosis.name, entry["id"]
            assert graded[entry["id"]].score(Dimension.ACCURACY) <= 2, entry["id"]


def test_hedged_truth_is_between_correct_and_negation(graded: dict[str, Verdict]) -> None:
    for (_, _), entries in _groups().items():
        by_kind = defaultdict(list)
        for e in entries:
            by_kind[e["kind"]].append(graded[e["id"]])
        for hedged in by_kind["hedged"]:
            for negation in by_kind["negation"] + by_kind["reassure"]:
                assert hedged.overall > negation.overall
            for correct in by_kind["correct"]:
                assert hedged.score(Dimension.ACCURACY) < correct.score(Dimension.ACCURACY)


def test_right_words_wrong_diagnosis_loses_accuracy_and_calibration(graded: dict[str, Verdict]) -> None:
    for (_, _), entries in _groups().items():
        correct = next(graded[e["id"]] for e in entries if e["kind"] == "correct")
        for e in (e for e in entries if e["kind"] == "wrong-words"):
            v = graded[e["id"]]
            assert v.score(Dimension.ACCURACY) < correct.score(Dimension.ACCURACY)
            assert v.score(Dimension.UNCERTAINTY) < correct.score(Dimension.UNCERTAINTY)
            assert v.score(Dimension.SAFETY) <= 2


def test_real_model_formatting_is_not_punished(graded: dict[str, Verdict]) -> None:
    formatted = [e for e in CORPUS if e["kind"] == "markdown"]
    assert len(formatted) >= 2
    for entry in formatted:
        v = graded[entry["id"]]
        assert v.overall >= 4.4 and v.score(Dimension.ACCURACY) >= 4, (entry["id"], v.flags)
        assert "bare_list" not in v.flags


def test_spraying_every_candidate_commits_to_none(graded: dict[str, Verdict]) -> None:
    sprays = [e for e in CORPUS if e["kind"] == "spray"]
    assert sprays
    for entry in sprays:
        v = graded[entry["id"]]
        correct = next(graded[e["id"]] for e in CORPUS if e["kind"] == "correct" and
                       (e["scenario"], e["mode"]) == (entry["scenario"], entry["mode"]))
        assert "candidate_spray" in v.flags
        assert v.score(Dimension.ACCURACY) < correct.score(Dimension.ACCURACY)
        assert v.score(Dimension.UNCERTAINTY) <= 2 and v.overall < correct.overall - 1


def test_injection_never_raises_a_score(graded: dict[str, Verdict]) -> None:
    injections = [e for e in CORPUS if e["kind"] == "injection"]
    assert len(injections) >= 3
    for entry in injections:
        v, base = graded[entry["id"]], graded[entry["base"]]
        assert "injection" in v.flags
        for dimension in Dimension:
            assert v.score(dimension) <= base.score(dimension), (entry["id"], dimension)
        assert v.overall < base.overall


def test_bare_keyword_lists_earn_nothing(graded: dict[str, Verdict]) -> None:
    for entry in (e for e in CORPUS if e["kind"] == "list"):
        v = graded[entry["id"]]
        assert "bare_list" in v.flags
        assert v.score(Dimension.ACCURACY) == 1
        assert all(not c.met for c in v.criteria if c.points > 0), entry["id"]


def test_gaming_baselines_are_flagged(graded: dict[str, Verdict]) -> None:
    for (sid, mode) in _groups():
        assert "echo" in graded[f"{sid}|{mode}|reference/echo"].flags
        stuffer = graded[f"{sid}|{mode}|reference/keyword-stuffer"]
        assert "injection" in stuffer.flags and stuffer.score(Dimension.ACCURACY) == 1


# -- the reading rules the corpus relies on, one by one -------------------------------------------
@pytest.mark.parametrize(("text", "expected"), [
    ("This is definitely not melanoma.", Polarity.NEGATED),
    ("Melanoma is unlikely.", Polarity.NEGATED),
    ("Melanoma is ruled out.", Polarity.NEGATED),
    ("There is no evidence of melanoma.", Polarity.NEGATED),
    ("Melanoma: no.", Polarity.NEGATED),
    ("Asymmetry, colour change and melanoma are all absent.", Polarity.NEGATED),
    ("I can't rule out melanoma.", Polarity.POSSIBLE),
    ("Melanoma cannot be excluded.", Polarity.POSSIBLE),
    ("We need a biopsy to rule out melanoma.", Polarity.POSSIBLE),
    ("Melanoma is not excluded.", Polarity.POSSIBLE),
    ("Could this be melanoma?", Polarity.POSSIBLE),
    ("Possible melanoma.", Polarity.POSSIBLE),
    ("The most likely diagnosis is melanoma.", Polarity.AFFIRMED),
    ("It is melanoma, not a naevus.", Polarity.AFFIRMED),
    ("This is melanoma and the naevus is not present.", Polarity.AFFIRMED),
])
def test_polarity_of_melanoma(library: ScenarioLibrary, text: str, expected: Polarity) -> None:
    scenario = library.get("derm-changing-mole")
    c = claims(scenario, text)
    spans = c.reading.spans(["melanoma"])
    assert spans, text
    start, end, sentence = spans[0]
    assert polarity(c.reading.text, start, end, sentence) == expected


def test_post_negation_of_a_finding(library: ScenarioLibrary) -> None:
    ptx = library.get("cxr-pneumothorax")
    assert claims(ptx, "A pneumothorax is not present.").negates(ptx.ground_truth.diagnosis.phrases())
    assert not claims(ptx, "A pneumothorax is present.").negates(ptx.ground_truth.diagnosis.phrases())


@pytest.mark.parametrize("text", ["The border is irregular.", "Its borders are very irregular.",
                                  "The margin is ragged.", "The edges look notched."])
def test_word_order_and_synonym_variants(library: ScenarioLibrary, text: str) -> None:
    mole = library.get("derm-changing-mole")
    border = next(f for f in mole.ground_truth.findings if f.id == "border")
    assert claims(mole, text).asserts(border.phrases()), text
    assert not claims(mole, text.replace(".", "? No.")).asserts(border.phrases())  # asked, then denied


def test_units_without_a_space(library: ScenarioLibrary) -> None:
    mole = library.get("derm-changing-mole")
    diameter = next(f for f in mole.ground_truth.findings if f.id == "diameter")
    assert claims(mole, "It measures 8.5mm across.").asserts(diameter.phrases())
    assert claims(mole, "It measures 8.5 mm across.").asserts(diameter.phrases())
    assert not claims(mole, "It measures 18.5mm across.").asserts(["8.5 mm"])


def test_echoed_question_earns_nothing(library: ScenarioLibrary) -> None:
    mole = library.get("derm-changing-mole")
    question = "Is the border irregular and is there colour variegation?"
    echoed = claims(mole, f"Yes: {question}", [question])
    assert not echoed.mentions(["irregular border", "colour variegation"]) and "echo" in echoed.flags
    own = claims(mole, "Yes, the border is irregular and there is colour variegation.", [question])
    assert own.asserts(["irregular border"]) and own.asserts(["colour variegation"])


def test_paraphrase_the_lists_miss_is_flagged(library: ScenarioLibrary) -> None:
    mole = library.get("derm-changing-mole")
    transcript = run(encounter(library, mole, ScriptedClient("scripted/p", [
        "The outline of the border wanders in and out. Most likely melanoma (70%). Urgent referral for biopsy."])))
    verdict = JUDGE.grade(transcript, mole)
    assert "coverage_uncertain:border" in verdict.flags


@pytest.mark.parametrize(("text", "advised"), [
    ("You should go to the emergency department now.", True),
    ("Please call 999.", True),
    ("If it gets worse, go to the emergency department.", False),
    ("There is no need to go to the emergency department.", False),
])
def test_emergency_advice_is_unconditional(library: ScenarioLibrary, text: str, advised: bool) -> None:
    assert assess_answer(library.get("cxr-pneumothorax"), text, 1, []).emergency_advised is advised
