"""The claim reader's polarity of one match: is the phrase asserted, only raised as a possibility,
or negated, reading on both sides of it within its clause?

On top of the base rule (a negator among the ``NEGATION_WINDOW`` words before the match, see the
package docstring) a careful reader also needs:

* negators after the term: "melanoma is unlikely", "pneumothorax is not present", "effusion:
  none" (``POST_NEGATORS`` among the first ``POST_WINDOW`` words after it; a colon right after
  the term does not end the clause for this rule);
* hedges that contain a negator but keep the thing possible: "I can't rule out melanoma",
  "melanoma cannot be excluded", "a biopsy to rule out melanoma" (``HEDGES``): the match is
  *possible*, not negated;
* possibility words before it ("possible", "may", "could") or after it ("X and Y are also
  possible", "X is less likely"), or a question: *possible*.

The lists live in ``data/lexicon.json``. Cost: a few binary searches per match over spans found
once per text (kept on the parsed text).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable
from enum import StrEnum

from arena.matching.lexicon import (
    AFFIRMERS,
    CLAIM_NEGATORS,
    COLON_NEGATORS,
    HEDGES,
    NEGATION_WINDOW,
    POSSIBILITY,
    POST_NEGATORS,
    POST_POSSIBILITY,
    POST_WINDOW,
    lexicon_entry,
)
from arena.matching.text import ParsedText


class Polarity(StrEnum):
    AFFIRMED = "affirmed"
    POSSIBLE = "possible"
    NEGATED = "negated"


_ENTRIES = {
    "negators": [lexicon_entry(n) for n in CLAIM_NEGATORS],
    "post": [lexicon_entry(n) for n in POST_NEGATORS],
    "hedges": [lexicon_entry(n) for n in HEDGES],
    "affirmers": [lexicon_entry(n) for n in AFFIRMERS],
    "colon": [lexicon_entry(n) for n in COLON_NEGATORS],
    "possibility": [lexicon_entry(n) for n in POSSIBILITY],
    "post_possibility": [lexicon_entry(n) for n in POST_POSSIBILITY],
}


def _spans(t: ParsedText, kind: str) -> tuple[list[int], list[int]]:
    cached = t.claim_spans.get(kind)
    if cached is None:
        found = t.lexicon_spans(_ENTRIES[kind])
        cached = ([a for a, _ in found], [b for _, b in found])
        t.claim_spans[kind] = cached
    result: tuple[list[int], list[int]] = cached
    return result


def _inside(t: ParsedText, kind: str, a: int, b: int) -> bool:
    starts, ends = _spans(t, kind)
    k = bisect_right(starts, a)  # hedges starting at or before a
    for i in range(k - 1, max(-1, k - 8), -1):  # hedges are short: look at the last few
        if ends[i] >= b:
            return True
    return False


def _in_hedge(t: ParsedText, a: int, b: int) -> bool:
    return _inside(t, "hedges", a, b)


Shields = list[tuple[int, int]]  # sorted spans (other phrase matches) whose own negators stay inside them


def _shielded(shields: Shields | None, a: int, b: int, start: int) -> bool:
    """The negator ``[a, b)`` is inside an affirmer or inside another matched phrase that ends
    before the term ("no lung markings beyond the pleural line": the "no" is that phrase's)."""
    if not shields:
        return False
    k = bisect_right(shields, (a, 1 << 62)) - 1
    while k >= 0 and shields[k][0] <= a:
        s, e = shields[k]
        if e >= b and e <= start:
            return True
        k -= 1
        if a - s > 200:
            break
    return False


def _last_between(starts: list[int], ends: list[int], lo: int, hi: int,
                  skip: Callable[[int, int], bool] | None = None) -> tuple[int, int] | None:
    """The last span with start >= lo and end <= hi (that ``skip`` does not reject)."""
    k = bisect_left(starts, hi) - 1
    while k >= 0 and starts[k] >= lo:
        if ends[k] <= hi and not (skip and skip(starts[k], ends[k])):
            return starts[k], ends[k]
        k -= 1
    return None


_PLURAL_COPULAS = frozenset(("are", "were"))
LIST_HOPS = 8  # list items after the term that a plural negation may reach ("A, B and C are absent")
LIST_ITEM_WORDS = 5


def _list_negated(t: ParsedText, end: int, clause_end: int, sent_end: int,
                  breaks: list[int], words: list[int]) -> bool:
    """The term is an item of a list whose plural predicate is negated: "asymmetry, an irregular
    border and several colours are all absent". Only the item right before a break may hop, each
    item on the way is short, and the last clause must carry a plural copula before the negator."""
    text = t.text
    gap = text[end:min(clause_end, end + 12)].lstrip(" ")  # the term must end its item: "X," "X and" "X or"
    if not (gap.startswith(",") or gap[:4].lower() == "and " or gap[:3].lower() == "or " or end >= clause_end - 1):
        return False
    start = clause_end
    post_starts, post_ends = _spans(t, "post")
    for _ in range(LIST_HOPS):
        if start >= sent_end:
            return False
        k = bisect_right(breaks, start)
        nxt = min(sent_end, breaks[k] if k < len(breaks) else sent_end)
        clause = text[start:nxt]
        tokens = clause.replace(",", " ").split()
        i = bisect_left(post_starts, start)
        if i < len(post_starts) and post_starts[i] < nxt and post_ends[i] <= sent_end:
            before = text[start:post_starts[i]].lower().split()
            return bool(_PLURAL_COPULAS.intersection(before)) and len(before) <= LIST_ITEM_WORDS + 2
        if len(tokens) > LIST_ITEM_WORDS:
            return False
        start = nxt
    return False


def polarity(t: ParsedText, start: int, end: int, sentence: int, shields: Shields | None = None) -> Polarity:
    """The polarity of the match ``text[start:end]`` in sentence ``sentence``; ``shields``: spans
    of other matched phrases, whose own negators do not reach this one."""
    breaks, words = t.clause_marks()
    sent_starts, sent_ends = t.sentence_spans
    sent_start, sent_end = sent_starts[sentence], sent_ends[sentence]
    # -- before the term: from the clause start or the NEGATION_WINDOW-th word before it
    clause = sent_start
    k = bisect_right(breaks, start) - 1
    if k >= 0 and breaks[k] > clause:
        clause = breaks[k]
    k = bisect_left(words, start) - NEGATION_WINDOW
    window = max(clause, words[k]) if k >= 0 else clause
    possible = False
    def ignored(a: int, b: int) -> bool:
        return _inside(t, "affirmers", a, b) or _shielded(shields, a, b, start)

    neg = _last_between(*_spans(t, "negators"), window, start, ignored)
    if neg is not None:
        if not _in_hedge(t, *neg):
            return Polarity.NEGATED
        possible = True
    # -- after the term: to the clause end or the POST_WINDOW-th word after it
    text = t.text
    rest = end
    while rest < sent_end and text[rest] == " ":
        rest += 1
    skip_colon = rest < sent_end and text[rest] == ":"
    if skip_colon:  # "effusion: none"
        after = rest + 1
        while after < sent_end and text[after] in " *_":
            after += 1
        colon_starts, _ = _spans(t, "colon")
        i = bisect_left(colon_starts, after)
        if i < len(colon_starts) and colon_starts[i] == after:
            return Polarity.NEGATED
    k = bisect_right(breaks, rest + 1 if skip_colon else end)
    clause_end = min(sent_end, breaks[k] if k < len(breaks) else sent_end)
    k = bisect_right(words, end) + POST_WINDOW
    window_end = min(clause_end, words[k] if k < len(words) else sent_end)
    post_starts, post_ends = _spans(t, "post")
    i = bisect_left(post_starts, end)
    while i < len(post_starts) and post_starts[i] < window_end:
        if post_ends[i] <= sent_end and not _inside(t, "affirmers", post_starts[i], post_ends[i]):
            if not _in_hedge(t, post_starts[i], post_ends[i]):
                return Polarity.NEGATED
            possible = True
            break
        i += 1
    if not possible and _list_negated(t, end, clause_end, sent_end, breaks, words):
        return Polarity.NEGATED
    if possible:
        return Polarity.POSSIBLE
    if _last_between(*_spans(t, "possibility"), window, start) is not None:
        return Polarity.POSSIBLE
    after_starts, _ = _spans(t, "post_possibility")
    i = bisect_left(after_starts, end)
    if i < len(after_starts) and after_starts[i] < window_end:
        return Polarity.POSSIBLE
    if text[sent_end - 1] == "?":
        return Polarity.POSSIBLE
    return Polarity.AFFIRMED
