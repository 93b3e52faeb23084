"""Other wordings that count as a phrase of a case: single-word synonyms ("ragged margin" for
"irregular border"), word order with a copula ("the border is irregular", "borders are very
irregular") and units with or without a space ("8.5mm" for "8.5 mm"). The word lists are in
``data/claims.json``; the variants are compiled into the scenario's vocabulary, so reading an
answer still costs one walk."""

from __future__ import annotations

import re
from functools import cache, lru_cache
from itertools import product
from pathlib import Path
from typing import Any

from agents.data import load_json

DATA_FILE = Path(__file__).parent / "data" / "claims.json"


def data() -> dict[str, Any]:
    return load_json(DATA_FILE)


@cache
def _synonyms() -> dict[str, tuple[str, ...]]:
    table: dict[str, tuple[str, ...]] = {}
    for group in data()["synonym_groups"]:
        for word in group:
            table[word] = tuple(group)
    return table


@cache
def _unit_pattern() -> re.Pattern[str]:
    units = "|".join(re.escape(u) for u in data()["units"])
    return re.compile(rf"(\d)(\s?)({units})\b", re.I)


def _unit_forms(phrase: str) -> set[str]:
    pattern = _unit_pattern()
    if not pattern.search(phrase):
        return {phrase}
    glued = pattern.sub(r"\1\3", phrase)
    spaced = pattern.sub(r"\1 \3", phrase)
    return {phrase, glued, spaced}


def _plural(noun: str) -> str:
    return noun if noun.endswith("s") else noun + "s"


def _reorders(form: str) -> list[str]:
    """ "irregular border" -> "border is irregular", "borders are very irregular", ...; a
    three-word phrase moves its first word ("absent lung markings" -> "lung markings are absent")."""
    parts = form.split()
    if len(parts) not in (2, 3) or not all(p.isalpha() for p in parts):
        return []
    cfg = data()
    adjective, noun = parts[0], " ".join(parts[1:])  # "absent lung markings" -> "lung markings are absent"
    out = [f"{noun} {copula} {adjective}" for copula in cfg["copulas_singular"]]
    out += [f"{_plural(noun)} {copula} {adjective}" for copula in cfg["copulas_plural"]]
    pairs = ((noun, "is"), (_plural(noun), "are"))
    out += [f"{subject} {copula} {intensifier} {adjective}" for subject, copula in pairs
            for intensifier in cfg["intensifiers"]]
    return out


@lru_cache(maxsize=4096)
def variants(phrase: str, *, reorder: bool = True) -> tuple[str, ...]:
    """Other wordings of ``phrase`` (itself excluded), at most ``max_variants``, the closest first:
    word order, then synonyms, then synonyms in the other order; each with units glued or spaced."""
    cfg = data()
    words = phrase.lower().split()
    if not words:
        return ()
    table = _synonyms()
    options = [table.get(w, (w,)) for w in words]
    combos = 1
    for choice in options:
        combos *= len(choice)
    base = " ".join(words)
    synonyms = [" ".join(c) for c in product(*options)] if combos <= 64 else [base]
    ordered = [base] + (_reorders(base) if reorder else []) + synonyms
    if reorder:
        for form in synonyms:
            ordered += _reorders(form)
    out: list[str] = []
    for form in ordered:
        out += sorted(_unit_forms(form))
    unique = [f for f in dict.fromkeys(out) if f not in (phrase, base)]
    return tuple(unique[: cfg["max_variants"]])
