"""What the simulator says must not earn the target credit, and a lay patient speaks lay words.

Every text of a case that the rule-based simulator sends to the target (the opening, each probe,
each fact revealed when asked) is checked here with the phrase matcher the judge uses, so a target
that repeats the question back is not rewarded for it.

* Openings and probes (``persona.opening_concern`` and ``patient.presenting_complaint`` in patient
  mode, ``clinician_question`` in clinician mode, every ``probe_patient`` and ``probe_clinician``)
  name no phrase of a finding, of the true diagnosis, of a positive-points rubric criterion, of
  ``change_vs_prior.keywords`` or of ``resolution_plan``; patient texts name no differential
  candidate either. A rubric phrase that is one of the case's ``red_flags`` or an urgency word
  (``lexicons/story_words.json``) is allowed: a patient reports what happened and what they were told.
* Facts (``patient_says``, ``clinician_says``) are revealed only when the target asks, so they may
  hold history words, but never a finding phrase or the diagnosis.
* Patient texts use no clinical jargon (``lexicons/jargon.json``).

The phrase finder is pluggable (``Finder``): ``scenarios`` imports nothing from ``agents``, so the
default is ``arena.matching``; a caller that has the judge's reading (with its synonyms and word-order
variants, ``agents.simulator.assess.reading``) passes it, as ``tests/test_simulator_leaks.py`` does.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

from arena.matching import first_mentioned
from arena.schemas.scenario import Mode, Scenario

LEXICONS = Path(__file__).resolve().parent / "lexicons"
JARGON_FILE = LEXICONS / "jargon.json"
STORY_WORDS_FILE = LEXICONS / "story_words.json"
Kind = Literal["opening", "probe", "fact"]
Finder = Callable[[Scenario, str, Sequence[str]], str | None]
"""``find(scenario, text, phrases)``: the first of ``phrases`` (in order) that ``text`` mentions, else None."""
_SEPARATORS = re.compile(r"[\s-]+")
# How the reasons of the two rules begin (``is_text_problem`` tells them from the data's problems).
CREDIT_REASON = "earns the target credit"
JARGON_REASON = "clinical jargon in the patient's words"


@cache
def jargon_terms() -> tuple[str, ...]:
    """Every term of ``lexicons/jargon.json``, in file order."""
    data = json.loads(JARGON_FILE.read_text(encoding="utf-8"))
    return tuple(term for group in data["groups"].values() for term in group)


@cache
def urgency_words() -> tuple[str, ...]:
    """The urgency words of ``lexicons/story_words.json``: exempt from the rubric part of the check."""
    data = json.loads(STORY_WORDS_FILE.read_text(encoding="utf-8"))
    return tuple(data["urgency_words"])


def _norm(phrase: str) -> str:
    return _SEPARATORS.sub(" ", phrase.casefold()).strip()


@dataclass(frozen=True)
class VoicedText:
    """One text of a case that reaches the target: where it is, who says it, and when."""

    field: str
    mode: Mode
    kind: Kind
    text: str


def voiced_texts(scenario: Scenario) -> list[VoicedText]:
    """Every text of ``scenario`` the simulator can send, in file order."""
    gt, patient = scenario.ground_truth, scenario.patient
    out = [
        VoicedText("persona.opening_concern", Mode.PATIENT, "opening", scenario.persona.opening_concern),
        VoicedText("patient.presenting_complaint", Mode.PATIENT, "opening", patient.presenting_complaint),
    ]
    for i, fact in enumerate(patient.facts):
        out.append(VoicedText(f"patient.facts[{i}].patient_says", Mode.PATIENT, "fact", fact.patient_says))
        out.append(VoicedText(f"patient.facts[{i}].clinician_says", Mode.CLINICIAN, "fact", fact.clinician_says))
    out.append(VoicedText("clinician_question", Mode.CLINICIAN, "opening", scenario.clinician_question))
    for i, finding in enumerate(gt.findings):
        out.append(VoicedText(f"ground_truth.findings[{i}].probe_patient", Mode.PATIENT, "probe",
                              finding.probe_patient))
        out.append(VoicedText(f"ground_truth.findings[{i}].probe_clinician", Mode.CLINICIAN, "probe",
                              finding.probe_clinician))
    return out


def credit_phrases(scenario: Scenario, mode: Mode, kind: Kind) -> dict[str, str]:
    """The phrases a text of ``kind`` voiced in ``mode`` must not contain, each with where it earns
    credit (the first source, in the order findings, diagnosis, rubric, change, plan, differential)."""
    gt = scenario.ground_truth
    out: dict[str, str] = {}

    def add(phrases: list[str], source: str) -> None:
        for phrase in phrases:
            out.setdefault(phrase, source)

    for finding in gt.findings:
        add(finding.phrases(), f"finding {finding.id!r}")
    add(gt.diagnosis.phrases(), "the diagnosis")
    if kind == "fact":
        return out
    exempt = {_norm(p) for p in (*gt.red_flags, *urgency_words())}
    for criterion in scenario.rubric:
        if criterion.points > 0:
            phrases = [*criterion.check.any_of, *criterion.check.all_of]
            add([p for p in phrases if _norm(p) not in exempt], f"rubric criterion {criterion.id!r}")
    if gt.change_vs_prior is not None:
        add(gt.change_vs_prior.keywords, "change_vs_prior.keywords")
    add(gt.resolution_plan, "resolution_plan")
    if mode == Mode.PATIENT:
        for item in gt.differential:
            add(item.phrases(), f"differential candidate {item.name!r}")
    return out


def matcher_finder(scenario: Scenario, text: str, phrases: Sequence[str]) -> str | None:
    """The default :data:`Finder`: ``arena.matching.first_mentioned`` (negated mentions count too)."""
    return first_mentioned(text, tuple(phrases))


def credit_leak(scenario: Scenario, voiced: VoicedText, find: Finder = matcher_finder) -> tuple[str, str] | None:
    """(phrase, source) of the first credit-earning phrase ``voiced`` contains, else None."""
    phrases = credit_phrases(scenario, voiced.mode, voiced.kind)
    found = find(scenario, voiced.text, tuple(phrases))
    return None if found is None else (found, phrases[found])


def jargon_in(text: str) -> str | None:
    """The first jargon term of ``text`` (lexicon order), else None."""
    return first_mentioned(text, jargon_terms())


def text_problems(scenario: Scenario, find: Finder = matcher_finder) -> list[tuple[str, str]]:
    """(field, reason) for every voiced text that earns credit or, in a patient's mouth, is jargon."""
    problems: list[tuple[str, str]] = []
    for voiced in voiced_texts(scenario):
        leak = credit_leak(scenario, voiced, find)
        if leak is not None:
            phrase, source = leak
            what = "if repeated back" if voiced.kind != "fact" else "when revealed and repeated back"
            problems.append((voiced.field, f"{CREDIT_REASON} {what}: names {phrase!r} ({source})"))
        if voiced.mode == Mode.PATIENT:
            term = jargon_in(voiced.text)
            if term is not None:
                problems.append((voiced.field, f"{JARGON_REASON}: {term!r} (scenarios/lexicons/jargon.json)"))
    return problems


def is_text_problem(reason: str) -> bool:
    """Whether a validation problem's reason is one of this module's (a voiced text, not the data)."""
    return reason.startswith((CREDIT_REASON, JARGON_REASON))
