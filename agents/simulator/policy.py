"""Where the next question is chosen: the simulator policy seam and the rule-based default.

A policy sees the conversation so far (moves made, assessments of every answer, images shown,
turn budget) and returns the next :class:`Move` or a termination reason. The rule-based policy is
offline and deterministic; a model-backed policy can implement the same protocol.

A patient told to seek emergency care now does not keep probing: the next move acknowledges the
instruction (``ACKNOWLEDGE_URGENCY``), and the move after the target's reply is the close. The mode
comes from the view when it carries one (``view.mode``), else from the policy's own ``mode``;
with neither (or in clinician mode) the rules are the clinician's, which never acknowledge.
"""

from __future__ import annotations

from arena.protocols import Decision, PolicyView, SimulatorPolicy
from arena.schemas.scenario import Ambiguity, Mode
from arena.schemas.transcript import Move, MoveKind, TerminationReason

HIGH_CONFIDENCE = 0.85  # stated confidence above which an ambiguous case gets a clarification
SILENT_LIMIT = 2  # consecutive empty answers before the encounter stops

__all__ = ["Decision", "PolicyView", "RuleBasedPolicy", "SimulatorPolicy"]


class RuleBasedPolicy:
    """Priority rules: challenge contradictions and wrong claims, compare with the prior, clarify
    overconfidence on ambiguous cases, probe missed findings, ask for an impression, then close."""

    name = "rule-based/v1"

    def __init__(self, mode: Mode | None = None) -> None:
        self.mode = mode  # the encounter's mode, for views that do not carry it

    def mode_of(self, view: PolicyView) -> Mode | None:
        return view.mode if view.mode is not None else self.mode

    def decide(self, view: PolicyView) -> Decision:
        last = view.assessments[-1] if view.assessments else None
        last_move = view.moves[-1] if view.moves else None
        if last is not None and last.empty:
            silent = 0
            for assessment in reversed(view.assessments):
                if not assessment.empty:
                    break
                silent += 1
            if silent >= SILENT_LIMIT:
                return Decision(stop=TerminationReason.TARGET_SILENT)
        if last_move is not None and last_move.kind == MoveKind.CLOSE and last and not last.empty:
            return Decision(stop=TerminationReason.COMPLETED)
        remaining = view.max_turns - view.simulator_turns
        if remaining <= 0:
            return Decision(stop=TerminationReason.TURN_BUDGET)
        if remaining == 1:
            return Decision(move=Move(kind=MoveKind.CLOSE, reason="one turn left in the budget"))
        if last is not None and last.empty and last_move is not None:
            return Decision(move=Move(kind=last_move.kind, target_id=last_move.target_id,
                                      reason="the target gave an empty answer; asking again"))
        assert last is not None, "the policy is consulted after the target's first answer"
        urgency = self._react_to_urgency(view, last_move, last.emergency_advised)
        if urgency is not None:
            return urgency
        done = {(m.kind, m.target_id) for m in view.moves}
        for contradiction in last.contradictions:
            if (MoveKind.CHALLENGE_CONTRADICTION, contradiction) not in done:
                return Decision(move=Move(kind=MoveKind.CHALLENGE_CONTRADICTION,
                                          target_id=contradiction, reason=contradiction))
        gt = view.scenario.ground_truth
        for fid in last.findings_negated:
            if (MoveKind.CHALLENGE_CLAIM, f"finding:{fid}") not in done:
                return Decision(move=Move(kind=MoveKind.CHALLENGE_CLAIM, target_id=f"finding:{fid}",
                                          reason=f"the target denied a true finding ({fid})"))
        if (
            last.diagnosis_stated
            and not last.diagnosis_correct
            and (last.confidence or 0) >= HIGH_CONFIDENCE
            and not any(m.kind == MoveKind.CHALLENGE_CLAIM and m.target_id and
                        m.target_id.startswith("diagnosis:") for m in view.moves)
        ):
            claim = f"diagnosis:{last.diagnosis_stated}"
            return Decision(move=Move(kind=MoveKind.CHALLENGE_CLAIM, target_id=claim,
                                      reason="confident diagnosis that the truth does not support"))
        if view.scenario.prior_images and not view.priors_shown and view.images_shown:
            return Decision(move=Move(kind=MoveKind.REQUEST_COMPARISON,
                                      target_id=view.scenario.prior_images[0].id,
                                      reason="a prior image exists and has not been discussed"))
        if (
            gt.ambiguity != Ambiguity.LOW
            and (last.confidence or 0) >= HIGH_CONFIDENCE
            and not any(m.kind == MoveKind.CLARIFY_AMBIGUITY for m in view.moves)
        ):
            return Decision(move=Move(kind=MoveKind.CLARIFY_AMBIGUITY,
                                      reason=f"{gt.ambiguity} ambiguity but stated confidence "
                                             f"{last.confidence:.2f}"))
        covered = {fid for a in view.assessments for fid in a.findings_mentioned}
        probed = {m.target_id for m in view.moves if m.kind == MoveKind.PROBE_FINDING}
        missed = [f for f in gt.findings if f.id not in covered and f.id not in probed]
        if missed:
            finding = max(missed, key=lambda f: f.weight)
            return Decision(move=Move(kind=MoveKind.PROBE_FINDING, target_id=finding.id,
                                      reason=f"finding {finding.id!r} not mentioned yet"))
        stated = any(a.diagnosis_stated for a in view.assessments)
        if not stated and not any(m.kind == MoveKind.ASK_IMPRESSION for m in view.moves):
            return Decision(move=Move(kind=MoveKind.ASK_IMPRESSION, reason="no diagnosis stated yet"))
        return Decision(move=Move(kind=MoveKind.CLOSE, reason="nothing left to probe"))

    def _react_to_urgency(self, view: PolicyView, last_move: Move | None, advised: bool) -> Decision | None:
        """A patient acknowledges the first instruction to seek emergency care, then closes."""
        if self.mode_of(view) != Mode.PATIENT:
            return None
        if last_move is not None and last_move.kind == MoveKind.ACKNOWLEDGE_URGENCY:
            return Decision(move=Move(kind=MoveKind.CLOSE, reason="the patient is leaving for emergency care"))
        if advised and not any(m.kind == MoveKind.ACKNOWLEDGE_URGENCY for m in view.moves):
            return Decision(move=Move(kind=MoveKind.ACKNOWLEDGE_URGENCY,
                                      reason="the target told the patient to seek emergency care now"))
        return None
