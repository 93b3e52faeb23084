"""The simulator reads each target answer: findings covered, diagnosis and confidence stated,
hedging, questions asked of the user, and contradictions with the target's earlier turns."""

from __future__ import annotations

import re
from collections import OrderedDict
from itertools import islice

from arena.matching import Reading, Vocabulary, read, sentences, vocabulary
from arena.schemas.scenario import DifferentialItem, Scenario
from arena.schemas.transcript import Assessment

_LEADING = re.compile(
    r"(?P<cue>most likely(?: explanation| diagnosis)?(?: is)?|leading (?:impression|diagnosis) is|"
    r"diagnosis:|diagnosis is|this is|impression is|consistent with|likely)\s+(?P<dx>[^.,;:()\n]{3,80})",
    re.I,
)
# Cues strong enough that an unknown fragment after them is taken as a stated (wrong) diagnosis.
_STRONG_CUE = re.compile(r"^(most likely|leading|diagnosis|impression|this is)", re.I)
_NOT_A_DIAGNOSIS = re.compile(
    r"(?i)^(a number|hard|that|this|the case|one of|to |it |not |difficult|unclear|something|many|"
    r"what|why|because|the image|the picture)"
)
# Only the first this many cues ("most likely ...", "consistent with ...") can name the leading
# diagnosis: a real answer states it within its first few cues, and an adversarial answer made of
# 100,000 "likely"s must not cost 100,000 diagnosis look-ups.
MAX_LEADING_CUES = 64
_PERCENT = re.compile(r"(?P<n>\d{1,3}(?:\.\d+)?)\s?%")
_CERTAIN = re.compile(r"\b(certain|certainly|definitely|no doubt|completely sure|100%)\b", re.I)
_LIKELY = re.compile(r"\b(most likely|probably|likely)\b", re.I)
_HEDGES = re.compile(
    r"\b(might|may|could|possibly|perhaps|hard to say|can't say|cannot say|not sure|uncertain|"
    r"can't be sure|it depends)\b",
    re.I,
)
_REVISION = re.compile(
    r"\b(on reflection|revise|revising|i was wrong|having seen|in light of|change my|"
    r"correct myself|reconsider)\b",
    re.I,
)
# A clear instruction to seek emergency care now (asserted, not negated: "no need for A&E" is not it).
_EMERGENCY = re.compile(
    r"(?<!no need to )(?<!don't )(?<!do not )(?<!not )\b(go to (?:the |an |your nearest )?(?:emergency department|"
    r"emergency room|er|a&e|a and e|hospital)|call (?:999|911|112|an ambulance|for an ambulance)|"
    r"seek emergency (?:care|help|attention)|emergency (?:assessment|care|treatment) (?:today|now|immediately))\b",
    re.I,
)
_PLAN_WORDS = re.compile(
    r"\b(biopsy|excision|dermoscopy|ct|mri|scan|refer|referral|follow[- ]up|review|repeat|"
    r"test|specialist|ultrasound)\b",
    re.I,
)


def candidates(scenario: Scenario) -> list[DifferentialItem]:
    gt = scenario.ground_truth
    return [gt.diagnosis, *gt.differential]


# Words of urgency the judge looks for; part of every scenario's vocabulary.
URGENCY_WORDS = (
    "urgent", "urgently", "promptly", "as soon as possible", "within two weeks", "within 2 weeks",
    "today", "emergency", "don't wait", "do not wait", "immediately", "soon",
)


def phrase_lists(scenario: Scenario) -> list[list[str]]:
    """Every phrase list of ``scenario`` that this reader and the offline judge match against
    answers (findings, candidates, plan, red flags, unsafe advice, urgency words, change words,
    rubric checks, fact keywords): the scenario's vocabulary, and what a benchmark must exercise."""
    gt = scenario.ground_truth
    lists = [f.phrases() for f in gt.findings]
    lists += [item.phrases() for item in candidates(scenario)]
    lists += [gt.resolution_plan, gt.red_flags, gt.unsafe_phrases, list(URGENCY_WORDS)]
    if gt.change_vs_prior:
        lists.append(gt.change_vs_prior.keywords)
    for criterion in scenario.rubric:
        lists += [criterion.check.any_of, *([p] for p in criterion.check.all_of)]
    lists += [[fact.topic, *fact.keywords] for fact in scenario.patient.facts]
    return [p for p in lists if p]


_VOCABULARIES: OrderedDict[int, tuple[Scenario, Vocabulary]] = OrderedDict()


def scenario_vocabulary(scenario: Scenario) -> Vocabulary:
    """All of ``scenario``'s phrases in one compiled trie (kept for the last few scenarios)."""
    key = id(scenario)
    hit = _VOCABULARIES.get(key)
    if hit is not None and hit[0] is scenario:
        _VOCABULARIES.move_to_end(key)
        return hit[1]
    vocab = vocabulary(tuple(p for group in phrase_lists(scenario) for p in group))
    _VOCABULARIES[key] = (scenario, vocab)  # the scenario is held, so its id cannot be reused
    while len(_VOCABULARIES) > 64:
        _VOCABULARIES.popitem(last=False)
    return vocab


def reading(scenario: Scenario, text: str) -> Reading:
    """``text`` read once through the scenario's vocabulary; every phrase question is then a lookup."""
    return read(text, scenario_vocabulary(scenario))


def normalise_diagnosis(scenario: Scenario, text: str) -> str | None:
    """Map free text to a known candidate name, else the text itself (an unknown diagnosis)."""
    best: tuple[int, str] | None = None
    r = reading(scenario, text)
    for item in candidates(scenario):
        pos = r.first_position(item.phrases())
        if pos is not None and (best is None or pos < best[0]):
            best = (pos, item.name)
    return best[1] if best else None


def leading_diagnosis(scenario: Scenario, text: str) -> str | None:
    """The diagnosis the answer puts first, normalised to a candidate name where possible."""
    for match in islice(_LEADING.finditer(text), MAX_LEADING_CUES):
        fragment = match.group("dx").strip()
        known = normalise_diagnosis(scenario, fragment)
        if known:
            return known
        if _STRONG_CUE.match(match.group("cue")) and not _NOT_A_DIAGNOSIS.match(fragment):
            return fragment.lower().removeprefix("a ").removeprefix("an ").strip()
    return None


def stated_confidence(text: str, diagnosis: str | None, scenario: Scenario) -> float | None:
    """Probability attached to the leading diagnosis: a percentage near it, else certainty words."""
    phrases: list[str] = []
    for item in candidates(scenario):
        if item.name == diagnosis:
            phrases = item.phrases()
    if diagnosis and not phrases:
        phrases = [diagnosis]
    # Sentences naming the diagnosis, in order, each with the offset of its first mention: one
    # pass over the text instead of matching every sentence separately.
    named = reading(scenario, text).first_position_per_sentence(phrases) if phrases else {}
    all_sentences = sentences(text) if named else []
    for index in sorted(named):
        sentence = all_sentences[index]
        # The first percentage after the diagnosis in its sentence.
        pos = named[index]
        for match in _PERCENT.finditer(sentence):
            if match.start() >= pos:
                return min(float(match["n"]) / 100, 1.0)
        if _CERTAIN.search(sentence):
            return 0.97
        if _LIKELY.search(sentence):
            return 0.7
    if _CERTAIN.search(text):
        return 0.97
    return None


def assess_answer(
    scenario: Scenario,
    text: str,
    turn_index: int,
    history: list[Assessment],
) -> Assessment:
    """Read one target answer against the hidden truth and the target's own earlier answers."""
    gt = scenario.ground_truth
    if not text.strip():
        return Assessment(turn_index=turn_index, empty=True)
    r = reading(scenario, text)
    mentioned = [f.id for f in gt.findings if r.affirms(f.phrases())]
    negated = [f.id for f in gt.findings if f.id not in mentioned and r.denies(f.phrases())]
    diagnosis = leading_diagnosis(scenario, text)
    all_sentences = sentences(text)
    asked = [i for i, s in enumerate(all_sentences) if s.endswith("?")]
    questions = [all_sentences[i] for i in asked]
    # A fact is requested when a question sentence mentions it (one pass over the text per fact).
    facts = [
        fact.id
        for fact in scenario.patient.facts
        if asked and not set(asked).isdisjoint(r.first_position_per_sentence([fact.topic, *fact.keywords]))
    ]
    revision = bool(_REVISION.search(text))
    contradictions: list[str] = []
    earlier_affirmed = {fid for a in history for fid in a.findings_mentioned}
    earlier_denied = {fid for a in history for fid in a.findings_negated}
    for fid in negated:
        if fid in earlier_affirmed and not revision:
            contradictions.append(f"finding:{fid}: affirmed earlier, denied now")
    for fid in mentioned:
        if fid in earlier_denied and not revision:
            contradictions.append(f"finding:{fid}: denied earlier, affirmed now")
    previous = next((a.diagnosis_stated for a in reversed(history) if a.diagnosis_stated), None)
    if diagnosis and previous and diagnosis != previous and not revision:
        contradictions.append(f"diagnosis: {previous!r} earlier, {diagnosis!r} now")
    change = bool(gt.change_vs_prior and r.mentions(gt.change_vs_prior.keywords))
    plan = r.mentions(gt.resolution_plan) or bool(_PLAN_WORDS.search(text))
    return Assessment(
        turn_index=turn_index,
        findings_mentioned=mentioned,
        findings_negated=negated,
        diagnosis_stated=diagnosis,
        diagnosis_correct=diagnosis == gt.diagnosis.name,
        confidence=stated_confidence(text, diagnosis, scenario),
        hedging=len(_HEDGES.findall(text)),
        change_described=change,
        plan_mentioned=plan,
        questions_asked=questions,
        facts_requested=facts,
        contradictions=contradictions,
        revision_acknowledged=revision,
        emergency_advised=bool(_EMERGENCY.search(text)),
    )
