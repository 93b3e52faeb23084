"""``arena rerun TRANSCRIPT``: re-execute an encounter from its recorded responses and check that
the new transcript is byte-identical to the stored file.

The target (and a model simulator voice or model judge, if used) answers from the recorded calls
(:class:`arena.clients.replay.ReplayClient`, which refuses any request that differs from the
recording); the rule-based policy, the template voice and the rubric judge run again. Time comes
from a :class:`RecordedClock` that hands back the recorded instants and latencies in the order
the encounter reads them, so the timing fields are reproduced too. The determinism guarantee:
for reference models and for recorded provider transcripts alike.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from arena import composition
from arena.config import ModelsConfig
from arena.encounter.clock import SystemClock
from arena.encounter.fork import fork_encounter
from arena.errors import UsageError
from arena.files import atomic_write, prepare_output_dir
from arena.gateway import Gateway
from arena.records import load_transcript
from arena.runner import EncounterPlan, judge_transcript, play, transcript_name
from arena.schemas.transcript import Transcript
from scenarios.library import ScenarioLibrary


def _exact_tock(latency_ms: float) -> float:
    """A monotonic reading ``x`` with ``(x - 0.0) * 1000 == latency_ms`` exactly, where one exists."""
    x = latency_ms / 1000
    for _ in range(8):
        got = x * 1000
        if got == latency_ms:
            return x
        x = math.nextafter(x, math.inf if got < latency_ms else -math.inf)
    return latency_ms / 1000


@dataclass
class RecordedClock:
    """The recorded instants (start, each turn, finish) and every call attempt's latency, played back
    in order: ``now()`` returns the next instant; ``monotonic()`` alternates 0 and the reading that
    makes the next attempt's latency come out as recorded."""

    instants: list[datetime]
    latencies: list[float]
    _now: Iterator[datetime] = field(init=False)
    _mono: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self._now = iter(self.instants)

    @classmethod
    def of(cls, t: Transcript) -> RecordedClock:
        return cls([t.started_at, *(turn.timing.started_at for turn in t.turns), t.finished_at],
                   [a.latency_ms for call in t.calls if not call.cached for a in call.attempts])

    def now(self) -> datetime:
        return next(self._now, self.instants[-1])

    def monotonic(self) -> float:
        k, self._mono = self._mono, self._mono + 1
        if k % 2 == 0 or k // 2 >= len(self.latencies):
            return 0.0
        return _exact_tock(self.latencies[k // 2])


@dataclass(frozen=True)
class RerunResult:
    same: bool
    stored: str
    rerun: str
    first_difference: tuple[int, str, str] | None  # line number (1-based), stored line, new line


def first_difference(a: str, b: str) -> tuple[int, str, str] | None:
    left, right = a.splitlines(), b.splitlines()
    for i, (x, y) in enumerate(zip(left, right, strict=False)):
        if x != y:
            return i + 1, x, y
    if len(left) != len(right):
        n = min(len(left), len(right))
        return n + 1, left[n] if n < len(left) else "(end of file)", right[n] if n < len(right) else "(end of file)"
    return None


async def rerun(path: Path, *, library: ScenarioLibrary, config: ModelsConfig | None = None) -> RerunResult:
    stored_text = path.read_text(encoding="utf-8")
    t = load_transcript(path)
    if t.termination.is_infrastructure:
        raise UsageError(f"rerun: {path.name} ended with {t.termination.value}; a failed call has no response "
                         "to replay")
    if not [c for c in t.calls if c.role == "target" and c.response is not None]:
        raise UsageError(f"rerun: {path.name} has no recorded target response to replay")
    scenario = library.get(t.scenario_id)
    clock = RecordedClock.of(t)
    gateway = Gateway(clock=clock, seed=t.seed)
    target, cast = composition.replay_cast(t, scenario, config or ModelsConfig(), gateway)
    cast._targets[t.target] = target
    plan = EncounterPlan(scenario, library.image_bytes(scenario), t.target, t.mode, t.seed, t.max_turns, t.ablation)
    again = await play(plan, cast, run=t.run, clock=clock)
    if t.match_id is not None:
        again = again.model_copy(update={"match_id": t.match_id})
    text = again.model_dump_json(indent=2) + "\n"
    return RerunResult(text == stored_text, stored_text, text, first_difference(stored_text, text))


async def fork(path: Path, *, at_turn: int, target: str, seed: int | None, library: ScenarioLibrary,
               config: ModelsConfig | None = None, judge: list[str] | None = None,
               out: Path | None = None) -> tuple[Transcript, Path]:
    """``arena fork``: the parent's turns before ``at_turn`` kept, the rest played by ``target``
    (and ``seed``), judged, saved next to the parent (or in ``out``) and linked to it."""
    config = config or ModelsConfig()
    parent = load_transcript(path)
    if parent.ablation is not None:
        raise UsageError(f"fork: {path.name} is an ablated encounter ({parent.ablation}); valid: a transcript played "
                         "with everything (arena match, tournament, or bench without --ablate)")
    if parent.termination.is_infrastructure:
        raise UsageError(f"fork: {path.name} ended with {parent.termination.value}; its recorded responses do not "
                         "reach the end")
    if parent.simulator != composition.default_simulator().name:
        raise UsageError(f"fork: the simulator {parent.simulator!r} cannot go on past its recording; valid: "
                         "transcripts played with the rule-based simulator and template voice")
    composition.registry().check(target, config)
    scenario = library.get(parent.scenario_id)
    parent_clock = RecordedClock.of(parent)
    gateway = Gateway(clock=parent_clock, seed=parent.seed)
    replay, replayed = composition.replay_cast(parent, scenario, config, gateway)
    cast = composition.build_cast(judge=judge or [composition.RUBRIC], config=config, gateway=gateway)
    folder = out or path.parent
    prepare_output_dir(folder)
    branch = await fork_encounter(parent, at_turn=at_turn, scenario=scenario, images=library.image_bytes(scenario),
                                  replay=replay, parent_clock=parent_clock, target=cast.target(target),
                                  target_spec=target, simulator=replayed.simulator,
                                  system_prompt=composition.target_system_prompt(parent.mode), gateway=gateway,
                                  seed=seed, run=parent.run)
    gateway.clock = SystemClock()  # the recording is spent: the branch's own calls (a model judge) take real time
    branch = await judge_transcript(branch, scenario, cast)
    name = transcript_name(parent.scenario_id, target, parent.mode, branch.seed).removesuffix(".json")
    where = folder / f"{name}__{branch.encounter_id}.json"
    try:
        atomic_write(where, branch.model_dump_json(indent=2) + "\n", overwrite=False)
    except FileExistsError:
        raise UsageError(f"fork: {where} already exists (the same fork); not overwritten") from None
    return branch, where
