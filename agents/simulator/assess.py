"""The simulator reads each target answer: findings covered, diagnosis and confidence stated,
hedging, questions asked of the user, and contradictions with the target's earlier turns."""

from __future__ import annotations

import re
from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Sequence
from itertools import islice

from agents.claims.claims import Claims, conditional_pattern, read_claims
from agents.claims.variants import data as claims_data
from agents.claims.variants import variants
from arena.matching import Reading, Vocabulary, read, sentences, vocabulary
from arena.schemas.scenario import DifferentialItem, Scenario
from arena.schemas.transcript import Assessment

_LEADING = re.compile(
    r"(?P<cue>(?:most likely|leading|working|main|provisional|likely) (?:diagnosis|impression)\s*(?:is|:)|"
    r"most likely(?: explanation| diagnosis)?(?: is)?|leading (?:impression|diagnosis) is|"
    r"impression\s*:|assessment\s*:|diagnosis\s*:|diagnosis is|this is|impression is|consistent with|"
    r"in keeping with|compatible with|"
    r"points? to|suggests?|suggestive of|typical of|favou?rs?|represents?|it is|it's|likely)\s+"
    r"(?P<dx>[^.,;:()\n]{3,80})",
    re.I,
)
# Cues strong enough that an unknown fragment after them is taken as a stated (wrong) diagnosis.
_STRONG_CUE = re.compile(r"^(most likely|leading|working|main|provisional|diagnosis|impression|assessment|this is)",
                         re.I)
_NOT_A_DIAGNOSIS = re.compile(
    r"(?i)^(a number|hard|that|this|the case|one of|to |it |not |difficult|unclear|something|many|diagnosis|"
    r"impression|differential|"
    r"what|why|because|the image|the picture)"
)
# Only the first this many cues ("most likely ...", "consistent with ...") can name the leading
# diagnosis: a real answer states it within its first few cues, and an adversarial answer made of
# 100,000 "likely"s must not cost 100,000 diagnosis look-ups.
MAX_LEADING_CUES = 64
SPRAY = 3  # candidates stated outright, none ranked: no diagnosis is committed to
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
_EMERGENCY_HINT = re.compile(r"emergency|a&e|a and e|999|911|112|ambulance|hospital|\ber\b", re.I)


def _emergency_advised(text: str) -> bool:
    """An unconditional instruction to seek emergency care ("if it gets worse, go to A&E" is not)."""
    if not _EMERGENCY_HINT.search(text):
        return False
    condition = conditional_pattern()
    return any(_EMERGENCY.search(s) and not condition.search(s) for s in sentences(text))


_PLAN_WORDS = re.compile(
    r"\b(biopsy|excision|dermoscopy|ct|mri|scan|refer|referral|follow[- ]up|review|repeat|"
    r"test|specialist|ultrasound)\b",
    re.I,
)


def candidates(scenario: Scenario) -> list[DifferentialItem]:
    gt = scenario.ground_truth
    return [gt.diagnosis, *gt.differential]


# Words of urgency the judge looks for, by tier (agents/claims/data/claims.json); part of every
# scenario's vocabulary.
EMERGENCY_WORDS: tuple[str, ...] = tuple(claims_data()["urgency"]["emergency"])
URGENT_WORDS: tuple[str, ...] = tuple(claims_data()["urgency"]["urgent"]) + EMERGENCY_WORDS
URGENCY_WORDS = URGENT_WORDS


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
    phrases = tuple(p for group in phrase_lists(scenario) for p in group)
    gt = scenario.ground_truth
    reordered = {p for f in gt.findings for p in f.phrases()} | {p for c in candidates(scenario) for p in c.phrases()}
    forms = tuple((p, variants(p, reorder=p in reordered)) for p in dict.fromkeys(phrases))
    vocab = vocabulary(phrases, tuple((p, v) for p, v in forms if v))
    _VOCABULARIES[key] = (scenario, vocab)  # the scenario is held, so its id cannot be reused
    while len(_VOCABULARIES) > 64:
        _VOCABULARIES.popitem(last=False)
    return vocab


def reading(scenario: Scenario, text: str) -> Reading:
    """``text`` read once through the scenario's vocabulary; every phrase question is then a lookup."""
    return read(text, scenario_vocabulary(scenario))


def judge_finder(scenario: Scenario, text: str, phrases: Sequence[str]) -> str | None:
    """The first of ``phrases`` that ``text`` mentions as the judge reads it (variants included,
    negated mentions too): the finder ``arena scenarios validate`` checks simulator texts with."""
    r = reading(scenario, text)
    if not r.mentions(list(phrases)):
        return None
    return next((p for p in phrases if r.mentions([p])), None)


def claims(scenario: Scenario, text: str, prompts: Sequence[str] = ()) -> Claims:
    """What ``text`` asserts about ``scenario`` (agents/claims): echoes of ``prompts``, injected
    instructions, bare keyword lists and keyword stuffing earn nothing."""
    return read_claims(reading(scenario, text), prompts=prompts,
                       finding_phrases=[f.phrases() for f in scenario.ground_truth.findings])


def visible_text(c: Claims) -> str:
    """The answer with the spans that earn nothing blanked out (offsets kept)."""
    return c.visible


def normalise_diagnosis(scenario: Scenario, text: str, c: Claims | None = None,
                        span: tuple[int, int | None] = (0, None)) -> str | None:
    """The candidate named first (and not negated) in ``text[span]``, else None."""
    c = c or claims(scenario, text)
    best: tuple[int, str] | None = None
    for item in candidates(scenario):
        pos = c.first_considered(item.phrases(), *span)
        if pos is not None and (best is None or pos < best[0]):
            best = (pos, item.name)
    return best[1] if best else None


_MARKUP = dict.fromkeys(map(ord, "*_#`"), " ")
_NEGATED_FRAGMENT = re.compile(r"\b(not|no|never|unlikely|ruled out|excluded|nothing)\b", re.I)


def leading_diagnosis(scenario: Scenario, text: str, c: Claims | None = None) -> str | None:
    """The diagnosis the answer puts first, normalised to a candidate name where possible; a
    candidate the answer negates ("this is definitely not melanoma") is never the leading one."""
    c = c or claims(scenario, text)
    visible = visible_text(c).translate(_MARKUP)  # "**Impression:** X": markup is not text
    everyone = [p for item in candidates(scenario) for p in item.phrases()]
    for match in islice(_LEADING.finditer(visible), MAX_LEADING_CUES):
        fragment = match.group("dx").strip()
        span = (match.start("dx"), match.end("dx"))
        known = normalise_diagnosis(scenario, text, c, span)
        if known:
            return known
        if next(c.occurrences(everyone, *span), None) is not None:
            continue  # it names a candidate, negated: not an unknown diagnosis
        if (_STRONG_CUE.match(match.group("cue")) and not _NOT_A_DIAGNOSIS.match(fragment)
                and not _NEGATED_FRAGMENT.search(fragment)):
            return fragment.lower().removeprefix("a ").removeprefix("an ").strip()
    return ranked_leading(scenario, c)


# A percentage of something ("40% of the hemithorax", "a 30% increase") is not a probability.
_NOT_A_PROBABILITY = re.compile(r"\s*(?:of\b|reduction|increase|decrease|larger|smaller|bigger|growth|narrowing)", re.I)
_SEGMENT = re.compile(r"[;\n]|(?<=[.!?])\s")
MAX_GAP = 80  # characters between a diagnosis and its percentage
MAX_UNKNOWN_NAME = 60


def stated_probabilities(scenario: Scenario, c: Claims) -> tuple[list[tuple[str, float, bool]], str | None]:
    """Each percentage of the answer tied to the diagnosis named just before it (a candidate of
    the case, not negated, within ``MAX_GAP`` characters, not already given a number), else to
    the words before it: (name, probability, known). A problem instead when a number is not a
    probability or stands alone."""
    text = visible_text(c)
    percents = [m for m in _PERCENT.finditer(text) if not _NOT_A_PROBABILITY.match(text, m.end())]
    if not percents:
        return [], None
    mentions = sorted((start, item.name) for item in candidates(scenario)
                      for start, _, _, polarity in c.occurrences(item.phrases()) if polarity.value != "negated")
    starts = [m[0] for m in mentions]
    entries: dict[str, tuple[str, float, bool]] = {}
    previous_end = 0
    for match in percents:
        value = float(match["n"]) / 100
        if value > 1:
            return [], f"{match.group()} is not a probability"
        k = bisect_left(starts, match.start()) - 1
        if k >= 0 and mentions[k][0] >= previous_end and match.start() - mentions[k][0] <= MAX_GAP:
            name = mentions[k][1]
            entries[name] = (name, value, True)
        else:
            breaks = (m.end() for m in _SEGMENT.finditer(text, previous_end, match.start()))
            fragment = " ".join(text[max(breaks, default=previous_end):match.start()].split()).strip(" :,-()*")
            if not fragment:
                return [], f"{match.group()} is not tied to a diagnosis"
            name = fragment[-MAX_UNKNOWN_NAME:].lower()
            entries[name] = (name, value, False)
        previous_end = match.end()
    return list(entries.values()), None


def ranked_leading(scenario: Scenario, c: Claims) -> str | None:
    """The candidate given the highest stated probability, for an answer that ranks without a cue
    ("1. Primary spontaneous pneumothorax (90%)")."""
    stated, problem = stated_probabilities(scenario, c)
    known = [(p, name) for name, p, is_known in stated if is_known]
    return max(known)[1] if known and problem is None else None


def stated_confidence(text: str, diagnosis: str | None, scenario: Scenario, c: Claims | None = None) -> float | None:
    """Probability attached to the leading diagnosis: a percentage near it, else certainty words."""
    if diagnosis is None:
        return None
    c = c or claims(scenario, text)
    text = visible_text(c)
    phrases: list[str] = []
    for item in candidates(scenario):
        if item.name == diagnosis:
            phrases = item.phrases()
    if diagnosis and not phrases:
        phrases = [diagnosis]
    # Sentences naming the diagnosis, in order, each with the offset of its first mention: one
    # pass over the text instead of matching every sentence separately.
    named = c.first_position_per_sentence(phrases) if phrases else {}
    spans = c.reading.text.sentence_spans  # of the raw text; the visible text keeps its offsets
    for index in sorted(named):
        sentence = text[spans[0][index]:spans[1][index]]
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
    prompts: Sequence[str] = (),
    read: Claims | None = None,
) -> Assessment:
    """Read one target answer against the hidden truth and the target's own earlier answers.
    ``prompts`` are the simulator's messages so far: what the answer echoes of them earns nothing
    (``read``: the claims of ``text`` with those prompts, if already made)."""
    gt = scenario.ground_truth
    if not text.strip():
        return Assessment(turn_index=turn_index, empty=True)
    r = read or claims(scenario, text, prompts)
    raw = text
    text = visible_text(r)
    if r.masked == [(0, len(raw))]:  # nothing of it earns anything (keyword stuffing)
        return Assessment(turn_index=turn_index, flags=sorted(r.flags))
    mentioned = [f.id for f in gt.findings if r.asserts(f.phrases())]
    hedged = [f.id for f in gt.findings if f.id not in mentioned and r.considers(f.phrases())]
    negated = [f.id for f in gt.findings if f.id not in mentioned and f.id not in hedged and r.negates(f.phrases())]
    diagnosis = leading_diagnosis(scenario, raw, r)
    flags = set(r.flags)
    outright = [item.name for item in candidates(scenario) if r.asserts(item.phrases())]
    if len(outright) >= SPRAY and not _PERCENT.search(text):
        # "This is X. This is Y. This is Z.": every candidate stated outright, none ranked, is no
        # commitment at all (a differential with probabilities or possibility words is not this).
        diagnosis = None
        flags.add("candidate_spray")
    all_sentences = sentences(raw)  # indexed as the reading's sentences
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
    change = bool(gt.change_vs_prior and r.considers(gt.change_vs_prior.keywords))
    plan = r.considers(gt.resolution_plan) or bool(_PLAN_WORDS.search(text))
    return Assessment(
        turn_index=turn_index,
        findings_mentioned=mentioned,
        findings_hedged=hedged,
        findings_negated=negated,
        diagnosis_stated=diagnosis,
        diagnosis_correct=diagnosis == gt.diagnosis.name,
        confidence=stated_confidence(raw, diagnosis, scenario, r),
        flags=sorted(flags),
        hedging=len(_HEDGES.findall(text)),
        change_described=change,
        plan_mentioned=plan,
        questions_asked=questions,
        facts_requested=facts,
        contradictions=contradictions,
        revision_acknowledged=revision,
        emergency_advised=_emergency_advised(text),
    )
