"""Which matches to play: round robin, Swiss pairing, and adaptive sampling.

A *slot* is where a match is played: (scenario, mode, simulator seed). A scheduler is asked for
the next batch with everything scheduled so far and every finished match; it returns an empty
batch when it is done. Every choice is seeded (``seed``), so the same finished matches give the
same next batch: a resumed run schedules what the uninterrupted run would have.

- ``round-robin``: every pair of models on every slot, one batch (``--matches`` keeps a prefix;
  the order is slot by slot, so a prefix covers every pair on its slots).
- ``swiss``: rounds; models sorted by score (wins + half the ties), each paired with the nearest
  below it (a rematch counts as two places further), each pair on a slot it has not played.
- ``adaptive``: a ring of matches that connects every model, then batches of the pairs whose
  rating intervals are widest where the outcome is least certain (width of both intervals times
  ``p (1 - p)`` of the current ratings, over the square root of 1 + the times the pair met), so
  matches go where they tell most.
"""

from __future__ import annotations

import hashlib
import random
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from itertools import combinations, islice
from typing import Literal, Protocol

import numpy as np

from arena.ratings.battles import dedupe, encode
from arena.ratings.bradley_terry import fit, sandwich
from arena.schemas.scenario import Mode
from arena.tournament.match import MatchRecord, MatchSpec

SchedulerName = Literal["round-robin", "swiss", "adaptive"]
SCHEDULERS: tuple[SchedulerName, ...] = ("round-robin", "swiss", "adaptive")
Slot = tuple[str, Mode, int]  # scenario, mode, seed


class Scheduler(Protocol):
    name: str

    @property
    def total(self) -> int:
        """How many matches it will schedule in all (for the progress bar)."""
        ...

    def next_batch(self, scheduled: Sequence[MatchSpec], finished: Sequence[MatchRecord]) -> list[MatchSpec]: ...


def _rng(*key: object) -> random.Random:
    return random.Random(hashlib.sha256(repr(key).encode()).digest())


def oriented(x: str, y: str, slot: Slot, seed: int) -> MatchSpec:
    """The match of ``x`` and ``y`` on ``slot``, the side shown first drawn from the seed (so each
    model is A in about half its matches; the draw depends only on the pair, slot and seed)."""
    a, b = sorted((x, y))
    if _rng(seed, a, b, slot[0], slot[1].value, slot[2]).random() < 0.5:
        a, b = b, a
    return MatchSpec(model_a=a, model_b=b, scenario_id=slot[0], mode=slot[1], seed=slot[2])


def _pair_key(spec: MatchSpec) -> tuple[str, str]:
    return spec.pair


def _mark(used: dict[tuple[str, str], set[tuple[str, str, int]]], spec: MatchSpec) -> MatchSpec:
    """Record that ``spec``'s pair has played its slot; returns ``spec``."""
    used.setdefault(spec.pair, set()).add(spec.slot)
    return spec


@dataclass
class RoundRobin:
    models: Sequence[str]
    slots: Sequence[Slot]
    seed: int = 0
    limit: int | None = None
    name: str = "round-robin"

    def _specs(self) -> Iterator[MatchSpec]:
        specs = (oriented(x, y, slot, self.seed) for slot in self.slots for x, y in combinations(self.models, 2))
        return islice(specs, self.limit) if self.limit is not None else specs

    @property
    def total(self) -> int:
        n = len(self.slots) * len(self.models) * (len(self.models) - 1) // 2
        return min(n, self.limit) if self.limit is not None else n

    def next_batch(self, scheduled: Sequence[MatchSpec], finished: Sequence[MatchRecord]) -> list[MatchSpec]:
        if len(scheduled) >= self.total:
            return []
        seen = {s.id for s in scheduled}
        return [s for s in self._specs() if s.id not in seen]


def _default_budget(models: Sequence[str], slots: Sequence[Slot]) -> int:
    """Each model plays every slot once, on average."""
    return max(1, len(models) * len(slots) // 2)


@dataclass
class _Paired:
    """What swiss and adaptive share: the budget, the slots each pair has used, the next free slot."""

    models: Sequence[str]
    slots: Sequence[Slot]
    seed: int = 0
    limit: int | None = None
    _capacity: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self._capacity = len(self.slots) * len(self.models) * (len(self.models) - 1) // 2

    @property
    def total(self) -> int:
        budget = self.limit if self.limit is not None else _default_budget(self.models, self.slots)
        return min(budget, self._capacity)

    def _free_slot(self, x: str, y: str, used: dict[tuple[str, str], set[tuple[str, str, int]]],
                   start: int) -> Slot | None:
        a, b = sorted((x, y))
        taken = used.get((a, b), set())
        n = len(self.slots)
        for k in range(n):
            slot = self.slots[(start + k) % n]
            if (slot[0], slot[1].value, slot[2]) not in taken:
                return slot
        return None

    @staticmethod
    def _used(scheduled: Sequence[MatchSpec]) -> dict[tuple[str, str], set[tuple[str, str, int]]]:
        used: dict[tuple[str, str], set[tuple[str, str, int]]] = {}
        for s in scheduled:
            _mark(used, s)
        return used


@dataclass
class Swiss(_Paired):
    name: str = "swiss"

    def next_batch(self, scheduled: Sequence[MatchSpec], finished: Sequence[MatchRecord]) -> list[MatchSpec]:
        left = self.total - len(scheduled)
        if left <= 0:
            return []
        rounds = len(scheduled) // max(1, len(self.models) // 2)
        score: dict[str, float] = dict.fromkeys(self.models, 0.0)
        for r in finished:
            if r.rated:
                score[r.spec.model_a] += r.score_a
                score[r.spec.model_b] += 1.0 - r.score_a
        rng = _rng(self.seed, "swiss", rounds)
        tiebreak = {m: rng.random() for m in self.models}
        order = sorted(self.models, key=lambda m: (-score[m], tiebreak[m]))
        met = Counter(_pair_key(s) for s in scheduled)
        used = self._used(scheduled)
        batch: list[MatchSpec] = []
        unpaired = list(order)
        while len(unpaired) >= 2 and len(batch) < left:
            x = unpaired.pop(0)
            # nearest in the standings, a rematch costing two places (so early rounds avoid rematches
            # and late rounds, when everyone has met, still pair neighbours)
            options = [(i + 2 * met[(x, y) if x < y else (y, x)], i, y) for i, y in enumerate(unpaired)]
            for _, _, y in sorted(options):
                slot = self._free_slot(x, y, used, rounds + len(batch))
                if slot is not None:
                    unpaired.remove(y)
                    batch.append(_mark(used, oriented(x, y, slot, self.seed)))
                    break
        return batch


@dataclass
class Adaptive(_Paired):
    batch_size: int = 0  # 0: half the number of models
    name: str = "adaptive"

    def next_batch(self, scheduled: Sequence[MatchSpec], finished: Sequence[MatchRecord]) -> list[MatchSpec]:
        left = self.total - len(scheduled)
        if left <= 0:
            return []
        used = self._used(scheduled)
        m = len(self.models)
        if not scheduled:  # a ring: every model meets its neighbour, so the comparison graph is connected
            ring = [(self.models[i], self.models[(i + 1) % m]) for i in range(m if m > 2 else 1)]
            out = []
            for k, (x, y) in enumerate(ring[:left]):
                slot = self._free_slot(x, y, used, k)
                if slot is not None:
                    out.append(oriented(x, y, slot, self.seed))
            return out
        size = min(left, self.batch_size or max(1, m // 2))
        width, rating = _uncertainty(self.models, finished)
        rng = _rng(self.seed, "adaptive", len(scheduled))
        met = Counter(_pair_key(s) for s in scheduled)
        scored = []
        for x, y in combinations(self.models, 2):
            p = 1.0 / (1.0 + 10 ** ((rating[y] - rating[x]) / 400.0))
            priority = (width[x] + width[y]) * 4.0 * p * (1.0 - p) / (1.0 + met[(x, y) if x < y else (y, x)]) ** 0.5
            scored.append((-priority, rng.random(), x, y))
        batch: list[MatchSpec] = []
        busy: Counter[str] = Counter()
        cap = 1 if size <= m // 2 else 2 + size // max(1, m)
        for _, _, x, y in sorted(scored):
            if len(batch) >= size:
                break
            if busy[x] >= cap or busy[y] >= cap:
                continue
            slot = self._free_slot(x, y, used, len(scheduled) + len(batch))
            if slot is None:
                continue
            batch.append(_mark(used, oriented(x, y, slot, self.seed)))
            busy[x] += 1
            busy[y] += 1
        if not batch:  # every pair is busy-capped or out of slots: relax the cap once
            for _, _, x, y in sorted(scored):
                slot = self._free_slot(x, y, used, len(scheduled))
                if slot is not None:
                    return [oriented(x, y, slot, self.seed)]
        return batch


def _uncertainty(models: Sequence[str], finished: Sequence[MatchRecord]) -> tuple[dict[str, float], dict[str, float]]:
    """Per model the width of its sandwich interval and its rating (wide, 1000 without battles)."""
    rated = [r for r in finished if r.rated]
    width = dict.fromkeys(models, 1000.0)
    rating = dict.fromkeys(models, 1000.0)
    if not rated:
        return width, rating
    names, a, b = encode([r.spec.model_a for r in rated], [r.spec.model_b for r in rated])
    bt = dedupe(a, b, np.array([r.score_a for r in rated]), n_models=len(names))
    iv = sandwich(bt, rating=fit(bt))
    for i, name in enumerate(names):
        w = float(iv.high[i] - iv.low[i])
        width[name] = w if np.isfinite(w) else 1000.0
        rating[name] = float(iv.rating[i])
    return width, rating


def make_scheduler(name: SchedulerName, models: Sequence[str], slots: Sequence[Slot], *, seed: int = 0,
                   matches: int | None = None, batch_size: int = 0) -> Scheduler:
    if name == "round-robin":
        return RoundRobin(models, slots, seed, matches)
    if name == "swiss":
        return Swiss(models, slots, seed, matches)
    return Adaptive(models, slots, seed, matches, batch_size=batch_size)
