"""Playing one match: each side's encounter (played once per run and shared by every match that
needs it), then the comparison.

An encounter depends only on its target, scenario, mode and simulator seed, so in a round robin
of ``m`` models each (scenario, mode, seed) costs ``m`` conversations, not ``m * (m - 1)``. Its
transcript is written (atomically, never over another file) before the match that first needed it
is recorded; a transcript found on disk without a store row (the run was killed between the two)
is read back and used, so a resumed run never pays for a conversation twice.

The comparison: a model judge that supports pairwise verdicts is asked in both orders
(:func:`arena.judging.pairwise.judge_pair`); any other judge (the offline rubric judge, a jury)
compares the two absolute verdicts' overall means (``from-absolute``, stated in the record).
An infrastructure error or a judge failure on either side makes the match an ``error``: recorded,
shown, and excluded from ratings; never a loss.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from arena.composition import Cast
from arena.encounter.clock import Clock
from arena.encounter.run import encounter_id
from arena.errors import ArenaError
from arena.judging.pairwise import PairwiseJudge, PairwiseVerdict, from_absolute, judge_pair, target_length
from arena.protocols import JudgeFailed, NotGradeable
from arena.records import load_transcript
from arena.runner import EncounterPlan, play, save_transcript, transcript_name
from arena.schemas.calls import ModelCall, UsageSummary
from arena.schemas.scenario import Mode
from arena.schemas.transcript import Transcript
from arena.tournament.match import MatchRecord, MatchSpec, Style
from scenarios.library import ScenarioLibrary

_HEADER = re.compile(r"^\s{0,3}#{1,6}\s", re.MULTILINE)
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d{1,3}[.)])\s", re.MULTILINE)
_BOLD = re.compile(r"\*\*[^*\n]+\*\*|__[^_\n]+__")
TRANSCRIPT_CACHE = 512  # transcripts kept in memory; the rest are read back from their files
FAILED_DIR = "failed"  # transcripts of encounters that failed on infrastructure, kept when a resume retries them


def own_transcript(run_dir: Path, name: str, enc_id: str, run: str) -> Transcript:
    """``run_dir/name``, refused unless it is this run's encounter ``enc_id`` (never overwritten)."""
    transcript = load_transcript(run_dir / name)
    if transcript.encounter_id != enc_id or transcript.run != run:
        raise ArenaError(f"{name} in run {run} is not this run's encounter {enc_id}; it is not overwritten")
    return transcript


def orphan(run_dir: Path, name: str, enc_id: str, run: str) -> Transcript | None:
    """A transcript a killed run wrote but never recorded: read back; one that ended with an
    infrastructure error is set aside in ``failed/`` (None: play it again)."""
    if not (run_dir / name).exists():
        return None
    transcript = own_transcript(run_dir, name, enc_id, run)
    if transcript.termination.is_infrastructure:
        set_aside(run_dir, name)
        return None
    return transcript


def set_aside(run_dir: Path, name: str) -> None:
    """Move ``run_dir/name`` into ``run_dir/failed/`` (``name``, ``name.1``, ...): kept, never overwritten."""
    source = run_dir / name
    if not source.exists():
        return
    folder = run_dir / FAILED_DIR
    folder.mkdir(exist_ok=True)
    for k in range(10_000):
        target = folder / (name if k == 0 else f"{name}.{k}")
        try:
            os.link(source, target)
        except FileExistsError:
            continue
        source.unlink()
        return
    raise ArenaError(f"cannot set aside {name}: {folder} is full")


def style_of(transcript: Transcript) -> Style:
    """Length and markdown of everything the target said (LMArena's style covariates)."""
    text = "\n".join(t.text for t in transcript.target_turns())
    return Style(chars=len(text), headers=len(_HEADER.findall(text)), list_items=len(_LIST_ITEM.findall(text)),
                 bold=len(_BOLD.findall(text)))


@dataclass
class Played:
    """An encounter as a match needs it: the transcript and its file, relative to the run folder."""

    transcript: Transcript
    file: str


@dataclass
class MatchResult:
    record: MatchRecord
    encounters: list[tuple[Transcript, str]]  # those to store with the match (not stored yet)
    usage: UsageSummary  # what this match cost: new encounters and pairwise calls


@dataclass
class MatchPlayer:
    """Plays matches of one run. Graph and images are prepared once per process (the compiled
    encounter graph is module-level; the library decodes each scenario's images once)."""

    library: ScenarioLibrary
    cast: Cast
    run: str
    run_dir: Path
    max_turns: int
    stored: dict[str, str] = field(default_factory=dict)  # encounter id -> transcript file, from the store
    pairwise: PairwiseJudge | None = None
    clock: Clock | None = None
    _cache: OrderedDict[str, Transcript] = field(default_factory=OrderedDict)
    _flight: dict[str, asyncio.Task[Played]] = field(default_factory=dict)
    _counted: set[str] = field(default_factory=set)  # encounters whose usage a match result has reported

    def _now(self) -> datetime:
        return self.clock.now() if self.clock is not None else datetime.now(UTC)

    def _remember(self, transcript: Transcript) -> None:
        self._cache[transcript.encounter_id] = transcript
        self._cache.move_to_end(transcript.encounter_id)
        while len(self._cache) > TRANSCRIPT_CACHE:
            self._cache.popitem(last=False)

    async def encounter(self, model: str, scenario_id: str, mode: Mode, seed: int) -> Played:
        enc_id = encounter_id(scenario_id, model, mode, seed)
        if enc_id in self._cache:
            self._cache.move_to_end(enc_id)
            return Played(self._cache[enc_id], self.stored.get(enc_id) or transcript_name(scenario_id, model, mode,
                                                                                          seed))
        if enc_id not in self._flight:
            self._flight[enc_id] = asyncio.ensure_future(self._obtain(enc_id, model, scenario_id, mode, seed))
        task = self._flight[enc_id]
        try:
            return await asyncio.shield(task)
        finally:
            if task.done():
                self._flight.pop(enc_id, None)

    async def _obtain(self, enc_id: str, model: str, scenario_id: str, mode: Mode, seed: int) -> Played:
        if enc_id in self.stored:
            known = own_transcript(self.run_dir, self.stored[enc_id], enc_id, self.run)
            self._remember(known)
            return Played(known, self.stored[enc_id])
        name = transcript_name(scenario_id, model, mode, seed)
        transcript = orphan(self.run_dir, name, enc_id, self.run)
        if transcript is None:
            scenario = self.library.get(scenario_id)
            plan = EncounterPlan(scenario, self.library.image_bytes(scenario), model, mode, seed, self.max_turns)
            transcript = await play(plan, self.cast, run=self.run, clock=self.clock)
            save_transcript(transcript, self.run_dir)
        self._remember(transcript)
        return Played(transcript, name)

    async def stop_flights(self) -> None:
        """Cancel the encounters still playing (they run shielded from a cancelled match) and wait for
        them: after an error or Ctrl-C, none is left mid-call when the run closes its clients."""
        flights = [task for task in self._flight.values() if not task.done()]
        for task in flights:
            task.cancel()
        await asyncio.gather(*flights, return_exceptions=True)
        self._flight.clear()

    async def play(self, spec: MatchSpec, round_: int = 0) -> MatchResult:
        a, b = await asyncio.gather(self.encounter(spec.model_a, spec.scenario_id, spec.mode, spec.seed),
                                    self.encounter(spec.model_b, spec.scenario_id, spec.mode, spec.seed))
        ta, tb = a.transcript, b.transcript
        new = [(p.transcript, p.file) for p in (a, b) if p.transcript.encounter_id not in self.stored]
        fresh = [t for t, _ in new if t.encounter_id not in self._counted]
        self._counted.update(t.encounter_id for t in fresh)
        usage = sum((t.usage for t in fresh if t.usage), UsageSummary())
        base = dict(id=spec.id, spec=spec, round=round_, encounter_a=ta.encounter_id, encounter_b=tb.encounter_id,
                    transcript_a=a.file, transcript_b=b.file, style_a=style_of(ta), style_b=style_of(tb),
                    overall_a=ta.verdict.overall if ta.verdict else None,
                    overall_b=tb.verdict.overall if tb.verdict else None)
        calls: list[ModelCall] = []
        error_kind, error = _not_comparable(ta, tb)
        verdict: PairwiseVerdict | None = None
        if error is None:
            try:
                verdict = await self._compare(ta, tb, spec, calls)
            except JudgeFailed as exc:
                failed = [c for c in (exc.calls or calls) if c.error_class is not None]
                transport = bool(failed) and all(c.error_class.is_infrastructure for c in failed  # type: ignore[union-attr]
                                                 ) and not any(c.response is not None for c in failed)
                error_kind, error = ("infrastructure" if transport else "judge"), str(exc)[:2000]
            except NotGradeable as exc:
                error_kind, error = "judge", str(exc)[:2000]
        pair_usage = UsageSummary.of(calls)
        if verdict is None or error is not None:
            record = MatchRecord(**base, outcome="error", error_kind=error_kind, error=error,  # type: ignore[arg-type]
                                 usage=pair_usage, finished_at=self._now())
        else:
            record = MatchRecord(**base, outcome=verdict.winner, method=verdict.method,  # type: ignore[arg-type]
                                 pairwise=verdict, usage=pair_usage, finished_at=self._now())
        return MatchResult(record, new, usage + pair_usage)

    def recorded(self, result: MatchResult) -> None:
        """The store holds ``result``: its encounters are not stored again."""
        for transcript, file in result.encounters:
            self.stored[transcript.encounter_id] = file

    async def _compare(self, ta: Transcript, tb: Transcript, spec: MatchSpec,
                       calls: list[ModelCall]) -> PairwiseVerdict:
        scenario = self.library.get(spec.scenario_id)
        if self.pairwise is not None:
            return await judge_pair(self.pairwise, ta, tb, scenario, calls=calls)
        assert ta.verdict is not None and tb.verdict is not None
        return from_absolute(ta.verdict, tb.verdict, scenario_id=spec.scenario_id, target_a=spec.model_a,
                             target_b=spec.model_b, length_a=target_length(ta), length_b=target_length(tb))


def _not_comparable(ta: Transcript, tb: Transcript) -> tuple[str | None, str | None]:
    """Why the two cannot be compared (kind, message), or (None, None)."""
    for side, t in (("A", ta), ("B", tb)):
        if t.termination.is_infrastructure:
            detail = t.errors[-1].message if t.errors else t.termination.value
            return "infrastructure", f"{side} ({t.target}) ended with {t.termination.value}: {detail}"[:2000]
    for side, t in (("A", ta), ("B", tb)):
        if t.verdict is None:
            why = t.judge_error.message if t.judge_error else "no verdict"
            return "judge", f"{side} ({t.target}) was not judged: {why}"[:2000]
    return None, None
