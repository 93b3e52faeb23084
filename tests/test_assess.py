"""The simulator's reading of free-text answers."""

from __future__ import annotations

from agents.simulator.assess import assess_answer, leading_diagnosis, stated_confidence
from arena.schemas.scenario import Scenario


def test_leading_diagnosis_normalises_synonyms(cxr: Scenario) -> None:
    assert leading_diagnosis(cxr, "Most likely metastatic disease, given the history.") == "pulmonary metastases"
    assert leading_diagnosis(cxr, "This is granulomas from old TB.") == "granulomatous disease"


def test_unknown_diagnosis_only_after_a_strong_cue(cxr: Scenario) -> None:
    assert leading_diagnosis(cxr, "The most likely diagnosis is lymphoma.") == "lymphoma"
    assert leading_diagnosis(cxr, "It is likely that we need more views.") is None
    assert leading_diagnosis(cxr, "This is hard to say without a CT.") is None


def test_confidence_from_percent_or_words(cxr: Scenario) -> None:
    text = "Most likely pulmonary metastases (65%), granulomas 20%."
    assert stated_confidence(text, "pulmonary metastases", cxr) == 0.65
    assert stated_confidence("This is definitely metastatic disease.", "pulmonary metastases", cxr) == 0.97


def test_negated_finding_is_not_credited(cxr: Scenario) -> None:
    a = assess_answer(cxr, "There are no nodules and no rounded opacities.", 1, [])
    assert "multiple-nodules" not in a.findings_mentioned
    assert "multiple-nodules" in a.findings_negated
    b = assess_answer(cxr, "Multiple pulmonary nodules in both lungs.", 1, [])
    assert {"multiple-nodules", "bilateral"} <= set(b.findings_mentioned)


def test_denial_after_affirmation_is_a_contradiction(cxr: Scenario) -> None:
    first = assess_answer(cxr, "Multiple pulmonary nodules in both lungs.", 1, [])
    second = assess_answer(cxr, "Actually there are no nodules.", 3, [first])
    assert any("multiple-nodules" in c for c in second.contradictions)


def test_matching_respects_prefixes_percent_and_clauses() -> None:
    from arena.matching import affirms, mentions

    assert not mentions("non-proliferative diabetic retinopathy", ["proliferative diabetic retinopathy"])
    assert mentions("proliferative diabetic retinopathy", ["proliferative diabetic retinopathy"])
    assert mentions("melanoma 55%", ["%"])
    # A negation in one list item does not reach the next one.
    assert affirms("no effusion, irregular border and several colours", ["irregular border"])
    assert not affirms("there is no irregular border", ["irregular border"])
