"""The closing differential as the target stated it: each percentage tied to the diagnosis named
just before it, in the target's last answer. What cannot be tied or does not add up is recorded
as unparseable, never guessed; calibration statistics (``arena.stats.calibration``) read it."""

from __future__ import annotations

import re
from bisect import bisect_left

from agents.simulator.assess import candidates, claims, visible_text
from arena.schemas.scenario import Scenario
from arena.schemas.transcript import Transcript
from arena.schemas.verdict import ClosingDifferential, DifferentialEntry

_PERCENT = re.compile(r"(?P<n>\d{1,3}(?:\.\d+)?)\s?%")
# A percentage of something ("40% of the hemithorax", "a 30% increase") is not a probability.
_NOT_A_PROBABILITY = re.compile(r"\s*(?:of\b|reduction|increase|decrease|larger|smaller|bigger|growth|narrowing)", re.I)
_SEPARATOR = re.compile(r"[;\n]|(?<=[.!?])\s")
MAX_GAP = 80  # characters between a diagnosis and its percentage
MAX_TOTAL = 1.05  # percentages adding up to more than this are not a distribution
MAX_UNKNOWN_NAME = 60


def read_closing_differential(transcript: Transcript, scenario: Scenario) -> ClosingDifferential:
    turns = transcript.target_turns()
    if not turns:
        return ClosingDifferential(status="absent", note="no target answer")
    final = turns[-1]
    prompts = tuple(t.text for t in transcript.turns if t.index < final.index and t.role != final.role)
    c = claims(scenario, final.text, prompts)
    text = visible_text(c)
    percents = [m for m in _PERCENT.finditer(text) if not _NOT_A_PROBABILITY.match(text, m.end())]
    if not percents:
        return ClosingDifferential(status="absent", turn=final.index, note="no probabilities stated")
    mentions: list[tuple[int, str]] = []
    for item in candidates(scenario):
        for start, _, _, polarity in c.occurrences(item.phrases()):
            if polarity.value != "negated":
                mentions.append((start, item.name))
    mentions.sort()
    starts = [m[0] for m in mentions]
    entries: dict[str, DifferentialEntry] = {}
    previous_end = 0
    for match in percents:
        value = float(match["n"]) / 100
        if value > 1:
            return ClosingDifferential(status="unparseable", turn=final.index,
                                       note=f"{match.group()} is not a probability")
        k = bisect_left(starts, match.start()) - 1
        breaks = (m.end() for m in _SEPARATOR.finditer(text, previous_end, match.start()))
        segment_start = max(breaks, default=previous_end)
        if k >= 0 and mentions[k][0] >= previous_end and match.start() - mentions[k][0] <= MAX_GAP:
            name = mentions[k][1]
            entries[name] = DifferentialEntry(name=name, probability=value, known=True)
        else:
            fragment = " ".join(text[segment_start:match.start()].split()).strip(" :,-()")
            if not fragment:
                return ClosingDifferential(status="unparseable", turn=final.index,
                                           note=f"{match.group()} is not tied to a diagnosis")
            name = fragment[-MAX_UNKNOWN_NAME:].lower()
            entries[name] = DifferentialEntry(name=name, probability=value, known=False)
        previous_end = match.end()
    total = sum(e.probability for e in entries.values())
    if total > MAX_TOTAL:
        return ClosingDifferential(status="unparseable", turn=final.index, entries=list(entries.values()),
                                   note=f"probabilities add up to {total:.0%}")
    return ClosingDifferential(status="parsed", turn=final.index, entries=list(entries.values()))
