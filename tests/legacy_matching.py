"""Phrase matching over model text, shared by the simulator's assessor and the rubric judge.

Model text is untrusted free text; these functions only read it. A phrase counts as *affirmed*
when it occurs outside the reach of a nearby negation in the same sentence.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

_NEGATORS = re.compile(
    r"\b(no|not|without|absent|isn't|aren't|doesn't|don't|cannot|can't|never|none|free of|"
    r"rather than|rules? out|ruled out|unlikely)\b",
    re.I,
)
_NEGATION_WINDOW = 6  # words before the phrase that a negator reaches, within its clause
_CLAUSE_BREAK = re.compile(r"[,;:]|\b(?:and|but|although|though|whereas|while)\b", re.I)
_SENTENCE = re.compile(r"(?<=[.!?;])\s+|\n+")


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.split(text) if s.strip()]


@lru_cache(maxsize=4096)
def _pattern(phrase: str) -> re.Pattern[str]:
    words = [re.escape(w) for w in phrase.lower().split()]
    # Allow a hyphen or spaces between words and a plural/inflection tail on the last word. A
    # hyphenated prefix blocks the match ("proliferative" is not in "non-proliferative").
    body = r"[\s\-]+".join(words)
    before = r"(?<![a-z0-9\-])" if phrase[:1].isalnum() else ""
    after = r"(?:s|es|ed|d)?(?![a-z0-9])" if phrase[-1:].isalnum() else ""
    return re.compile(rf"{before}{body}{after}", re.I)


def occurrences(text: str, phrase: str) -> list[tuple[int, bool]]:
    """Every occurrence of ``phrase`` in ``text``: (sentence index, negated?)."""
    found: list[tuple[int, bool]] = []
    for index, sentence in enumerate(sentences(text)):
        for match in _pattern(phrase).finditer(sentence):
            clause = _CLAUSE_BREAK.split(sentence[: match.start()])[-1]
            before = clause.split()[-_NEGATION_WINDOW:]
            negated = bool(_NEGATORS.search(" ".join(before)))
            found.append((index, negated))
    return found


def mentions(text: str, phrases: Iterable[str]) -> bool:
    """Any phrase appears (negated or not)."""
    return any(_pattern(p).search(text) for p in phrases)


def affirms(text: str, phrases: Iterable[str]) -> bool:
    """Any phrase appears at least once without a negation before it."""
    return any(not negated for p in phrases for _, negated in occurrences(text, p))


def denies(text: str, phrases: Iterable[str]) -> bool:
    """Some phrase appears only under negation."""
    for phrase in phrases:
        hits = occurrences(text, phrase)
        if hits and all(negated for _, negated in hits):
            return True
    return False


def first_position(text: str, phrases: Iterable[str]) -> int | None:
    """Character offset of the earliest occurrence of any phrase."""
    positions = [m.start() for p in phrases if (m := _pattern(p).search(text))]
    return min(positions) if positions else None
