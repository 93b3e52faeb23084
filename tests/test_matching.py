"""The phrase matcher: documented semantics, agreement with the legacy (quadratic) implementation
kept verbatim in ``tests/legacy_matching.py``, and linear cost on huge untrusted answers."""

from __future__ import annotations

import random
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import pytest

from agents.simulator.assess import (
    MAX_LEADING_CUES,
    assess_answer,
    candidates,
    leading_diagnosis,
    phrase_lists,
    stated_confidence,
)
from arena import matching as new
from arena.composition import create_client
from arena.matching.phrases import compiled
from arena.matching.text import parse
from arena.schemas.scenario import Scenario
from arena.schemas.transcript import Transcript
from scenarios.library import ScenarioLibrary
from tests import legacy_matching as legacy
from tests.conftest import run
from tests.helpers import encounter

ROOT = Path(__file__).resolve().parents[1]
# Reference models whose encounters make the differential corpus (the pixel model is left out:
# it reads pixels for a minute and its answers use the same templates).
CORPUS_MODELS = ("reference/oracle", "reference/blind")


# -- (a) documented semantics ---------------------------------------------------------------------
def test_existing_examples() -> None:
    assert not new.mentions("non-proliferative diabetic retinopathy", ["proliferative diabetic retinopathy"])
    assert new.mentions("proliferative diabetic retinopathy", ["proliferative diabetic retinopathy"])
    assert new.mentions("melanoma 55%", ["%"])
    assert new.affirms("no effusion, irregular border and several colours", ["irregular border"])
    assert not new.affirms("there is no irregular border", ["irregular border"])


def test_case_and_word_gaps() -> None:
    assert new.mentions("IRREGULAR Border", ["irregular border"])
    assert new.mentions("irregular\t  border", ["irregular border"])
    assert new.mentions("irregular-border", ["irregular border"])
    assert new.mentions("irregular - border", ["irregular border"])
    assert not new.mentions("irregularborder", ["irregular border"])
    assert not new.mentions("irregular, border", ["irregular border"])
    assert new.first_position("A large Pulmonary nodule", ["pulmonary nodule"]) == 8


def test_glued_prefix_blocks_a_match() -> None:
    assert not new.mentions("non-proliferative", ["proliferative"])
    assert not new.mentions("nonproliferative", ["proliferative"])
    assert new.mentions("non proliferative", ["proliferative"])  # a space is not a prefix
    assert not new.mentions("5mm", ["mm"])
    assert new.mentions("5 mm", ["mm"])
    assert new.mentions("(melanoma)", ["melanoma"])
    assert new.mentions("'melanoma'", ["melanoma"])
    assert new.mentions("5/mm", ["mm"])  # "/" is not a prefix character
    assert not new.mentions("premelanoma", ["melanoma"])


def test_inflection_tail_and_run_on() -> None:
    for word in ("nodule", "nodules", "noduled", "nodulees"):
        assert new.mentions(f"a {word} here", ["nodule"]), word
    assert new.mentions("treated", ["treat"]) and new.mentions("treats", ["treat"])
    assert new.mentions("pulmonary nodules", ["pulmonary nodule"])
    assert not new.mentions("nodulex", ["nodule"])
    assert not new.mentions("nodule2", ["nodule"])
    assert not new.mentions("pulmonaryx nodule", ["pulmonary nodule"])  # only the last word inflects
    assert new.mentions("melanoma-like", ["melanoma"])
    assert new.mentions("melanoma's border", ["melanoma"])
    assert new.mentions("melanoma.", ["melanoma"])


def test_symbols_are_literal() -> None:
    assert new.mentions("a lesion of 8.5 mm", ["8.5 mm"])
    assert new.mentions("a lesion of 8.5mm", ["8.5mm"])
    assert not new.mentions("a lesion of 8,5 mm", ["8.5 mm"])
    assert not new.mentions("a lesion of 18.5 mm", ["8.5 mm"])
    assert not new.mentions("a lesion of 8.55 mm", ["8.5 mm"])
    assert new.mentions("T2/FLAIR signal", ["t2/flair"])
    assert not new.mentions("T2 FLAIR signal", ["t2/flair"])
    assert new.mentions("melanoma (55%)", ["55%"])
    assert new.mentions("55%)", ["%"]) and new.first_position("55%)", ["%"]) == 2
    assert new.mentions("a.b.c", ["a.b"]) and not new.mentions("a..b", ["a.b"])


def test_negation_window() -> None:
    assert not new.affirms("no irregular border", ["irregular border"])
    assert new.denies("no irregular border", ["irregular border"])
    five = "one two three four five"
    assert not new.affirms(f"no {five} irregular border", ["irregular border"])  # 6 words back
    assert new.affirms(f"no {five} six irregular border", ["irregular border"])  # 7 words back
    assert not new.affirms("NOT an irregular border", ["irregular border"])
    assert new.affirms("nothing irregular border", ["irregular border"])  # "nothing" is not "no"
    assert new.affirms("notable irregular border", ["irregular border"])
    assert not new.affirms("cannot see an irregular border", ["irregular border"])
    assert not new.affirms("isn't an irregular border", ["irregular border"])
    assert new.affirms("isn’t an irregular border", ["irregular border"])  # only the ASCII apostrophe


def test_multiword_negators() -> None:
    for negator in ("free of", "rather than", "rule out", "rules out", "ruled out"):
        assert not new.affirms(f"we {negator} melanoma", ["melanoma"]), negator
        assert new.denies(f"we {negator} melanoma", ["melanoma"]), negator
    assert not new.affirms("free \t of melanoma", ["melanoma"])
    assert new.affirms("free from melanoma", ["melanoma"])
    assert new.affirms("rather melanoma", ["melanoma"])
    assert new.affirms("melanoma is unlikely", ["melanoma"])  # a negator after the phrase does not count


def test_clause_breaks_stop_negation() -> None:
    for joint in (", ", "; ", ": ", " and ", " but ", " although ", " though ", " whereas ", " while "):
        text = f"no effusion{joint}irregular border"
        assert new.affirms(text, ["irregular border"]), joint
    assert not new.affirms("no effusion band irregular border", ["irregular border"])  # "band" is not "and"
    assert not new.affirms("no effusion or irregular border", ["irregular border"])
    # The window counts words of the clause only.
    assert new.occurrences("no, irregular border", "irregular border") == [(0, False)]


def test_sentence_boundaries() -> None:
    text = "There is no effusion. Irregular border!  Nodules? Yes; nodules\nand more nodules"
    assert new.sentences(text) == ["There is no effusion.", "Irregular border!", "Nodules?", "Yes;",
                                   "nodules", "and more nodules"]
    assert new.occurrences(text, "nodules") == [(2, False), (4, False), (5, False)]
    assert new.occurrences("no. Melanoma", "melanoma") == [(1, False)]  # negation stays in its sentence
    assert new.occurrences("no melanoma.Melanoma", "melanoma") == [(0, True), (0, True)]  # no space: one sentence
    # A phrase broken by a newline is mentioned (whole text) but occurs in no sentence.
    assert new.mentions("irregular\nborder", ["irregular border"])
    assert new.occurrences("irregular\nborder", "irregular border") == []
    assert not new.affirms("irregular\nborder", ["irregular border"])
    assert new.first_position("x\nirregular\nborder", ["irregular border"]) == 2


def test_overlapping_matches_of_one_phrase() -> None:
    assert new.occurrences("nodule nodule nodule", "nodule nodule") == [(0, False)]
    assert new.occurrences("nodule nodule nodule nodule", "nodule nodule") == [(0, False), (0, False)]
    assert new.occurrences("%%%", "%") == [(0, False)] * 3


def test_unicode_text() -> None:
    assert new.mentions("Café au lait macule", ["café au lait"])
    assert new.mentions("CAFÉ AU LAIT", ["café au lait"])
    assert new.mentions("cafés", ["café"]) and not new.mentions("caféx", ["café"])
    assert new.mentions("irregular\u00a0border", ["irregular border"])  # no-break space
    assert not new.mentions("irregular\u2014border", ["irregular border"])  # an em dash is not a hyphen
    assert new.mentions("éirregular border", ["irregular border"])  # only [a-z0-9-] glue
    assert not new.mentions("Kirregular border", ["irregular border"])  # Kelvin sign folds to k
    assert new.mentions("STRAẞE", ["straße"])
    assert new.mentions("ΟΔΟΣ ΚΑΙ", ["οδος"])
    assert new.mentions("🙂 melanoma 🙂", ["melanoma"])
    assert new.sentences("Prüfung. Ärger!") == ["Prüfung.", "Ärger!"]
    for text, phrase in [("Café", "café"), ("İzmir", "izmir"), ("ſcar", "scar"), ("µm", "μm")]:
        assert new.mentions(text, [phrase]) == legacy.mentions(text, [phrase]), (text, phrase)


def test_empty_text_and_phrases() -> None:
    assert new.sentences("") == [] and new.sentences(" \n ") == []
    assert new.occurrences("", "melanoma") == []
    assert not new.mentions("", ["melanoma"]) and not new.affirms("", ["melanoma"])
    assert not new.denies("", ["melanoma"]) and new.first_position("", ["melanoma"]) is None
    assert not new.mentions("melanoma", []) and not new.affirms("melanoma", [])
    assert not new.denies("melanoma", []) and new.first_position("melanoma", []) is None
    assert new.first_mentioned("melanoma", []) is None
    assert new.first_position_per_sentence("melanoma", []) == {}


def test_phrases_may_be_any_iterable() -> None:
    assert new.mentions("a melanoma", (p for p in ["naevus", "melanoma"]))
    assert new.affirms("a melanoma", iter(["melanoma"]))
    assert new.first_position("a melanoma", {"melanoma"}) == 2


def test_first_mentioned_follows_the_phrase_order() -> None:
    text = "benign naevus rather than melanoma"
    assert new.first_mentioned(text, ["melanoma", "naevus"]) == "melanoma"
    assert new.first_mentioned(text, ["naevus", "melanoma"]) == "naevus"
    assert new.first_mentioned(text, ["lymphoma", "naevi"]) is None
    assert new.first_mentioned("non-melanoma", ["melanoma"]) is None
    many = [f"syndrome {i}" for i in range(20_000)] + ["melanoma"]
    assert new.first_mentioned("I worry about melanoma", many) == "melanoma"


def test_first_position_per_sentence() -> None:
    text = "Melanoma first. Then a naevus or melanoma? None here. x melanoma"
    assert new.first_position_per_sentence(text, ["melanoma", "naevus"]) == {0: 0, 1: 7, 3: 2}


def test_fallback_phrases_with_edge_hyphens() -> None:
    assert new.mentions("HER2 -ve", ["-ve"]) and not new.mentions("five", ["-ve"])
    assert new.occurrences("non- proliferative", "non-") == [(0, False)]
    assert new.occurrences("no a -ve. b -ve", "-ve") == [(0, True), (1, False)]


def test_intended_differences_from_legacy() -> None:
    """Every behaviour change, with the old answer next to the new one."""
    # 1. A hyphen inside a phrase word matches any run of whitespace/hyphens, as a space does.
    for text in ("cup to disc ratio", "cup - to - disc ratio", "cup--to-disc ratio"):
        assert not legacy.mentions(text, ["cup-to-disc ratio"]) and new.mentions(text, ["cup-to-disc ratio"])
    assert legacy.mentions("cup-to-disc ratio", ["cup-to-disc ratio"]) and new.mentions(
        "cup-to-disc ratio", ["cup-to-disc ratio"])
    assert not legacy.affirms("a follow up", ["follow-up"]) and new.affirms("a follow up", ["follow-up"])
    # The "non-" rule is untouched: a hyphenated prefix still blocks the phrase.
    assert not new.mentions("non-proliferative", ["proliferative"])
    assert not new.mentions("non-proliferative diabetic", ["proliferative diabetic"])
    # 2. Whitespace around a phrase is ignored; it no longer switches off the prefix rule.
    assert legacy.mentions("nonmelanoma", [" melanoma"]) and not new.mentions("nonmelanoma", [" melanoma"])
    # 3. A blank phrase matches nothing (it used to match everywhere, even in empty text).
    assert legacy.mentions("anything", [""]) and not new.mentions("anything", [""])
    assert legacy.first_position("", ["  "]) == 0 and new.first_position("", ["  "]) is None
    assert legacy.affirms("x", [""]) and not new.affirms("x", [""])
    # 4. A negator glued to the match by "_" is not a separate word (phrases starting with "_").
    assert legacy.occurrences("no_x", "_x") == [(0, True)] and new.occurrences("no_x", "_x") == [(0, False)]


# -- (b) differential against the legacy implementation -------------------------------------------
def canonical(phrase: str) -> str | None:
    """The phrase the legacy matcher must be given to mean what the new one means by ``phrase``
    (improvements 1-3 above); None for a blank phrase, which now matches nothing."""
    raw = phrase.strip()
    if not raw:
        return None
    if raw[0] == "-" or raw[-1] == "-":
        return raw
    return raw.replace("-", " ")


class Differences:
    """Checks new == legacy(canonical phrases) exactly, and records where new != legacy(phrases)."""

    def __init__(self) -> None:
        self.checked = 0
        self.changed: set[tuple[str, tuple[str, ...]]] = set()  # (function, phrases) that differ

    def compare(self, text: str, phrases: list[str]) -> None:
        canon = [c for p in phrases if (c := canonical(p)) is not None]
        calls: list[tuple[str, Callable[..., object], Callable[..., object]]] = [
            ("mentions", new.mentions, legacy.mentions), ("affirms", new.affirms, legacy.affirms),
            ("denies", new.denies, legacy.denies), ("first_position", new.first_position, legacy.first_position),
        ]
        same = canon == phrases
        for name, mine, old in calls:
            got = mine(text, phrases)
            assert got == old(text, canon), (name, text, phrases)
            if not same and got != old(text, phrases):
                self.changed.add((name, tuple(phrases)))
        first = next((p for p in phrases if (c := canonical(p)) is not None and legacy.mentions(text, [c])), None)
        assert new.first_mentioned(text, phrases) == first, (text, phrases)
        per_sentence = {i: legacy.first_position(s, canon) for i, s in enumerate(legacy.sentences(text))
                        if canon and legacy.mentions(s, canon)}
        assert new.first_position_per_sentence(text, phrases) == per_sentence, (text, phrases)
        self.checked += 1

    def compare_phrase(self, text: str, phrase: str) -> None:
        c = canonical(phrase)
        got = new.occurrences(text, phrase)
        assert got == (legacy.occurrences(text, c) if c is not None else []), (text, phrase)
        if c != phrase and got != legacy.occurrences(text, phrase):
            self.changed.add(("occurrences", (phrase,)))
        self.checked += 1

    def compare_all(self, texts: Iterable[str], groups: list[list[str]]) -> None:
        unique_groups = list(dict.fromkeys(tuple(g) for g in groups))
        unique_phrases = list(dict.fromkeys(p for g in unique_groups for p in g))
        for text in dict.fromkeys(texts):
            assert new.sentences(text) == legacy.sentences(text)
            for group in unique_groups:
                self.compare(text, list(group))
            for phrase in unique_phrases:
                self.compare_phrase(text, phrase)

    def only_hyphen_changes(self) -> bool:
        """Improvement 1 is the only one a stripped, non-blank phrase can show."""
        return all(any("-" in p.strip(" -") for p in phrases) for _, phrases in self.changed)


@pytest.fixture(scope="module")
def corpus(library: ScenarioLibrary) -> list[tuple[Scenario, Transcript]]:
    out = []
    for scenario in library.all():
        for spec in CORPUS_MODELS:
            target = create_client(spec, scenario=scenario, seed=0)
            out.append((scenario, run(encounter(library, scenario, target, seed=0))))
    return out


def test_corpus_agrees_with_legacy(corpus: list[tuple[Scenario, Transcript]]) -> None:
    """Every target and simulator turn of every scenario x CORPUS_MODELS, against every phrase
    list of its scenario; plus each conversation as one long text (the indexed strategy)."""
    diff = Differences()
    by_scenario: dict[str, tuple[Scenario, list[str]]] = {}
    for scenario, transcript in corpus:
        by_scenario.setdefault(scenario.id, (scenario, []))[1].extend(t.text for t in transcript.turns)
        assert transcript.target_turns() and transcript.simulator_turns()
    assert len(by_scenario) == len(ScenarioLibrary().all())
    for scenario, texts in by_scenario.values():
        groups = phrase_lists(scenario)
        diff.compare_all(texts, groups)
        whole = "\n".join(dict.fromkeys(texts))
        for group in dict.fromkeys(tuple(g) for g in groups):
            diff.compare(whole, list(group))
    assert diff.checked > 10_000
    # No library phrase is blank or padded, so the only differences are hyphenated phrases
    # now also matching words written apart ("blue grey" for "blue-grey").
    assert diff.only_hyphen_changes(), diff.changed
    # The answer reader's one-pass confidence and fact look-ups give what the sentence-by-sentence
    # loops gave (with the legacy matcher on the same canonical phrases).
    for scenario, transcript in corpus:
        for turn in transcript.target_turns():
            a = assess_answer(scenario, turn.text, turn.index, [])
            assert a.confidence == _legacy_confidence(turn.text, a.diagnosis_stated, scenario), turn.text
            assert a.facts_requested == _legacy_facts(scenario, turn.text), turn.text
            assert a.questions_asked == [q for q in legacy.sentences(turn.text) if q.endswith("?")]


def _canon(phrases: Iterable[str]) -> list[str]:
    return [c for p in phrases if (c := canonical(p)) is not None]


def _legacy_confidence(text: str, diagnosis: str | None, scenario: Scenario) -> float | None:
    """``stated_confidence`` as it was: every sentence matched separately."""
    from agents.simulator.assess import _CERTAIN, _LIKELY, _PERCENT

    phrases: list[str] = []
    for item in candidates(scenario):
        if item.name == diagnosis:
            phrases = _canon(item.phrases())
    if diagnosis and not phrases:
        phrases = _canon([diagnosis])
    for sentence in legacy.sentences(text):
        if phrases and legacy.mentions(sentence, phrases):
            pos = legacy.first_position(sentence, phrases) or 0
            for match in _PERCENT.finditer(sentence):
                if match.start() >= pos:
                    return min(float(match["n"]) / 100, 1.0)
            if _CERTAIN.search(sentence):
                return 0.97
            if _LIKELY.search(sentence):
                return 0.7
    return 0.97 if _CERTAIN.search(text) else None


def _legacy_facts(scenario: Scenario, text: str) -> list[str]:
    questions = [s for s in legacy.sentences(text) if s.endswith("?")]
    return [fact.id for fact in scenario.patient.facts
            if any(legacy.mentions(q, _canon([fact.topic, *fact.keywords])) for q in questions)]


def _fuzz_text(rng: random.Random, words: list[str], size: int, phrases: Sequence[str] = ()) -> str:
    extras = ["no", "not", "No", "without", "free of", "rather than", "rules out", "ruled out", "unlikely",
              "isn't", "can't", "and", "but", "while", "though", "although", "whereas", "band", "nothing",
              "non-", "-", " - ", "--", "5mm", "8.5", "mm", "%", "55%", "(", ")", "/", "'s", "_", "é", "É",
              "\u00a0", "—", "’", "Ü", "ſ", "K", "İ", "ß", "Σ", "🙂"]
    punctuation = [" ", " ", " ", " ", ", ", "; ", ": ", ". ", "! ", "? ", "\n", "\n\n", ".", " -", "-", "  "]
    tails = ["", "", "", "s", "es", "ed", "d", "x", "2"]
    out = []
    for _ in range(size):
        roll = rng.random()
        if phrases and roll < 0.15:  # a whole phrase, its words joined in any way
            glue = [" ", "-", " - ", "  ", "--", "\n", ", ", "_"]
            out.append("".join(w + rng.choice(glue) for w in rng.choice(phrases).replace("-", " ").split()))
        elif roll < 0.55:
            word = rng.choice(words)
            word = word.upper() if rng.random() < 0.1 else word
            out.append(word + rng.choice(tails))
        elif roll < 0.8:
            out.append(rng.choice(extras))
        else:
            out.append(rng.choice(punctuation))
        out.append(rng.choice(punctuation) if rng.random() < 0.3 else " ")
    return "".join(out)


def _fuzz_phrases(rng: random.Random, words: list[str]) -> list[str]:
    shapes = [
        lambda: rng.choice(words),
        lambda: " ".join(rng.sample(words, 2)),
        lambda: "-".join(rng.sample(words, 2)),
        lambda: " ".join(rng.sample(words, 3)),
        lambda: rng.choice(["%", "8.5 mm", "5mm", "t2/flair", "(biopsy)", "'s", "café", "x-ray", "-ve", "non-",
                            "a.b", "mm", "İzmir", "straße", "no", "free of"]),
    ]
    return [rng.choice(shapes)() for _ in range(rng.randint(1, 6))]


def test_fuzz_agrees_with_legacy(library: ScenarioLibrary) -> None:
    """Seeded random texts from the scenario's words, negators, clause words, punctuation,
    hyphens, tails and some Unicode, against its phrase lists and random phrases."""
    rng = random.Random(0)
    diff = Differences()
    for scenario in library.all():
        groups = phrase_lists(scenario)
        words = sorted({w for g in groups for p in g for w in p.lower().replace("-", " ").split()})
        for _ in range(6):
            text = _fuzz_text(rng, words, rng.choice([5, 20, 60, 400]), [p for g in groups for p in g])
            picked = [*rng.sample(groups, min(4, len(groups))), _fuzz_phrases(rng, words)]
            for group in picked:
                diff.compare(text, group)
                for phrase in group:
                    diff.compare_phrase(text, phrase)
    assert diff.checked > 5000
    assert diff.changed and diff.only_hyphen_changes(), diff.changed


def test_both_matching_strategies_agree() -> None:
    """Short texts visit every atom, long ones use the atom index; the answers are the same."""
    rng = random.Random(1)
    words = ["irregular", "border", "nodule", "non", "proliferative", "mm", "8.5", "no", "free", "of"]
    phrases = ["irregular border", "nodule", "non-proliferative", "8.5 mm", "%", "café", "border-nodule"]
    many = phrases + [f"zz{i} yy" for i in range(500)]
    for _ in range(30):
        text = _fuzz_text(rng, words, 200)
        # the phrases alone (index strategy), one by one or together, and padded with many
        # others (every-atom strategy)
        atoms = len(parse(text).atoms)
        assert len(compiled(tuple(phrases)).keys) * 8 < atoms <= len(compiled(tuple(many)).keys) * 8
        for phrase in phrases:
            assert new.occurrences(text, phrase) == [
                (s, n) for s, n in legacy.occurrences(text, canonical(phrase) or "")]
        assert new.affirms(text, phrases) == new.affirms(text, many)
        assert new.denies(text, phrases) == new.denies(text, many)
        assert new.first_position(text, phrases) == new.first_position(text, many)
        assert new.first_position_per_sentence(text, phrases) == new.first_position_per_sentence(text, many)


# -- (c) cost on huge answers ---------------------------------------------------------------------
def _flood(scenario: Scenario, size: int) -> str:
    """An answer without punctuation made of finding words and negators, ``size`` characters."""
    words = [w for f in scenario.ground_truth.findings for p in f.phrases() for w in p.split()]
    words += ["no", "not", "without", "likely", "most likely", "and", "consistent with", "metastases", "ct"]
    rng = random.Random(size)
    out: list[str] = []
    length = 0
    while length < size:
        word = rng.choice(words)
        out.append(word)
        length += len(word) + 1
    return " ".join(out)[:size]


def _time_read(scenario: Scenario, text: str) -> float:
    phrases = phrase_lists(scenario)
    best = float("inf")
    for _ in range(2):
        new.clear_caches()
        start = time.perf_counter()
        for group in phrases:
            new.affirms(text, group)
            new.denies(text, group)
        assess_answer(scenario, text, 1, [])
        best = min(best, time.perf_counter() - start)
    return best


def test_huge_answer_is_read_in_linear_time(cxr: Scenario) -> None:
    small, big = _flood(cxr, 50_000), _flood(cxr, 200_000)
    t_small, t_big = _time_read(cxr, small), _time_read(cxr, big)
    assert t_big < 5.0, t_big
    assert t_big < 8 * t_small + 0.1, (t_small, t_big)  # linear: ~4x; quadratic would be ~16x


def test_adversarial_cues_are_bounded(cxr: Scenario) -> None:
    start = time.perf_counter()
    cue = "It is likely abc. "  # a cue that names nothing
    assert leading_diagnosis(cxr, cue * (MAX_LEADING_CUES - 1) + "Most likely pulmonary metastases.") == (
        "pulmonary metastases")
    assert leading_diagnosis(cxr, cue * MAX_LEADING_CUES + "Most likely pulmonary metastases.") is None
    assert leading_diagnosis(cxr, "likely " * 100_000 + "most likely pulmonary metastases") is None
    # Past the cue budget, a probability still ranks the candidate it is tied to.
    assert leading_diagnosis(cxr, "likely " * 100_000 + "most likely pulmonary metastases 60%") == "pulmonary metastases"
    # (sentences with a verb: a run of bare "metastases." is a keyword list, which earns nothing)
    assert stated_confidence("These are metastases. " * 20_000 + "These are metastases, 60%", "pulmonary metastases",
                             cxr) == 0.6
    questions = assess_answer(cxr, "Do you smoke? " * 20_000, 1, [])
    assert questions.facts_requested == ["smoking"] and len(questions.questions_asked) == 20_000
    assert time.perf_counter() - start < 5.0


def test_normal_answers_are_read_as_before(cxr: Scenario) -> None:
    text = ("Most likely pulmonary metastases (65%), granulomas 20%. There are multiple nodules in both "
            "lungs, no effusion. Do you smoke? Any history of cancer? I recommend a CT of the chest.")
    a = assess_answer(cxr, text, 1, [])
    assert a.diagnosis_stated == "pulmonary metastases" and a.confidence == 0.65
    assert set(a.findings_mentioned) >= {"multiple-nodules", "bilateral"}
    assert a.questions_asked == ["Do you smoke?", "Any history of cancer?"]
    assert set(a.facts_requested) >= {"smoking", "history"}
    assert a.plan_mentioned


# -- the benchmark script runs ------------------------------------------------------------------
def test_benchmark_script_runs_quick() -> None:
    result = subprocess.run([sys.executable, "benchmarks/matching.py", "--quick"], cwd=ROOT,
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    assert "10 KB" in result.stdout and "50 KB" in result.stdout and "legacy" in result.stdout


# -- (d) one walk through a scenario's vocabulary ------------------------------------------------
def test_vocabulary_reading_answers_what_each_list_would(corpus: list[tuple[Scenario, Transcript]]) -> None:
    """A reading through a vocabulary answers every phrase list exactly as the per-list functions
    do, including lists with phrases outside the vocabulary; the scenario's reading, which adds
    each phrase's variants (word order, synonyms, units), finds at least as much."""
    from agents.simulator.assess import reading
    from arena.matching import read, vocabulary

    checked = 0
    for scenario, transcript in corpus[::3]:
        groups = phrase_lists(scenario) + [["outside the vocabulary", "nodule"], ["not-in-vocab"]]
        plain = vocabulary(tuple(p for g in phrase_lists(scenario) for p in g))
        for turn in transcript.turns:
            r = read(turn.text, plain)
            wide = reading(scenario, turn.text)
            for group in groups:
                assert wide.mentions(group) or not new.mentions(turn.text, group)
                assert r.mentions(group) == new.mentions(turn.text, group)
                assert r.affirms(group) == new.affirms(turn.text, group)
                assert r.denies(group) == new.denies(turn.text, group)
                assert r.first_position(group) == new.first_position(turn.text, group)
                assert r.first_position_per_sentence(group) == new.first_position_per_sentence(turn.text, group)
                checked += 1
    assert checked > 5_000


def test_a_hostile_vocabulary_is_read_in_one_walk(library: ScenarioLibrary) -> None:
    """A case at the caps whose 20,000+ phrases share a 15-word prefix, against an answer made of
    that prefix: per-list matching took minutes per encounter; one walk takes well under seconds."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_matching", ROOT / "benchmarks" / "matching.py")
    assert spec and spec.loader
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    scenario = bench.hostile_scenario(library.get("derm-changing-mole"), 100, 200)
    assert sum(map(len, phrase_lists(scenario))) > 20_000
    text = ("b " * 40 + "zz3 f7 r4a2. ") * 200
    start = time.perf_counter()
    assessment = assess_answer(scenario, text, 1, [])
    elapsed = time.perf_counter() - start
    assert assessment.findings_mentioned == []  # "f7" alone is not the phrase "b b ... b f7"
    assert elapsed < 10, elapsed
