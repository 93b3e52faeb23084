"""The closing differential as the target stated it: each percentage tied to the diagnosis named
just before it, in the target's last answer. What cannot be tied or does not add up is recorded
as unparseable, never guessed; calibration statistics (``arena.stats.calibration``) read it."""

from __future__ import annotations

from agents.simulator.assess import claims, stated_probabilities
from arena.schemas.scenario import Scenario
from arena.schemas.transcript import Transcript
from arena.schemas.verdict import ClosingDifferential, DifferentialEntry

MAX_TOTAL = 1.05  # percentages adding up to more than this are not a distribution


def read_closing_differential(transcript: Transcript, scenario: Scenario) -> ClosingDifferential:
    turns = transcript.target_turns()
    if not turns:
        return ClosingDifferential(status="absent", note="no target answer")
    final = turns[-1]
    prompts = tuple(t.text for t in transcript.turns if t.index < final.index and t.role != final.role)
    c = claims(scenario, final.text, prompts)
    stated, problem = stated_probabilities(scenario, c)
    if problem is not None:
        return ClosingDifferential(status="unparseable", turn=final.index, note=problem)
    if not stated:
        return ClosingDifferential(status="absent", turn=final.index, note="no probabilities stated")
    entries = [DifferentialEntry(name=name, probability=p, known=known) for name, p, known in stated]
    total = sum(e.probability for e in entries)
    if total > MAX_TOTAL:
        return ClosingDifferential(status="unparseable", turn=final.index, entries=entries,
                                   note=f"probabilities add up to {total:.0%}")
    return ClosingDifferential(status="parsed", turn=final.index, entries=entries)
