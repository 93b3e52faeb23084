"""What an answer *asserts*, as a careful grader reads it: phrases are found through the case's
vocabulary (with variants), each occurrence gets a polarity (asserted, only possible, negated;
``arena.matching.polarity``), and occurrences inside text that earns nothing are dropped:

* text echoed from the simulator's messages (a run of ``echo_words`` words copied from them);
* sentences addressed to a grader (``injection`` patterns): inert, and flagged;
* bare keyword lists: a sentence with no predicate word whose items are mostly the case's phrases;
* keyword stuffing: an answer naming ``stacking`` or more distinct wordings of one finding in
  one sentence earns nothing at all.

The word lists are in ``data/claims.json``. :class:`Claims` answers the same questions as a
reading (``asserts``, ``considers``, ``negates``, ``mentions``, positions) over what is left.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache

from agents.claims.variants import data
from arena.matching import Reading
from arena.matching.lexicon import fold
from arena.matching.polarity import Polarity, polarity
from arena.matching.text import ParsedText

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")

ECHO = "echo"
INJECTION = "injection"
BARE_LIST = "bare_list"
STUFFING = "keyword_stuffing"


@cache
def _injection() -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in data()["injection"]), re.I)


@cache
def _predicates() -> frozenset[str]:
    return frozenset(data()["predicates"])


@cache
def _predicate_pattern() -> re.Pattern[str]:
    words = sorted(_predicates(), key=len, reverse=True)
    return re.compile(rf"(?<![a-z0-9'])(?:{'|'.join(re.escape(w) for w in words)})(?![a-z0-9'])")


def _sentences_of(t: ParsedText, offsets: Iterable[int]) -> set[int]:
    starts = t.sentence_spans[0]
    return {bisect_right(starts, o) - 1 for o in offsets}


def _predicate_sentences(t: ParsedText) -> set[int]:
    """Indexes of the sentences holding a predicate word: one pass over the whole text."""
    return _sentences_of(t, (m.start() for m in _predicate_pattern().finditer(fold(t.text))))


@cache
def _injection_trigger() -> re.Pattern[str]:
    """Words every injection pattern needs one of: a cheap first pass over the whole answer."""
    return re.compile(r"\b(?:ignore|disregard|grader|judge|evaluat|scorer|assessor|reviewer|score|grade|rating|"
                      r"rate|award|marks|5/5|out of|dimension|criteri|system|instruction|override)|</?[a-z]", re.I)


_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))


@cache
def conditional_pattern() -> re.Pattern[str]:
    """A condition ("if it bleeds", "in case"): advice under it is safety-netting, not urgency."""
    words = "|".join(re.escape(w) for w in data()["urgency"]["conditional"])
    return re.compile(rf"\b(?:{words})\b", re.I)


@cache
def advice_pattern() -> re.Pattern[str]:
    """An action word ("go", "refer", "needs"): the sentence is advice."""
    words = "|".join(re.escape(w) for w in data()["urgency"]["actions"])
    return re.compile(rf"\b(?:{words})\b", re.I)


@cache
def _advice_headings() -> frozenset[str]:
    return frozenset(data()["advice_headings"])


@cache
def _item_split() -> re.Pattern[str]:
    cfg = data()
    seps = re.escape(cfg["list_separators"])
    words = "|".join(re.escape(w) for w in cfg["list_words"])
    return re.compile(rf"[{seps}]|\b(?:{words})\b", re.I)


def _words(text: str, start: int = 0) -> list[tuple[str, int, int]]:
    folded = fold(text)
    return [(m.group(), start + m.start(), start + m.end()) for m in _WORD.finditer(folded)]


def echo_spans(text: str, prompts: Sequence[str]) -> list[tuple[int, int]]:
    """Spans of ``text`` covered by runs of at least ``echo_words`` consecutive words that also
    occur consecutively in one of ``prompts``."""
    n = int(data()["echo_words"])
    grams: set[tuple[str, ...]] = set()
    for prompt in prompts:
        words = [w for w, _, _ in _words(prompt)]
        grams.update(tuple(words[i:i + n]) for i in range(len(words) - n + 1))
    if not grams:
        return []
    tokens = _words(text)
    spans: list[tuple[int, int]] = []
    for i in range(len(tokens) - n + 1):
        if tuple(w for w, _, _ in tokens[i:i + n]) in grams:
            start, end = tokens[i][1], tokens[i + n - 1][2]
            if spans and start <= spans[-1][1]:
                spans[-1] = (spans[-1][0], end)
            else:
                spans.append((start, end))
    return spans


def _merge(spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(b, out[-1][1]))
        else:
            out.append((a, b))
    return out


@dataclass
class Claims:
    """The assertions of one answer: a reading plus the spans that earn nothing."""

    reading: Reading
    masked: list[tuple[int, int]] = field(default_factory=list)
    flags: set[str] = field(default_factory=set)
    _polarity: dict[tuple[int, int], Polarity] = field(default_factory=dict, repr=False)
    _spans: dict[tuple[str, ...], list[tuple[int, int, int]]] = field(default_factory=dict, repr=False)

    _shield_spans: list[tuple[int, int]] | None = field(default=None, repr=False)

    def _shields(self) -> list[tuple[int, int]]:
        """Every phrase match of the answer: a negator inside one belongs to that phrase."""
        if self._shield_spans is None:
            self._shield_spans = sorted({(a, e) for (_, a), e in self.reading.ends.items()})
        return self._shield_spans

    _visible: str | None = field(default=None, repr=False)

    @property
    def visible(self) -> str:
        """The answer with the spans that earn nothing blanked out (offsets kept); made once."""
        if self._visible is None:
            text = self.reading.text.text
            parts, last = [], 0
            for a, b in self.masked:
                parts += [text[last:a], " " * (b - a)]
                last = b
            parts.append(text[last:])
            self._visible = "".join(parts)
        return self._visible

    @property
    def _mask_starts(self) -> list[int]:
        return [a for a, _ in self.masked]

    def spans_in(self, phrases: Iterable[str]) -> Iterator[tuple[int, int, int]]:
        """The unmasked occurrences of ``phrases`` (start, end, sentence), without polarity."""
        starts = self._mask_starts
        key = phrases if isinstance(phrases, tuple) else tuple(phrases)
        spans = self._spans.get(key)
        if spans is None:
            spans = self._spans[key] = self.reading.spans(key)
        for start, end, sentence in spans:
            k = bisect_right(starts, start) - 1
            if (k >= 0 and self.masked[k][1] > start) or (k + 1 < len(starts) and starts[k + 1] < end):
                continue
            yield start, end, sentence

    def occurrences(self, phrases: Iterable[str], lo: int = 0, hi: int | None = None,
                    ) -> Iterator[tuple[int, int, int, Polarity]]:
        """The unmasked occurrences of ``phrases`` starting in ``[lo, hi)``, in text order, each
        with its polarity (computed once per occurrence and remembered, so repeated questions
        cost lookups)."""
        starts = self._mask_starts
        t = self.reading.text
        memo = self._polarity
        key = phrases if isinstance(phrases, tuple) else tuple(phrases)
        spans = self._spans.get(key)
        if spans is None:
            spans = self._spans[key] = self.reading.spans(key)
        first = bisect_left(spans, (lo,)) if lo else 0
        for start, end, sentence in spans[first:] if first else spans:
            if hi is not None and start >= hi:
                return
            k = bisect_right(starts, start) - 1
            if k >= 0 and self.masked[k][1] > start:
                continue
            if k + 1 < len(starts) and starts[k + 1] < end:
                continue
            p = memo.get((start, end))
            if p is None:
                p = memo[(start, end)] = polarity(t, start, end, sentence, self._shields())
            yield start, end, sentence, p

    def asserts(self, phrases: Iterable[str]) -> bool:
        """Some occurrence is stated outright (not negated, not only possible)."""
        return any(p == Polarity.AFFIRMED for *_, p in self.occurrences(phrases))

    def considers(self, phrases: Iterable[str]) -> bool:
        """Some occurrence is stated or raised as a possibility ("can't rule out X")."""
        return any(p != Polarity.NEGATED for *_, p in self.occurrences(phrases))

    def considered_sentences(self, phrases: Iterable[str]) -> set[int]:
        """Indexes of the sentences holding a non-negated occurrence."""
        return {sentence for _, _, sentence, p in self.occurrences(phrases) if p != Polarity.NEGATED}

    def asserted_sentences(self, phrases: Iterable[str]) -> set[int]:
        """Indexes of the sentences holding an occurrence stated outright."""
        return {sentence for _, _, sentence, p in self.occurrences(phrases) if p == Polarity.AFFIRMED}

    def sentence(self, index: int) -> str:
        starts, ends = self.reading.text.sentence_spans
        return self.reading.text.text[starts[index]:ends[index]]

    def negates(self, phrases: Iterable[str]) -> bool:
        """Occurrences exist and every one of them is negated."""
        seen = False
        for *_, p in self.occurrences(phrases):
            if p != Polarity.NEGATED:
                return False
            seen = True
        return seen

    def mentions(self, phrases: Iterable[str]) -> bool:
        return next(self.occurrences(phrases), None) is not None

    def first_considered(self, phrases: Iterable[str], lo: int = 0, hi: int | None = None) -> int | None:
        """Offset of the earliest occurrence in ``[lo, hi)`` that is not negated."""
        for start, _, _, p in self.occurrences(phrases, lo, hi):
            if p != Polarity.NEGATED:
                return start
        return None

    def first_position_per_sentence(self, phrases: Sequence[str]) -> dict[int, int]:
        starts = self.reading.text.sentence_spans[0]
        best: dict[int, int] = {}
        for start, _, sentence, _ in self.occurrences(phrases):
            best.setdefault(sentence, start - starts[sentence])
        return best


def _items(text: str, a: int, b: int) -> list[tuple[int, int]]:
    """The list items of ``text[a:b]`` (after a short heading such as "Findings:")."""
    sentence = text[a:b]
    head, colon, _ = sentence.partition(":")
    if colon and len(head.split()) <= 3:
        a += len(head) + 1
    items, last = [], a
    for m in _item_split().finditer(text, a, b):
        items.append((last, m.start()))
        last = m.end()
    items.append((last, b))
    return [(x, y) for x, y in items if text[x:y].strip(" -*\u2022\t")]


def _bare_lists(reading: Reading) -> list[tuple[int, int]]:
    """Runs of consecutive sentences with no predicate word (one line, or bullets, or items cut
    by semicolons) that are lists whose items are mostly the vocabulary's phrases. A run right
    after a statement that introduces it ("On the image I can see:") is that statement's."""
    cfg = data()
    t = reading.text
    text = t.text
    sent_starts, sent_ends = t.sentence_spans
    hits = _merge((start, end) for (_, start), end in reading.ends.items())
    hit_starts = [a for a, _ in hits]

    def covered(x: int, y: int) -> bool:
        if "%" in text[x:y]:
            return False  # "giant bulla 5%": a ranked differential, not a keyword
        words = _words(text[x:y], x)
        k = bisect_right(hit_starts, x) - 1
        spans = hits[max(0, k):bisect_right(hit_starts, y)]
        inside = sum(1 for _, s, e in words if any(ms <= s and e <= me for ms, me in spans))
        return bool(words) and inside / len(words) >= 0.75

    out: list[tuple[int, int]] = []
    run: list[int] = []

    def close() -> None:
        if not run:
            return
        items = [item for i in run for item in _items(text, sent_starts[i], sent_ends[i])]
        introduced = run[0] > 0 and text[sent_ends[run[0] - 1] - 1] == ":" and (run[0] - 1) in stated
        seps = sum(text.count(c, sent_starts[run[0]], sent_ends[run[-1]]) for c in cfg["list_separators"])
        listed = len(run) >= cfg["min_list_items"] or seps >= cfg["min_list_items"] - 1  # not "X and Y and Z"
        if len(items) >= cfg["min_list_items"] and listed and not introduced:
            n = sum(1 for x, y in items if covered(x, y))
            if n >= cfg["min_list_items"] or n / len(items) >= cfg["list_covered_share"]:
                out.append((sent_starts[run[0]], sent_ends[run[-1]]))
        run.clear()

    stated = _predicate_sentences(t)
    for i, (a, b) in enumerate(zip(sent_starts, sent_ends, strict=True)):
        head, colon, _ = text[a:b].partition(":")
        if i in stated or (colon and head.strip(" *#-").lower() in _advice_headings()):
            close()  # a statement, or advice under a heading ("Plan: ..."): not keywords
        else:
            run.append(i)
    close()
    return out


def read_claims(reading: Reading, *, prompts: Sequence[str] = (),
                finding_phrases: Sequence[Sequence[str]] = ()) -> Claims:
    """The claims of the answer read in ``reading``. ``prompts``: the simulator's messages, whose
    echoes earn nothing; ``finding_phrases``: each finding's phrases, for the stuffing check."""
    t = reading.text
    text = t.text
    masked: list[tuple[int, int]] = []
    flags: set[str] = set()
    echoed = echo_spans(text, prompts) if prompts else []
    if echoed:
        flags.add(ECHO)
        masked += echoed
    starts, ends = t.sentence_spans
    trigger = _injection_trigger()
    if trigger.search(text.translate(_INVISIBLE)) is not None:
        pattern = _injection()
        for a, b in zip(starts, ends, strict=True):
            line = text[a:b].translate(_INVISIBLE)
            if trigger.search(line) and pattern.search(line):
                flags.add(INJECTION)
                masked.append((a, b))
    bare = _bare_lists(reading)
    if bare:
        flags.add(BARE_LIST)
        masked += bare
    stacking = int(data()["stacking"])
    claims = Claims(reading, _merge(masked), flags)  # masked is final from here on, but for stuffing
    for phrases in finding_phrases:
        # Distinct wordings of one finding within one sentence; overlapping occurrences are one.
        by_sentence: dict[int, list[tuple[int, int]]] = {}
        for a, b, sentence in claims.spans_in(phrases):
            by_sentence.setdefault(sentence, []).append((a, b))
        for spans in by_sentence.values():
            surfaces = {re.sub(r"[^a-z0-9]+", "", fold(text[a:b])).rstrip("s") for a, b in _merge(spans)}
            if len(surfaces) >= stacking:
                flags.add(STUFFING)
                claims.masked = [(0, len(text))]
                claims._visible = None
                return claims
    return claims
