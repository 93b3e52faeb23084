"""The per-call matching functions: one text against one phrase list (see the package docstring)."""

from __future__ import annotations

from collections.abc import Iterable

from arena.matching.phrases import PhraseSet, compiled, hits, matches
from arena.matching.text import SMALL_TEXT, ParsedText, parse, sentence_spans_of


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
