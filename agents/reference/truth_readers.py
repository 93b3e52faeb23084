"""Reference targets that read the hidden ground truth: oracle, skill-p, overconfident, hedger.

They are honest about what they are: upper bounds and caricatures with known skill, so a correct
arena must rank them in a known order.
"""

from __future__ import annotations

import random
import zlib

from agents.reference.base import Reading, ReferenceModel, Voice
from arena.schemas.messages import Message
from arena.schemas.scenario import Ambiguity, Scenario

_URGENT_ADVICE = {
    "emergency": "This needs emergency assessment today.",
    "urgent": "Please arrange an urgent specialist assessment within two weeks; don't wait.",
    "routine": "A routine review with your doctor is sensible.",
    "reassure": "This looks benign; no treatment or urgent action is needed.",
}


def calibrated_confidence(scenario: Scenario) -> float:
    """The reference probability of the true diagnosis, capped by the case's ambiguity."""
    cap = {Ambiguity.LOW: 0.9, Ambiguity.MODERATE: 0.75, Ambiguity.HIGH: 0.55}[
        scenario.ground_truth.ambiguity
    ]
    return min(scenario.ground_truth.diagnosis.probability, cap)


def _shows_prior(messages: list[Message]) -> bool:
    return sum(len(m.images) for m in messages) > 1


class TruthReader(ReferenceModel):
    """Reads the ground truth, each fact kept with probability ``1 - degrade``."""

    def __init__(self, name: str, scenario: Scenario, seed: int, degrade: float = 0.0) -> None:
        super().__init__(name)
        self.scenario = scenario
        self.degrade = degrade
        key = zlib.crc32(f"{name}|{scenario.id}|{seed}".encode())
        rng = random.Random(key)
        gt = scenario.ground_truth
        self.known = [f for f in gt.findings if rng.random() >= degrade]
        self.knows_change = rng.random() >= degrade
        self.right_diagnosis = rng.random() >= degrade
        self.knows_plan = rng.random() >= degrade
        # A wrong model may still list the truth among the alternatives; at p = 1 it never does.
        self.truth_in_differential = rng.random() >= degrade

    def _diagnosis(self) -> tuple[str | None, float, list[tuple[str, float]]]:
        gt = self.scenario.ground_truth
        p = calibrated_confidence(self.scenario)
        # A degraded model is less sure, and says so: calibration is kept.
        p = round(p * (1 - self.degrade / 2), 2)
        alts = sorted(gt.differential, key=lambda d: -d.probability)
        if self.right_diagnosis:
            rest = [(d.name, d.probability) for d in alts]
            return gt.diagnosis.name, p, _normalise(rest, 1 - p)
        if not alts:
            return None, p, []  # nothing else to be wrong with: it cannot commit
        wrong = alts[0]
        truth = [(gt.diagnosis.name, gt.diagnosis.probability)] if self.truth_in_differential else []
        rest = truth + [(d.name, d.probability) for d in alts[1:]]
        return wrong.name, p, _normalise(rest, 1 - p)

    def read(self, messages: list[Message]) -> Reading:
        gt = self.scenario.ground_truth
        leading, p, differential = self._diagnosis()
        change = None
        if gt.change_vs_prior and _shows_prior(messages) and self.knows_change:
            change = gt.change_vs_prior.description
        return Reading(
            findings=[f.label for f in self.known],
            change=change,
            leading=leading,
            leading_p=p,
            differential=differential,
            plan=list(gt.resolution_plan[:2]) if self.knows_plan else [],
            urgent_advice=_advice(self.scenario) if self.knows_plan else None,
            question=_question(self.scenario),
            probe_answers={
                f"{f.label} {f.probe_patient} {f.probe_clinician}": f"yes, there is {f.label}"
                for f in self.known
            },
        )


def _advice(scenario: Scenario) -> str:
    gt = scenario.ground_truth
    advice = _URGENT_ADVICE[gt.urgency]
    if gt.urgency in ("routine", "reassure") and gt.red_flags:
        advice += f" Come back sooner if you notice any of: {', '.join(gt.red_flags[:3])}."
    return advice


def _question(scenario: Scenario) -> str | None:
    if not scenario.patient.facts:
        return None
    topics = list(dict.fromkeys(fact.topic for fact in scenario.patient.facts))[:2]
    return f"Can you tell me about your {' and your '.join(topics)}?"


def _normalise(items: list[tuple[str, float]], mass: float) -> list[tuple[str, float]]:
    total = sum(p for _, p in items)
    if not items or total <= 0:
        return []
    return [(name, round(mass * p / total, 2)) for name, p in items]


class Oracle(TruthReader):
    """Reads the whole ground truth: the upper bound."""


class Skilled(TruthReader):
    """The oracle degraded with probability ``p`` per fact; its confidence drops with ``p``."""


class Overconfident(TruthReader):
    """Notes the most salient finding, names the commonest alternative, always near-certain."""

    voice = Voice.OVERCONFIDENT

    def read(self, messages: list[Message]) -> Reading:
        gt = self.scenario.ground_truth
        reading = super().read(messages)
        salient = max(gt.findings, key=lambda f: f.weight)
        common = max(gt.differential, key=lambda d: d.probability) if gt.differential else gt.diagnosis
        reading.findings = [salient.label]
        reading.leading, reading.leading_p, reading.differential = common.name, 0.99, []
        reading.plan = []
        reading.urgent_advice = None
        reading.probe_answers = {}
        reading.change = None
        return reading


class Hedger(TruthReader):
    """Sees the findings but never commits to a diagnosis or a plan."""

    voice = Voice.HEDGER

    def read(self, messages: list[Message]) -> Reading:
        reading = super().read(messages)
        reading.findings = [f"possibly {label}" for label in reading.findings[:2]]
        reading.leading = None
        reading.differential = []
        reading.plan = []
        reading.urgent_advice = None
        return reading
