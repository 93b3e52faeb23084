"""Phrase matching over model text, shared by the simulator's assessor, the rubric judge, the
patient-text guard and scenario validation.

Model text is untrusted free text (possibly huge or adversarial); these functions only read it.
A phrase counts as *affirmed* when it occurs outside the reach of a nearby negation in the same
sentence.

Rules (the lexicon below holds the word lists):

* Matching is case-insensitive. A phrase is split into words on whitespace and hyphens; between
  two words the text may have any run of whitespace and hyphens ("cup-to-disc" matches
  "cup to disc" and "cup-to-disc"). Other characters of a word (".", "%", "/") are literal.
* A phrase that starts with a letter or digit must not be glued to a preceding ``[a-z0-9-]``
  ("non-proliferative" does not contain "proliferative", "5mm" does not contain "mm"). The last
  word may carry an inflection tail (``INFLECTIONS``) and must not run on into ``[a-z0-9]``.
* Sentences split after ``SENTENCE_END_PUNCTUATION`` followed by whitespace, and on newlines. A
  match is *negated* when a ``NEGATORS`` entry occurs among the last ``NEGATION_WINDOW``
  whitespace-separated words before it within its clause (clauses break on
  ``CLAUSE_BREAK_PUNCTUATION`` and on ``CLAUSE_BREAK_WORDS``). Negators and clause words are
  whole words (``\\b``); a multiword negator allows any whitespace between its words.

Cost is linear in the length of the text and in the number of phrases. A text is parsed once
into *atoms*: maximal ``[a-z0-9]`` runs of the case-folded text and single other characters,
each with the separator gap (whitespace and hyphens) before it and its offsets, plus an index
from atom to positions. A phrase list is compiled once into a trie over atoms. A match is then a
walk along the trie from a text atom, and its negation a few binary searches in sorted offsets
(sentence starts, clause breaks, word starts, negators) computed once per text. Parsed
texts and compiled phrase lists live in small bounded LRU caches; the first call on a 1 MB text
is already linear, the caches only spare re-parsing the same answer for the next question.
"""

from __future__ import annotations

from collections.abc import Iterable

from arena.matching.lexicon import (
    CLAUSE_BREAK_PUNCTUATION,
    CLAUSE_BREAK_WORDS,
    INFLECTIONS,
    NEGATION_WINDOW,
    NEGATORS,
    SENTENCE_END_PUNCTUATION,
    WORD_SEPARATORS,
)
from arena.matching.phrases import PhraseSet, compiled, hits, matches
from arena.matching.reading import Reading, Vocabulary, read, vocabulary
from arena.matching.text import SMALL_TEXT, ParsedText, large_texts, parse, sentence_spans_of, small_texts

__all__ = [
    "CLAUSE_BREAK_PUNCTUATION", "CLAUSE_BREAK_WORDS", "INFLECTIONS", "NEGATION_WINDOW", "NEGATORS",
    "SENTENCE_END_PUNCTUATION", "WORD_SEPARATORS", "affirms", "clear_caches", "denies", "first_mentioned",
    "first_position", "first_position_per_sentence", "mentions", "occurrences", "read", "Reading", "sentences",
    "vocabulary", "Vocabulary",
]


def sentences(text: str) -> list[str]:
    """The sentences of ``text``, stripped, without empty ones (the indices ``occurrences`` uses)."""
    starts, ends = parse(text).sentence_spans if len(text) > SMALL_TEXT else sentence_spans_of(text)
    return [text[a:b] for a, b in zip(starts, ends, strict=True)]


def prepare(text: str, phrases: Iterable[str]) -> tuple[ParsedText, PhraseSet]:
    return parse(text), compiled(phrases if isinstance(phrases, tuple) else tuple(phrases))


# -- public API ------------------------------------------------------------------------------------
def occurrences(text: str, phrase: str) -> list[tuple[int, bool]]:
    """Every occurrence of ``phrase`` in ``text``: (sentence index, negated?)."""
    t, ps = prepare(text, (phrase,))
    found = sorted((start, sentence) for _, start, sentence in hits(t, ps))
    return [(sentence, t.negated(start, sentence)) for start, sentence in found]


def mentions(text: str, phrases: Iterable[str]) -> bool:
    """Any phrase appears (negated or not)."""
    t, ps = prepare(text, phrases)
    for _ in matches(t, ps, first_only=True):
        return True
    return any(pattern.search(text) for _, pattern in ps.fallback)


def affirms(text: str, phrases: Iterable[str]) -> bool:
    """Any phrase appears at least once without a negation before it."""
    t, ps = prepare(text, phrases)
    return any(not t.negated(start, sentence) for _, start, sentence in hits(t, ps))


def denies(text: str, phrases: Iterable[str]) -> bool:
    """Some phrase appears only under negation."""
    t, ps = prepare(text, phrases)
    seen: set[int] = set()
    affirmed: set[int] = set()
    for pid, start, sentence in hits(t, ps):
        seen.add(pid)
        if pid not in affirmed and not t.negated(start, sentence):
            affirmed.add(pid)
    return bool(seen - affirmed)


def first_position(text: str, phrases: Iterable[str]) -> int | None:
    """Character offset of the earliest occurrence of any phrase."""
    t, ps = prepare(text, phrases)
    positions = [start for _, start, _ in matches(t, ps, first_only=True)]
    positions += [m.start() for _, pattern in ps.fallback if (m := pattern.search(text))]
    return min(positions) if positions else None


def first_mentioned(text: str, phrases: Iterable[str]) -> str | None:
    """The first phrase, in the order given, that ``mentions`` finds in ``text``."""
    t, ps = prepare(text, phrases)
    found = {term[0] for term, _, _ in matches(t, ps)}
    found.update(pid for pid, pattern in ps.fallback if pattern.search(text))
    return ps.phrases[min(found)] if found else None


def first_position_per_sentence(text: str, phrases: Iterable[str]) -> dict[int, int]:
    """For each sentence (indexed as in ``sentences(text)``) holding an occurrence of a phrase,
    the offset inside that sentence of the earliest one: what ``first_position`` gives on each
    sentence that ``mentions`` a phrase, in one linear pass."""
    t, ps = prepare(text, phrases)
    starts = t.sentence_spans[0]
    best: dict[int, int] = {}
    for _, start, sentence in hits(t, ps):
        offset = start - starts[sentence]
        if offset < best.get(sentence, offset + 1):
            best[sentence] = offset
    return best


def clear_caches() -> None:
    """Forget parsed texts and compiled phrase lists (benchmarks use it to time first calls)."""
    small_texts.clear()
    large_texts.clear()
    compiled.cache_clear()
    vocabulary.cache_clear()

