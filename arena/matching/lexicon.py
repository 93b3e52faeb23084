"""The matcher's lexicon (negators, clause breaks, sentence ends, inflections, separators) and the
character-level rules compiled from it: case folding and the split of text into atoms."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

# -- lexicon (arena/matching/data/lexicon.json) ------------------------------------------------
LEXICON_FILE = Path(__file__).parent / "data" / "lexicon.json"
_DATA: dict[str, Any] = json.loads(LEXICON_FILE.read_text(encoding="utf-8"))
NEGATORS: tuple[str, ...] = tuple(_DATA["negators"])
CLAIM_NEGATORS: tuple[str, ...] = NEGATORS + tuple(_DATA["claim_negators"])
NEGATION_WINDOW: int = _DATA["negation_window"]  # words before the phrase that a negator reaches, within its clause
POST_NEGATORS: tuple[str, ...] = tuple(_DATA["post_negators"])
POST_WINDOW: int = _DATA["post_window"]  # words after the phrase that a post-negator reaches, within its clause
COLON_NEGATORS: tuple[str, ...] = tuple(_DATA["colon_negators"])  # "effusion: none"
HEDGES: tuple[str, ...] = tuple(_DATA["hedges"])
AFFIRMERS: tuple[str, ...] = tuple(_DATA["affirmers"])
POSSIBILITY: tuple[str, ...] = tuple(_DATA["possibility"])
POST_POSSIBILITY: tuple[str, ...] = tuple(_DATA["post_possibility"])
CLAUSE_BREAK_PUNCTUATION: str = _DATA["clause_break_punctuation"]
CLAUSE_BREAK_WORDS: tuple[str, ...] = tuple(_DATA["clause_break_words"])
SENTENCE_END_PUNCTUATION: str = _DATA["sentence_end_punctuation"]  # a sentence ends after one followed by whitespace
INFLECTIONS: tuple[str, ...] = tuple(_DATA["inflections"])  # tails the last word of a phrase may carry
WORD_SEPARATORS: str = _DATA["word_separators"]  # besides whitespace, may stand between the words of a phrase

# -- compiled rules -----------------------------------------------------------------------------
SENTENCE = re.compile(rf"[{re.escape(SENTENCE_END_PUNCTUATION)}](\s+)|\n+")
SEP = re.escape(WORD_SEPARATORS)
ATOMS = re.compile(rf"([a-z0-9]+|[^\sa-z0-9{SEP}])")  # split of case-folded text: gap, atom, gap, ...
ALNUM = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")
TAILS = frozenset(INFLECTIONS)
TAILS_BY_LAST: dict[str, tuple[str, ...]] = {
    last: tuple(sorted((t for t in INFLECTIONS if t[-1] == last), key=len)) for last in {t[-1] for t in INFLECTIONS}
}

# Case folding, one character for one character, so offsets in the folded text are offsets in
# the text: ``str.lower`` plus the equivalences ``re.IGNORECASE`` adds (dotless i, long s, micro
# sign, Greek and Cyrillic variants), each class mapped to its smallest member.
_CASE_CLASSES = (
    "i\u0131", "s\u017f", "\u00b5\u03bc", "\u0345\u03b9\u1fbe", "\u0390\u1fd3", "\u03b0\u1fe3",
    "\u03b2\u03d0", "\u03b5\u03f5", "\u03b8\u03d1", "\u03ba\u03f0", "\u03c0\u03d6", "\u03c1\u03f1",
    "\u03c2\u03c3", "\u03c6\u03d5", "\u0432\u1c80", "\u0434\u1c81", "\u043e\u1c82", "\u0441\u1c83",
    "\u0442\u1c84\u1c85", "\u044a\u1c86", "\u0463\u1c87", "\u1c88\ua64b", "\u1e61\u1e9b", "\ufb05\ufb06",
)
_FOLD_TABLE = {ord(c): min(cls) for cls in _CASE_CLASSES for c in cls if c != min(cls)}


def fold(text: str) -> str:
    if text.isascii():
        return text.lower()
    if "\u0130" in text:  # the one character whose str.lower() is two characters
        text = text.replace("\u0130", "i")
    folded = text.lower().translate(_FOLD_TABLE)
    if len(folded) != len(text):  # pragma: no cover - defensive, str.lower is 1:1 otherwise
        folded = "".join(c.lower()[:1] or c for c in text).translate(_FOLD_TABLE)
    return folded


def lexicon_entry(entry: str) -> tuple[tuple[str, ...], tuple[bool, ...]]:
    """An entry as atoms plus, between atoms, whether a whitespace run (else nothing) is required."""
    parts = ATOMS.split(fold(entry.lower()))
    if parts[0] or parts[-1] or any(g not in ("", " ") for g in parts[2:-1:2]) or not (
            parts[1][0] in ALNUM and parts[-2][-1] in ALNUM):
        raise ValueError(f"lexicon entry {entry!r}: letters, digits and \"'\"; words separated by single spaces")
    return tuple(parts[1::2]), tuple(g == " " for g in parts[2:-1:2])


NEGATOR_ENTRIES = [lexicon_entry(n) for n in NEGATORS]
BREAK_ENTRIES = [lexicon_entry(w) for w in CLAUSE_BREAK_WORDS]


def is_word(c: str) -> bool:
    return c.isalnum() or c == "_"  # exactly re's \w
