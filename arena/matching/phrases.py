"""A list of phrases compiled once into a trie over atoms, and the walk that finds its matches."""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable, Iterator
from functools import lru_cache

from arena.matching.lexicon import ALNUM, ATOMS, INFLECTIONS, SEP, TAILS, TAILS_BY_LAST, WORD_SEPARATORS, fold
from arena.matching.text import ParsedText


# -- a list of phrases, compiled once ----------------------------------------------------------
class Node:
    __slots__ = ("sep", "adj", "ends", "sep_last", "adj_last")

    def __init__(self) -> None:
        self.sep: dict[str, Node] = {}  # next atom after a separator run
        self.adj: dict[str, Node] = {}  # next atom glued to this one ("8.5", "t2/flair")
        self.ends: list[Term] = []  # phrases whose last atom is this node's
        # The children that end a phrase with an alphanumeric atom (which may be inflected).
        self.sep_last: dict[str, list[Term]] = {}
        self.adj_last: dict[str, list[Term]] = {}

    def finish(self) -> None:
        """Fill ``sep_last``/``adj_last`` in this subtree (iteratively: phrases may be long)."""
        todo = [self]
        while todo:
            node = todo.pop()
            for children, last in ((node.sep, node.sep_last), (node.adj, node.adj_last)):
                for atom, child in children.items():
                    if child.ends and atom[0] in ALNUM:
                        last[atom] = child.ends
                    todo.append(child)


# (phrase index, must not follow [a-z0-9-], ends in a non-ASCII letter that may take a tail,
#  has more than one atom)
Term = tuple[int, bool, bool, bool]


class PhraseSet:
    __slots__ = ("phrases", "root", "keys", "fallback")

    def __init__(self, phrases: tuple[str, ...]) -> None:
        self.phrases = phrases
        self.root: dict[str, Node] = {}
        self.fallback: list[tuple[int, re.Pattern[str]]] = []
        for pid, phrase in enumerate(phrases):
            raw = phrase.strip()
            if not raw:
                continue  # a blank phrase matches nothing
            if raw[0] in WORD_SEPARATORS or raw[-1] in WORD_SEPARATORS:
                self.fallback.append((pid, literal_pattern(raw)))
                continue
            parts = ATOMS.split(fold(raw.lower()))
            atoms, gaps = parts[1::2], parts[0::2]
            node = self.root.setdefault(atoms[0], Node())
            for atom, gap in zip(atoms[1:], gaps[1:], strict=False):
                node = (node.sep if gap else node.adj).setdefault(atom, Node())
            last_other = atoms[-1][0] not in ALNUM
            node.ends.append((pid, raw[0].isalnum(), last_other and raw[-1].isalnum(), len(atoms) > 1))
        for node in self.root.values():
            node.finish()
        # Per first atom: its node, its inflected forms (which one-atom phrases also match), and
        # whether the node is a plain leaf (one-atom phrases only, no tail check): no walk needed.
        self.keys = [
            (key, node, tuple(key + tail for tail in INFLECTIONS) if node.ends and key[0] in ALNUM else (),
             not node.sep and not node.adj and not any(term[2] for term in node.ends))
            for key, node in self.root.items()
        ]


def literal_pattern(phrase: str) -> re.Pattern[str]:
    """The word-by-word regex, for the rare phrase that starts or ends with a hyphen ("-ve")."""
    words = [re.escape(w) for w in phrase.lower().split()]
    body = rf"[\s{SEP}]+".join(words)
    before = rf"(?<![a-z0-9{SEP}])" if phrase[:1].isalnum() else ""
    after = rf"(?:{'|'.join(INFLECTIONS)})?(?![a-z0-9])" if phrase[-1:].isalnum() else ""
    return re.compile(rf"{before}{body}{after}", re.I)


@lru_cache(maxsize=256)
def compiled(phrases: tuple[str, ...]) -> PhraseSet:
    return PhraseSet(phrases)


def cuts(atom: str) -> list[str]:
    """``atom`` without each inflection tail it ends with ("nodules" -> "nodule", "nodul")."""
    tails = TAILS_BY_LAST.get(atom[-1])
    if tails is None:
        return []
    return [atom[: -len(t)] for t in tails if len(atom) > len(t) and atom.endswith(t)]


# -- matching ------------------------------------------------------------------------------------
Match = tuple[Term, int, int]  # (term, start offset, end offset)


def walk(t: ParsedText, j: int, node: Node) -> list[tuple[Term, int]]:
    """(term, end offset) of every phrase under ``node`` that matches from atom ``j``, where
    ``node`` is the trie node of ``t.atoms[j]``. The path is unique (each text atom picks one
    child); an inflected atom can only end a phrase, never continue one."""
    atoms, gaps, ends = t.atoms, t.gaps, t.ends
    size = len(atoms)
    out: list[tuple[Term, int]] = []
    i, nd = j, node
    while True:
        nxt = i + 1
        for term in nd.ends:
            if term[2] and nxt < size and not gaps[nxt] and atoms[nxt][0] in ALNUM:
                if atoms[nxt] in TAILS:  # "café" + "s"
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
        if last and atom[-1] in TAILS_BY_LAST:
            for cut in cuts(atom):
                terms = last.get(cut)
                if terms is not None:
                    out += [(term, ends[nxt]) for term in terms]
        child = children.get(atom)
        if child is None:
            return out
        i, nd = nxt, child


def free_before(t: ParsedText, j: int) -> bool:
    """Atom ``j`` is not glued to a preceding [a-z0-9-]."""
    gap = t.gaps[j]
    if gap:
        return gap[-1] not in WORD_SEPARATORS
    return j == 0 or t.atoms[j - 1][0] not in ALNUM


def unglued(t: ParsedText, j: int, found: list[tuple[Term, int]]) -> Iterator[tuple[Term, int]]:
    """The candidates starting at atom ``j`` that may stand there: a phrase that starts with a
    letter or digit must not be glued to a preceding [a-z0-9-] (checked once, only if needed)."""
    free: bool | None = None
    for term, end in found:
        if term[1]:
            if free is None:
                free = free_before(t, j)
            if not free:
                continue
        yield term, end


def matches(t: ParsedText, ps: PhraseSet, *, first_only: bool = False) -> Iterator[Match]:
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
                must_walk = form is key and not leaf
                if not must_walk and len(node.ends) == 1 and node.ends[0][1]:  # the common case, inlined
                    term = node.ends[0]
                    for j in positions:
                        gap = gaps[j]
                        if (gap[-1] not in WORD_SEPARATORS) if gap else (j == 0 or atoms[j - 1][0] not in ALNUM):
                            yield term, starts[j], ends[j]
                            if first_only:
                                break
                    continue
                for j in positions:
                    found = walk(t, j, node) if must_walk else [(term, ends[j]) for term in node.ends]
                    hit = False
                    for term, end in unglued(t, j, found):
                        hit = True
                        yield term, starts[j], end
                    if hit and first_only:
                        break
        return
    root = ps.root
    for j, atom in enumerate(atoms):  # many phrases, short text: visit every atom
        first = root.get(atom)
        found = walk(t, j, first) if first is not None else []
        if atom[-1] in TAILS_BY_LAST:
            for cut in cuts(atom):
                short = root.get(cut)
                if short is not None:
                    found += [(term, ends[j]) for term in short.ends]
        if found:
            hit = False
            for term, end in unglued(t, j, found):
                hit = True
                yield term, starts[j], end
            if hit and first_only:
                return


def fallback_hits(t: ParsedText, pattern: re.Pattern[str]) -> Iterator[tuple[int, int]]:
    """(start, sentence) of the per-sentence matches of a fallback phrase: ``finditer`` on each
    sentence that a whole-text match touches (no other sentence can hold one)."""
    starts, ends = t.sentence_spans
    todo: set[int] = set()
    for m in pattern.finditer(t.text):
        todo.update(range(bisect_right(starts, m.start()) - 1, bisect_right(starts, m.end() - 1)))
    for i in sorted(todo):
        for m in pattern.finditer(t.text, starts[i], ends[i]):
            yield m.start(), i


def per_sentence(t: ParsedText, found: Iterable[Match]) -> Iterator[tuple[int, int, int]]:
    """(phrase index, start, sentence) of the ``matches`` that hold under per-sentence rules: the
    match lies inside one sentence, and a phrase's matches do not overlap (as ``re.finditer``
    finds them sentence by sentence). A one-atom phrase cannot overlap itself, so only phrases of
    several atoms (whose matches come in text order) are checked for overlap."""
    sent_starts, sent_ends = t.sentence_spans
    last_end: dict[int, int] = {}
    for (pid, _, _, multi), start, end in found:
        if multi and start < last_end.get(pid, -1):
            continue
        sentence = bisect_right(sent_starts, start) - 1
        if end > sent_ends[sentence]:
            continue
        if multi:
            last_end[pid] = end
        yield pid, start, sentence


def hits(t: ParsedText, ps: PhraseSet) -> Iterator[tuple[int, int, int]]:
    """(phrase index, start, sentence) of every occurrence under per-sentence rules."""
    yield from per_sentence(t, matches(t, ps))
    for pid, pattern in ps.fallback:
        for start, sentence in fallback_hits(t, pattern):
            yield pid, start, sentence
