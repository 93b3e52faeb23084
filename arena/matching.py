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

import re
from bisect import bisect_left, bisect_right
from collections import OrderedDict, defaultdict
from collections.abc import Iterable, Iterator
from functools import lru_cache
from itertools import accumulate
from typing import Generic, TypeVar

# -- lexicon ----------------------------------------------------------------------------------
NEGATORS: tuple[str, ...] = (
    "no", "not", "without", "absent", "isn't", "aren't", "doesn't", "don't", "cannot", "can't",
    "never", "none", "free of", "rather than", "rule out", "rules out", "ruled out", "unlikely",
)
NEGATION_WINDOW = 6  # words before the phrase that a negator reaches, within its clause
CLAUSE_BREAK_PUNCTUATION = ",;:"
CLAUSE_BREAK_WORDS: tuple[str, ...] = ("and", "but", "although", "though", "whereas", "while")
SENTENCE_END_PUNCTUATION = ".!?;"  # a sentence ends after one of these followed by whitespace
INFLECTIONS: tuple[str, ...] = ("s", "es", "ed", "d")  # tails the last word of a phrase may carry
WORD_SEPARATORS = "-"  # besides whitespace, may stand (repeated, mixed) between the words of a phrase

# -- compiled rules -----------------------------------------------------------------------------
_SENTENCE = re.compile(rf"[{re.escape(SENTENCE_END_PUNCTUATION)}](\s+)|\n+")
_SEP = re.escape(WORD_SEPARATORS)
_ATOMS = re.compile(rf"([a-z0-9]+|[^\sa-z0-9{_SEP}])")  # split of case-folded text: gap, atom, gap, ...
_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")
_TAILS = frozenset(INFLECTIONS)
_TAILS_BY_LAST: dict[str, tuple[str, ...]] = {
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


def _fold(text: str) -> str:
    if text.isascii():
        return text.lower()
    if "\u0130" in text:  # the one character whose str.lower() is two characters
        text = text.replace("\u0130", "i")
    folded = text.lower().translate(_FOLD_TABLE)
    if len(folded) != len(text):  # pragma: no cover - defensive, str.lower is 1:1 otherwise
        folded = "".join(c.lower()[:1] or c for c in text).translate(_FOLD_TABLE)
    return folded


def _lexicon_entry(entry: str) -> tuple[tuple[str, ...], tuple[bool, ...]]:
    """An entry as atoms plus, between atoms, whether a whitespace run (else nothing) is required."""
    parts = _ATOMS.split(_fold(entry.lower()))
    if parts[0] or parts[-1] or any(g not in ("", " ") for g in parts[2:-1:2]) or not (
            parts[1][0] in _ALNUM and parts[-2][-1] in _ALNUM):
        raise ValueError(f"lexicon entry {entry!r}: letters, digits and \"'\"; words separated by single spaces")
    return tuple(parts[1::2]), tuple(g == " " for g in parts[2:-1:2])


_NEGATOR_ENTRIES = [_lexicon_entry(n) for n in NEGATORS]
_BREAK_ENTRIES = [_lexicon_entry(w) for w in CLAUSE_BREAK_WORDS]


def _is_word(c: str) -> bool:
    return c.isalnum() or c == "_"  # exactly re's \w


def _sentence_spans(text: str) -> tuple[list[int], list[int]]:
    """Start and end offsets of the stripped, non-empty pieces of ``text`` between sentence breaks."""
    starts: list[int] = []
    ends: list[int] = []
    cuts = [m.span(1) if m.start(1) >= 0 else m.span() for m in _SENTENCE.finditer(text)]
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


def sentences(text: str) -> list[str]:
    """The sentences of ``text``, stripped, without empty ones (the indices ``occurrences`` uses)."""
    starts, ends = _parse(text).sentence_spans if len(text) > _SMALL_TEXT else _sentence_spans(text)
    return [text[a:b] for a, b in zip(starts, ends, strict=True)]


# -- bounded caches ----------------------------------------------------------------------------
K = TypeVar("K")
V = TypeVar("V")


class _LRU(Generic[K, V]):
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


_SMALL_TEXT = 4096  # texts up to this many characters share one cache, longer ones another
_small_texts: _LRU[str, _Text] = _LRU(entries=512, weight=512 * (_SMALL_TEXT + 1))
_large_texts: _LRU[str, _Text] = _LRU(entries=4, weight=4_000_000)  # a parsed 1 MB answer holds ~30 MB


def _parse(text: str) -> _Text:
    cache = _small_texts if len(text) <= _SMALL_TEXT else _large_texts
    parsed = cache.get(text)
    if parsed is None:
        parsed = _Text(text)
        cache.put(text, parsed, len(text) + 1)
    return parsed


# -- one text, parsed once -----------------------------------------------------------------------
class _Text:
    """Atoms of the folded text with their offsets, plus (lazily) an index of atoms, sentence
    spans and the sorted offsets negation needs."""

    __slots__ = ("text", "atoms", "gaps", "starts", "ends", "_index", "_sentences", "_breaks",
                 "_words", "_negators", "_negated")

    def __init__(self, text: str) -> None:
        self.text = text
        parts = _ATOMS.split(_fold(text))  # [gap, atom, gap, atom, ..., gap]
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
            self._sentences = _sentence_spans(self.text)
        return self._sentences

    def _lexicon(self, entries: list[tuple[tuple[str, ...], tuple[bool, ...]]]) -> list[tuple[int, int]]:
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
                    if gaps[j] or j == 0 or not _is_word(text[starts[j] - 1]):
                        if last + 1 == size or gaps[last + 1] or not _is_word(text[ends[last]]):
                            found.append((starts[j], ends[last]))
        found.sort()
        return found

    def _prepare_negation(self) -> None:
        index, atoms, gaps, starts, ends = self.index, self.atoms, self.gaps, self.starts, self.ends
        breaks = [end for _, end in self._lexicon(_BREAK_ENTRIES)]
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
        negators = self._lexicon(_NEGATOR_ENTRIES)
        self._negators = ([a for a, _ in negators], [b for _, b in negators])

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


# -- a list of phrases, compiled once ----------------------------------------------------------
class _Node:
    __slots__ = ("sep", "adj", "ends", "sep_last", "adj_last")

    def __init__(self) -> None:
        self.sep: dict[str, _Node] = {}  # next atom after a separator run
        self.adj: dict[str, _Node] = {}  # next atom glued to this one ("8.5", "t2/flair")
        self.ends: list[_Term] = []  # phrases whose last atom is this node's
        # The children that end a phrase with an alphanumeric atom (which may be inflected).
        self.sep_last: dict[str, list[_Term]] = {}
        self.adj_last: dict[str, list[_Term]] = {}

    def finish(self) -> None:
        """Fill ``sep_last``/``adj_last`` in this subtree (iteratively: phrases may be long)."""
        todo = [self]
        while todo:
            node = todo.pop()
            for children, last in ((node.sep, node.sep_last), (node.adj, node.adj_last)):
                for atom, child in children.items():
                    if child.ends and atom[0] in _ALNUM:
                        last[atom] = child.ends
                    todo.append(child)


# (phrase index, must not follow [a-z0-9-], ends in a non-ASCII letter that may take a tail,
#  has more than one atom)
_Term = tuple[int, bool, bool, bool]


class _Phrases:
    __slots__ = ("phrases", "root", "keys", "fallback")

    def __init__(self, phrases: tuple[str, ...]) -> None:
        self.phrases = phrases
        self.root: dict[str, _Node] = {}
        self.fallback: list[tuple[int, re.Pattern[str]]] = []
        for pid, phrase in enumerate(phrases):
            raw = phrase.strip()
            if not raw:
                continue  # a blank phrase matches nothing
            if raw[0] in WORD_SEPARATORS or raw[-1] in WORD_SEPARATORS:
                self.fallback.append((pid, _literal_pattern(raw)))
                continue
            parts = _ATOMS.split(_fold(raw.lower()))
            atoms, gaps = parts[1::2], parts[0::2]
            node = self.root.setdefault(atoms[0], _Node())
            for atom, gap in zip(atoms[1:], gaps[1:], strict=False):
                node = (node.sep if gap else node.adj).setdefault(atom, _Node())
            last_other = atoms[-1][0] not in _ALNUM
            node.ends.append((pid, raw[0].isalnum(), last_other and raw[-1].isalnum(), len(atoms) > 1))
        for node in self.root.values():
            node.finish()
        # Per first atom: its node, its inflected forms (which one-atom phrases also match), and
        # whether the node is a plain leaf (one-atom phrases only, no tail check): no walk needed.
        self.keys = [
            (key, node, tuple(key + tail for tail in INFLECTIONS) if node.ends and key[0] in _ALNUM else (),
             not node.sep and not node.adj and not any(term[2] for term in node.ends))
            for key, node in self.root.items()
        ]


def _literal_pattern(phrase: str) -> re.Pattern[str]:
    """The word-by-word regex, for the rare phrase that starts or ends with a hyphen ("-ve")."""
    words = [re.escape(w) for w in phrase.lower().split()]
    body = rf"[\s{_SEP}]+".join(words)
    before = rf"(?<![a-z0-9{_SEP}])" if phrase[:1].isalnum() else ""
    after = rf"(?:{'|'.join(INFLECTIONS)})?(?![a-z0-9])" if phrase[-1:].isalnum() else ""
    return re.compile(rf"{before}{body}{after}", re.I)


@lru_cache(maxsize=256)
def _compiled(phrases: tuple[str, ...]) -> _Phrases:
    return _Phrases(phrases)


def _cuts(atom: str) -> list[str]:
    """``atom`` without each inflection tail it ends with ("nodules" -> "nodule", "nodul")."""
    tails = _TAILS_BY_LAST.get(atom[-1])
    if tails is None:
        return []
    return [atom[: -len(t)] for t in tails if len(atom) > len(t) and atom.endswith(t)]


# -- matching ------------------------------------------------------------------------------------
Match = tuple[_Term, int, int]  # (term, start offset, end offset)


def _walk(t: _Text, j: int, node: _Node) -> list[tuple[_Term, int]]:
    """(term, end offset) of every phrase under ``node`` that matches from atom ``j``, where
    ``node`` is the trie node of ``t.atoms[j]``. The path is unique (each text atom picks one
    child); an inflected atom can only end a phrase, never continue one."""
    atoms, gaps, ends = t.atoms, t.gaps, t.ends
    size = len(atoms)
    out: list[tuple[_Term, int]] = []
    i, nd = j, node
    while True:
        nxt = i + 1
        for term in nd.ends:
            if term[2] and nxt < size and not gaps[nxt] and atoms[nxt][0] in _ALNUM:
                if atoms[nxt] in _TAILS:  # "café" + "s"
                    out.append((term, ends[nxt]))
                continue  # else the phrase runs on into [a-z0-9]
            out.append((term, ends[i]))
        if nxt >= size:
            return out
        if gaps[nxt]:
            children, last = nd.sep, nd.sep_last
        else:
            children, last = nd.adj, nd.adj_last
        if not children:
            return out
        atom = atoms[nxt]
        if last and atom[-1] in _TAILS_BY_LAST:
            for cut in _cuts(atom):
                terms = last.get(cut)
                if terms is not None:
                    out += [(term, ends[nxt]) for term in terms]
        child = children.get(atom)
        if child is None:
            return out
        i, nd = nxt, child


def _free_before(t: _Text, j: int) -> bool:
    """Atom ``j`` is not glued to a preceding [a-z0-9-]."""
    gap = t.gaps[j]
    if gap:
        return gap[-1] not in WORD_SEPARATORS
    return j == 0 or t.atoms[j - 1][0] not in _ALNUM


def _matches(t: _Text, ps: _Phrases, *, first_only: bool = False) -> Iterator[Match]:
    """Every match of the trie phrases, each phrase's matches in text order (whole-text rules:
    a match may span a sentence break, and overlapping matches are all reported). With
    ``first_only``, stop each candidate list at its first match (enough for the earliest one)."""
    if not ps.keys or not t.atoms:
        return
    atoms, starts, ends = t.atoms, t.starts, t.ends
    if len(ps.keys) * 8 < len(atoms):  # few phrases, long text: visit only atoms that start one
        index, gaps = t.index, t.gaps
        for key, node, inflected, leaf in ps.keys:
            for form in (key, *inflected):
                positions = index.get(form)
                if not positions:
                    continue
                walk = form is key and not leaf
                if not walk and len(node.ends) == 1 and node.ends[0][1]:  # the common case, inlined
                    term = node.ends[0]
                    for j in positions:
                        gap = gaps[j]
                        if (gap[-1] not in WORD_SEPARATORS) if gap else (j == 0 or atoms[j - 1][0] not in _ALNUM):
                            yield term, starts[j], ends[j]
                            if first_only:
                                break
                    continue
                for j in positions:
                    found = _walk(t, j, node) if walk else [(term, ends[j]) for term in node.ends]
                    hit = False
                    free = None
                    for term, end in found:
                        if term[1]:
                            if free is None:
                                free = _free_before(t, j)
                            if not free:
                                continue
                        hit = True
                        yield term, starts[j], end
                    if hit and first_only:
                        break
        return
    root = ps.root
    for j, atom in enumerate(atoms):  # many phrases, short text: visit every atom
        first = root.get(atom)
        found = _walk(t, j, first) if first is not None else []
        if atom[-1] in _TAILS_BY_LAST:
            for cut in _cuts(atom):
                short = root.get(cut)
                if short is not None:
                    found += [(term, ends[j]) for term in short.ends]
        if found:
            hit = False
            free = None
            for term, end in found:
                if term[1]:
                    if free is None:
                        free = _free_before(t, j)
                    if not free:
                        continue
                hit = True
                yield term, starts[j], end
            if hit and first_only:
                return


def _fallback_hits(t: _Text, pattern: re.Pattern[str]) -> Iterator[tuple[int, int]]:
    """(start, sentence) of the per-sentence matches of a fallback phrase: ``finditer`` on each
    sentence that a whole-text match touches (no other sentence can hold one)."""
    starts, ends = t.sentence_spans
    todo: set[int] = set()
    for m in pattern.finditer(t.text):
        todo.update(range(bisect_right(starts, m.start()) - 1, bisect_right(starts, m.end() - 1)))
    for i in sorted(todo):
        for m in pattern.finditer(t.text, starts[i], ends[i]):
            yield m.start(), i


def _hits(t: _Text, ps: _Phrases) -> Iterator[tuple[int, int, int]]:
    """(phrase index, start, sentence) of every occurrence under per-sentence rules: the match
    lies inside one sentence, and a phrase's matches do not overlap (as ``re.finditer`` finds
    them sentence by sentence). A one-atom phrase cannot overlap itself, so only phrases of
    several atoms (whose matches come in text order) are checked for overlap."""
    sent_starts, sent_ends = t.sentence_spans
    last_end: dict[int, int] = {}
    for (pid, _, _, multi), start, end in _matches(t, ps):
        if multi and start < last_end.get(pid, -1):
            continue
        sentence = bisect_right(sent_starts, start) - 1
        if end > sent_ends[sentence]:
            continue
        if multi:
            last_end[pid] = end
        yield pid, start, sentence
    for pid, pattern in ps.fallback:
        for start, sentence in _fallback_hits(t, pattern):
            yield pid, start, sentence


def _prepare(text: str, phrases: Iterable[str]) -> tuple[_Text, _Phrases]:
    return _parse(text), _compiled(phrases if isinstance(phrases, tuple) else tuple(phrases))


# -- public API ------------------------------------------------------------------------------------
def occurrences(text: str, phrase: str) -> list[tuple[int, bool]]:
    """Every occurrence of ``phrase`` in ``text``: (sentence index, negated?)."""
    t, ps = _prepare(text, (phrase,))
    found = sorted((start, sentence) for _, start, sentence in _hits(t, ps))
    return [(sentence, t.negated(start, sentence)) for start, sentence in found]


def mentions(text: str, phrases: Iterable[str]) -> bool:
    """Any phrase appears (negated or not)."""
    t, ps = _prepare(text, phrases)
    for _ in _matches(t, ps, first_only=True):
        return True
    return any(pattern.search(text) for _, pattern in ps.fallback)


def affirms(text: str, phrases: Iterable[str]) -> bool:
    """Any phrase appears at least once without a negation before it."""
    t, ps = _prepare(text, phrases)
    return any(not t.negated(start, sentence) for _, start, sentence in _hits(t, ps))


def denies(text: str, phrases: Iterable[str]) -> bool:
    """Some phrase appears only under negation."""
    t, ps = _prepare(text, phrases)
    seen: set[int] = set()
    affirmed: set[int] = set()
    for pid, start, sentence in _hits(t, ps):
        seen.add(pid)
        if pid not in affirmed and not t.negated(start, sentence):
            affirmed.add(pid)
    return bool(seen - affirmed)


def first_position(text: str, phrases: Iterable[str]) -> int | None:
    """Character offset of the earliest occurrence of any phrase."""
    t, ps = _prepare(text, phrases)
    positions = [start for _, start, _ in _matches(t, ps, first_only=True)]
    positions += [m.start() for _, pattern in ps.fallback if (m := pattern.search(text))]
    return min(positions) if positions else None


def first_mentioned(text: str, phrases: Iterable[str]) -> str | None:
    """The first phrase, in the order given, that ``mentions`` finds in ``text``."""
    t, ps = _prepare(text, phrases)
    found = {term[0] for term, _, _ in _matches(t, ps)}
    found.update(pid for pid, pattern in ps.fallback if pattern.search(text))
    return ps.phrases[min(found)] if found else None


def first_position_per_sentence(text: str, phrases: Iterable[str]) -> dict[int, int]:
    """For each sentence (indexed as in ``sentences(text)``) holding an occurrence of a phrase,
    the offset inside that sentence of the earliest one: what ``first_position`` gives on each
    sentence that ``mentions`` a phrase, in one linear pass."""
    t, ps = _prepare(text, phrases)
    starts = t.sentence_spans[0]
    best: dict[int, int] = {}
    for _, start, sentence in _hits(t, ps):
        offset = start - starts[sentence]
        if offset < best.get(sentence, offset + 1):
            best[sentence] = offset
    return best


def clear_caches() -> None:
    """Forget parsed texts and compiled phrase lists (benchmarks use it to time first calls)."""
    _small_texts.clear()
    _large_texts.clear()
    _compiled.cache_clear()
