"""Many phrase lists against one text in a single walk: a *vocabulary* and the *reading* of a text.

The simulator's reader and the judge ask dozens to hundreds of questions of each answer ("is
this finding affirmed?", "is the plan mentioned?"), one phrase list each. Asked one by one, every
list walks the text again, so the cost grows with the number of lists; a hostile case whose
phrases share long prefixes turns that into minutes. A :class:`Vocabulary` compiles every phrase
of a scenario into one trie, and :func:`read` walks a text through it once, recording for each
phrase where it occurs (whole-text and per-sentence rules alike). Every later question is a
lookup: the cost of reading an answer is linear in its length, whatever the number of lists.

Phrases outside the vocabulary are still answered (by the per-call functions), just not shared.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from arena.matching import functions
from arena.matching.phrases import PhraseSet, compiled, fallback_hits, matches, per_sentence
from arena.matching.text import ParsedText, parse


@dataclass(frozen=True, eq=False)
class Vocabulary:
    """Distinct phrases compiled once into one trie; ``index`` maps a phrase to its id."""

    phrases: tuple[str, ...]
    index: dict[str, int]
    compiled: PhraseSet
    variants: dict[int, tuple[int, ...]] = field(default_factory=dict)  # phrase id -> ids of its variants
    groups: dict[tuple[str, ...], tuple[frozenset[int], tuple[str, ...]]] = field(default_factory=dict)

    def group(self, phrases: Iterable[str]) -> tuple[frozenset[int], tuple[str, ...]]:
        """The ids of ``phrases`` and of their variants, and the phrases outside the vocabulary
        (kept for the last few thousand lists asked about)."""
        key = phrases if isinstance(phrases, tuple) else tuple(phrases)
        hit = self.groups.get(key)
        if hit is None:
            ids: set[int] = set()
            unknown: list[str] = []
            for phrase in key:
                pid = self.index.get(phrase)
                if pid is None:
                    unknown.append(phrase)
                else:
                    ids.add(pid)
                    ids.update(self.variants.get(pid, ()))
            hit = (frozenset(ids), tuple(unknown))
            if len(self.groups) >= 4096:
                self.groups.clear()
            self.groups[key] = hit
        return hit


Variants = tuple[tuple[str, tuple[str, ...]], ...]  # (phrase, other wordings that count as it)


@lru_cache(maxsize=64)
def vocabulary(phrases: tuple[str, ...], variants: Variants = ()) -> Vocabulary:
    """``phrases`` compiled into one trie; each phrase of ``variants`` also matches its other wordings
    (through the reading's lookups, not the per-call functions)."""
    extra = tuple(v for _, forms in variants for v in forms)
    distinct = tuple(dict.fromkeys(phrases + extra))
    index = {p: i for i, p in enumerate(distinct)}
    links: dict[int, tuple[int, ...]] = {}
    for phrase, forms in variants:
        if phrase in index and forms:
            own = index[phrase]
            links[own] = tuple(dict.fromkeys(links.get(own, ()) + tuple(index[f] for f in forms if index[f] != own)))
    return Vocabulary(distinct, index, compiled(distinct), links)


@dataclass
class Reading:
    """Where each vocabulary phrase occurs in one text. ``first[pid]`` is the earliest whole-text
    match; ``hits[pid]`` lists (start, sentence) under per-sentence rules. Only phrases that occur
    have entries, so memory follows the matches, not the vocabulary size."""

    text: ParsedText
    vocab: Vocabulary
    first: dict[int, int] = field(default_factory=dict)
    hits: dict[int, list[tuple[int, int]]] = field(default_factory=dict)
    ends: dict[tuple[int, int], int] = field(default_factory=dict)  # (phrase id, start) -> end of that hit

    def _ids(self, phrases: Iterable[str]) -> tuple[list[int], list[str]]:
        known, unknown = [], []
        variants = self.vocab.variants
        for phrase in phrases:
            pid = self.vocab.index.get(phrase)
            if pid is None:
                unknown.append(phrase)
            else:
                known.append(pid)
                known.extend(variants.get(pid, ()))
        return known, unknown

    def spans(self, phrases: Iterable[str]) -> list[tuple[int, int, int]]:
        """(start, end, sentence) of every per-sentence occurrence of the phrases (and their
        variants), in text order; phrases outside the vocabulary are read through their own."""
        known, unknown = self.vocab.group(phrases)
        ends, hits = self.ends, self.hits
        found = {(start, ends[(pid, start)], sentence) for pid in known & hits.keys() for start, sentence in hits[pid]}
        if unknown:
            found.update(read(self.text.text, vocabulary(tuple(unknown))).spans(unknown))
        return sorted(found)

    def mentions(self, phrases: Iterable[str]) -> bool:
        known, unknown = self._ids(phrases)
        if any(pid in self.first for pid in known):
            return True
        if unknown:
            return functions.mentions(self.text.text, unknown)
        return False

    def affirms(self, phrases: Iterable[str]) -> bool:
        known, unknown = self._ids(phrases)
        negated = self.text.negated
        if any(not negated(start, sentence) for pid in known for start, sentence in self.hits.get(pid, ())):
            return True
        if unknown:
            return functions.affirms(self.text.text, unknown)
        return False

    def denies(self, phrases: Iterable[str]) -> bool:
        known, unknown = self._ids(phrases)
        negated = self.text.negated
        for pid in known:
            found = self.hits.get(pid)
            if found and all(negated(start, sentence) for start, sentence in found):
                return True
        if unknown:
            return functions.denies(self.text.text, unknown)
        return False

    def first_position(self, phrases: Iterable[str]) -> int | None:
        known, unknown = self._ids(phrases)
        positions = [self.first[pid] for pid in known if pid in self.first]
        if unknown:
            other = functions.first_position(self.text.text, unknown)
            if other is not None:
                positions.append(other)
        return min(positions) if positions else None

    def first_position_per_sentence(self, phrases: Sequence[str]) -> dict[int, int]:
        known, unknown = self._ids(phrases)
        starts = self.text.sentence_spans[0]
        best: dict[int, int] = {}
        for pid in known:
            for start, sentence in self.hits.get(pid, ()):
                offset = start - starts[sentence]
                if offset < best.get(sentence, offset + 1):
                    best[sentence] = offset
        if unknown:
            for sentence, offset in functions.first_position_per_sentence(self.text.text, unknown).items():
                if offset < best.get(sentence, offset + 1):
                    best[sentence] = offset
        return best


def read(text: str, vocab: Vocabulary) -> Reading:
    """The reading of ``text`` through ``vocab``: one walk, kept with the parsed text."""
    parsed = parse(text)
    cached = parsed.readings.get(vocab)
    if cached is not None:
        return cached
    reading = Reading(parsed, vocab)
    ps = vocab.compiled
    found = list(matches(parsed, ps))
    for (pid, _, _, _), start, _ in found:
        if start < reading.first.get(pid, start + 1):
            reading.first[pid] = start
    longest: dict[tuple[int, int], int] = {}
    for (pid, _, _, _), start, end in found:
        if end > longest.get((pid, start), -1):
            longest[(pid, start)] = end
    for pid, start, sentence in per_sentence(parsed, found):
        reading.hits.setdefault(pid, []).append((start, sentence))
        reading.ends[(pid, start)] = longest[(pid, start)]
    for pid, pattern in ps.fallback:
        match = pattern.search(text)
        if match is not None:
            reading.first[pid] = match.start()
            reading.hits[pid] = list(fallback_hits(parsed, pattern))
            for start, _ in reading.hits[pid]:
                m = pattern.match(text, start)
                reading.ends[(pid, start)] = m.end() if m else start
    if len(parsed.readings) >= 4:  # a text is read through few vocabularies; keep the newest
        parsed.readings.pop(next(iter(parsed.readings)))
    parsed.readings[vocab] = reading
    return reading
