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

from arena.matching.functions import (
    affirms,
    denies,
    first_mentioned,
    first_position,
    first_position_per_sentence,
    mentions,
    occurrences,
    sentences,
)
from arena.matching.lexicon import (
    CLAUSE_BREAK_PUNCTUATION,
    CLAUSE_BREAK_WORDS,
    INFLECTIONS,
    NEGATION_WINDOW,
    NEGATORS,
    SENTENCE_END_PUNCTUATION,
    WORD_SEPARATORS,
)
from arena.matching.phrases import compiled
from arena.matching.reading import Reading, Vocabulary, read, vocabulary
from arena.matching.text import large_texts, small_texts

__all__ = [
    "CLAUSE_BREAK_PUNCTUATION", "CLAUSE_BREAK_WORDS", "INFLECTIONS", "NEGATION_WINDOW", "NEGATORS",
    "SENTENCE_END_PUNCTUATION", "WORD_SEPARATORS", "affirms", "clear_caches", "denies", "first_mentioned",
    "first_position", "first_position_per_sentence", "mentions", "occurrences", "read", "Reading", "sentences",
    "vocabulary", "Vocabulary",
]


def clear_caches() -> None:
    """Forget parsed texts and compiled phrase lists (benchmarks use it to time first calls)."""
    small_texts.clear()
    large_texts.clear()
    compiled.cache_clear()
    vocabulary.cache_clear()

