"""One text, parsed once: atoms with offsets, sentence spans and the sorted offsets negation needs,
kept in small bounded caches."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import OrderedDict, defaultdict
from itertools import accumulate
from typing import Any, Generic, TypeVar

from arena.matching.lexicon import (
    ATOMS,
    BREAK_ENTRIES,
    CLAUSE_BREAK_PUNCTUATION,
    NEGATION_WINDOW,
    NEGATOR_ENTRIES,
    SENTENCE,
    WORD_SEPARATORS,
    fold,
    is_word,
)


def sentence_spans_of(text: str) -> tuple[list[int], list[int]]:
    """Start and end offsets of the stripped, non-empty pieces of ``text`` between sentence breaks."""
    starts: list[int] = []
    ends: list[int] = []
    cuts = [m.span(1) if m.start(1) >= 0 else m.span() for m in SENTENCE.finditer(text)]
    cuts.append((len(text), len(text)))
    begin = 0
    for stop, after in cuts:
        if begin < stop and not text[begin].isspace() and not text[stop - 1].isspace():
            starts.append(begin)  # nothing to strip (the usual case)
            ends.append(stop)
        else:
            piece = text[begin:stop]
            stripped = piece.strip()
            if stripped:
                start = begin + len(piece) - len(piece.lstrip())
                starts.append(start)
                ends.append(start + len(stripped))
        begin = after
    return starts, ends



# -- bounded caches ----------------------------------------------------------------------------
K = TypeVar("K")
V = TypeVar("V")


class LRU(Generic[K, V]):
    """A small LRU bounded by entries and by the summed weight (characters) of its entries; the
    newest entry is always kept, so one huge text is parsed once, not once per question."""

    def __init__(self, entries: int, weight: int) -> None:
        self._data: OrderedDict[K, tuple[V, int]] = OrderedDict()
        self._entries, self._max_weight, self._weight = entries, weight, 0

    def get(self, key: K) -> V | None:
        hit = self._data.get(key)
        if hit is None:
            return None
        self._data.move_to_end(key)
        return hit[0]

    def put(self, key: K, value: V, weight: int) -> None:
        old = self._data.pop(key, None)
        if old is not None:
            self._weight -= old[1]
        self._data[key] = (value, weight)
        self._weight += weight
        while len(self._data) > self._entries or (self._weight > self._max_weight and len(self._data) > 1):
            _, (_, w) = self._data.popitem(last=False)
            self._weight -= w

    def clear(self) -> None:
        self._data.clear()
        self._weight = 0


SMALL_TEXT = 4096  # texts up to this many characters share one cache, longer ones another
small_texts: LRU[str, ParsedText] = LRU(entries=512, weight=512 * (SMALL_TEXT + 1))
# A transcript's answers (up to MAX_ANSWER_CHARS each) are read by the simulator and then again by
# the judge: keep a whole transcript's worth. A parsed 1 MB text holds ~30 MB.
large_texts: LRU[str, ParsedText] = LRU(entries=16, weight=2_000_000)


def parse(text: str) -> ParsedText:
    cache = small_texts if len(text) <= SMALL_TEXT else large_texts
    parsed = cache.get(text)
    if parsed is None:
        parsed = ParsedText(text)
        cache.put(text, parsed, len(text) + 1)
    return parsed


# -- one text, parsed once -----------------------------------------------------------------------
class ParsedText:
    """Atoms of the folded text with their offsets, plus (lazily) an index of atoms, sentence
    spans and the sorted offsets negation needs."""

    __slots__ = ("text", "atoms", "gaps", "starts", "ends", "_index", "_sentences", "_breaks",
                 "_words", "_negators", "_negated", "readings", "claim_spans")

    def __init__(self, text: str) -> None:
        self.text = text
        parts = ATOMS.split(fold(text))  # [gap, atom, gap, atom, ..., gap]
        offsets = list(accumulate(map(len, parts), initial=0))
        self.atoms: list[str] = parts[1::2]
        self.gaps: list[str] = parts[0::2]  # gaps[j] is the separator run before atoms[j]
        self.starts: list[int] = offsets[1::2]
        self.ends: list[int] = offsets[2::2]
        self._index: dict[str, list[int]] | None = None
        self._sentences: tuple[list[int], list[int]] | None = None
        self._breaks: list[int] = []
        self._words: list[int] = []
        self._negators: tuple[list[int], list[int]] | None = None
        self._negated: dict[int, bool] = {}
        self.readings: dict[Any, Any] = {}  # Vocabulary -> Reading (arena.matching.reading)
        self.claim_spans: dict[str, Any] = {}  # lexicon spans the claim reader needs (arena.matching.polarity)

    @property
    def index(self) -> dict[str, list[int]]:
        """Atom -> its positions, ascending."""
        if self._index is None:
            index: defaultdict[str, list[int]] = defaultdict(list)
            for j, atom in enumerate(self.atoms):
                index[atom].append(j)
            self._index = index
        return self._index

    @property
    def sentence_spans(self) -> tuple[list[int], list[int]]:
        if self._sentences is None:
            self._sentences = sentence_spans_of(self.text)
        return self._sentences

    def lexicon_spans(self, entries: list[tuple[tuple[str, ...], tuple[bool, ...]]]) -> list[tuple[int, int]]:
        """Sorted spans of the whole-word occurrences of lexicon entries (``\\bentry\\b``)."""
        atoms, gaps, starts, ends, text = self.atoms, self.gaps, self.starts, self.ends, self.text
        index = self.index
        found: list[tuple[int, int]] = []
        size = len(atoms)
        for seq, spaced in entries:
            n = len(seq)
            for j in index.get(seq[0], ()):
                last = j + n - 1
                if last >= size:
                    break
                for k in range(1, n):
                    gap = gaps[j + k]
                    if atoms[j + k] != seq[k] or (bool(gap) != spaced[k - 1]) or (gap and not gap.isspace()):
                        break
                else:
                    # \b on both sides: entries start and end with [a-z0-9], so a separator gap
                    # (or the end of the text) is a boundary, and so is a glued non-word character.
                    if gaps[j] or j == 0 or not is_word(text[starts[j] - 1]):
                        if last + 1 == size or gaps[last + 1] or not is_word(text[ends[last]]):
                            found.append((starts[j], ends[last]))
        found.sort()
        return found

    def _prepare_negation(self) -> None:
        index, atoms, gaps, starts, ends = self.index, self.atoms, self.gaps, self.starts, self.ends
        breaks = [end for _, end in self.lexicon_spans(BREAK_ENTRIES)]
        for mark in CLAUSE_BREAK_PUNCTUATION:
            breaks += [ends[j] for j in index.get(mark, ())]
        breaks.sort()
        self._breaks = breaks
        # Starts of whitespace-separated words: an atom after a pure whitespace gap (or at the
        # start of the text), and runs of hyphens inside a gap that follow whitespace.
        words = [s for g, s in zip(gaps, starts, strict=False) if g == " " or g.isspace()]
        if atoms and not gaps[0]:
            words.append(starts[0])
        for j, gap in enumerate(gaps):
            if not gap or gap.isspace():
                continue
            offset = ends[j - 1] if j else 0
            spaced = j == 0
            for c in gap:
                if spaced and c in WORD_SEPARATORS:
                    words.append(offset)
                spaced = c not in WORD_SEPARATORS
                offset += 1
            if spaced and j < len(atoms):
                words.append(starts[j])
        words.sort()
        self._words = words
        negators = self.lexicon_spans(NEGATOR_ENTRIES)
        self._negators = ([a for a, _ in negators], [b for _, b in negators])

    def clause_marks(self) -> tuple[list[int], list[int]]:
        """Sorted clause-break offsets (just after each break) and word starts."""
        if self._negators is None:
            self._prepare_negation()
        return self._breaks, self._words

    def negated(self, offset: int, sentence: int) -> bool:
        """Is there a negator among the last NEGATION_WINDOW words before ``offset`` in its clause?"""
        hit = self._negated.get(offset)
        if hit is not None:
            return hit
        if self._negators is None:
            self._prepare_negation()
            assert self._negators is not None
        clause = self.sentence_spans[0][sentence]
        k = bisect_right(self._breaks, offset) - 1
        if k >= 0 and self._breaks[k] > clause:
            clause = self._breaks[k]
        k = bisect_left(self._words, offset) - NEGATION_WINDOW  # the first word of the window
        window = max(clause, self._words[k]) if k >= 0 else clause
        neg_starts, neg_ends = self._negators
        k = bisect_left(neg_starts, window)
        hit = k < len(neg_starts) and neg_ends[k] <= offset
        self._negated[offset] = hit
        return hit
